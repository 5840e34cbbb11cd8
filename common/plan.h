// The physical plan: what runs where, made from a validated JobSpec by the
// planner (coordinator/planner.h) and executed by worker tasks.
//
// A Vertex is a chain of steps (a source or operator at the head, then
// operators and sinks chained behind it by direct calls) run with some
// parallelism; each of its subtasks is one task thread. Edges connect a
// step's output port to the head of another vertex, with a partitioning:
//  - forward: subtask i sends to subtask i (same parallelism);
//  - hash: rows go to the subtask owning their key group (keyed consumers);
//  - rebalance: round robin (parallelism changes).
// Steps point into the JobSpec, which must outlive the plan.
#pragma once

#include <string>
#include <vector>

#include "common/spec/job_spec.h"

namespace weir::plan {

enum class StepKind { kSource, kOperator, kSink };
enum class Partitioning { kForward, kHash, kRebalance };

std::string_view PartitioningName(Partitioning p);

struct Step {
  StepKind kind = StepKind::kOperator;
  const spec::SourceSpec* source = nullptr;
  const spec::OperatorSpec* op = nullptr;
  const spec::SinkSpec* sink = nullptr;
  std::string name;
  // For each output port (0 main, 1 late), the outputs: `chained` means the
  // next step of this vertex's chain consumes it; `edges` lists edge ids.
  struct PortOutputs {
    bool chained = false;
    std::vector<int> edges;
  };
  std::vector<PortOutputs> ports;
  const Schema* late_schema = nullptr;  // port 1 of a window with a `late` stream
  const Schema* output_schema(int port) const;
};

struct Vertex {
  int id = 0;
  std::string name;  // the head step's name
  int parallelism = 1;
  bool keyed = false;       // the head needs hash-partitioned input
  std::vector<Step> chain;  // head first
  std::vector<int> inputs;  // edge ids into the head
};

struct Edge {
  int id = 0;
  int from_vertex = 0;
  int from_step = 0;  // index in the producer's chain
  int from_port = 0;
  int to_vertex = 0;
  int to_input = 0;  // input index at the consumer's head (join: 0 left, 1 right)
  Partitioning partitioning = Partitioning::kForward;
  // kHash: the key expressions, bound against the producer's output schema.
  const std::vector<spec::NamedExpr>* keys = nullptr;
  std::string stream;  // the stream the edge carries
};

struct PhysicalPlan {
  const spec::JobSpec* job = nullptr;
  std::vector<Vertex> vertices;  // in topological order
  std::vector<Edge> edges;
  // "vertex per_user x2 [window per_user -> stdout out] <- hash(user) from paid"
  std::string Explain() const;
};

}  // namespace weir::plan
