// Column and RecordBatch: the unit of work on weir's data path.
//
// A RecordBatch holds a few hundred to a few thousand rows of one schema in
// columns. Operators process whole batches; no per-record allocation or
// virtual call happens on the hot path. A Column keeps its values in flat
// vectors: 64-bit integers for boolean/bigint/timestamp, doubles, or an
// offsets+bytes pair for string/bytes, plus one null flag per row.
//
// Every row also carries its event timestamp (milliseconds) outside the
// schema, as Flink records do, so a map may drop the time field without the
// record losing its event time.
//
// Thread-safety: none; a batch belongs to one task thread at a time and is
// moved (not shared) between threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/types.h"

namespace weir {

class Column {
 public:
  explicit Column(TypeId type = TypeId::kNull) : type_(type) { offsets_.push_back(0); }

  TypeId type() const { return type_; }
  size_t size() const { return nulls_.size(); }

  bool IsNull(size_t i) const { return nulls_[i] != 0; }
  int64_t GetInt(size_t i) const { return ints_[i]; }
  bool GetBool(size_t i) const { return ints_[i] != 0; }
  double GetDouble(size_t i) const { return doubles_[i]; }
  std::string_view GetString(size_t i) const {
    return std::string_view(data_).substr(offsets_[i], offsets_[i + 1] - offsets_[i]);
  }

  void AppendNull() {
    nulls_.push_back(1);
    if (IsIntStored(type_) || type_ == TypeId::kNull)
      ints_.push_back(0);
    else if (type_ == TypeId::kDouble)
      doubles_.push_back(0);
    else
      offsets_.push_back(static_cast<uint32_t>(data_.size()));
  }
  void AppendInt(int64_t v) {
    nulls_.push_back(0);
    ints_.push_back(v);
  }
  void AppendBool(bool v) { AppendInt(v ? 1 : 0); }
  void AppendDouble(double v) {
    nulls_.push_back(0);
    doubles_.push_back(v);
  }
  void AppendString(std::string_view v) {
    nulls_.push_back(0);
    data_.append(v);
    offsets_.push_back(static_cast<uint32_t>(data_.size()));
  }
  // Appends row `i` of `other` (same type).
  void AppendFrom(const Column& other, size_t i);
  // Appends rows[0..n) of `other` (same type); one type dispatch per call.
  void AppendRows(const Column& other, const uint32_t* rows, size_t n);

  void Reserve(size_t rows);
  void Clear();

  // Raw access for vectorised kernels.
  const uint8_t* nulls() const { return nulls_.data(); }
  const int64_t* ints() const { return ints_.data(); }
  const double* doubles() const { return doubles_.data(); }
  std::vector<uint8_t>& mutable_nulls() { return nulls_; }
  std::vector<int64_t>& mutable_ints() { return ints_; }
  std::vector<double>& mutable_doubles() { return doubles_; }

  // A printable rendering of row i ("null", "12", "'abc'" without quotes...).
  std::string ValueToString(size_t i) const;

 private:
  TypeId type_;
  std::vector<uint8_t> nulls_;     // 1 = null
  std::vector<int64_t> ints_;      // boolean (0/1), bigint, timestamp, null-typed
  std::vector<double> doubles_;    // double
  std::vector<uint32_t> offsets_;  // string/bytes: size()+1 offsets into data_
  std::string data_;
};

struct RecordBatch {
  std::shared_ptr<const Schema> schema;
  std::vector<Column> columns;
  std::vector<int64_t> event_time;  // one per row, ms

  RecordBatch() = default;
  explicit RecordBatch(std::shared_ptr<const Schema> s);

  size_t num_rows() const { return event_time.size(); }
  void Clear();
  // Appends the selected rows of `other` (same schema).
  void AppendRows(const RecordBatch& other, const uint32_t* rows, size_t n);
};

}  // namespace weir
