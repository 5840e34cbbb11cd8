// Keys, key groups and their ranges (shared/design/architecture.md, "Key groups").
//
// A key is the byte encoding of a row's key_by values (EncodeKey). Its key
// group is hash(key) % max_parallelism; each subtask of a keyed operator owns
// a contiguous range of key groups, so rescaling moves whole ranges, and all
// keyed state is stored under its key group.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/batch.h"

namespace weir {

struct KeyGroupRange {
  int start = 0;  // inclusive
  int end = -1;   // inclusive; empty when end < start
  bool Contains(int kg) const { return kg >= start && kg <= end; }
  int size() const { return end < start ? 0 : end - start + 1; }
  bool operator==(const KeyGroupRange&) const = default;
};

// 64-bit hash of key bytes (stable across processes and versions: it decides
// where state lives).
uint64_t HashKey(std::string_view key);
inline int KeyGroupOf(std::string_view key, int max_parallelism) {
  return static_cast<int>(HashKey(key) % static_cast<uint64_t>(max_parallelism));
}
// A hasher for std::unordered_map/set keyed by std::string that finds keys
// by std::string_view without making a string (with std::equal_to<>).
struct StringViewHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

// The key groups subtask `index` of `parallelism` owns.
KeyGroupRange KeyGroupRangeFor(int index, int parallelism, int max_parallelism);
// The subtask that owns key group kg.
inline int SubtaskForKeyGroup(int kg, int parallelism, int max_parallelism) {
  return static_cast<int>(int64_t{kg} * parallelism / max_parallelism);
}

// Appends the encoding of row `row` of the given columns to *out: per value a
// type tag, then fixed 8 bytes (numbers, timestamps) or a 4-byte length and
// the bytes (strings). Equal values give equal bytes; nulls are encoded, so
// null is a key like any other.
void EncodeKey(const std::vector<const Column*>& columns, size_t row, std::string* out);

}  // namespace weir
