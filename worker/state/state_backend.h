// Keyed state: where stateful operators keep what they remember per key.
//
// A byte-level key/value store partitioned by state and key group. Every
// entry lives under (state id, key group, key), so a key-group range can be
// scanned, snapshotted, restored or moved alone. Operators encode their own
// values (accumulators, lists of rows) and access state a batch at a time:
// group the batch's rows by key first, then one Get and one Put per distinct
// key, not per row.
//
// Implementations: MemoryStateBackend (here; for tests and jobs without
// checkpoints) and the RocksDB backend (checkpoints issue), which is the one
// that can exceed memory. Thread-safety: one backend per task thread; no
// internal locking.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/keys.h"
#include "common/status.h"

namespace weir::state {

using StateId = uint32_t;

// Called for each entry of a scan; return false to stop.
using ScanFn = std::function<bool(int key_group, std::string_view key, std::string_view value)>;

class KeyedStateBackend {
 public:
  virtual ~KeyedStateBackend() = default;

  // The id of a named state of an operator ("per_user", "windows"); the same
  // names give the same id for the life of the backend.
  virtual StateId Register(std::string_view operator_name, std::string_view state_name) = 0;

  virtual Status Put(StateId id, int key_group, std::string_view key, std::string_view value) = 0;
  // True and *value set when present; false when absent.
  virtual Result<bool> Get(StateId id, int key_group, std::string_view key, std::string* value) = 0;
  virtual Status Delete(StateId id, int key_group, std::string_view key) = 0;
  // Visits the entries of `id` whose key group is in `range`, ordered by key
  // group then key bytes. Mutating the backend inside fn is not allowed.
  virtual Status Scan(StateId id, KeyGroupRange range, const ScanFn& fn) = 0;
};

std::unique_ptr<KeyedStateBackend> MakeMemoryStateBackend();

}  // namespace weir::state
