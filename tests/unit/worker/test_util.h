// Scaffolding shared by the worker unit tests. Header-only: worker_test is
// built from tests/unit/worker/*_test.cc.
//
// - Operators driven by hand: Value/Row (a row of chosen values and event
//   time), MakeBatch, FormatRow ("v1|v2|...@event_time"), Collector (an
//   Output that keeps what is emitted), job builders (Job, JoinJob),
//   OperatorTestBase (parses a job and opens instances of one of its
//   operators with a manual clock), OperatorHarness (one instance on a memory
//   state backend, fed batch by batch), CountStateEntries.
// - TempDir: a fresh directory under /tmp, removed at the end.
// - Kafka against the dev broker: OrdersSchema, ClientConf, ConsumeAll,
//   StartBrokerWithTopics, SharedBrokerTest.
//
// The namespace is not weir::testing: in namespace weir that would hide
// GoogleTest's ::testing from unqualified `testing::` names.
#pragma once

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "common/spec/job_spec.h"
#include "common/time.h"
#include "worker/devbroker/dev_broker.h"
#include "worker/operators/stateful_internal.h"
#include "worker/runtime/operator.h"
#include "worker/state/state_backend.h"

namespace weir::testutil {

// ---- operators ----

using Value = std::variant<std::monostate, int64_t, double, std::string, bool>;
inline const Value kNull{};

// A row of an operator's input: its values, one per column, and event time.
struct Row {
  int64_t time;
  std::vector<Value> values;
};

inline void AppendValue(const Value& v, Column* col) {
  if (std::holds_alternative<std::monostate>(v))
    col->AppendNull();
  else if (auto* i = std::get_if<int64_t>(&v))
    col->AppendInt(*i);
  else if (auto* d = std::get_if<double>(&v))
    col->AppendDouble(*d);
  else if (auto* s = std::get_if<std::string>(&v))
    col->AppendString(*s);
  else
    col->AppendBool(std::get<bool>(v));
}

// A batch of `schema` holding `rows` (values past the last column are
// ignored).
inline RecordBatch MakeBatch(const Schema& schema, const std::vector<Row>& rows) {
  RecordBatch b(std::make_shared<Schema>(schema));
  for (const Row& row : rows) {
    for (size_t c = 0; c < b.columns.size() && c < row.values.size(); ++c)
      AppendValue(row.values[c], &b.columns[c]);
    b.event_time.push_back(row.time);
  }
  return b;
}

// "v1|v2|...@event_time" of row r.
inline std::string FormatRow(const RecordBatch& b, size_t r) {
  std::string s;
  for (size_t c = 0; c < b.columns.size(); ++c) s += (c ? "|" : "") + b.columns[c].ValueToString(r);
  return s + "@" + std::to_string(b.event_time[r]);
}

// Keeps the batches emitted, per port.
class Collector final : public runtime::Output {
 public:
  void Emit(int port, RecordBatch& b) override { batches[port].push_back(std::move(b)); }
  // FormatRow of every row emitted on `port`, sorted (the order of rows
  // within a firing is unspecified); forgets them.
  std::vector<std::string> Take(int port = 0) {
    std::vector<std::string> rows;
    for (const RecordBatch& b : batches[port]) {
      for (size_t r = 0; r < b.num_rows(); ++r) rows.push_back(FormatRow(b, r));
    }
    batches[port].clear();
    std::sort(rows.begin(), rows.end());
    return rows;
  }
  // Take() of every port that emitted at least one row.
  std::map<int, std::vector<std::string>> TakeAll() {
    std::vector<int> ports;
    for (const auto& [port, list] : batches) ports.push_back(port);
    std::map<int, std::vector<std::string>> out;
    for (int port : ports) {
      std::vector<std::string> rows = Take(port);
      if (!rows.empty()) out[port] = std::move(rows);
    }
    return out;
  }
  std::map<int, std::vector<RecordBatch>> batches;
};

// The schema of Job's source s by default.
inline constexpr const char* kAllTypesSchema =
    "{k: string, v: bigint, d: double, s: string, ts: timestamp, b: boolean}";

// A job with one datagen source `s` of `schema`, event time from ts unless
// processing_time, the given operators, a blackhole sink `o` of w and
// extra_sinks.
inline std::string Job(const std::string& operators, bool processing_time = false,
                       const std::string& extra_sinks = "",
                       const std::string& schema = kAllTypesSchema) {
  return "name: t\n"
         "sources:\n"
         "  s:\n"
         "    type: datagen\n"
         "    schema: " +
         schema + "\n" + (processing_time ? "" : "    event_time: {field: ts}\n") + "operators:\n" +
         operators +
         "sinks:\n"
         "  o: {from: w, type: blackhole}\n" +
         extra_sinks;
}

// Left stream l (id bigint, name string, ts timestamp), right stream r
// (lid bigint, amount double, ts timestamp), joined by operator `name`
// (`join` is its join: spec); the join output is
// id|name|ts|lid|amount|r_ts[|window_start|window_end].
inline std::string JoinJob(const std::string& join, bool processing_time = false,
                           const std::string& name = "j") {
  const std::string et = processing_time ? "" : "    event_time: {field: ts}\n";
  return "name: t\n"
         "sources:\n"
         "  l:\n"
         "    type: datagen\n"
         "    schema: {id: bigint, name: string, ts: timestamp}\n" +
         et +
         "  r:\n"
         "    type: datagen\n"
         "    schema: {lid: bigint, amount: double, ts: timestamp}\n" +
         et + "operators:\n  - name: " + name + "\n    join: " + join +
         "\n"
         "sinks:\n"
         "  o: {from: " +
         name + ", type: blackhole}\n";
}

// Rows of JoinJob's left and right streams.
inline Row L(Value id, const std::string& name, int64_t t) {
  return {t, {std::move(id), name, t}};
}
inline Row Rt(Value lid, double amount, int64_t t) {
  return {t, {std::move(lid), amount, t}};
}

// The entries of state `state_name` of operator `op` in all key groups.
inline size_t CountStateEntries(state::KeyedStateBackend& backend, const std::string& op,
                                const std::string& state_name) {
  size_t n = 0;
  Status st = backend.Scan(backend.Register(op, state_name), {0, 127},
                           [&](int, std::string_view, std::string_view) {
                             ++n;
                             return true;
                           });
  EXPECT_TRUE(st.ok()) << st.ToString();
  return n;
}

// Parses a job and opens instances of one of its operators, made through the
// operator factory, with the manual clock clock_.
class OperatorTestBase : public ::testing::Test {
 protected:
  // Parses `yaml` and picks its operator `name` and the schemas of its inputs.
  void LoadOperator(const std::string& yaml, const std::string& name) {
    spec::LoadResult r = spec::ParseJob(
        yaml, "t.yaml", [](const std::string&) { return std::optional<std::string>(); });
    ASSERT_NE(r.job, nullptr) << spec::FormatDiagnostics("t.yaml", r.diagnostics);
    job_ = std::move(r.job);
    for (const auto& o : job_->operators)
      if (o.name == name) op_ = &o;
    ASSERT_NE(op_, nullptr);
    for (const auto& f : op_->from) inputs_.push_back(job_->StreamSchema(f));
  }

  // A new instance of the operator, opened on `backend` for `key_groups`.
  Result<std::unique_ptr<runtime::Operator>> OpenInstance(state::KeyedStateBackend* backend,
                                                          KeyGroupRange key_groups,
                                                          int batch_size) {
    auto made = runtime::MakeOperator(*op_, *job_, inputs_);
    if (!made.ok()) return made.status();
    std::unique_ptr<runtime::Operator> oper = std::move(made).value();
    runtime::OperatorContext ctx;
    ctx.job = "t";
    ctx.clock = &clock_;
    ctx.event_time = job_->event_time;
    ctx.state = backend;
    ctx.max_parallelism = 128;
    ctx.key_groups = key_groups;
    ctx.batch_size = batch_size;
    Status st = oper->Open(ctx);
    if (!st.ok()) return st;
    return oper;
  }

  // A batch of input `input`.
  RecordBatch MakeBatch(int input, const std::vector<Row>& rows) const {
    return testutil::MakeBatch(*inputs_[static_cast<size_t>(input)], rows);
  }

  std::unique_ptr<spec::JobSpec> job_;
  const spec::OperatorSpec* op_ = nullptr;
  std::vector<const Schema*> inputs_;
  ManualClock clock_{0};
};

// One instance of an operator on a memory state backend (all key groups),
// driven call by call; what it emits goes to out_.
class OperatorHarness : public OperatorTestBase {
 protected:
  void Init(const std::string& yaml, const std::string& name, int batch_size = 1024) {
    ASSERT_NO_FATAL_FAILURE(LoadOperator(yaml, name));
    auto opened = OpenInstance(state_.get(), {0, 127}, batch_size);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    oper_ = std::move(opened).value();
  }

  void Feed(int input, const std::vector<Row>& rows) {
    RecordBatch b = MakeBatch(input, rows);
    for (const Row& row : rows) EXPECT_EQ(row.values.size(), b.columns.size());
    Status st = oper_->ProcessBatch(input, b, out_);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  void Feed(const std::vector<Row>& rows) { Feed(0, rows); }
  void Watermark(int64_t wm) { ASSERT_TRUE(oper_->ProcessWatermark(wm, out_).ok()); }
  void Time(int64_t now) { ASSERT_TRUE(oper_->ProcessTime(now, out_).ok()); }
  void Finish() { ASSERT_TRUE(oper_->Finish(out_).ok()); }
  std::vector<std::string> Take(int port = 0) { return out_.Take(port); }
  const operators::KeyedOperatorStats& Stats() {
    return dynamic_cast<operators::KeyedOperator&>(*oper_).stats();
  }

  // Entries of the operator's named state.
  size_t StateEntries(const std::string& state_name) {
    return CountStateEntries(*state_, op_->name, state_name);
  }

  std::unique_ptr<state::KeyedStateBackend> state_ = state::MakeMemoryStateBackend();
  std::unique_ptr<runtime::Operator> oper_;
  Collector out_;
};

// ---- files ----

// A fresh directory under /tmp, removed with everything in it at the end.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/weir-test-XXXXXX";
    char* p = ::mkdtemp(tmpl);
    EXPECT_NE(p, nullptr);
    created_ = p != nullptr;
    path_ = p ? p : "/tmp";
  }
  ~TempDir() {
    if (!created_) return;  // never remove the fallback /tmp
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
  bool created_ = false;
};

// ---- kafka ----

// user string, amount double, ts timestamp.
inline Schema OrdersSchema() {
  return Schema(
      {{"user", TypeId::kString}, {"amount", TypeId::kDouble}, {"ts", TypeId::kTimestamp}});
}

// A client configuration with bootstrap.servers set.
inline rd_kafka_conf_t* ClientConf(const std::string& brokers) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  EXPECT_EQ(rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), err, sizeof err),
            RD_KAFKA_CONF_OK)
      << err;
  return conf;
}

// A message as the test's consumer saw it.
struct Consumed {
  int32_t partition = 0;
  int64_t offset = 0;
  std::string key, value;
  bool has_key = false;
  std::map<std::string, std::string> headers;
};

// Reads partitions 0..partitions-1 of `topic` from the beginning to their end
// (30 s at most), in the order the consumer returns them. `conf` is set after
// the defaults (group.id weir-test-reader, no auto commit, partition EOF
// events, fetch.wait.max.ms 10) and may override them.
inline std::vector<Consumed> ConsumeAll(
    const std::string& brokers, const std::string& topic, int partitions,
    const std::vector<std::pair<std::string, std::string>>& conf = {}) {
  rd_kafka_conf_t* c = ClientConf(brokers);
  char err[512];
  std::vector<std::pair<std::string, std::string>> settings = {{"group.id", "weir-test-reader"},
                                                               {"enable.auto.commit", "false"},
                                                               {"enable.partition.eof", "true"},
                                                               {"fetch.wait.max.ms", "10"}};
  settings.insert(settings.end(), conf.begin(), conf.end());
  for (const auto& [name, value] : settings) {
    EXPECT_EQ(rd_kafka_conf_set(c, name.c_str(), value.c_str(), err, sizeof err), RD_KAFKA_CONF_OK)
        << err;
  }
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof err);
  EXPECT_NE(rk, nullptr) << err;
  if (rk == nullptr) return {};
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p)
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  EXPECT_EQ(rd_kafka_assign(rk, list), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_topic_partition_list_destroy(list);
  std::vector<Consumed> out;
  std::set<int32_t> at_end;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (static_cast<int>(at_end.size()) < partitions &&
         std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      at_end.insert(m->partition);
    } else if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      Consumed r;
      r.partition = m->partition;
      r.offset = m->offset;
      r.value.assign(static_cast<const char*>(m->payload), m->len);
      if (m->key != nullptr) {
        r.has_key = true;
        r.key.assign(static_cast<const char*>(m->key), m->key_len);
      }
      rd_kafka_headers_t* hdrs = nullptr;
      if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char* name;
        const void* value;
        size_t size;
        for (size_t i = 0;
             rd_kafka_header_get_all(hdrs, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
             ++i) {
          r.headers[name] = std::string(static_cast<const char*>(value), size);
        }
      }
      out.push_back(std::move(r));
    }
    rd_kafka_message_destroy(m);
  }
  EXPECT_EQ(static_cast<int>(at_end.size()), partitions) << "did not reach the end of " << topic;
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return out;
}

// Starts a dev broker for a test suite and creates `topics` on it, all at
// once: the mock cluster can take a second to create a topic when it is idle,
// but creates concurrent requests at once. *broker is set (and owned by the
// caller) as soon as the broker runs.
inline void StartBrokerWithTopics(const std::vector<devbroker::TopicSpec>& topics,
                                  devbroker::DevBroker** broker) {
  auto started = devbroker::DevBroker::Start(devbroker::DevBrokerOptions{});
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  devbroker::DevBroker* b = std::move(started).value().release();
  *broker = b;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (const devbroker::TopicSpec& topic : topics) {
    threads.emplace_back([b, topic, &failures] {
      if (!b->CreateTopic(topic).ok()) ++failures;
    });
  }
  for (std::thread& t : threads) t.join();
  ASSERT_EQ(failures.load(), 0);
}

// A fixture whose test suite shares one dev broker (stopping one takes a
// second). Derived::kTopicSets sets of topics, Derived::Topics(set) each (both
// public), are created up front; every test takes a set of its own, set_.
template <typename Derived>
class SharedBrokerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    next_set_ = 0;
    std::vector<devbroker::TopicSpec> topics;
    for (int set = 0; set < Derived::kTopicSets; ++set) {
      for (devbroker::TopicSpec& t : Derived::Topics(set)) topics.push_back(std::move(t));
    }
    StartBrokerWithTopics(topics, &broker_);
  }
  static void TearDownTestSuite() {
    delete broker_;
    broker_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(broker_, nullptr);
    ASSERT_LT(next_set_, Derived::kTopicSets) << "raise kTopicSets";
    brokers_ = broker_->bootstrap_servers();
    set_ = next_set_++;
  }

  static inline devbroker::DevBroker* broker_ = nullptr;
  static inline int next_set_ = 0;
  std::string brokers_;  // bootstrap.servers
  int set_ = 0;
};

}  // namespace weir::testutil
