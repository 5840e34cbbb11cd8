// RocksDbStore: the process's keyed state on disk (shared/design/architecture.md).
//
// One RocksDB instance per process. Every task thread gets its own
// KeyedStateBackend view (NewBackend); views share the instance and are each
// used by one thread (RocksDB itself is thread-safe). Keys are
//   [state id: 4 bytes BE][key group: 2 bytes BE][operator's key bytes]
// so one state's key-group range is one contiguous key range: it can be
// scanned, dropped or moved alone. State ids are allocated by Register and
// the name -> id mapping is stored in the database itself (under the reserved
// id 0; ids handed out start at 1), so a restored database gives the same
// names the same ids. Key groups must be in [0, 65535] (2 bytes): others are
// rejected with kInvalidArgument.
//
// Snapshots: CreateLocalCheckpoint flushes the memtables and hard-links the
// live files into a new directory (rocksdb::Checkpoint): the caller must make
// sure no task writes while it runs (the runtime calls it when every task of
// the process has reached the barrier). The directory is then a complete
// database that Open can use, and that CheckpointStorage uploads; it always
// holds the IDENTITY file, whose content (the database identity) names the
// checkpoint's SSTs in shared storage. If a Register could not store its
// mapping (Register cannot report errors), every later CreateLocalCheckpoint
// fails, so a mapping that is not in the database never gets restored.
//
// List state: Append / AppendFramed are RocksDB Merges whose operand is the
// framed element(s) (list_state.h); the merge operator ("weir.ListAppend",
// set by Open on every database it opens: fresh, reopened or restored from a
// checkpoint) concatenates base value and operands in order, so a Get, a
// scan or a compaction sees the whole list and an append never reads it.
// ScanPrefix iterates with both bounds set: [prefix of (id, key group) +
// prefix, its successor), so only the matching keys are read.
//
// Write-back cache: each view keeps the entries its task touched in memory
// (clean copies and dirty writes) and writes the dirty ones to RocksDB in
// WriteBatches when its Flush is called, which the runtime does before a task
// acks a checkpoint barrier, or when the cache outgrows task_cache_bytes.
// Scans flush the view first. So a local checkpoint holds every write made
// before the barrier, and what a crash loses (writes after the last
// checkpoint) is recomputed from the sources on recovery, as it would be
// without the cache (the WAL is disabled). Writes through one view are seen
// by another only after the first one flushes: tasks never share keys (each
// owns its operators' states in its key groups).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/keys.h"
#include "common/status.h"
#include "worker/state/state_backend.h"

namespace rocksdb {
class DB;
}

namespace weir::state {

struct RocksDbOptions {
  std::string dir;                            // created when missing
  uint64_t block_cache_bytes = 256ull << 20;  // shared LRU cache for reads
  uint64_t write_buffer_bytes = 64ull << 20;  // memtable size before a flush
  // Each task's write-back cache (see below): the entries a task touched are
  // read from and written to memory, and reach RocksDB at each checkpoint
  // barrier, or all at once when the cache grows past this size (then it
  // starts empty). Bigger keeps more of a large working set in memory; 0
  // writes through (every call reaches RocksDB at once).
  uint64_t task_cache_bytes = 64ull << 20;
};

class RocksDbStore {
 public:
  // Opens (or creates) the database in options.dir. A directory produced by
  // CreateLocalCheckpoint or CheckpointStorage::DownloadDb opens as is.
  static Result<std::unique_ptr<RocksDbStore>> Open(const RocksDbOptions& options);
  ~RocksDbStore();

  // A view for one task thread. The store must outlive its views.
  std::unique_ptr<KeyedStateBackend> NewBackend();

  // Flushes and hard-links the database into `dir`, which must not exist.
  Status CreateLocalCheckpoint(const std::string& dir);

  // Deletes every entry (of every registered state) whose key group is not in
  // one of `keep` (range deletions; the registry is kept): after restoring a
  // checkpoint taken with other key-group ranges.
  Status DropKeyGroupsOutside(const std::vector<KeyGroupRange>& keep);

  // Copies into this database the entries of the database in `other_dir` (a
  // directory DownloadDb produced; opened read-only, not modified) whose key
  // group lies in one of `keep`, mapping state ids by their registered
  // (operator, name) since two databases number their states independently.
  // The registry of `other_dir` is merged into this one's. Merge operands are
  // read merged and written as plain values. Same rule as CreateLocalCheckpoint:
  // no task may write meanwhile.
  // An entry this database already has under the same key is overwritten (the
  // parts of one checkpoint never share a key group). An empty `keep` is a
  // no-op that does not even open `other_dir`; a missing `other_dir` is
  // kNotFound.
  Status ImportKeyGroups(const std::string& other_dir, const std::vector<KeyGroupRange>& keep);

  // Flushes the memtables and compacts the whole database into its last
  // level (which folds list-state merge operands into plain values). For
  // tests and maintenance; the same no-write rule as CreateLocalCheckpoint
  // does not apply (it is safe while tasks write).
  Status Compact();

  // Live SST bytes plus memtables, for metrics and progress.
  uint64_t ApproximateSizeBytes() const;

  const std::string& dir() const;

 private:
  struct Impl;
  explicit RocksDbStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace weir::state
