// Tests of the avro format (common/format/avro.cc): datums written here with
// libavro itself are decoded into weir rows; rows encoded by weir are read
// back with libavro; malformed datums and schemas are errors, not crashes.
#include <avro.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/batch.h"
#include "common/format/avro.h"
#include "common/format/format.h"
#include "common/spec/job_spec.h"
#include "common/types.h"

namespace weir::format {
namespace {

using ::weir::spec::FieldSpec;
using ::weir::spec::FormatSpec;

// A libavro schema and a value of it, to write test datums with.
class LibAvro {
 public:
  explicit LibAvro(const std::string& json) {
    EXPECT_EQ(avro_schema_from_json_length(json.data(), json.size(), &schema_), 0)
        << avro_strerror();
    iface_ = avro_generic_class_from_schema(schema_);
    avro_generic_value_new(iface_, &value_);
  }
  ~LibAvro() {
    avro_value_decref(&value_);
    avro_value_iface_decref(iface_);
    avro_schema_decref(schema_);
  }

  avro_value_t Field(const char* name) {
    avro_value_t f;
    EXPECT_EQ(avro_value_get_by_name(&value_, name, &f, nullptr), 0) << name;
    return f;
  }
  // The union field `name` set to branch b; returns the branch.
  avro_value_t Branch(const char* name, int b) {
    avro_value_t f = Field(name), out;
    avro_value_set_branch(&f, b, &out);
    return out;
  }
  std::string Write() {
    size_t size = 0;
    avro_value_sizeof(&value_, &size);
    std::string out(size, '\0');
    avro_writer_t w = avro_writer_memory(out.data(), static_cast<int64_t>(size));
    EXPECT_EQ(avro_value_write(w, &value_), 0) << avro_strerror();
    avro_writer_free(w);
    return out;
  }
  // Reads a datum into the value; false when libavro rejects it.
  bool Read(std::string_view bytes) {
    avro_value_reset(&value_);
    avro_reader_t r = avro_reader_memory(bytes.data(), static_cast<int64_t>(bytes.size()));
    const bool ok = avro_value_read(r, &value_) == 0;
    avro_reader_free(r);
    return ok;
  }
  avro_value_t* value() { return &value_; }

 private:
  avro_schema_t schema_ = nullptr;
  avro_value_iface_t* iface_ = nullptr;
  avro_value_t value_{};
};

FormatSpec Avro(const std::string& schema) {
  FormatSpec f;
  f.type = "avro";
  f.options["schema"] = schema;
  return f;
}

struct Decoded {
  std::unique_ptr<RecordBatch> batch;
  std::vector<DecodeError> errors;
};

Decoded DecodeAll(const FormatSpec& format, const Schema& schema,
                  const std::vector<std::string>& payloads,
                  const std::vector<FieldSpec>& fields = {}) {
  auto d = MakeDecoder(format, schema, fields);
  EXPECT_TRUE(d.ok()) << d.status().message();
  Decoded out;
  out.batch = std::make_unique<RecordBatch>(std::make_shared<const Schema>(schema));
  if (!d.ok()) return out;
  std::vector<std::string_view> views(payloads.begin(), payloads.end());
  std::vector<uint32_t> rows_of;
  (*d)->Decode(views, out.batch.get(), &out.errors, &rows_of);
  EXPECT_EQ(rows_of.size(), out.batch->num_rows());
  return out;
}

const char kPrimitives[] = R"({"type":"record","name":"P","fields":[
  {"name":"flag","type":"boolean"},
  {"name":"i","type":"int"},
  {"name":"l","type":"long"},
  {"name":"f","type":"float"},
  {"name":"d","type":"double"},
  {"name":"s","type":"string"},
  {"name":"y","type":"bytes"},
  {"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}},
  {"name":"price","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":2}},
  {"name":"color","type":{"type":"enum","name":"Color","symbols":["RED","GREEN"]}},
  {"name":"id","type":{"type":"fixed","name":"Id","size":4}},
  {"name":"nul","type":"null"}]})";

TEST(AvroDecode, AllPrimitiveAndLogicalTypes) {
  LibAvro w(kPrimitives);
  avro_value_t v;
  v = w.Field("flag"), avro_value_set_boolean(&v, 1);
  v = w.Field("i"), avro_value_set_int(&v, -7);
  v = w.Field("l"), avro_value_set_long(&v, int64_t{1} << 40);
  v = w.Field("f"), avro_value_set_float(&v, 1.5f);
  v = w.Field("d"), avro_value_set_double(&v, -0.25);
  v = w.Field("s"), avro_value_set_string(&v, "héllo");
  std::string raw("a\0b", 3);
  v = w.Field("y"), avro_value_set_bytes(&v, raw.data(), raw.size());
  v = w.Field("ts"), avro_value_set_long(&v, 1714564800123);
  const char cents[] = {static_cast<char>(0xFE), 0x0C};  // -500 -> -5.00
  v = w.Field("price"), avro_value_set_bytes(&v, const_cast<char*>(cents), 2);
  v = w.Field("color"), avro_value_set_enum(&v, 1);
  char id[4] = {'w', 'e', 'i', 'r'};
  v = w.Field("id"), avro_value_set_fixed(&v, id, 4);

  Schema schema({{"flag", TypeId::kBoolean},
                 {"i", TypeId::kBigint},
                 {"l", TypeId::kBigint},
                 {"f", TypeId::kDouble},
                 {"d", TypeId::kDouble},
                 {"s", TypeId::kString},
                 {"y", TypeId::kBytes},
                 {"ts", TypeId::kTimestamp},
                 {"price", TypeId::kDouble},
                 {"color", TypeId::kString},
                 {"id", TypeId::kBytes},
                 {"nul", TypeId::kString}});
  auto out = DecodeAll(Avro(kPrimitives), schema, {w.Write()});
  ASSERT_TRUE(out.errors.empty()) << out.errors[0].reason;
  ASSERT_EQ(out.batch->num_rows(), 1u);
  const auto& c = out.batch->columns;
  EXPECT_TRUE(c[0].GetBool(0));
  EXPECT_EQ(c[1].GetInt(0), -7);
  EXPECT_EQ(c[2].GetInt(0), int64_t{1} << 40);
  EXPECT_EQ(c[3].GetDouble(0), 1.5);
  EXPECT_EQ(c[4].GetDouble(0), -0.25);
  EXPECT_EQ(c[5].GetString(0), "héllo");
  EXPECT_EQ(c[6].GetString(0), raw);
  EXPECT_EQ(c[7].GetInt(0), 1714564800123);
  EXPECT_DOUBLE_EQ(c[8].GetDouble(0), -5.0);
  EXPECT_EQ(c[9].GetString(0), "GREEN");
  EXPECT_EQ(c[10].GetString(0), "weir");
  EXPECT_TRUE(c[11].IsNull(0));
}

const char kNullable[] = R"({"type":"record","name":"N","namespace":"t","fields":[
  {"name":"user","type":["null","string"],"default":null},
  {"name":"amount","type":["null","long","double"]},
  {"name":"customer","type":["null",{"type":"record","name":"C","fields":[
     {"name":"id","type":"long"},{"name":"tags","type":{"type":"array","items":"string"}}]}]},
  {"name":"attrs","type":{"type":"map","values":"int"}}]})";

TEST(AvroDecode, UnionsNestedRecordsArraysAndMaps) {
  LibAvro w(kNullable);
  avro_value_t v = w.Branch("user", 1);
  avro_value_set_string(&v, "ann");
  v = w.Branch("amount", 2);
  avro_value_set_double(&v, 12.5);
  avro_value_t cust = w.Branch("customer", 1), id, tags, tag;
  avro_value_get_by_name(&cust, "id", &id, nullptr);
  avro_value_set_long(&id, 42);
  avro_value_get_by_name(&cust, "tags", &tags, nullptr);
  avro_value_append(&tags, &tag, nullptr);
  avro_value_set_string(&tag, "vip");
  avro_value_t attrs = w.Field("attrs"), e;
  avro_value_add(&attrs, "k", &e, nullptr, nullptr);
  avro_value_set_int(&e, 3);
  const std::string first = w.Write();

  LibAvro w2(kNullable);
  v = w2.Branch("user", 0);
  v = w2.Branch("amount", 1);
  avro_value_set_long(&v, 7);
  v = w2.Branch("customer", 0);
  const std::string second = w2.Write();

  Schema schema({{"user", TypeId::kString},
                 {"amount", TypeId::kDouble},
                 {"customer_id", TypeId::kBigint},
                 {"customer", TypeId::kString},
                 {"attrs", TypeId::kString}});
  std::vector<FieldSpec> fields(1);
  fields[0].name = "customer_id";
  fields[0].aliases = {"cid", "customer.id"};
  auto out = DecodeAll(Avro(kNullable), schema, {first, second}, fields);
  ASSERT_TRUE(out.errors.empty()) << out.errors[0].reason;
  ASSERT_EQ(out.batch->num_rows(), 2u);
  const auto& c = out.batch->columns;
  EXPECT_EQ(c[0].GetString(0), "ann");
  EXPECT_EQ(c[1].GetDouble(0), 12.5);
  EXPECT_EQ(c[2].GetInt(0), 42);
  EXPECT_EQ(c[3].GetString(0), R"({"id":42,"tags":["vip"]})");
  EXPECT_EQ(c[4].GetString(0), R"({"k":3})");
  EXPECT_TRUE(c[0].IsNull(1));
  EXPECT_EQ(c[1].GetDouble(1), 7.0);
  EXPECT_TRUE(c[2].IsNull(1));
  EXPECT_TRUE(c[3].IsNull(1));
  EXPECT_EQ(c[4].GetString(1), "{}");
}

TEST(AvroDecode, MissingFieldsTakeDefaultsAndUnknownWriterFieldsAreIgnored) {
  const std::string ws = R"({"type":"record","name":"R","fields":[
      {"name":"userId","type":"string"},{"name":"extra","type":"double"}]})";
  LibAvro w(ws);
  avro_value_t v = w.Field("userId");
  avro_value_set_string(&v, "u1");
  v = w.Field("extra");
  avro_value_set_double(&v, 1);
  Schema schema(
      {{"user_id", TypeId::kString}, {"country", TypeId::kString}, {"n", TypeId::kBigint}});
  std::vector<FieldSpec> fields(2);
  fields[0].name = "user_id";
  fields[0].aliases = {"userId"};
  fields[1].name = "country";
  fields[1].default_value = "unknown";
  auto out = DecodeAll(Avro(ws), schema, {w.Write()}, fields);
  ASSERT_TRUE(out.errors.empty()) << out.errors[0].reason;
  EXPECT_EQ(out.batch->columns[0].GetString(0), "u1");
  EXPECT_EQ(out.batch->columns[1].GetString(0), "unknown");
  EXPECT_TRUE(out.batch->columns[2].IsNull(0));
}

TEST(AvroDecode, TypeMismatchNamesTheField) {
  const std::string ws = R"({"type":"record","name":"R","fields":[
      {"name":"amount","type":["string","boolean"]}]})";
  LibAvro a(ws), b(ws), c(ws);
  avro_value_t v = a.Branch("amount", 0);
  avro_value_set_string(&v, "abc");
  v = b.Branch("amount", 1);
  avro_value_set_boolean(&v, 1);
  v = c.Branch("amount", 0);
  avro_value_set_string(&v, "17");
  auto out =
      DecodeAll(Avro(ws), Schema({{"amount", TypeId::kBigint}}), {a.Write(), b.Write(), c.Write()});
  ASSERT_EQ(out.errors.size(), 2u);
  EXPECT_EQ(out.errors[0].index, 0u);
  EXPECT_NE(out.errors[0].reason.find("field 'amount'"), std::string::npos) << out.errors[0].reason;
  EXPECT_EQ(out.errors[1].index, 1u);
  EXPECT_EQ(out.errors[1].reason, "field 'amount': expected an integer, got avro boolean");
  ASSERT_EQ(out.batch->num_rows(), 1u);
  EXPECT_EQ(out.batch->columns[0].GetInt(0), 17);  // numeric strings are read as text
}

TEST(AvroDecode, MalformedDatumsAreErrorsNotCrashes) {
  const std::string ws = R"({"type":"record","name":"R","fields":[
      {"name":"s","type":"string"},{"name":"a","type":{"type":"array","items":"null"}},
      {"name":"u","type":["null","long"]}]})";
  LibAvro w(ws);
  avro_value_t v = w.Field("s");
  avro_value_set_string(&v, "abc");
  w.Branch("u", 0);
  const std::string good = w.Write();
  std::vector<std::string> bad = {
      "",                                                           // empty
      good.substr(0, 2),                                            // truncated string
      good + "x",                                                   // trailing byte
      std::string("\xfe\xff\xff\xff\x0f", 5),                       // huge string length
      std::string("\x00\xfe\xff\xff\xff\xff\xff\xff\xff\x7f", 10),  // 2^62 nulls
      std::string("\x00\x00\x06", 3),                               // union branch 3
      std::string("\x00\x00\x02\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 14),  // long varint
  };
  std::vector<std::string> all = bad;
  all.push_back(good);
  auto out = DecodeAll(Avro(ws), Schema({{"s", TypeId::kString}}), all);
  ASSERT_EQ(out.errors.size(), bad.size());
  for (const auto& e : out.errors) EXPECT_FALSE(e.reason.empty());
  ASSERT_EQ(out.batch->num_rows(), 1u);
  EXPECT_EQ(out.batch->columns[0].GetString(0), "abc");
}

TEST(AvroDecode, RegistryWireFormat) {
  const std::string v1 = R"({"type":"record","name":"R","fields":[{"name":"a","type":"long"}]})";
  const std::string v2 = R"({"type":"record","name":"R","fields":[
      {"name":"b","type":"string"},{"name":"a","type":"int"}]})";
  LibAvro w1(v1), w2(v2);
  avro_value_t v = w1.Field("a");
  avro_value_set_long(&v, 5);
  v = w2.Field("a");
  avro_value_set_int(&v, 6);
  v = w2.Field("b");
  avro_value_set_string(&v, "x");
  auto frame = [](uint32_t id, const std::string& datum) {
    std::string out(1, '\0');
    for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<char>(id >> s));
    return out + datum;
  };
  FormatSpec f;
  f.type = "avro";
  f.options["registry_schemas.1"] = v1;
  f.options["registry_schemas.300"] = v2;
  auto out =
      DecodeAll(f, Schema({{"a", TypeId::kBigint}}),
                {frame(1, w1.Write()), frame(300, w2.Write()), frame(2, w1.Write()), w1.Write()});
  ASSERT_EQ(out.batch->num_rows(), 2u);
  EXPECT_EQ(out.batch->columns[0].GetInt(0), 5);
  EXPECT_EQ(out.batch->columns[0].GetInt(1), 6);
  ASSERT_EQ(out.errors.size(), 2u);
  EXPECT_EQ(out.errors[0].reason, "schema id 2 is not in registry_schemas");
  EXPECT_NE(out.errors[1].reason.find("wire format"), std::string::npos);
}

Schema AllTypes() {
  return Schema({{"b", TypeId::kBoolean},
                 {"n", TypeId::kBigint},
                 {"d", TypeId::kDouble},
                 {"s", TypeId::kString},
                 {"y", TypeId::kBytes},
                 {"t", TypeId::kTimestamp}});
}

TEST(AvroEncode, DerivedSchemaRoundTripsEveryTypeAndNull) {
  const Schema schema = AllTypes();
  RecordBatch batch(std::make_shared<const Schema>(schema));
  batch.columns[0].AppendBool(true);
  batch.columns[1].AppendInt(-123456789012);
  batch.columns[2].AppendDouble(2.5);
  batch.columns[3].AppendString("text");
  batch.columns[4].AppendString(std::string("\0\xff", 2));
  batch.columns[5].AppendInt(1714564800000);
  batch.event_time.push_back(0);
  for (auto& c : batch.columns) c.AppendNull();
  batch.event_time.push_back(0);

  FormatSpec sink;
  sink.type = "avro";
  auto enc = MakeEncoder(sink, schema);
  ASSERT_TRUE(enc.ok()) << enc.status().message();
  std::vector<std::string> payloads(2);
  (*enc)->Encode(batch, 0, &payloads[0]);
  (*enc)->Encode(batch, 1, &payloads[1]);

  // libavro reads weir's bytes with the derived schema.
  LibAvro r(DeriveAvroSchema(schema));
  ASSERT_TRUE(r.Read(payloads[0]));
  avro_value_t f, b;
  int64_t n = 0;
  avro_value_get_by_name(r.value(), "n", &f, nullptr);
  avro_value_get_current_branch(&f, &b);
  avro_value_get_long(&b, &n);
  EXPECT_EQ(n, -123456789012);

  auto out = DecodeAll(Avro(DeriveAvroSchema(schema)), schema, payloads);
  ASSERT_TRUE(out.errors.empty()) << out.errors[0].reason;
  ASSERT_EQ(out.batch->num_rows(), 2u);
  EXPECT_TRUE(out.batch->columns[0].GetBool(0));
  EXPECT_EQ(out.batch->columns[1].GetInt(0), -123456789012);
  EXPECT_EQ(out.batch->columns[2].GetDouble(0), 2.5);
  EXPECT_EQ(out.batch->columns[3].GetString(0), "text");
  EXPECT_EQ(out.batch->columns[4].GetString(0), std::string("\0\xff", 2));
  EXPECT_EQ(out.batch->columns[5].GetInt(0), 1714564800000);
  for (const auto& c : out.batch->columns) EXPECT_TRUE(c.IsNull(1));
}

TEST(AvroEncode, GivenSchemaWithDecimalAndFraming) {
  const std::string ws = R"({"type":"record","name":"Out","fields":[
      {"name":"user","type":"string"},
      {"name":"price","type":{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}},
      {"name":"note","type":["null","string"],"default":null}]})";
  Schema schema({{"user", TypeId::kString}, {"price", TypeId::kDouble}});
  ASSERT_TRUE(CheckAvroSinkSchema(ws, schema).ok());
  RecordBatch batch(std::make_shared<const Schema>(schema));
  batch.columns[0].AppendString("ann");
  batch.columns[1].AppendDouble(-12.34);
  batch.event_time.push_back(0);
  FormatSpec sink = Avro(ws);
  sink.options["schema_id"] = "7";
  auto enc = MakeEncoder(sink, schema);
  ASSERT_TRUE(enc.ok()) << enc.status().message();
  std::string out;
  (*enc)->Encode(batch, 0, &out);
  ASSERT_GT(out.size(), 5u);
  EXPECT_EQ(out.substr(0, 5), std::string("\0\0\0\0\x07", 5));
  LibAvro r(ws);
  ASSERT_TRUE(r.Read(std::string_view(out).substr(5)));
  avro_value_t f;
  const void* buf = nullptr;
  size_t size = 0;
  avro_value_get_by_name(r.value(), "price", &f, nullptr);
  avro_value_get_bytes(&f, &buf, &size);
  ASSERT_EQ(size, 2u);  // -1234 = 0xFB2E
  EXPECT_EQ(static_cast<const uint8_t*>(buf)[0], 0xFB);
  EXPECT_EQ(static_cast<const uint8_t*>(buf)[1], 0x2E);

  FormatSpec src;
  src.type = "avro";
  src.options["registry_schemas.7"] = ws;
  auto back = DecodeAll(src, schema, {out});
  ASSERT_TRUE(back.errors.empty()) << back.errors[0].reason;
  EXPECT_EQ(back.batch->columns[0].GetString(0), "ann");
  EXPECT_DOUBLE_EQ(back.batch->columns[1].GetDouble(0), -12.34);
}

// Decimals of any size are written exactly (their unscaled value beyond
// 2^63 too), and read back as the same double.
TEST(AvroEncode, DecimalsBeyondSixtyFourBitsAreExact) {
  const std::string ws = R"({"type":"record","name":"Out","fields":[
      {"name":"v","type":{"type":"bytes","logicalType":"decimal","precision":40,"scale":3}}]})";
  Schema schema({{"v", TypeId::kDouble}});
  ASSERT_TRUE(CheckAvroSinkSchema(ws, schema).ok());
  const double values[] = {0.0,     1.5,  -1.5,  127.0,  -128.0,   9.3e15,
                           -9.3e15, 1e20, -1e20, 3.5e25, -7.25e30, 123456.789};
  FormatSpec sink = Avro(ws);
  auto enc = MakeEncoder(sink, schema);
  ASSERT_TRUE(enc.ok()) << enc.status().message();
  for (double x : values) {
    SCOPED_TRACE(x);
    RecordBatch batch(std::make_shared<const Schema>(schema));
    batch.columns[0].AppendDouble(x);
    batch.event_time.push_back(0);
    std::string out;
    (*enc)->Encode(batch, 0, &out);
    auto back = DecodeAll(Avro(ws), schema, {out});
    ASSERT_TRUE(back.errors.empty()) << back.errors[0].reason;
    EXPECT_DOUBLE_EQ(back.batch->columns[0].GetDouble(0), x);
  }
  // 2^70 with scale 3 is 125 * 2^73: 0x00FA followed by nine zero bytes.
  RecordBatch batch(std::make_shared<const Schema>(schema));
  batch.columns[0].AppendDouble(std::ldexp(1.0, 70));
  batch.event_time.push_back(0);
  std::string out;
  (*enc)->Encode(batch, 0, &out);
  LibAvro r(ws);
  ASSERT_TRUE(r.Read(out));
  avro_value_t f;
  const void* buf = nullptr;
  size_t size = 0;
  avro_value_get_by_name(r.value(), "v", &f, nullptr);
  avro_value_get_bytes(&f, &buf, &size);
  EXPECT_EQ(std::string(static_cast<const char*>(buf), size),
            std::string("\x00\xFA\x00\x00\x00\x00\x00\x00\x00\x00\x00", 11));
}

TEST(AvroSchemas, Checks) {
  EXPECT_FALSE(CheckAvroSchema("{").ok());
  EXPECT_FALSE(CheckAvroSchema(R"({"type":"recrod","name":"R","fields":[]})").ok());
  auto top = CheckAvroSchema(R"("string")");
  ASSERT_FALSE(top.ok());
  EXPECT_NE(top.message().find("must be a record"), std::string::npos);
  EXPECT_TRUE(CheckAvroSchema(R"({"type":"record","name":"L","fields":[
      {"name":"next","type":["null","L"]}]})")
                  .ok());
  // A sink field that the stream lacks must be nullable; types must fit.
  Schema stream({{"a", TypeId::kString}});
  EXPECT_FALSE(CheckAvroSinkSchema(R"({"type":"record","name":"R","fields":[
      {"name":"b","type":"long"}]})",
                                   stream)
                   .ok());
  EXPECT_FALSE(CheckAvroSinkSchema(R"({"type":"record","name":"R","fields":[
      {"name":"a","type":"long"}]})",
                                   stream)
                   .ok());
  // A source needs a writer schema.
  FormatSpec none;
  none.type = "avro";
  auto d = MakeDecoder(none, stream, {});
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("schema"), std::string::npos);
}

TEST(AvroSchemas, RecursiveSchemaDepthIsBounded) {
  const std::string ws = R"({"type":"record","name":"L","fields":[
      {"name":"v","type":"long"},{"name":"next","type":["null","L"]}]})";
  std::string deep;
  for (int i = 0; i < 10000; ++i) deep += std::string("\x02\x02", 2);  // v=1, branch 1
  deep += std::string("\x02\x00", 2);
  auto out = DecodeAll(Avro(ws), Schema({{"v", TypeId::kBigint}}), {deep});
  ASSERT_EQ(out.errors.size(), 1u);
  EXPECT_NE(out.errors[0].reason.find("nested"), std::string::npos) << out.errors[0].reason;
}

TEST(AvroValidator, MalformedSchemaIsAnErrorAtTheOption) {
  const std::string job = R"(name: t
sources:
  in:
    type: kafka
    brokers: embedded
    topic: t
    format: {type: avro, schema: '{"type": "record", "name": "R", "fields": [{"name": "a"}]}'}
    schema: {a: bigint}
sinks:
  out: {from: in, type: stdout}
)";
  auto r = spec::ParseJob(job, "job.yaml");
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_EQ(r.diagnostics[0].pos.line, 7);
  EXPECT_EQ(r.diagnostics[0].pos.column, 34);
  EXPECT_NE(r.diagnostics[0].message.find("Avro schema"), std::string::npos)
      << r.diagnostics[0].message;

  const std::string ok = R"(name: t
sources:
  in:
    type: kafka
    brokers: embedded
    topic: t
    format:
      type: avro
      registry_schemas:
        1: '{"type": "record", "name": "R", "fields": [{"name": "a", "type": "long"}]}'
    schema: {a: bigint}
sinks:
  out: {from: in, type: kafka, brokers: embedded, topic: o, format: {type: avro, schema_id: 3}}
)";
  auto r2 = spec::ParseJob(ok, "job.yaml");
  for (const auto& d : r2.diagnostics) ADD_FAILURE() << d.pos.line << ":" << d.message;
  ASSERT_TRUE(r2.job);
  EXPECT_EQ(r2.job->sources[0].format.options.count("registry_schemas.1"), 1u);
  EXPECT_EQ(r2.job->sinks[0].format.options.at("schema_id"), "3");
}

}  // namespace
}  // namespace weir::format
