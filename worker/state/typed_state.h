// Typed views of keyed state for operators: ValueState, ListState, MapState.
//
// Each is bound to one (backend, state id) and takes (key group, key) per
// call, like the backend itself. They are thin: no virtual functions of
// their own, one backend call per operation (MapState::Clear excepted), and
// the buffers they need (composite keys, values read back) are members
// reused across calls, so a steady state allocates nothing. Values and
// elements are bytes the operator encodes (common/bytes.h). One instance per
// task thread, like the backend.
//
//  - ValueState: one value per key (Get / Put / Clear).
//  - ListState: a list of elements per key in the format of list_state.h.
//    Add appends without reading (Append: a RocksDB Merge), Get returns the
//    whole list, Update replaces it, Clear drops it.
//  - MapState: a map per key, one backend entry per map entry, stored under
//    varint(key size) + key + map key. The length in front keeps the maps of
//    two keys apart when one key is a prefix of the other ("ab" + "c" and
//    "a" + "bc" would otherwise be the same entry), and makes
//    ScanPrefix(varint(key size) + key) list exactly one map, in map-key
//    byte order.
#pragma once

#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/status.h"
#include "worker/state/list_state.h"
#include "worker/state/state_backend.h"

namespace weir::state {

class ValueState {
 public:
  ValueState() = default;
  ValueState(KeyedStateBackend* backend, StateId id) : backend_(backend), id_(id) {}
  // Registers operator_name/state_name on the backend and binds to it.
  ValueState(KeyedStateBackend* backend, std::string_view operator_name,
             std::string_view state_name)
      : ValueState(backend, backend->Register(operator_name, state_name)) {}

  // True and *value set when the key has a value.
  Result<bool> Get(int key_group, std::string_view key, std::string* value) {
    return backend_->Get(id_, key_group, key, value);
  }
  Status Put(int key_group, std::string_view key, std::string_view value) {
    return backend_->Put(id_, key_group, key, value);
  }
  Status Clear(int key_group, std::string_view key) {
    return backend_->Delete(id_, key_group, key);
  }

  StateId id() const { return id_; }
  KeyedStateBackend* backend() const { return backend_; }

 private:
  KeyedStateBackend* backend_ = nullptr;
  StateId id_ = 0;
};

class ListState {
 public:
  ListState() = default;
  ListState(KeyedStateBackend* backend, StateId id) : backend_(backend), id_(id) {}
  ListState(KeyedStateBackend* backend, std::string_view operator_name, std::string_view state_name)
      : ListState(backend, backend->Register(operator_name, state_name)) {}

  // Appends one element: one write, the list is not read.
  Status Add(int key_group, std::string_view key, std::string_view element) {
    return backend_->Append(id_, key_group, key, element);
  }
  // Appends several elements, framed by AppendListElement into `framed`, in
  // one write (a batch's rows for a key).
  Status AddFramed(int key_group, std::string_view key, std::string_view framed) {
    return backend_->AppendFramed(id_, key_group, key, framed);
  }

  // The raw list value (walk it with ListReader); false when the key has no
  // list.
  Result<bool> GetRaw(int key_group, std::string_view key, std::string* list) {
    return backend_->Get(id_, key_group, key, list);
  }
  // The elements, in the order they were added, as views into a buffer of
  // this object that stays valid until its next Get. False (and *elements
  // empty) when the key has no list; kDataLoss when the value is not a list.
  Result<bool> Get(int key_group, std::string_view key, std::vector<std::string_view>* elements) {
    elements->clear();
    WEIR_ASSIGN_OR_RETURN(bool found, backend_->Get(id_, key_group, key, &value_));
    if (!found) return false;
    ListReader rd(value_);
    std::string_view e;
    while (rd.Next(&e)) elements->push_back(e);
    if (!rd.ok()) {
      elements->clear();
      return Status::DataLoss("list state: malformed value");
    }
    return true;
  }

  // Replaces the list by `elements` (a range of things convertible to
  // std::string_view); an empty range clears it.
  template <typename Range>
  Status Update(int key_group, std::string_view key, const Range& elements) {
    EncodeList(std::begin(elements), std::end(elements), &value_);
    return UpdateFramed(key_group, key, value_);
  }
  // Replaces the list by already framed elements (e.g. the kept frames of a
  // list read back); empty clears it. kInvalidArgument when `framed` is not
  // a list.
  Status UpdateFramed(int key_group, std::string_view key, std::string_view framed) {
    if (framed.empty()) return backend_->Delete(id_, key_group, key);
    if (!IsValidList(framed)) return Status::InvalidArgument("list state: malformed list");
    return backend_->Put(id_, key_group, key, framed);
  }
  Status Clear(int key_group, std::string_view key) {
    return backend_->Delete(id_, key_group, key);
  }

  StateId id() const { return id_; }
  KeyedStateBackend* backend() const { return backend_; }

 private:
  KeyedStateBackend* backend_ = nullptr;
  StateId id_ = 0;
  std::string value_;
};

class MapState {
 public:
  MapState() = default;
  MapState(KeyedStateBackend* backend, StateId id) : backend_(backend), id_(id) {}
  MapState(KeyedStateBackend* backend, std::string_view operator_name, std::string_view state_name)
      : MapState(backend, backend->Register(operator_name, state_name)) {}

  Status Put(int key_group, std::string_view key, std::string_view map_key,
             std::string_view value) {
    return backend_->Put(id_, key_group, EntryKey(key, map_key), value);
  }
  // True and *value set when the map of `key` has `map_key`.
  Result<bool> Get(int key_group, std::string_view key, std::string_view map_key,
                   std::string* value) {
    return backend_->Get(id_, key_group, EntryKey(key, map_key), value);
  }
  Status Remove(int key_group, std::string_view key, std::string_view map_key) {
    return backend_->Delete(id_, key_group, EntryKey(key, map_key));
  }

  // Calls fn(map_key, value) for each entry of the map of `key`, in map-key
  // byte order, until fn returns false. The views are valid during the call
  // only; fn must not modify this state (collect, then write).
  template <typename Fn>
  Status Iterate(int key_group, std::string_view key, Fn&& fn) {
    // Not key_: fn may call Get, which reuses it. The backend copies the
    // prefix into its bounds before calling fn.
    MapPrefix(key, &prefix_);
    const size_t skip = prefix_.size();
    return backend_->ScanPrefix(id_, key_group, prefix_,
                                [&](int, std::string_view k, std::string_view v) {
                                  return static_cast<bool>(fn(k.substr(skip), v));
                                });
  }

  // Removes every entry of the map of `key`: a prefix scan, then a Delete
  // per entry.
  Status Clear(int key_group, std::string_view key) {
    doomed_.clear();
    WEIR_RETURN_IF_ERROR(Iterate(key_group, key, [&](std::string_view mk, std::string_view) {
      doomed_.emplace_back(mk);
      return true;
    }));
    for (const std::string& mk : doomed_)
      WEIR_RETURN_IF_ERROR(backend_->Delete(id_, key_group, EntryKey(key, mk)));
    return Status::OK();
  }

  // The prefix under which the map of `key` is stored: varint(key size) +
  // key (into *out, replacing its content).
  static void MapPrefix(std::string_view key, std::string* out) {
    out->clear();
    ByteWriter w(out);
    w.PutBytes(key);
  }

  StateId id() const { return id_; }
  KeyedStateBackend* backend() const { return backend_; }

 private:
  std::string_view EntryKey(std::string_view key, std::string_view map_key) {
    MapPrefix(key, &key_);
    key_.append(map_key);
    return key_;
  }

  KeyedStateBackend* backend_ = nullptr;
  StateId id_ = 0;
  std::string key_, prefix_;
  std::vector<std::string> doomed_;
};

}  // namespace weir::state
