// The recursive-descent parser of the expression language and ToString().
//
// Grammar, lowest precedence first (binary operators are left-associative):
//   or_expr    := and_expr (OR and_expr)*
//   and_expr   := not_expr (AND not_expr)*
//   not_expr   := NOT not_expr | predicate
//   predicate  := additive ( cmp_op additive | [NOT] IN '(' expr (',' expr)* ')'
//                          | IS [NOT] NULL )*
//   additive   := multiplicative (('+' | '-') multiplicative)*
//   multiplicative := unary (('*' | '/' | '%') unary)*
//   unary      := '-' unary | primary
//   primary    := literal | '(' or_expr ')' | CASE ... END | CAST '(' or_expr AS type ')'
//               | name [ '.' name ] | name '(' [ '*' | or_expr (',' or_expr)* ] ')'
// A minus directly before a number literal is folded into the literal, so
// "-9223372036854775808" is the bigint minimum rather than an overflow.
#include <charconv>
#include <cmath>
#include <limits>

#include "common/expr/lexer_internal.h"
#include "common/text.h"

namespace weir::expr {
namespace {

using internal::DescribeToken;
using internal::EqualsIgnoreCase;
using internal::kMaxDepth;
using internal::Token;
using internal::TokenKind;

// A parsed subtree and its height, so a long chain like a+a+...+a is refused
// before it becomes a tree too deep to walk recursively.
struct Node {
  std::unique_ptr<Expr> e;
  int height = 1;
  explicit operator bool() const { return e != nullptr; }
};

class Parser {
 public:
  Parser(std::vector<Token> tokens, ExprError* error) : tokens_(std::move(tokens)), error_(error) {}

  std::unique_ptr<Expr> ParseAll() {
    if (Peek().kind == TokenKind::kEnd) {
      Fail(0, "empty expression");
      return nullptr;
    }
    Node n = ParseOr();
    if (!n) return nullptr;
    if (Peek().kind != TokenKind::kEnd) {
      const Token& t = Peek();
      if (t.kind == TokenKind::kRParen) {
        Fail(t.offset, "unexpected ')' without a matching '('");
      } else {
        Fail(t.offset,
             "expected an operator or the end of the expression but found " + DescribeToken(t));
      }
      return nullptr;
    }
    return std::move(n.e);
  }

 private:
  const Token& Peek(size_t ahead = 0) const {
    size_t i = std::min(pos_ + ahead, tokens_.size() - 1);
    return tokens_[i];
  }
  const Token& Take() {
    const Token& t = tokens_[pos_];
    if (pos_ + 1 < tokens_.size()) ++pos_;
    return t;
  }
  bool IsKeyword(const Token& t, std::string_view kw) const {
    return t.kind == TokenKind::kIdent && EqualsIgnoreCase(t.text, kw);
  }
  bool AcceptKeyword(std::string_view kw) {
    if (!IsKeyword(Peek(), kw)) return false;
    Take();
    return true;
  }
  Node Fail(size_t offset, std::string message) {
    if (!failed_) {
      failed_ = true;
      error_->offset = offset;
      error_->message = std::move(message);
    }
    return {};
  }
  Node Expected(std::string_view what) {
    return Fail(Peek().offset,
                "expected " + std::string(what) + " but found " + DescribeToken(Peek()));
  }
  bool Expect(TokenKind kind, std::string_view what) {
    if (Peek().kind == kind) {
      Take();
      return true;
    }
    Expected(what);
    return false;
  }

  // Builds a node over `children`, refusing trees deeper than kMaxDepth.
  Node Make(std::unique_ptr<Expr> e, std::vector<Node> children) {
    int h = 0;
    for (Node& c : children) {
      h = std::max(h, c.height);
      e->children.push_back(std::move(c.e));
    }
    if (h + 1 > kMaxDepth) {
      return Fail(e->offset, "expression is too deeply nested (more than " +
                                 std::to_string(kMaxDepth) + " levels)");
    }
    return {std::move(e), h + 1};
  }
  Node MakeBinary(Op op, Node l, Node r) {
    auto e = std::make_unique<Expr>();
    e->kind = NodeKind::kBinary;
    e->op = op;
    e->offset = l.e->offset;
    std::vector<Node> ch;
    ch.push_back(std::move(l));
    ch.push_back(std::move(r));
    return Make(std::move(e), std::move(ch));
  }

  // Guards the recursion of the parser itself ("((((((...").
  struct DepthGuard {
    explicit DepthGuard(int* d) : depth(d) { ++*depth; }
    ~DepthGuard() { --*depth; }
    int* depth;
  };
  bool TooDeep() {
    if (depth_ <= kMaxDepth) return false;
    Fail(Peek().offset,
         "expression is too deeply nested (more than " + std::to_string(kMaxDepth) + " levels)");
    return true;
  }

  Node ParseOr() {
    DepthGuard g(&depth_);
    if (TooDeep()) return {};
    Node l = ParseAnd();
    while (l && AcceptKeyword("or")) {
      Node r = ParseAnd();
      if (!r) return {};
      l = MakeBinary(Op::kOr, std::move(l), std::move(r));
    }
    return l;
  }

  Node ParseAnd() {
    Node l = ParseNot();
    while (l && AcceptKeyword("and")) {
      Node r = ParseNot();
      if (!r) return {};
      l = MakeBinary(Op::kAnd, std::move(l), std::move(r));
    }
    return l;
  }

  Node ParseNot() {
    if (IsKeyword(Peek(), "not")) {
      DepthGuard g(&depth_);
      if (TooDeep()) return {};
      size_t offset = Take().offset;
      Node operand = ParseNot();
      if (!operand) return {};
      auto e = std::make_unique<Expr>();
      e->kind = NodeKind::kUnary;
      e->op = Op::kNot;
      e->offset = offset;
      std::vector<Node> ch;
      ch.push_back(std::move(operand));
      return Make(std::move(e), std::move(ch));
    }
    return ParsePredicate();
  }

  static bool ComparisonOp(TokenKind k, Op* op) {
    switch (k) {
      case TokenKind::kEq:
        *op = Op::kEq;
        return true;
      case TokenKind::kNe:
        *op = Op::kNe;
        return true;
      case TokenKind::kLt:
        *op = Op::kLt;
        return true;
      case TokenKind::kLe:
        *op = Op::kLe;
        return true;
      case TokenKind::kGt:
        *op = Op::kGt;
        return true;
      case TokenKind::kGe:
        *op = Op::kGe;
        return true;
      default:
        return false;
    }
  }

  Node ParsePredicate() {
    Node l = ParseAdditive();
    while (l) {
      Op op;
      if (ComparisonOp(Peek().kind, &op)) {
        Take();
        Node r = ParseAdditive();
        if (!r) return {};
        l = MakeBinary(op, std::move(l), std::move(r));
      } else if (IsKeyword(Peek(), "in") ||
                 (IsKeyword(Peek(), "not") && IsKeyword(Peek(1), "in"))) {
        bool negated = AcceptKeyword("not");
        Take();  // in
        l = ParseInList(std::move(l), negated);
      } else if (IsKeyword(Peek(), "is")) {
        Take();
        bool negated = AcceptKeyword("not");
        if (!AcceptKeyword("null")) {
          return Expected(negated ? "'null' after 'is not'" : "'null' or 'not null' after 'is'");
        }
        auto e = std::make_unique<Expr>();
        e->kind = NodeKind::kIsNull;
        e->negated = negated;
        e->offset = l.e->offset;
        std::vector<Node> ch;
        ch.push_back(std::move(l));
        l = Make(std::move(e), std::move(ch));
      } else {
        break;
      }
    }
    return l;
  }

  Node ParseInList(Node left, bool negated) {
    if (!Expect(TokenKind::kLParen, "'(' after 'in'")) return {};
    auto e = std::make_unique<Expr>();
    e->kind = NodeKind::kIn;
    e->negated = negated;
    e->offset = left.e->offset;
    std::vector<Node> ch;
    ch.push_back(std::move(left));
    while (true) {
      Node item = ParseOr();
      if (!item) return {};
      ch.push_back(std::move(item));
      if (Peek().kind == TokenKind::kComma) {
        Take();
        continue;
      }
      if (!Expect(TokenKind::kRParen, "',' or ')' in the 'in' list")) return {};
      break;
    }
    return Make(std::move(e), std::move(ch));
  }

  Node ParseAdditive() {
    Node l = ParseMultiplicative();
    while (l) {
      Op op;
      if (Peek().kind == TokenKind::kPlus)
        op = Op::kAdd;
      else if (Peek().kind == TokenKind::kMinus)
        op = Op::kSub;
      else
        break;
      Take();
      Node r = ParseMultiplicative();
      if (!r) return {};
      l = MakeBinary(op, std::move(l), std::move(r));
    }
    return l;
  }

  Node ParseMultiplicative() {
    Node l = ParseUnary();
    while (l) {
      Op op;
      if (Peek().kind == TokenKind::kStar)
        op = Op::kMul;
      else if (Peek().kind == TokenKind::kSlash)
        op = Op::kDiv;
      else if (Peek().kind == TokenKind::kPercent)
        op = Op::kMod;
      else
        break;
      Take();
      Node r = ParseUnary();
      if (!r) return {};
      l = MakeBinary(op, std::move(l), std::move(r));
    }
    return l;
  }

  Node ParseUnary() {
    if (Peek().kind != TokenKind::kMinus) return ParsePrimary();
    DepthGuard g(&depth_);
    if (TooDeep()) return {};
    size_t offset = Take().offset;
    if (Peek().kind == TokenKind::kInteger || Peek().kind == TokenKind::kFloat) {
      return NumberLiteral(Take(), /*negative=*/true, offset);
    }
    Node operand = ParseUnary();
    if (!operand) return {};
    auto e = std::make_unique<Expr>();
    e->kind = NodeKind::kUnary;
    e->op = Op::kNeg;
    e->offset = offset;
    std::vector<Node> ch;
    ch.push_back(std::move(operand));
    return Make(std::move(e), std::move(ch));
  }

  Node NumberLiteral(const Token& t, bool negative, size_t offset) {
    auto e = std::make_unique<Expr>();
    e->kind = NodeKind::kLiteral;
    e->offset = offset;
    const char* first = t.text.data();
    const char* last = first + t.text.size();
    if (t.kind == TokenKind::kInteger) {
      uint64_t magnitude = 0;
      auto [p, ec] = std::from_chars(first, last, magnitude);
      const uint64_t limit = uint64_t{1} << 63;  // |INT64_MIN|
      if (ec != std::errc() || p != last || magnitude > limit ||
          (!negative && magnitude == limit)) {
        return Fail(offset, "integer " + std::string(negative ? "-" : "") + std::string(t.text) +
                                " is out of range for bigint (write it as a double, e.g. " +
                                std::string(t.text) + ".0)");
      }
      e->literal.type = TypeId::kBigint;
      // Two's complement negation in unsigned arithmetic: no overflow for 2^63.
      e->literal.i = static_cast<int64_t>(negative ? uint64_t{0} - magnitude : magnitude);
      return {std::move(e), 1};
    }
    double d = 0;
    auto [p, ec] = std::from_chars(first, last, d);
    if (ec != std::errc() || p != last || !std::isfinite(d)) {
      return Fail(offset, "number " + std::string(t.text) + " is out of range for double");
    }
    e->literal.type = TypeId::kDouble;
    e->literal.d = negative ? -d : d;
    return {std::move(e), 1};
  }

  Node ParsePrimary() {
    const Token& t = Peek();
    switch (t.kind) {
      case TokenKind::kInteger:
      case TokenKind::kFloat: {
        const Token& n = Take();
        return NumberLiteral(n, /*negative=*/false, n.offset);
      }
      case TokenKind::kString: {
        auto e = std::make_unique<Expr>();
        e->kind = NodeKind::kLiteral;
        e->offset = t.offset;
        e->literal.type = TypeId::kString;
        e->literal.s = t.value;
        Take();
        return {std::move(e), 1};
      }
      case TokenKind::kLParen: {
        size_t offset = Take().offset;
        Node inner = ParseOr();
        if (!inner) return {};
        if (!Expect(TokenKind::kRParen, "')'")) return {};
        inner.e->offset = offset;  // the node's text starts at '('
        return inner;
      }
      case TokenKind::kQuotedIdent:
        return ParseName();
      case TokenKind::kIdent:
        break;
      case TokenKind::kEnd:
        return Fail(t.offset, "expected an expression but found end of input");
      default:
        return Expected("an expression");
    }
    // An identifier: a keyword, a function call or a field.
    if (IsKeyword(t, "null") || IsKeyword(t, "true") || IsKeyword(t, "false")) {
      auto e = std::make_unique<Expr>();
      e->kind = NodeKind::kLiteral;
      e->offset = t.offset;
      if (IsKeyword(t, "null")) {
        e->literal.type = TypeId::kNull;
      } else {
        e->literal.type = TypeId::kBoolean;
        e->literal.i = IsKeyword(t, "true") ? 1 : 0;
      }
      Take();
      return {std::move(e), 1};
    }
    if (IsKeyword(t, "case")) return ParseCase();
    if (IsKeyword(t, "cast")) return ParseCast();
    if (internal::IsReservedWord(t.text)) {
      return Fail(t.offset, "expected an expression but found the keyword '" + std::string(t.text) +
                                "' (a field with this name must be written in backquotes)");
    }
    if (Peek(1).kind == TokenKind::kLParen) return ParseCall();
    return ParseName();
  }

  // name [ '.' name ], each either bare or backquoted.
  Node ParseName() {
    auto e = std::make_unique<Expr>();
    e->kind = NodeKind::kColumn;
    e->offset = Peek().offset;
    std::string first;
    if (!TakeName(&first)) return {};
    if (Peek().kind == TokenKind::kDot) {
      Take();
      std::string second;
      if (!TakeName(&second)) return {};
      e->qualifier = std::move(first);
      e->name = std::move(second);
    } else {
      e->name = std::move(first);
    }
    if (Peek().kind == TokenKind::kLParen) {
      return Fail(Peek().offset, "'" + ToString(*e) + "' is not a function");
    }
    return {std::move(e), 1};
  }

  bool TakeName(std::string* out) {
    const Token& t = Peek();
    if (t.kind == TokenKind::kQuotedIdent) {
      *out = t.value;
      Take();
      return true;
    }
    if (t.kind == TokenKind::kIdent && !internal::IsReservedWord(t.text)) {
      *out = std::string(t.text);
      Take();
      return true;
    }
    if (t.kind == TokenKind::kIdent) {
      Fail(t.offset, "expected a field name but found the keyword '" + std::string(t.text) +
                         "' (write `" + std::string(t.text) + "` for a field with this name)");
      return false;
    }
    Expected("a field name");
    return false;
  }

  Node ParseCall() {
    auto e = std::make_unique<Expr>();
    e->kind = NodeKind::kFunction;
    e->offset = Peek().offset;
    e->function = internal::ToLower(Take().text);
    Take();  // (
    std::vector<Node> args;
    if (Peek().kind == TokenKind::kRParen) {
      Take();
      return Make(std::move(e), std::move(args));
    }
    if (Peek().kind == TokenKind::kStar && Peek(1).kind == TokenKind::kRParen) {
      // count(*) is count().
      if (e->function != "count") {
        return Fail(Peek().offset, "'*' is only allowed in count(*)");
      }
      Take();
      Take();
      return Make(std::move(e), std::move(args));
    }
    while (true) {
      Node a = ParseOr();
      if (!a) return {};
      args.push_back(std::move(a));
      if (Peek().kind == TokenKind::kComma) {
        Take();
        continue;
      }
      if (!Expect(TokenKind::kRParen, "',' or ')' after an argument of '" + e->function + "'")) {
        return {};
      }
      break;
    }
    return Make(std::move(e), std::move(args));
  }

  Node ParseCase() {
    auto e = std::make_unique<Expr>();
    e->kind = NodeKind::kCase;
    e->offset = Take().offset;  // case
    std::vector<Node> ch;
    if (!IsKeyword(Peek(), "when")) return Expected("'when' after 'case'");
    while (AcceptKeyword("when")) {
      Node cond = ParseOr();
      if (!cond) return {};
      if (!AcceptKeyword("then")) return Expected("'then'");
      Node value = ParseOr();
      if (!value) return {};
      ch.push_back(std::move(cond));
      ch.push_back(std::move(value));
    }
    if (AcceptKeyword("else")) {
      Node value = ParseOr();
      if (!value) return {};
      ch.push_back(std::move(value));
      e->has_else = true;
    }
    if (!AcceptKeyword("end")) return Expected(e->has_else ? "'end'" : "'when', 'else' or 'end'");
    return Make(std::move(e), std::move(ch));
  }

  Node ParseCast() {
    auto e = std::make_unique<Expr>();
    e->kind = NodeKind::kCast;
    e->offset = Take().offset;  // cast
    if (!Expect(TokenKind::kLParen, "'(' after 'cast'")) return {};
    Node operand = ParseOr();
    if (!operand) return {};
    if (!AcceptKeyword("as")) return Expected("'as' in cast(x as type)");
    const Token& t = Peek();
    if (t.kind != TokenKind::kIdent) return Expected("a type name");
    auto type = ParseTypeName(internal::ToLower(t.text));
    if (!type) {
      std::string hint =
          DidYouMean(t.text, {"boolean", "bigint", "double", "string", "bytes", "timestamp"});
      if (hint.empty()) hint = " (expected boolean, bigint, double, string, bytes or timestamp)";
      return Fail(t.offset, "unknown type '" + std::string(t.text) + "' in cast" + hint);
    }
    Take();
    e->cast_type = *type;
    if (!Expect(TokenKind::kRParen, "')' to close cast(")) return {};
    std::vector<Node> ch;
    ch.push_back(std::move(operand));
    return Make(std::move(e), std::move(ch));
  }

  std::vector<Token> tokens_;
  ExprError* error_;
  size_t pos_ = 0;
  int depth_ = 0;
  bool failed_ = false;
};

// ---- ToString --------------------------------------------------------------

// Binding strength of a node when printed; children that bind more loosely
// than their position allows get parentheses.
enum Prec {
  kPrecOr = 1,
  kPrecAnd,
  kPrecNot,
  kPrecPredicate,
  kPrecAdd,
  kPrecMul,
  kPrecNeg,
  kPrecAtom
};

int PrecOf(const Expr& e) {
  switch (e.kind) {
    case NodeKind::kBinary:
      switch (e.op) {
        case Op::kOr:
          return kPrecOr;
        case Op::kAnd:
          return kPrecAnd;
        case Op::kAdd:
        case Op::kSub:
          return kPrecAdd;
        case Op::kMul:
        case Op::kDiv:
        case Op::kMod:
          return kPrecMul;
        default:
          return kPrecPredicate;
      }
    case NodeKind::kUnary:
      return e.op == Op::kNot ? kPrecNot : kPrecNeg;
    case NodeKind::kIn:
    case NodeKind::kIsNull:
      return kPrecPredicate;
    case NodeKind::kLiteral:
      // A negative number printed after another operator reads as a unary minus.
      if ((e.literal.type == TypeId::kBigint && e.literal.i < 0) ||
          (e.literal.type == TypeId::kDouble && std::signbit(e.literal.d))) {
        return kPrecNeg;
      }
      return kPrecAtom;
    default:
      return kPrecAtom;
  }
}

const char* OpText(Op op) {
  switch (op) {
    case Op::kAdd:
      return "+";
    case Op::kSub:
      return "-";
    case Op::kMul:
      return "*";
    case Op::kDiv:
      return "/";
    case Op::kMod:
      return "%";
    case Op::kEq:
      return "=";
    case Op::kNe:
      return "!=";
    case Op::kLt:
      return "<";
    case Op::kLe:
      return "<=";
    case Op::kGt:
      return ">";
    case Op::kGe:
      return ">=";
    case Op::kAnd:
      return "and";
    case Op::kOr:
      return "or";
    case Op::kNot:
      return "not";
    case Op::kNeg:
      return "-";
  }
  return "?";
}

void AppendName(std::string_view name, std::string* out) {
  if (internal::IsBareIdentifier(name)) {
    out->append(name);
    return;
  }
  out->push_back('`');
  for (char c : name) {
    if (c == '`') out->push_back('`');
    out->push_back(c);
  }
  out->push_back('`');
}

void AppendDouble(double d, std::string* out) {
  if (std::isnan(d)) {
    out->append("cast('NaN' as double)");
    return;
  }
  if (std::isinf(d)) {
    out->append(d > 0 ? "cast('Infinity' as double)" : "cast('-Infinity' as double)");
    return;
  }
  char buf[64];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, d);
  std::string_view s(buf, ec == std::errc() ? static_cast<size_t>(p - buf) : 0);
  out->append(s);
  if (s.find_first_of(".e") == std::string_view::npos) out->append(".0");
}

void Print(const Expr& e, std::string* out);

void PrintChild(const Expr& child, bool parens, std::string* out) {
  if (parens) out->push_back('(');
  Print(child, out);
  if (parens) out->push_back(')');
}

void Print(const Expr& e, std::string* out) {
  const auto& ch = e.children;
  switch (e.kind) {
    case NodeKind::kLiteral:
      switch (e.literal.type) {
        case TypeId::kNull:
          out->append("null");
          return;
        case TypeId::kBoolean:
          out->append(e.literal.i ? "true" : "false");
          return;
        case TypeId::kBigint:
        case TypeId::kTimestamp:
          out->append(std::to_string(e.literal.i));
          return;
        case TypeId::kDouble:
          AppendDouble(e.literal.d, out);
          return;
        case TypeId::kString:
        case TypeId::kBytes:
          out->push_back('\'');
          for (char c : e.literal.s) {
            if (c == '\'') out->push_back('\'');
            out->push_back(c);
          }
          out->push_back('\'');
          return;
      }
      return;
    case NodeKind::kColumn:
      if (!e.qualifier.empty()) {
        AppendName(e.qualifier, out);
        out->push_back('.');
      }
      AppendName(e.name, out);
      return;
    case NodeKind::kUnary: {
      if (ch.empty()) return;
      const int p = PrecOf(e);
      if (e.op == Op::kNot) {
        out->append("not ");
        PrintChild(*ch[0], PrecOf(*ch[0]) < p, out);
      } else {
        out->push_back('-');
        // "-(-x)" rather than "--x"; "-(5)" because "-5" reads back as a literal.
        const Expr& c = *ch[0];
        const bool number = c.kind == NodeKind::kLiteral && (c.literal.type == TypeId::kBigint ||
                                                             c.literal.type == TypeId::kDouble);
        PrintChild(c, number || PrecOf(c) <= p, out);
      }
      return;
    }
    case NodeKind::kBinary: {
      if (ch.size() < 2) return;
      const int p = PrecOf(e);
      PrintChild(*ch[0], PrecOf(*ch[0]) < p, out);
      out->push_back(' ');
      out->append(OpText(e.op));
      out->push_back(' ');
      PrintChild(*ch[1], PrecOf(*ch[1]) <= p, out);
      return;
    }
    case NodeKind::kFunction:
      out->append(e.function);
      out->push_back('(');
      for (size_t i = 0; i < ch.size(); ++i) {
        if (i) out->append(", ");
        Print(*ch[i], out);
      }
      out->push_back(')');
      return;
    case NodeKind::kCast:
      if (ch.empty()) return;
      out->append("cast(");
      Print(*ch[0], out);
      out->append(" as ");
      out->append(TypeName(e.cast_type));
      out->push_back(')');
      return;
    case NodeKind::kCase: {
      out->append("case");
      size_t pairs = (ch.size() - (e.has_else && !ch.empty() ? 1 : 0)) / 2;
      for (size_t i = 0; i < pairs; ++i) {
        out->append(" when ");
        Print(*ch[2 * i], out);
        out->append(" then ");
        Print(*ch[2 * i + 1], out);
      }
      if (e.has_else && !ch.empty()) {
        out->append(" else ");
        Print(*ch.back(), out);
      }
      out->append(" end");
      return;
    }
    case NodeKind::kIn:
      if (ch.empty()) return;
      PrintChild(*ch[0], PrecOf(*ch[0]) < kPrecPredicate, out);
      out->append(e.negated ? " not in (" : " in (");
      for (size_t i = 1; i < ch.size(); ++i) {
        if (i > 1) out->append(", ");
        Print(*ch[i], out);
      }
      out->push_back(')');
      return;
    case NodeKind::kIsNull:
      if (ch.empty()) return;
      PrintChild(*ch[0], PrecOf(*ch[0]) < kPrecPredicate, out);
      out->append(e.negated ? " is not null" : " is null");
      return;
  }
}

}  // namespace

std::unique_ptr<Expr> Parse(std::string_view text, ExprError* error) {
  std::vector<Token> tokens;
  if (!internal::Tokenize(text, &tokens, error)) return nullptr;
  return Parser(std::move(tokens), error).ParseAll();
}

std::string ToString(const Expr& e) {
  std::string out;
  Print(e, &out);
  return out;
}

}  // namespace weir::expr
