#include "common/batch.h"

#include <cstdio>

namespace weir {

void Column::AppendFrom(const Column& other, size_t i) {
  if (other.IsNull(i)) return AppendNull();
  if (IsIntStored(type_) || type_ == TypeId::kNull) return AppendInt(other.GetInt(i));
  if (type_ == TypeId::kDouble) return AppendDouble(other.GetDouble(i));
  AppendString(other.GetString(i));
}

void Column::Reserve(size_t rows) {
  nulls_.reserve(rows);
  if (IsIntStored(type_)) ints_.reserve(rows);
  else if (type_ == TypeId::kDouble) doubles_.reserve(rows);
  else if (IsStringStored(type_)) offsets_.reserve(rows + 1);
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
    case TypeId::kNull: return "null";
    case TypeId::kBoolean: return GetBool(i) ? "true" : "false";
    case TypeId::kBigint:
    case TypeId::kTimestamp: return std::to_string(GetInt(i));
    case TypeId::kDouble: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.17g", GetDouble(i));
      return buf;
    }
    case TypeId::kString:
    case TypeId::kBytes: return std::string(GetString(i));
  }
  return "?";
}

RecordBatch::RecordBatch(std::shared_ptr<const Schema> s) : schema(std::move(s)) {
  columns.reserve(schema->size());
  for (const auto& f : schema->fields()) columns.emplace_back(f.type);
}

void RecordBatch::Clear() {
  for (auto& c : columns) c.Clear();
  event_time.clear();
}

}  // namespace weir
