// The value types of weir's data model and the schema of a stream.
//
// Types are those of the job file: boolean, bigint (int64), double, string,
// bytes, timestamp (milliseconds since the Unix epoch, UTC) and null (the type
// of the literal `null`, compatible with every other type).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace weir {

enum class TypeId : uint8_t { kNull, kBoolean, kBigint, kDouble, kString, kBytes, kTimestamp };

// "boolean", "bigint", ... as written in job files.
std::string_view TypeName(TypeId t);
// Accepts the names above plus the aliases int/long/int64/float/text/bool.
std::optional<TypeId> ParseTypeName(std::string_view name);

inline bool IsNumeric(TypeId t) {
  return t == TypeId::kBigint || t == TypeId::kDouble;
}
// Types that have an order (min/max/<): numbers, strings, bytes, timestamps, booleans.
inline bool IsOrderable(TypeId t) {
  return t != TypeId::kNull;
}
// Values stored in Column::ints(): boolean (0/1), bigint, timestamp.
inline bool IsIntStored(TypeId t) {
  return t == TypeId::kBoolean || t == TypeId::kBigint || t == TypeId::kTimestamp;
}
inline bool IsStringStored(TypeId t) {
  return t == TypeId::kString || t == TypeId::kBytes;
}

struct Field {
  std::string name;
  TypeId type = TypeId::kNull;
  bool operator==(const Field&) const = default;
};

class Schema {
 public:
  Schema() = default;
  explicit Schema(std::vector<Field> fields) : fields_(std::move(fields)) {}

  const std::vector<Field>& fields() const { return fields_; }
  size_t size() const { return fields_.size(); }
  const Field& field(size_t i) const { return fields_[i]; }
  // Index of the field, or -1.
  int IndexOf(std::string_view name) const;
  void Add(Field f) { fields_.push_back(std::move(f)); }
  // "(user string, cents bigint)"
  std::string ToString() const;
  bool operator==(const Schema&) const = default;

 private:
  std::vector<Field> fields_;
};

}  // namespace weir
