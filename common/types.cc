#include "common/types.h"

namespace weir {

std::string_view TypeName(TypeId t) {
  switch (t) {
    case TypeId::kNull:
      return "null";
    case TypeId::kBoolean:
      return "boolean";
    case TypeId::kBigint:
      return "bigint";
    case TypeId::kDouble:
      return "double";
    case TypeId::kString:
      return "string";
    case TypeId::kBytes:
      return "bytes";
    case TypeId::kTimestamp:
      return "timestamp";
  }
  return "?";
}

std::optional<TypeId> ParseTypeName(std::string_view n) {
  if (n == "boolean" || n == "bool") return TypeId::kBoolean;
  if (n == "bigint" || n == "int" || n == "long" || n == "int64" || n == "integer")
    return TypeId::kBigint;
  if (n == "double" || n == "float" || n == "float64") return TypeId::kDouble;
  if (n == "string" || n == "text" || n == "varchar") return TypeId::kString;
  if (n == "bytes" || n == "binary") return TypeId::kBytes;
  if (n == "timestamp") return TypeId::kTimestamp;
  return std::nullopt;
}

int Schema::IndexOf(std::string_view name) const {
  for (size_t i = 0; i < fields_.size(); ++i)
    if (fields_[i].name == name) return static_cast<int>(i);
  return -1;
}

std::string Schema::ToString() const {
  std::string s = "(";
  for (size_t i = 0; i < fields_.size(); ++i) {
    if (i) s += ", ";
    s += fields_[i].name;
    s += ' ';
    s += TypeName(fields_[i].type);
  }
  return s + ")";
}

}  // namespace weir
