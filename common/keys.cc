#include "common/keys.h"

#include <cstring>

namespace weir {

uint64_t HashKey(std::string_view key) {
  // 64-bit FNV-1a followed by a murmur3 finaliser for better low bits.
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : key) {
    h ^= c;
    h *= 1099511628211ull;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

KeyGroupRange KeyGroupRangeFor(int index, int parallelism, int max_parallelism) {
  int64_t start = (int64_t{index} * max_parallelism + parallelism - 1) / parallelism;
  int64_t end = (int64_t{index + 1} * max_parallelism - 1) / parallelism;
  return {static_cast<int>(start), static_cast<int>(end)};
}

void EncodeKey(const std::vector<const Column*>& columns, size_t row, std::string* out) {
  for (const Column* c : columns) {
    if (c->IsNull(row)) {
      out->push_back('\0');
      continue;
    }
    out->push_back(static_cast<char>(static_cast<int>(c->type()) + 1));
    if (IsStringStored(c->type())) {
      std::string_view s = c->GetString(row);
      uint32_t n = static_cast<uint32_t>(s.size());
      out->append(reinterpret_cast<const char*>(&n), 4);
      out->append(s);
    } else if (c->type() == TypeId::kDouble) {
      double d = c->GetDouble(row);
      if (d == 0) d = 0;  // -0.0 and 0.0 are the same key
      out->append(reinterpret_cast<const char*>(&d), 8);
    } else {
      int64_t v = c->GetInt(row);
      out->append(reinterpret_cast<const char*>(&v), 8);
    }
  }
}

}  // namespace weir
