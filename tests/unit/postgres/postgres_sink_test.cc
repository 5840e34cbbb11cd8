// The postgres sink against a real PostgreSQL server.
//
// The server's DSN comes from WEIR_TEST_PG_DSN. ctest sets it and starts the
// server first (the `postgres` fixture in tests/unit/CMakeLists.txt runs
// tests/e2e/postgres.sh); without it every test fails and says how to run it.
// Each test uses its own tables and job name, so tests may run in parallel.
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/spec/job_spec.h"
#include "worker/connectors/connector.h"
#include "worker/connectors/postgres_sink.h"

namespace weir::connectors {
namespace {

constexpr char kHowToRun[] =
    "WEIR_TEST_PG_DSN is not set. These tests need a PostgreSQL server: run them through ctest "
    "(cd build && ctest -R postgres --output-on-failure), whose `postgres` fixture starts one "
    "with tests/e2e/postgres.sh; or start one yourself with `tests/e2e/postgres.sh start "
    "/tmp/weir-pg 55432` and run with WEIR_TEST_PG_DSN set to the DSN it prints "
    "(stop it with `tests/e2e/postgres.sh stop /tmp/weir-pg`).";

using Rows = std::vector<std::vector<std::optional<std::string>>>;

Schema OrdersSchema() {
  return Schema(
      {{"user", TypeId::kString}, {"amount", TypeId::kDouble}, {"ts", TypeId::kTimestamp}});
}

// (user, amount, ts) rows.
struct Order {
  std::string user;
  double amount;
  int64_t ts;
};

RecordBatch OrdersBatch(const std::vector<Order>& orders) {
  RecordBatch batch(std::make_shared<Schema>(OrdersSchema()));
  for (const auto& o : orders) {
    batch.columns[0].AppendString(o.user);
    batch.columns[1].AppendDouble(o.amount);
    batch.columns[2].AppendInt(o.ts);
    batch.event_time.push_back(o.ts);
  }
  return batch;
}

RecordBatch NumberedOrders(int from, int to) {
  std::vector<Order> orders;
  for (int i = from; i < to; ++i) orders.push_back({"user" + std::to_string(i), i * 0.5, 1000 + i});
  return OrdersBatch(orders);
}

class PostgresSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* dsn = std::getenv("WEIR_TEST_PG_DSN");
    ASSERT_TRUE(dsn != nullptr && *dsn != '\0') << kHowToRun;
    dsn_ = dsn;
    admin_ = PQconnectdb(dsn);
    ASSERT_EQ(PQstatus(admin_), CONNECTION_OK)
        << "cannot connect to WEIR_TEST_PG_DSN: " << PQerrorMessage(admin_) << "\n"
        << kHowToRun;
    for (char c : std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()))
      name_ += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    name_ = name_.substr(0, 50);  // identifiers have at most 63 bytes
    table_ = "t_" + name_;
    job_ = "job-" + name_;
    // Leftovers of an earlier run against the same server.
    Exec("DROP TABLE IF EXISTS \"" + table_ + "\"");
    for (const auto& row :
         Query("SELECT gid FROM pg_prepared_xacts WHERE gid LIKE 'weir-" + job_ + "-%'"))
      Exec("ROLLBACK PREPARED '" + *row[0] + "'");
  }

  void TearDown() override {
    if (admin_) PQfinish(admin_);
  }

  // Runs SQL on the test's own connection; fails the test on an error.
  Rows Query(const std::string& sql) {
    Rows rows;
    PGresult* res = PQexec(admin_, sql.c_str());
    const ExecStatusType st = PQresultStatus(res);
    EXPECT_TRUE(st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
        << sql << ": " << PQresultErrorMessage(res);
    for (int r = 0; r < PQntuples(res); ++r) {
      rows.emplace_back();
      for (int c = 0; c < PQnfields(res); ++c) {
        if (PQgetisnull(res, r, c))
          rows.back().push_back(std::nullopt);
        else
          rows.back().push_back(std::string(PQgetvalue(res, r, c), PQgetlength(res, r, c)));
      }
    }
    PQclear(res);
    return rows;
  }
  void Exec(const std::string& sql) { Query(sql); }
  int64_t Count(const std::string& table) {
    Rows rows = Query("SELECT count(*) FROM \"" + table + "\"");
    return rows.size() == 1 ? std::stoll(*rows[0][0]) : -1;
  }
  std::vector<std::string> PreparedGids() {
    std::vector<std::string> out;
    for (const auto& row : Query("SELECT gid FROM pg_prepared_xacts WHERE gid LIKE 'weir-" + job_ +
                                 "-%' ORDER BY gid"))
      out.push_back(*row[0]);
    return out;
  }
  std::vector<std::string> Users() {
    std::vector<std::string> out;
    for (const auto& row : Query("SELECT \"user\" FROM \"" + table_ + "\" ORDER BY \"user\""))
      out.push_back(*row[0]);
    return out;
  }

  spec::SinkSpec Spec(spec::Delivery delivery = spec::Delivery::kExactlyOnce) const {
    spec::SinkSpec s;
    s.name = "out";
    s.type = "postgres";
    s.dsn = dsn_;
    s.table = table_;
    s.delivery = delivery;
    return s;
  }
  SinkContext Context(int subtask = 0, int parallelism = 1,
                      std::optional<SinkRestore> restore = std::nullopt) const {
    SinkContext ctx;
    ctx.job = job_;
    ctx.subtask = subtask;
    ctx.parallelism = parallelism;
    ctx.restore = std::move(restore);
    return ctx;
  }
  std::unique_ptr<PostgresSink> OpenSink(const spec::SinkSpec& spec, const SinkContext& ctx,
                                         Schema schema = OrdersSchema()) {
    auto sink = std::make_unique<PostgresSink>(spec, std::move(schema));
    Status st = sink->Open(ctx);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return st.ok() ? std::move(sink) : nullptr;
  }

  std::string dsn_, name_, table_, job_;
  PGconn* admin_ = nullptr;
};

TEST_F(PostgresSinkTest, ExactlyOnceRowsAppearOnlyWhenTheirCheckpointCompletes) {
  auto sink = OpenSink(Spec(), Context());
  ASSERT_NE(sink, nullptr);
  EXPECT_EQ(Count(table_), 0);  // Open created the table
  ASSERT_TRUE(sink->Write(NumberedOrders(0, 3)).ok());
  ASSERT_TRUE(sink->Flush().ok());  // nothing to do in exactly-once mode
  EXPECT_EQ(Count(table_), 0);

  auto state = sink->PreCommit(1);
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  const std::string gid = PostgresSink::TransactionId(job_, "out", 0, 1);
  EXPECT_EQ(*state, "prepared " + gid);
  EXPECT_EQ(PreparedGids(), std::vector<std::string>{gid});
  EXPECT_EQ(Count(table_), 0);  // prepared, not committed

  ASSERT_TRUE(sink->Commit(1).ok());
  EXPECT_EQ(Count(table_), 3);
  EXPECT_TRUE(PreparedGids().empty());
  EXPECT_TRUE(sink->Commit(1).ok());  // idempotent

  // An epoch without rows prepares nothing.
  auto empty = sink->PreCommit(2);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, "empty");
  EXPECT_TRUE(PreparedGids().empty());
  EXPECT_TRUE(sink->Commit(2).ok());

  // Rows after the last checkpoint belong to none: Close drops them.
  ASSERT_TRUE(sink->Write(NumberedOrders(3, 5)).ok());
  EXPECT_TRUE(sink->Close().ok());
  EXPECT_EQ(Count(table_), 3);
  EXPECT_TRUE(PreparedGids().empty());
  EXPECT_EQ(sink->stats().records, 5);
}

TEST_F(PostgresSinkTest, ExactlyOnceCommitsWhileTheNextEpochIsOpen) {
  auto sink = OpenSink(Spec(), Context());
  ASSERT_NE(sink, nullptr);
  ASSERT_TRUE(sink->Write(NumberedOrders(0, 2)).ok());
  ASSERT_TRUE(sink->PreCommit(1).ok());
  ASSERT_TRUE(sink->Write(NumberedOrders(2, 4)).ok());  // epoch 2's transaction is open
  ASSERT_TRUE(sink->Commit(1).ok());
  EXPECT_EQ(Count(table_), 2);
  ASSERT_TRUE(sink->Write(NumberedOrders(4, 5)).ok());
  ASSERT_TRUE(sink->PreCommit(2).ok());
  // Checkpoint 2 never completes; 3 does and takes 2's rows with it.
  ASSERT_TRUE(sink->Write(NumberedOrders(5, 6)).ok());
  ASSERT_TRUE(sink->PreCommit(3).ok());
  ASSERT_TRUE(sink->Commit(3).ok());
  EXPECT_EQ(Count(table_), 6);
  EXPECT_TRUE(PreparedGids().empty());
  EXPECT_TRUE(sink->Close().ok());
}

TEST_F(PostgresSinkTest, CommitOfATransactionAnotherAttemptCommittedSucceeds) {
  auto sink = OpenSink(Spec(), Context());
  ASSERT_NE(sink, nullptr);
  ASSERT_TRUE(sink->Write(NumberedOrders(0, 2)).ok());
  ASSERT_TRUE(sink->PreCommit(1).ok());
  Exec("COMMIT PREPARED '" + PostgresSink::TransactionId(job_, "out", 0, 1) + "'");
  Status st = sink->Commit(1);
  EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(Count(table_), 2);
  EXPECT_TRUE(sink->Close().ok());
}

TEST_F(PostgresSinkTest, RecoveryCommitsTheRestoredCheckpointAndRollsBackLaterOnes) {
  std::string state1;
  {
    auto sink = OpenSink(Spec(), Context());
    ASSERT_NE(sink, nullptr);
    ASSERT_TRUE(sink->Write(OrdersBatch({{"a", 1, 1}, {"b", 2, 2}})).ok());
    auto state = sink->PreCommit(1);
    ASSERT_TRUE(state.ok());
    state1 = *state;
    // Checkpoint 1 completed, but the process died before Commit(1)...
    ASSERT_TRUE(sink->Write(OrdersBatch({{"c", 3, 3}})).ok());
    ASSERT_TRUE(sink->PreCommit(2).ok());                       // ...after preparing 2,
    ASSERT_TRUE(sink->Write(OrdersBatch({{"d", 4, 4}})).ok());  // and writing for 3.
  }  // destroyed without Close: the crash
  EXPECT_EQ(PreparedGids(),
            (std::vector<std::string>{PostgresSink::TransactionId(job_, "out", 0, 1),
                                      PostgresSink::TransactionId(job_, "out", 0, 2)}));
  EXPECT_EQ(Count(table_), 0);

  auto sink = OpenSink(Spec(), Context(0, 1, SinkRestore{1, state1}));
  ASSERT_NE(sink, nullptr);
  EXPECT_EQ(Users(), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(PreparedGids().empty());
  // The job goes on from checkpoint 1: epoch 2 again, under the same id.
  ASSERT_TRUE(sink->Write(OrdersBatch({{"c", 3, 3}})).ok());
  ASSERT_TRUE(sink->PreCommit(2).ok());
  ASSERT_TRUE(sink->Commit(2).ok());
  EXPECT_EQ(Users(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(sink->Close().ok());
}

TEST_F(PostgresSinkTest, RecoveryWhenTheCommitHadHappenedChangesNothing) {
  std::string state1;
  {
    auto sink = OpenSink(Spec(), Context());
    ASSERT_NE(sink, nullptr);
    ASSERT_TRUE(sink->Write(OrdersBatch({{"a", 1, 1}})).ok());
    auto state = sink->PreCommit(1);
    ASSERT_TRUE(state.ok());
    state1 = *state;
    ASSERT_TRUE(sink->Commit(1).ok());
  }
  auto sink = OpenSink(Spec(), Context(0, 1, SinkRestore{1, state1}));
  ASSERT_NE(sink, nullptr);
  EXPECT_EQ(Users(), std::vector<std::string>{"a"});
  EXPECT_TRUE(sink->Close().ok());
}

TEST_F(PostgresSinkTest, AStartWithoutCheckpointRollsBackWhatAnEarlierRunPrepared) {
  {
    auto sink = OpenSink(Spec(), Context());
    ASSERT_NE(sink, nullptr);
    ASSERT_TRUE(sink->Write(OrdersBatch({{"a", 1, 1}})).ok());
    ASSERT_TRUE(sink->PreCommit(1).ok());
  }
  EXPECT_EQ(PreparedGids().size(), 1u);
  auto sink = OpenSink(Spec(), Context());
  ASSERT_NE(sink, nullptr);
  EXPECT_TRUE(PreparedGids().empty());
  EXPECT_EQ(Count(table_), 0);
  EXPECT_TRUE(sink->Close().ok());
}

TEST_F(PostgresSinkTest, EachSubtaskRecoversItsOwnAndSubtaskZeroThoseOfRemovedSubtasks) {
  for (int subtask : {0, 1, 2}) {
    auto sink = OpenSink(Spec(), Context(subtask, 3));
    ASSERT_NE(sink, nullptr);
    for (int64_t cp : {1, 2}) {
      const std::string user = "s" + std::to_string(subtask) + "-cp" + std::to_string(cp);
      ASSERT_TRUE(sink->Write(OrdersBatch({{user, 1, 1}})).ok());
      ASSERT_TRUE(sink->PreCommit(cp).ok());
    }
  }
  EXPECT_EQ(PreparedGids().size(), 6u);
  // Restored at checkpoint 1 with parallelism 2: subtask 1 resolves its own
  // transactions only; subtask 0 its own and those of subtask 2.
  auto one = OpenSink(Spec(), Context(1, 2, SinkRestore{1, ""}));
  ASSERT_NE(one, nullptr);
  EXPECT_EQ(Users(), std::vector<std::string>{"s1-cp1"});
  EXPECT_EQ(PreparedGids().size(), 4u);
  auto zero = OpenSink(Spec(), Context(0, 2, SinkRestore{1, ""}));
  ASSERT_NE(zero, nullptr);
  EXPECT_EQ(Users(), (std::vector<std::string>{"s0-cp1", "s1-cp1", "s2-cp1"}));
  EXPECT_TRUE(PreparedGids().empty());
}

TEST_F(PostgresSinkTest, RecoveryLeavesOtherSinksAndJobsAlone) {
  // Another sink of the same job has prepared a transaction.
  spec::SinkSpec other = Spec();
  other.name = "other";
  auto other_sink = OpenSink(other, Context());
  ASSERT_NE(other_sink, nullptr);
  ASSERT_TRUE(other_sink->Write(OrdersBatch({{"other", 1, 1}})).ok());
  ASSERT_TRUE(other_sink->PreCommit(5).ok());

  auto sink = OpenSink(Spec(), Context());  // a fresh start of sink "out"
  ASSERT_NE(sink, nullptr);
  EXPECT_EQ(PreparedGids(),
            std::vector<std::string>{PostgresSink::TransactionId(job_, "other", 0, 5)});
  ASSERT_TRUE(other_sink->Commit(5).ok());
  EXPECT_EQ(Users(), std::vector<std::string>{"other"});
}

TEST_F(PostgresSinkTest, AtLeastOnceCommitsAtPreCommitFlushAndClose) {
  auto sink = OpenSink(Spec(spec::Delivery::kAtLeastOnce), Context());
  ASSERT_NE(sink, nullptr);
  ASSERT_TRUE(sink->Write(NumberedOrders(0, 2)).ok());
  EXPECT_EQ(Count(table_), 0);  // in an open transaction
  auto state = sink->PreCommit(1);
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(*state, "");
  EXPECT_EQ(Count(table_), 2);
  EXPECT_TRUE(PreparedGids().empty());
  ASSERT_TRUE(sink->Write(NumberedOrders(2, 3)).ok());
  ASSERT_TRUE(sink->Flush().ok());
  EXPECT_EQ(Count(table_), 3);
  ASSERT_TRUE(sink->Write(NumberedOrders(3, 4)).ok());
  ASSERT_TRUE(sink->Close().ok());
  EXPECT_EQ(Count(table_), 4);
}

TEST_F(PostgresSinkTest, UpsertReplacesRowsByKey) {
  spec::SinkSpec spec = Spec(spec::Delivery::kAtLeastOnce);
  spec.upsert = true;
  spec.key = {"user"};
  auto sink = OpenSink(spec, Context());
  ASSERT_NE(sink, nullptr);
  // The table was created with the key as its primary key.
  EXPECT_EQ(Query("SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = "
                  "i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indisprimary AND "
                  "i.indrelid = '\"" +
                  table_ + "\"'::regclass"),
            (Rows{{std::string("user")}}));
  // Within one batch the last row of a key wins.
  ASSERT_TRUE(sink->Write(OrdersBatch({{"a", 1, 1}, {"b", 2, 2}, {"a", 3, 3}})).ok());
  // At least once, upserts commit batch by batch.
  EXPECT_EQ(Count(table_), 2);
  ASSERT_TRUE(sink->Flush().ok());
  ASSERT_TRUE(sink->Write(OrdersBatch({{"b", 5, 5}, {"c", 6, 6}})).ok());
  ASSERT_TRUE(sink->Close().ok());
  EXPECT_EQ(Query("SELECT \"user\", amount, (extract(epoch from ts) * 1000)::bigint FROM \"" +
                  table_ + "\" ORDER BY 1"),
            (Rows{{"a", "3", "3"}, {"b", "5", "5"}, {"c", "6", "6"}}));
}

TEST_F(PostgresSinkTest, UpsertWithSeveralKeysAndExactlyOnce) {
  Exec("CREATE TABLE \"" + table_ +
       "\" (\"user\" text, ts timestamptz, amount numeric, note text, UNIQUE (ts, \"user\"))");
  spec::SinkSpec spec = Spec();
  spec.upsert = true;
  spec.key = {"user", "ts"};
  auto sink = OpenSink(spec, Context());
  ASSERT_NE(sink, nullptr);
  ASSERT_TRUE(sink->Write(OrdersBatch({{"a", 1, 1}, {"a", 2, 2}, {"a", 3, 1}})).ok());
  ASSERT_TRUE(sink->PreCommit(1).ok());
  ASSERT_TRUE(sink->Commit(1).ok());
  ASSERT_TRUE(sink->Write(OrdersBatch({{"a", 4, 2}})).ok());
  ASSERT_TRUE(sink->PreCommit(2).ok());
  ASSERT_TRUE(sink->Commit(2).ok());
  EXPECT_EQ(Query("SELECT \"user\", amount::text, (extract(epoch from ts) * 1000)::bigint, note "
                  "FROM \"" +
                  table_ + "\" ORDER BY 3"),
            (Rows{{"a", "3", "1", std::nullopt}, {"a", "4", "2", std::nullopt}}));
}

TEST_F(PostgresSinkTest, ValuesOfEveryTypeRoundTrip) {
  Schema schema({{"s", TypeId::kString},
                 {"b", TypeId::kBytes},
                 {"i", TypeId::kBigint},
                 {"d", TypeId::kDouble},
                 {"f", TypeId::kBoolean},
                 {"t", TypeId::kTimestamp}});
  const std::vector<std::string> strings = {
      "plain",
      "",
      "it's \"quoted\" ''",
      "back\\slash \\\\ \\x41 \\n",
      "new\nline\r\ttab",
      "unicode: h\xC3\xA9llo \xE2\x9C\x93 \xF0\x9F\x98\x80",
      "'); DROP TABLE x; --",
      "E'\\'' $$ $1 ? %s",
  };
  std::string all_bytes;
  for (int c = 0; c < 256; ++c) all_bytes.push_back(static_cast<char>(c));
  const std::vector<std::string> bytes = {all_bytes, "", std::string("\0\0'\\", 4), "x", "y", "z",
                                          "w",       "v"};
  const std::vector<int64_t> ints = {
      0, -1, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(), 42, 7, 8, 9};
  const std::vector<double> doubles = {0.1,
                                       -1e300,
                                       5e-324,
                                       std::numeric_limits<double>::quiet_NaN(),
                                       std::numeric_limits<double>::infinity(),
                                       -std::numeric_limits<double>::infinity(),
                                       123456789.125,
                                       -0.0};
  const std::vector<int64_t> times = {0,
                                      1714564800123,
                                      -1,
                                      -62135596800000,  // 0001-01-01T00:00:00Z
                                      -62135596800001,  // just before: 1 BC
                                      253402300800000,  // 10000-01-01T00:00:00Z
                                      253402300799999,  // 9999-12-31T23:59:59.999Z
                                      1};
  RecordBatch batch(std::make_shared<Schema>(schema));
  for (size_t r = 0; r < strings.size(); ++r) {
    batch.columns[0].AppendString(strings[r]);
    batch.columns[1].AppendString(bytes[r]);
    batch.columns[2].AppendInt(ints[r]);
    batch.columns[3].AppendDouble(doubles[r]);
    batch.columns[4].AppendBool(r % 2 == 0);
    batch.columns[5].AppendInt(times[r]);
    batch.event_time.push_back(0);
  }
  // A row of nulls.
  for (auto& c : batch.columns) c.AppendNull();
  batch.event_time.push_back(0);

  auto sink = OpenSink(Spec(), Context(), schema);
  ASSERT_NE(sink, nullptr);
  Status st = sink->Write(batch);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_TRUE(sink->PreCommit(1).ok());
  ASSERT_TRUE(sink->Commit(1).ok());
  ASSERT_TRUE(sink->Close().ok());

  // The table's types.
  EXPECT_EQ(Query("SELECT column_name::text, data_type::text FROM information_schema.columns "
                  "WHERE table_name = '" +
                  table_ + "' ORDER BY ordinal_position"),
            (Rows{{"s", "text"},
                  {"b", "bytea"},
                  {"i", "bigint"},
                  {"d", "double precision"},
                  {"f", "boolean"},
                  {"t", "timestamp with time zone"}}));

  Rows rows = Query(
      "SELECT s, encode(b, 'hex'), i::text, d::text, f::text, "
      "(extract(epoch from t) * 1000)::bigint::text FROM \"" +
      table_ + "\" ORDER BY i NULLS LAST");
  ASSERT_EQ(rows.size(), strings.size() + 1);
  auto hex = [](const std::string& s) {
    static const char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : s) {
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
    return out;
  };
  for (size_t r = 0; r < strings.size(); ++r) {
    // Find the row by its bigint.
    const Rows::value_type* row = nullptr;
    for (const auto& candidate : rows)
      if (candidate[2] == std::to_string(ints[r])) row = &candidate;
    ASSERT_NE(row, nullptr) << ints[r];
    EXPECT_EQ((*row)[0], strings[r]);
    EXPECT_EQ((*row)[1], hex(bytes[r]));
    const double d = std::strtod((*row)[3]->c_str(), nullptr);
    if (std::isnan(doubles[r]))
      EXPECT_TRUE(std::isnan(d)) << *(*row)[3];
    else
      EXPECT_EQ(d, doubles[r]) << *(*row)[3];
    EXPECT_EQ((*row)[4], r % 2 == 0 ? "true" : "false");
    EXPECT_EQ((*row)[5], std::to_string(times[r]));
  }
  for (const auto& value : rows.back()) EXPECT_EQ(value, std::nullopt);
}

TEST_F(PostgresSinkTest, AStringWithANulFailsTheWriteAndBreaksTheSink) {
  auto sink = OpenSink(Spec(), Context());
  ASSERT_NE(sink, nullptr);
  ASSERT_TRUE(sink->Write(OrdersBatch({{"fine", 1, 1}})).ok());
  Status st = sink->Write(OrdersBatch({{std::string("nul\0here", 8), 1, 1}}));
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("'user'"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("NUL"), std::string::npos) << st.message();
  // The epoch's first rows are gone with the transaction: the sink stays failed.
  EXPECT_EQ(sink->Write(OrdersBatch({{"later", 1, 1}})).code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(sink->PreCommit(1).ok());
  EXPECT_EQ(Count(table_), 0);
}

TEST_F(PostgresSinkTest, ABigBatchIsSplitIntoSeveralStatements) {
  auto sink = OpenSink(Spec(spec::Delivery::kAtLeastOnce), Context());
  ASSERT_NE(sink, nullptr);
  std::vector<Order> orders;
  const std::string padding(600, 'x');
  for (int i = 0; i < 12'000; ++i) orders.push_back({padding + std::to_string(i), 1, i});
  ASSERT_TRUE(sink->Write(OrdersBatch(orders)).ok());  // ~7 MiB of SQL
  ASSERT_TRUE(sink->Close().ok());
  EXPECT_EQ(Count(table_), 12'000);
  EXPECT_GT(sink->stats().bytes, 12'000 * 600);
}

TEST_F(PostgresSinkTest, AnExistingTableWithAWrongColumnTypeIsRejectedNamingTheColumn) {
  Exec("CREATE TABLE \"" + table_ + "\" (\"user\" text, amount text, ts timestamptz)");
  auto sink = std::make_unique<PostgresSink>(Spec(), OrdersSchema());
  Status st = sink->Open(Context());
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition) << st.ToString();
  EXPECT_NE(st.message().find("column \"amount\""), std::string::npos) << st.message();
  EXPECT_NE(st.message().find(table_), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("double precision"), std::string::npos) << st.message();
}

TEST_F(PostgresSinkTest, AnExistingTableMissingAColumnIsRejectedNamingIt) {
  Exec("CREATE TABLE \"" + table_ + "\" (\"user\" varchar(20), ts timestamp)");
  auto sink = std::make_unique<PostgresSink>(Spec(), OrdersSchema());
  Status st = sink->Open(Context());
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition) << st.ToString();
  EXPECT_NE(st.message().find("no column \"amount\""), std::string::npos) << st.message();
  EXPECT_NE(st.message().find(table_), std::string::npos) << st.message();
}

TEST_F(PostgresSinkTest, AnExistingTableWithARequiredExtraColumnIsRejected) {
  Exec("CREATE TABLE \"" + table_ +
       "\" (id bigserial, \"user\" text, amount numeric, ts timestamptz, region text NOT NULL)");
  auto sink = std::make_unique<PostgresSink>(Spec(), OrdersSchema());
  Status st = sink->Open(Context());
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition) << st.ToString();
  EXPECT_NE(st.message().find("column \"region\""), std::string::npos) << st.message();
}

TEST_F(PostgresSinkTest, AnExistingCompatibleTableIsUsedAsItIs) {
  Exec("CREATE TABLE \"" + table_ +
       "\" (id bigserial PRIMARY KEY, \"user\" varchar(20), amount numeric, ts timestamp, "
       "region text NOT NULL DEFAULT 'eu')");
  auto sink = OpenSink(Spec(spec::Delivery::kAtLeastOnce), Context());
  ASSERT_NE(sink, nullptr);
  ASSERT_TRUE(sink->Write(OrdersBatch({{"a", 1.5, 1714564800123}})).ok());
  ASSERT_TRUE(sink->Close().ok());
  // A timestamp without time zone column gets the UTC time.
  EXPECT_EQ(Query("SELECT \"user\", amount::text, ts::text, region FROM \"" + table_ + "\""),
            (Rows{{"a", "1.5", "2024-05-01 12:00:00.123", "eu"}}));
}

TEST_F(PostgresSinkTest, UpsertNeedsAUniqueIndexOnTheKey) {
  Exec("CREATE TABLE \"" + table_ + "\" (\"user\" text, amount float8, ts timestamptz)");
  spec::SinkSpec spec = Spec();
  spec.upsert = true;
  spec.key = {"user"};
  auto sink = std::make_unique<PostgresSink>(spec, OrdersSchema());
  Status st = sink->Open(Context());
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition) << st.ToString();
  EXPECT_NE(st.message().find("unique index"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("\"user\""), std::string::npos) << st.message();
}

TEST_F(PostgresSinkTest, ASchemaQualifiedTableIsCreatedInItsSchema) {
  Exec("DROP SCHEMA IF EXISTS \"s_" + name_ + "\" CASCADE");
  Exec("CREATE SCHEMA \"s_" + name_ + "\"");
  spec::SinkSpec spec = Spec(spec::Delivery::kAtLeastOnce);
  spec.table = "s_" + name_ + ".orders";
  auto sink = OpenSink(spec, Context());
  ASSERT_NE(sink, nullptr);
  ASSERT_TRUE(sink->Write(NumberedOrders(0, 2)).ok());
  ASSERT_TRUE(sink->Close().ok());
  EXPECT_EQ(Query("SELECT count(*) FROM \"s_" + name_ + "\".orders"), (Rows{{"2"}}));
  Exec("DROP SCHEMA \"s_" + name_ + "\" CASCADE");
}

TEST_F(PostgresSinkTest, AnUnreachableServerIsUnavailableAndTheMessageHidesThePassword) {
  for (const std::string dsn :
       {"host=127.0.0.1 port=1 dbname=nowhere user=weir password=s3cret-pw connect_timeout=5",
        "postgresql://weir:s3cret-pw@127.0.0.1:1/nowhere?connect_timeout=5"}) {
    spec::SinkSpec spec = Spec();
    spec.dsn = dsn;
    PostgresSink sink(spec, OrdersSchema());
    Status st = sink.Open(Context());
    EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.ToString();
    EXPECT_NE(st.message().find("host=127.0.0.1 port=1 dbname=nowhere"), std::string::npos)
        << st.message();
    EXPECT_EQ(st.message().find("s3cret"), std::string::npos) << st.message();
    EXPECT_EQ(PostgresSink::DescribeDsn(dsn).find("s3cret"), std::string::npos);
  }
  // A malformed dsn is the spec's fault, and its text is not repeated either.
  spec::SinkSpec spec = Spec();
  spec.dsn = "host=127.0.0.1 password s3cret-pw";
  PostgresSink sink(spec, OrdersSchema());
  Status st = sink.Open(Context());
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  EXPECT_EQ(st.message().find("s3cret"), std::string::npos) << st.message();
}

TEST_F(PostgresSinkTest, ThePasswordSecretIsReadOnOpenAndNeverShown) {
  spec::SinkSpec spec = Spec();
  spec.secrets["password"] = {spec::SecretRef::From::kEnv, "WEIR_TEST_UNSET_PG_PASSWORD"};
  {
    PostgresSink sink(spec, OrdersSchema());
    Status st = sink.Open(Context());
    EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.ToString();
    EXPECT_NE(st.message().find("password (env WEIR_TEST_UNSET_PG_PASSWORD): environment "
                                "variable WEIR_TEST_UNSET_PG_PASSWORD is not set on this worker"),
              std::string::npos)
        << st.message();
  }
  // Read from a file; a server that refuses shows where, never the secret.
  const std::string file = ::testing::TempDir() + "/weir-pg-password";
  {
    std::ofstream out(file);
    out << "s3cret-from-file\n";
  }
  spec.secrets["password"] = {spec::SecretRef::From::kFile, file};
  spec.dsn = "host=127.0.0.1 port=1 dbname=nowhere user=weir connect_timeout=5";
  PostgresSink sink(spec, OrdersSchema());
  Status st = sink.Open(Context());
  std::remove(file.c_str());
  EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.ToString();
  EXPECT_EQ(st.message().find("s3cret"), std::string::npos) << st.message();
}

TEST_F(PostgresSinkTest, TheFactoryMakesIt) {
  spec::SinkSpec spec = Spec(spec::Delivery::kAtLeastOnce);
  auto sink = MakeSink(spec, spec::JobSpec{}, OrdersSchema());
  ASSERT_TRUE(sink.ok()) << sink.status().ToString();
  ASSERT_TRUE((*sink)->Open(Context()).ok());
  ASSERT_TRUE((*sink)->Write(NumberedOrders(0, 1)).ok());
  ASSERT_TRUE((*sink)->Close().ok());
  EXPECT_EQ(Count(table_), 1);
}

TEST(PostgresSinkNames, TransactionIdsAreUnambiguous) {
  EXPECT_EQ(PostgresSink::TransactionId("revenue-per-user", "out", 3, 17),
            "weir-revenue-per-user-out-3-17");
  EXPECT_EQ(PostgresSink::TransactionId("j", "user_totals", 0, 1), "weir-j-user_totals-0-1");
  // The sink part never has '-', so ("a-b", "c") and ("a", "b-c") differ.
  EXPECT_EQ(PostgresSink::TransactionId("a", "b-c", 0, 1), "weir-a-b.2dc-0-1");
  EXPECT_NE(PostgresSink::TransactionId("a-b", "c", 0, 1),
            PostgresSink::TransactionId("a", "b-c", 0, 1));
  EXPECT_EQ(PostgresSink::TransactionId("J", "it's", 0, 1), "weir-.4a-it.27s-0-1");
}

TEST(PostgresSinkNames, DescribeDsnShowsWhereButNotThePassword) {
  EXPECT_EQ(PostgresSink::DescribeDsn("host=db port=5433 dbname=weir user=u password=pw"),
            "host=db port=5433 dbname=weir");
  EXPECT_EQ(PostgresSink::DescribeDsn("postgresql://u:pw@db:5433/weir"),
            "host=db port=5433 dbname=weir");
  EXPECT_EQ(PostgresSink::DescribeDsn("password=pw"), "the default server");
  EXPECT_EQ(PostgresSink::DescribeDsn("not a dsn"), "");
}

}  // namespace
}  // namespace weir::connectors
