// Keyed state: where stateful operators keep what they remember per key.
//
// A byte-level key/value store partitioned by state and key group. Every
// entry lives under (state id, key group, key), so a key-group range can be
// scanned, snapshotted, restored or moved alone. Operators encode their own
// values (accumulators, lists of rows) and access state a batch at a time:
// group the batch's rows by key first, then one Get and one write per
// distinct key, not per row.
//
// Besides Put/Get/Delete/Scan, two primitives let operators avoid
// read-modify-writes and full scans:
//  - Append / AppendFramed add elements to the list stored under a key (the
//    format of worker/state/list_state.h: varint-length-framed elements,
//    concatenated) without reading it: RocksDB turns them into a Merge, the
//    memory backend into a string append. Get returns the whole list; Put
//    replaces it (with a value framed the same way).
//  - ScanPrefix visits the keys of one key group that start with a prefix,
//    in key order, with a bounded iterator: map state stores a map under key
//    K as the entries K + map key, so ScanPrefix(K) lists the map.
// typed_state.h builds ValueState / ListState / MapState on these.
//
// Implementations: MemoryStateBackend (here; for tests and jobs without
// checkpoints) and RocksDbStore's views (rocksdb_store.h), which are the
// truth for checkpointed jobs and can exceed memory. Both give the same
// results for the same calls (tests/unit/worker/typed_state_test.cc checks
// it). Thread-safety: one backend per task thread; no internal locking.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/keys.h"
#include "common/status.h"
#include "worker/state/list_state.h"

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

  // Appends one element to the list stored under the key (list_state.h): the
  // value becomes old value + varint(element size) + element; an absent key
  // is the empty list. One write, the old value is not read.
  virtual Status Append(StateId id, int key_group, std::string_view key,
                        std::string_view element) = 0;
  // Appends `framed`, one or more elements each already framed (by
  // AppendListElement), in one write: a batch's rows for one key cost one
  // call. kInvalidArgument (and nothing written) when `framed` is not a
  // well-formed list; an empty `framed` writes nothing.
  virtual Status AppendFramed(StateId id, int key_group, std::string_view key,
                              std::string_view framed) = 0;
  // Visits the entries of `id` in `key_group` whose key starts with `prefix`
  // (the whole key is passed to fn), in key-byte order; an empty prefix
  // visits the whole key group. Only that key range is read. Mutating the
  // backend inside fn is not allowed.
  virtual Status ScanPrefix(StateId id, int key_group, std::string_view prefix,
                            const ScanFn& fn) = 0;

  // Writes back what the backend holds in memory only (RocksDbStore's views
  // cache entries), so that a snapshot of the store sees every write made so
  // far. The task calls it when it reaches a checkpoint barrier, before it
  // acks. An error here fails the task, which restarts from the last
  // checkpoint.
  virtual Status Flush() = 0;
};

std::unique_ptr<KeyedStateBackend> MakeMemoryStateBackend();

}  // namespace weir::state
