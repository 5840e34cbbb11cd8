// The job graph codec (common/rpc/graph.h): a planned job survives
// ToProto/FromProto, and a graph that does not fit the job is rejected.
#include "common/rpc/graph.h"

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "coordinator/planner.h"

namespace weir::rpc {
namespace {

// A source with a chained filter, a keyed window with a late stream, a join,
// a source with two consumers (so a forward edge to an unchained sink) and a
// narrower sink (a rebalance edge).
constexpr const char* kJob = R"(name: graph-test
parallelism: 1
max_parallelism: 64
checkpoint: {interval: 1s, mode: exactly_once}
sources:
  orders:
    type: file
    path: /nonexistent/orders
    format: json
    schema: {user: string, amount: bigint, ts: timestamp}
    event_time: {field: ts, max_out_of_orderness: 1s}
  users:
    type: file
    path: /nonexistent/users
    format: json
    schema: {uid: string, name: string, ts: timestamp}
    event_time: {field: ts, max_out_of_orderness: 1s}
operators:
  - name: big
    from: orders
    filter: "amount > 10"
  - name: per_user
    from: big
    key_by: [user]
    window: {tumbling: 10s, allowed_lateness: 1s, late: late_orders}
    aggregate: {n: count(), total: sum(amount)}
  - name: named
    join:
      left: per_user
      right: users
      on: "per_user.user = users.uid"
      within: 1m
sinks:
  out: {from: named, type: stdout}
  raw: {from: users, type: blackhole}
  late: {from: late_orders, type: blackhole, parallelism: 1}
)";

class GraphCodec : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loaded = spec::ParseJob(kJob, "job.yaml");
    ASSERT_NE(loaded.job, nullptr) << spec::FormatDiagnostics("job.yaml", loaded.diagnostics);
    job_ = std::move(loaded.job);
    coordinator::PlanOptions po;
    po.parallelism_override = 2;
    auto planned = coordinator::Plan(*job_, po);
    ASSERT_TRUE(planned.ok()) << planned.status().ToString();
    plan_ = std::move(planned).value();
    graph_ = ToProto(plan_);
  }

  // The index of the edge with this partitioning and consumer parallelism.
  int FindEdge(plan::Partitioning p, int to_parallelism) const {
    for (const auto& e : plan_.edges)
      if (e.partitioning == p &&
          plan_.vertices[static_cast<size_t>(e.to_vertex)].parallelism == to_parallelism)
        return e.id;
    return -1;
  }

  void ExpectRejected(const std::function<void(v1::JobGraph&)>& damage, const std::string& what) {
    v1::JobGraph g = graph_;
    damage(g);
    auto p = FromProto(g, *job_);
    ASSERT_FALSE(p.ok()) << what;
    EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument)
        << what << ": " << p.status().ToString();
  }

  std::unique_ptr<spec::JobSpec> job_;
  plan::PhysicalPlan plan_;
  v1::JobGraph graph_;
};

TEST_F(GraphCodec, ThePlanHasTheShapesUnderTest) {
  // The job exercises chaining, keyed vertices, two ports and all three
  // partitionings; if the planner changes, this test says so first.
  bool chained_filter = false, two_ports = false, keyed = false;
  for (const auto& v : plan_.vertices) {
    keyed |= v.keyed;
    for (const auto& s : v.chain) {
      if (s.name == "big") chained_filter = v.chain.front().name == "orders";
      two_ports |= s.ports.size() == 2;
    }
  }
  EXPECT_TRUE(chained_filter) << plan_.Explain();
  EXPECT_TRUE(two_ports) << plan_.Explain();
  EXPECT_TRUE(keyed) << plan_.Explain();
  EXPECT_GE(FindEdge(plan::Partitioning::kForward, 2), 0) << plan_.Explain();
  EXPECT_GE(FindEdge(plan::Partitioning::kHash, 2), 0) << plan_.Explain();
  EXPECT_GE(FindEdge(plan::Partitioning::kRebalance, 1), 0) << plan_.Explain();
  EXPECT_EQ(graph_.max_parallelism(), 64);
}

TEST_F(GraphCodec, RoundTripGivesTheSamePlan) {
  auto back = FromProto(graph_, *job_);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->Explain(), plan_.Explain());
  // Everything Explain does not show survives too (ports, chaining, steps'
  // pointers into the job, keys).
  EXPECT_EQ(ToProto(*back).SerializeAsString(), graph_.SerializeAsString());
  ASSERT_EQ(back->vertices.size(), plan_.vertices.size());
  for (size_t i = 0; i < plan_.vertices.size(); ++i) {
    const auto& a = plan_.vertices[i];
    const auto& b = back->vertices[i];
    EXPECT_EQ(b.keyed, a.keyed);
    EXPECT_EQ(b.inputs, a.inputs);
    ASSERT_EQ(b.chain.size(), a.chain.size());
    for (size_t s = 0; s < a.chain.size(); ++s) {
      EXPECT_EQ(b.chain[s].source, a.chain[s].source);
      EXPECT_EQ(b.chain[s].op, a.chain[s].op);
      EXPECT_EQ(b.chain[s].sink, a.chain[s].sink);
      EXPECT_EQ(b.chain[s].late_schema, a.chain[s].late_schema);
      ASSERT_EQ(b.chain[s].ports.size(), a.chain[s].ports.size());
      for (size_t p = 0; p < a.chain[s].ports.size(); ++p) {
        EXPECT_EQ(b.chain[s].ports[p].chained, a.chain[s].ports[p].chained);
        EXPECT_EQ(b.chain[s].ports[p].edges, a.chain[s].ports[p].edges);
      }
    }
  }
  ASSERT_EQ(back->edges.size(), plan_.edges.size());
  for (size_t i = 0; i < plan_.edges.size(); ++i) {
    EXPECT_EQ(back->edges[i].keys, plan_.edges[i].keys) << "edge " << i;
    EXPECT_EQ(back->edges[i].from_port, plan_.edges[i].from_port) << "edge " << i;
  }
}

TEST_F(GraphCodec, RoundTripAtTheJobsOwnParallelism) {
  auto p1 = coordinator::Plan(*job_);
  ASSERT_TRUE(p1.ok());
  auto back = FromProto(ToProto(*p1), *job_);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->Explain(), p1->Explain());
}

TEST_F(GraphCodec, RejectsAnUnknownStep) {
  ExpectRejected([](v1::JobGraph& g) { g.mutable_vertices(0)->mutable_chain(0)->set_name("nope"); },
                 "an unknown source");
  for (int v = 0; v < graph_.vertices_size(); ++v) {
    for (int s = 0; s < graph_.vertices(v).chain_size(); ++s) {
      const std::string name = graph_.vertices(v).chain(s).name();
      ExpectRejected(
          [&](v1::JobGraph& g) { g.mutable_vertices(v)->mutable_chain(s)->set_name("nope"); },
          "step " + name + " renamed");
      ExpectRejected(
          [&](v1::JobGraph& g) {
            g.mutable_vertices(v)->mutable_chain(s)->set_kind(v1::Step::KIND_UNSPECIFIED);
          },
          "step " + name + " without a kind");
    }
  }
}

TEST_F(GraphCodec, RejectsEdgeIdsOutOfRange) {
  const int ne = graph_.edges_size();
  int consumer = -1, producer = -1;
  for (int v = 0; v < graph_.vertices_size(); ++v) {
    if (graph_.vertices(v).inputs_size() > 0 && consumer < 0) consumer = v;
    if (graph_.vertices(v).chain(0).ports_size() > 0 &&
        graph_.vertices(v).chain(0).ports(0).edges_size() > 0 && producer < 0)
      producer = v;
  }
  ASSERT_GE(consumer, 0);
  ASSERT_GE(producer, 0);
  for (int bad : {ne, ne + 100, -1}) {
    ExpectRejected([&](v1::JobGraph& g) { g.mutable_vertices(consumer)->set_inputs(0, bad); },
                   "input edge " + std::to_string(bad));
    ExpectRejected(
        [&](v1::JobGraph& g) {
          g.mutable_vertices(producer)->mutable_chain(0)->mutable_ports(0)->set_edges(0, bad);
        },
        "port edge " + std::to_string(bad));
  }
  ExpectRejected([](v1::JobGraph& g) { g.mutable_edges(0)->set_to_vertex(99); },
                 "an edge to an unknown vertex");
  ExpectRejected([](v1::JobGraph& g) { g.mutable_edges(0)->set_from_vertex(-1); },
                 "an edge from an unknown vertex");
  ExpectRejected([](v1::JobGraph& g) { g.mutable_edges(0)->set_from_step(7); },
                 "an edge from an unknown step");
  // An edge from port 1 of a step that has no late output.
  for (const auto& e : plan_.edges) {
    const plan::Step& from =
        plan_.vertices[static_cast<size_t>(e.from_vertex)].chain[static_cast<size_t>(e.from_step)];
    if (from.kind != plan::StepKind::kOperator || from.late_schema) continue;
    ExpectRejected([&](v1::JobGraph& g) { g.mutable_edges(e.id)->set_from_port(1); },
                   "an edge from a port with no output");
  }
  ExpectRejected([](v1::JobGraph& g) { g.mutable_edges(1)->set_id(0); }, "edge ids out of order");
  ExpectRejected([](v1::JobGraph& g) { g.mutable_vertices(1)->set_id(5); },
                 "vertex ids out of order");
}

TEST_F(GraphCodec, RejectsAForwardEdgeBetweenDifferentParallelisms) {
  const int rebalance = FindEdge(plan::Partitioning::kRebalance, 1);
  ASSERT_GE(rebalance, 0);
  ExpectRejected(
      [&](v1::JobGraph& g) {
        g.mutable_edges(rebalance)->set_partitioning(v1::Edge::PARTITIONING_FORWARD);
      },
      "forward edge 2 -> 1");
  const int forward = FindEdge(plan::Partitioning::kForward, 2);
  ASSERT_GE(forward, 0);
  const int to = graph_.edges(forward).to_vertex();
  ExpectRejected([&](v1::JobGraph& g) { g.mutable_vertices(to)->set_parallelism(1); },
                 "the consumer of a forward edge made narrower");
}

TEST_F(GraphCodec, RejectsOtherMismatches) {
  const int hash = FindEdge(plan::Partitioning::kHash, 2);
  ASSERT_GE(hash, 0);
  ExpectRejected([&](v1::JobGraph& g) { g.mutable_edges(hash)->add_keys("extra"); },
                 "a hash edge with other keys than its consumer");
  ExpectRejected(
      [&](v1::JobGraph& g) {
        g.mutable_edges(hash)->set_partitioning(v1::Edge::PARTITIONING_UNSPECIFIED);
      },
      "an edge without partitioning");
  ExpectRejected([](v1::JobGraph& g) { g.mutable_vertices(0)->set_parallelism(0); },
                 "parallelism 0");
  ExpectRejected([](v1::JobGraph& g) { g.mutable_vertices(0)->set_parallelism(65); },
                 "parallelism above max_parallelism");
  ExpectRejected([](v1::JobGraph& g) { g.mutable_vertices(0)->clear_chain(); },
                 "a vertex without steps");
  ExpectRejected([](v1::JobGraph& g) { g.mutable_vertices(0)->mutable_chain(0)->add_ports(); },
                 "a step with an extra port");
  // A hash edge into a vertex whose head is a sink.
  int sink_vertex = -1;
  for (int v = 0; v < graph_.vertices_size(); ++v)
    if (graph_.vertices(v).chain(0).kind() == v1::Step::KIND_SINK) sink_vertex = v;
  ASSERT_GE(sink_vertex, 0);
  for (int e = 0; e < graph_.edges_size(); ++e) {
    if (graph_.edges(e).to_vertex() != sink_vertex) continue;
    ExpectRejected(
        [&](v1::JobGraph& g) { g.mutable_edges(e)->set_partitioning(v1::Edge::PARTITIONING_HASH); },
        "a hash edge into a sink");
  }
}

}  // namespace
}  // namespace weir::rpc
