// A checkpoint's metadata: what restoring a job needs besides the stored
// databases. The runtime writes it (one process: worker/runtime/checkpointer;
// a cluster: the coordinator, from every worker's share) into the _metadata
// file of checkpoint storage (common/checkpoint/storage.h), and reads it back
// on restore. Its encoding is the versioned weir.v1.CheckpointMetadata
// message (proto/weir/v1/checkpoint.proto; versions: metadata_file.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/keys.h"
#include "common/spec/job_spec.h"
#include "common/status.h"

namespace weir::checkpoint {

// What one subtask contributes to a checkpoint besides keyed state.
struct TaskSnapshot {
  std::string vertex;  // the vertex's name
  int subtask = 0;
  std::optional<std::string> source_position;  // a source task
  std::optional<std::string> sink_state;       // a task whose chain ends in a sink
};

// One database of a checkpoint: a single-process job has one (named ""); a
// cluster job one per worker that ran keyed subtasks.
struct DbPart {
  std::string name;
  std::string manifest;                   // CheckpointStorage::UploadDb's result
  std::vector<KeyGroupRange> key_groups;  // whose state it holds
};

// A checkpoint's metadata: what restore needs.
struct CheckpointMetadata {
  int64_t id = 0;
  bool savepoint = false;
  std::string job;
  int max_parallelism = 128;
  int64_t completed_ms = 0;
  std::vector<TaskSnapshot> tasks;
  std::vector<DbPart> db_parts;  // empty: no keyed state

  // The message, serialized, of this weir's format: what a worker sends as
  // its share and CheckpointStorage::Complete takes.
  std::string Encode() const;
  // kDataLoss when `bytes` are not such a message, kFailedPrecondition when
  // it is of a newer major version (the error names both versions).
  static Result<CheckpointMetadata> Decode(std::string_view bytes);
  // The source positions of every subtask of `vertex`, indexed by subtask.
  std::vector<std::string> SourcePositions(const std::string& vertex) const;
  const TaskSnapshot* Find(const std::string& vertex, int subtask) const;
};

// Reads and checks the checkpoint or savepoint at `path` for `job`: it must
// be the same job's, with the same max_parallelism.
Result<CheckpointMetadata> ReadRestorePoint(const std::string& path, const spec::JobSpec& job);

}  // namespace weir::checkpoint
