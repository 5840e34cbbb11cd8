// Text functions: lower upper concat substr length, and with PostgreSQL's
// semantics trim ltrim rtrim replace starts_with ends_with strpos lpad rpad
// split_part. Characters are UTF-8 code points: a byte that is not a
// continuation byte (10xxxxxx) starts one, so text that is not valid UTF-8
// still has a defined length (never a crash). bytes count bytes.
#include <algorithm>
#include <limits>

#include "common/expr/functions.h"

namespace weir::expr::fn {
namespace {

// lpad/rpad results longer than this many characters are null: a length
// taken from the data must not make a worker allocate gigabytes.
constexpr int64_t kMaxPadLength = 1000000;

// Number of characters: bytes that are not continuation bytes.
int64_t Utf8Length(std::string_view s) {
  int64_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// Byte offset of character k (0-based), or s.size() when there are fewer.
size_t Utf8Offset(std::string_view s, int64_t k) {
  int64_t count = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (count == k) return i;
      ++count;
    }
  }
  return s.size();
}

// Length in bytes of the character starting at s[i]: the byte and the
// continuation bytes after it.
size_t CharLen(std::string_view s, size_t i) {
  size_t j = i + 1;
  while (j < s.size() && (static_cast<unsigned char>(s[j]) & 0xC0) == 0x80) ++j;
  return j - i;
}

// The code points of s, as views into it.
void SplitChars(std::string_view s, std::vector<std::string_view>* out) {
  out->clear();
  for (size_t i = 0; i < s.size();) {
    const size_t len = CharLen(s, i);
    out->push_back(s.substr(i, len));
    i += len;
  }
}

bool InSet(std::string_view ch, const std::vector<std::string_view>& set) {
  return std::find(set.begin(), set.end(), ch) != set.end();
}

// trim/ltrim/rtrim: the longest prefix and/or suffix made only of the
// characters in `set` removed.
std::string_view TrimSet(std::string_view s, const std::vector<std::string_view>& set, bool left,
                         bool right) {
  size_t b = 0, e = s.size();
  if (left) {
    while (b < e) {
      const size_t len = CharLen(s, b);
      if (!InSet(s.substr(b, len), set)) break;
      b += len;
    }
  }
  if (right) {
    while (e > b) {
      // Step back to the start of the last character.
      size_t start = e - 1;
      while (start > b && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
      if (!InSet(s.substr(start, e - start), set)) break;
      e = start;
    }
  }
  return s.substr(b, e - b);
}

bool BindStrings(BindCall& c, TypeId result) {
  bool ok = true;
  for (size_t i = 0; i < c.size(); ++i) ok = c.Expect(i, IsString, "string arguments") && ok;
  if (ok) c.SetType(result);
  return ok;
}

bool BindText(BindCall& c) {
  return BindStrings(c, TypeId::kString);
}
bool BindPredicate(BindCall& c) {
  return BindStrings(c, TypeId::kBoolean);
}

// The trims take an optional second argument: the characters to remove.
template <bool kLeft, bool kRight>
class TrimKernel final : public Kernel {
 public:
  explicit TrimKernel(size_t arity) : arity_(arity) {}
  void Run(const Column* const* a, size_t n, Column* out) override {
    out->Clear();
    out->Reserve(n);
    if (arity_ == 1) SplitChars(" ", &set_);
    for (size_t i = 0; i < n; ++i) {
      if (AnyNull(a, arity_, i)) {
        out->AppendNull();
        continue;
      }
      if (arity_ == 2) SplitChars(a[1]->GetString(i), &set_);
      out->AppendString(TrimSet(a[0]->GetString(i), set_, kLeft, kRight));
    }
  }

 private:
  size_t arity_;
  std::vector<std::string_view> set_;
};

template <bool kLeft, bool kRight>
std::unique_ptr<Kernel> MakeTrimKernel(const Expr& call) {
  return std::make_unique<TrimKernel<kLeft, kRight>>(call.children.size());
}

std::unique_ptr<Kernel> MakeReplace(const Expr& call) {
  return MakeStringRows(call, [buf = std::string()](const Column* const* a, size_t i,
                                                    Column* out) mutable {
    const std::string_view s = a[0]->GetString(i), from = a[1]->GetString(i),
                           to = a[2]->GetString(i);
    if (from.empty()) return out->AppendString(s);
    buf.clear();
    size_t pos = 0;
    for (size_t hit; (hit = s.find(from, pos)) != std::string_view::npos; pos = hit + from.size()) {
      buf.append(s.substr(pos, hit - pos));
      buf.append(to);
    }
    buf.append(s.substr(pos));
    out->AppendString(buf);
  });
}

std::unique_ptr<Kernel> MakeStartsWith(const Expr& call) {
  return MakeIntRows(call, [](const Column* const* a, size_t i, int64_t* v) {
    *v = a[0]->GetString(i).starts_with(a[1]->GetString(i));
    return true;
  });
}

std::unique_ptr<Kernel> MakeEndsWith(const Expr& call) {
  return MakeIntRows(call, [](const Column* const* a, size_t i, int64_t* v) {
    *v = a[0]->GetString(i).ends_with(a[1]->GetString(i));
    return true;
  });
}

std::unique_ptr<Kernel> MakeStrpos(const Expr& call) {
  return MakeIntRows(call, [](const Column* const* a, size_t i, int64_t* v) {
    const std::string_view s = a[0]->GetString(i);
    const size_t hit = s.find(a[1]->GetString(i));
    *v = hit == std::string_view::npos ? 0 : Utf8Length(s.substr(0, hit)) + 1;
    return true;
  });
}

bool BindPad(BindCall& c) {
  bool ok = c.Expect(0, IsString, "a string argument");
  ok = c.Expect(1, IsBigint, "a bigint length") && ok;
  if (c.size() == 3) ok = c.Expect(2, IsString, "a string fill") && ok;
  if (const Literal* n = c.literal(1); ok && n && n->i > kMaxPadLength) {
    c.Error(1, "the length " + std::to_string(n->i) + " is over the limit of " +
                   std::to_string(kMaxPadLength) + " characters");
    ok = false;
  }
  if (ok) c.SetType(TypeId::kString);
  return ok;
}

// lpad/rpad(s, n[, fill]): s cut to n characters, or filled up to n with
// `fill` (default a space) repeated, on the left or the right.
template <bool kLeft>
class PadKernel final : public Kernel {
 public:
  explicit PadKernel(size_t arity) : arity_(arity) {}
  void Run(const Column* const* a, size_t n, Column* out) override {
    out->Clear();
    out->Reserve(n);
    for (size_t i = 0; i < n; ++i) {
      if (AnyNull(a, arity_, i) || a[1]->GetInt(i) > kMaxPadLength) {
        out->AppendNull();
        continue;
      }
      const int64_t len = std::max<int64_t>(a[1]->GetInt(i), 0);
      const std::string_view s = a[0]->GetString(i);
      SplitChars(s, &chars_);
      const auto have = static_cast<int64_t>(chars_.size());
      if (have >= len) {  // cut (both pads keep the first characters)
        size_t bytes = 0;
        for (int64_t k = 0; k < len; ++k) bytes += chars_[static_cast<size_t>(k)].size();
        out->AppendString(s.substr(0, bytes));
        continue;
      }
      SplitChars(arity_ == 3 ? a[2]->GetString(i) : std::string_view(" "), &fill_);
      if (fill_.empty()) {
        out->AppendString(s);
        continue;
      }
      buf_.clear();
      if (!kLeft) buf_.append(s);
      for (int64_t k = 0; k < len - have; ++k)
        buf_.append(fill_[static_cast<size_t>(k) % fill_.size()]);
      if (kLeft) buf_.append(s);
      out->AppendString(buf_);
    }
  }

 private:
  size_t arity_;
  std::vector<std::string_view> chars_, fill_;
  std::string buf_;
};

template <bool kLeft>
std::unique_ptr<Kernel> MakePad(const Expr& call) {
  return std::make_unique<PadKernel<kLeft>>(call.children.size());
}

bool BindSplitPart(BindCall& c) {
  bool ok = c.Expect(0, IsString, "a string argument");
  ok = c.Expect(1, IsString, "a string delimiter") && ok;
  ok = c.Expect(2, IsBigint, "a bigint field number") && ok;
  if (const Literal* n = c.literal(2); ok && n && n->i == 0) {
    c.Error(2, "field numbers start at 1 (negative ones count from the end), not 0");
    ok = false;
  }
  if (ok) c.SetType(TypeId::kString);
  return ok;
}

// split_part(s, delim, n): the n-th field of s split at delim (1-based; a
// negative n counts from the end), '' when there are fewer; 0 is null. An
// empty delimiter makes s the only field.
std::unique_ptr<Kernel> MakeSplitPart(const Expr& call) {
  return MakeStringRows(call, [](const Column* const* a, size_t i, Column* out) {
    const std::string_view s = a[0]->GetString(i), d = a[1]->GetString(i);
    const int64_t n = a[2]->GetInt(i);
    if (n == 0) return out->AppendNull();
    if (d.empty()) return out->AppendString(n == 1 || n == -1 ? s : std::string_view());
    if (n > 0) {
      size_t pos = 0;
      for (int64_t k = 1;; ++k) {
        const size_t hit = s.find(d, pos);
        if (k == n) return out->AppendString(s.substr(pos, hit == s.npos ? s.npos : hit - pos));
        if (hit == s.npos) return out->AppendString("");
        pos = hit + d.size();
      }
    }
    // From the end: count the fields, then take field count + n + 1.
    int64_t count = 1;
    for (size_t pos = 0; (pos = s.find(d, pos)) != s.npos; pos += d.size()) ++count;
    const int64_t want = count + n + 1;  // n = -1 is the last field
    if (want < 1) return out->AppendString("");
    size_t pos = 0;
    for (int64_t k = 1; k < want; ++k) pos = s.find(d, pos) + d.size();
    const size_t hit = s.find(d, pos);
    out->AppendString(s.substr(pos, hit == s.npos ? s.npos : hit - pos));
  });
}

// lower/upper: ASCII letters changed, other characters kept.
bool BindCase(BindCall& c) {
  if (!c.Expect(0, IsString, "a string argument")) return false;
  c.SetType(TypeId::kString);
  return true;
}

template <bool kUpper>
std::unique_ptr<Kernel> MakeCase(const Expr& call) {
  return MakeStringRows(
      call, [buf = std::string()](const Column* const* a, size_t i, Column* out) mutable {
        const std::string_view s = a[0]->GetString(i);
        buf.resize(s.size());
        // Branch-free, so the compiler vectorizes it: flip bit 5 of the
        // letters of the other case.
        constexpr unsigned char kFrom = kUpper ? 'a' : 'A';
        for (size_t k = 0; k < s.size(); ++k) {
          const auto c = static_cast<unsigned char>(s[k]);
          buf[k] = static_cast<char>(c ^ (static_cast<unsigned char>(c - kFrom) < 26 ? 0x20 : 0));
        }
        out->AppendString(buf);
      });
}

// concat(s, ...): null if any argument is.
bool BindConcat(BindCall& c) {
  bool ok = true;
  for (size_t i = 0; i < c.size(); ++i)
    ok = c.Expect(i, IsString, "string arguments", " (use cast(x as string))") && ok;
  if (ok) c.SetType(TypeId::kString);
  return ok;
}

std::unique_ptr<Kernel> MakeConcat(const Expr& call) {
  return MakeStringRows(call, [k = call.children.size(), buf = std::string()](
                                  const Column* const* a, size_t i, Column* out) mutable {
    buf.clear();
    for (size_t j = 0; j < k; ++j) buf.append(a[j]->GetString(i));
    out->AppendString(buf);
  });
}

// SQL substring: the characters at 1-based positions [start, start + len)
// that exist; empty when none do (or len < 0). Characters are code points for
// strings and bytes for bytes.
std::string_view Substr(std::string_view s, int64_t start, bool has_len, int64_t len, bool utf8) {
  const int64_t begin = std::max<int64_t>(start, 1);
  int64_t end = std::numeric_limits<int64_t>::max();  // exclusive
  if (has_len) {
    if (len < 0) return {};
    if (__builtin_add_overflow(start, len, &end)) end = std::numeric_limits<int64_t>::max();
  }
  if (end <= begin) return {};
  size_t b0, b1;
  if (utf8) {
    b0 = Utf8Offset(s, begin - 1);
    b1 = b0 + Utf8Offset(s.substr(b0), end - begin);
  } else {
    const auto size = static_cast<int64_t>(s.size());
    b0 = static_cast<size_t>(std::min(begin - 1, size));
    b1 = static_cast<size_t>(std::min(end - 1, size));
  }
  return s.substr(b0, b1 - b0);
}

bool BindSubstr(BindCall& c) {
  bool ok = c.Expect(0, IsText, "a string argument");
  ok = c.Expect(1, IsBigint, "a bigint start position") && ok;
  if (c.size() == 3) ok = c.Expect(2, IsBigint, "a bigint length") && ok;
  if (ok) c.SetType(c.type(0) == TypeId::kBytes ? TypeId::kBytes : TypeId::kString);
  return ok;
}

std::unique_ptr<Kernel> MakeSubstr(const Expr& call) {
  const bool has_len = call.children.size() == 3;
  const bool utf8 = call.children[0]->type == TypeId::kString;
  return MakeStringRows(call, [has_len, utf8](const Column* const* a, size_t i, Column* out) {
    out->AppendString(
        Substr(a[0]->GetString(i), a[1]->GetInt(i), has_len, has_len ? a[2]->GetInt(i) : 0, utf8));
  });
}

// length(s): characters of a string, bytes of bytes.
bool BindLength(BindCall& c) {
  if (!c.Expect(0, IsText, "a string or bytes argument")) return false;
  c.SetType(TypeId::kBigint);
  return true;
}

std::unique_ptr<Kernel> MakeLength(const Expr& call) {
  const bool utf8 = call.children[0]->type == TypeId::kString;
  return MakeIntRows(call, [utf8](const Column* const* a, size_t i, int64_t* v) {
    const std::string_view s = a[0]->GetString(i);
    *v = utf8 ? Utf8Length(s) : static_cast<int64_t>(s.size());
    return true;
  });
}

}  // namespace

const std::vector<Function>& TextFunctions() {
  static const std::vector<Function> functions = {
      {"lower", 1, 1, true, BindCase, MakeCase<false>},
      {"upper", 1, 1, true, BindCase, MakeCase<true>},
      {"concat", 1, kVariadic, true, BindConcat, MakeConcat},
      {"substr", 2, 3, true, BindSubstr, MakeSubstr},
      {"length", 1, 1, true, BindLength, MakeLength},
      {"trim", 1, 2, true, BindText, MakeTrimKernel<true, true>},
      {"ltrim", 1, 2, true, BindText, MakeTrimKernel<true, false>},
      {"rtrim", 1, 2, true, BindText, MakeTrimKernel<false, true>},
      {"replace", 3, 3, true, BindText, MakeReplace},
      {"starts_with", 2, 2, true, BindPredicate, MakeStartsWith},
      {"ends_with", 2, 2, true, BindPredicate, MakeEndsWith},
      {"strpos", 2, 2, true, [](BindCall& c) { return BindStrings(c, TypeId::kBigint); },
       MakeStrpos},
      {"lpad", 2, 3, true, BindPad, MakePad<true>},
      {"rpad", 2, 3, true, BindPad, MakePad<false>},
      {"split_part", 3, 3, true, BindSplitPart, MakeSplitPart},
  };
  return functions;
}

}  // namespace weir::expr::fn
