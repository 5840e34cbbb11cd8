#include "common/checkpoint/metadata_legacy.h"

#include <cstdint>

#include "common/bytes.h"

namespace weir::checkpoint {

namespace {

// The fixed part of a format-1 body, after the major version.
constexpr size_t kLegacyHeaderBytes = 4 + 8 + 8 + 8 + 8;

uint64_t GetLE(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= uint64_t{static_cast<uint8_t>(p[i])} << (8 * i);
  return v;
}

// The runtime's payload (payload versions 1 and 2) into `m`.
bool DecodePayload(std::string_view payload, v1::CheckpointMetadata* m) {
  ByteReader r(payload);
  const uint8_t version = r.GetU8();
  if (!r.ok() || (version != 1 && version != 2)) return false;
  // Storage's header said the same id, savepoint and time; the header's win
  // (they named the directory), as they did when this format was current.
  r.GetSigned();
  r.GetU8();
  m->set_job(std::string(r.GetBytes()));
  m->set_max_parallelism(static_cast<int32_t>(r.GetVarint()));
  r.GetSigned();
  const uint64_t n = r.GetVarint();
  for (uint64_t i = 0; r.ok() && i < n; ++i) {
    v1::CheckpointMetadata::Task* t = m->add_tasks();
    t->set_vertex(std::string(r.GetBytes()));
    t->set_subtask(static_cast<int32_t>(r.GetVarint()));
    if (r.GetU8()) t->set_source_position(std::string(r.GetBytes()));
    if (r.GetU8()) t->set_sink_state(std::string(r.GetBytes()));
  }
  if (version == 1) {
    // One database, which held every key group.
    std::string manifest(r.GetBytes());
    if (r.ok() && !manifest.empty()) {
      v1::CheckpointMetadata::DbPart* p = m->add_db_parts();
      p->set_manifest(std::move(manifest));
      v1::CheckpointMetadata::KeyGroupRange* kr = p->add_key_groups();
      kr->set_start(0);
      kr->set_end(m->max_parallelism() - 1);
    }
  } else {
    const uint64_t parts = r.GetVarint();
    for (uint64_t i = 0; r.ok() && i < parts; ++i) {
      v1::CheckpointMetadata::DbPart* p = m->add_db_parts();
      p->set_name(std::string(r.GetBytes()));
      p->set_manifest(std::string(r.GetBytes()));
      const uint64_t ranges = r.GetVarint();
      for (uint64_t k = 0; r.ok() && k < ranges; ++k) {
        v1::CheckpointMetadata::KeyGroupRange* kr = p->add_key_groups();
        kr->set_start(static_cast<int32_t>(r.GetVarint()));
        kr->set_end(static_cast<int32_t>(r.GetVarint()));
      }
    }
  }
  return r.ok() && r.done();
}

}  // namespace

Result<v1::CheckpointMetadata> DecodeLegacyMetadata(std::string_view body,
                                                    const std::string& path) {
  auto bad = [&](std::string_view why) {
    return Status::DataLoss("corrupt checkpoint metadata " + path +
                            " (format 1): " + std::string(why));
  };
  if (body.size() < kLegacyHeaderBytes) return bad("truncated");
  const char* p = body.data();
  v1::CheckpointMetadata m;
  m.set_savepoint((GetLE(p, 4) & 1) != 0);
  m.set_id(static_cast<int64_t>(GetLE(p + 4, 8)));
  m.set_completed_ms(static_cast<int64_t>(GetLE(p + 12, 8)));
  m.set_files_bytes(GetLE(p + 20, 8));
  const uint64_t len = GetLE(p + 28, 8);
  if (len != body.size() - kLegacyHeaderBytes) return bad("length mismatch");
  if (!DecodePayload(body.substr(kLegacyHeaderBytes), &m)) return bad("malformed payload");
  return m;
}

}  // namespace weir::checkpoint
