// The Kafka sink's exactly-once protocol (kafka_sink.h) against the
// in-process dev broker: transactional producer per subtask, one transaction
// per checkpoint epoch, the marker committed with it, re-send on recovery only
// when the marker is missing.
//
// What the dev broker (librdkafka 2.0.2's mock cluster) cannot show: it
// writes no transaction markers, so the rows of a transaction that was
// aborted or never committed stay visible to read_committed readers; and it
// does not fence an older producer when a newer one initializes the same
// transactional.id. The tests therefore check the protocol's decisions
// (markers, what is sent again, when rows reach the broker, the errors), and
// say where a real broker would hide rows; fencing is checked with the error
// a real broker returns, injected into a mock cluster of the test's own.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
// rdkafka_mock.h must come after rdkafka.h.
#include <librdkafka/rdkafka_mock.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "common/format/format.h"
#include "common/spec/job_spec.h"
#include "tests/unit/worker/test_util.h"
#include "worker/connectors/connector.h"
#include "worker/connectors/kafka_sink.h"
#include "worker/devbroker/dev_broker.h"

namespace weir::connectors {
namespace {

constexpr int kOutPartitions = 3;

// Kafka protocol request keys, for the mock's error injection.
constexpr int16_t kApiProduce = 0;
constexpr int16_t kApiEndTxn = 26;

using testutil::OrdersSchema;
using Read = testutil::Consumed;

// Every message of partitions 0..partitions-1 of `topic`, from the start to
// the end, as a read_committed consumer sees them, by partition and offset.
std::vector<Read> ReadTopic(const std::string& brokers, const std::string& topic, int partitions) {
  std::vector<Read> out = testutil::ConsumeAll(
      brokers, topic, partitions,
      {{"group.id", "weir-eos-test-reader"}, {"isolation.level", "read_committed"}});
  std::sort(out.begin(), out.end(), [](const Read& a, const Read& b) {
    return std::tie(a.partition, a.offset) < std::tie(b.partition, b.offset);
  });
  return out;
}

// A marker as the sink writes it: key = transactional.id, value = JSON.
struct Marker {
  std::string txn_id;
  int64_t epoch = 0;
  std::string value;
};

std::vector<Marker> ReadMarkers(const std::string& brokers, const std::string& topic) {
  std::vector<Marker> out;
  for (const Read& r : ReadTopic(brokers, topic, 1)) {
    Marker m;
    m.txn_id = r.key;
    m.value = r.value;
    size_t at = r.value.rfind("\"epoch\":");
    if (at != std::string::npos) m.epoch = std::stoll(r.value.substr(at + 8));
    out.push_back(std::move(m));
  }
  return out;
}

std::vector<int64_t> MarkerEpochs(const std::string& brokers, const std::string& topic) {
  std::vector<int64_t> out;
  for (const Marker& m : ReadMarkers(brokers, topic)) out.push_back(m.epoch);
  return out;
}

// `n` rows with users "<prefix>0".."<prefix>n-1".
RecordBatch Rows(const std::string& prefix, int n) {
  RecordBatch batch(std::make_shared<Schema>(OrdersSchema()));
  for (int i = 0; i < n; ++i) {
    batch.columns[0].AppendString(prefix + std::to_string(i));
    batch.columns[1].AppendDouble(i * 1.5);
    batch.columns[2].AppendInt(1000 + i);
    batch.event_time.push_back(1000 + i);
  }
  return batch;
}

// The users (message keys) of what was read, sorted.
std::multiset<std::string> Keys(const std::vector<Read>& reads) {
  std::multiset<std::string> out;
  for (const Read& r : reads) out.insert(r.key);
  return out;
}

std::multiset<std::string> KeysOf(const std::string& prefix, int n) {
  std::multiset<std::string> out;
  for (int i = 0; i < n; ++i) out.insert(prefix + std::to_string(i));
  return out;
}

std::multiset<std::string> Union(std::multiset<std::string> a,
                                 const std::multiset<std::string>& b) {
  a.insert(b.begin(), b.end());
  return a;
}

class KafkaEosTest : public testutil::SharedBrokerTest<KafkaEosTest> {
 public:
  static constexpr int kTopicSets = 16;
  // The sink's topic and its marker topic.
  static std::vector<devbroker::TopicSpec> Topics(int set) {
    const std::string out = "eos-" + std::to_string(set);
    return {{out, kOutPartitions}, {KafkaSink::DefaultMarkerTopic(out), 1}};
  }

 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(SharedBrokerTest::SetUp());
    job_ = "job" + std::to_string(set_);
    out_ = "eos-" + std::to_string(set_);
    markers_ = KafkaSink::DefaultMarkerTopic(out_);
  }

  spec::SinkSpec Spec() const {
    spec::SinkSpec s;
    s.name = "out";
    s.type = "kafka";
    s.brokers = brokers_;
    s.topic = out_;
    s.key = {"user"};
    s.delivery = spec::Delivery::kExactlyOnce;
    return s;
  }

  SinkContext Context(std::optional<SinkRestore> restore = std::nullopt) const {
    SinkContext ctx;
    ctx.job = job_;
    ctx.subtask = 0;
    ctx.parallelism = 1;
    ctx.restore = std::move(restore);
    return ctx;
  }

  std::unique_ptr<KafkaSink> OpenSink(std::optional<SinkRestore> restore = std::nullopt) {
    auto sink = std::make_unique<KafkaSink>(Spec(), OrdersSchema());
    Status st = sink->Open(Context(std::move(restore)));
    EXPECT_TRUE(st.ok()) << st.ToString();
    return st.ok() ? std::move(sink) : nullptr;
  }

  std::vector<Read> Output() const { return ReadTopic(brokers_, out_, kOutPartitions); }
  std::vector<int64_t> Epochs() const { return MarkerEpochs(brokers_, markers_); }
  std::string TxnId() const { return KafkaSink::TransactionalId(job_, "out", 0); }

  std::string job_, out_, markers_;
};

#define ASSERT_OK(expr)                                       \
  do {                                                        \
    Status st_ = (expr);                                      \
    ASSERT_TRUE(st_.ok()) << #expr << ": " << st_.ToString(); \
  } while (0)

TEST_F(KafkaEosTest, EachEpochIsOneTransactionCommittedWithItsMarker) {
  auto sink = OpenSink();
  ASSERT_NE(sink, nullptr);
  EXPECT_EQ(TxnId(), "weir-" + job_ + "-out-0");

  ASSERT_OK(sink->Write(Rows("a", 5)));
  auto state = sink->PreCommit(1);
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  EXPECT_FALSE(state->empty());  // the epoch's messages, written ahead
  EXPECT_TRUE(Epochs().empty()) << "the marker belongs to Commit";

  ASSERT_OK(sink->Commit(1));
  std::vector<Marker> markers = ReadMarkers(brokers_, markers_);
  ASSERT_EQ(markers.size(), 1u);
  EXPECT_EQ(markers[0].txn_id, TxnId());
  EXPECT_EQ(markers[0].epoch, 1);
  EXPECT_NE(markers[0].value.find("\"sink\":\"out\""), std::string::npos) << markers[0].value;
  EXPECT_NE(markers[0].value.find("\"subtask\":0"), std::string::npos) << markers[0].value;
  EXPECT_EQ(Keys(Output()), KeysOf("a", 5));

  ASSERT_OK(sink->Commit(1));  // idempotent: no second marker
  EXPECT_EQ(Epochs(), std::vector<int64_t>{1});

  ASSERT_OK(sink->Write(Rows("b", 3)));
  ASSERT_TRUE(sink->PreCommit(2).ok());
  ASSERT_OK(sink->Commit(2));
  EXPECT_EQ(Epochs(), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(Keys(Output()), Union(KeysOf("a", 5), KeysOf("b", 3)));

  // An epoch without rows opens no transaction and writes no marker.
  ASSERT_TRUE(sink->PreCommit(3).ok());
  ASSERT_OK(sink->Commit(3));
  EXPECT_EQ(Epochs(), (std::vector<int64_t>{1, 2}));

  EXPECT_EQ(sink->stats().records, 8);
  ASSERT_OK(sink->Close());  // nothing uncommitted
}

TEST_F(KafkaEosTest, NextEpochWaitsInMemoryUntilTheCommit) {
  auto sink = OpenSink();
  ASSERT_NE(sink, nullptr);
  ASSERT_OK(sink->Write(Rows("a", 4)));
  ASSERT_TRUE(sink->PreCommit(1).ok());
  // Epoch 2 while epoch 1's transaction waits for Commit(1): kept in memory.
  ASSERT_OK(sink->Write(Rows("b", 3)));
  ASSERT_OK(sink->Flush());
  EXPECT_EQ(Keys(Output()), KeysOf("a", 4)) << "epoch 2 reached the broker before Commit(1)";

  ASSERT_OK(sink->Commit(1));
  ASSERT_OK(sink->Flush());  // epoch 2's transaction now holds its rows
  EXPECT_EQ(Epochs(), std::vector<int64_t>{1});
  EXPECT_EQ(Keys(Output()), Union(KeysOf("a", 4), KeysOf("b", 3)));

  ASSERT_TRUE(sink->PreCommit(2).ok());
  ASSERT_OK(sink->Commit(2));
  EXPECT_EQ(Epochs(), (std::vector<int64_t>{1, 2}));
  ASSERT_OK(sink->Close());
}

TEST_F(KafkaEosTest, CommitCoversEveryEarlierEpochInOrder) {
  auto sink = OpenSink();
  ASSERT_NE(sink, nullptr);
  ASSERT_OK(sink->Write(Rows("a", 2)));
  ASSERT_TRUE(sink->PreCommit(1).ok());
  ASSERT_OK(sink->Write(Rows("b", 2)));
  // Checkpoint 1 never completed; 2 did.
  ASSERT_TRUE(sink->PreCommit(2).ok());
  EXPECT_FALSE(sink->PreCommit(2).ok()) << "checkpoint ids must increase";
  ASSERT_OK(sink->Commit(2));
  EXPECT_EQ(Epochs(), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(Keys(Output()), Union(KeysOf("a", 2), KeysOf("b", 2)));
  ASSERT_OK(sink->Close());
}

TEST_F(KafkaEosTest, RestoreAfterTheMarkerLandedSendsNothingAgain) {
  std::string state;
  {
    auto first = OpenSink();
    ASSERT_NE(first, nullptr);
    ASSERT_OK(first->Write(Rows("a", 5)));
    auto s = first->PreCommit(1);
    ASSERT_TRUE(s.ok());
    state = *s;
    ASSERT_OK(first->Commit(1));
    // Crash after the commit: no Close.
  }
  auto second = OpenSink(SinkRestore{1, state});
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(second->resent_epochs(), 0);
  EXPECT_EQ(Keys(Output()), KeysOf("a", 5)) << "epoch 1 was sent again";
  EXPECT_EQ(Epochs(), std::vector<int64_t>{1});
  ASSERT_OK(second->Commit(1));  // what the checkpoint promised is done already

  ASSERT_OK(second->Write(Rows("b", 2)));
  ASSERT_TRUE(second->PreCommit(2).ok());
  ASSERT_OK(second->Commit(2));
  EXPECT_EQ(Keys(Output()), Union(KeysOf("a", 5), KeysOf("b", 2)));
  EXPECT_EQ(Epochs(), (std::vector<int64_t>{1, 2}));
  ASSERT_OK(second->Close());
}

TEST_F(KafkaEosTest, RestoreWithoutTheMarkerSendsTheEpochOnce) {
  std::string state;
  std::vector<Read> first_attempt;
  {
    auto first = OpenSink();
    ASSERT_NE(first, nullptr);
    ASSERT_OK(first->Write(Rows("a", 6)));
    auto s = first->PreCommit(1);
    ASSERT_TRUE(s.ok());
    state = *s;
    // Crash before Commit(1): the transaction is never committed.
  }
  EXPECT_TRUE(Epochs().empty());
  // A real broker hides these rows (their transaction was aborted); the dev
  // broker shows them.
  first_attempt = Output();
  ASSERT_EQ(Keys(first_attempt), KeysOf("a", 6));

  {
    auto second = OpenSink(SinkRestore{1, state});
    ASSERT_NE(second, nullptr);
    EXPECT_EQ(second->resent_epochs(), 1);
    EXPECT_EQ(Epochs(), std::vector<int64_t>{1});
    // The re-sent copy: same keys, values and partitions as the first attempt.
    std::vector<Read> now = Output();
    ASSERT_EQ(now.size(), 12u);
    std::multiset<std::tuple<int32_t, std::string, std::string>> before, resent;
    for (const Read& r : first_attempt) before.emplace(r.partition, r.key, r.value);
    for (const Read& r : now) {
      bool old = std::any_of(first_attempt.begin(), first_attempt.end(), [&](const Read& f) {
        return f.partition == r.partition && f.offset == r.offset;
      });
      if (!old) resent.emplace(r.partition, r.key, r.value);
    }
    EXPECT_EQ(resent, before);
    // Crash again, after the recovery committed.
  }
  auto third = OpenSink(SinkRestore{1, state});
  ASSERT_NE(third, nullptr);
  EXPECT_EQ(third->resent_epochs(), 0) << "the marker of the re-sent epoch was missed";
  EXPECT_EQ(Output().size(), 12u);
  EXPECT_EQ(Epochs(), std::vector<int64_t>{1});
  ASSERT_OK(third->Close());
}

TEST_F(KafkaEosTest, CloseWithoutCommitAbortsAndCommitsNothing) {
  std::string state;
  {
    auto sink = OpenSink();
    ASSERT_NE(sink, nullptr);
    ASSERT_OK(sink->Write(Rows("a", 3)));
    auto s = sink->PreCommit(1);
    ASSERT_TRUE(s.ok());
    state = *s;
    ASSERT_OK(sink->Write(Rows("b", 2)));  // epoch 2, waiting for Commit(1)
    Status closed = sink->Close();
    EXPECT_EQ(closed.code(), StatusCode::kAborted) << closed.ToString();
    EXPECT_NE(closed.message().find("5 row(s)"), std::string::npos) << closed.ToString();
    ASSERT_OK(sink->Close());  // closed already
  }
  EXPECT_TRUE(Epochs().empty()) << "Close committed a transaction";
  // Epoch 2 never left memory; epoch 1's aborted rows are visible here only
  // because the dev broker writes no abort markers.
  EXPECT_EQ(Keys(Output()), KeysOf("a", 3));

  // Recovery from checkpoint 1 sends epoch 1 once, with its marker.
  auto again = OpenSink(SinkRestore{1, state});
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->resent_epochs(), 1);
  EXPECT_EQ(Epochs(), std::vector<int64_t>{1});
  EXPECT_EQ(Keys(Output()), Union(KeysOf("a", 3), KeysOf("a", 3)));
  ASSERT_OK(again->Close());
}

TEST_F(KafkaEosTest, RestoreResendsOnlyTheEpochsWithoutMarkers) {
  std::string state;
  {
    auto sink = OpenSink();
    ASSERT_NE(sink, nullptr);
    ASSERT_OK(sink->Write(Rows("a", 2)));
    ASSERT_TRUE(sink->PreCommit(1).ok());
    ASSERT_OK(sink->Write(Rows("b", 3)));
    auto s = sink->PreCommit(2);  // holds epochs 1 and 2
    ASSERT_TRUE(s.ok());
    state = *s;
    ASSERT_OK(sink->Commit(1));  // epoch 1 lands
    ASSERT_OK(sink->Flush());    // epoch 2's rows reach its transaction; crash before Commit(2)
  }
  EXPECT_EQ(Epochs(), std::vector<int64_t>{1});
  auto again = OpenSink(SinkRestore{2, state});
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->resent_epochs(), 1);
  EXPECT_EQ(Epochs(), (std::vector<int64_t>{1, 2}));
  // Epoch 1 once; epoch 2 twice here (the first attempt was never committed
  // and a real broker hides it).
  EXPECT_EQ(Keys(Output()), Union(KeysOf("a", 2), Union(KeysOf("b", 3), KeysOf("b", 3))));
  ASSERT_OK(again->Close());
}

TEST_F(KafkaEosTest, OnlyThisSubtasksMarkersCount) {
  // Two subtasks share the marker topic's single partition.
  KafkaSink zero(Spec(), OrdersSchema()), one(Spec(), OrdersSchema());
  SinkContext ctx0 = Context(), ctx1 = Context();
  ctx0.parallelism = ctx1.parallelism = 2;
  ctx1.subtask = 1;
  ASSERT_OK(zero.Open(ctx0));
  ASSERT_OK(one.Open(ctx1));
  ASSERT_OK(zero.Write(Rows("a", 2)));
  ASSERT_OK(one.Write(Rows("b", 2)));
  auto state0 = zero.PreCommit(1);
  ASSERT_TRUE(state0.ok());
  ASSERT_TRUE(one.PreCommit(1).ok());
  ASSERT_OK(one.Commit(1));  // subtask 1 lands epoch 1; subtask 0 crashes first
  std::vector<Marker> markers = ReadMarkers(brokers_, markers_);
  ASSERT_EQ(markers.size(), 1u);
  EXPECT_EQ(markers[0].txn_id, KafkaSink::TransactionalId(job_, "out", 1));

  KafkaSink again(Spec(), OrdersSchema());
  SinkContext restore = ctx0;
  restore.restore = SinkRestore{1, *state0};
  ASSERT_OK(again.Open(restore));
  EXPECT_EQ(again.resent_epochs(), 1) << "subtask 1's marker was taken for subtask 0's";
  markers = ReadMarkers(brokers_, markers_);
  ASSERT_EQ(markers.size(), 2u);
  EXPECT_EQ(markers[1].txn_id, TxnId());
  EXPECT_EQ(markers[1].epoch, 1);
  ASSERT_OK(again.Close());
  ASSERT_OK(one.Close());
}

TEST_F(KafkaEosTest, UncommittedRowsAreBoundedWithAClearError) {
  spec::SinkSpec spec = Spec();
  spec.properties["weir.max.uncommitted.bytes"] = "400";
  KafkaSink sink(spec, OrdersSchema());
  ASSERT_OK(sink.Open(Context()));
  ASSERT_OK(sink.Write(Rows("a", 2)));
  Status st = sink.Write(Rows("b", 20));
  EXPECT_EQ(st.code(), StatusCode::kResourceExhausted) << st.ToString();
  EXPECT_NE(st.message().find("weir.max.uncommitted.bytes"), std::string::npos) << st.ToString();
  EXPECT_FALSE(sink.PreCommit(1).ok()) << "the sink went on after losing rows";
}

TEST_F(KafkaEosTest, MissingMarkerTopicIsCreated) {
  const std::string topic = out_ + ".custom-markers";
  spec::SinkSpec spec = Spec();
  spec.properties["weir.marker.topic"] = topic;
  KafkaSink sink(spec, OrdersSchema());
  ASSERT_OK(sink.Open(Context()));
  ASSERT_OK(sink.Write(Rows("a", 1)));
  ASSERT_TRUE(sink.PreCommit(1).ok());
  ASSERT_OK(sink.Commit(1));
  EXPECT_EQ(MarkerEpochs(brokers_, topic), std::vector<int64_t>{1});
  EXPECT_TRUE(Epochs().empty());  // not the default marker topic
  ASSERT_OK(sink.Close());
}

TEST_F(KafkaEosTest, SettingsAndStateThatCannotWorkAreRefused) {
  {
    spec::SinkSpec spec = Spec();
    spec.properties["transactional.id"] = "mine";
    KafkaSink sink(spec, OrdersSchema());
    Status st = sink.Open(Context());
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
    EXPECT_NE(st.message().find(TxnId()), std::string::npos) << st.ToString();
  }
  {
    spec::SinkSpec spec = Spec();
    spec.properties["weir.marker.topc"] = "x";
    KafkaSink sink(spec, OrdersSchema());
    Status st = sink.Open(Context());
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
    EXPECT_NE(st.message().find("weir.marker.topic"), std::string::npos) << st.ToString();
  }
  {
    KafkaSink sink(Spec(), OrdersSchema());
    Status st = sink.Open(Context(SinkRestore{1, "not a state"}));
    EXPECT_EQ(st.code(), StatusCode::kDataLoss) << st.ToString();
    EXPECT_NE(st.message().find("'out'"), std::string::npos) << st.ToString();
  }
}

TEST_F(KafkaEosTest, AtLeastOnceHasNoTransactionsAndNoState) {
  spec::SinkSpec spec = Spec();
  spec.delivery = spec::Delivery::kAtLeastOnce;
  KafkaSink sink(spec, OrdersSchema());
  ASSERT_OK(sink.Open(Context()));
  ASSERT_OK(sink.Write(Rows("a", 3)));
  auto state = sink.PreCommit(1);
  ASSERT_TRUE(state.ok());
  EXPECT_TRUE(state->empty());
  EXPECT_EQ(Keys(Output()), KeysOf("a", 3));  // flushed at the barrier
  ASSERT_OK(sink.Commit(1));
  EXPECT_TRUE(Epochs().empty());
  ASSERT_OK(sink.Close());
}

TEST(KafkaEosValidation, ExactlyOnceKafkaSinkNeedsExactlyOnceCheckpoints) {
  auto job = [](const std::string& checkpoint, const std::string& delivery) {
    return "name: t\n"
           "checkpoint: {mode: " +
           checkpoint +
           "}\n"
           "sources:\n"
           "  orders:\n"
           "    type: kafka\n"
           "    brokers: localhost:9092\n"
           "    topic: orders\n"
           "    format: json\n"
           "    schema: {user: string, amount: double}\n"
           "sinks:\n"
           "  out: {from: orders, type: kafka, brokers: localhost:9092, topic: out" +
           delivery + "}\n";
  };
  spec::LoadResult refused = spec::ParseJob(job("at_least_once", ", delivery: exactly_once"), "t");
  ASSERT_EQ(refused.diagnostics.size(), 1u);
  EXPECT_NE(refused.diagnostics[0].message.find(
                "delivery exactly_once needs checkpoint.mode exactly_once"),
            std::string::npos)
      << refused.diagnostics[0].message;

  spec::LoadResult defaulted = spec::ParseJob(job("exactly_once", ""), "t");
  ASSERT_TRUE(defaulted.diagnostics.empty()) << defaulted.diagnostics[0].message;
  EXPECT_EQ(defaulted.job->sinks[0].delivery, spec::Delivery::kExactlyOnce);

  spec::LoadResult weaker = spec::ParseJob(job("at_least_once", ""), "t");
  ASSERT_TRUE(weaker.diagnostics.empty()) << weaker.diagnostics[0].message;
  EXPECT_EQ(weaker.job->sinks[0].delivery, spec::Delivery::kAtLeastOnce);
}

// Fencing. A real broker bumps the producer epoch when a newer producer
// initializes the same transactional.id, and answers the older one's next
// transactional request with PRODUCER_FENCED (or INVALID_PRODUCER_EPOCH).
// The mock cluster hands out a new producer id instead and fences nobody, so
// this test starts a mock cluster of its own and injects that answer.
class KafkaEosFencingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char err[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    ASSERT_EQ(rd_kafka_conf_set(conf, "log_level", "0", err, sizeof err), RD_KAFKA_CONF_OK);
    host_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    ASSERT_NE(host_, nullptr) << err;
    cluster_ = rd_kafka_mock_cluster_new(host_, 1);
    ASSERT_NE(cluster_, nullptr);
    brokers_ = rd_kafka_mock_cluster_bootstraps(cluster_);
    ASSERT_EQ(rd_kafka_mock_topic_create(cluster_, "fenced", 1, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
    ASSERT_EQ(rd_kafka_mock_topic_create(cluster_, "fenced.weir-markers", 1, 1),
              RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  void TearDown() override {
    if (cluster_ != nullptr) rd_kafka_mock_cluster_destroy(cluster_);
    if (host_ != nullptr) rd_kafka_destroy(host_);
  }

  std::unique_ptr<KafkaSink> OpenSink() {
    spec::SinkSpec s;
    s.name = "out";
    s.type = "kafka";
    s.brokers = brokers_;
    s.topic = "fenced";
    s.delivery = spec::Delivery::kExactlyOnce;
    auto sink = std::make_unique<KafkaSink>(s, OrdersSchema());
    Status st = sink->Open(SinkContext{"job", 0, 1, std::nullopt});
    EXPECT_TRUE(st.ok()) << st.ToString();
    return st.ok() ? std::move(sink) : nullptr;
  }

  static void ExpectFenced(const Status& st) {
    EXPECT_EQ(st.code(), StatusCode::kAborted) << st.ToString();
    EXPECT_NE(st.message().find("fenced"), std::string::npos) << st.ToString();
    EXPECT_NE(st.message().find("weir-job-out-0"), std::string::npos) << st.ToString();
  }

  rd_kafka_t* host_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  std::string brokers_;
};

TEST_F(KafkaEosFencingTest, NewerInstanceFencesTheOlderAtCommit) {
  auto zombie = OpenSink();
  ASSERT_NE(zombie, nullptr);
  ASSERT_OK(zombie->Write(Rows("a", 2)));
  ASSERT_TRUE(zombie->PreCommit(1).ok());

  // The restarted subtask: same job, sink and subtask, so the same id.
  auto current = OpenSink();
  ASSERT_NE(current, nullptr);
  rd_kafka_mock_push_request_errors(cluster_, kApiEndTxn, 1, RD_KAFKA_RESP_ERR_PRODUCER_FENCED);
  ExpectFenced(zombie->Commit(1));
  ExpectFenced(zombie->Write(Rows("b", 1)));  // and it stays fenced

  ASSERT_OK(current->Write(Rows("c", 2)));
  ASSERT_TRUE(current->PreCommit(2).ok());
  ASSERT_OK(current->Commit(2));
  EXPECT_EQ(MarkerEpochs(brokers_, "fenced.weir-markers").back(), 2);
  ASSERT_OK(current->Close());
}

TEST_F(KafkaEosFencingTest, NewerInstanceFencesTheOlderWhileItWrites) {
  auto zombie = OpenSink();
  ASSERT_NE(zombie, nullptr);
  auto current = OpenSink();
  ASSERT_NE(current, nullptr);
  rd_kafka_mock_push_request_errors(cluster_, kApiProduce, 1,
                                    RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH);
  ASSERT_OK(zombie->Write(Rows("a", 1)));  // queued; the broker refuses it
  auto state = zombie->PreCommit(1);
  ASSERT_FALSE(state.ok());
  ExpectFenced(state.status());
}

#undef ASSERT_OK

}  // namespace
}  // namespace weir::connectors
