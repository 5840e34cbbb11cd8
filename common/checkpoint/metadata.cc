#include "common/checkpoint/metadata.h"

#include "common/bytes.h"
#include "common/checkpoint/storage.h"

namespace weir::checkpoint {

namespace {
// 1: one database manifest; 2: database parts with their key groups.
constexpr uint8_t kMetadataVersion = 2;
}  // namespace

std::string CheckpointMetadata::Encode() const {
  std::string out;
  ByteWriter w(&out);
  w.PutU8(kMetadataVersion);
  w.PutSigned(id);
  w.PutU8(savepoint ? 1 : 0);
  w.PutBytes(job);
  w.PutVarint(static_cast<uint64_t>(max_parallelism));
  w.PutSigned(completed_ms);
  w.PutVarint(tasks.size());
  for (const auto& t : tasks) {
    w.PutBytes(t.vertex);
    w.PutVarint(static_cast<uint64_t>(t.subtask));
    w.PutU8(t.source_position ? 1 : 0);
    if (t.source_position) w.PutBytes(*t.source_position);
    w.PutU8(t.sink_state ? 1 : 0);
    if (t.sink_state) w.PutBytes(*t.sink_state);
  }
  w.PutVarint(db_parts.size());
  for (const auto& p : db_parts) {
    w.PutBytes(p.name);
    w.PutBytes(p.manifest);
    w.PutVarint(p.key_groups.size());
    for (const auto& r : p.key_groups) {
      w.PutVarint(static_cast<uint64_t>(r.start));
      w.PutVarint(static_cast<uint64_t>(r.end));
    }
  }
  return out;
}

Result<CheckpointMetadata> CheckpointMetadata::Decode(std::string_view bytes) {
  ByteReader r(bytes);
  CheckpointMetadata m;
  uint8_t version = r.GetU8();
  if (r.ok() && version != kMetadataVersion && version != 1)
    return Status::DataLoss("checkpoint metadata version " + std::to_string(version) +
                            " is not one this weir reads (" + std::to_string(kMetadataVersion) +
                            ")");
  m.id = r.GetSigned();
  m.savepoint = r.GetU8() != 0;
  m.job = std::string(r.GetBytes());
  m.max_parallelism = static_cast<int>(r.GetVarint());
  m.completed_ms = r.GetSigned();
  uint64_t n = r.GetVarint();
  for (uint64_t i = 0; r.ok() && i < n; ++i) {
    TaskSnapshot t;
    t.vertex = std::string(r.GetBytes());
    t.subtask = static_cast<int>(r.GetVarint());
    if (r.GetU8()) t.source_position = std::string(r.GetBytes());
    if (r.GetU8()) t.sink_state = std::string(r.GetBytes());
    m.tasks.push_back(std::move(t));
  }
  if (version == 1) {
    std::string manifest(r.GetBytes());
    if (!manifest.empty())
      m.db_parts.push_back({"", std::move(manifest), {{0, m.max_parallelism - 1}}});
  } else {
    uint64_t parts = r.GetVarint();
    for (uint64_t i = 0; r.ok() && i < parts; ++i) {
      DbPart p;
      p.name = std::string(r.GetBytes());
      p.manifest = std::string(r.GetBytes());
      uint64_t ranges = r.GetVarint();
      for (uint64_t k = 0; r.ok() && k < ranges; ++k) {
        KeyGroupRange kr;
        kr.start = static_cast<int>(r.GetVarint());
        kr.end = static_cast<int>(r.GetVarint());
        p.key_groups.push_back(kr);
      }
      m.db_parts.push_back(std::move(p));
    }
  }
  if (!r.ok() || !r.done()) return Status::DataLoss("checkpoint metadata is malformed");
  return m;
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
