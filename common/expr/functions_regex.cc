// Regular expressions on RE2, which matches in time linear in the input, so
// no pattern (from the job or from the data) can stall a worker:
//   regexp_like(s, p)             p matches somewhere in s
//   regexp_extract(s, p[, group]) group `group` of the first match (0, the
//                                 default, is the whole match); null when
//                                 there is no match or the group took no part
//   regexp_replace(s, p, r)       every match replaced by r, in which \1..\9
//                                 are groups and \0 the whole match
// A literal pattern is compiled once, when the evaluator is made, and checked
// when the job is validated; patterns from the data are compiled on first
// use and kept in a bounded cache; one that does not compile gives null.
#include <re2/re2.h>

#include "common/expr/functions.h"

namespace weir::expr::fn {
namespace {

// Patterns are UTF-8; a compiled program may use up to 8 MiB (RE2's
// default), which bounds what a hostile pattern can cost.
RE2::Options PatternOptions() {
  RE2::Options o;
  o.set_log_errors(false);
  return o;
}

// The compiled pattern of argument 1 at row i: the literal's, or one from
// the cache. nullptr when it does not compile.
class Patterns {
 public:
  explicit Patterns(const Expr& call) {
    const Expr& p = *call.children[1];
    if (p.kind == NodeKind::kLiteral && p.literal.type == TypeId::kString)
      literal_ = std::make_unique<RE2>(p.literal.s, PatternOptions());
  }
  const RE2* Get(const Column& patterns, size_t i) {
    if (literal_) return literal_->ok() ? literal_.get() : nullptr;
    const std::string_view text = patterns.GetString(i);
    RE2* re = cache_.Get(text);
    if (!re) re = cache_.Put(text, std::make_unique<RE2>(text, PatternOptions()));
    return re->ok() ? re : nullptr;
  }

 private:
  std::unique_ptr<RE2> literal_;
  BoundedCache<RE2> cache_;
};

re2::StringPiece Piece(std::string_view s) {
  return re2::StringPiece(s.data(), s.size());
}

// Checks a literal pattern; returns it compiled, or nullptr after an error.
std::unique_ptr<RE2> CheckPattern(BindCall& c, size_t i) {
  const Literal* p = c.literal(i);
  if (!p) return nullptr;
  auto re = std::make_unique<RE2>(p->s, PatternOptions());
  if (!re->ok()) {
    c.Error(i, "invalid regular expression: " + re->error());
    return nullptr;
  }
  return re;
}

bool BindLike(BindCall& c) {
  bool ok = c.Expect(0, IsString, "a string argument");
  ok = c.Expect(1, IsString, "a string pattern") && ok;
  if (ok && c.literal(1) && !CheckPattern(c, 1)) return false;
  if (ok) c.SetType(TypeId::kBoolean);
  return ok;
}

std::unique_ptr<Kernel> MakeLike(const Expr& call) {
  return MakeIntRows(call, [patterns = std::make_shared<Patterns>(call)](const Column* const* a,
                                                                         size_t i, int64_t* v) {
    const RE2* re = patterns->Get(*a[1], i);
    if (!re) return false;
    *v = RE2::PartialMatch(Piece(a[0]->GetString(i)), *re);
    return true;
  });
}

bool BindExtract(BindCall& c) {
  bool ok = c.Expect(0, IsString, "a string argument");
  ok = c.Expect(1, IsString, "a string pattern") && ok;
  if (c.size() == 3) ok = c.Expect(2, IsBigint, "a bigint group number") && ok;
  if (!ok) return false;
  std::unique_ptr<RE2> re;
  if (c.literal(1) && !(re = CheckPattern(c, 1))) return false;
  if (const Literal* g = c.size() == 3 ? c.literal(2) : nullptr) {
    if (g->i < 0) {
      c.Error(2, "group numbers start at 0 (the whole match), not " + std::to_string(g->i));
      return false;
    }
    if (re && g->i > re->NumberOfCapturingGroups()) {
      c.Error(2, "the pattern has " + std::to_string(re->NumberOfCapturingGroups()) +
                     " groups, not " + std::to_string(g->i));
      return false;
    }
  }
  c.SetType(TypeId::kString);
  return true;
}

std::unique_ptr<Kernel> MakeExtract(const Expr& call) {
  const bool has_group = call.children.size() == 3;
  return MakeStringRows(call, [patterns = std::make_shared<Patterns>(call), has_group,
                               groups = std::vector<re2::StringPiece>()](
                                  const Column* const* a, size_t i, Column* out) mutable {
    const RE2* re = patterns->Get(*a[1], i);
    const int64_t g = has_group ? a[2]->GetInt(i) : 0;
    if (!re || g < 0 || g > re->NumberOfCapturingGroups()) return out->AppendNull();
    groups.resize(static_cast<size_t>(g) + 1);
    const std::string_view s = a[0]->GetString(i);
    const re2::StringPiece text = Piece(s);
    if (!re->Match(text, 0, text.size(), RE2::UNANCHORED, groups.data(),
                   static_cast<int>(groups.size())))
      return out->AppendNull();
    const re2::StringPiece& m = groups[static_cast<size_t>(g)];
    if (m.data() == nullptr) return out->AppendNull();  // the group took no part
    out->AppendString(std::string_view(m.data(), m.size()));
  });
}

bool BindReplace(BindCall& c) {
  bool ok = c.Expect(0, IsString, "a string argument");
  ok = c.Expect(1, IsString, "a string pattern") && ok;
  ok = c.Expect(2, IsString, "a string replacement") && ok;
  if (!ok) return false;
  std::unique_ptr<RE2> re;
  if (c.literal(1) && !(re = CheckPattern(c, 1))) return false;
  if (const Literal* r = c.literal(2); r && re) {
    std::string why;
    if (!re->CheckRewriteString(r->s, &why)) {
      c.Error(2, "invalid replacement: " + why);
      return false;
    }
  }
  c.SetType(TypeId::kString);
  return true;
}

std::unique_ptr<Kernel> MakeReplaceRe(const Expr& call) {
  return MakeStringRows(
      call, [patterns = std::make_shared<Patterns>(call), buf = std::string(), why = std::string()](
                const Column* const* a, size_t i, Column* out) mutable {
        const RE2* re = patterns->Get(*a[1], i);
        const std::string_view rewrite = a[2]->GetString(i);
        if (!re || !re->CheckRewriteString(Piece(rewrite), &why)) return out->AppendNull();
        buf.assign(a[0]->GetString(i));
        RE2::GlobalReplace(&buf, *re, Piece(rewrite));
        out->AppendString(buf);
      });
}

}  // namespace

const std::vector<Function>& RegexFunctions() {
  static const std::vector<Function> functions = {
      {"regexp_like", 2, 2, true, BindLike, MakeLike},
      {"regexp_extract", 2, 3, true, BindExtract, MakeExtract},
      {"regexp_replace", 3, 3, true, BindReplace, MakeReplaceRe},
  };
  return functions;
}

}  // namespace weir::expr::fn
