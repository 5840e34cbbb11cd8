// Tests of the function library (common/expr/functions_*.cc): each function
// with nulls, empty strings and multi-byte UTF-8; time zones across
// Europe/Berlin's DST changes and leap days; regular expressions that a
// backtracking engine would take exponential time on; bind errors at the
// offending argument; arguments from columns (the cached run-time path) next
// to literals (compiled once).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>

#include "tests/unit/expr_test_util.h"

namespace weir::expr {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using namespace weir::expr::test;

// A constant expression's value ("null", "12", "'abc'", ...).
std::string V(std::string_view text) {
  return Eval1(text);
}

// The timestamp literal of epoch milliseconds.
std::string Ts(int64_t ms) {
  return "cast(" + std::to_string(ms) + " as timestamp)";
}

// Bind error message of `text`.
std::string Err(std::string_view text, BindOptions options = {}) {
  return BindError(text, options).message;
}

// ---- Text -------------------------------------------------------------------

TEST(ExprFunctions, Trim) {
  EXPECT_EQ(V("trim('  a b  ')"), "'a b'");
  EXPECT_EQ(V("ltrim('  a b  ')"), "'a b  '");
  EXPECT_EQ(V("rtrim('  a b  ')"), "'  a b'");
  EXPECT_EQ(V("trim('xxaxyx', 'xy')"), "'a'");
  EXPECT_EQ(V("trim('')"), "''");
  EXPECT_EQ(V("trim('   ')"), "''");
  EXPECT_EQ(V("trim('\t a ')"), "'\t a'");  // only spaces by default, as PostgreSQL
  EXPECT_EQ(V("trim('ééaéé', 'é')"), "'a'");
  EXPECT_EQ(V("rtrim('aé€', '€')"), "'aé'");
  EXPECT_EQ(V("trim(null)"), "null");
  EXPECT_EQ(V("trim('a', null)"), "null");
}

TEST(ExprFunctions, ReplaceAndPredicates) {
  EXPECT_EQ(V("replace('a.b.c', '.', '::')"), "'a::b::c'");
  EXPECT_EQ(V("replace('aaa', 'aa', 'b')"), "'ba'");
  EXPECT_EQ(V("replace('abc', '', 'x')"), "'abc'");
  EXPECT_EQ(V("replace('straße', 'ß', 'ss')"), "'strasse'");
  EXPECT_EQ(V("replace(null, 'a', 'b')"), "null");
  EXPECT_EQ(V("starts_with('weir', 'we')"), "true");
  EXPECT_EQ(V("starts_with('weir', '')"), "true");
  EXPECT_EQ(V("starts_with('', 'a')"), "false");
  EXPECT_EQ(V("ends_with('weir', 'ir')"), "true");
  EXPECT_EQ(V("ends_with('weir', 'we')"), "false");
  EXPECT_EQ(V("ends_with(null, 'we')"), "null");
  EXPECT_EQ(V("strpos('high', 'ig')"), "2");
  EXPECT_EQ(V("strpos('high', 'x')"), "0");
  EXPECT_EQ(V("strpos('high', '')"), "1");
  EXPECT_EQ(V("strpos('€uro€', 'ro')"), "3");  // characters, not bytes
  EXPECT_EQ(V("strpos(null, 'a')"), "null");
}

TEST(ExprFunctions, Pad) {
  EXPECT_EQ(V("lpad('7', 3, '0')"), "'007'");
  EXPECT_EQ(V("rpad('7', 3, '0')"), "'700'");
  EXPECT_EQ(V("lpad('ab', 5)"), "'   ab'");
  EXPECT_EQ(V("lpad('hi', 5, 'xy')"), "'xyxhi'");
  EXPECT_EQ(V("lpad('hello', 2)"), "'he'");  // cut to n, keeping the start
  EXPECT_EQ(V("rpad('hello', 2)"), "'he'");
  EXPECT_EQ(V("lpad('hi', -1)"), "''");
  EXPECT_EQ(V("lpad('hi', 5, '')"), "'hi'");
  EXPECT_EQ(V("lpad('é', 3, 'ü')"), "'üüé'");
  EXPECT_EQ(V("rpad('日本', 3, '語')"), "'日本語'");
  EXPECT_EQ(V("lpad(null, 3)"), "null");
  EXPECT_EQ(V("lpad('a', null)"), "null");
  EXPECT_THAT(Err("lpad('a', 2000000)"), HasSubstr("over the limit of 1000000"));
  // From the data, an oversized length is null, not a huge allocation.
  RecordBatch b = MakeBatch({{"n", TypeId::kBigint, {I(3), I(1), I(5000000000)}}});
  EXPECT_THAT(Eval("lpad('x', n, '-')", b), ElementsAre("'--x'", "'x'", "null"));
}

TEST(ExprFunctions, SplitPart) {
  EXPECT_EQ(V("split_part('a,b,c', ',', 1)"), "'a'");
  EXPECT_EQ(V("split_part('a,b,c', ',', 3)"), "'c'");
  EXPECT_EQ(V("split_part('a,b,c', ',', 4)"), "''");
  EXPECT_EQ(V("split_part('a,b,c', ',', -1)"), "'c'");
  EXPECT_EQ(V("split_part('a,b,c', ',', -3)"), "'a'");
  EXPECT_EQ(V("split_part('a,b,c', ',', -4)"), "''");
  EXPECT_EQ(V("split_part('/usr/local/bin', '/', 2)"), "'usr'");
  EXPECT_EQ(V("split_part('a<>b<>c', '<>', -2)"), "'b'");
  EXPECT_EQ(V("split_part('', ',', 1)"), "''");
  EXPECT_EQ(V("split_part('abc', '', 1)"), "'abc'");
  EXPECT_EQ(V("split_part('abc', '', 2)"), "''");
  EXPECT_EQ(V("split_part('é|ü', '|', 2)"), "'ü'");
  EXPECT_EQ(V("split_part(null, ',', 1)"), "null");
  BindError("split_part('a', ',', 0)");
  EXPECT_THAT(Err("split_part('a', ',', 0)"), HasSubstr("not 0"));
  EXPECT_EQ(BindError("split_part('a', ',', 0)").offset, 21u);
  RecordBatch b = MakeBatch({{"n", TypeId::kBigint, {I(0), I(2), N()}}});
  EXPECT_THAT(Eval("split_part('a,b', ',', n)", b), ElementsAre("null", "'b'", "null"));
}

TEST(ExprFunctions, TextTypeErrors) {
  EXPECT_THAT(Err("trim(1)"), HasSubstr("function 'trim' expects string arguments, got bigint"));
  EXPECT_THAT(Err("strpos('a')"), HasSubstr("expects 2 arguments, got 1"));
  EXPECT_THAT(Err("split_part('a', ',', 'x')"), HasSubstr("expects a bigint field number"));
}

// ---- Math ---------------------------------------------------------------------

TEST(ExprFunctions, Math) {
  EXPECT_EQ(V("ceil(1.2)"), "2");
  EXPECT_EQ(TypeOf("ceil(1.2)"), TypeId::kDouble);
  EXPECT_EQ(V("ceil(-1.2)"), "-1");
  EXPECT_EQ(V("ceil(7)"), "7");
  EXPECT_EQ(TypeOf("ceil(7)"), TypeId::kBigint);
  EXPECT_EQ(V("sign(-3)"), "-1");
  EXPECT_EQ(TypeOf("sign(-3)"), TypeId::kBigint);
  EXPECT_EQ(V("sign(0.5)"), "1");
  EXPECT_EQ(TypeOf("sign(0.5)"), TypeId::kDouble);
  EXPECT_EQ(V("sign(0)"), "0");
  EXPECT_EQ(V("sqrt(16)"), "4");
  EXPECT_EQ(TypeOf("sqrt(16)"), TypeId::kDouble);
  EXPECT_EQ(V("sqrt(-1)"), "null");
  EXPECT_EQ(V("power(2, 10)"), "1024");
  EXPECT_EQ(V("power(2, -1)"), "0.5");
  EXPECT_EQ(V("power(0, -1)"), "null");
  EXPECT_EQ(V("power(-8, 0.5)"), "null");
  EXPECT_EQ(V("power(-2, 3)"), "-8");
  EXPECT_EQ(V("power(10, 400)"), "null");  // beyond double's range
  EXPECT_EQ(V("ln(1)"), "0");
  EXPECT_EQ(V("ln(0)"), "null");
  EXPECT_EQ(V("ln(-1)"), "null");
  EXPECT_EQ(V("exp(0)"), "1");
  EXPECT_EQ(V("exp(1000)"), "null");
  EXPECT_EQ(V("log10(1000)"), "3");
  EXPECT_EQ(V("log10(0)"), "null");
  EXPECT_EQ(V("sqrt(null)"), "null");
  EXPECT_THAT(Err("sqrt('a')"), HasSubstr("expects numeric arguments, got string"));
}

TEST(ExprFunctions, GreatestLeastNullif) {
  EXPECT_EQ(V("greatest(1, 5, 3)"), "5");
  EXPECT_EQ(TypeOf("greatest(1, 5, 3)"), TypeId::kBigint);
  EXPECT_EQ(V("least(1, 5, 3)"), "1");
  EXPECT_EQ(V("greatest(1, 2.5)"), "2.5");
  EXPECT_EQ(TypeOf("greatest(1, 2.5)"), TypeId::kDouble);
  EXPECT_EQ(V("greatest(null, 2, null)"), "2");
  EXPECT_EQ(V("least(null, null)"), "null");
  EXPECT_EQ(V("greatest('apple', 'pear')"), "'pear'");
  EXPECT_EQ(V("least('é', 'z')"), "'z'");  // byte order: 'z' < 0xC3
  RecordBatch b = MakeBatch(
      {{"x", TypeId::kBigint, {I(1), N(), N()}}, {"y", TypeId::kBigint, {N(), I(4), N()}}});
  EXPECT_THAT(Eval("greatest(x, y)", b), ElementsAre("1", "4", "null"));
  EXPECT_THAT(Eval("least(x, y, 2)", b), ElementsAre("1", "2", "2"));
  EXPECT_THAT(Err("greatest(1, 'a')"),
              HasSubstr("needs arguments of one type, got bigint and string"));

  EXPECT_EQ(V("nullif(1, 1)"), "null");
  EXPECT_EQ(V("nullif(1, 2)"), "1");
  EXPECT_EQ(V("nullif(1, 1.0)"), "null");
  EXPECT_EQ(V("nullif(1, null)"), "1");
  EXPECT_EQ(V("nullif('', '')"), "null");
  EXPECT_EQ(V("nullif('a', '')"), "'a'");
  EXPECT_EQ(V("nullif(null, 1)"), "null");
  EXPECT_THAT(Err("nullif(1, 'a')"), HasSubstr("cannot compare bigint with string"));
}

// ---- Regular expressions ----------------------------------------------------------

TEST(ExprFunctions, RegexpLike) {
  EXPECT_EQ(V("regexp_like('order-123', '[0-9]+')"), "true");
  EXPECT_EQ(V("regexp_like('order', '^[0-9]+$')"), "false");
  EXPECT_EQ(V("regexp_like('', '')"), "true");
  EXPECT_EQ(V("regexp_like('größe', '^gr.ße$')"), "true");  // . is one character
  EXPECT_EQ(V("regexp_like(null, 'a')"), "null");
  const ExprError e = BindError("regexp_like('a', 'a(b')");
  EXPECT_EQ(e.offset, 17u);
  EXPECT_THAT(e.message, HasSubstr("invalid regular expression: missing )"));
}

TEST(ExprFunctions, RegexpExtract) {
  EXPECT_EQ(V("regexp_extract('GET /a/b HTTP/1.1', '^(\\w+) (\\S+)')"), "'GET /a/b'");
  EXPECT_EQ(V("regexp_extract('GET /a/b HTTP/1.1', '^(\\w+) (\\S+)', 2)"), "'/a/b'");
  EXPECT_EQ(V("regexp_extract('abc', 'x')"), "null");
  EXPECT_EQ(V("regexp_extract('b', '(a)|(b)', 1)"), "null");  // the group took no part
  EXPECT_EQ(V("regexp_extract('b', '(a)|(b)', 2)"), "'b'");
  EXPECT_EQ(V("regexp_extract('a', 'a*?', 0)"), "''");
  EXPECT_EQ(V("regexp_extract('prix: 12€', '([0-9]+)(€)', 2)"), "'€'");
  EXPECT_THAT(Err("regexp_extract('a', '(a)', 2)"), HasSubstr("the pattern has 1 groups, not 2"));
  EXPECT_THAT(Err("regexp_extract('a', 'a', -1)"), HasSubstr("start at 0"));
}

TEST(ExprFunctions, RegexpReplace) {
  EXPECT_EQ(V("regexp_replace('a1b22c333', '[0-9]+', '#')"), "'a#b#c#'");
  EXPECT_EQ(V("regexp_replace('john smith', '(\\w+) (\\w+)', '\\2, \\1')"), "'smith, john'");
  EXPECT_EQ(V("regexp_replace('abc', 'x', 'y')"), "'abc'");
  EXPECT_EQ(V("regexp_replace('', 'x', 'y')"), "''");
  EXPECT_EQ(V("regexp_replace('čšž', 'š', 's')"), "'čsž'");
  EXPECT_THAT(Err("regexp_replace('a', '(a)', '\\2')"), HasSubstr("invalid replacement"));
  EXPECT_EQ(V("regexp_replace(null, 'a', 'b')"), "null");
}

TEST(ExprFunctions, RegexpFromColumnsAndBadPatternsAtRunTime) {
  RecordBatch b = MakeBatch({{"s", TypeId::kString, {S("a1"), S("b2"), S("c3"), S("d4")}},
                             {"p", TypeId::kString, {S("[a-b]"), S("(("), N(), S("[0-9]")}}});
  EXPECT_THAT(Eval("regexp_like(s, p)", b), ElementsAre("true", "null", "null", "true"));
  EXPECT_THAT(Eval("regexp_extract(s, p)", b), ElementsAre("'a'", "null", "null", "'4'"));
  EXPECT_THAT(Eval("regexp_replace(s, p, '_')", b), ElementsAre("'_1'", "null", "null", "'d_'"));
}

TEST(ExprFunctions, RegexpIsLinearTime) {
  // (a+)+$ against many a's and a final b: exponential for a backtracking
  // engine, linear for RE2.
  std::string s(10000, 'a');
  s += 'b';
  RecordBatch b = MakeBatch({{"s", TypeId::kString, {S(s), S(std::string(10000, 'a'))}}});
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THAT(Eval("regexp_like(s, '(a+)+$')", b), ElementsAre("false", "true"));
  EXPECT_THAT(Eval("regexp_like(s, '^(a|aa)+$')", b), ElementsAre("false", "true"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

// ---- JSON --------------------------------------------------------------------------

TEST(ExprFunctions, JsonValue) {
  const std::string doc =
      R"('{"user": {"id": 42, "name": "Zoë \"Z\""}, "items": [{"sku": "A-1", "price": 1.50},
          {"sku": "B-2", "price": 2e3}], "ok": true, "none": null, "big": 12345678901234567890,
          "dup": 1, "dup": 2, "a b": "spaced"}')";
  auto J = [&](const std::string& path) { return V("json_value(" + doc + ", '" + path + "')"); };
  EXPECT_EQ(J("$.user.id"), "'42'");
  EXPECT_EQ(J("$.user.name"), "'Zoë \"Z\"'");
  EXPECT_EQ(J("$.items[0].sku"), "'A-1'");
  EXPECT_EQ(J("$.items[0].price"), "'1.50'");  // as written
  EXPECT_EQ(J("$.items[1].price"), "'2e3'");
  EXPECT_EQ(J("$.big"), "'12345678901234567890'");
  EXPECT_EQ(J("$.ok"), "'true'");
  EXPECT_EQ(J("$.none"), "null");
  EXPECT_EQ(J("$.user"), "null");   // an object
  EXPECT_EQ(J("$.items"), "null");  // an array
  EXPECT_EQ(J("$.items[2].sku"), "null");
  EXPECT_EQ(J("$.missing"), "null");
  EXPECT_EQ(J("$.dup"), "'1'");  // the first of duplicate keys
  EXPECT_EQ(J("$[''a b'']"), "'spaced'");
  EXPECT_EQ(J("$[\"user\"].id"), "'42'");
  EXPECT_EQ(V("json_value('7', '$')"), "'7'");
  EXPECT_EQ(V("json_value('\"x\"', '$')"), "'x'");
  EXPECT_EQ(V("json_value('{\"a\": 1,', '$.a')"), "null");  // not JSON
  EXPECT_EQ(V("json_value('{\"a\": 1} x', '$.a')"), "null");
  EXPECT_EQ(V("json_value('', '$')"), "null");
  EXPECT_EQ(V("json_value(null, '$.a')"), "null");
  const ExprError e = BindError("json_value('{}', 'user.id')");
  EXPECT_EQ(e.offset, 17u);
  EXPECT_THAT(e.message, HasSubstr("invalid path 'user.id': a path starts with '$'"));
  EXPECT_THAT(Err("json_value('{}', '$.a[x]')"), HasSubstr("an array index is a number"));
  EXPECT_THAT(Err("json_value('{}', '$.')"), HasSubstr("a name is missing"));
}

TEST(ExprFunctions, JsonValueFromColumns) {
  RecordBatch b =
      MakeBatch({{"j",
                  TypeId::kString,
                  {S(R"({"a": {"b": -0.0}})"), S(R"({"a": [1, 2]})"), S("nope"), S(R"({"a": 1})")}},
                 {"p", TypeId::kString, {S("$.a.b"), S("$.a[1]"), S("$.a"), S("bad")}}});
  EXPECT_THAT(Eval("json_value(j, p)", b), ElementsAre("'-0.0'", "'2'", "null", "null"));
}

// ---- Digests -------------------------------------------------------------------------

TEST(ExprFunctions, Digests) {
  EXPECT_EQ(V("sha256('')"), "'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'");
  EXPECT_EQ(V("sha256('abc')"),
            "'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'");
  EXPECT_EQ(V("md5('abc')"), "'900150983cd24fb0d6963f7d28e17f72'");
  EXPECT_EQ(V("md5('é')"), "'66ddcd97cfdeabb2f6fb8a999b4bc76f'");  // UTF-8 bytes c3 a9
  EXPECT_EQ(V("sha256(null)"), "null");
  RecordBatch b = MakeBatch({{"by", TypeId::kBytes, {S("abc"), N()}}});
  EXPECT_THAT(Eval("md5(by)", b), ElementsAre("'900150983cd24fb0d6963f7d28e17f72'", "null"));
  EXPECT_THAT(Err("sha256(1)"), HasSubstr("expects a string or bytes argument, got bigint"));
}

TEST(ExprFunctions, HmacKeyedByAJobSecret) {
  BindOptions o;
  o.keys = std::make_shared<KeyRing>();
  o.keys->names.insert("pii");
  // RFC 4231 test case 2: key "Jefe".
  o.keys->values["pii"] = "Jefe";
  RecordBatch b = MakeBatch({{"s", TypeId::kString, {S("what do ya want for nothing?"), N()}}});
  EXPECT_THAT(
      Eval("hmac_sha256(s, 'pii')", b, o),
      ElementsAre("'5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843'", "null"));
  EXPECT_THAT(Err("hmac_sha256('x', 'pi')", o),
              HasSubstr("no secret 'pi' in the job's top-level `secrets:` (did you mean 'pii'?)"));
  EXPECT_THAT(Err("hmac_sha256('x', 'pii')"), HasSubstr("(the job has none)"));
  EXPECT_THAT(Err("hmac_sha256('x', s)", o), HasSubstr("the key is named by a string literal"));
}

// ---- Time ----------------------------------------------------------------------------

constexpr int64_t kLeap = 1709210096789;  // 2024-02-29T12:34:56.789Z, a Thursday

TEST(ExprFunctions, DateTruncUtc) {
  EXPECT_EQ(V("date_trunc('second', " + Ts(kLeap) + ")"), "1709210096000");
  EXPECT_EQ(V("date_trunc('minute', " + Ts(kLeap) + ")"), "1709210040000");
  EXPECT_EQ(V("date_trunc('hour', " + Ts(kLeap) + ")"), "1709208000000");
  EXPECT_EQ(V("date_trunc('day', " + Ts(kLeap) + ")"), "1709164800000");
  EXPECT_EQ(V("date_trunc('week', " + Ts(kLeap) + ")"), "1708905600000");  // Monday 02-26
  EXPECT_EQ(V("date_trunc('month', " + Ts(kLeap) + ")"), "1706745600000");
  EXPECT_EQ(V("date_trunc('year', " + Ts(kLeap) + ")"), "1704067200000");
  EXPECT_EQ(V("date_trunc('DAY', " + Ts(kLeap) + ")"), "1709164800000");
  EXPECT_EQ(V("date_trunc('day', " + Ts(-1) + ")"), "-86400000");  // before 1970
  EXPECT_EQ(V("date_trunc('day', null)"), "null");
  EXPECT_EQ(V("date_trunc('day', " + Ts(253402300800000) + ")"), "null");  // year 10000
  const ExprError e = BindError("date_trunc('fortnight', " + Ts(0) + ")");
  EXPECT_EQ(e.offset, 11u);
  EXPECT_THAT(e.message, HasSubstr("unknown unit 'fortnight'"));
  EXPECT_THAT(Err("date_trunc('dow', " + Ts(0) + ")"), HasSubstr("unknown unit 'dow'"));
  EXPECT_THAT(Err("date_trunc('day', 1)"), HasSubstr("expects a timestamp, got bigint"));
}

TEST(ExprFunctions, DateTruncAcrossBerlinDaylightSaving) {
  const std::string tz = ", 'Europe/Berlin')";
  // Spring forward, 2024-03-31 02:00 CET -> 03:00 CEST (01:00Z).
  EXPECT_EQ(V("date_trunc('hour', " + Ts(1711845000000) + tz), "1711843200000");  // 01:30 CET
  EXPECT_EQ(V("date_trunc('hour', " + Ts(1711848600000) + tz), "1711846800000");  // 03:30 CEST
  EXPECT_EQ(V("date_trunc('day', " + Ts(1711886400000) + tz), "1711839600000");   // 00:00 CET
  // Fall back, 2024-10-27 03:00 CEST -> 02:00 CET (01:00Z): 02:00 occurs
  // twice and maps to the earlier instant, for both 02:30s.
  EXPECT_EQ(V("date_trunc('hour', " + Ts(1729989000000) + tz), "1729987200000");  // 02:30 CEST
  EXPECT_EQ(V("date_trunc('hour', " + Ts(1729992600000) + tz), "1729987200000");  // 02:30 CET
  // The same rule for every unit: 02:30 CET, truncated to the minute, is the
  // local 02:30, whose earlier instant is 02:30 CEST.
  EXPECT_EQ(V("date_trunc('minute', " + Ts(1729992600000) + tz), "1729989000000");
  EXPECT_EQ(V("date_trunc('minute', " + Ts(1729992600000) + ")"), "1729992600000");
  // A local midnight that does not exist (Havana skips 00:00-01:00 on
  // 2024-03-10): the first instant after the gap.
  EXPECT_EQ(V("date_trunc('day', " + Ts(1710090000000) + ", 'America/Havana')"), "1710046800000");
  const ExprError e = BindError("date_trunc('day', " + Ts(0) + ", 'Mars/Olympus')");
  EXPECT_THAT(e.message, HasSubstr("unknown time zone 'Mars/Olympus'"));
}

TEST(ExprFunctions, DatePart) {
  EXPECT_EQ(V("date_part('year', " + Ts(kLeap) + ")"), "2024");
  EXPECT_EQ(V("date_part('month', " + Ts(kLeap) + ")"), "2");
  EXPECT_EQ(V("date_part('day', " + Ts(kLeap) + ")"), "29");
  EXPECT_EQ(V("date_part('hour', " + Ts(kLeap) + ")"), "12");
  EXPECT_EQ(V("date_part('minute', " + Ts(kLeap) + ")"), "34");
  EXPECT_EQ(V("date_part('second', " + Ts(kLeap) + ")"), "56");
  EXPECT_EQ(V("date_part('dow', " + Ts(kLeap) + ")"), "4");  // Thursday
  EXPECT_EQ(V("date_part('doy', " + Ts(kLeap) + ")"), "60");
  EXPECT_EQ(V("date_part('doy', " + Ts(1677628800000) + ")"), "60");  // 2023-03-01
  EXPECT_EQ(V("date_part('epoch', " + Ts(kLeap) + ")"), "1709210096");
  EXPECT_EQ(V("date_part('epoch', " + Ts(-1) + ")"), "-1");
  EXPECT_EQ(V("date_part('hour', " + Ts(1729992600000) + ", 'Europe/Berlin')"), "2");
  EXPECT_EQ(V("date_part('day', " + Ts(1711839600000) + ", 'Europe/Berlin')"), "31");
  EXPECT_THAT(Err("date_part('week', " + Ts(0) + ")"), HasSubstr("unknown unit 'week'"));
}

TEST(ExprFunctions, FormatTimestamp) {
  EXPECT_EQ(V("format_timestamp(" + Ts(kLeap) + ", '%Y-%m-%d %H:%M:%S.%L')"),
            "'2024-02-29 12:34:56.789'");
  EXPECT_EQ(V("format_timestamp(" + Ts(kLeap) + ", '%a %b %j %z %Z %% %F %T')"),
            "'Thu Feb 060 +0000 UTC % 2024-02-29 12:34:56'");
  const std::string tz = ", 'Europe/Berlin')";
  const std::string f = ", '%H:%M %Z %z'";
  EXPECT_EQ(V("format_timestamp(" + Ts(1711846799000) + f + tz), "'01:59 CET +0100'");
  EXPECT_EQ(V("format_timestamp(" + Ts(1711846800000) + f + tz), "'03:00 CEST +0200'");
  EXPECT_EQ(V("format_timestamp(" + Ts(1729989000000) + f + tz), "'02:30 CEST +0200'");
  EXPECT_EQ(V("format_timestamp(" + Ts(1729992600000) + f + tz), "'02:30 CET +0100'");
  EXPECT_EQ(V("format_timestamp(" + Ts(-1) + ", '%F %T.%L')"), "'1969-12-31 23:59:59.999'");
  EXPECT_EQ(V("format_timestamp(" + Ts(0) + ", 'é %Y €')"), "'é 1970 €'");
  EXPECT_EQ(V("format_timestamp(null, '%Y')"), "null");
  const ExprError e = BindError("format_timestamp(" + Ts(0) + ", '%Y-%q')");
  EXPECT_THAT(e.message, HasSubstr("unknown directive '%q'"));
  EXPECT_THAT(Err("format_timestamp(" + Ts(0) + ", '%')"), HasSubstr("lone '%'"));
}

TEST(ExprFunctions, TimeArgumentsFromColumns) {
  RecordBatch b =
      MakeBatch({{"ts", TypeId::kTimestamp, {I(kLeap), I(kLeap), I(kLeap), I(kLeap)}},
                 {"u", TypeId::kString, {S("day"), S("nope"), S("hour"), S("day")}},
                 {"z", TypeId::kString, {S("Asia/Kolkata"), S("UTC"), S("Not/AZone"), S("UTC")}},
                 {"f", TypeId::kString, {S("%H:%M"), S("%Y"), S("%H"), S("%Q")}}});
  EXPECT_THAT(Eval("date_trunc(u, ts, z)", b),
              ElementsAre("1709145000000", "null", "null", "1709164800000"));
  EXPECT_THAT(Eval("date_part(u, ts, z)", b), ElementsAre("29", "null", "null", "29"));
  EXPECT_THAT(Eval("format_timestamp(ts, f, z)", b),
              ElementsAre("'18:04'", "'2024'", "null", "null"));
}

TEST(ExprFunctions, ZoneNamesReachOnlyTheZoneDatabase) {
  RecordBatch b = MakeBatch({{"z",
                              TypeId::kString,
                              {S("../../../etc/passwd"), S("/etc/localtime"), S("localtime"),
                               S("Europe"), S("zone.tab"), S("Europe/Berlin")}}});
  EXPECT_THAT(Eval("date_part('hour', " + Ts(0) + ", z)", b),
              ElementsAre("null", "null", "null", "null", "null", "1"));
  EXPECT_THAT(Err("date_part('hour', " + Ts(0) + ", 'localtime')"),
              HasSubstr("unknown time zone 'localtime'"));
}

TEST(ExprFunctions, UnknownFunctionSuggestsLibraryNames) {
  EXPECT_THAT(Err("regex_like('a', 'b')"), HasSubstr("did you mean 'regexp_like'?"));
  EXPECT_THAT(Err("json_val('a', '$')"), HasSubstr("did you mean 'json_value'?"));
}

}  // namespace
}  // namespace weir::expr
