// RocksDbStore: keyed state views over one shared RocksDB instance.
//
// Key layout (see rocksdb_store.h): [state id BE32][key group BE16][key].
// State id 0 is reserved for the registry of names: its entries are
//   key   [0 BE32][0 BE16][operator name length BE32][operator name][state name]
//   value [state id BE32]
// and are loaded when the database is opened, so a reopened or restored
// database gives the same names the same ids.
#include "worker/state/rocksdb_store.h"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <system_error>
#include <unordered_map>
#include <utility>

namespace weir::state {
namespace {

namespace fs = std::filesystem;

constexpr StateId kRegistryId = 0;
constexpr int kMaxKeyGroup = 0xffff;  // key groups are stored in 2 bytes
constexpr size_t kPrefixBytes = 6;
constexpr size_t kImportBatchBytes = 4 << 20;  // ImportKeyGroups writes batches of this size

void AppendBE32(uint32_t v, std::string* out) {
  for (int s = 24; s >= 0; s -= 8) out->push_back(static_cast<char>((v >> s) & 0xff));
}

uint32_t ReadBE32(const char* p) {
  return (uint32_t{static_cast<uint8_t>(p[0])} << 24) |
         (uint32_t{static_cast<uint8_t>(p[1])} << 16) |
         (uint32_t{static_cast<uint8_t>(p[2])} << 8) | uint32_t{static_cast<uint8_t>(p[3])};
}

// Writes the 6-byte prefix of (id, key group) into *out, replacing its content.
void SetPrefix(StateId id, int kg, std::string* out) {
  out->clear();
  AppendBE32(id, out);
  out->push_back(static_cast<char>((kg >> 8) & 0xff));
  out->push_back(static_cast<char>(kg & 0xff));
}

// The first key after every key of (id, key groups <= last_kg): the prefix of
// the next key group, or of the next state id after the last key group.
void SetEndPrefix(StateId id, int last_kg, std::string* out) {
  if (last_kg >= kMaxKeyGroup) {
    out->clear();
    AppendBE32(id + 1, out);
  } else {
    SetPrefix(id, last_kg + 1, out);
  }
}

std::string RegistryKey(std::string_view op, std::string_view name) {
  std::string k;
  SetPrefix(kRegistryId, 0, &k);
  AppendBE32(static_cast<uint32_t>(op.size()), &k);
  k.append(op);
  k.append(name);
  return k;
}

Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  std::string msg = std::string(what) + ": " + s.ToString();
  if (s.IsCorruption()) return Status::DataLoss(std::move(msg));
  if (s.IsInvalidArgument()) return Status::InvalidArgument(std::move(msg));
  if (s.IsNotFound()) return Status::NotFound(std::move(msg));
  if (s.IsBusy() || s.IsTryAgain() || s.IsTimedOut()) return Status::Unavailable(std::move(msg));
  if (s.IsNoSpace()) return Status::ResourceExhausted(std::move(msg));
  return Status::Internal(std::move(msg));
}

Status CheckKeyGroup(int kg) {
  if (kg < 0 || kg > kMaxKeyGroup)
    return Status::InvalidArgument("key group " + std::to_string(kg) + " out of range [0, 65535]");
  return Status::OK();
}

// The merge operator of list state (list_state.h). Operands are framed
// elements, and a list is framed elements back to back, so merging is
// concatenation, in order: the base value (if any), then each operand. It
// never fails, and never looks inside the bytes; since operands are only
// written by Append/AppendFramed (which validate), the result is a list
// whenever the base value is one.
class ListAppendOperator final : public rocksdb::MergeOperator {
 public:
  bool FullMergeV2(const MergeOperationInput& in, MergeOperationOutput* out) const override {
    if (in.existing_value == nullptr && in.operand_list.size() == 1) {
      out->existing_operand = in.operand_list[0];  // no copy
      return true;
    }
    // RocksDB 7.x may hand over a new_value that still holds an earlier
    // result (a Get into a used string, an iterator's buffer), despite what
    // merge_operator.h says: start from the base value alone. Should the
    // base value live in that very buffer, keep it in place.
    std::string& dst = out->new_value;
    const rocksdb::Slice* base = in.existing_value;
    if (base != nullptr && base->size() > 0 && base->data() >= dst.data() &&
        base->data() < dst.data() + dst.size()) {
      const size_t offset = static_cast<size_t>(base->data() - dst.data()), n = base->size();
      dst.erase(0, offset);
      dst.resize(n);
    } else {
      dst.clear();
      if (base != nullptr) dst.append(base->data(), base->size());
    }
    size_t total = dst.size();
    for (const rocksdb::Slice& op : in.operand_list) total += op.size();
    dst.reserve(total);
    for (const rocksdb::Slice& op : in.operand_list) dst.append(op.data(), op.size());
    return true;
  }

  bool PartialMerge(const rocksdb::Slice& /*key*/, const rocksdb::Slice& left,
                    const rocksdb::Slice& right, std::string* new_value,
                    rocksdb::Logger* /*logger*/) const override {
    new_value->clear();
    new_value->reserve(left.size() + right.size());
    new_value->append(left.data(), left.size());
    new_value->append(right.data(), right.size());
    return true;
  }

  bool PartialMergeMulti(const rocksdb::Slice& /*key*/, const std::deque<rocksdb::Slice>& operands,
                         std::string* new_value, rocksdb::Logger* /*logger*/) const override {
    size_t total = 0;
    for (const rocksdb::Slice& op : operands) total += op.size();
    new_value->clear();
    new_value->reserve(total);
    for (const rocksdb::Slice& op : operands) new_value->append(op.data(), op.size());
    return true;
  }

  // Recorded in the database's OPTIONS file: keep it stable.
  const char* Name() const override { return "weir.ListAppend"; }
};

// `ranges` clipped to the key groups a key can hold, empty ones left out,
// sorted by start, overlapping or adjacent ones merged.
std::vector<KeyGroupRange> NormalizeRanges(const std::vector<KeyGroupRange>& ranges) {
  std::vector<KeyGroupRange> sorted;
  for (const KeyGroupRange& r : ranges) {
    KeyGroupRange c{std::max(r.start, 0), std::min(r.end, kMaxKeyGroup)};
    if (c.size() > 0) sorted.push_back(c);
  }
  std::sort(sorted.begin(), sorted.end(),
            [](const KeyGroupRange& a, const KeyGroupRange& b) { return a.start < b.start; });
  std::vector<KeyGroupRange> out;
  for (const KeyGroupRange& r : sorted) {
    if (!out.empty() && r.start <= out.back().end + 1)
      out.back().end = std::max(out.back().end, r.end);
    else
      out.push_back(r);
  }
  return out;
}

// The first key after every key that starts with `prefix`: `prefix` without
// its trailing 0xff bytes, last byte incremented. False when there is none
// (prefix empty or all 0xff).
bool PrefixSuccessor(std::string_view prefix, std::string* out) {
  size_t n = prefix.size();
  while (n > 0 && static_cast<uint8_t>(prefix[n - 1]) == 0xff) --n;
  if (n == 0) return false;
  out->assign(prefix.data(), n);
  (*out)[n - 1] = static_cast<char>(static_cast<uint8_t>((*out)[n - 1]) + 1);
  return true;
}

}  // namespace

// What views share; RocksDbStore::Impl is just this (Impl is private to the class).
namespace rocksdb_internal {
struct StoreCore {
  RocksDbOptions options;
  std::shared_ptr<rocksdb::Cache> cache;
  std::unique_ptr<rocksdb::DB> db;
  rocksdb::WriteOptions write_options;
  rocksdb::ReadOptions read_options;

  std::mutex mu;  // guards the registry below
  std::map<std::string, StateId, std::less<>> ids;
  StateId next_id = 1;
  Status registry_error;  // sticky: a registry write failed; checkpoints must fail

  StateId Register(std::string_view op, std::string_view name) {
    std::string key = RegistryKey(op, name);
    std::lock_guard lock(mu);
    auto it = ids.find(key);
    if (it != ids.end()) return it->second;
    StateId id = next_id++;
    std::string value;
    AppendBE32(id, &value);
    rocksdb::Status s = db->Put(write_options, key, value);
    if (!s.ok() && registry_error.ok()) {
      // Register cannot report errors: keep the id in memory (the store is
      // unusable anyway: writes fail after such an error) and fail the next
      // checkpoint so that a mapping that is not stored never gets restored.
      registry_error = FromRocks(s, "registering state " + std::string(op) + "/" +
                                        std::string(name) + " in " + options.dir);
    }
    ids.emplace(std::move(key), id);
    return id;
  }

  Status LoadRegistry() {
    std::string lower, upper;
    SetPrefix(kRegistryId, 0, &lower);
    SetEndPrefix(kRegistryId, 0, &upper);
    rocksdb::Slice upper_slice(upper);
    rocksdb::ReadOptions ro;
    ro.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro));
    for (it->Seek(lower); it->Valid(); it->Next()) {
      rocksdb::Slice v = it->value();
      if (v.size() != 4 || it->key().size() < kPrefixBytes + 4)
        return Status::DataLoss("malformed state registry entry in " + options.dir);
      StateId id = ReadBE32(v.data());
      ids.emplace(it->key().ToString(), id);
      next_id = std::max(next_id, id + 1);
    }
    if (!it->status().ok()) return FromRocks(it->status(), "reading the state registry");
    return Status::OK();
  }

  std::vector<StateId> AllStateIds() {
    std::lock_guard lock(mu);
    std::vector<StateId> out;
    out.reserve(ids.size());
    for (const auto& [name, id] : ids) out.push_back(id);
    return out;
  }
};
}  // namespace rocksdb_internal

using rocksdb_internal::StoreCore;
struct RocksDbStore::Impl : StoreCore {};

namespace {

// One task thread's view, with a write-back cache in front of the database.
//
// Operators read and rewrite the same entries batch after batch (a window's
// accumulators, a keyed count, a join's list until it expires), and each
// RocksDB call costs microseconds. The view keeps the entries it touched in a
// hash map: a Get is answered from it, and writes stay in it, marked dirty,
// until Flush writes them all in WriteBatches. Each entry is one of
//   kValue   the full value (clean: what the database has; dirty: to Put),
//   kAbsent  no value (clean: the database has none; dirty: to Delete),
//   kMerge   list elements appended on top of whatever the database has (an
//            Append to an entry never read whose key the database may hold:
//            a Merge at Flush); clean with no elements = a slot that knows
//            nothing yet. An Append to a key that RocksDB's filters say it
//            does not hold starts a kValue instead, kept after the Flush.
// The runtime flushes before a task acks a barrier, so the local checkpoint
// (taken once every task of the process acked) holds every write made before
// the barrier. Writes made after the last checkpoint and lost in a crash are
// recomputed from the sources, as they were without the cache (the WAL is
// off). Scans flush first, then read the database. When the cache holds more
// than RocksDbOptions::task_cache_bytes it is flushed and emptied. After a
// Flush the cache keeps the values it wrote, not the deletes and merges. An
// entry made and deleted between two flushes (a short window) is never
// written, not even as a tombstone, when the view knows RocksDB lacks it.
class RocksDbBackend final : public KeyedStateBackend {
 public:
  explicit RocksDbBackend(StoreCore* impl)
      : impl_(impl), capacity_(impl->options.task_cache_bytes) {}

  StateId Register(std::string_view op, std::string_view name) override {
    return impl_->Register(op, name);
  }

  Status Put(StateId id, int kg, std::string_view key, std::string_view value) override {
    WEIR_RETURN_IF_ERROR(CheckKeyGroup(kg));
    MakeKey(id, kg, key);
    Slot& slot = Touch();
    SetValue(slot.second, value);
    slot.second.kind = kValue;
    MarkDirty(slot);
    return MaybeEvict();
  }

  Result<bool> Get(StateId id, int kg, std::string_view key, std::string* value) override {
    WEIR_RETURN_IF_ERROR(CheckKeyGroup(kg));
    MakeKey(id, kg, key);
    Slot& slot = Touch();
    Entry& e = slot.second;
    if (e.kind == kMerge) {
      // RocksDB writes a merge result (list state) after what the string holds.
      read_.clear();
      rocksdb::Status s = impl_->db->Get(impl_->read_options, key_, &read_);
      if (!s.ok() && !s.IsNotFound()) return FromRocks(s, "get from " + impl_->options.dir);
      e.in_db = s.ok();
      if (s.IsNotFound() && e.value.empty()) {
        e.kind = kAbsent;  // clean: nothing appended either
      } else {
        read_.append(e.value);  // the database's value, then the pending appends
        SetValue(e, read_);
        e.kind = kValue;  // dirty when appends were pending, as before
      }
    }
    const bool found = e.kind != kAbsent;
    if (found) value->assign(e.value);
    WEIR_RETURN_IF_ERROR(MaybeEvict());
    return found;
  }

  Status Delete(StateId id, int kg, std::string_view key) override {
    WEIR_RETURN_IF_ERROR(CheckKeyGroup(kg));
    MakeKey(id, kg, key);
    Slot& slot = Touch();
    if (slot.second.kind == kAbsent && !slot.second.dirty) return Status::OK();  // known absent
    SetValue(slot.second, {});
    slot.second.kind = kAbsent;
    MarkDirty(slot);
    return MaybeEvict();
  }

  Status Append(StateId id, int kg, std::string_view key, std::string_view element) override {
    operand_.clear();
    AppendListElement(element, &operand_);
    return AppendFramed(id, kg, key, operand_);
  }

  Status AppendFramed(StateId id, int kg, std::string_view key, std::string_view framed) override {
    WEIR_RETURN_IF_ERROR(CheckKeyGroup(kg));
    if (!IsValidList(framed))
      return Status::InvalidArgument("AppendFramed: not a list of framed elements");
    if (framed.empty()) return Status::OK();
    MakeKey(id, kg, key);
    Slot& slot = Touch();
    Entry& e = slot.second;
    if (e.kind == kMerge && !e.dirty && !KeyMayExist()) {
      e.kind = kAbsent;  // a new key (a join's buffered rows): the list is these elements
      e.in_db = false;
    }
    if (e.kind == kAbsent) {
      SetValue(e, framed);
      e.kind = kValue;
    } else {  // kValue or kMerge: the elements go after the ones there
      bytes_ += framed.size();
      e.value.append(framed);
    }
    MarkDirty(slot);
    return MaybeEvict();
  }

  Status ScanPrefix(StateId id, int kg, std::string_view prefix, const ScanFn& fn) override {
    WEIR_RETURN_IF_ERROR(CheckKeyGroup(kg));
    WEIR_RETURN_IF_ERROR(Flush());
    // Local bounds, so that fn may call Get (which reuses key_).
    std::string lower, upper;
    SetPrefix(id, kg, &lower);
    lower.append(prefix);
    rocksdb::Slice lower_slice(lower), upper_slice;
    rocksdb::ReadOptions ro = impl_->read_options;
    ro.iterate_lower_bound = &lower_slice;
    if (PrefixSuccessor(lower, &upper)) {
      upper_slice = rocksdb::Slice(upper);
      ro.iterate_upper_bound = &upper_slice;
    }
    std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro));
    for (it->Seek(lower_slice); it->Valid(); it->Next()) {
      rocksdb::Slice k = it->key();
      if (!k.starts_with(lower_slice)) break;  // only without an upper bound
      rocksdb::Slice v = it->value();
      if (!fn(kg, std::string_view(k.data() + kPrefixBytes, k.size() - kPrefixBytes),
              std::string_view(v.data(), v.size())))
        return Status::OK();
    }
    if (!it->status().ok()) return FromRocks(it->status(), "prefix scan of " + impl_->options.dir);
    return Status::OK();
  }

  Status Scan(StateId id, KeyGroupRange range, const ScanFn& fn) override {
    int start = std::max(range.start, 0);
    int end = std::min(range.end, kMaxKeyGroup);
    if (end < start) return Status::OK();
    WEIR_RETURN_IF_ERROR(Flush());
    // Local bounds (6 or 4 bytes: no allocation), so that fn may call Get.
    std::string lower, upper;
    SetPrefix(id, start, &lower);
    SetEndPrefix(id, end, &upper);
    rocksdb::Slice lower_slice(lower), upper_slice(upper);
    rocksdb::ReadOptions ro = impl_->read_options;
    ro.iterate_lower_bound = &lower_slice;
    ro.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro));
    for (it->Seek(lower_slice); it->Valid(); it->Next()) {
      rocksdb::Slice k = it->key();
      if (k.size() < kPrefixBytes) continue;  // cannot happen under these bounds
      int kg = (int{static_cast<uint8_t>(k[4])} << 8) | int{static_cast<uint8_t>(k[5])};
      rocksdb::Slice v = it->value();
      if (!fn(kg, std::string_view(k.data() + kPrefixBytes, k.size() - kPrefixBytes),
              std::string_view(v.data(), v.size())))
        return Status::OK();
    }
    if (!it->status().ok()) return FromRocks(it->status(), "scan of " + impl_->options.dir);
    return Status::OK();
  }

  Status Flush() override {
    if (dirty_.empty()) return Status::OK();
    rocksdb::WriteBatch batch;
    for (Slot* slot : dirty_) {
      const std::string& k = slot->first;
      const Entry& e = slot->second;
      if (e.kind == kAbsent && !e.in_db) continue;  // made and deleted since the last flush
      rocksdb::Status s = e.kind == kValue    ? batch.Put(k, e.value)
                          : e.kind == kAbsent ? batch.Delete(k)
                                              : batch.Merge(k, e.value);
      if (!s.ok()) return FromRocks(s, "write batch for " + impl_->options.dir);
      if (batch.GetDataSize() >= kImportBatchBytes) WEIR_RETURN_IF_ERROR(Write(&batch));
    }
    WEIR_RETURN_IF_ERROR(Write(&batch));
    for (Slot* slot : dirty_) {
      // A merge's result is unknown: forget it. A delete is forgotten too:
      // what operators delete (a fired window, an expired join key) is
      // rarely read again, and keeping it would fill the cache with the dead.
      if (slot->second.kind != kValue) {
        bytes_ -= EntryBytes(*slot);
        cache_.erase(cache_.find(std::string_view(slot->first)));
      } else {
        slot->second.dirty = false;
        slot->second.in_db = true;
      }
    }
    dirty_.clear();
    return Status::OK();
  }

 private:
  enum Kind : uint8_t { kValue, kAbsent, kMerge };
  struct Entry {
    std::string value;
    Kind kind = kMerge;
    bool dirty = false;
    // False when RocksDB certainly holds nothing under the key (a read
    // found nothing, or its filters said so, and this view has not written
    // it since): deleting it then needs no tombstone.
    bool in_db = true;
  };
  using Map = std::unordered_map<std::string, Entry, StringViewHash, std::equal_to<>>;
  using Slot = Map::value_type;
  static constexpr size_t kEntryOverhead = 96;  // node, hash, strings: about

  static size_t EntryBytes(const Slot& s) {
    return s.first.size() + s.second.value.size() + kEntryOverhead;
  }

  void MakeKey(StateId id, int kg, std::string_view key) {
    SetPrefix(id, kg, &key_);
    key_.append(key);
  }

  // The cache slot of key_, created (knowing nothing: kMerge, no elements,
  // clean) when missing.
  Slot& Touch() {
    auto it = cache_.find(std::string_view(key_));
    if (it == cache_.end()) {
      it = cache_.emplace(key_, Entry{}).first;
      bytes_ += EntryBytes(*it);
    }
    return *it;
  }

  // False when the database certainly has no value under key_: RocksDB's
  // memtable and SST bloom filters and its cached blocks answer, no disk read.
  bool KeyMayExist() {
    rocksdb::ReadOptions ro = impl_->read_options;
    ro.read_tier = rocksdb::kBlockCacheTier;
    bool value_found = false;
    return impl_->db->KeyMayExist(ro, impl_->db->DefaultColumnFamily(), key_, &read_, &value_found);
  }

  void SetValue(Entry& e, std::string_view value) {
    bytes_ = bytes_ - e.value.size() + value.size();
    e.value.assign(value);
  }

  void MarkDirty(Slot& slot) {
    if (slot.second.dirty) return;
    slot.second.dirty = true;
    dirty_.push_back(&slot);
  }

  // Over capacity: write everything back and start empty.
  Status MaybeEvict() {
    if (bytes_ <= capacity_) return Status::OK();
    WEIR_RETURN_IF_ERROR(Flush());
    cache_.clear();
    bytes_ = 0;
    return Status::OK();
  }

  Status Write(rocksdb::WriteBatch* batch) {
    if (batch->Count() == 0) return Status::OK();
    rocksdb::Status s = impl_->db->Write(impl_->write_options, batch);
    if (!s.ok()) return FromRocks(s, "write to " + impl_->options.dir);
    batch->Clear();
    return Status::OK();
  }

  StoreCore* impl_;
  const uint64_t capacity_;
  Map cache_;
  std::vector<Slot*> dirty_;  // slots with dirty set, in the order they became dirty
  uint64_t bytes_ = 0;        // what cache_ holds, about
  std::string key_;
  std::string read_;     // Get's database read
  std::string operand_;  // Append's framed element
};

// The local database is a working copy: after a crash it is thrown away and
// the state comes back from the last uploaded checkpoint, whose files the
// uploader syncs itself (common/checkpoint/storage.cc). RocksDB's own syncs
// therefore buy nothing, and they sat in the synchronous part of every
// checkpoint (the memtable flush and the local checkpoint, while all tasks of
// the process wait): on a slow disk they stalled the pipeline for hundreds of
// milliseconds per checkpoint. This file system makes them no-ops.
class NoSyncWritableFile final : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  using FSWritableFileOwnerWrapper::FSWritableFileOwnerWrapper;
  rocksdb::IOStatus Sync(const rocksdb::IOOptions&, rocksdb::IODebugContext*) override {
    return rocksdb::IOStatus::OK();
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions&, rocksdb::IODebugContext*) override {
    return rocksdb::IOStatus::OK();
  }
  rocksdb::IOStatus RangeSync(uint64_t, uint64_t, const rocksdb::IOOptions&,
                              rocksdb::IODebugContext*) override {
    return rocksdb::IOStatus::OK();
  }
  bool IsSyncThreadSafe() const override { return true; }
};

class NoSyncDirectory final : public rocksdb::FSDirectoryWrapper {
 public:
  using FSDirectoryWrapper::FSDirectoryWrapper;
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions&, rocksdb::IODebugContext*) override {
    return rocksdb::IOStatus::OK();
  }
  rocksdb::IOStatus FsyncWithDirOptions(const rocksdb::IOOptions&, rocksdb::IODebugContext*,
                                        const rocksdb::DirFsyncOptions&) override {
    return rocksdb::IOStatus::OK();
  }
};

class NoSyncFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  explicit NoSyncFileSystem(const std::shared_ptr<rocksdb::FileSystem>& target)
      : FileSystemWrapper(target) {}
  const char* Name() const override { return "WeirNoSyncFileSystem"; }

  rocksdb::IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r,
                                    rocksdb::IODebugContext* dbg) override {
    return Wrap(target()->NewWritableFile(f, o, r, dbg), r);
  }
  rocksdb::IOStatus ReopenWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                       std::unique_ptr<rocksdb::FSWritableFile>* r,
                                       rocksdb::IODebugContext* dbg) override {
    return Wrap(target()->ReopenWritableFile(f, o, r, dbg), r);
  }
  rocksdb::IOStatus ReuseWritableFile(const std::string& f, const std::string& old,
                                      const rocksdb::FileOptions& o,
                                      std::unique_ptr<rocksdb::FSWritableFile>* r,
                                      rocksdb::IODebugContext* dbg) override {
    return Wrap(target()->ReuseWritableFile(f, old, o, r, dbg), r);
  }
  rocksdb::IOStatus NewDirectory(const std::string& name, const rocksdb::IOOptions& o,
                                 std::unique_ptr<rocksdb::FSDirectory>* r,
                                 rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = target()->NewDirectory(name, o, r, dbg);
    if (s.ok()) r->reset(new NoSyncDirectory(std::move(*r)));
    return s;
  }

 private:
  static rocksdb::IOStatus Wrap(rocksdb::IOStatus s, std::unique_ptr<rocksdb::FSWritableFile>* r) {
    if (s.ok()) r->reset(new NoSyncWritableFile(std::move(*r)));
    return s;
  }
};

rocksdb::Env* NoSyncEnv() {
  static rocksdb::Env* env =
      rocksdb::NewCompositeEnv(std::make_shared<NoSyncFileSystem>(rocksdb::FileSystem::Default()))
          .release();
  return env;
}

// Options tuned for keyed state: point lookups (bloom filters), ordered scans
// of key-group ranges, level compaction.
rocksdb::Options MakeOptions(const RocksDbOptions& o, const std::shared_ptr<rocksdb::Cache>& cache,
                             rocksdb::CompressionType compression) {
  rocksdb::Options options;
  options.env = NoSyncEnv();
  options.create_if_missing = true;
  options.compaction_style = rocksdb::kCompactionStyleLevel;
  options.level_compaction_dynamic_level_bytes = true;
  options.write_buffer_size = static_cast<size_t>(o.write_buffer_bytes);
  options.max_write_buffer_number = 3;
  options.target_file_size_base = std::max<uint64_t>(o.write_buffer_bytes, 8ull << 20);
  options.max_bytes_for_level_base = options.target_file_size_base * 4;
  options.max_background_jobs = 2;
  options.compression = compression;
  options.bottommost_compression = compression;
  // The database identity must come from the IDENTITY file only: a restored
  // copy (which does not get that file) then gets a fresh identity, so its new
  // SST files never take the names of the original's in shared storage.
  options.write_dbid_to_manifest = false;
  options.keep_log_file_num = 3;
  options.max_log_file_size = 16ull << 20;

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  table.block_size = 16 * 1024;
  // Index and filter blocks live in the block cache (so memory stays
  // bounded), partitioned: a point lookup reads one small filter partition
  // and one index partition, not a whole SST's filter. With one filter block
  // per file, a 10 M-key state (cache misses on data blocks evicting the
  // filters) re-read a 5 MB filter block on every Get.
  table.cache_index_and_filter_blocks = true;
  table.cache_index_and_filter_blocks_with_high_priority = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  table.pin_top_level_index_and_filter = true;
  table.index_type = rocksdb::BlockBasedTableOptions::kTwoLevelIndexSearch;
  table.partition_filters = true;
  table.metadata_block_size = 4096;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.whole_key_filtering = true;
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  // A bloom filter over the memtable's keys too: most state reads of a
  // window or keyed operator ask for a key that is not there yet (a new
  // key or window), and without it each such Get walks the skip list.
  options.memtable_whole_key_filtering = true;
  options.memtable_prefix_bloom_size_ratio = 0.05;
  // List state (Append) is stored as merge operands until compaction folds
  // them: without the operator, reads and compactions of such keys fail, so
  // every Open of a database (fresh, reopened or restored) sets it.
  options.merge_operator = std::make_shared<ListAppendOperator>();
  return options;
}

bool IsCompressionUnsupported(const rocksdb::Status& s) {
  return (s.IsInvalidArgument() || s.IsNotSupported()) &&
         s.ToString().find("ompression") != std::string::npos;
}

}  // namespace

RocksDbStore::RocksDbStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

RocksDbStore::~RocksDbStore() {
  if (impl_ && impl_->db) {
    // Close flushes the memtables (the WAL is off, so this is what persists
    // writes made since the last flush); an error here has nowhere to go.
    (void)impl_->db->Close();
    impl_->db.reset();
  }
}

Result<std::unique_ptr<RocksDbStore>> RocksDbStore::Open(const RocksDbOptions& options) {
  if (options.dir.empty()) return Status::InvalidArgument("RocksDbStore: empty directory");
  std::error_code ec;
  fs::create_directories(options.dir, ec);
  if (ec) return Status::Internal("creating " + options.dir + ": " + ec.message());

  auto impl = std::make_unique<Impl>();
  impl->options = options;
  // A tenth of the cache is kept for index and filter blocks (high priority).
  impl->cache = rocksdb::NewLRUCache(static_cast<size_t>(options.block_cache_bytes),
                                     /*num_shard_bits=*/-1, /*strict_capacity_limit=*/false,
                                     /*high_pri_pool_ratio=*/0.1);
  impl->write_options.disableWAL = true;

  // The preferred compression when the library has it, else none.
  const rocksdb::CompressionType candidates[] = {
      rocksdb::kLZ4Compression, rocksdb::kSnappyCompression, rocksdb::kNoCompression};
  rocksdb::Status s;
  for (rocksdb::CompressionType c : candidates) {
    rocksdb::DB* db = nullptr;
    s = rocksdb::DB::Open(MakeOptions(options, impl->cache, c), options.dir, &db);
    if (s.ok()) {
      impl->db.reset(db);
      break;
    }
    if (!IsCompressionUnsupported(s)) break;
  }
  if (!s.ok()) return FromRocks(s, "opening RocksDB in " + options.dir);
  WEIR_RETURN_IF_ERROR(impl->LoadRegistry());
  return std::unique_ptr<RocksDbStore>(new RocksDbStore(std::move(impl)));
}

std::unique_ptr<KeyedStateBackend> RocksDbStore::NewBackend() {
  return std::make_unique<RocksDbBackend>(impl_.get());
}

Status RocksDbStore::CreateLocalCheckpoint(const std::string& dir) {
  {
    std::lock_guard lock(impl_->mu);
    if (!impl_->registry_error.ok()) return impl_->registry_error;
  }
  std::error_code ec;
  if (fs::exists(dir, ec)) return Status::AlreadyExists("checkpoint directory " + dir + " exists");
  fs::path parent = fs::path(dir).parent_path();
  if (!parent.empty()) {
    fs::create_directories(parent, ec);
    if (ec) return Status::Internal("creating " + parent.string() + ": " + ec.message());
  }

  rocksdb::FlushOptions fo;
  fo.wait = true;
  rocksdb::Status s = impl_->db->Flush(fo);
  if (!s.ok()) return FromRocks(s, "flushing " + impl_->options.dir);

  rocksdb::Checkpoint* raw = nullptr;
  s = rocksdb::Checkpoint::Create(impl_->db.get(), &raw);
  if (!s.ok()) return FromRocks(s, "checkpoint of " + impl_->options.dir);
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  // log_size_for_flush 0: flush again inside (a no-op after the flush above).
  s = checkpoint->CreateCheckpoint(fs::absolute(dir, ec).string(), 0);
  if (!s.ok()) return FromRocks(s, "checkpoint of " + impl_->options.dir + " into " + dir);

  // CheckpointStorage names shared SSTs after the database identity, which it
  // reads from the IDENTITY file: make sure the checkpoint has one.
  fs::path identity = fs::path(dir) / "IDENTITY";
  if (!fs::exists(identity, ec)) {
    std::string id;
    s = impl_->db->GetDbIdentity(id);
    if (!s.ok()) return FromRocks(s, "identity of " + impl_->options.dir);
    std::ofstream out(identity, std::ios::binary | std::ios::trunc);
    out << id;
    out.close();
    if (!out) return Status::Internal("writing " + identity.string() + ": " + std::strerror(errno));
  }
  return Status::OK();
}

Status RocksDbStore::DropKeyGroupsOutside(const std::vector<KeyGroupRange>& keep) {
  // The key groups to keep, sorted and merged; the gaps between them go.
  const std::vector<KeyGroupRange> ranges = NormalizeRanges(keep);
  std::vector<KeyGroupRange> drop;
  int next = 0;  // first key group not yet covered
  for (const KeyGroupRange& r : ranges) {
    if (r.start > next) drop.push_back({next, r.start - 1});
    next = std::max(next, r.end + 1);
  }
  if (next <= kMaxKeyGroup) drop.push_back({next, kMaxKeyGroup});
  if (drop.empty()) return Status::OK();

  rocksdb::WriteBatch batch;
  std::string begin, end;
  for (StateId id : impl_->AllStateIds()) {
    for (const KeyGroupRange& r : drop) {
      SetPrefix(id, r.start, &begin);
      SetEndPrefix(id, r.end, &end);
      rocksdb::Status s = batch.DeleteRange(begin, end);
      if (!s.ok()) return FromRocks(s, "dropping key groups in " + impl_->options.dir);
    }
  }
  rocksdb::Status s = impl_->db->Write(impl_->write_options, &batch);
  if (!s.ok()) return FromRocks(s, "dropping key groups in " + impl_->options.dir);
  return Status::OK();
}

Status RocksDbStore::ImportKeyGroups(const std::string& other_dir,
                                     const std::vector<KeyGroupRange>& keep) {
  const std::vector<KeyGroupRange> ranges = NormalizeRanges(keep);
  if (ranges.empty()) return Status::OK();
  const std::string what = "importing key groups from " + other_dir + " into " + impl_->options.dir;
  std::error_code ec;
  if (!fs::is_directory(other_dir, ec))
    return Status::NotFound(what + ": " + other_dir + " is not a directory");

  // Read-only: RocksDB writes nothing into other_dir (no LOCK, LOG, IDENTITY
  // or OPTIONS file), so what DownloadDb produced stays as it is. The merge
  // operator is needed to read list state; the compression setting is not
  // (any the library reads works), so none is asked for.
  rocksdb::Options options = MakeOptions(impl_->options, impl_->cache, rocksdb::kNoCompression);
  options.create_if_missing = false;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::OpenForReadOnly(options, other_dir, &raw);
  if (!s.ok()) return FromRocks(s, what);
  std::unique_ptr<rocksdb::DB> other(raw);

  // The other database's registry: its ids, and ours for the same names
  // (registered here when new, which merges the registries).
  std::vector<std::pair<StateId, StateId>> id_map;  // (other's id, this one's)
  {
    std::string lower, upper;
    SetPrefix(kRegistryId, 0, &lower);
    SetEndPrefix(kRegistryId, 0, &upper);
    rocksdb::Slice upper_slice(upper);
    rocksdb::ReadOptions ro;
    ro.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(other->NewIterator(ro));
    for (it->Seek(lower); it->Valid(); it->Next()) {
      rocksdb::Slice k = it->key(), v = it->value();
      const uint32_t op_size = k.size() >= kPrefixBytes + 4 ? ReadBE32(k.data() + kPrefixBytes) : 0;
      if (v.size() != 4 || k.size() < kPrefixBytes + 4 || op_size > k.size() - kPrefixBytes - 4 ||
          ReadBE32(v.data()) == kRegistryId)
        return Status::DataLoss(what + ": malformed state registry entry");
      const char* op = k.data() + kPrefixBytes + 4;
      const size_t name_size = k.size() - kPrefixBytes - 4 - op_size;
      StateId mine =
          impl_->Register(std::string_view(op, op_size), std::string_view(op + op_size, name_size));
      id_map.emplace_back(ReadBE32(v.data()), mine);
    }
    if (!it->status().ok()) return FromRocks(it->status(), what);
  }
  {
    // Register cannot report errors; a mapping it failed to store would make
    // the imported entries unreachable after a restore.
    std::lock_guard lock(impl_->mu);
    if (!impl_->registry_error.ok()) return impl_->registry_error;
  }

  // Each (state, key-group range) is one contiguous key range of the other
  // database: scan exactly those, rewrite the id (the first 4 bytes), put.
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;  // read once: keep the live state's blocks cached
  ro.readahead_size = 2 << 20;
  rocksdb::WriteBatch batch;
  std::string key;  // reused: no allocation per entry once it is large enough
  auto write = [&]() -> Status {
    rocksdb::Status ws = impl_->db->Write(impl_->write_options, &batch);
    if (!ws.ok()) return FromRocks(ws, what);
    batch.Clear();
    return Status::OK();
  };
  for (const auto& [theirs, mine] : id_map) {
    std::string id_bytes;
    AppendBE32(mine, &id_bytes);
    for (const KeyGroupRange& r : ranges) {
      std::string lower, upper;
      SetPrefix(theirs, r.start, &lower);
      SetEndPrefix(theirs, r.end, &upper);
      rocksdb::Slice lower_slice(lower), upper_slice(upper);
      ro.iterate_lower_bound = &lower_slice;
      ro.iterate_upper_bound = &upper_slice;
      std::unique_ptr<rocksdb::Iterator> it(other->NewIterator(ro));
      for (it->Seek(lower_slice); it->Valid(); it->Next()) {
        rocksdb::Slice k = it->key();
        if (k.size() < kPrefixBytes) continue;  // cannot happen under these bounds
        key.assign(k.data(), k.size());
        std::memcpy(key.data(), id_bytes.data(), 4);
        // The value of a list is its merged value: a Put, not the operands.
        s = batch.Put(key, it->value());
        if (!s.ok()) return FromRocks(s, what);
        if (batch.GetDataSize() >= kImportBatchBytes) WEIR_RETURN_IF_ERROR(write());
      }
      if (!it->status().ok()) return FromRocks(it->status(), what);
    }
  }
  if (batch.Count() > 0) WEIR_RETURN_IF_ERROR(write());
  return Status::OK();
}

Status RocksDbStore::Compact() {
  rocksdb::FlushOptions fo;
  fo.wait = true;
  rocksdb::Status s = impl_->db->Flush(fo);
  if (!s.ok()) return FromRocks(s, "flushing " + impl_->options.dir);
  rocksdb::CompactRangeOptions co;
  co.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  s = impl_->db->CompactRange(co, nullptr, nullptr);
  if (!s.ok()) return FromRocks(s, "compacting " + impl_->options.dir);
  return Status::OK();
}

uint64_t RocksDbStore::ApproximateSizeBytes() const {
  uint64_t sst = 0, mem = 0;
  impl_->db->GetIntProperty(rocksdb::DB::Properties::kLiveSstFilesSize, &sst);
  impl_->db->GetIntProperty(rocksdb::DB::Properties::kCurSizeAllMemTables, &mem);
  return sst + mem;
}

const std::string& RocksDbStore::dir() const {
  return impl_->options.dir;
}

}  // namespace weir::state
