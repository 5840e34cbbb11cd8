#include "worker/runtime/state_restore.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "common/checkpoint/storage.h"

namespace weir::runtime {

namespace fs = std::filesystem;

namespace {

int Overlap(const std::vector<KeyGroupRange>& a, const std::vector<KeyGroupRange>& b) {
  int n = 0;
  for (const auto& x : a)
    for (const auto& y : b)
      n += KeyGroupRange{std::max(x.start, y.start), std::min(x.end, y.end)}.size();
  return n;
}

bool Covers(const std::vector<KeyGroupRange>& owned, const std::vector<KeyGroupRange>& part) {
  int size = 0;
  for (const auto& r : part) size += r.size();
  return Overlap(owned, part) == size;
}

// WEIR_STATE_CACHE_MB: each task's write-back state cache
// (RocksDbOptions::task_cache_bytes), in MiB; 0 writes through.
Status ApplyStateCacheSetting(state::RocksDbOptions* ro) {
  const char* env = std::getenv("WEIR_STATE_CACHE_MB");
  if (!env || !*env) return Status::OK();
  char* end = nullptr;
  const unsigned long long mb = std::strtoull(env, &end, 10);
  if (*end != '\0' || env[0] == '-' || mb > (1ull << 20))
    return Status::InvalidArgument("WEIR_STATE_CACHE_MB: expected MiB from 0 to 1048576, got '" +
                                   std::string(env) + "'");
  ro->task_cache_bytes = mb << 20;
  return Status::OK();
}

}  // namespace

std::vector<KeyGroupRange> OwnedKeyGroups(
    const plan::PhysicalPlan& plan, const std::function<bool(int vertex, int subtask)>& is_local) {
  const int maxp = plan.job->max_parallelism;
  if (!is_local) return {{0, maxp - 1}};
  std::vector<KeyGroupRange> ranges;
  for (const auto& v : plan.vertices) {
    if (!v.keyed) continue;
    for (int s = 0; s < v.parallelism; ++s)
      if (is_local(v.id, s)) ranges.push_back(KeyGroupRangeFor(s, v.parallelism, maxp));
  }
  std::sort(ranges.begin(), ranges.end(),
            [](const KeyGroupRange& a, const KeyGroupRange& b) { return a.start < b.start; });
  std::vector<KeyGroupRange> merged;
  for (const auto& r : ranges) {
    if (r.size() == 0) continue;
    if (!merged.empty() && r.start <= merged.back().end + 1)
      merged.back().end = std::max(merged.back().end, r.end);
    else
      merged.push_back(r);
  }
  return merged;
}

Result<std::unique_ptr<state::RocksDbStore>> OpenAttemptState(
    const std::string& db_dir, const std::string& scratch_dir, const std::string& restore_path,
    const CheckpointMetadata* restore, const std::vector<KeyGroupRange>& owned) {
  std::error_code ec;
  fs::remove_all(db_dir, ec);
  fs::remove_all(scratch_dir, ec);
  fs::create_directories(scratch_dir, ec);
  if (ec) return Status::Unavailable("cannot create " + scratch_dir + ": " + ec.message());

  std::vector<const DbPart*> parts;
  if (restore)
    for (const auto& p : restore->db_parts)
      if (Overlap(owned, p.key_groups) > 0) parts.push_back(&p);
  std::sort(parts.begin(), parts.end(), [&](const DbPart* a, const DbPart* b) {
    return Overlap(owned, a->key_groups) > Overlap(owned, b->key_groups);
  });
  if (!parts.empty())
    WEIR_RETURN_IF_ERROR(
        checkpoint::CheckpointStorage::DownloadDb(restore_path, parts.front()->manifest, db_dir));
  state::RocksDbOptions ro;
  ro.dir = db_dir;
  WEIR_RETURN_IF_ERROR(ApplyStateCacheSetting(&ro));
  WEIR_ASSIGN_OR_RETURN(auto store, state::RocksDbStore::Open(ro));
  if (parts.empty()) return store;
  if (!Covers(owned, parts.front()->key_groups))
    WEIR_RETURN_IF_ERROR(store->DropKeyGroupsOutside(owned));
  for (size_t i = 1; i < parts.size(); ++i) {
    const std::string tmp = (fs::path(scratch_dir) / ("import-" + std::to_string(i))).string();
    WEIR_RETURN_IF_ERROR(
        checkpoint::CheckpointStorage::DownloadDb(restore_path, parts[i]->manifest, tmp));
    Status st = store->ImportKeyGroups(tmp, owned);
    fs::remove_all(tmp, ec);
    WEIR_RETURN_IF_ERROR(st);
  }
  return store;
}

}  // namespace weir::runtime
