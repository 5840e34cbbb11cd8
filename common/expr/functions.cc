// The function table and what its entries share (functions.h).
#include "common/expr/functions.h"

namespace weir::expr::fn {

const Literal* BindCall::literal(size_t i) const {
  const Expr* a = call_->children[i].get();
  if (a->kind != NodeKind::kLiteral || a->literal.type == TypeId::kNull) return nullptr;
  return &a->literal;
}

bool BindCall::Expect(size_t i, bool (*ok)(TypeId), std::string_view what, std::string_view hint) {
  if (ok(type(i))) return true;
  errors_->push_back({call_->children[i]->offset,
                      "function '" + call_->function + "' expects " + std::string(what) + ", got " +
                          std::string(TypeName(type(i))) + std::string(hint)});
  return false;
}

void BindCall::Error(size_t i, const std::string& message) {
  errors_->push_back(
      {call_->children[i]->offset, "function '" + call_->function + "': " + message});
}

bool IsString(TypeId t) {
  return t == TypeId::kString || t == TypeId::kNull;
}
bool IsText(TypeId t) {
  return IsStringStored(t) || t == TypeId::kNull;
}
bool IsBigint(TypeId t) {
  return t == TypeId::kBigint || t == TypeId::kNull;
}
bool IsNumber(TypeId t) {
  return IsNumeric(t) || t == TypeId::kNull;
}
bool IsTimestampArg(TypeId t) {
  return t == TypeId::kTimestamp || t == TypeId::kNull;
}
bool IsAny(TypeId) {
  return true;
}

namespace {

const std::vector<const std::vector<Function>*>& Families() {
  static const std::vector<const std::vector<Function>*> families = {
      &TextFunctions(), &RegexFunctions(), &JsonFunctions(),
      &HashFunctions(), &TimeFunctions(),  &MathFunctions()};
  return families;
}

}  // namespace

const Function* Find(std::string_view name) {
  for (const auto* family : Families())
    for (const Function& f : *family)
      if (f.name == name) return &f;
  return nullptr;
}

std::vector<std::string_view> Names() {
  std::vector<std::string_view> names;
  for (const auto* family : Families())
    for (const Function& f : *family) names.push_back(f.name);
  return names;
}

void PrepInts(Column* c, size_t n, uint8_t** nulls, int64_t** vals) {
  c->Clear();
  c->mutable_nulls().resize(n);
  c->mutable_ints().resize(n);
  *nulls = c->mutable_nulls().data();
  *vals = c->mutable_ints().data();
}

void PrepDoubles(Column* c, size_t n, uint8_t** nulls, double** vals) {
  c->Clear();
  c->mutable_nulls().resize(n);
  c->mutable_doubles().resize(n);
  *nulls = c->mutable_nulls().data();
  *vals = c->mutable_doubles().data();
}

void FillNull(Column* c, size_t n) {
  if (c->type() == TypeId::kDouble) {
    uint8_t* on;
    double* o;
    PrepDoubles(c, n, &on, &o);
    for (size_t i = 0; i < n; ++i) on[i] = 1;
    return;
  }
  if (IsStringStored(c->type())) {
    c->Clear();
    c->Reserve(n);
    for (size_t i = 0; i < n; ++i) c->AppendNull();
    return;
  }
  uint8_t* on;
  int64_t* o;
  PrepInts(c, n, &on, &o);
  for (size_t i = 0; i < n; ++i) on[i] = 1;
}

}  // namespace weir::expr::fn
