// The lexer of the expression language: text -> tokens. Whitespace separates
// tokens; there are no comments.
#include <array>
#include <cstdio>

#include "common/expr/lexer_internal.h"

namespace weir::expr::internal {
namespace {

bool IsIdentStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool IsIdentChar(char c) {
  return IsIdentStart(c) || (c >= '0' && c <= '9');
}
bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}
bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// At most `max` bytes of s, with "..." when cut.
std::string Shorten(std::string_view s, size_t max = 30) {
  if (s.size() <= max) return std::string(s);
  return std::string(s.substr(0, max)) + "...";
}

class Lexer {
 public:
  Lexer(std::string_view text, std::vector<Token>* tokens, ExprError* error)
      : text_(text), tokens_(tokens), error_(error) {}

  bool Run() {
    tokens_->clear();
    while (true) {
      while (pos_ < text_.size() && IsSpace(text_[pos_])) ++pos_;
      if (pos_ >= text_.size()) {
        Push(TokenKind::kEnd, pos_, pos_);
        return true;
      }
      if (!Next()) return false;
    }
  }

 private:
  void Push(TokenKind kind, size_t start, size_t end, std::string value = {}) {
    Token t;
    t.kind = kind;
    t.offset = start;
    t.text = text_.substr(start, end - start);
    t.value = std::move(value);
    tokens_->push_back(std::move(t));
  }

  bool Fail(size_t offset, std::string message) {
    error_->offset = offset;
    error_->message = std::move(message);
    return false;
  }

  // Lexes one token starting at pos_ (not whitespace, not the end).
  bool Next() {
    const size_t start = pos_;
    const char c = text_[pos_];
    if (IsIdentStart(c)) {
      while (pos_ < text_.size() && IsIdentChar(text_[pos_])) ++pos_;
      Push(TokenKind::kIdent, start, pos_);
      return true;
    }
    if (IsDigit(c) || (c == '.' && pos_ + 1 < text_.size() && IsDigit(text_[pos_ + 1]))) {
      return Number();
    }
    if (c == '\'') return Quoted('\'', TokenKind::kString, "string");
    if (c == '`') return Quoted('`', TokenKind::kQuotedIdent, "quoted name");
    auto one = [&](TokenKind k) {
      ++pos_;
      Push(k, start, pos_);
      return true;
    };
    auto two = [&](TokenKind k) {
      pos_ += 2;
      Push(k, start, pos_);
      return true;
    };
    const char n = pos_ + 1 < text_.size() ? text_[pos_ + 1] : '\0';
    switch (c) {
      case '(':
        return one(TokenKind::kLParen);
      case ')':
        return one(TokenKind::kRParen);
      case ',':
        return one(TokenKind::kComma);
      case '.':
        return one(TokenKind::kDot);
      case '+':
        return one(TokenKind::kPlus);
      case '-':
        return one(TokenKind::kMinus);
      case '*':
        return one(TokenKind::kStar);
      case '/':
        return one(TokenKind::kSlash);
      case '%':
        return one(TokenKind::kPercent);
      case '=':
        return n == '=' ? two(TokenKind::kEq) : one(TokenKind::kEq);
      case '!':
        if (n == '=') return two(TokenKind::kNe);
        return Fail(start, "unexpected character '!' (write 'not' or '!=')");
      case '<':
        if (n == '=') return two(TokenKind::kLe);
        if (n == '>') return two(TokenKind::kNe);
        return one(TokenKind::kLt);
      case '>':
        if (n == '=') return two(TokenKind::kGe);
        return one(TokenKind::kGt);
      case '"':
        return Fail(start,
                    "unexpected character '\"': strings use single quotes ('text') and names "
                    "with special characters backquotes (`name`)");
      default:
        break;
    }
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) {
      return Fail(start, std::string("unexpected character '") + c + "'");
    }
    char buf[48];
    std::snprintf(buf, sizeof buf, "unexpected character (byte 0x%02x)", u);
    return Fail(start, buf);
  }

  // digits [. digits] [e [+-] digits], or . digits [...]. A number directly
  // followed by a letter ("12abc") is an error rather than two tokens.
  bool Number() {
    const size_t start = pos_;
    bool is_float = false;
    while (pos_ < text_.size() && IsDigit(text_[pos_])) ++pos_;
    if (pos_ + 1 < text_.size() && text_[pos_] == '.' && IsDigit(text_[pos_ + 1])) {
      is_float = true;
      ++pos_;
      while (pos_ < text_.size() && IsDigit(text_[pos_])) ++pos_;
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      size_t p = pos_ + 1;
      if (p < text_.size() && (text_[p] == '+' || text_[p] == '-')) ++p;
      if (p < text_.size() && IsDigit(text_[p])) {
        is_float = true;
        pos_ = p;
        while (pos_ < text_.size() && IsDigit(text_[pos_])) ++pos_;
      }
    }
    if (pos_ < text_.size() && (IsIdentChar(text_[pos_]) || text_[pos_] == '.')) {
      size_t end = pos_;
      while (end < text_.size() && (IsIdentChar(text_[end]) || text_[end] == '.')) ++end;
      return Fail(start, "malformed number '" + Shorten(text_.substr(start, end - start)) + "'");
    }
    Push(is_float ? TokenKind::kFloat : TokenKind::kInteger, start, pos_);
    return true;
  }

  // A quote-delimited token; a doubled quote inside stands for one quote.
  bool Quoted(char quote, TokenKind kind, const char* what) {
    const size_t start = pos_++;
    std::string value;
    while (true) {
      if (pos_ >= text_.size()) return Fail(start, std::string("unterminated ") + what);
      if (text_[pos_] == quote) {
        if (pos_ + 1 < text_.size() && text_[pos_ + 1] == quote) {
          value += quote;
          pos_ += 2;
          continue;
        }
        ++pos_;
        break;
      }
      value += text_[pos_++];
    }
    if (kind == TokenKind::kQuotedIdent && value.empty())
      return Fail(start, "empty quoted name ``");
    Push(kind, start, pos_, std::move(value));
    return true;
  }

  std::string_view text_;
  std::vector<Token>* tokens_;
  ExprError* error_;
  size_t pos_ = 0;
};

constexpr std::array<std::string_view, 15> kReserved = {"and",  "or",   "not",   "in",   "is",
                                                        "null", "true", "false", "case", "when",
                                                        "then", "else", "end",   "cast", "as"};

}  // namespace

bool Tokenize(std::string_view text, std::vector<Token>* tokens, ExprError* error) {
  return Lexer(text, tokens, error).Run();
}

std::string DescribeToken(const Token& t) {
  switch (t.kind) {
    case TokenKind::kEnd:
      return "end of input";
    case TokenKind::kString:
      return std::string("string '").append(Shorten(t.value)).append("'");
    default:
      return std::string("'").append(Shorten(t.text)).append("'");
  }
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

bool IsReservedWord(std::string_view ident) {
  for (std::string_view k : kReserved)
    if (EqualsIgnoreCase(ident, k)) return true;
  return false;
}

bool IsBareIdentifier(std::string_view name) {
  if (name.empty() || !IsIdentStart(name[0])) return false;
  for (char c : name)
    if (!IsIdentChar(c)) return false;
  return !IsReservedWord(name);
}

}  // namespace weir::expr::internal
