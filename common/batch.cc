#include "common/batch.h"

#include <cstdio>

namespace weir {

void Column::AppendFrom(const Column& other, size_t i) {
  if (other.IsNull(i)) return AppendNull();
  if (IsIntStored(type_) || type_ == TypeId::kNull) return AppendInt(other.GetInt(i));
  if (type_ == TypeId::kDouble) return AppendDouble(other.GetDouble(i));
  AppendString(other.GetString(i));
}

void Column::AppendRows(const Column& other, const uint32_t* rows, size_t n) {
  nulls_.reserve(nulls_.size() + n);
  for (size_t k = 0; k < n; ++k) nulls_.push_back(other.nulls_[rows[k]]);
  if (IsIntStored(type_) || type_ == TypeId::kNull) {
    ints_.reserve(ints_.size() + n);
    for (size_t k = 0; k < n; ++k) ints_.push_back(other.ints_[rows[k]]);
  } else if (type_ == TypeId::kDouble) {
    doubles_.reserve(doubles_.size() + n);
    for (size_t k = 0; k < n; ++k) doubles_.push_back(other.doubles_[rows[k]]);
  } else {
    offsets_.reserve(offsets_.size() + n);
    for (size_t k = 0; k < n; ++k) {
      uint32_t r = rows[k];
      data_.append(other.data_, other.offsets_[r], other.offsets_[r + 1] - other.offsets_[r]);
      offsets_.push_back(static_cast<uint32_t>(data_.size()));
    }
  }
}

void Column::Reserve(size_t rows) {
  nulls_.reserve(rows);
  if (IsIntStored(type_))
    ints_.reserve(rows);
  else if (type_ == TypeId::kDouble)
    doubles_.reserve(rows);
  else if (IsStringStored(type_))
    offsets_.reserve(rows + 1);
}

void Column::Clear() {
  nulls_.clear();
  ints_.clear();
  doubles_.clear();
  offsets_.assign(1, 0);
  data_.clear();
}

std::string Column::ValueToString(size_t i) const {
  if (IsNull(i)) return "null";
  switch (type_) {
    case TypeId::kNull:
      return "null";
    case TypeId::kBoolean:
      return GetBool(i) ? "true" : "false";
    case TypeId::kBigint:
    case TypeId::kTimestamp:
      return std::to_string(GetInt(i));
    case TypeId::kDouble: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.17g", GetDouble(i));
      return buf;
    }
    case TypeId::kString:
    case TypeId::kBytes:
      return std::string(GetString(i));
  }
  return "?";
}

RecordBatch::RecordBatch(std::shared_ptr<const Schema> s) : schema(std::move(s)) {
  columns.reserve(schema->size());
  for (const auto& f : schema->fields()) columns.emplace_back(f.type);
}

void RecordBatch::AppendRows(const RecordBatch& other, const uint32_t* rows, size_t n) {
  for (size_t c = 0; c < columns.size(); ++c) columns[c].AppendRows(other.columns[c], rows, n);
  event_time.reserve(event_time.size() + n);
  for (size_t k = 0; k < n; ++k) event_time.push_back(other.event_time[rows[k]]);
}

void RecordBatch::Clear() {
  for (auto& c : columns) c.Clear();
  event_time.clear();
}

}  // namespace weir
