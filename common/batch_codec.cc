#include "common/batch_codec.h"

#include <cstring>

#include "common/bytes.h"

namespace weir {
namespace {

constexpr uint8_t kVersion = 1;
// Bounds a hostile row count before anything is allocated for it.
constexpr uint64_t kMaxRows = 1u << 24;

template <typename T>
void PutRaw(ByteWriter& w, const T* data, size_t n) {
  w.out()->append(reinterpret_cast<const char*>(data), n * sizeof(T));
}

template <typename T>
bool GetRaw(ByteReader& r, std::vector<T>* out, size_t n) {
  std::string_view rest = r.rest();
  if (!r.ok() || rest.size() / sizeof(T) < n) return false;
  out->resize(n);
  if (n) std::memcpy(out->data(), rest.data(), n * sizeof(T));
  r = ByteReader(rest.substr(n * sizeof(T)));
  return true;
}

}  // namespace

void EncodeBatch(const RecordBatch& batch, std::string* out) {
  ByteWriter w(out);
  const size_t rows = batch.num_rows();
  w.PutU8(kVersion);
  w.PutVarint(rows);
  w.PutVarint(batch.columns.size());
  PutRaw(w, batch.event_time.data(), rows);
  for (const Column& c : batch.columns) {
    w.PutU8(static_cast<uint8_t>(c.type()));
    PutRaw(w, c.nulls(), rows);
    if (IsStringStored(c.type())) {
      uint64_t total = 0;
      for (size_t i = 0; i < rows; ++i) total += c.GetString(i).size();
      w.PutVarint(total);
      for (size_t i = 0; i < rows; ++i) w.PutVarint(c.GetString(i).size());
      for (size_t i = 0; i < rows; ++i) out->append(c.GetString(i));
    } else if (c.type() == TypeId::kDouble) {
      PutRaw(w, c.doubles(), rows);
    } else {
      PutRaw(w, c.ints(), rows);
    }
  }
}

Status DecodeBatch(std::string_view bytes, RecordBatch* batch) {
  auto bad = [](const std::string& why) {
    return Status::DataLoss("malformed exchange batch: " + why);
  };
  const Schema& schema = *batch->schema;
  if (batch->columns.size() != schema.size()) *batch = RecordBatch(batch->schema);
  batch->Clear();
  ByteReader r(bytes);
  if (r.GetU8() != kVersion) return bad("unknown version");
  const uint64_t rows = r.GetVarint();
  const uint64_t ncols = r.GetVarint();
  if (!r.ok()) return bad("truncated header");
  if (rows > kMaxRows || rows > bytes.size()) return bad("row count " + std::to_string(rows));
  if (ncols != schema.size())
    return bad(std::to_string(ncols) + " columns for a schema of " + std::to_string(schema.size()));
  if (!GetRaw(r, &batch->event_time, rows)) return bad("truncated event times");
  std::vector<uint8_t> nulls;
  for (size_t ci = 0; ci < ncols; ++ci) {
    Column& c = batch->columns[ci];
    const uint8_t type = r.GetU8();
    if (!r.ok() || type != static_cast<uint8_t>(c.type()))
      return bad("column " + std::to_string(ci) + " has the wrong type");
    if (!GetRaw(r, &nulls, rows)) return bad("truncated nulls");
    for (uint8_t n : nulls)
      if (n > 1) return bad("bad null flag");
    if (IsStringStored(c.type())) {
      const uint64_t total = r.GetVarint();
      if (!r.ok() || total > bytes.size()) return bad("string bytes");
      std::vector<uint64_t> lens(rows);
      uint64_t sum = 0;
      for (size_t i = 0; i < rows; ++i) {
        lens[i] = r.GetVarint();
        sum += lens[i];
        if (!r.ok() || sum > total) return bad("string lengths");
      }
      std::string_view data = r.rest();
      if (sum != total || data.size() < total) return bad("truncated strings");
      c.Reserve(rows);
      size_t off = 0;
      for (size_t i = 0; i < rows; ++i) {
        if (nulls[i]) {
          if (lens[i] != 0) return bad("a null string with bytes");
          c.AppendNull();
        } else {
          c.AppendString(data.substr(off, lens[i]));
        }
        off += lens[i];
      }
      r = ByteReader(data.substr(total));
    } else {
      if (c.type() == TypeId::kDouble) {
        if (!GetRaw(r, &c.mutable_doubles(), rows)) return bad("truncated doubles");
      } else {
        if (!GetRaw(r, &c.mutable_ints(), rows)) return bad("truncated integers");
      }
      c.mutable_nulls() = nulls;
    }
  }
  if (!r.ok() || !r.done()) return bad("trailing bytes");
  return Status::OK();
}

}  // namespace weir
