// OperatorProgress and SplitWindowKey (stateful_internal.h): what the keyed
// operators need to resume after a restore.
#include <algorithm>
#include <utility>
#include <vector>

#include "common/watermark.h"
#include "worker/operators/stateful_internal.h"

namespace weir::operators {
namespace {

constexpr uint8_t kProgressVersion = 1;
constexpr size_t kTimeSuffixBytes = 8;

}  // namespace

bool SplitWindowKey(std::string_view state_key, std::string_view* key, int64_t* start) {
  if (state_key.size() < kTimeSuffixBytes) return false;
  const size_t n = state_key.size() - kTimeSuffixBytes;
  uint64_t u = 0;
  for (size_t i = 0; i < kTimeSuffixBytes; ++i)
    u = (u << 8) | static_cast<uint8_t>(state_key[n + i]);
  *key = state_key.substr(0, n);
  *start = static_cast<int64_t>(u ^ (uint64_t{1} << 63));
  return true;
}

Result<int64_t> OperatorProgress::Open(const runtime::OperatorContext& ctx,
                                       const std::string& op_name, state::StateId data) {
  state_ = ctx.state;
  id_ = state_->Register(op_name, "progress");
  key_group_ = ctx.key_groups.size() > 0 ? ctx.key_groups.start : -1;
  if (key_group_ < 0) return kMinWatermark;

  std::vector<std::pair<int, int64_t>> found;  // (key group, time)
  bool malformed = false;
  auto collect = [&](int kg, std::string_view, std::string_view value) {
    ByteReader r(value);
    const uint8_t version = r.GetU8();
    const int64_t time = r.GetSigned();
    if (!r.ok() || !r.done() || version != kProgressVersion) {
      malformed = true;
      return false;
    }
    found.emplace_back(kg, time);
    return true;
  };
  WEIR_RETURN_IF_ERROR(state_->Scan(id_, ctx.key_groups, collect));
  if (found.empty() && !malformed) {
    bool has_data = false;
    WEIR_RETURN_IF_ERROR(
        state_->Scan(data, ctx.key_groups, [&](int, std::string_view, std::string_view) {
          has_data = true;
          return false;
        }));
    if (has_data) {
      WEIR_RETURN_IF_ERROR(state_->Scan(id_, {0, ctx.max_parallelism - 1}, collect));
    }
  }
  if (malformed) return Status::DataLoss("'" + op_name + "': malformed progress entry");
  if (found.empty()) return kMinWatermark;

  int64_t time = kMaxWatermark;
  for (const auto& [kg, t] : found) time = std::min(time, t);
  for (const auto& [kg, t] : found) {
    if (kg != key_group_ && ctx.key_groups.Contains(kg))
      WEIR_RETURN_IF_ERROR(state_->Delete(id_, kg, ""));
  }
  WEIR_RETURN_IF_ERROR(Store(time));
  return time;
}

Status OperatorProgress::Store(int64_t time) {
  if (key_group_ < 0) return Status::OK();
  value_.clear();
  ByteWriter w(&value_);
  w.PutU8(kProgressVersion);
  w.PutSigned(time);
  return state_->Put(id_, key_group_, "", value_);
}

}  // namespace weir::operators
