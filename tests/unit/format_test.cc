// Tests of the record formats (common/format/format.h): json, csv and raw
// decoders and encoders.
#include "common/format/format.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/batch.h"
#include "common/time.h"
#include "common/types.h"

namespace weir::format {
namespace {

using ::weir::spec::FieldSpec;
using ::weir::spec::FormatSpec;

std::shared_ptr<const Schema> MakeSchema(std::vector<Field> fields) {
  return std::make_shared<const Schema>(std::move(fields));
}

// One field of every type: b boolean, n bigint, d double, s string, y bytes, t timestamp.
std::shared_ptr<const Schema> AllTypes() {
  return MakeSchema({{"b", TypeId::kBoolean},
                     {"n", TypeId::kBigint},
                     {"d", TypeId::kDouble},
                     {"s", TypeId::kString},
                     {"y", TypeId::kBytes},
                     {"t", TypeId::kTimestamp}});
}

FormatSpec Format(std::string type, std::map<std::string, std::string> options = {}) {
  FormatSpec f;
  f.type = std::move(type);
  f.options = std::move(options);
  return f;
}

FieldSpec FieldWith(std::string name, TypeId type, std::vector<std::string> aliases,
                    std::optional<std::string> default_value = std::nullopt) {
  FieldSpec f;
  f.name = std::move(name);
  f.type = type;
  f.aliases = std::move(aliases);
  f.default_value = std::move(default_value);
  return f;
}

struct Decoded {
  RecordBatch batch;
  std::vector<DecodeError> errors;
  std::vector<uint32_t> rows_of;
};

Decoded DecodeWith(Decoder* decoder, std::shared_ptr<const Schema> schema,
                   const std::vector<std::string>& payloads) {
  Decoded out{RecordBatch(std::move(schema)), {}, {}};
  std::vector<std::string_view> views(payloads.begin(), payloads.end());
  decoder->Decode(views, &out.batch, &out.errors, &out.rows_of);
  return out;
}

Decoded DecodeAll(const FormatSpec& format, std::shared_ptr<const Schema> schema,
                  const std::vector<std::string>& payloads,
                  const std::vector<FieldSpec>& fields = {}) {
  auto decoder = MakeDecoder(format, *schema, fields);
  EXPECT_TRUE(decoder.ok()) << decoder.status().ToString();
  return DecodeWith(decoder.value().get(), std::move(schema), payloads);
}

Decoded DecodeJson(std::shared_ptr<const Schema> schema, const std::vector<std::string>& payloads,
                   const std::vector<FieldSpec>& fields = {}) {
  return DecodeAll(Format("json"), std::move(schema), payloads, fields);
}

// The one error of decoding one payload, or "" when it decoded.
std::string JsonError(std::shared_ptr<const Schema> schema, const std::string& payload) {
  Decoded d = DecodeJson(std::move(schema), {payload});
  if (d.errors.empty()) {
    EXPECT_EQ(d.batch.num_rows(), 1u);
    return "";
  }
  EXPECT_EQ(d.batch.num_rows(), 0u);
  EXPECT_EQ(d.errors.size(), 1u);
  EXPECT_EQ(d.errors[0].index, 0u);
  return d.errors[0].reason;
}

std::string EncodeRow(const FormatSpec& format, const RecordBatch& batch, size_t row) {
  auto encoder = MakeEncoder(format, *batch.schema);
  EXPECT_TRUE(encoder.ok()) << encoder.status().ToString();
  std::string out;
  encoder.value()->Encode(batch, row, &out);
  return out;
}

// Every column has one value per row: a bad payload left no partial row.
void ExpectConsistent(const RecordBatch& batch) {
  for (const Column& c : batch.columns) EXPECT_EQ(c.size(), batch.num_rows());
}

void ExpectSameValue(const Column& a, size_t ra, const Column& b, size_t rb,
                     const std::string& what) {
  ASSERT_EQ(a.type(), b.type()) << what;
  ASSERT_EQ(a.IsNull(ra), b.IsNull(rb))
      << what << ": " << a.ValueToString(ra) << " vs " << b.ValueToString(rb);
  if (a.IsNull(ra)) return;
  switch (a.type()) {
    case TypeId::kNull:
      break;
    case TypeId::kBoolean:
    case TypeId::kBigint:
    case TypeId::kTimestamp:
      EXPECT_EQ(a.GetInt(ra), b.GetInt(rb)) << what;
      break;
    case TypeId::kDouble:
      EXPECT_EQ(a.GetDouble(ra), b.GetDouble(rb)) << what;
      EXPECT_EQ(std::signbit(a.GetDouble(ra)), std::signbit(b.GetDouble(rb))) << what;
      break;
    case TypeId::kString:
    case TypeId::kBytes:
      EXPECT_EQ(a.GetString(ra), b.GetString(rb)) << what;
      break;
  }
}

// ---------------------------------------------------------------- factory

TEST(FormatFactory, MakesJsonCsvAndRaw) {
  Schema schema({{"value", TypeId::kBytes}});
  for (const char* type : {"json", "csv", "raw"}) {
    EXPECT_TRUE(MakeDecoder(Format(type), schema, {}).ok()) << type;
    EXPECT_TRUE(MakeEncoder(Format(type), schema).ok()) << type;
  }
}

TEST(FormatFactory, UnknownTypeFails) {
  Schema schema({{"value", TypeId::kBytes}});
  auto d = MakeDecoder(Format("avro"), schema, {});
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(d.status().message().find("avro"), std::string::npos);
  EXPECT_FALSE(MakeEncoder(Format("xml"), schema).ok());
}

// ---------------------------------------------------------------- json decoding

TEST(JsonDecoder, DecodesEveryType) {
  Decoded d = DecodeJson(AllTypes(), {R"({"b":true,"n":-42,"d":1.5,"s":"hi","y":"raw",)"
                                      R"("t":"2024-05-01T12:00:00.123Z"})"});
  ASSERT_TRUE(d.errors.empty()) << d.errors[0].reason;
  ASSERT_EQ(d.batch.num_rows(), 1u);
  const auto& c = d.batch.columns;
  EXPECT_TRUE(c[0].GetBool(0));
  EXPECT_EQ(c[1].GetInt(0), -42);
  EXPECT_EQ(c[2].GetDouble(0), 1.5);
  EXPECT_EQ(c[3].GetString(0), "hi");
  EXPECT_EQ(c[4].GetString(0), "raw");
  EXPECT_EQ(c[5].GetInt(0), 1714564800123);
  EXPECT_EQ(d.batch.event_time, std::vector<int64_t>{0});
  EXPECT_EQ(d.rows_of, std::vector<uint32_t>{0});
}

TEST(JsonDecoder, FindsFieldUnderItsNameOrAnAlias) {
  auto schema = MakeSchema({{"user_id", TypeId::kString}, {"amount", TypeId::kDouble}});
  std::vector<FieldSpec> fields = {FieldWith("user_id", TypeId::kString, {"userId", "uid"}),
                                   FieldWith("amount", TypeId::kDouble, {})};
  Decoded d = DecodeJson(schema,
                         {R"({"user_id":"a","amount":1})", R"({"userId":"b","amount":2})",
                          R"({"uid":"c","amount":3})", R"({"amount":4})"},
                         fields);
  ASSERT_TRUE(d.errors.empty());
  ASSERT_EQ(d.batch.num_rows(), 4u);
  EXPECT_EQ(d.batch.columns[0].GetString(0), "a");
  EXPECT_EQ(d.batch.columns[0].GetString(1), "b");
  EXPECT_EQ(d.batch.columns[0].GetString(2), "c");
  EXPECT_TRUE(d.batch.columns[0].IsNull(3));
}

TEST(JsonDecoder, FirstPresentNameInDeclarationOrderWinsAmongAliases) {
  auto schema = MakeSchema({{"user_id", TypeId::kString}});
  std::vector<FieldSpec> fields = {FieldWith("user_id", TypeId::kString, {"userId", "uid"})};
  Decoded d = DecodeJson(schema,
                         {R"({"uid":"3","userId":"2"})", R"({"uid":"3","user_id":"1"})",
                          R"({"userId":"2","user_id":"1","uid":"3"})", R"({"uid":"3"})"},
                         fields);
  ASSERT_TRUE(d.errors.empty());
  EXPECT_EQ(d.batch.columns[0].GetString(0), "2");
  EXPECT_EQ(d.batch.columns[0].GetString(1), "1");
  EXPECT_EQ(d.batch.columns[0].GetString(2), "1");
  EXPECT_EQ(d.batch.columns[0].GetString(3), "3");
}

TEST(JsonDecoder, AliasWithNullValueStillCountsAsPresent) {
  auto schema = MakeSchema({{"n", TypeId::kBigint}});
  std::vector<FieldSpec> fields = {FieldWith("n", TypeId::kBigint, {"num"}, "7")};
  Decoded d = DecodeJson(schema, {R"({"num":null})"}, fields);
  ASSERT_TRUE(d.errors.empty());
  EXPECT_TRUE(d.batch.columns[0].IsNull(0));
}

TEST(JsonDecoder, RepeatedKeyFirstOccurrenceWins) {
  Decoded d = DecodeJson(MakeSchema({{"n", TypeId::kBigint}}), {R"({"n":1,"n":2})"});
  ASSERT_TRUE(d.errors.empty());
  EXPECT_EQ(d.batch.columns[0].GetInt(0), 1);
}

TEST(JsonDecoder, MissingFieldTakesItsDefaultConvertedToTheFieldType) {
  std::vector<FieldSpec> fields = {FieldWith("b", TypeId::kBoolean, {}, "true"),
                                   FieldWith("n", TypeId::kBigint, {}, "-5"),
                                   FieldWith("d", TypeId::kDouble, {}, "2.5"),
                                   FieldWith("s", TypeId::kString, {}, "none"),
                                   FieldWith("y", TypeId::kBytes, {}, ""),
                                   FieldWith("t", TypeId::kTimestamp, {}, "1970-01-01T00:00:01Z")};
  Decoded d = DecodeJson(AllTypes(), {"{}", R"({"n":9})"}, fields);
  ASSERT_TRUE(d.errors.empty()) << d.errors[0].reason;
  const auto& c = d.batch.columns;
  EXPECT_TRUE(c[0].GetBool(0));
  EXPECT_EQ(c[1].GetInt(0), -5);
  EXPECT_EQ(c[2].GetDouble(0), 2.5);
  EXPECT_EQ(c[3].GetString(0), "none");
  EXPECT_FALSE(c[4].IsNull(0));
  EXPECT_EQ(c[4].GetString(0), "");
  EXPECT_EQ(c[5].GetInt(0), 1000);
  EXPECT_EQ(c[1].GetInt(1), 9);  // present: the default does not apply
}

TEST(JsonDecoder, MissingFieldWithoutDefaultIsNull) {
  Decoded d = DecodeJson(AllTypes(), {"{}", R"({"other":1})"});
  ASSERT_TRUE(d.errors.empty());
  ASSERT_EQ(d.batch.num_rows(), 2u);
  for (const Column& c : d.batch.columns) {
    EXPECT_TRUE(c.IsNull(0));
    EXPECT_TRUE(c.IsNull(1));
  }
}

TEST(JsonDecoder, ExplicitNullIsNullEvenWhenThereIsADefault) {
  std::vector<FieldSpec> fields = {FieldWith("n", TypeId::kBigint, {}, "5")};
  Decoded d = DecodeJson(AllTypes(), {R"({"b":null,"n":null,"d":null,"s":null,"y":null,"t":null})"},
                         fields);
  ASSERT_TRUE(d.errors.empty());
  for (const Column& c : d.batch.columns) EXPECT_TRUE(c.IsNull(0));
}

TEST(JsonDecoder, DefaultThatDoesNotFitItsTypeIsAnErrorWhenUsed) {
  auto schema = MakeSchema({{"n", TypeId::kBigint}});
  std::vector<FieldSpec> fields = {FieldWith("n", TypeId::kBigint, {}, "lots")};
  Decoded d = DecodeJson(schema, {R"({"n":1})", "{}"}, fields);
  EXPECT_EQ(d.rows_of, std::vector<uint32_t>{0});
  ASSERT_EQ(d.errors.size(), 1u);
  EXPECT_EQ(d.errors[0].index, 1u);
  EXPECT_NE(d.errors[0].reason.find("field 'n'"), std::string::npos) << d.errors[0].reason;
  EXPECT_NE(d.errors[0].reason.find("\"lots\""), std::string::npos) << d.errors[0].reason;
}

TEST(JsonDecoder, UnknownFieldsAreIgnored) {
  Decoded d = DecodeJson(MakeSchema({{"n", TypeId::kBigint}}),
                         {R"({"x":{"deep":[1,2,{"a":null}]},"n":3,"z":"q"})"});
  ASSERT_TRUE(d.errors.empty());
  EXPECT_EQ(d.batch.columns[0].GetInt(0), 3);
}

TEST(JsonDecoder, BigintTakesIntegersAndIntegerStrings) {
  auto schema = MakeSchema({{"n", TypeId::kBigint}});
  Decoded d =
      DecodeJson(schema, {R"({"n":0})", R"({"n":-9223372036854775808})",
                          R"({"n":9223372036854775807})", R"({"n":"123"})", R"({"n":"-7"})"});
  ASSERT_TRUE(d.errors.empty()) << d.errors[0].reason;
  const Column& c = d.batch.columns[0];
  EXPECT_EQ(c.GetInt(0), 0);
  EXPECT_EQ(c.GetInt(1), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(c.GetInt(2), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(c.GetInt(3), 123);
  EXPECT_EQ(c.GetInt(4), -7);
}

TEST(JsonDecoder, FloatForBigintIsAnErrorNamingTheField) {
  auto schema = MakeSchema({{"qty", TypeId::kBigint}});
  EXPECT_EQ(JsonError(schema, R"({"qty":1.5})"), "field 'qty': expected an integer, got 1.5");
  EXPECT_EQ(JsonError(schema, R"({"qty":2.0})"), "field 'qty': expected an integer, got 2.0");
  EXPECT_EQ(JsonError(schema, R"({"qty":1e3})"), "field 'qty': expected an integer, got 1000.0");
  EXPECT_EQ(JsonError(schema, R"({"qty":"abc"})"),
            R"(field 'qty': expected an integer, got "abc")");
  EXPECT_EQ(JsonError(schema, R"({"qty":"1.5"})"),
            R"(field 'qty': expected an integer, got "1.5")");
  EXPECT_EQ(JsonError(schema, R"({"qty":true})"), "field 'qty': expected an integer, got true");
  EXPECT_EQ(JsonError(schema, R"({"qty":[1]})"), "field 'qty': expected an integer, got an array");
  EXPECT_EQ(JsonError(schema, R"({"qty":{}})"), "field 'qty': expected an integer, got an object");
}

TEST(JsonDecoder, HugeNumbersAreErrors) {
  auto schema = MakeSchema({{"n", TypeId::kBigint}});
  // Beyond int64 but within uint64: the field's type is named.
  EXPECT_EQ(JsonError(schema, R"({"n":9223372036854775808})"),
            "field 'n': 9223372036854775808 is out of range for bigint");
  EXPECT_EQ(JsonError(schema, R"({"n":"99999999999999999999"})"),
            R"(field 'n': integer "99999999999999999999" is out of range for bigint)");
  // Beyond every number type the parser has: the payload is not valid JSON for it.
  EXPECT_NE(JsonError(schema, R"({"n":123456789012345678901234567890})").find("invalid JSON"),
            std::string::npos);
  EXPECT_NE(JsonError(schema, R"({"n":1e400})").find("invalid JSON"), std::string::npos);
  auto doubles = MakeSchema({{"d", TypeId::kDouble}});
  EXPECT_EQ(JsonError(doubles, R"({"d":"1e400"})"),
            R"(field 'd': number "1e400" is out of range for double)");
  EXPECT_EQ(JsonError(doubles, R"({"d":18446744073709551615})"), "");
}

TEST(JsonDecoder, DoubleTakesAnyNumberAndNumericStrings) {
  auto schema = MakeSchema({{"amount", TypeId::kDouble}});
  Decoded d = DecodeJson(schema, {R"({"amount":3})", R"({"amount":-2.25})", R"({"amount":1e-3})",
                                  R"({"amount":"4.5"})", R"({"amount":"-6e2"})"});
  ASSERT_TRUE(d.errors.empty()) << d.errors[0].reason;
  const Column& c = d.batch.columns[0];
  EXPECT_EQ(c.GetDouble(0), 3.0);
  EXPECT_EQ(c.GetDouble(1), -2.25);
  EXPECT_EQ(c.GetDouble(2), 1e-3);
  EXPECT_EQ(c.GetDouble(3), 4.5);
  EXPECT_EQ(c.GetDouble(4), -600.0);
}

TEST(JsonDecoder, NonNumericStringForDoubleIsAnErrorNamingTheField) {
  auto schema = MakeSchema({{"amount", TypeId::kDouble}});
  EXPECT_EQ(JsonError(schema, R"({"amount":"abc"})"),
            R"(field 'amount': expected a number, got "abc")");
  EXPECT_EQ(JsonError(schema, R"({"amount":"NaN"})"),
            R"(field 'amount': expected a number, got "NaN")");
  EXPECT_EQ(JsonError(schema, R"({"amount":"inf"})"),
            R"(field 'amount': expected a number, got "inf")");
  EXPECT_EQ(JsonError(schema, R"({"amount":" 1"})"),
            R"(field 'amount': expected a number, got " 1")");
  EXPECT_EQ(JsonError(schema, R"({"amount":false})"),
            "field 'amount': expected a number, got false");
}

TEST(JsonDecoder, BooleanTakesTrueAndFalseOnly) {
  auto schema = MakeSchema({{"ok", TypeId::kBoolean}});
  Decoded d = DecodeJson(schema, {R"({"ok":true})", R"({"ok":false})"});
  ASSERT_TRUE(d.errors.empty());
  EXPECT_TRUE(d.batch.columns[0].GetBool(0));
  EXPECT_FALSE(d.batch.columns[0].GetBool(1));
  EXPECT_EQ(JsonError(schema, R"({"ok":"true"})"),
            R"(field 'ok': expected true or false, got "true")");
  EXPECT_EQ(JsonError(schema, R"({"ok":1})"), "field 'ok': expected true or false, got 1");
}

TEST(JsonDecoder, TimestampTakesIsoTextAndEpochMillis) {
  auto schema = MakeSchema({{"ts", TypeId::kTimestamp}});
  Decoded d =
      DecodeJson(schema, {R"({"ts":"2024-05-01T12:00:00Z"})",
                          R"({"ts":"2024-05-01T14:00:00.5+02:00"})", R"({"ts":1714564800123})",
                          R"({"ts":"1714564800123"})", R"({"ts":-1})", R"({"ts":"2024-05-01"})"});
  ASSERT_TRUE(d.errors.empty()) << d.errors[0].reason;
  const Column& c = d.batch.columns[0];
  EXPECT_EQ(c.GetInt(0), 1714564800000);
  EXPECT_EQ(c.GetInt(1), 1714564800500);
  EXPECT_EQ(c.GetInt(2), 1714564800123);
  EXPECT_EQ(c.GetInt(3), 1714564800123);
  EXPECT_EQ(c.GetInt(4), -1);
  EXPECT_EQ(c.GetInt(5), 1714521600000);
}

TEST(JsonDecoder, BadTimestampIsAnErrorNamingTheField) {
  auto schema = MakeSchema({{"ts", TypeId::kTimestamp}});
  EXPECT_EQ(JsonError(schema, R"({"ts":"yesterday"})"),
            R"(field 'ts': expected an ISO-8601 timestamp or epoch milliseconds, got "yesterday")");
  EXPECT_EQ(JsonError(schema, R"({"ts":"2024-13-01T00:00:00Z"})"),
            R"(field 'ts': expected an ISO-8601 timestamp or epoch milliseconds, got )"
            R"("2024-13-01T00:00:00Z")");
  EXPECT_EQ(JsonError(schema, R"({"ts":1.5})"),
            "field 'ts': expected an ISO-8601 timestamp or epoch milliseconds, got 1.5");
  EXPECT_EQ(JsonError(schema, R"({"ts":true})"),
            "field 'ts': expected an ISO-8601 timestamp or epoch milliseconds, got true");
  EXPECT_EQ(JsonError(schema, R"({"ts":18446744073709551615})"),
            "field 'ts': 18446744073709551615 is out of range for timestamp");
}

TEST(JsonDecoder, StringKeepsNumbersAndBooleansAsText) {
  auto schema = MakeSchema({{"s", TypeId::kString}});
  Decoded d =
      DecodeJson(schema, {R"({"s":42})", R"({"s":-1.25})", R"({"s":true})", R"({"s":false})",
                          R"({"s":2.0})", R"({"s":18446744073709551615})"});
  ASSERT_TRUE(d.errors.empty());
  const Column& c = d.batch.columns[0];
  EXPECT_EQ(c.GetString(0), "42");
  EXPECT_EQ(c.GetString(1), "-1.25");
  EXPECT_EQ(c.GetString(2), "true");
  EXPECT_EQ(c.GetString(3), "false");
  EXPECT_EQ(c.GetString(4), "2.0");
  EXPECT_EQ(c.GetString(5), "18446744073709551615");
}

TEST(JsonDecoder, StringFieldHoldsNestedObjectsAndArraysAsMinifiedJsonText) {
  auto schema = MakeSchema({{"s", TypeId::kString}, {"n", TypeId::kBigint}});
  Decoded d = DecodeJson(
      schema, {R"({"s": { "a" : [1, "x\n\u00e9", null, 2.5], "b": {"c": true} }, "n": 1})",
               R"({"s":[],"n":2})", R"({"s":[{}],"n":3})"});
  ASSERT_TRUE(d.errors.empty()) << d.errors[0].reason;
  const Column& c = d.batch.columns[0];
  EXPECT_EQ(c.GetString(0), "{\"a\":[1,\"x\\n\xc3\xa9\",null,2.5],\"b\":{\"c\":true}}");
  EXPECT_EQ(c.GetString(1), "[]");
  EXPECT_EQ(c.GetString(2), "[{}]");
  EXPECT_EQ(d.batch.columns[1].GetInt(2), 3);
}

TEST(JsonDecoder, StringEscapesAreDecoded) {
  auto schema = MakeSchema({{"s", TypeId::kString}});
  Decoded d = DecodeJson(schema, {R"({"s":"a\"b\\c\/d\n\t\u00e9\u0000z\ud83d\ude00"})"});
  ASSERT_TRUE(d.errors.empty());
  EXPECT_EQ(d.batch.columns[0].GetString(0),
            std::string("a\"b\\c/d\n\t\xc3\xa9\0z\xf0\x9f\x98\x80", 17));
}

TEST(JsonDecoder, KeysWithEscapesMatchTheirUnescapedName) {
  auto schema = MakeSchema({{"na\"me", TypeId::kBigint}, {"caf\xc3\xa9", TypeId::kBigint}});
  Decoded d = DecodeJson(schema, {R"({"na\"me":1,"caf\u00e9":2})"});
  ASSERT_TRUE(d.errors.empty());
  EXPECT_EQ(d.batch.columns[0].GetInt(0), 1);
  EXPECT_EQ(d.batch.columns[1].GetInt(0), 2);
}

TEST(JsonDecoder, BytesTakeStringsOnly) {
  auto schema = MakeSchema({{"y", TypeId::kBytes}});
  Decoded d = DecodeJson(schema, {R"({"y":"\u0001bin"})"});
  ASSERT_TRUE(d.errors.empty());
  EXPECT_EQ(d.batch.columns[0].GetString(0),
            "\x01"
            "bin");
  EXPECT_EQ(JsonError(schema, R"({"y":12})"), "field 'y': expected a string, got 12");
  EXPECT_EQ(JsonError(schema, R"({"y":{}})"), "field 'y': expected a string, got an object");
}

TEST(JsonDecoder, InvalidJsonIsAnError) {
  auto schema = MakeSchema({{"n", TypeId::kBigint}});
  for (const char* bad :
       {R"({"n":1,})", R"({"n" 1})", R"({n:1})", R"({"n":01})", R"({"n":tru})", R"({"n":1}x)",
        R"({"n":1}{"n":2})", R"({"n":"a)", R"({"x":[1,,2],"n":1})", R"({"x":"\q","n":1})",
        "{\"x\":\"\x01\",\"n\":1}", R"({'n':1})", "\xef\xbb\xbf{\"n\":1}", "nul"}) {
    std::string reason = JsonError(schema, bad);
    EXPECT_EQ(reason.rfind("invalid JSON: ", 0), 0u) << bad << " -> " << reason;
  }
}

TEST(JsonDecoder, InvalidUtf8IsAnError) {
  auto schema = MakeSchema({{"s", TypeId::kString}});
  EXPECT_EQ(JsonError(schema, "{\"s\":\"\xff\"}").rfind("invalid JSON: ", 0), 0u);
  EXPECT_EQ(JsonError(schema, "{\"s\":\"\xc3\"}").rfind("invalid JSON: ", 0), 0u);
  EXPECT_EQ(JsonError(schema, "{\"s\":\"\xed\xa0\x80\"}").rfind("invalid JSON: ", 0), 0u);
}

TEST(JsonDecoder, EmptyPayloadIsAnError) {
  auto schema = MakeSchema({{"n", TypeId::kBigint}});
  EXPECT_EQ(JsonError(schema, ""), "invalid JSON: empty payload");
  EXPECT_EQ(JsonError(schema, "   \n").rfind("invalid JSON: ", 0), 0u);
}

TEST(JsonDecoder, TruncatedInputIsAnError) {
  auto schema = AllTypes();
  const std::string full =
      R"({"b":true,"n":-42,"d":1.5,"s":"hi","y":"raw","t":"2024-05-01T12:00:00.123Z"})";
  ASSERT_EQ(JsonError(schema, full), "");
  for (size_t len = 0; len < full.size(); ++len) {
    std::string reason = JsonError(schema, full.substr(0, len));
    EXPECT_EQ(reason.rfind("invalid JSON: ", 0), 0u) << len << ": " << reason;
  }
}

TEST(JsonDecoder, TopLevelMustBeAnObject) {
  auto schema = MakeSchema({{"n", TypeId::kBigint}});
  EXPECT_EQ(JsonError(schema, "[1,2]"), "expected a JSON object, got an array");
  EXPECT_EQ(JsonError(schema, "42"), "expected a JSON object, got a number");
  EXPECT_EQ(JsonError(schema, R"("x")"), "expected a JSON object, got a string");
  EXPECT_EQ(JsonError(schema, "null"), "expected a JSON object, got null");
}

TEST(JsonDecoder, DeepNestingIsAnErrorNotACrash) {
  auto schema = MakeSchema({{"s", TypeId::kString}, {"n", TypeId::kBigint}});
  // Moderate nesting is fine, also in a string field.
  std::string ok = R"({"n":1,"s":)" + std::string(60, '[') + std::string(60, ']') + "}";
  Decoded d = DecodeJson(schema, {ok});
  ASSERT_TRUE(d.errors.empty()) << d.errors[0].reason;
  EXPECT_EQ(d.batch.columns[0].GetString(0), std::string(60, '[') + std::string(60, ']'));
  for (size_t depth : {1000, 100000}) {
    std::string deep = R"({"n":1,"x":)" + std::string(depth, '[') + std::string(depth, ']') + "}";
    EXPECT_EQ(JsonError(schema, deep).rfind("invalid JSON: ", 0), 0u) << depth;
    std::string deep_obj = R"({"s":)";
    for (size_t i = 0; i < depth; ++i) deep_obj += R"({"a":)";
    deep_obj += "1" + std::string(depth + 1, '}');
    EXPECT_EQ(JsonError(schema, deep_obj).rfind("invalid JSON: ", 0), 0u) << depth;
  }
}

TEST(JsonDecoder, LargePayloadsAfterSmallOnes) {
  auto schema = MakeSchema({{"s", TypeId::kString}, {"n", TypeId::kBigint}});
  auto decoder = MakeDecoder(Format("json"), *schema, {});
  ASSERT_TRUE(decoder.ok());
  for (size_t size :
       {size_t{1} << 20, size_t{10} << 20, size_t{1} << 20}) {  // 10 MiB: shrinks after
    const std::string big(size, 'x');
    Decoded d =
        DecodeWith(decoder.value().get(), schema,
                   {R"({"s":"a","n":1})", R"({"s":")" + big + R"(","n":2})", R"({"s":"b","n":3})"});
    ASSERT_TRUE(d.errors.empty());
    EXPECT_EQ(d.batch.columns[0].GetString(0), "a");
    EXPECT_EQ(d.batch.columns[0].GetString(1), big);
    EXPECT_EQ(d.batch.columns[0].GetString(2), "b");
  }
}

TEST(JsonDecoder, ErrorsCarryPayloadIndexAndRowsOfMapsRowsToPayloads) {
  auto schema = AllTypes();
  auto decoder = MakeDecoder(Format("json"), *schema, {});
  ASSERT_TRUE(decoder.ok());
  RecordBatch batch(schema);
  std::vector<DecodeError> errors = {{99, "earlier"}};
  std::vector<uint32_t> rows_of = {77};
  const std::vector<std::string> payloads = {
      R"({"n":0})",       R"({"n":"x"})", R"({"n":2})",       "not json",
      R"({"b":1,"n":4})", R"({"n":5})",   R"({"s":{"a":1}})", R"({"t":"bad","n":7})"};
  std::vector<std::string_view> views(payloads.begin(), payloads.end());
  decoder.value()->Decode(views, &batch, &errors, &rows_of);
  EXPECT_EQ(rows_of, (std::vector<uint32_t>{77, 0, 2, 5, 6}));
  ASSERT_EQ(errors.size(), 5u);
  EXPECT_EQ(errors[1].index, 1u);
  EXPECT_EQ(errors[2].index, 3u);
  EXPECT_EQ(errors[3].index, 4u);
  EXPECT_EQ(errors[4].index, 7u);
  EXPECT_NE(errors[1].reason.find("field 'n'"), std::string::npos);
  EXPECT_NE(errors[3].reason.find("field 'b'"), std::string::npos);
  EXPECT_NE(errors[4].reason.find("field 't'"), std::string::npos);
  ASSERT_EQ(batch.num_rows(), 4u);
  ExpectConsistent(batch);
  EXPECT_EQ(batch.columns[1].GetInt(0), 0);
  EXPECT_EQ(batch.columns[1].GetInt(1), 2);
  EXPECT_EQ(batch.columns[1].GetInt(2), 5);
  EXPECT_EQ(batch.columns[3].GetString(3), R"({"a":1})");

  // A second call appends to the same batch; indices are per call.
  rows_of.clear();
  errors.clear();
  decoder.value()->Decode({R"({"n":"bad"})", R"({"n":9})"}, &batch, &errors, &rows_of);
  EXPECT_EQ(rows_of, std::vector<uint32_t>{1});
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].index, 0u);
  ASSERT_EQ(batch.num_rows(), 5u);
  EXPECT_EQ(batch.columns[1].GetInt(4), 9);
  ExpectConsistent(batch);
}

TEST(JsonDecoder, RowsOfMayBeNull) {
  auto schema = MakeSchema({{"n", TypeId::kBigint}});
  auto decoder = MakeDecoder(Format("json"), *schema, {});
  ASSERT_TRUE(decoder.ok());
  RecordBatch batch(schema);
  std::vector<DecodeError> errors;
  decoder.value()->Decode({R"({"n":1})", "x"}, &batch, &errors, nullptr);
  EXPECT_EQ(batch.num_rows(), 1u);
  EXPECT_EQ(errors.size(), 1u);
}

TEST(JsonDecoder, SchemaWithoutFieldSpecsUsesNamesOnly) {
  auto schema = MakeSchema({{"a", TypeId::kBigint}, {"b", TypeId::kBigint}});
  // A FieldSpec for a field not in the schema is ignored.
  std::vector<FieldSpec> fields = {FieldWith("a", TypeId::kBigint, {"A"}),
                                   FieldWith("zzz", TypeId::kBigint, {"b"})};
  Decoded d = DecodeJson(schema, {R"({"A":1,"b":2})"}, fields);
  ASSERT_TRUE(d.errors.empty());
  EXPECT_EQ(d.batch.columns[0].GetInt(0), 1);
  EXPECT_EQ(d.batch.columns[1].GetInt(0), 2);
}

// ---------------------------------------------------------------- json encoding

RecordBatch OneRowOfEveryType() {
  RecordBatch batch(AllTypes());
  batch.columns[0].AppendBool(true);
  batch.columns[1].AppendInt(-42);
  batch.columns[2].AppendDouble(0.1);
  batch.columns[3].AppendString("say \"hi\"\n");
  batch.columns[4].AppendString("raw");
  batch.columns[5].AppendInt(1714564800123);
  batch.event_time.push_back(5);
  return batch;
}

TEST(JsonEncoder, WritesEveryTypeInSchemaOrder) {
  RecordBatch batch = OneRowOfEveryType();
  EXPECT_EQ(EncodeRow(Format("json"), batch, 0),
            R"({"b":true,"n":-42,"d":0.1,"s":"say \"hi\"\n","y":"raw",)"
            R"("t":"2024-05-01T12:00:00.123Z"})");
}

TEST(JsonEncoder, WritesNullsAndAppendsWithoutNewline) {
  RecordBatch batch(AllTypes());
  for (Column& c : batch.columns) c.AppendNull();
  batch.event_time.push_back(0);
  auto encoder = MakeEncoder(Format("json"), *batch.schema);
  ASSERT_TRUE(encoder.ok());
  std::string out = "prefix|";
  encoder.value()->Encode(batch, 0, &out);
  EXPECT_EQ(out, R"(prefix|{"b":null,"n":null,"d":null,"s":null,"y":null,"t":null})");
}

TEST(JsonEncoder, DoublesUseTheShortestRoundTripForm) {
  auto schema = MakeSchema({{"d", TypeId::kDouble}});
  RecordBatch batch(schema);
  const double values[] = {1.0,
                           0.1,
                           -2.5,
                           1e300,
                           5e-324,
                           -0.0,
                           1e21,
                           123456.789,
                           std::numeric_limits<double>::quiet_NaN(),
                           std::numeric_limits<double>::infinity(),
                           -std::numeric_limits<double>::infinity()};
  for (double v : values) {
    batch.columns[0].AppendDouble(v);
    batch.event_time.push_back(0);
  }
  const char* expected[] = {R"({"d":1.0})",    R"({"d":0.1})",        R"({"d":-2.5})",
                            R"({"d":1e+300})", R"({"d":5e-324})",     R"({"d":-0.0})",
                            R"({"d":1e+21})",  R"({"d":123456.789})", R"({"d":null})",
                            R"({"d":null})",   R"({"d":null})"};
  for (size_t i = 0; i < batch.num_rows(); ++i)
    EXPECT_EQ(EncodeRow(Format("json"), batch, i), expected[i]) << i;
}

TEST(JsonEncoder, EscapesControlCharactersQuotesAndInvalidUtf8) {
  auto schema = MakeSchema({{"s", TypeId::kString}});
  RecordBatch batch(schema);
  batch.columns[0].AppendString(std::string("q\"b\\\x01\x1f\b\f\r\t\0\x7f", 12));
  batch.columns[0].AppendString("\xc3\xa9\xe2\x9c\x93\xf0\x9f\x98\x80");  // valid: as is
  batch.columns[0].AppendString(
      "a\xff"
      "b\xc3"
      "c\xed\xa0\x80"
      "d\xe0\x80\xaf");  // invalid
  batch.event_time.assign(3, 0);
  EXPECT_EQ(EncodeRow(Format("json"), batch, 0),
            std::string(R"({"s":"q\"b\\\u0001\u001f\b\f\r\t\u0000)") + "\x7f\"}");
  EXPECT_EQ(EncodeRow(Format("json"), batch, 1),
            "{\"s\":\"\xc3\xa9\xe2\x9c\x93\xf0\x9f\x98\x80\"}");
  EXPECT_EQ(EncodeRow(Format("json"), batch, 2),
            R"({"s":"a\ufffdb\ufffdc\ufffd\ufffd\ufffdd\ufffd\ufffd\ufffd"})");
}

TEST(JsonEncoder, EscapesFieldNames) {
  auto schema = MakeSchema({{"a\"b", TypeId::kBigint}});
  RecordBatch batch(schema);
  batch.columns[0].AppendInt(1);
  batch.event_time.push_back(0);
  EXPECT_EQ(EncodeRow(Format("json"), batch, 0), R"({"a\"b":1})");
}

TEST(JsonEncoder, TimestampsAreIsoTextAsFormatTimestampWrites) {
  auto schema = MakeSchema({{"t", TypeId::kTimestamp}});
  RecordBatch batch(schema);
  std::vector<int64_t> values = {0,
                                 1714564800123,
                                 -1,
                                 -62167219200000 /* 0000-01-01 */,
                                 253402300799999 /* 9999-12-31T23:59:59.999 */,
                                 951782400000};
  uint64_t x = 88172645463325252ull;
  for (int i = 0; i < 2000; ++i) {  // xorshift over the whole ISO range
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    values.push_back(-62167219200000 + static_cast<int64_t>(x % 315537897600000ull));
  }
  for (int64_t v : values) {
    batch.columns[0].AppendInt(v);
    batch.event_time.push_back(0);
  }
  for (size_t i = 0; i < values.size(); ++i) {
    ASSERT_EQ(EncodeRow(Format("json"), batch, i), "{\"t\":\"" + FormatTimestamp(values[i]) + "\"}")
        << values[i];
  }
}

TEST(JsonEncoder, TimestampsOutsideYears0To9999AreEpochMillis) {
  auto schema = MakeSchema({{"t", TypeId::kTimestamp}});
  RecordBatch batch(schema);
  for (int64_t v :
       {std::numeric_limits<int64_t>::min(), int64_t{-62167219200001}, int64_t{253402300800000}}) {
    batch.columns[0].AppendInt(v);
    batch.event_time.push_back(0);
  }
  EXPECT_EQ(EncodeRow(Format("json"), batch, 0), R"({"t":-9223372036854775808})");
  EXPECT_EQ(EncodeRow(Format("json"), batch, 1), R"({"t":-62167219200001})");
  EXPECT_EQ(EncodeRow(Format("json"), batch, 2), R"({"t":253402300800000})");
}

// ---------------------------------------------------------------- csv decoding

TEST(CsvDecoder, DecodesFieldsInSchemaOrder) {
  Decoded d = DecodeAll(
      Format("csv"), AllTypes(),
      {"true,-42,1.5,hi,raw,2024-05-01T12:00:00.123Z", "FALSE,7,-3,x y,,1714564800123\n"});
  ASSERT_TRUE(d.errors.empty()) << d.errors[0].reason;
  ASSERT_EQ(d.batch.num_rows(), 2u);
  const auto& c = d.batch.columns;
  EXPECT_TRUE(c[0].GetBool(0));
  EXPECT_EQ(c[1].GetInt(0), -42);
  EXPECT_EQ(c[2].GetDouble(0), 1.5);
  EXPECT_EQ(c[3].GetString(0), "hi");
  EXPECT_EQ(c[4].GetString(0), "raw");
  EXPECT_EQ(c[5].GetInt(0), 1714564800123);
  EXPECT_FALSE(c[0].GetBool(1));
  EXPECT_EQ(c[2].GetDouble(1), -3.0);
  EXPECT_EQ(c[3].GetString(1), "x y");
  EXPECT_TRUE(c[4].IsNull(1));
  EXPECT_EQ(c[5].GetInt(1), 1714564800123);  // the trailing newline is not part of the field
  EXPECT_EQ(d.batch.event_time, (std::vector<int64_t>{0, 0}));
}

TEST(CsvDecoder, QuotedFieldsHoldDelimitersNewlinesAndDoubledQuotes) {
  auto schema =
      MakeSchema({{"a", TypeId::kString}, {"b", TypeId::kString}, {"c", TypeId::kBigint}});
  Decoded d = DecodeAll(Format("csv"), schema,
                        {R"("x,y","say ""hi""",1)", "\"line1\nline2\r\n\",\"\"\"\",\"2\"",
                         R"("""a"",""b""","",3)", "\"\",\"a\"\"\",4\r\n"});
  ASSERT_TRUE(d.errors.empty()) << d.errors[0].reason;
  const auto& c = d.batch.columns;
  EXPECT_EQ(c[0].GetString(0), "x,y");
  EXPECT_EQ(c[1].GetString(0), "say \"hi\"");
  EXPECT_EQ(c[2].GetInt(0), 1);
  EXPECT_EQ(c[0].GetString(1), "line1\nline2\r\n");
  EXPECT_EQ(c[1].GetString(1), "\"");
  EXPECT_EQ(c[2].GetInt(1), 2);
  EXPECT_EQ(c[0].GetString(2), "\"a\",\"b\"");
  EXPECT_FALSE(c[1].IsNull(2));
  EXPECT_EQ(c[1].GetString(2), "");
  EXPECT_EQ(c[0].GetString(3), "");
  EXPECT_EQ(c[1].GetString(3), "a\"");
}

TEST(CsvDecoder, EmptyUnquotedFieldIsNullAndEmptyQuotedStringIsEmpty) {
  auto schema = MakeSchema({{"s", TypeId::kString}, {"n", TypeId::kBigint}, {"y", TypeId::kBytes}});
  Decoded d = DecodeAll(Format("csv"), schema, {",,", R"("","","")"});
  ASSERT_TRUE(d.errors.empty()) << d.errors[0].reason;
  const auto& c = d.batch.columns;
  EXPECT_TRUE(c[0].IsNull(0));
  EXPECT_TRUE(c[1].IsNull(0));
  EXPECT_TRUE(c[2].IsNull(0));
  EXPECT_EQ(c[0].GetString(1), "");
  EXPECT_FALSE(c[0].IsNull(1));
  EXPECT_TRUE(c[1].IsNull(1));  // no empty bigint: "" is null for non-string types
  EXPECT_EQ(c[2].GetString(1), "");
}

TEST(CsvDecoder, QuoteInsideAnUnquotedFieldIsKept) {
  auto schema = MakeSchema({{"a", TypeId::kString}, {"b", TypeId::kString}});
  Decoded d = DecodeAll(Format("csv"), schema, {R"(5" pipe,x"y")"});
  ASSERT_TRUE(d.errors.empty());
  EXPECT_EQ(d.batch.columns[0].GetString(0), "5\" pipe");
  EXPECT_EQ(d.batch.columns[1].GetString(0), "x\"y\"");
}

TEST(CsvDecoder, BadQuotingIsAnError) {
  auto schema = MakeSchema({{"a", TypeId::kString}, {"b", TypeId::kString}});
  Decoded d = DecodeAll(Format("csv"), schema, {R"("abc,d)", R"("ab"c,d)", "\"abc\n"});
  EXPECT_EQ(d.batch.num_rows(), 0u);
  ASSERT_EQ(d.errors.size(), 3u);
  EXPECT_EQ(d.errors[0].reason, "field 1: unterminated quoted field");
  EXPECT_EQ(d.errors[1].reason, "field 1: unexpected character after a closing quote");
  EXPECT_EQ(d.errors[2].reason, "field 1: unterminated quoted field");
}

TEST(CsvDecoder, WrongFieldCountIsAnError) {
  auto schema =
      MakeSchema({{"a", TypeId::kString}, {"b", TypeId::kBigint}, {"c", TypeId::kString}});
  Decoded d = DecodeAll(Format("csv"), schema, {"x,1", "x,1,y,z", "x,1,y", "", "x,1,y,"});
  EXPECT_EQ(d.rows_of, std::vector<uint32_t>{2});
  ASSERT_EQ(d.errors.size(), 4u);
  EXPECT_EQ(d.errors[0].index, 0u);
  EXPECT_EQ(d.errors[0].reason, "expected 3 fields, got 2");
  EXPECT_EQ(d.errors[1].index, 1u);
  EXPECT_EQ(d.errors[1].reason, "expected 3 fields, got 4");
  EXPECT_EQ(d.errors[2].index, 3u);
  EXPECT_EQ(d.errors[2].reason, "expected 3 fields, got 1");
  EXPECT_EQ(d.errors[3].index, 4u);
  EXPECT_EQ(d.errors[3].reason, "expected 3 fields, got 4");
  ExpectConsistent(d.batch);
}

TEST(CsvDecoder, CustomDelimiter) {
  auto schema = MakeSchema({{"a", TypeId::kString}, {"b", TypeId::kDouble}});
  Decoded d = DecodeAll(Format("csv", {{"delimiter", ";"}}), schema, {"x,y;2.5", R"("a;b";1)"});
  ASSERT_TRUE(d.errors.empty()) << d.errors[0].reason;
  EXPECT_EQ(d.batch.columns[0].GetString(0), "x,y");
  EXPECT_EQ(d.batch.columns[1].GetDouble(0), 2.5);
  EXPECT_EQ(d.batch.columns[0].GetString(1), "a;b");
  Decoded t = DecodeAll(Format("csv", {{"delimiter", "\t"}}), schema, {"a b\t3"});
  ASSERT_TRUE(t.errors.empty());
  EXPECT_EQ(t.batch.columns[0].GetString(0), "a b");
  EXPECT_EQ(t.batch.columns[1].GetDouble(0), 3.0);
}

TEST(CsvDecoder, HeaderLineIsSkipped) {
  auto schema = MakeSchema({{"name", TypeId::kString}, {"n", TypeId::kBigint}});
  auto decoder = MakeDecoder(Format("csv", {{"header", "true"}}), *schema, {});
  ASSERT_TRUE(decoder.ok());
  Decoded d = DecodeWith(decoder.value().get(), schema, {"name,n\n", "a,1", "b,2"});
  EXPECT_TRUE(d.errors.empty());
  EXPECT_EQ(d.rows_of, (std::vector<uint32_t>{1, 2}));
  EXPECT_EQ(d.batch.columns[0].GetString(0), "a");
  // Only the first line the decoder sees can be the header.
  Decoded later = DecodeWith(decoder.value().get(), schema, {"name,n", "c,3"});
  ASSERT_EQ(later.errors.size(), 1u);
  EXPECT_EQ(later.errors[0].index, 0u);
  EXPECT_EQ(later.rows_of, std::vector<uint32_t>{1});
  // Quoted header names count too; without the option the header is data.
  Decoded quoted = DecodeAll(Format("csv", {{"header", "true"}}), schema, {R"("name","n")", "d,4"});
  EXPECT_TRUE(quoted.errors.empty());
  EXPECT_EQ(quoted.rows_of, std::vector<uint32_t>{1});
  Decoded no_option = DecodeAll(Format("csv"), schema, {"name,n"});
  ASSERT_EQ(no_option.errors.size(), 1u);
  EXPECT_EQ(no_option.errors[0].reason, R"(field 'n': expected an integer, got "n")");
}

TEST(CsvDecoder, FirstLineThatIsNotTheHeaderIsData) {
  auto schema = MakeSchema({{"name", TypeId::kString}, {"n", TypeId::kBigint}});
  Decoded d = DecodeAll(Format("csv", {{"header", "true"}}), schema, {"a,1", "b,2"});
  EXPECT_TRUE(d.errors.empty());
  EXPECT_EQ(d.rows_of, (std::vector<uint32_t>{0, 1}));
}

TEST(CsvDecoder, BadValuesAreErrorsNamingTheField) {
  Decoded d =
      DecodeAll(Format("csv"), AllTypes(),
                {"yes,1,1,s,y,0", "true,1.5,1,s,y,0", "true,1,abc,s,y,0", "true,1,1,s,y,soon",
                 "true,99999999999999999999,1,s,y,0", "true, 1,1,s,y,0"});
  EXPECT_EQ(d.batch.num_rows(), 0u);
  ASSERT_EQ(d.errors.size(), 6u);
  EXPECT_EQ(d.errors[0].reason, R"(field 'b': expected true or false, got "yes")");
  EXPECT_EQ(d.errors[1].reason, R"(field 'n': expected an integer, got "1.5")");
  EXPECT_EQ(d.errors[2].reason, R"(field 'd': expected a number, got "abc")");
  EXPECT_EQ(d.errors[3].reason,
            R"(field 't': expected an ISO-8601 timestamp or epoch milliseconds, got "soon")");
  EXPECT_EQ(d.errors[4].reason,
            R"(field 'n': integer "99999999999999999999" is out of range for bigint)");
  EXPECT_EQ(d.errors[5].reason, R"(field 'n': expected an integer, got " 1")");
  for (size_t i = 0; i < d.errors.size(); ++i) EXPECT_EQ(d.errors[i].index, i);
  ExpectConsistent(d.batch);
}

TEST(CsvDecoder, SingleFieldRecords) {
  auto schema = MakeSchema({{"s", TypeId::kString}});
  Decoded d = DecodeAll(Format("csv"), schema, {"", "\n", "a", "\"\""});
  ASSERT_TRUE(d.errors.empty());
  EXPECT_TRUE(d.batch.columns[0].IsNull(0));
  EXPECT_TRUE(d.batch.columns[0].IsNull(1));
  EXPECT_EQ(d.batch.columns[0].GetString(2), "a");
  EXPECT_EQ(d.batch.columns[0].GetString(3), "");
}

// ---------------------------------------------------------------- csv encoding

TEST(CsvEncoder, WritesEveryTypeAndQuotesOnlyWhenNeeded) {
  RecordBatch batch = OneRowOfEveryType();
  EXPECT_EQ(EncodeRow(Format("csv"), batch, 0),
            "true,-42,0.1,\"say \"\"hi\"\"\n\",raw,2024-05-01T12:00:00.123Z");
  auto schema =
      MakeSchema({{"a", TypeId::kString}, {"b", TypeId::kString}, {"c", TypeId::kDouble}});
  RecordBatch strings(schema);
  strings.columns[0].AppendString("");
  strings.columns[1].AppendNull();
  strings.columns[2].AppendDouble(std::nan(""));
  strings.columns[0].AppendString("x,y");
  strings.columns[1].AppendString("cr\r");
  strings.columns[2].AppendDouble(2);
  strings.event_time.assign(2, 0);
  EXPECT_EQ(EncodeRow(Format("csv"), strings, 0), "\"\",,");
  EXPECT_EQ(EncodeRow(Format("csv"), strings, 1), "\"x,y\",\"cr\r\",2.0");
  EXPECT_EQ(EncodeRow(Format("csv", {{"delimiter", ";"}}), strings, 1), "x,y;\"cr\r\";2.0");
}

TEST(CsvEncoder, TimestampsAreWrittenAsFormatTimestampWritesThem) {
  auto schema = MakeSchema({{"t", TypeId::kTimestamp}});
  RecordBatch batch(schema);
  std::vector<int64_t> values = {std::numeric_limits<int64_t>::min(),
                                 std::numeric_limits<int64_t>::max(),
                                 -62167219200001,
                                 -62167219200000,
                                 253402300799999,
                                 253402300800000,
                                 -1,
                                 0};
  uint64_t x = 0x9E3779B97F4A7C15ull;
  for (int i = 0; i < 1000; ++i) {  // xorshift over all of int64, then over +-2^50 ms
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    values.push_back(static_cast<int64_t>(x));
    values.push_back(static_cast<int64_t>(x >> 13) - (int64_t{1} << 50));
  }
  for (int64_t v : values) {
    batch.columns[0].AppendInt(v);
    batch.event_time.push_back(0);
  }
  auto encoder = MakeEncoder(Format("csv"), *schema);
  ASSERT_TRUE(encoder.ok());
  for (size_t i = 0; i < values.size(); ++i) {
    std::string out;
    encoder.value()->Encode(batch, i, &out);
    ASSERT_EQ(out, FormatTimestamp(values[i])) << values[i];
  }
}

// ---------------------------------------------------------------- raw

TEST(RawFormat, PayloadIsTheBytesField) {
  auto schema = MakeSchema({{"value", TypeId::kBytes}});
  const std::string binary("\0\xff{not json", 12);
  Decoded d = DecodeAll(Format("raw"), schema, {binary, "", "text"});
  ASSERT_TRUE(d.errors.empty());
  ASSERT_EQ(d.batch.num_rows(), 3u);
  EXPECT_EQ(d.batch.columns[0].GetString(0), binary);
  EXPECT_FALSE(d.batch.columns[0].IsNull(1));
  EXPECT_EQ(d.batch.columns[0].GetString(1), "");
  EXPECT_EQ(d.rows_of, (std::vector<uint32_t>{0, 1, 2}));
  EXPECT_EQ(EncodeRow(Format("raw"), d.batch, 0), binary);
  EXPECT_EQ(EncodeRow(Format("raw"), d.batch, 2), "text");
}

TEST(RawFormat, EncodesTheOneStringFieldAsIsAndNullAsNothing) {
  auto schema = MakeSchema({{"line", TypeId::kString}});
  RecordBatch batch(schema);
  batch.columns[0].AppendString("a \"quoted\", line");
  batch.columns[0].AppendNull();
  batch.event_time.assign(2, 0);
  EXPECT_EQ(EncodeRow(Format("raw"), batch, 0), "a \"quoted\", line");
  EXPECT_EQ(EncodeRow(Format("raw"), batch, 1), "");
}

TEST(RawFormat, NonStringFieldIsParsedAsText) {
  auto schema = MakeSchema({{"n", TypeId::kBigint}});
  Decoded d = DecodeAll(Format("raw"), schema, {"12", "x", ""});
  EXPECT_EQ(d.rows_of, (std::vector<uint32_t>{0, 2}));
  ASSERT_EQ(d.errors.size(), 1u);
  EXPECT_EQ(d.errors[0].reason, R"(field 'n': expected an integer, got "x")");
  EXPECT_EQ(d.batch.columns[0].GetInt(0), 12);
  EXPECT_TRUE(d.batch.columns[0].IsNull(1));
  EXPECT_EQ(EncodeRow(Format("raw"), d.batch, 0), "12");
}

// ---------------------------------------------------------------- round trips

// Rows of every type: nulls, extremes and strings that need escaping or quoting.
RecordBatch RoundTripRows(bool valid_utf8_only) {
  RecordBatch batch(AllTypes());
  std::vector<std::string> strings = {"",
                                      "plain",
                                      "with,comma",
                                      "quote\"inside",
                                      "\"\"",
                                      "line\nbreak",
                                      "crlf\r\n",
                                      "\n",
                                      "tab\tand\\backslash",
                                      "ctrl\x01\x1f\x7f",
                                      std::string("nul\0byte", 8),
                                      "\xc3\xbcn\xc3\xaf"
                                      "c\xc3\xb6"
                                      "d\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80",
                                      "  spaces  ",
                                      "null",
                                      "{\"looks\":\"like json\"}",
                                      "\\u0041"};
  if (!valid_utf8_only) strings.push_back("bin\xff\xfe\x80");
  const std::vector<double> doubles = {0.1,
                                       -0.0,
                                       1e300,
                                       5e-324,
                                       1.0,
                                       123456.789,
                                       std::numeric_limits<double>::max(),
                                       -std::numeric_limits<double>::min(),
                                       2.0 / 3.0};
  const std::vector<int64_t> ints = {0, -1, std::numeric_limits<int64_t>::min(),
                                     std::numeric_limits<int64_t>::max(), 1714564800123};
  const std::vector<int64_t> times = {0,
                                      1714564800123,
                                      -1,
                                      -62167219200000,
                                      -62167219200001,
                                      253402300799999,
                                      253402300800000,
                                      std::numeric_limits<int64_t>::min(),
                                      std::numeric_limits<int64_t>::max()};
  const size_t rows = strings.size() + 2;
  for (size_t r = 0; r < rows; ++r) {
    const bool all_null = r == rows - 1;
    const bool some_null = r % 4 == 3;
    auto& c = batch.columns;
    if (all_null || (some_null && r % 8 == 3))
      c[0].AppendNull();
    else
      c[0].AppendBool(r % 2 == 0);
    if (all_null || some_null)
      c[1].AppendNull();
    else
      c[1].AppendInt(ints[r % ints.size()]);
    if (all_null)
      c[2].AppendNull();
    else
      c[2].AppendDouble(doubles[r % doubles.size()]);
    if (all_null || r == strings.size())
      c[3].AppendNull();
    else
      c[3].AppendString(strings[r % strings.size()]);
    if (all_null || some_null)
      c[4].AppendNull();
    else
      c[4].AppendString(strings[(r + 3) % strings.size()]);
    if (all_null)
      c[5].AppendNull();
    else
      c[5].AppendInt(times[r % times.size()]);
    batch.event_time.push_back(0);
  }
  return batch;
}

void ExpectRoundTrip(const FormatSpec& format, const RecordBatch& rows) {
  auto encoder = MakeEncoder(format, *rows.schema);
  auto decoder = MakeDecoder(format, *rows.schema, {});
  ASSERT_TRUE(encoder.ok());
  ASSERT_TRUE(decoder.ok());
  std::vector<std::string> payloads(rows.num_rows());
  for (size_t r = 0; r < rows.num_rows(); ++r) encoder.value()->Encode(rows, r, &payloads[r]);
  Decoded d = DecodeWith(decoder.value().get(), rows.schema, payloads);
  for (const DecodeError& e : d.errors)
    ADD_FAILURE() << "payload " << e.index << " [" << payloads[e.index] << "]: " << e.reason;
  ASSERT_EQ(d.batch.num_rows(), rows.num_rows());
  for (size_t r = 0; r < rows.num_rows(); ++r)
    for (size_t c = 0; c < rows.columns.size(); ++c)
      ExpectSameValue(rows.columns[c], r, d.batch.columns[c], r,
                      format.type + " row " + std::to_string(r) + " field " +
                          rows.schema->field(c).name + " payload [" + payloads[r] + "]");
}

TEST(FormatRoundTrip, JsonEveryTypeIncludingNullsAndSpecialStrings) {
  ExpectRoundTrip(Format("json"), RoundTripRows(/*valid_utf8_only=*/true));
}

TEST(FormatRoundTrip, CsvEveryTypeIncludingNullsAndSpecialStrings) {
  ExpectRoundTrip(Format("csv"), RoundTripRows(false));
  ExpectRoundTrip(Format("csv", {{"delimiter", "|"}}), RoundTripRows(false));
  ExpectRoundTrip(Format("csv", {{"delimiter", "\t"}}), RoundTripRows(false));
}

TEST(FormatRoundTrip, RawBytes) {
  auto schema = MakeSchema({{"value", TypeId::kBytes}});
  RecordBatch batch(schema);
  for (const std::string& s : {std::string("abc"), std::string("\0\xff\n,\"", 5), std::string()}) {
    batch.columns[0].AppendString(s);
    batch.event_time.push_back(0);
  }
  ExpectRoundTrip(Format("raw"), batch);
}

TEST(FormatRoundTrip, JsonBytesWithInvalidUtf8BecomeReplacementCharacters) {
  auto schema = MakeSchema({{"y", TypeId::kBytes}});
  RecordBatch batch(schema);
  batch.columns[0].AppendString("a\xff");
  batch.event_time.push_back(0);
  std::string payload = EncodeRow(Format("json"), batch, 0);
  Decoded d = DecodeJson(schema, {payload});
  ASSERT_TRUE(d.errors.empty());
  EXPECT_EQ(d.batch.columns[0].GetString(0), "a\xef\xbf\xbd");
}

}  // namespace
}  // namespace weir::format
