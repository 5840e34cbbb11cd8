// The file source and sink, the stdout and blackhole sinks and the factories,
// on real files in a temporary directory.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "common/format/format.h"
#include "worker/connectors/connector.h"
#include "worker/connectors/file_sink.h"
#include "worker/connectors/file_source.h"

namespace weir::connectors {
namespace {

namespace fs = std::filesystem;

Schema OrdersSchema() {
  return Schema(
      {{"user", TypeId::kString}, {"amount", TypeId::kDouble}, {"ts", TypeId::kTimestamp}});
}

class FileConnectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("weir_file_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "in");
  }
  void TearDown() override { fs::remove_all(dir_); }

  void WriteFile(const std::string& name, const std::string& text) {
    std::ofstream out(dir_ / "in" / name, std::ios::binary);
    out << text;
  }

  spec::SourceSpec Spec() const {
    spec::SourceSpec s;
    s.name = "orders";
    s.type = "file";
    s.path = (dir_ / "in").string();
    s.schema = OrdersSchema();
    s.event_time = spec::EventTimeSpec{"ts", 0, 0};
    return s;
  }

  SourceContext Context(int subtask = 0, int parallelism = 1) const {
    SourceContext ctx;
    ctx.job = "test";
    ctx.subtask = subtask;
    ctx.parallelism = parallelism;
    ctx.clock = &clock_;
    ctx.event_time = true;
    return ctx;
  }

  // Polls to the end; returns the users in order (or the first error).
  Result<std::vector<std::string>> ReadAll(Source* source, int max_rows = 2,
                                           std::vector<int64_t>* times = nullptr) {
    std::vector<std::string> users;
    RecordBatch batch(std::make_shared<Schema>(OrdersSchema()));
    for (int i = 0; i < 10'000; ++i) {
      batch.Clear();
      auto state = source->Poll(&batch, max_rows, 0);
      if (!state.ok()) return state.status();
      for (size_t r = 0; r < batch.num_rows(); ++r) {
        users.emplace_back(batch.columns[0].GetString(r));
        if (times) times->push_back(batch.event_time[r]);
      }
      if (*state == PollState::kEndOfInput) return users;
    }
    return Status::Internal("no end of input");
  }

  fs::path dir_;
  ManualClock clock_{5'000};
};

TEST_F(FileConnectorTest, ReadsADirectoryInNameOrder) {
  WriteFile("b.jsonl", R"({"user":"b1","amount":1,"ts":10})"
                       "\n"
                       R"({"user":"b2","amount":2,"ts":20})"
                       "\n");
  WriteFile("a.jsonl",
            R"({"user":"a1","amount":1,"ts":30})"
            "\r\n\n"
            R"({"user":"a2","amount":2,"ts":"2024-05-01T12:00:00Z"})");  // no final newline
  WriteFile(".hidden.jsonl", R"({"user":"hidden","amount":1,"ts":1})"
                             "\n");
  fs::create_directories(dir_ / "in" / "subdir");
  FileSource source(Spec());
  ASSERT_TRUE(source.Open(Context()).ok());
  std::vector<int64_t> times;
  auto users = ReadAll(&source, 3, &times);
  ASSERT_TRUE(users.ok()) << users.status().ToString();
  EXPECT_EQ(*users, (std::vector<std::string>{"a1", "a2", "b1", "b2"}));
  EXPECT_EQ(times, (std::vector<int64_t>{30, 1714564800000, 10, 20}));
  EXPECT_EQ(source.stats().records, 4);
  EXPECT_EQ(source.Watermark().watermark, kMaxWatermark);
}

TEST_F(FileConnectorTest, ReadsASingleFile) {
  WriteFile("one.jsonl", R"({"user":"x","amount":1,"ts":1})"
                         "\n");
  spec::SourceSpec spec = Spec();
  spec.path = (dir_ / "in" / "one.jsonl").string();
  FileSource source(spec);
  ASSERT_TRUE(source.Open(Context()).ok());
  auto users = ReadAll(&source);
  ASSERT_TRUE(users.ok());
  EXPECT_EQ(*users, std::vector<std::string>{"x"});
}

TEST_F(FileConnectorTest, SplitsFilesAcrossSubtasks) {
  std::multiset<std::string> expected;
  for (int f = 0; f < 5; ++f) {
    std::string text;
    for (int i = 0; i < 7; ++i) {
      std::string user = "f" + std::to_string(f) + "_" + std::to_string(i);
      text += R"({"user":")" + user +
              R"(","amount":1,"ts":1})"
              "\n";
      expected.insert(user);
    }
    WriteFile("part-" + std::to_string(f) + ".jsonl", text);
  }
  std::multiset<std::string> got;
  for (int subtask = 0; subtask < 2; ++subtask) {
    FileSource source(Spec());
    ASSERT_TRUE(source.Open(Context(subtask, 2)).ok());
    EXPECT_EQ(source.files().size(), subtask == 0 ? 3u : 2u);
    EXPECT_EQ(fs::path(source.files()[0]).filename(),
              subtask == 0 ? "part-0.jsonl" : "part-1.jsonl");
    auto users = ReadAll(&source, 4);
    ASSERT_TRUE(users.ok());
    got.insert(users->begin(), users->end());
  }
  EXPECT_EQ(got, expected);
}

TEST_F(FileConnectorTest, MalformedLineFailsWithFileAndLine) {
  WriteFile("orders.jsonl", R"({"user":"a","amount":1,"ts":1})"
                            "\n\n"
                            R"({"user":"b","amount":"abc","ts":1})"
                            "\n");
  FileSource source(Spec());
  ASSERT_TRUE(source.Open(Context()).ok());
  auto users = ReadAll(&source, 10);
  ASSERT_FALSE(users.ok());
  EXPECT_EQ(users.status().code(), StatusCode::kInvalidArgument);
  std::string where = (dir_ / "in" / "orders.jsonl").string() + ":3: ";
  EXPECT_NE(users.status().message().find(where), std::string::npos) << users.status().message();
  EXPECT_NE(users.status().message().find("amount"), std::string::npos);
}

TEST_F(FileConnectorTest, MalformedLinesSkippedOrDeadLettered) {
  WriteFile("orders.jsonl", R"({"user":"a","amount":1,"ts":1})"
                            "\n"
                            "garbage\n"
                            R"({"user":"b","amount":2,"ts":null})"
                            "\n"
                            R"({"user":"c","amount":3,"ts":3})"
                            "\n");
  spec::SourceSpec spec = Spec();
  spec.on_error = spec::OnError::kSkip;
  {
    FileSource source(spec);
    ASSERT_TRUE(source.Open(Context()).ok());
    auto users = ReadAll(&source, 10);
    ASSERT_TRUE(users.ok());
    EXPECT_EQ(*users, (std::vector<std::string>{"a", "c"}));
    EXPECT_EQ(source.stats().skipped, 2);
  }
  spec.on_error = spec::OnError::kDeadLetter;
  spec.dead_letter =
      spec::DeadLetterSpec{"file", "", "", (dir_ / "dlq" / "bad.jsonl").string(), {}};
  {
    FileSource source(spec);
    ASSERT_TRUE(source.Open(Context()).ok());
    auto users = ReadAll(&source, 10);
    ASSERT_TRUE(users.ok());
    EXPECT_EQ(*users, (std::vector<std::string>{"a", "c"}));
    EXPECT_EQ(source.stats().dead_lettered, 2);
  }
  std::ifstream in(dir_ / "dlq" / "bad.jsonl");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 2u);
  std::string file = (dir_ / "in" / "orders.jsonl").string();
  EXPECT_NE(lines[0].find("\"file\":\"" + file + "\",\"line\":2,\"payload\":\"garbage\"}"),
            std::string::npos)
      << lines[0];
  EXPECT_NE(lines[1].find("\"error\":\"field 'ts' is null; it holds the event time\""),
            std::string::npos)
      << lines[1];
  EXPECT_NE(lines[1].find("\"line\":3"), std::string::npos) << lines[1];
}

TEST_F(FileConnectorTest, RecordsOverTheSizeLimitGoToOnErrorAndTheRestIsKept) {
  // A 5 MB line between good ones; with a 64-byte limit it is dead-lettered
  // (cut to the limit) without being read into memory whole, and so is a
  // line of 65 bytes; one of exactly 64 bytes is decoded.
  const std::string exact =
      R"({"user":"c","amount":3,"ts":3,"pad":")" + std::string(64 - 39, 'x') + R"("})";
  ASSERT_EQ(exact.size(), 64u);
  WriteFile("orders.jsonl", R"({"user":"a","amount":1,"ts":1})"
                            "\n" +
                                std::string(5'000'000, 'y') + "\n" + exact + "\n" +
                                R"({"user":"d","amount":4,"ts":4,"pad":")" +
                                std::string(65 - 39, 'x') + "\"}\n" +
                                R"({"user":"e","amount":5,"ts":5})" + "\n");
  spec::SourceSpec spec = Spec();
  spec.max_record_bytes = 64;
  spec.on_error = spec::OnError::kDeadLetter;
  spec.dead_letter =
      spec::DeadLetterSpec{"file", "", "", (dir_ / "dlq" / "big.jsonl").string(), {}};
  {
    FileSource source(spec);
    ASSERT_TRUE(source.Open(Context()).ok());
    auto users = ReadAll(&source, 10);
    ASSERT_TRUE(users.ok()) << users.status().message();
    EXPECT_EQ(*users, (std::vector<std::string>{"a", "c", "e"}));
    EXPECT_EQ(source.stats().dead_lettered, 2);
  }
  std::ifstream in(dir_ / "dlq" / "big.jsonl");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find("\"error\":\"record is larger than max_record_bytes (64 bytes)\""),
            std::string::npos)
      << lines[0];
  EXPECT_NE(lines[0].find("\"line\":2,\"payload\":\"" + std::string(64, 'y') + "\"}"),
            std::string::npos)
      << lines[0].substr(0, 300);
  EXPECT_NE(lines[1].find("\"line\":4"), std::string::npos) << lines[1];

  // on_error: fail names the file and line.
  spec.on_error = spec::OnError::kFail;
  spec.dead_letter.reset();
  FileSource failing(spec);
  ASSERT_TRUE(failing.Open(Context()).ok());
  auto users = ReadAll(&failing, 10);
  ASSERT_FALSE(users.ok());
  EXPECT_EQ(users.status().message(), (dir_ / "in" / "orders.jsonl").string() +
                                          ":2: record is larger than max_record_bytes (64 bytes)");
}

TEST_F(FileConnectorTest, FileAndLineAsFieldsAndAsEventTimeSource) {
  WriteFile("a.jsonl", R"({"user":"a","amount":1,"ts":1})"
                       "\n\n"
                       R"({"user":"b","amount":2,"ts":2})"
                       "\n");
  spec::SourceSpec spec = Spec();
  spec.metadata = {{"src", "file", ""}, {"ln", "line", ""}};
  spec.schema = Schema({{"user", TypeId::kString},
                        {"amount", TypeId::kDouble},
                        {"ts", TypeId::kTimestamp},
                        {"src", TypeId::kString},
                        {"ln", TypeId::kBigint}});
  // The event time comes from a metadata field: the line number.
  spec.event_time = spec::EventTimeSpec{"ln", 0, 0};
  FileSource source(spec);
  ASSERT_TRUE(source.Open(Context()).ok());
  RecordBatch batch(std::make_shared<Schema>(spec.schema));
  auto state = source.Poll(&batch, 10, 0);
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  ASSERT_EQ(batch.num_rows(), 2u);
  const std::string file = (dir_ / "in" / "a.jsonl").string();
  EXPECT_EQ(batch.columns[0].GetString(1), "b");
  EXPECT_EQ(batch.columns[3].GetString(0), file);
  EXPECT_EQ(batch.columns[4].GetInt(0), 1);
  EXPECT_EQ(batch.columns[4].GetInt(1), 3);
  EXPECT_EQ(batch.event_time, (std::vector<int64_t>{1, 3}));
}

TEST_F(FileConnectorTest, CsvHeaderLineIsSkipped) {
  WriteFile("a.csv", "user,amount,ts\nann,1.5,100\nbob,2,200\n");
  WriteFile("b.csv", "cid,1,300\n");  // no header
  spec::SourceSpec spec = Spec();
  spec.format.type = "csv";
  spec.format.options["header"] = "true";
  FileSource source(spec);
  ASSERT_TRUE(source.Open(Context()).ok());
  std::vector<int64_t> times;
  auto users = ReadAll(&source, 10, &times);
  ASSERT_TRUE(users.ok()) << users.status().ToString();
  EXPECT_EQ(*users, (std::vector<std::string>{"ann", "bob", "cid"}));
  EXPECT_EQ(times, (std::vector<int64_t>{100, 200, 300}));
}

TEST_F(FileConnectorTest, EachFileIsAWatermarkPartition) {
  WriteFile("a.jsonl", R"({"user":"a","amount":1,"ts":1000})"
                       "\n"
                       R"({"user":"b","amount":1,"ts":3000})"
                       "\n");
  WriteFile("b.jsonl", R"({"user":"c","amount":1,"ts":2000})"
                       "\n");
  FileSource source(Spec());
  ASSERT_TRUE(source.Open(Context()).ok());
  EXPECT_EQ(source.Watermark().watermark, kMinWatermark);
  RecordBatch batch(std::make_shared<Schema>(OrdersSchema()));
  ASSERT_TRUE(source.Poll(&batch, 1, 0).ok());
  // File b has not been read: it holds the watermark back.
  EXPECT_EQ(source.Watermark().watermark, kMinWatermark);
  ASSERT_TRUE(source.Poll(&batch, 2, 0).ok());  // b's line 1 and a's end
  EXPECT_EQ(batch.num_rows(), 3u);
  // a ended; b has seen 2000.
  EXPECT_EQ(source.Watermark().watermark, 1999);
  auto state = source.Poll(&batch, 10, 0);
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(*state, PollState::kEndOfInput);
  EXPECT_EQ(source.Watermark().watermark, kMaxWatermark);
}

TEST_F(FileConnectorTest, MissingPathIsNotFound) {
  spec::SourceSpec spec = Spec();
  spec.path = (dir_ / "nope").string();
  FileSource source(spec);
  Status st = source.Open(Context());
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_NE(st.message().find("nope"), std::string::npos);
}

TEST_F(FileConnectorTest, EmptyDirectoryEndsAtOnce) {
  FileSource source(Spec());
  ASSERT_TRUE(source.Open(Context()).ok());
  RecordBatch batch(std::make_shared<Schema>(OrdersSchema()));
  auto state = source.Poll(&batch, 10, 0);
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(*state, PollState::kEndOfInput);
  EXPECT_EQ(source.Watermark().watermark, kMaxWatermark);
}

// ---- positions (checkpoints) ----

// Polls `polls` times (max_rows each), or to the end; appends the users.
Status ReadPolls(Source* source, int polls, int max_rows, std::vector<std::string>* users) {
  RecordBatch batch(std::make_shared<Schema>(OrdersSchema()));
  for (int i = 0; i < polls; ++i) {
    batch.Clear();
    auto state = source->Poll(&batch, max_rows, 0);
    if (!state.ok()) return state.status();
    for (size_t r = 0; r < batch.num_rows(); ++r)
      users->emplace_back(batch.columns[0].GetString(r));
    if (*state == PollState::kEndOfInput) break;
  }
  return Status::OK();
}

std::string OrderLine(const std::string& user, int64_t ts) {
  return R"({"user":")" + user + R"(","amount":1,"ts":)" + std::to_string(ts) + "}";
}

TEST_F(FileConnectorTest, RestoredSubtasksGoOnAfterTheirLastReturnedLine) {
  // Empty lines, CRLF, a malformed line (skipped), an empty file and a last
  // line without a newline.
  WriteFile("a.jsonl", OrderLine("a1", 1) + "\n\n" + OrderLine("a2", 2) + "\r\n" +
                           OrderLine("a3", 3) + "\n" + "garbage\n" + OrderLine("a4", 4) + "\n");
  WriteFile("b.jsonl", OrderLine("b1", 5) + "\n" + OrderLine("b2", 6));
  WriteFile("c.jsonl", "");
  WriteFile("d.jsonl", OrderLine("d1", 7) + "\n\n\n" + OrderLine("d2", 8) + "\n");
  WriteFile("e.jsonl",
            OrderLine("e1", 9) + "\n" + OrderLine("e2", 10) + "\n" + OrderLine("e3", 11) + "\n");
  spec::SourceSpec spec = Spec();
  spec.on_error = spec::OnError::kSkip;
  constexpr int kParallelism = 2;
  std::vector<std::string> whole[kParallelism];
  for (int sub = 0; sub < kParallelism; ++sub) {
    FileSource source(spec);
    ASSERT_TRUE(source.Open(Context(sub, kParallelism)).ok());
    ASSERT_TRUE(ReadPolls(&source, 1000, 2, &whole[sub]).ok());
  }
  ASSERT_EQ(whole[0], (std::vector<std::string>{"a1", "a2", "a3", "a4", "e1", "e2", "e3"}));
  ASSERT_EQ(whole[1], (std::vector<std::string>{"b1", "b2", "d1", "d2"}));

  for (int max_rows : {1, 2, 3}) {
    for (int cut = 0; cut <= 8; ++cut) {
      SCOPED_TRACE("max_rows " + std::to_string(max_rows) + ", cut after " + std::to_string(cut) +
                   " polls");
      std::vector<std::string> got[kParallelism], positions;
      for (int sub = 0; sub < kParallelism; ++sub) {
        FileSource before(spec);
        ASSERT_TRUE(before.Open(Context(sub, kParallelism)).ok());
        ASSERT_TRUE(ReadPolls(&before, cut, max_rows, &got[sub]).ok());
        auto pos = before.SnapshotPosition();
        ASSERT_TRUE(pos.ok()) << pos.status().ToString();
        positions.push_back(*pos);
      }
      for (int sub = 0; sub < kParallelism; ++sub) {
        FileSource after(spec);
        ASSERT_TRUE(after.RestorePositions(positions).ok());
        ASSERT_TRUE(after.Open(Context(sub, kParallelism)).ok());
        ASSERT_TRUE(ReadPolls(&after, 1000, max_rows, &got[sub]).ok());
        EXPECT_EQ(got[sub], whole[sub]);
        EXPECT_EQ(after.Watermark().watermark, kMaxWatermark);
        // A position taken at the end restores to the end.
        auto end = after.SnapshotPosition();
        ASSERT_TRUE(end.ok());
        std::vector<std::string> end_positions = positions;
        end_positions[static_cast<size_t>(sub)] = *end;
        FileSource done(spec);
        ASSERT_TRUE(done.RestorePositions(end_positions).ok());
        ASSERT_TRUE(done.Open(Context(sub, kParallelism)).ok());
        std::vector<std::string> none;
        ASSERT_TRUE(ReadPolls(&done, 10, max_rows, &none).ok());
        EXPECT_EQ(none, std::vector<std::string>{});
        EXPECT_EQ(done.Watermark().watermark, kMaxWatermark);
      }
    }
  }
}

TEST_F(FileConnectorTest, RestoreSeeksWithoutRereadingAndKeepsTheCsvHeaderRule) {
  WriteFile("a.csv", "user,amount,ts\nann,1.5,100\nbob,2,200\ncid,3,300\n");
  spec::SourceSpec spec = Spec();
  spec.format.type = "csv";
  spec.format.options["header"] = "true";
  std::string position;
  {
    FileSource before(spec);
    ASSERT_TRUE(before.Open(Context()).ok());
    std::vector<std::string> users;
    ASSERT_TRUE(ReadPolls(&before, 1, 1, &users).ok());
    EXPECT_EQ(users, std::vector<std::string>{"ann"});
    position = before.SnapshotPosition().value();
  }
  // The lines already read are replaced by bytes of the same length that
  // would not parse: a restored source that re-read them would fail.
  WriteFile("a.csv", "xxxxxxxxxxxxxx\nxxxxxxxxxxx\nbob,2,200\ncid,3,300\ndan,4,400\n");
  FileSource after(spec);
  ASSERT_TRUE(after.RestorePositions({position}).ok());
  ASSERT_TRUE(after.Open(Context()).ok());
  std::vector<std::string> users;
  Status st = ReadPolls(&after, 100, 10, &users);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(users, (std::vector<std::string>{"bob", "cid", "dan"}));
}

TEST_F(FileConnectorTest, RestoreReadsNewFilesFromTheStart) {
  WriteFile("a.jsonl", OrderLine("a1", 1) + "\n" + OrderLine("a2", 2) + "\n");
  std::string position;
  {
    FileSource before(Spec());
    ASSERT_TRUE(before.Open(Context()).ok());
    std::vector<std::string> users;
    ASSERT_TRUE(ReadPolls(&before, 1, 1, &users).ok());
    position = before.SnapshotPosition().value();
  }
  WriteFile("0.jsonl", OrderLine("new", 3) + "\n");  // sorts first
  FileSource after(Spec());
  ASSERT_TRUE(after.RestorePositions({position}).ok());
  ASSERT_TRUE(after.Open(Context()).ok());
  std::vector<std::string> users;
  ASSERT_TRUE(ReadPolls(&after, 100, 10, &users).ok());
  EXPECT_EQ(users, (std::vector<std::string>{"new", "a2"}));
}

TEST_F(FileConnectorTest, RestoreFollowsFilesAcrossParallelismRejectsBadBytesAndChangedFiles) {
  WriteFile("a.jsonl", OrderLine("a1", 1) + "\n" + OrderLine("a2", 2) + "\n");
  WriteFile("b.jsonl", OrderLine("b1", 1) + "\n" + OrderLine("b2", 2) + "\n");
  std::vector<std::string> positions;
  for (int sub = 0; sub < 2; ++sub) {
    FileSource before(Spec());
    ASSERT_TRUE(before.Open(Context(sub, 2)).ok());
    std::vector<std::string> users;
    ASSERT_TRUE(ReadPolls(&before, 1, 1, &users).ok());
    positions.push_back(before.SnapshotPosition().value());
  }
  // Positions are per file, so a rescale moves them with their files: at
  // parallelism 3, subtask 0 reads a.jsonl and 1 reads b.jsonl, each from
  // where the checkpoint left it; subtask 2 has no file.
  for (int sub = 0; sub < 3; ++sub) {
    FileSource after(Spec());
    ASSERT_TRUE(after.RestorePositions(positions).ok());
    ASSERT_TRUE(after.Open(Context(sub, 3)).ok());
    std::vector<std::string> users;
    ASSERT_TRUE(ReadPolls(&after, 10, 10, &users).ok());
    const std::vector<std::vector<std::string>> want = {{"a2"}, {"b2"}, {}};
    EXPECT_EQ(users, want[static_cast<size_t>(sub)]) << sub;
  }
  for (const std::string& bad :
       {std::string(), std::string("\x09"), positions[0].substr(0, positions[0].size() - 3),
        positions[0] + "x"}) {
    FileSource after(Spec());
    Status st = after.RestorePositions({bad, positions[1]});
    EXPECT_EQ(st.code(), StatusCode::kDataLoss) << st.ToString();
    EXPECT_NE(st.message().find("file source 'orders'"), std::string::npos) << st.message();
  }
  {
    FileSource after(Spec());
    Status st = after.RestorePositions({positions[0], positions[0]});
    EXPECT_EQ(st.code(), StatusCode::kDataLoss) << st.ToString();
  }
  // b.jsonl shrank below its position.
  WriteFile("b.jsonl", "{}");
  {
    FileSource after(Spec());
    ASSERT_TRUE(after.RestorePositions(positions).ok());
    ASSERT_TRUE(after.Open(Context(1, 2)).ok());
    std::vector<std::string> users;
    Status st = ReadPolls(&after, 10, 10, &users);
    EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition) << st.ToString();
    EXPECT_NE(st.message().find("b.jsonl"), std::string::npos) << st.message();
  }
  // a.jsonl, unfinished in the position, is gone.
  fs::remove(dir_ / "in" / "a.jsonl");
  {
    FileSource after(Spec());
    ASSERT_TRUE(after.RestorePositions(positions).ok());
    Status st = after.Open(Context(0, 2));
    EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition) << st.ToString();
    EXPECT_NE(st.message().find("a.jsonl"), std::string::npos) << st.message();
  }
  // Positions before Open only; a position only after it.
  FileSource opened(Spec());
  EXPECT_EQ(opened.SnapshotPosition().status().code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(opened.Open(Context()).ok());
  EXPECT_EQ(opened.RestorePositions(positions).code(), StatusCode::kFailedPrecondition);
}

RecordBatch OrdersBatch(int from, int to) {
  RecordBatch batch(std::make_shared<Schema>(OrdersSchema()));
  for (int i = from; i < to; ++i) {
    batch.columns[0].AppendString("user" + std::to_string(i));
    batch.columns[1].AppendDouble(i * 0.25);
    batch.columns[2].AppendInt(1000 + i);
    batch.event_time.push_back(1000 + i);
  }
  return batch;
}

spec::SinkSpec FileSinkSpec(const fs::path& dir) {
  spec::SinkSpec s;
  s.name = "out";
  s.type = "file";
  s.path = dir.string();
  return s;
}

TEST_F(FileConnectorTest, SinkWritesOneFilePerSubtaskThatReadsBack) {
  fs::path out = dir_ / "out" / "nested";
  for (int subtask = 0; subtask < 2; ++subtask) {
    FileSink sink(FileSinkSpec(out), OrdersSchema());
    ASSERT_TRUE(sink.Open(SinkContext{"test", subtask, 2}).ok());
    EXPECT_EQ(fs::path(sink.file_path()).filename(), "part-" + std::to_string(subtask) + ".jsonl");
    ASSERT_TRUE(sink.Write(OrdersBatch(subtask * 10, subtask * 10 + 10)).ok());
    ASSERT_TRUE(sink.Flush().ok());
    // Flushed: the rows are in the file even before Close.
    std::ifstream in(sink.file_path());
    int lines = 0;
    for (std::string line; std::getline(in, line);) ++lines;
    EXPECT_EQ(lines, 10);
    ASSERT_TRUE(sink.Write(OrdersBatch(subtask * 10 + 100, subtask * 10 + 105)).ok());
    ASSERT_TRUE(sink.Close().ok());
    EXPECT_EQ(sink.stats().records, 15);
  }
  // The encoder's lines, and the file source reads them back.
  auto encoder = format::MakeEncoder(spec::FormatSpec{}, OrdersSchema());
  ASSERT_TRUE(encoder.ok());
  RecordBatch b = OrdersBatch(0, 10);
  std::string first_line;
  (*encoder)->Encode(b, 0, &first_line);
  std::ifstream in(out / "part-0.jsonl");
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  EXPECT_EQ(line, first_line);

  spec::SourceSpec spec = Spec();
  spec.path = out.string();
  FileSource source(spec);
  ASSERT_TRUE(source.Open(Context()).ok());
  auto users = ReadAll(&source, 100);
  ASSERT_TRUE(users.ok()) << users.status().ToString();
  std::multiset<std::string> got(users->begin(), users->end()), expected;
  for (int i : {0, 10}) {
    for (int k = 0; k < 10; ++k) expected.insert("user" + std::to_string(i + k));
    for (int k = 0; k < 5; ++k) expected.insert("user" + std::to_string(i + 100 + k));
  }
  EXPECT_EQ(got, expected);
}

TEST_F(FileConnectorTest, SinkAppendsAcrossRestarts) {
  fs::path out = dir_ / "out";
  for (int run = 0; run < 2; ++run) {
    FileSink sink(FileSinkSpec(out), OrdersSchema());
    ASSERT_TRUE(sink.Open(SinkContext{"test", 0, 1}).ok());
    ASSERT_TRUE(sink.Write(OrdersBatch(run * 3, run * 3 + 3)).ok());
    ASSERT_TRUE(sink.Close().ok());
  }
  std::ifstream in(out / "part-0.jsonl");
  int lines = 0;
  for (std::string line; std::getline(in, line);) ++lines;
  EXPECT_EQ(lines, 6);
}

TEST_F(FileConnectorTest, SinkCsvExtension) {
  spec::SinkSpec spec = FileSinkSpec(dir_ / "csv");
  spec.format.type = "csv";
  FileSink sink(spec, OrdersSchema());
  ASSERT_TRUE(sink.Open(SinkContext{"test", 3, 4}).ok());
  EXPECT_EQ(fs::path(sink.file_path()).filename(), "part-3.csv");
  EXPECT_EQ(FileSink::PartFileName(3, "csv", 17), "part-3-17.csv");
}

TEST(StdoutSink, WritesOneLinePerRow) {
  spec::SinkSpec spec;
  spec.name = "print";
  spec.type = "stdout";
  spec::JobSpec job;
  auto sink = MakeSink(spec, job, OrdersSchema());
  ASSERT_TRUE(sink.ok());
  ASSERT_TRUE((*sink)->Open(SinkContext{"test", 0, 1}).ok());
  RecordBatch batch = OrdersBatch(0, 3);
  ::testing::internal::CaptureStdout();
  Status st = (*sink)->Write(batch);
  std::string out = ::testing::internal::GetCapturedStdout();
  ASSERT_TRUE(st.ok());
  auto encoder = format::MakeEncoder(spec::FormatSpec{}, OrdersSchema());
  ASSERT_TRUE(encoder.ok());
  std::string expected;
  for (size_t r = 0; r < 3; ++r) {
    (*encoder)->Encode(batch, r, &expected);
    expected += '\n';
  }
  EXPECT_EQ(out, expected);
  EXPECT_EQ((*sink)->stats().records, 3);
  EXPECT_TRUE((*sink)->Close().ok());
}

TEST(BlackholeSink, CountsRowsAndBytes) {
  spec::SinkSpec spec;
  spec.type = "blackhole";
  auto sink = MakeSink(spec, spec::JobSpec{}, OrdersSchema());
  ASSERT_TRUE(sink.ok());
  ASSERT_TRUE((*sink)->Open(SinkContext{}).ok());
  ASSERT_TRUE((*sink)->Write(OrdersBatch(0, 10)).ok());  // "user0".."user9": 50 bytes
  EXPECT_EQ((*sink)->stats().records, 10);
  EXPECT_EQ((*sink)->stats().bytes, 50 + 10 * 8 * 2);
  ASSERT_TRUE((*sink)->Close().ok());
}

TEST(ConnectorFactory, EveryTypeIsMadeAndUnknownTypesFail) {
  for (const char* type : {"postgres", "file", "stdout", "blackhole", "kafka"}) {
    spec::SinkSpec sink_spec;
    sink_spec.name = "out";
    sink_spec.type = type;
    EXPECT_TRUE(MakeSink(sink_spec, spec::JobSpec{}, OrdersSchema()).ok()) << type;
  }
  spec::SinkSpec odd;
  odd.name = "out";
  odd.type = "carrier-pigeon";
  EXPECT_EQ(MakeSink(odd, spec::JobSpec{}, OrdersSchema()).status().code(),
            StatusCode::kInvalidArgument);
  spec::SourceSpec src;
  src.type = "carrier-pigeon";
  EXPECT_EQ(MakeSource(src, spec::JobSpec{}).status().code(), StatusCode::kInvalidArgument);
  for (const char* type : {"kafka", "file", "nexmark", "datagen"}) {
    src.type = type;
    EXPECT_TRUE(MakeSource(src, spec::JobSpec{}).ok()) << type;
  }
}

}  // namespace
}  // namespace weir::connectors
