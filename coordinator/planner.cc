#include "coordinator/planner.h"

#include <map>

namespace weir::coordinator {
namespace {

bool IsKeyed(const spec::OperatorSpec& op) {
  return op.kind == spec::OperatorKind::kWindowAggregate ||
         op.kind == spec::OperatorKind::kDedupe || op.kind == spec::OperatorKind::kReduce ||
         op.kind == spec::OperatorKind::kJoin;
}

bool IsChainable(const spec::OperatorSpec& op) {
  return op.kind == spec::OperatorKind::kFilter || op.kind == spec::OperatorKind::kMap;
}

struct Producer {
  int vertex, step, port;
};

}  // namespace

Result<plan::PhysicalPlan> Plan(const spec::JobSpec& job, const PlanOptions& options) {
  plan::PhysicalPlan p;
  p.job = &job;
  const int default_par =
      options.parallelism_override > 0 ? options.parallelism_override : job.parallelism;
  if (default_par > job.max_parallelism)
    return Status::InvalidArgument("parallelism " + std::to_string(default_par) +
                                   " is larger than the job's max_parallelism " +
                                   std::to_string(job.max_parallelism));
  auto par_of = [&](int own) { return own > 0 ? own : default_par; };

  // How many consumers each stream has (operators' inputs and sinks).
  std::map<std::string, int> consumers;
  for (const auto& op : job.operators)
    for (const auto& f : op.from) consumers[f]++;
  for (const auto& s : job.sinks) consumers[s.from]++;

  std::map<std::string, Producer> producers;  // stream -> where it is produced

  auto new_vertex = [&](plan::Step head, int parallelism, bool keyed) -> int {
    plan::Vertex v;
    v.id = static_cast<int>(p.vertices.size());
    v.name = head.name;
    v.parallelism = parallelism;
    v.keyed = keyed;
    v.chain.push_back(std::move(head));
    p.vertices.push_back(std::move(v));
    return p.vertices.back().id;
  };
  auto ports_for = [](int n) {
    return std::vector<plan::Step::PortOutputs>(static_cast<size_t>(n));
  };

  // Connects the inputs of a new vertex's head; `keys_for(i)` gives the hash keys for input i.
  auto connect = [&](int vid, const std::vector<std::string>& from,
                     const std::vector<const std::vector<spec::NamedExpr>*>& keys) {
    plan::Vertex& v = p.vertices[static_cast<size_t>(vid)];
    for (size_t i = 0; i < from.size(); ++i) {
      const Producer& pr = producers.at(from[i]);
      plan::Edge e;
      e.id = static_cast<int>(p.edges.size());
      e.from_vertex = pr.vertex;
      e.from_step = pr.step;
      e.from_port = pr.port;
      e.to_vertex = vid;
      e.to_input = static_cast<int>(i);
      e.stream = from[i];
      const plan::Vertex& src = p.vertices[static_cast<size_t>(pr.vertex)];
      if (keys[i]) {
        e.partitioning = plan::Partitioning::kHash;
        e.keys = keys[i];
      } else if (src.parallelism == v.parallelism) {
        e.partitioning = plan::Partitioning::kForward;
      } else {
        e.partitioning = plan::Partitioning::kRebalance;
      }
      p.vertices[static_cast<size_t>(pr.vertex)]
          .chain[static_cast<size_t>(pr.step)]
          .ports[static_cast<size_t>(pr.port)]
          .edges.push_back(e.id);
      v.inputs.push_back(e.id);
      p.edges.push_back(e);
    }
  };

  // Tries to chain a single-input step behind the producer of `from`.
  auto try_chain = [&](plan::Step& step, const std::string& from, int parallelism) -> bool {
    auto it = producers.find(from);
    if (it == producers.end() || it->second.port != 0 || consumers[from] != 1) return false;
    plan::Vertex& v = p.vertices[static_cast<size_t>(it->second.vertex)];
    if (v.parallelism != parallelism || it->second.step != static_cast<int>(v.chain.size()) - 1)
      return false;
    v.chain.back().ports[0].chained = true;
    v.chain.push_back(std::move(step));
    return true;
  };

  for (const auto& src : job.sources) {
    plan::Step s;
    s.kind = plan::StepKind::kSource;
    s.source = &src;
    s.name = src.name;
    s.ports = ports_for(1);
    int vid = new_vertex(std::move(s), par_of(src.parallelism), false);
    producers[src.name] = {vid, 0, 0};
  }
  for (const auto& op : job.operators) {
    plan::Step s;
    s.kind = plan::StepKind::kOperator;
    s.op = &op;
    s.name = op.name;
    s.ports = ports_for(op.window && !op.window->late.empty() ? 2 : 1);
    if (s.ports.size() == 2) s.late_schema = job.StreamSchema(op.window->late);
    const int par = par_of(op.parallelism);
    const bool keyed = IsKeyed(op);
    if (keyed && par > job.max_parallelism)
      return Status::InvalidArgument("operator '" + op.name + "' has parallelism " +
                                     std::to_string(par) + " > max_parallelism " +
                                     std::to_string(job.max_parallelism));
    int vid, step;
    if (IsChainable(op) && try_chain(s, op.from[0], par)) {
      vid = producers.at(op.from[0]).vertex;
      step = static_cast<int>(p.vertices[static_cast<size_t>(vid)].chain.size()) - 1;
    } else {
      vid = new_vertex(std::move(s), par, keyed);
      step = 0;
      std::vector<const std::vector<spec::NamedExpr>*> keys(op.from.size(), nullptr);
      if (op.kind == spec::OperatorKind::kJoin) {
        keys[0] = &op.join_left_keys;
        keys[1] = &op.join_right_keys;
      } else if (keyed) {
        keys[0] = &op.key_by;
      }
      connect(vid, op.from, keys);
    }
    producers[op.name] = {vid, step, 0};
    if (op.window && !op.window->late.empty()) producers[op.window->late] = {vid, step, 1};
  }
  for (const auto& sink : job.sinks) {
    plan::Step s;
    s.kind = plan::StepKind::kSink;
    s.sink = &sink;
    s.name = sink.name;
    const int par = par_of(sink.parallelism);
    if (!try_chain(s, sink.from, par)) {
      int vid = new_vertex(std::move(s), par, false);
      connect(vid, {sink.from}, {nullptr});
    }
  }
  return p;
}

}  // namespace weir::coordinator
