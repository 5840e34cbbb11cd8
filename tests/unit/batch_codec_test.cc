// The exchange's batch encoding (common/rpc/batch_codec.h): round trips of
// every column type, and damaged input (truncations, corrupted bytes) that
// must give kDataLoss, never a crash or an overread.
#include "common/batch_codec.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>

#include "common/bytes.h"

namespace weir {
namespace {

std::shared_ptr<const Schema> AllTypes() {
  return std::make_shared<Schema>(std::vector<Field>{{"i", TypeId::kBigint},
                                                     {"d", TypeId::kDouble},
                                                     {"s", TypeId::kString},
                                                     {"b", TypeId::kBytes},
                                                     {"f", TypeId::kBoolean},
                                                     {"t", TypeId::kTimestamp},
                                                     {"n", TypeId::kNull}});
}

// Rows of every type, with nulls in every column, and awkward values.
RecordBatch AllTypesBatch() {
  RecordBatch b(AllTypes());
  const int64_t ints[] = {0, -1, std::numeric_limits<int64_t>::min(),
                          std::numeric_limits<int64_t>::max(), 42};
  const double doubles[] = {0.5, -0.0, std::numeric_limits<double>::infinity(),
                            std::numeric_limits<double>::quiet_NaN(), -1e300};
  const std::string strings[] = {"", "abc", std::string("a\0b", 3), std::string(300, 'x'),
                                 "\xff\xfe utf8? \xe2\x82\xac"};
  for (int r = 0; r < 5; ++r) {
    const bool null = r == 3;
    auto& c = b.columns;
    if (null) {
      for (auto& col : c) col.AppendNull();
    } else {
      c[0].AppendInt(ints[r]);
      c[1].AppendDouble(doubles[r]);
      c[2].AppendString(strings[r]);
      c[3].AppendString(strings[4 - r]);
      c[4].AppendBool(r % 2 == 0);
      c[5].AppendInt(1714564800123 + r);
      c[6].AppendNull();
    }
    b.event_time.push_back(1000 * r - 7);
  }
  return b;
}

// Same schema, rows, nulls and values (doubles bit for bit).
void ExpectSameBatch(const RecordBatch& want, const RecordBatch& got) {
  ASSERT_EQ(got.num_rows(), want.num_rows());
  ASSERT_EQ(got.columns.size(), want.columns.size());
  EXPECT_EQ(got.event_time, want.event_time);
  for (size_t c = 0; c < want.columns.size(); ++c) {
    const Column& w = want.columns[c];
    const Column& g = got.columns[c];
    ASSERT_EQ(g.type(), w.type()) << "column " << c;
    ASSERT_EQ(g.size(), want.num_rows()) << "column " << c;
    for (size_t r = 0; r < want.num_rows(); ++r) {
      SCOPED_TRACE("column " + std::to_string(c) + " row " + std::to_string(r));
      ASSERT_EQ(g.IsNull(r), w.IsNull(r));
      if (w.IsNull(r)) continue;
      if (IsStringStored(w.type())) {
        EXPECT_EQ(g.GetString(r), w.GetString(r));
      } else if (w.type() == TypeId::kDouble) {
        double a = w.GetDouble(r), b = g.GetDouble(r);
        EXPECT_EQ(std::memcmp(&a, &b, sizeof a), 0) << a << " vs " << b;
      } else {
        EXPECT_EQ(g.GetInt(r), w.GetInt(r));
      }
    }
  }
}

RecordBatch RoundTrip(const RecordBatch& b) {
  std::string bytes;
  EncodeBatch(b, &bytes);
  RecordBatch out(b.schema);
  Status st = DecodeBatch(bytes, &out);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return out;
}

TEST(BatchCodec, RoundTripsEveryColumnType) {
  RecordBatch b = AllTypesBatch();
  ExpectSameBatch(b, RoundTrip(b));
}

TEST(BatchCodec, RoundTripsEachTypeAlone) {
  const RecordBatch all = AllTypesBatch();
  for (size_t c = 0; c < all.columns.size(); ++c) {
    SCOPED_TRACE(all.schema->field(c).name);
    RecordBatch one(std::make_shared<Schema>(std::vector<Field>{all.schema->field(c)}));
    one.columns[0] = all.columns[c];
    one.event_time = all.event_time;
    ExpectSameBatch(one, RoundTrip(one));
  }
}

TEST(BatchCodec, RoundTripsAllNullRows) {
  RecordBatch b(AllTypes());
  for (int r = 0; r < 3; ++r) {
    for (auto& c : b.columns) c.AppendNull();
    b.event_time.push_back(r);
  }
  RecordBatch got = RoundTrip(b);
  ExpectSameBatch(b, got);
  for (const auto& c : got.columns)
    for (size_t r = 0; r < 3; ++r) EXPECT_TRUE(c.IsNull(r));
}

TEST(BatchCodec, RoundTripsAnEmptyBatch) {
  RecordBatch b(AllTypes());
  std::string bytes;
  EncodeBatch(b, &bytes);
  RecordBatch got(b.schema);
  ASSERT_TRUE(DecodeBatch(bytes, &got).ok());
  EXPECT_EQ(got.num_rows(), 0u);
  ASSERT_EQ(got.columns.size(), b.columns.size());
  for (const auto& c : got.columns) EXPECT_EQ(c.size(), 0u);
}

TEST(BatchCodec, RoundTripsZeroColumns) {
  RecordBatch b(std::make_shared<Schema>());
  b.event_time = {5, 6, 7};
  RecordBatch got = RoundTrip(b);
  EXPECT_EQ(got.num_rows(), 3u);
  EXPECT_EQ(got.event_time, b.event_time);
  EXPECT_TRUE(got.columns.empty());

  RecordBatch empty(std::make_shared<Schema>());
  EXPECT_EQ(RoundTrip(empty).num_rows(), 0u);
}

TEST(BatchCodec, EncodeAppendsAndDecodeReplaces) {
  RecordBatch b = AllTypesBatch();
  std::string bytes = "prefix";
  EncodeBatch(b, &bytes);
  ASSERT_EQ(bytes.substr(0, 6), "prefix");
  std::string_view enc = std::string_view(bytes).substr(6);
  // Decoding into a batch that holds other rows replaces them.
  RecordBatch got = AllTypesBatch();
  got.event_time.push_back(1);
  for (auto& c : got.columns) c.AppendNull();
  ASSERT_TRUE(DecodeBatch(enc, &got).ok());
  ExpectSameBatch(b, got);
  ASSERT_TRUE(DecodeBatch(enc, &got).ok());
  ExpectSameBatch(b, got);
}

TEST(BatchCodec, DecodeRebuildsColumnsThatDoNotMatchTheSchema) {
  RecordBatch b = AllTypesBatch();
  std::string bytes;
  EncodeBatch(b, &bytes);
  RecordBatch got;
  got.schema = b.schema;  // no columns yet
  ASSERT_TRUE(DecodeBatch(bytes, &got).ok());
  ExpectSameBatch(b, got);
}

void ExpectDataLoss(std::string_view bytes, const std::shared_ptr<const Schema>& schema,
                    const std::string& what) {
  RecordBatch out(schema);
  Status st = DecodeBatch(bytes, &out);
  EXPECT_EQ(st.code(), StatusCode::kDataLoss) << what << ": " << st.ToString();
}

TEST(BatchCodec, EveryTruncationIsDataLoss) {
  const RecordBatch batches[] = {AllTypesBatch(), RecordBatch(AllTypes()),
                                 RecordBatch(std::make_shared<Schema>())};
  for (const RecordBatch& b : batches) {
    std::string bytes;
    EncodeBatch(b, &bytes);
    ASSERT_TRUE(DecodeBatch(bytes, std::make_unique<RecordBatch>(b.schema).get()).ok());
    for (size_t n = 0; n < bytes.size(); ++n) {
      // A copy of exactly n bytes, so that an overread shows under ASan.
      std::unique_ptr<char[]> cut(new char[n == 0 ? 1 : n]);
      std::memcpy(cut.get(), bytes.data(), n);
      ExpectDataLoss(std::string_view(cut.get(), n), b.schema,
                     "the first " + std::to_string(n) + " of " + std::to_string(bytes.size()));
    }
  }
}

// The layout of AllTypesBatch's encoding, for targeted corruption: version,
// rows (1-byte varint), ncols (1-byte varint), 8 bytes of event time per
// row, then per column its type tag and one null flag per row.
constexpr size_t kRowsAt = 1, kColsAt = 2, kFirstTypeAt = 3 + 5 * 8;

TEST(BatchCodec, CorruptedHeadersAreDataLoss) {
  const RecordBatch b = AllTypesBatch();
  std::string good;
  EncodeBatch(b, &good);
  ASSERT_EQ(static_cast<uint8_t>(good[kRowsAt]), 5);
  ASSERT_EQ(static_cast<uint8_t>(good[kColsAt]), 7);
  ASSERT_EQ(static_cast<uint8_t>(good[kFirstTypeAt]), static_cast<uint8_t>(TypeId::kBigint));

  auto with = [&](size_t at, char v) {
    std::string s = good;
    s[at] = v;
    return s;
  };
  ExpectDataLoss(with(0, 2), b.schema, "version 2");
  ExpectDataLoss(with(0, 0), b.schema, "version 0");
  ExpectDataLoss(with(kColsAt, 6), b.schema, "6 columns");
  ExpectDataLoss(with(kColsAt, 8), b.schema, "8 columns");
  ExpectDataLoss(with(kColsAt, 0), b.schema, "0 columns");
  ExpectDataLoss(with(kRowsAt, 4), b.schema, "4 rows");
  ExpectDataLoss(with(kRowsAt, 6), b.schema, "6 rows");
  ExpectDataLoss(with(kFirstTypeAt, static_cast<char>(TypeId::kTimestamp)), b.schema,
                 "bigint tagged as timestamp");
  ExpectDataLoss(with(kFirstTypeAt, static_cast<char>(TypeId::kString)), b.schema,
                 "bigint tagged as string");
  ExpectDataLoss(with(kFirstTypeAt, 99), b.schema, "type tag 99");
  ExpectDataLoss(with(kFirstTypeAt + 1, 2), b.schema, "null flag 2");
  ExpectDataLoss(with(kFirstTypeAt + 5, static_cast<char>(0xff)), b.schema, "null flag 255");
  ExpectDataLoss(good + "x", b.schema, "a trailing byte");
  ExpectDataLoss(good + good, b.schema, "two batches");
  // The same bytes against another schema.
  ExpectDataLoss(good, std::make_shared<Schema>(std::vector<Field>{{"i", TypeId::kBigint}}),
                 "a schema of one column");
}

// Hand-made encodings of one string column, one row.
std::string OneStringRow(uint8_t null_flag, uint64_t total, uint64_t len, std::string_view data) {
  std::string s;
  ByteWriter w(&s);
  w.PutU8(1);      // version
  w.PutVarint(1);  // rows
  w.PutVarint(1);  // columns
  s.append(8, 0);  // event time
  w.PutU8(static_cast<uint8_t>(TypeId::kString));
  w.PutU8(null_flag);
  w.PutVarint(total);
  w.PutVarint(len);
  s.append(data);
  return s;
}

TEST(BatchCodec, CorruptedStringsAreDataLoss) {
  auto schema = std::make_shared<Schema>(std::vector<Field>{{"s", TypeId::kString}});
  {
    RecordBatch ok(schema);
    ASSERT_TRUE(DecodeBatch(OneStringRow(0, 3, 3, "abc"), &ok).ok());
    ASSERT_EQ(ok.columns[0].GetString(0), "abc");
    ASSERT_TRUE(DecodeBatch(OneStringRow(1, 0, 0, ""), &ok).ok());
    ASSERT_TRUE(ok.columns[0].IsNull(0));
  }
  ExpectDataLoss(OneStringRow(0, 3, 5, "abc"), schema, "a length beyond the total");
  ExpectDataLoss(OneStringRow(0, 5, 5, "abc"), schema, "a total beyond the data");
  ExpectDataLoss(OneStringRow(0, 5, 3, "abc"), schema, "lengths short of the total");
  ExpectDataLoss(OneStringRow(0, uint64_t{1} << 40, uint64_t{1} << 40, "abc"), schema,
                 "a huge total");
  ExpectDataLoss(OneStringRow(0, 3, ~uint64_t{0}, "abc"), schema, "a huge length");
  ExpectDataLoss(OneStringRow(1, 3, 3, "abc"), schema, "a null string with bytes");
  ExpectDataLoss(OneStringRow(2, 3, 3, "abc"), schema, "null flag 2");
  ExpectDataLoss(OneStringRow(0, 3, 3, "abcd"), schema, "trailing string bytes");
}

TEST(BatchCodec, HugeRowCountsAreDataLoss) {
  auto schema = std::make_shared<Schema>();
  for (uint64_t rows : {uint64_t{1} << 24 | 1, uint64_t{1} << 40, ~uint64_t{0}, uint64_t{100}}) {
    std::string s;
    ByteWriter w(&s);
    w.PutU8(1);
    w.PutVarint(rows);
    w.PutVarint(0);
    s.append(16, 0);
    ExpectDataLoss(s, schema, std::to_string(rows) + " rows");
  }
  // An overlong varint.
  ExpectDataLoss(std::string("\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x00", 12), schema,
                 "an 11-byte varint");
}

// Any byte changed anywhere decodes or fails with kDataLoss; it never
// crashes (run under the sanitizer build for overreads).
TEST(BatchCodec, CorruptedBytesNeverCrash) {
  const RecordBatch b = AllTypesBatch();
  std::string good;
  EncodeBatch(b, &good);
  std::mt19937 rng(7);
  int failed = 0;
  for (size_t at = 0; at < good.size(); ++at) {
    for (int v : {0x00, 0x01, 0x02, 0x7f, 0x80, 0xff, static_cast<int>(rng() & 0xff)}) {
      std::string s = good;
      s[at] = static_cast<char>(v);
      RecordBatch out(b.schema);
      Status st = DecodeBatch(s, &out);
      if (!st.ok()) {
        ++failed;
        EXPECT_EQ(st.code(), StatusCode::kDataLoss) << st.ToString();
      } else {
        EXPECT_EQ(out.num_rows(), b.num_rows());
      }
    }
  }
  EXPECT_GT(failed, 0);
}

}  // namespace
}  // namespace weir
