// Opens the keyed-state database an attempt runs on: empty, or holding the
// state of the key groups it owns from a checkpoint. A checkpoint has one
// database part per process that ran keyed subtasks; after a restart or a
// rescale a process may own key groups from several parts. The part that
// overlaps the owned key groups most is downloaded as the database itself
// (SSTs hard-linked: fast), the rest of its key groups dropped; the entries
// of owned key groups in every other overlapping part are imported.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <functional>

#include "common/keys.h"
#include "common/plan.h"
#include "common/status.h"
#include "worker/runtime/checkpointer.h"
#include "worker/state/rocksdb_store.h"

namespace weir::runtime {

// `db_dir` and `scratch_dir` are replaced; `restore` may be null (a fresh
// start).
Result<std::unique_ptr<state::RocksDbStore>> OpenAttemptState(
    const std::string& db_dir, const std::string& scratch_dir, const std::string& restore_path,
    const CheckpointMetadata* restore, const std::vector<KeyGroupRange>& owned);

// The key groups the keyed subtasks selected by `is_local` own (merged,
// sorted); every key group when `is_local` is null.
std::vector<KeyGroupRange> OwnedKeyGroups(
    const plan::PhysicalPlan& plan, const std::function<bool(int vertex, int subtask)>& is_local);

}  // namespace weir::runtime
