// Private to common/expr: the tokens of the expression language and helpers
// shared by the lexer, the parser, the binder and ToString().
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/expr/expr.h"

namespace weir::expr::internal {

enum class TokenKind {
  kEnd,          // end of input (always the last token)
  kIdent,        // foo, AND, true... (keywords are identifiers the parser recognises)
  kQuotedIdent,  // `weird name`; value holds the unescaped name
  kString,       // 'text'; value holds the unescaped text
  kInteger,      // 12 (text only; the parser converts, so -9223372036854775808 works)
  kFloat,        // 1.5, 1e3
  kLParen,
  kRParen,
  kComma,
  kDot,
  kPlus,
  kMinus,
  kStar,
  kSlash,
  kPercent,
  kEq,  // = or ==
  kNe,  // != or <>
  kLt,
  kLe,
  kGt,
  kGe,
};

struct Token {
  TokenKind kind = TokenKind::kEnd;
  size_t offset = 0;      // byte offset of the first character
  std::string_view text;  // the token as written
  std::string value;      // kString / kQuotedIdent: unescaped content
};

// Splits `text` into tokens, the last one kEnd (at offset text.size()).
// On a lexical error (unterminated string, stray character, malformed
// number) returns false with *error set to the offending offset.
bool Tokenize(std::string_view text, std::vector<Token>* tokens, ExprError* error);

// How a token is named in error messages: "'and'", "string 'abc'", "end of input".
std::string DescribeToken(const Token& t);

// ASCII case-insensitive equality and lower-casing (keywords, function and type names).
bool EqualsIgnoreCase(std::string_view a, std::string_view b);
std::string ToLower(std::string_view s);

// True for the reserved words (case-insensitive): and or not in is null true
// false case when then else end cast as. A field with such a name must be
// backquoted.
bool IsReservedWord(std::string_view ident);

// True when `name` can be written bare: [A-Za-z_][A-Za-z0-9_]* and not reserved.
bool IsBareIdentifier(std::string_view name);

// Deepest expression tree the parser builds. Keeps every recursive walk of a
// tree (bind, evaluate, print, destroy) well inside the stack.
inline constexpr int kMaxDepth = 200;

}  // namespace weir::expr::internal
