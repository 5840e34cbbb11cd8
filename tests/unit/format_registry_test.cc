// The schema-registry wire format (common/format/registry.h) and json in it.
// The registry client itself is exercised over HTTP by
// tests/integration/schema_registry_test.py.
#include "common/format/registry.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/batch.h"
#include "common/format/format.h"
#include "common/types.h"

namespace weir::format {
namespace {

std::string Bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s.push_back(static_cast<char>(c));
  return s;
}

TEST(WireHeader, PlainHeaderIsMagicThenBigEndianId) {
  std::string framed;
  AppendWireHeader(0x01020304, false, {}, &framed);
  EXPECT_EQ(framed, Bytes({0, 1, 2, 3, 4}));
  framed += "datum";
  WireHeader h;
  ASSERT_EQ(ParseWireHeader(framed, false, &h), "");
  EXPECT_EQ(h.id, 0x01020304u);
  EXPECT_EQ(h.size, 5u);
  EXPECT_TRUE(h.message_indexes.empty());
}

TEST(WireHeader, ProtobufMessageIndexesAreZigzagVarints) {
  WireHeader h;
  // [0] is written as one byte 0, and a count of 0 reads as [0].
  std::string first;
  AppendWireHeader(7, true, {0}, &first);
  EXPECT_EQ(first, Bytes({0, 0, 0, 0, 7, 0}));
  ASSERT_EQ(ParseWireHeader(first, true, &h), "");
  EXPECT_EQ(h.message_indexes, (std::vector<int64_t>{0}));
  EXPECT_EQ(h.size, 6u);
  // [1, 70]: count 2, then 1 and 70, zigzag (2, 4, 140 = 0x8c 0x01).
  std::string nested;
  AppendWireHeader(7, true, {1, 70}, &nested);
  EXPECT_EQ(nested, Bytes({0, 0, 0, 0, 7, 4, 2, 0x8c, 0x01}));
  ASSERT_EQ(ParseWireHeader(nested + "msg", true, &h), "");
  EXPECT_EQ(h.message_indexes, (std::vector<int64_t>{1, 70}));
  EXPECT_EQ(h.size, nested.size());
}

TEST(WireHeader, MalformedHeadersSayWhy) {
  WireHeader h;
  EXPECT_EQ(ParseWireHeader("", false, &h), "empty payload");
  EXPECT_EQ(ParseWireHeader("{\"a\":1}", false, &h),
            "not in the schema-registry wire format (byte 0, then a 4-byte schema id)");
  EXPECT_EQ(ParseWireHeader(Bytes({0, 0, 0}), false, &h),
            "not in the schema-registry wire format (byte 0, then a 4-byte schema id)");
  // A count past the end, a negative count, a huge count.
  EXPECT_EQ(ParseWireHeader(Bytes({0, 0, 0, 0, 9, 4, 2}), true, &h),
            "invalid message-index list after schema id 9");
  EXPECT_EQ(ParseWireHeader(Bytes({0, 0, 0, 0, 9, 1}), true, &h),
            "invalid message-index list after schema id 9");
  EXPECT_EQ(ParseWireHeader(Bytes({0, 0, 0, 0, 9, 0xff, 0xff, 0xff, 0x0f}), true, &h),
            "invalid message-index list after schema id 9");
  EXPECT_EQ(ParseWireHeader(Bytes({0, 0, 0, 0, 9}), true, &h),
            "invalid message-index list after schema id 9");
}

TEST(WireHeader, FramedJsonWithoutARegistryStripsTheHeader) {
  auto schema = std::make_shared<const Schema>(
      std::vector<Field>{{"n", TypeId::kBigint}, {"s", TypeId::kString}});
  spec::FormatSpec format;
  format.type = "json";
  format.options["framing"] = "registry";
  auto decoder = MakeDecoder(format, *schema, {});
  ASSERT_TRUE(decoder.ok());
  std::string good;
  AppendWireHeader(3, false, {}, &good);
  good += R"({"n":5,"s":"x"})";
  const std::vector<std::string> payloads = {good, R"({"n":6})", good.substr(0, 5) + "{"};
  std::vector<std::string_view> views(payloads.begin(), payloads.end());
  RecordBatch batch(schema);
  std::vector<DecodeError> errors;
  std::vector<uint32_t> rows_of;
  ASSERT_TRUE((*decoder)->Prepare(views).ok());
  (*decoder)->Decode(views, &batch, &errors, &rows_of);
  ASSERT_EQ(batch.num_rows(), 1u);
  EXPECT_EQ(batch.columns[0].GetInt(0), 5);
  EXPECT_EQ(rows_of, (std::vector<uint32_t>{0}));
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].index, 1u);
  EXPECT_EQ(errors[0].reason,
            "not in the schema-registry wire format (byte 0, then a 4-byte schema id)");
  EXPECT_EQ(errors[1].index, 2u);

  // The encoder writes the header of its schema_id before the object.
  format.options.erase("framing");
  format.options["schema_id"] = "258";
  auto encoder = MakeEncoder(format, *schema);
  ASSERT_TRUE(encoder.ok());
  ASSERT_TRUE((*encoder)->Open().ok());
  std::string out;
  (*encoder)->Encode(batch, 0, &out);
  EXPECT_EQ(out, Bytes({0, 0, 0, 1, 2}) + R"({"n":5,"s":"x"})");
}

TEST(SchemaRegistry, AnUnreachableRegistryIsUnavailable) {
  // Port 1 on loopback: nothing listens, the connection is refused.
  auto r = SchemaRegistry::For("http://127.0.0.1:1")->Fetch(1);
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("schema registry http://127.0.0.1:1/schemas/ids/1"),
            std::string::npos)
      << r.status().message();
}

}  // namespace
}  // namespace weir::format
