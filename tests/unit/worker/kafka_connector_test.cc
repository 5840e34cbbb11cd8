// The Kafka source and sink against the in-process DevBroker (librdkafka's
// mock cluster: the real Kafka protocol over loopback TCP), with plain
// librdkafka producers and consumers on the test's side.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <unistd.h>

#include "common/format/format.h"
#include "tests/unit/worker/test_util.h"
#include "worker/connectors/connector.h"
#include "worker/connectors/kafka_sink.h"
#include "worker/connectors/kafka_source.h"
#include "worker/devbroker/dev_broker.h"

namespace weir::connectors {
namespace {

using devbroker::DevBroker;

constexpr auto kTestTimeout = std::chrono::seconds(30);

using testutil::ClientConf;
using testutil::ConsumeAll;
using testutil::Consumed;
using testutil::OrdersSchema;

// Produces to explicit partitions and waits for the acknowledgements.
class TestProducer {
 public:
  explicit TestProducer(const std::string& brokers) {
    char err[512];
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, ClientConf(brokers), err, sizeof err);
    EXPECT_NE(rk_, nullptr) << err;
  }
  ~TestProducer() { rd_kafka_destroy(rk_); }

  void Send(const std::string& topic, int32_t partition, const std::string& value,
            const std::string& key = "") {
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk_, topic.c_str(), nullptr);
    ASSERT_EQ(
        rd_kafka_produce(rkt, partition, RD_KAFKA_MSG_F_COPY, const_cast<char*>(value.data()),
                         value.size(), key.empty() ? nullptr : key.data(), key.size(), nullptr),
        0);
    rd_kafka_topic_destroy(rkt);
  }
  // With headers and an explicit timestamp.
  void SendWithHeaders(const std::string& topic, int32_t partition, const std::string& value,
                       const std::string& key, int64_t timestamp,
                       const std::vector<std::pair<std::string, std::string>>& headers) {
    rd_kafka_headers_t* h = rd_kafka_headers_new(headers.size());
    for (const auto& [name, v] : headers)
      rd_kafka_header_add(h, name.c_str(), -1, v.data(), static_cast<ssize_t>(v.size()));
    ASSERT_EQ(
        rd_kafka_producev(rk_, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                          RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                          RD_KAFKA_V_KEY(key.data(), key.size()), RD_KAFKA_V_TIMESTAMP(timestamp),
                          RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END),
        RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  void Flush() { ASSERT_EQ(rd_kafka_flush(rk_, 10'000), RD_KAFKA_RESP_ERR_NO_ERROR); }

 private:
  rd_kafka_t* rk_ = nullptr;
};

std::string Order(const std::string& user, double amount, int64_t ts) {
  char buf[160];
  std::snprintf(buf, sizeof buf, R"({"user":"%s","amount":%g,"ts":%lld})", user.c_str(), amount,
                static_cast<long long>(ts));
  return buf;
}

// One cluster for the suite; each test has topics of its own.
class KafkaConnectorTest : public testutil::SharedBrokerTest<KafkaConnectorTest> {
 public:
  static constexpr int kTopicSets = 32;
  static std::vector<devbroker::TopicSpec> Topics(int set) {
    return {{"orders" + Suffix(set), 3}, {"orders.dlq" + Suffix(set), 1}, {"out" + Suffix(set), 3}};
  }

 protected:
  static std::string Suffix(int set) { return "-" + std::to_string(set); }

  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(SharedBrokerTest::SetUp());
    std::string suffix = Suffix(set_);
    orders_ = "orders" + suffix;
    dlq_ = "orders.dlq" + suffix;
    out_ = "out" + suffix;
  }

  spec::SourceSpec SourceSpec() const {
    spec::SourceSpec s;
    s.name = "orders";
    s.type = "kafka";
    s.brokers = brokers_;
    s.topic = orders_;
    s.end_at_latest = true;
    s.schema = OrdersSchema();
    s.event_time = spec::EventTimeSpec{"ts", 0, 0};
    // The mock broker holds an empty fetch for the whole wait, even when
    // data arrives meanwhile: keep the test's latency low.
    s.properties["fetch.wait.max.ms"] = "10";
    return s;
  }

  static SourceContext Context(int subtask, int parallelism, const Clock* clock) {
    SourceContext ctx;
    ctx.job = "test";
    ctx.subtask = subtask;
    ctx.parallelism = parallelism;
    ctx.clock = clock;
    ctx.event_time = true;
    return ctx;
  }

  // Polls until kEndOfInput (or an error, returned), appending the users.
  static Status ReadToEnd(KafkaSource* source, std::vector<std::string>* users,
                          std::vector<int64_t>* times = nullptr) {
    auto deadline = std::chrono::steady_clock::now() + kTestTimeout;
    RecordBatch batch(std::make_shared<Schema>(OrdersSchema()));
    while (std::chrono::steady_clock::now() < deadline) {
      batch.Clear();
      auto state = source->Poll(&batch, 100, 100);
      if (!state.ok()) return state.status();
      for (size_t r = 0; r < batch.num_rows(); ++r) {
        users->emplace_back(batch.columns[0].GetString(r));
        if (times) times->push_back(batch.event_time[r]);
      }
      if (*state == PollState::kEndOfInput) return Status::OK();
    }
    return Status(StatusCode::kDeadlineExceeded, "no end of input");
  }

  std::string orders_, dlq_, out_;
  ManualClock clock_{1'000'000};
};

TEST_F(KafkaConnectorTest, TwoSubtasksReadEveryValidRecordExactlyOnce) {
  TestProducer producer(brokers_);
  std::multiset<std::string> expected;
  int malformed = 0;
  for (int p = 0; p < 3; ++p) {
    for (int i = 0; i < 30; ++i) {
      if (i % 10 == 7) {
        producer.Send(orders_, p, "{not json");
        ++malformed;
      } else if (i % 10 == 8) {
        producer.Send(orders_, p, R"({"user":"x","amount":"abc","ts":1})");
        ++malformed;
      } else {
        std::string user = "u" + std::to_string(p) + "_" + std::to_string(i);
        producer.Send(orders_, p, Order(user, i * 1.5, 1000 + i));
        expected.insert(user);
      }
    }
  }
  producer.Flush();

  std::multiset<std::string> got;
  int64_t skipped = 0, records = 0;
  for (int subtask = 0; subtask < 2; ++subtask) {
    spec::SourceSpec spec = SourceSpec();
    spec.on_error = spec::OnError::kSkip;
    KafkaSource source(spec);
    ASSERT_TRUE(source.Open(Context(subtask, 2, &clock_)).ok());
    EXPECT_EQ(source.partitions(),
              subtask == 0 ? std::vector<int32_t>({0, 2}) : std::vector<int32_t>({1}));
    std::vector<std::string> users;
    Status st = ReadToEnd(&source, &users);
    ASSERT_TRUE(st.ok()) << st.ToString();
    got.insert(users.begin(), users.end());
    skipped += source.stats().skipped;
    records += source.stats().records;
    // Offsets: every assigned partition read to its end (30 messages each).
    for (auto [partition, offset] : source.Offsets()) EXPECT_EQ(offset, 30) << partition;
    // Ended: the watermark is final; Poll keeps returning kEndOfInput.
    EXPECT_EQ(source.Watermark().watermark, kMaxWatermark);
    RecordBatch batch(std::make_shared<Schema>(OrdersSchema()));
    auto again = source.Poll(&batch, 10, 0);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, PollState::kEndOfInput);
    source.Close();
  }
  EXPECT_EQ(got, expected);
  EXPECT_EQ(skipped, malformed);
  EXPECT_EQ(records, static_cast<int64_t>(expected.size()));
}

TEST_F(KafkaConnectorTest, MalformedRecordFailsWithTopicPartitionOffset) {
  TestProducer producer(brokers_);
  producer.Send(orders_, 2, Order("a", 1, 1));
  producer.Send(orders_, 2, Order("b", 1, 2));
  producer.Send(orders_, 2, R"({"user":"c","amount":"abc","ts":3})");
  producer.Flush();
  KafkaSource source(SourceSpec());  // on_error: fail
  ASSERT_TRUE(source.Open(Context(0, 1, &clock_)).ok());
  std::vector<std::string> users;
  Status st = ReadToEnd(&source, &users);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("topic " + orders_ + " partition 2 offset 2: "), std::string::npos)
      << st.message();
  EXPECT_NE(st.message().find("amount"), std::string::npos) << st.message();
}

TEST_F(KafkaConnectorTest, RecordOverTheSizeLimitFailsWithTopicPartitionOffset) {
  TestProducer producer(brokers_);
  producer.Send(orders_, 1, Order("a", 1, 1));
  producer.Send(orders_, 1, Order("b", 1, 2) + std::string(300, ' '));
  producer.Flush();
  spec::SourceSpec spec = SourceSpec();
  spec.max_record_bytes = 200;
  KafkaSource source(spec);
  ASSERT_TRUE(source.Open(Context(0, 1, &clock_)).ok());
  std::vector<std::string> users;
  Status st = ReadToEnd(&source, &users);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "topic " + orders_ +
                              " partition 1 offset 1: record is larger than max_record_bytes "
                              "(200 bytes)");
}

TEST_F(KafkaConnectorTest, AMissingSecretFailsOpenNamingTheSettingAndWhereItWasLookedFor) {
  spec::SourceSpec spec = SourceSpec();
  spec.properties["security.protocol"] = "SASL_PLAINTEXT";
  spec.properties["sasl.mechanism"] = "PLAIN";
  spec.properties["sasl.username"] = "weir";
  spec.secrets["sasl.password"] = {spec::SecretRef::From::kEnv, "WEIR_TEST_UNSET_KAFKA_PASSWORD"};
  KafkaSource source(spec);
  Status st = source.Open(Context(0, 1, &clock_));
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_EQ(st.message(),
            "kafka source 'orders': Kafka property 'sasl.password' (env "
            "WEIR_TEST_UNSET_KAFKA_PASSWORD): environment variable WEIR_TEST_UNSET_KAFKA_PASSWORD "
            "is not set on this worker");
}

TEST_F(KafkaConnectorTest, RawRecordsWithKeyHeadersTimestampAndPositionAsFields) {
  TestProducer producer(brokers_);
  producer.SendWithHeaders(orders_, 1,
                           std::string("\x00\xff"
                                       "bin",
                                       5),
                           "k1", 1'700'000'000'123, {{"trace", "t-1"}, {"tenant", "acme"}});
  producer.Send(orders_, 1, "plain");  // no key, no headers
  producer.Flush();
  spec::SourceSpec spec = SourceSpec();
  spec.format.type = "raw";
  spec.event_time.reset();
  spec.metadata = {{"k", "key", ""},         {"hdrs", "headers", ""}, {"trace", "header", "trace"},
                   {"kts", "timestamp", ""}, {"t", "topic", ""},      {"p", "partition", ""},
                   {"o", "offset", ""}};
  spec.schema = Schema({{"value", TypeId::kBytes},
                        {"k", TypeId::kBytes},
                        {"hdrs", TypeId::kString},
                        {"trace", TypeId::kBytes},
                        {"kts", TypeId::kTimestamp},
                        {"t", TypeId::kString},
                        {"p", TypeId::kBigint},
                        {"o", TypeId::kBigint}});
  KafkaSource source(spec);
  SourceContext ctx = Context(0, 1, &clock_);
  ctx.event_time = false;
  ASSERT_TRUE(source.Open(ctx).ok());
  RecordBatch batch(std::make_shared<Schema>(spec.schema));
  RecordBatch all(std::make_shared<Schema>(spec.schema));
  auto deadline = std::chrono::steady_clock::now() + kTestTimeout;
  while (std::chrono::steady_clock::now() < deadline) {
    batch.Clear();
    auto state = source.Poll(&batch, 100, 100);
    ASSERT_TRUE(state.ok()) << state.status().ToString();
    std::vector<uint32_t> rows(batch.num_rows());
    for (size_t r = 0; r < rows.size(); ++r) rows[r] = static_cast<uint32_t>(r);
    all.AppendRows(batch, rows.data(), rows.size());
    if (*state == PollState::kEndOfInput) break;
  }
  ASSERT_EQ(all.num_rows(), 2u);
  EXPECT_EQ(all.columns[0].GetString(0), std::string_view("\x00\xff"
                                                          "bin",
                                                          5));
  EXPECT_EQ(all.columns[1].GetString(0), "k1");
  EXPECT_EQ(all.columns[2].GetString(0), R"({"trace":"t-1","tenant":"acme"})");
  EXPECT_EQ(all.columns[3].GetString(0), "t-1");
  EXPECT_EQ(all.columns[4].GetInt(0), 1'700'000'000'123);
  EXPECT_EQ(all.columns[5].GetString(0), orders_);
  EXPECT_EQ(all.columns[6].GetInt(0), 1);
  EXPECT_EQ(all.columns[7].GetInt(0), 0);
  // The second message: no key, no headers; its timestamp is the producer's clock.
  EXPECT_EQ(all.columns[0].GetString(1), "plain");
  EXPECT_TRUE(all.columns[1].IsNull(1));
  EXPECT_EQ(all.columns[2].GetString(1), "{}");
  EXPECT_TRUE(all.columns[3].IsNull(1));
  EXPECT_GT(all.columns[4].GetInt(1), 1'700'000'000'123);
  EXPECT_EQ(all.columns[7].GetInt(1), 1);
}

TEST_F(KafkaConnectorTest, NullEventTimeIsMalformed) {
  TestProducer producer(brokers_);
  producer.Send(orders_, 1, Order("a", 1, 1));
  producer.Send(orders_, 1, R"({"user":"b","amount":2,"ts":null})");
  producer.Send(orders_, 1, R"({"user":"c","amount":3})");
  producer.Send(orders_, 1, Order("d", 4, 4));
  producer.Flush();

  spec::SourceSpec spec = SourceSpec();
  spec.on_error = spec::OnError::kSkip;
  KafkaSource skipping(spec);
  ASSERT_TRUE(skipping.Open(Context(0, 1, &clock_)).ok());
  std::vector<std::string> users;
  std::vector<int64_t> times;
  ASSERT_TRUE(ReadToEnd(&skipping, &users, &times).ok());
  EXPECT_EQ(users, (std::vector<std::string>{"a", "d"}));
  EXPECT_EQ(times, (std::vector<int64_t>{1, 4}));
  EXPECT_EQ(skipping.stats().skipped, 2);

  KafkaSource failing(SourceSpec());
  ASSERT_TRUE(failing.Open(Context(0, 1, &clock_)).ok());
  users.clear();
  Status st = ReadToEnd(&failing, &users);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("topic " + orders_ +
                              " partition 1 offset 1: field 'ts' is null; it holds the event time"),
            std::string::npos)
      << st.message();
}

TEST_F(KafkaConnectorTest, DeadLetterToKafkaKeepsBytesErrorAndPosition) {
  TestProducer producer(brokers_);
  producer.Send(orders_, 0, Order("a", 1, 1));
  producer.Send(orders_, 0, "{broken");
  producer.Send(orders_, 2, Order("b", 1, 1));
  producer.Send(orders_, 2, Order("c", 1, 1));
  producer.Send(orders_, 2, R"({"user":"d","amount":"x","ts":5})");
  producer.Flush();

  spec::SourceSpec spec = SourceSpec();
  spec.on_error = spec::OnError::kDeadLetter;
  spec.dead_letter = spec::DeadLetterSpec{"kafka", "", dlq_, "", {}};
  KafkaSource source(spec);
  Status open = source.Open(Context(0, 1, &clock_));
  ASSERT_TRUE(open.ok()) << open.ToString();
  std::vector<std::string> users;
  ASSERT_TRUE(ReadToEnd(&source, &users).ok());
  source.Close();
  EXPECT_EQ(std::multiset<std::string>(users.begin(), users.end()),
            (std::multiset<std::string>{"a", "b", "c"}));
  EXPECT_EQ(source.stats().dead_lettered, 2);

  std::vector<Consumed> dlq = ConsumeAll(brokers_, dlq_, 1);
  ASSERT_EQ(dlq.size(), 2u);
  std::map<std::string, Consumed> by_value;
  for (const Consumed& c : dlq) by_value[c.value] = c;
  ASSERT_EQ(by_value.count("{broken"), 1u);
  const Consumed& broken = by_value["{broken"];
  EXPECT_EQ(broken.headers.at("weir.topic"), orders_);
  EXPECT_EQ(broken.headers.at("weir.partition"), "0");
  EXPECT_EQ(broken.headers.at("weir.offset"), "1");
  EXPECT_FALSE(broken.headers.at("weir.error").empty());
  const std::string wrong_type = R"({"user":"d","amount":"x","ts":5})";
  ASSERT_EQ(by_value.count(wrong_type), 1u);
  EXPECT_EQ(by_value[wrong_type].headers.at("weir.partition"), "2");
  EXPECT_EQ(by_value[wrong_type].headers.at("weir.offset"), "2");
  EXPECT_NE(by_value[wrong_type].headers.at("weir.error").find("amount"), std::string::npos);
}

TEST_F(KafkaConnectorTest, DeadLetterToFileWritesJsonLines) {
  auto dir =
      std::filesystem::temp_directory_path() / ("weir_kafka_dlq_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  TestProducer producer(brokers_);
  producer.Send(orders_, 1, "oops \"quoted\"");
  producer.Send(orders_, 1, Order("a", 1, 1));
  producer.Flush();

  spec::SourceSpec spec = SourceSpec();
  spec.on_error = spec::OnError::kDeadLetter;
  spec.dead_letter = spec::DeadLetterSpec{"file", "", "", (dir / "dlq.jsonl").string(), {}};
  KafkaSource source(spec);
  ASSERT_TRUE(source.Open(Context(0, 1, &clock_)).ok());
  std::vector<std::string> users;
  ASSERT_TRUE(ReadToEnd(&source, &users).ok());
  source.Close();
  EXPECT_EQ(users, std::vector<std::string>{"a"});

  std::ifstream in(dir / "dlq.jsonl");
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  EXPECT_EQ(line.rfind("{\"error\":", 0), 0u) << line;
  EXPECT_NE(line.find(R"("topic":")" + orders_ +
                      R"(","partition":1,"offset":0,"payload":"oops \"quoted\""})"),
            std::string::npos)
      << line;
  EXPECT_FALSE(std::getline(in, line));
  std::filesystem::remove_all(dir);
}

TEST_F(KafkaConnectorTest, EndAtLatestStopsAtTheOffsetsOfOpen) {
  TestProducer producer(brokers_);
  for (int i = 0; i < 5; ++i) producer.Send(orders_, 0, Order("early" + std::to_string(i), 1, i));
  producer.Flush();
  KafkaSource source(SourceSpec());
  ASSERT_TRUE(source.Open(Context(0, 1, &clock_)).ok());
  for (int i = 0; i < 5; ++i) producer.Send(orders_, 0, Order("late" + std::to_string(i), 1, i));
  producer.Flush();
  std::vector<std::string> users;
  ASSERT_TRUE(ReadToEnd(&source, &users).ok());
  EXPECT_EQ(users, (std::vector<std::string>{"early0", "early1", "early2", "early3", "early4"}));
  std::vector<std::pair<int32_t, int64_t>> offsets = {{0, 5}, {1, 0}, {2, 0}};
  EXPECT_EQ(source.Offsets(), offsets);
}

TEST_F(KafkaConnectorTest, StartOffsetsAndStartLatest) {
  TestProducer producer(brokers_);
  for (int i = 0; i < 10; ++i) producer.Send(orders_, 1, Order("r" + std::to_string(i), 1, i));
  producer.Flush();

  // A restored checkpoint: partition 1 resumes at offset 6.
  KafkaSource resumed(SourceSpec());
  resumed.SetStartOffsets({{1, 6}});
  ASSERT_TRUE(resumed.Open(Context(0, 1, &clock_)).ok());
  std::vector<std::string> users;
  ASSERT_TRUE(ReadToEnd(&resumed, &users).ok());
  EXPECT_EQ(users, (std::vector<std::string>{"r6", "r7", "r8", "r9"}));

  // start: latest (unbounded): only what arrives after Open.
  spec::SourceSpec spec = SourceSpec();
  spec.start = spec::StartFrom::kLatest;
  spec.end_at_latest = false;
  KafkaSource latest(spec);
  ASSERT_TRUE(latest.Open(Context(0, 1, &clock_)).ok());
  EXPECT_EQ(latest.Offsets()[1], (std::pair<int32_t, int64_t>{1, 10}));
  producer.Send(orders_, 1, Order("new", 1, 11));
  producer.Flush();
  RecordBatch batch(std::make_shared<Schema>(OrdersSchema()));
  auto deadline = std::chrono::steady_clock::now() + kTestTimeout;
  while (batch.num_rows() == 0 && std::chrono::steady_clock::now() < deadline) {
    auto state = latest.Poll(&batch, 100, 100);
    ASSERT_TRUE(state.ok());
    ASSERT_EQ(*state, PollState::kOk);
  }
  ASSERT_EQ(batch.num_rows(), 1u);
  EXPECT_EQ(batch.columns[0].GetString(0), "new");
  EXPECT_EQ(latest.Offsets()[1], (std::pair<int32_t, int64_t>{1, 11}));
}

TEST_F(KafkaConnectorTest, WatermarkIsTheMinimumOverActivePartitions) {
  spec::SourceSpec spec = SourceSpec();
  spec.end_at_latest = false;
  spec.event_time = spec::EventTimeSpec{"ts", 100, 5'000};
  KafkaSource source(spec);
  ASSERT_TRUE(source.Open(Context(0, 1, &clock_)).ok());
  EXPECT_EQ(source.Watermark().watermark, kMinWatermark);

  TestProducer producer(brokers_);
  producer.Send(orders_, 0, Order("a", 1, 10'000));
  producer.Send(orders_, 1, Order("b", 1, 50'000));
  producer.Send(orders_, 2, Order("c", 1, 30'000));
  producer.Send(orders_, 2, Order("d", 1, 20'000));
  producer.Flush();
  RecordBatch batch(std::make_shared<Schema>(OrdersSchema()));
  auto deadline = std::chrono::steady_clock::now() + kTestTimeout;
  while (batch.num_rows() < 4 && std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE(source.Poll(&batch, 100, 100).ok());
  }
  ASSERT_EQ(batch.num_rows(), 4u);
  // min over partitions of (max event time - 100 - 1): partition 0.
  WatermarkStatus wm = source.Watermark();
  EXPECT_EQ(wm.watermark, 10'000 - 101);
  EXPECT_FALSE(wm.idle);

  // Partitions 1 and 2 keep delivering; partition 0 goes idle.
  clock_.Advance(4'000);
  producer.Send(orders_, 1, Order("e", 1, 60'000));
  producer.Send(orders_, 2, Order("f", 1, 40'000));
  producer.Flush();
  batch.Clear();
  deadline = std::chrono::steady_clock::now() + kTestTimeout;
  while (batch.num_rows() < 2 && std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE(source.Poll(&batch, 100, 100).ok());
  }
  EXPECT_EQ(source.Watermark().watermark, 10'000 - 101);  // partition 0 not idle yet
  clock_.Advance(1'500);                                  // partition 0: 5.5 s without records
  wm = source.Watermark();
  EXPECT_EQ(wm.watermark, 40'000 - 101);
  EXPECT_FALSE(wm.idle);
  clock_.Advance(10'000);  // all idle
  wm = source.Watermark();
  EXPECT_TRUE(wm.idle);
  EXPECT_GE(wm.watermark, 40'000 - 101);  // never backwards
}

TEST_F(KafkaConnectorTest, ProcessingTimeRowsTakeTheClock) {
  TestProducer producer(brokers_);
  producer.Send(orders_, 0, Order("a", 1, 5));
  producer.Flush();
  KafkaSource source(SourceSpec());
  SourceContext ctx = Context(0, 1, &clock_);
  ctx.event_time = false;
  ASSERT_TRUE(source.Open(ctx).ok());
  std::vector<std::string> users;
  std::vector<int64_t> times;
  ASSERT_TRUE(ReadToEnd(&source, &users, &times).ok());
  EXPECT_EQ(times, std::vector<int64_t>{clock_.NowMillis()});
  EXPECT_EQ(source.Watermark().watermark, kMinWatermark);
}

TEST_F(KafkaConnectorTest, MissingTopicNamesTopicAndBrokers) {
  spec::SourceSpec spec = SourceSpec();
  spec.topic = "no-such-topic";
  KafkaSource source(spec);
  Status st = source.Open(Context(0, 1, &clock_));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_NE(st.message().find("no-such-topic"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find(brokers_), std::string::npos) << st.message();
}

TEST_F(KafkaConnectorTest, MoreSubtasksThanPartitions) {
  TestProducer producer(brokers_);
  producer.Send(orders_, 2, Order("a", 1, 5));
  producer.Flush();
  std::vector<std::string> all;
  for (int subtask = 0; subtask < 4; ++subtask) {
    KafkaSource source(SourceSpec());
    ASSERT_TRUE(source.Open(Context(subtask, 4, &clock_)).ok());
    EXPECT_EQ(source.partitions().size(), subtask < 3 ? 1u : 0u);
    ASSERT_TRUE(ReadToEnd(&source, &all).ok());
  }
  EXPECT_EQ(all, std::vector<std::string>{"a"});
}

// ---- positions (checkpoints) ----

// Polls (max_rows 4) until at least `n` more rows came, or the end.
Status ReadAtLeast(KafkaSource* source, size_t n, std::vector<std::string>* users) {
  const size_t want = users->size() + n;
  auto deadline = std::chrono::steady_clock::now() + kTestTimeout;
  RecordBatch batch(std::make_shared<Schema>(OrdersSchema()));
  while (users->size() < want && std::chrono::steady_clock::now() < deadline) {
    batch.Clear();
    auto state = source->Poll(&batch, 4, 100);
    if (!state.ok()) return state.status();
    for (size_t r = 0; r < batch.num_rows(); ++r)
      users->emplace_back(batch.columns[0].GetString(r));
    if (*state == PollState::kEndOfInput) return Status::OK();
  }
  return users->size() >= want ? Status::OK()
                               : Status(StatusCode::kDeadlineExceeded, "too few rows");
}

TEST_F(KafkaConnectorTest, RestoreAcrossParallelismChangesReadsEveryRecordOnce) {
  constexpr int kPerPartition = 20;
  TestProducer producer(brokers_);
  for (int i = 0; i < kPerPartition; ++i)
    for (int p = 0; p < 3; ++p)
      producer.Send(orders_, p, Order(std::to_string(p) + "_" + std::to_string(i), 1, i));
  producer.Flush();

  // Three generations: 2 subtasks read some, 3 subtasks restored from their
  // positions read some more, 1 subtask restored from those reads the rest.
  std::map<int, std::vector<int>> seen;  // partition -> record numbers in order
  auto note = [&](const std::vector<std::string>& users) {
    for (const std::string& u : users)
      seen[std::stoi(u.substr(0, 1))].push_back(std::stoi(u.substr(2)));
  };
  std::vector<std::string> positions;
  for (int parallelism : {2, 3, 1}) {
    SCOPED_TRACE("parallelism " + std::to_string(parallelism));
    std::vector<std::string> next_positions;
    for (int sub = 0; sub < parallelism; ++sub) {
      KafkaSource source(SourceSpec());
      if (!positions.empty()) {
        ASSERT_TRUE(source.RestorePositions(positions).ok());
      }
      ASSERT_TRUE(source.Open(Context(sub, parallelism, &clock_)).ok());
      std::vector<std::string> users;
      Status st = parallelism == 1 ? ReadToEnd(&source, &users) : ReadAtLeast(&source, 5, &users);
      ASSERT_TRUE(st.ok()) << st.ToString();
      if (parallelism == 1) {
        EXPECT_EQ(source.Watermark().watermark, kMaxWatermark);
      }
      note(users);
      auto pos = source.SnapshotPosition();
      ASSERT_TRUE(pos.ok()) << pos.status().ToString();
      next_positions.push_back(std::move(pos).value());
      source.Close();
    }
    positions = std::move(next_positions);
  }
  std::vector<int> all(kPerPartition);
  for (int i = 0; i < kPerPartition; ++i) all[static_cast<size_t>(i)] = i;
  for (int p = 0; p < 3; ++p) EXPECT_EQ(seen[p], all) << "partition " << p;
}

TEST_F(KafkaConnectorTest, RestoredBoundedSourceEndsWhereTheFirstRunWouldHave) {
  TestProducer producer(brokers_);
  for (int i = 0; i < 6; ++i) producer.Send(orders_, 1, Order("early" + std::to_string(i), 1, i));
  producer.Flush();
  std::vector<std::string> users;
  std::string position;
  {
    KafkaSource before(SourceSpec());
    ASSERT_TRUE(before.Open(Context(0, 1, &clock_)).ok());
    ASSERT_TRUE(ReadAtLeast(&before, 2, &users).ok());
    position = before.SnapshotPosition().value();
  }
  for (int i = 0; i < 3; ++i) producer.Send(orders_, 1, Order("later" + std::to_string(i), 1, i));
  producer.Flush();
  KafkaSource after(SourceSpec());
  ASSERT_TRUE(after.RestorePositions({position}).ok());
  ASSERT_TRUE(after.Open(Context(0, 1, &clock_)).ok());
  ASSERT_TRUE(ReadToEnd(&after, &users).ok());
  EXPECT_EQ(users,
            (std::vector<std::string>{"early0", "early1", "early2", "early3", "early4", "early5"}));
  std::vector<std::pair<int32_t, int64_t>> offsets = {{0, 0}, {1, 6}, {2, 0}};
  EXPECT_EQ(after.Offsets(), offsets);
}

TEST_F(KafkaConnectorTest, PartitionsInNoPositionStartAtStart) {
  TestProducer producer(brokers_);
  for (int p = 0; p < 3; ++p)
    for (int i = 0; i < 3; ++i)
      producer.Send(orders_, p, Order(std::to_string(p) + "_" + std::to_string(i), 1, i));
  producer.Flush();
  // Subtask 0 of 3 stored only partition 0, after its first record.
  std::string position;
  {
    KafkaSource before(SourceSpec());
    before.SetStartOffsets({{0, 1}});
    ASSERT_TRUE(before.Open(Context(0, 3, &clock_)).ok());
    position = before.SnapshotPosition().value();
  }
  KafkaSource after(SourceSpec());
  ASSERT_TRUE(after.RestorePositions({position}).ok());
  ASSERT_TRUE(after.Open(Context(0, 1, &clock_)).ok());
  std::vector<std::string> users;
  ASSERT_TRUE(ReadToEnd(&after, &users).ok());
  std::sort(users.begin(), users.end());
  EXPECT_EQ(users,
            (std::vector<std::string>{"0_1", "0_2", "1_0", "1_1", "1_2", "2_0", "2_1", "2_2"}));
}

TEST_F(KafkaConnectorTest, RestoreRejectsAnotherTopicAndMalformedPositions) {
  KafkaSource source(SourceSpec());
  EXPECT_EQ(source.SnapshotPosition().status().code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(source.Open(Context(0, 1, &clock_)).ok());
  const std::string position = source.SnapshotPosition().value();
  EXPECT_EQ(source.RestorePositions({position}).code(), StatusCode::kFailedPrecondition);

  spec::SourceSpec other = SourceSpec();
  other.topic = out_;
  KafkaSource moved(other);
  Status st = moved.RestorePositions({position});
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition) << st.ToString();
  EXPECT_NE(st.message().find(orders_), std::string::npos) << st.message();

  for (const std::string& bad : {std::string(), std::string("\x02"),
                                 position.substr(0, position.size() - 1), position + "x"}) {
    KafkaSource restored(SourceSpec());
    st = restored.RestorePositions({bad});
    EXPECT_EQ(st.code(), StatusCode::kDataLoss) << st.ToString();
    EXPECT_NE(st.message().find("kafka source 'orders'"), std::string::npos) << st.message();
  }
  KafkaSource twice(SourceSpec());
  st = twice.RestorePositions({position, position});
  EXPECT_EQ(st.code(), StatusCode::kDataLoss) << st.ToString();
  EXPECT_NE(st.message().find("partition 0"), std::string::npos) << st.message();
}

// ---- sink ----

RecordBatch OrdersBatch(const std::vector<std::tuple<std::string, double, int64_t>>& rows) {
  RecordBatch batch(std::make_shared<Schema>(OrdersSchema()));
  for (const auto& [user, amount, ts] : rows) {
    batch.columns[0].AppendString(user);
    batch.columns[1].AppendDouble(amount);
    batch.columns[2].AppendInt(ts);
    batch.event_time.push_back(ts);
  }
  return batch;
}

spec::SinkSpec KafkaSinkSpec(const std::string& brokers, const std::string& topic,
                             std::vector<std::string> key) {
  spec::SinkSpec s;
  s.name = "out";
  s.type = "kafka";
  s.brokers = brokers;
  s.topic = topic;
  s.key = std::move(key);
  return s;
}

int32_t PartitionOfKey(const std::string& brokers, const std::string& topic, const std::string& key,
                       int32_t partitions) {
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, ClientConf(brokers), err, sizeof err);
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  int32_t p = rd_kafka_msg_partitioner_consistent_random(rkt, key.data(), key.size(), partitions,
                                                         nullptr, nullptr);
  rd_kafka_topic_destroy(rkt);
  rd_kafka_destroy(rk);
  return p;
}

TEST_F(KafkaConnectorTest, SinkWritesKeyedMessagesToTheKeysPartition) {
  KafkaSink sink(KafkaSinkSpec(brokers_, out_, {"user"}), OrdersSchema());
  Status open = sink.Open(SinkContext{"test", 0, 1});
  ASSERT_TRUE(open.ok()) << open.ToString();
  std::vector<std::tuple<std::string, double, int64_t>> rows;
  for (int i = 0; i < 60; ++i)
    rows.emplace_back("user" + std::to_string(i % 12), i * 0.5, 1000 + i);
  RecordBatch batch = OrdersBatch(rows);
  ASSERT_TRUE(sink.Write(batch).ok());
  Status flushed = sink.Flush();
  ASSERT_TRUE(flushed.ok()) << flushed.ToString();
  EXPECT_EQ(sink.stats().records, 60);
  ASSERT_TRUE(sink.Close().ok());

  auto encoder = format::MakeEncoder(spec::FormatSpec{}, OrdersSchema());
  ASSERT_TRUE(encoder.ok());
  std::multiset<std::pair<std::string, std::string>> expected, got;
  for (size_t r = 0; r < batch.num_rows(); ++r) {
    std::string value;
    (*encoder)->Encode(batch, r, &value);
    expected.emplace(std::string(batch.columns[0].GetString(r)), value);
  }
  std::vector<Consumed> consumed = ConsumeAll(brokers_, out_, 3);
  ASSERT_EQ(consumed.size(), 60u);
  std::set<int32_t> partitions_used;
  for (const Consumed& c : consumed) {
    ASSERT_TRUE(c.has_key);
    got.emplace(c.key, c.value);
    EXPECT_EQ(c.partition, PartitionOfKey(brokers_, out_, c.key, 3)) << c.key;
    partitions_used.insert(c.partition);
  }
  EXPECT_EQ(got, expected);
  EXPECT_GT(partitions_used.size(), 1u);  // 12 keys spread over the partitions
}

TEST_F(KafkaConnectorTest, SinkKeyOfSeveralFieldsIsAJsonArray) {
  KafkaSink sink(KafkaSinkSpec(brokers_, out_, {"user", "ts"}), OrdersSchema());
  ASSERT_TRUE(sink.Open(SinkContext{"test", 0, 1}).ok());
  ASSERT_TRUE(sink.Write(OrdersBatch({{"ann", 1.5, 1714564800000}})).ok());
  ASSERT_TRUE(sink.Close().ok());
  std::vector<Consumed> consumed = ConsumeAll(brokers_, out_, 3);
  ASSERT_EQ(consumed.size(), 1u);
  EXPECT_EQ(consumed[0].key, R"(["ann","2024-05-01T12:00:00.000Z"])");
  EXPECT_EQ(consumed[0].partition, PartitionOfKey(brokers_, out_, consumed[0].key, 3));
}

TEST_F(KafkaConnectorTest, SinkToMissingTopicFailsOpen) {
  spec::SinkSpec spec = KafkaSinkSpec(brokers_, out_, {});
  spec.topic = "nowhere";
  KafkaSink sink(spec, OrdersSchema());
  Status st = sink.Open(SinkContext{"test", 0, 1});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_NE(st.message().find("nowhere"), std::string::npos) << st.message();
}

TEST_F(KafkaConnectorTest, SinkFlushReportsFailedDeliveries) {
  // A cluster of its own, which goes away before the message is delivered.
  auto broker = DevBroker::Start(devbroker::DevBrokerOptions{1, {{"lost", 1}}});
  ASSERT_TRUE(broker.ok());
  spec::SinkSpec spec = KafkaSinkSpec((*broker)->bootstrap_servers(), "lost", {});
  // A delivery that cannot succeed within message.timeout.ms fails.
  spec.properties["message.timeout.ms"] = "1000";
  KafkaSink sink(spec, OrdersSchema());
  ASSERT_TRUE(sink.Open(SinkContext{"test", 0, 1}).ok());
  ASSERT_TRUE(sink.Write(OrdersBatch({{"a", 1, 1}})).ok());
  broker->reset();
  Status st = sink.Flush();
  EXPECT_FALSE(st.ok());
}

}  // namespace
}  // namespace weir::connectors
