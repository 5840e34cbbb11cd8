#include "common/rpc/graph.h"

namespace weir::rpc {
namespace {

v1::Step::Kind KindToProto(plan::StepKind k) {
  switch (k) {
    case plan::StepKind::kSource:
      return v1::Step::KIND_SOURCE;
    case plan::StepKind::kOperator:
      return v1::Step::KIND_OPERATOR;
    case plan::StepKind::kSink:
      return v1::Step::KIND_SINK;
  }
  return v1::Step::KIND_UNSPECIFIED;
}

v1::Edge::Partitioning PartitioningToProto(plan::Partitioning p) {
  switch (p) {
    case plan::Partitioning::kForward:
      return v1::Edge::PARTITIONING_FORWARD;
    case plan::Partitioning::kHash:
      return v1::Edge::PARTITIONING_HASH;
    case plan::Partitioning::kRebalance:
      return v1::Edge::PARTITIONING_REBALANCE;
  }
  return v1::Edge::PARTITIONING_UNSPECIFIED;
}

}  // namespace

v1::JobGraph ToProto(const plan::PhysicalPlan& plan) {
  v1::JobGraph g;
  g.set_max_parallelism(plan.job->max_parallelism);
  for (const plan::Vertex& v : plan.vertices) {
    v1::Vertex* pv = g.add_vertices();
    pv->set_id(v.id);
    pv->set_name(v.name);
    pv->set_parallelism(v.parallelism);
    pv->set_keyed(v.keyed);
    for (int e : v.inputs) pv->add_inputs(e);
    for (const plan::Step& s : v.chain) {
      v1::Step* ps = pv->add_chain();
      ps->set_kind(KindToProto(s.kind));
      ps->set_name(s.name);
      for (const auto& port : s.ports) {
        v1::PortOutputs* po = ps->add_ports();
        po->set_chained(port.chained);
        for (int e : port.edges) po->add_edges(e);
      }
    }
  }
  for (const plan::Edge& e : plan.edges) {
    v1::Edge* pe = g.add_edges();
    pe->set_id(e.id);
    pe->set_from_vertex(e.from_vertex);
    pe->set_from_step(e.from_step);
    pe->set_from_port(e.from_port);
    pe->set_to_vertex(e.to_vertex);
    pe->set_to_input(e.to_input);
    pe->set_partitioning(PartitioningToProto(e.partitioning));
    pe->set_stream(e.stream);
    if (e.keys)
      for (const auto& k : *e.keys) pe->add_keys(k.text);
  }
  return g;
}

Result<plan::PhysicalPlan> FromProto(const v1::JobGraph& g, const spec::JobSpec& job) {
  auto bad = [](const std::string& why) {
    return Status::InvalidArgument("job graph does not fit the job file: " + why);
  };
  plan::PhysicalPlan p;
  p.job = &job;
  const int nv = g.vertices_size();
  const int ne = g.edges_size();
  for (int i = 0; i < nv; ++i) {
    const v1::Vertex& pv = g.vertices(i);
    if (pv.id() != i) return bad("vertex ids out of order");
    if (pv.parallelism() < 1 || pv.parallelism() > job.max_parallelism)
      return bad("vertex " + pv.name() + " has parallelism " + std::to_string(pv.parallelism()));
    if (pv.chain_size() == 0) return bad("vertex " + pv.name() + " has no steps");
    plan::Vertex v;
    v.id = i;
    v.name = pv.name();
    v.parallelism = pv.parallelism();
    v.keyed = pv.keyed();
    for (int e : pv.inputs()) {
      if (e < 0 || e >= ne) return bad("edge " + std::to_string(e) + " out of range");
      v.inputs.push_back(e);
    }
    for (const v1::Step& ps : pv.chain()) {
      plan::Step s;
      s.name = ps.name();
      switch (ps.kind()) {
        case v1::Step::KIND_SOURCE:
          s.kind = plan::StepKind::kSource;
          for (const auto& src : job.sources)
            if (src.name == s.name) s.source = &src;
          if (!s.source) return bad("no source '" + s.name + "'");
          break;
        case v1::Step::KIND_OPERATOR:
          s.kind = plan::StepKind::kOperator;
          for (const auto& op : job.operators)
            if (op.name == s.name) s.op = &op;
          if (!s.op) return bad("no operator '" + s.name + "'");
          if (s.op->window && !s.op->window->late.empty())
            s.late_schema = job.StreamSchema(s.op->window->late);
          break;
        case v1::Step::KIND_SINK:
          s.kind = plan::StepKind::kSink;
          for (const auto& sink : job.sinks)
            if (sink.name == s.name) s.sink = &sink;
          if (!s.sink) return bad("no sink '" + s.name + "'");
          break;
        default:
          return bad("step '" + s.name + "' has no kind");
      }
      const int want_ports = s.kind == plan::StepKind::kSink ? 0 : (s.late_schema ? 2 : 1);
      if (ps.ports_size() != want_ports)
        return bad("step '" + s.name + "' has " + std::to_string(ps.ports_size()) + " ports");
      for (const v1::PortOutputs& po : ps.ports()) {
        plan::Step::PortOutputs port;
        port.chained = po.chained();
        for (int e : po.edges()) {
          if (e < 0 || e >= ne) return bad("edge " + std::to_string(e) + " out of range");
          port.edges.push_back(e);
        }
        s.ports.push_back(std::move(port));
      }
      v.chain.push_back(std::move(s));
    }
    p.vertices.push_back(std::move(v));
  }
  for (int i = 0; i < ne; ++i) {
    const v1::Edge& pe = g.edges(i);
    if (pe.id() != i) return bad("edge ids out of order");
    if (pe.from_vertex() < 0 || pe.from_vertex() >= nv || pe.to_vertex() < 0 ||
        pe.to_vertex() >= nv)
      return bad("edge " + std::to_string(i) + " joins unknown vertices");
    const plan::Vertex& from = p.vertices[static_cast<size_t>(pe.from_vertex())];
    const plan::Vertex& to = p.vertices[static_cast<size_t>(pe.to_vertex())];
    if (pe.from_step() < 0 || pe.from_step() >= static_cast<int>(from.chain.size()))
      return bad("edge " + std::to_string(i) + " has no producing step");
    plan::Edge e;
    e.id = i;
    e.from_vertex = pe.from_vertex();
    e.from_step = pe.from_step();
    e.from_port = pe.from_port();
    e.to_vertex = pe.to_vertex();
    e.to_input = pe.to_input();
    e.stream = pe.stream();
    const plan::Step& producer = from.chain[static_cast<size_t>(e.from_step)];
    if (e.from_port < 0 || e.from_port >= static_cast<int>(producer.ports.size()) ||
        !producer.output_schema(e.from_port))
      return bad("edge " + std::to_string(i) + " leaves from a port with no output");
    switch (pe.partitioning()) {
      case v1::Edge::PARTITIONING_FORWARD:
        e.partitioning = plan::Partitioning::kForward;
        if (from.parallelism != to.parallelism) return bad("forward edge between parallelisms");
        break;
      case v1::Edge::PARTITIONING_REBALANCE:
        e.partitioning = plan::Partitioning::kRebalance;
        break;
      case v1::Edge::PARTITIONING_HASH: {
        e.partitioning = plan::Partitioning::kHash;
        // The keys are the consumer head's, as the planner binds them.
        const plan::Step& head = to.chain.front();
        if (!head.op) return bad("hash edge into a vertex without an operator head");
        if (head.op->kind == spec::OperatorKind::kJoin)
          e.keys = e.to_input == 0 ? &head.op->join_left_keys : &head.op->join_right_keys;
        else
          e.keys = &head.op->key_by;
        if (static_cast<int>(e.keys->size()) != pe.keys_size())
          return bad("hash edge " + std::to_string(i) + " has other keys than its consumer");
        break;
      }
      default:
        return bad("edge " + std::to_string(i) + " has no partitioning");
    }
    p.edges.push_back(e);
  }
  return p;
}

}  // namespace weir::rpc
