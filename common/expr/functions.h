// The scalar function library of expressions (docs/job-spec.md, "Functions"):
// one table entry per function, with how its call is type-checked and how a
// call site runs over a batch. The binder and the evaluator look functions up
// here; each family lives in its own file:
//
//   functions_text.cc    trim ltrim rtrim replace starts_with ends_with strpos
//                        lpad rpad split_part
//   functions_regex.cc   regexp_like regexp_extract regexp_replace (RE2)
//   functions_json.cc    json_value (simdjson)
//   functions_hash.cc    sha256 md5 hmac_sha256 (OpenSSL libcrypto)
//   functions_time.cc    date_trunc date_part format_timestamp (Abseil time zones)
//   functions_math.cc    ceil sqrt power ln exp log10 sign greatest least nullif
//
// Internal to common/expr. Rules every function keeps (the module's contract,
// expr.h): defined for every input, never a crash and never an exception out
// of a kernel; a bad argument that is a literal is a bind error at its
// offset, the same bad value at run time gives null.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "common/batch.h"
#include "common/expr/expr.h"

namespace weir::expr::fn {

// What a function's bind hook sees: the call, whose arguments are bound and
// none of which failed. It checks them, reports errors and sets the type.
class BindCall {
 public:
  BindCall(Expr* call, const BindOptions& options, std::vector<ExprError>* errors)
      : call_(call), options_(options), errors_(errors) {}

  size_t size() const { return call_->children.size(); }
  TypeId type(size_t i) const { return call_->children[i]->type; }
  // The literal argument i, or nullptr when it is not a literal or is the
  // literal null (whose value is checked at run time like any null).
  const Literal* literal(size_t i) const;
  const BindOptions& options() const { return options_; }

  // Checks argument i's type; otherwise reports "function 'f' expects WHAT,
  // got TYPE[HINT]" at the argument and returns false.
  bool Expect(size_t i, bool (*ok)(TypeId), std::string_view what, std::string_view hint = {});
  // Reports an error at argument i ("function 'f': MESSAGE").
  void Error(size_t i, const std::string& message);
  void SetType(TypeId t) { call_->type = t; }
  Expr* call() { return call_; }

 private:
  Expr* call_;
  const BindOptions& options_;
  std::vector<ExprError>* errors_;
};

// Argument type checks for BindCall::Expect (null-typed arguments pass).
bool IsString(TypeId t);        // string
bool IsText(TypeId t);          // string or bytes
bool IsBigint(TypeId t);        // bigint
bool IsNumber(TypeId t);        // bigint or double
bool IsTimestampArg(TypeId t);  // timestamp
bool IsAny(TypeId t);           // every type

// One call site at run time: made once per Evaluator from the bound call
// (literal arguments are compiled here), then run on every batch. One virtual
// call per batch, none per row.
class Kernel {
 public:
  virtual ~Kernel() = default;
  // args[k] holds n rows of argument k (of the bound argument's type; a
  // null-typed argument is an all-null int-stored column). `out` has the
  // call's type and is filled with exactly n rows.
  virtual void Run(const Column* const* args, size_t n, Column* out) = 0;
};

struct Function {
  std::string_view name;
  size_t min_args = 0;
  size_t max_args = 0;  // kVariadic: no upper bound
  // False for the functions that do something with a null argument
  // (greatest, least, nullif); the others are null when any argument is.
  bool strict = true;
  bool (*bind)(BindCall& call) = nullptr;
  std::unique_ptr<Kernel> (*make)(const Expr& call) = nullptr;
  // When set and true for a bound call, its value is its first argument's
  // (floor of a bigint): the evaluator passes that column on, no kernel.
  bool (*identity)(const Expr& call) = nullptr;
};
constexpr size_t kVariadic = static_cast<size_t>(-1);

// The function of that (lower-case) name, or nullptr.
const Function* Find(std::string_view name);
// Every name in the library, for did-you-mean suggestions.
std::vector<std::string_view> Names();

// Each family's table (defined in its file).
const std::vector<Function>& TextFunctions();
const std::vector<Function>& RegexFunctions();
const std::vector<Function>& JsonFunctions();
const std::vector<Function>& HashFunctions();
const std::vector<Function>& TimeFunctions();
const std::vector<Function>& MathFunctions();

// ---- Helpers for kernels -----------------------------------------------------

// bigint arithmetic wraps on overflow (two's complement).
inline int64_t WrapAdd(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}
inline int64_t WrapSub(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
}
inline int64_t WrapMul(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
}
inline int64_t WrapNeg(int64_t a) {
  return static_cast<int64_t>(uint64_t{0} - static_cast<uint64_t>(a));
}

// Resets `c` to n rows of int-stored / double values (0, not null) and
// returns the arrays to fill.
void PrepInts(Column* c, size_t n, uint8_t** nulls, int64_t** vals);
void PrepDoubles(Column* c, size_t n, uint8_t** nulls, double** vals);
// Resets `c` to n null rows of its type.
void FillNull(Column* c, size_t n);

// Whether row i of any of the first k columns is null.
inline bool AnyNull(const Column* const* args, size_t k, size_t i) {
  for (size_t a = 0; a < k; ++a)
    if (args[a]->IsNull(i)) return true;
  return false;
}

// Kernels made of a per-row function `f`, called for the rows none of whose
// first `arity` arguments is null (those rows are null):
//  - StringRows: f(args, i, out) appends the row's value to the string-stored
//    column `out`, or a null.
//  - IntRows / DoubleRows: f(args, i, &value) returns false for null.
template <typename F>
class StringRows final : public Kernel {
 public:
  StringRows(size_t arity, F f) : arity_(arity), f_(std::move(f)) {}
  void Run(const Column* const* args, size_t n, Column* out) override {
    out->Clear();
    out->Reserve(n);
    for (size_t i = 0; i < n; ++i) {
      if (AnyNull(args, arity_, i))
        out->AppendNull();
      else
        f_(args, i, out);
    }
  }

 private:
  size_t arity_;
  F f_;
};

template <typename T, typename F>
class ValueRows final : public Kernel {
 public:
  ValueRows(size_t arity, F f) : arity_(arity), f_(std::move(f)) {}
  void Run(const Column* const* args, size_t n, Column* out) override {
    uint8_t* on;
    T* o;
    if constexpr (std::is_same_v<T, double>)
      PrepDoubles(out, n, &on, &o);
    else
      PrepInts(out, n, &on, &o);
    for (size_t i = 0; i < n; ++i) {
      T v{};
      const bool ok = !AnyNull(args, arity_, i) && f_(args, i, &v);
      on[i] = !ok;
      o[i] = ok ? v : T{};
    }
  }

 private:
  size_t arity_;
  F f_;
};

template <typename F>
std::unique_ptr<Kernel> MakeStringRows(const Expr& call, F f) {
  return std::make_unique<StringRows<F>>(call.children.size(), std::move(f));
}
template <typename F>
std::unique_ptr<Kernel> MakeIntRows(const Expr& call, F f) {
  return std::make_unique<ValueRows<int64_t, F>>(call.children.size(), std::move(f));
}
template <typename F>
std::unique_ptr<Kernel> MakeDoubleRows(const Expr& call, F f) {
  return std::make_unique<ValueRows<double, F>>(call.children.size(), std::move(f));
}

// A small cache of things compiled from non-literal arguments (patterns,
// paths), per call site. Bounded: when full it is emptied, so a column of
// distinct patterns costs a compile per row but never unbounded memory.
template <typename V>
class BoundedCache {
 public:
  explicit BoundedCache(size_t capacity = 64) : capacity_(capacity) {}
  // The entry for key, or nullptr.
  V* Get(std::string_view key) {
    auto it = map_.find(key);
    return it == map_.end() ? nullptr : it->second.get();
  }
  V* Put(std::string_view key, std::unique_ptr<V> v) {
    if (map_.size() >= capacity_) map_.clear();
    return (map_[std::string(key)] = std::move(v)).get();
  }

 private:
  size_t capacity_;
  std::map<std::string, std::unique_ptr<V>, std::less<>> map_;
};

}  // namespace weir::expr::fn
