#include <map>

#include "worker/state/state_backend.h"

namespace weir::state {
namespace {

// Entries keyed by [state id BE32][key group BE16][key]: the same layout the
// RocksDB backend uses, so scans visit entries in the same order.
class MemoryStateBackend final : public KeyedStateBackend {
 public:
  StateId Register(std::string_view op, std::string_view name) override {
    std::string full = std::string(op) + "/" + std::string(name);
    auto it = ids_.find(full);
    if (it != ids_.end()) return it->second;
    StateId id = static_cast<StateId>(ids_.size() + 1);
    ids_.emplace(full, id);
    return id;
  }

  Status Flush() override { return Status::OK(); }  // the memory is the state

  Status Put(StateId id, int kg, std::string_view key, std::string_view value) override {
    MakeKey(id, kg, key);
    auto it = data_.find(scratch_);
    if (it != data_.end())
      it->second.assign(value);
    else
      data_.emplace(scratch_, std::string(value));
    return Status::OK();
  }

  Result<bool> Get(StateId id, int kg, std::string_view key, std::string* value) override {
    MakeKey(id, kg, key);
    auto it = data_.find(scratch_);
    if (it == data_.end()) return false;
    value->assign(it->second);
    return true;
  }

  Status Delete(StateId id, int kg, std::string_view key) override {
    MakeKey(id, kg, key);
    data_.erase(scratch_);
    return Status::OK();
  }

  Status Scan(StateId id, KeyGroupRange range, const ScanFn& fn) override {
    if (range.size() == 0) return Status::OK();
    MakeKey(id, range.start, "");
    for (auto it = data_.lower_bound(scratch_); it != data_.end(); ++it) {
      std::string_view k = it->first;
      if (k.size() < 6) break;
      StateId sid = (StateId(uint8_t(k[0])) << 24) | (StateId(uint8_t(k[1])) << 16) |
                    (StateId(uint8_t(k[2])) << 8) | StateId(uint8_t(k[3]));
      int kg = (int(uint8_t(k[4])) << 8) | int(uint8_t(k[5]));
      if (sid != id || kg > range.end) break;
      if (!fn(kg, k.substr(6), it->second)) break;
    }
    return Status::OK();
  }

  Status Append(StateId id, int kg, std::string_view key, std::string_view element) override {
    MakeKey(id, kg, key);
    AppendListElement(element, &data_[scratch_]);
    return Status::OK();
  }

  Status AppendFramed(StateId id, int kg, std::string_view key, std::string_view framed) override {
    if (!IsValidList(framed))
      return Status::InvalidArgument("AppendFramed: not a list of framed elements");
    if (framed.empty()) return Status::OK();
    MakeKey(id, kg, key);
    data_[scratch_].append(framed);
    return Status::OK();
  }

  Status ScanPrefix(StateId id, int kg, std::string_view prefix, const ScanFn& fn) override {
    MakeKey(id, kg, prefix);
    // A copy: fn may call Get, which reuses scratch_.
    const std::string lower = scratch_;
    for (auto it = data_.lower_bound(lower); it != data_.end(); ++it) {
      std::string_view k = it->first;
      if (k.substr(0, lower.size()) != lower) break;
      if (!fn(kg, k.substr(6), it->second)) break;
    }
    return Status::OK();
  }

 private:
  void MakeKey(StateId id, int kg, std::string_view key) {
    scratch_.clear();
    for (int s = 24; s >= 0; s -= 8) scratch_.push_back(static_cast<char>((id >> s) & 0xff));
    scratch_.push_back(static_cast<char>((kg >> 8) & 0xff));
    scratch_.push_back(static_cast<char>(kg & 0xff));
    scratch_.append(key);
  }

  std::map<std::string, std::string, std::less<>> data_;
  std::map<std::string, StateId> ids_;
  std::string scratch_;
};

}  // namespace

std::unique_ptr<KeyedStateBackend> MakeMemoryStateBackend() {
  return std::make_unique<MemoryStateBackend>();
}

}  // namespace weir::state
