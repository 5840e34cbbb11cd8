#include "common/checkpoint/metadata.h"

#include "common/checkpoint/metadata_file.h"
#include "common/checkpoint/storage.h"

namespace weir::checkpoint {

std::string CheckpointMetadata::Encode() const {
  v1::CheckpointMetadata m;
  m.mutable_format_version()->set_major(kMetadataMajor);
  m.mutable_format_version()->set_minor(kMetadataMinor);
  m.set_id(id);
  m.set_savepoint(savepoint);
  m.set_job(job);
  m.set_max_parallelism(max_parallelism);
  m.set_completed_ms(completed_ms);
  for (const TaskSnapshot& t : tasks) {
    v1::CheckpointMetadata::Task* out = m.add_tasks();
    out->set_vertex(t.vertex);
    out->set_subtask(t.subtask);
    if (t.source_position) out->set_source_position(*t.source_position);
    if (t.sink_state) out->set_sink_state(*t.sink_state);
  }
  for (const DbPart& p : db_parts) {
    v1::CheckpointMetadata::DbPart* out = m.add_db_parts();
    out->set_name(p.name);
    out->set_manifest(p.manifest);
    for (const KeyGroupRange& r : p.key_groups) {
      v1::CheckpointMetadata::KeyGroupRange* kr = out->add_key_groups();
      kr->set_start(r.start);
      kr->set_end(r.end);
    }
  }
  return m.SerializeAsString();
}

Result<CheckpointMetadata> CheckpointMetadata::Decode(std::string_view bytes) {
  WEIR_ASSIGN_OR_RETURN(v1::CheckpointMetadata m, ParseMetadataMessage(bytes, ""));
  // Subtasks and key groups index arrays on restore: out of range is damage.
  if (m.max_parallelism() <= 0)
    return Status::DataLoss("checkpoint metadata has max_parallelism " +
                            std::to_string(m.max_parallelism()));
  auto outside = [&](int v) { return v < 0 || v >= m.max_parallelism(); };
  CheckpointMetadata out;
  out.id = m.id();
  out.savepoint = m.savepoint();
  out.job = m.job();
  out.max_parallelism = m.max_parallelism();
  out.completed_ms = m.completed_ms();
  for (const v1::CheckpointMetadata::Task& t : m.tasks()) {
    if (outside(t.subtask()))
      return Status::DataLoss("checkpoint metadata has subtask " + std::to_string(t.subtask()) +
                              " of '" + t.vertex() + "', outside the job's max_parallelism " +
                              std::to_string(m.max_parallelism()));
    TaskSnapshot s;
    s.vertex = t.vertex();
    s.subtask = t.subtask();
    if (t.has_source_position()) s.source_position = t.source_position();
    if (t.has_sink_state()) s.sink_state = t.sink_state();
    out.tasks.push_back(std::move(s));
  }
  for (const v1::CheckpointMetadata::DbPart& p : m.db_parts()) {
    DbPart d;
    d.name = p.name();
    d.manifest = p.manifest();
    for (const v1::CheckpointMetadata::KeyGroupRange& r : p.key_groups()) {
      if (outside(r.start()) || r.end() >= m.max_parallelism())  // end < start: empty
        return Status::DataLoss("checkpoint metadata has key groups " + std::to_string(r.start()) +
                                ".." + std::to_string(r.end()) + " in part '" + p.name() +
                                "', outside the job's max_parallelism " +
                                std::to_string(m.max_parallelism()));
      d.key_groups.push_back({r.start(), r.end()});
    }
    out.db_parts.push_back(std::move(d));
  }
  return out;
}

std::vector<std::string> CheckpointMetadata::SourcePositions(const std::string& vertex) const {
  std::vector<std::string> out;
  for (const auto& t : tasks) {
    if (t.vertex != vertex || !t.source_position) continue;
    if (out.size() <= static_cast<size_t>(t.subtask))
      out.resize(static_cast<size_t>(t.subtask) + 1);
    out[static_cast<size_t>(t.subtask)] = *t.source_position;
  }
  return out;
}

const TaskSnapshot* CheckpointMetadata::Find(const std::string& vertex, int subtask) const {
  for (const auto& t : tasks)
    if (t.vertex == vertex && t.subtask == subtask) return &t;
  return nullptr;
}

Result<CheckpointMetadata> ReadRestorePoint(const std::string& restore_path,
                                            const spec::JobSpec& job) {
  WEIR_ASSIGN_OR_RETURN(std::string bytes, CheckpointStorage::ReadMetadata(restore_path));
  auto decoded = CheckpointMetadata::Decode(bytes);
  if (!decoded.ok())
    return Status(decoded.status().code(), restore_path + ": " + decoded.status().message());
  CheckpointMetadata restore = std::move(decoded).value();
  if (restore.job != job.name)
    return Status::InvalidArgument(restore_path + " is a checkpoint of job '" + restore.job +
                                   "', not of '" + job.name + "'");
  if (restore.max_parallelism != job.max_parallelism)
    return Status::InvalidArgument(
        restore_path + " was taken with max_parallelism " +
        std::to_string(restore.max_parallelism) + "; the job now has " +
        std::to_string(job.max_parallelism) +
        " (the number of key groups is fixed for the life of a job's state)");
  return restore;
}

}  // namespace weir::checkpoint
