#include "common/plan.h"

#include <sstream>

namespace weir::plan {

std::string_view PartitioningName(Partitioning p) {
  switch (p) {
    case Partitioning::kForward:
      return "forward";
    case Partitioning::kHash:
      return "hash";
    case Partitioning::kRebalance:
      return "rebalance";
  }
  return "?";
}

const Schema* Step::output_schema(int port) const {
  switch (kind) {
    case StepKind::kSource:
      return &source->schema;
    case StepKind::kSink:
      return nullptr;
    case StepKind::kOperator:
      return port == 0 ? &op->schema : late_schema;
  }
  return nullptr;
}

std::string PhysicalPlan::Explain() const {
  std::ostringstream o;
  for (const Vertex& v : vertices) {
    o << "vertex " << v.id << " '" << v.name << "' x" << v.parallelism << ":";
    for (size_t i = 0; i < v.chain.size(); ++i) {
      const Step& s = v.chain[i];
      o << (i ? " -> " : " ");
      switch (s.kind) {
        case StepKind::kSource:
          o << "source " << s.name << " (" << s.source->type << ")";
          break;
        case StepKind::kOperator:
          o << spec::OperatorKindName(s.op->kind) << " " << s.name;
          break;
        case StepKind::kSink:
          o << "sink " << s.name << " (" << s.sink->type << ")";
          break;
      }
    }
    o << "\n";
    for (int e : v.inputs) {
      const Edge& edge = edges[static_cast<size_t>(e)];
      o << "  input " << edge.to_input << " <- vertex " << edge.from_vertex << " '" << edge.stream
        << "' " << PartitioningName(edge.partitioning);
      if (edge.keys) {
        o << "(";
        for (size_t k = 0; k < edge.keys->size(); ++k) o << (k ? ", " : "") << (*edge.keys)[k].text;
        o << ")";
      }
      o << "\n";
    }
  }
  return o.str();
}

}  // namespace weir::plan
