// The file sink's exactly-once protocol on a real directory: in-progress ->
// pending at PreCommit(N) -> final at Commit(N), and recovery from a
// checkpoint's state after a crash (simulated by abandoning a sink instance
// without Close, as a SIGKILL would).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "common/bytes.h"
#include "worker/connectors/file_sink.h"

namespace weir::connectors {
namespace {

namespace fs = std::filesystem;

Schema TestSchema() {
  return Schema({{"user", TypeId::kString}, {"amount", TypeId::kBigint}});
}

class FileSinkEosTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("weir_file_eos_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  spec::SinkSpec Spec(const fs::path& out) const {
    spec::SinkSpec s;
    s.name = "out";
    s.type = "file";
    s.path = out.string();
    s.delivery = spec::Delivery::kExactlyOnce;
    return s;
  }
  std::unique_ptr<FileSink> Open(const fs::path& out, std::optional<SinkRestore> restore = {}) {
    auto sink = std::make_unique<FileSink>(Spec(out), TestSchema());
    SinkContext ctx{"job", 0, 1, std::move(restore)};
    Status st = sink->Open(ctx);
    EXPECT_TRUE(st.ok()) << st.message();
    return sink;
  }
  static void Write(FileSink* sink, const std::string& user, int n) {
    RecordBatch b(std::make_shared<Schema>(TestSchema()));
    for (int i = 0; i < n; ++i) {
      b.columns[0].AppendString(user);
      b.columns[1].AppendInt(i);
      b.event_time.push_back(i);
    }
    ASSERT_TRUE(sink->Write(b).ok());
  }
  // Visible files (what a reader of the directory sees) -> their line count.
  static std::map<std::string, int> Visible(const fs::path& out) {
    std::map<std::string, int> files;
    for (const auto& e : fs::directory_iterator(out)) {
      std::string name = e.path().filename().string();
      if (name[0] == '.') continue;
      std::ifstream in(e.path());
      int lines = 0;
      for (std::string l; std::getline(in, l);) ++lines;
      files[name] = lines;
    }
    return files;
  }
  // ".part-0-1.1a2b3c4d.jsonl.pending" -> ".part-0-1.T.jsonl.pending": an
  // instance's token (8 lowercase hex digits between dots) shown as "T".
  static std::string MaskToken(const std::string& name) {
    for (size_t i = 0; i + 9 < name.size(); ++i) {
      if (name[i] != '.' || name[i + 9] != '.') continue;
      bool hex = true;
      for (size_t k = i + 1; k < i + 9; ++k)
        hex &= (name[k] >= '0' && name[k] <= '9') || (name[k] >= 'a' && name[k] <= 'f');
      if (hex) return name.substr(0, i + 1) + "T" + name.substr(i + 9);
    }
    return name;
  }
  static std::set<std::string> Hidden(const fs::path& out) {
    std::set<std::string> files;
    for (const auto& e : fs::directory_iterator(out)) {
      std::string name = e.path().filename().string();
      if (name[0] == '.') files.insert(MaskToken(name));
    }
    return files;
  }

  fs::path dir_;
};

TEST_F(FileSinkEosTest, RowsBecomeVisibleOnlyWhenTheirCheckpointCompletes) {
  auto sink = Open(dir_);
  Write(sink.get(), "a", 3);
  EXPECT_TRUE(Visible(dir_).empty());
  auto state = sink->PreCommit(1);
  ASSERT_TRUE(state.ok());
  EXPECT_TRUE(Visible(dir_).empty()) << "pre-committed is not published";
  EXPECT_TRUE(Hidden(dir_).count(".part-0-1.T.jsonl.pending"));
  Write(sink.get(), "b", 2);  // epoch 2
  ASSERT_TRUE(sink->Commit(1).ok());
  EXPECT_EQ(Visible(dir_), (std::map<std::string, int>{{"part-0-1.jsonl", 3}}));
  ASSERT_TRUE(sink->Commit(1).ok()) << "commit is idempotent";
  ASSERT_TRUE(sink->PreCommit(2).ok());
  ASSERT_TRUE(sink->PreCommit(3).ok());  // an empty epoch makes no file
  ASSERT_TRUE(sink->Commit(3).ok());     // commits 2 as well
  EXPECT_EQ(Visible(dir_),
            (std::map<std::string, int>{{"part-0-1.jsonl", 3}, {"part-0-2.jsonl", 2}}));
  ASSERT_TRUE(sink->Close().ok());
  EXPECT_TRUE(Hidden(dir_).empty());
}

TEST_F(FileSinkEosTest, RecoveryCommitsWhatTheCheckpointPromisedAndDropsTheRest) {
  std::string state1;
  {
    auto sink = Open(dir_);
    Write(sink.get(), "a", 4);
    state1 = sink->PreCommit(1).value();  // checkpoint 1 completes, but the commit never happens
    Write(sink.get(), "b", 5);
    ASSERT_TRUE(sink->PreCommit(2).ok());  // checkpoint 2 never completes
    Write(sink.get(), "c", 6);             // in progress at the crash
    sink.reset();  // a crash: no Close (the destructor only closes the descriptor)
  }
  EXPECT_TRUE(Visible(dir_).empty());
  auto sink = Open(dir_, SinkRestore{1, state1});
  EXPECT_EQ(Visible(dir_), (std::map<std::string, int>{{"part-0-1.jsonl", 4}}));
  EXPECT_EQ(Hidden(dir_), (std::set<std::string>{".part-0.T.jsonl.inprogress"}))
      << "epoch 2's pending file and the old in-progress rows are gone";
  // Recovering again (a crash during recovery) changes nothing.
  sink.reset();
  auto again = Open(dir_, SinkRestore{1, state1});
  EXPECT_EQ(Visible(dir_), (std::map<std::string, int>{{"part-0-1.jsonl", 4}}));
}

TEST_F(FileSinkEosTest, AFreshStartRemovesLeftoversOfItsSubtaskOnly) {
  fs::create_directories(dir_);
  std::ofstream(dir_ / ".part-0-7.jsonl.pending") << "x\n";
  std::ofstream(dir_ / ".part-0.jsonl.inprogress") << "y\n";
  std::ofstream(dir_ / ".part-1-7.jsonl.pending") << "z\n";  // another subtask's
  std::ofstream(dir_ / "part-0-3.jsonl") << "kept\n";
  auto sink = Open(dir_);
  EXPECT_EQ(Hidden(dir_),
            (std::set<std::string>{".part-0.T.jsonl.inprogress", ".part-1-7.jsonl.pending"}));
  EXPECT_EQ(Visible(dir_), (std::map<std::string, int>{{"part-0-3.jsonl", 1}}));
}

TEST_F(FileSinkEosTest, ARestoreIntoAnotherDirectoryFinishesTheOldCommitsWhereTheyWere) {
  fs::path old_dir = dir_ / "old", new_dir = dir_ / "new";
  std::string state;
  {
    auto sink = Open(old_dir);
    Write(sink.get(), "a", 2);
    state = sink->PreCommit(5).value();
    sink.reset();
  }
  auto sink = Open(new_dir, SinkRestore{5, state});
  EXPECT_EQ(Visible(old_dir), (std::map<std::string, int>{{"part-0-5.jsonl", 2}}));
  EXPECT_TRUE(Visible(new_dir).empty());
}

// A worker paused past its heartbeat timeout is declared lost, and the job's
// next attempt restores this subtask elsewhere; when the paused worker wakes
// up, its old sink instance runs on for a moment before it fences itself,
// and may pre-commit the same epoch number as the new instance. The two
// never touch each other's files: the new instance's rows are published
// exactly, and its Close removes the old instance's leftovers. (With shared
// file names the old instance renamed the new one's in-progress file into
// its own pending file, and rows were lost: issue 18's worker pause.)
TEST_F(FileSinkEosTest, AnOldInstanceThatWakesUpDoesNotTouchTheNewOnesFiles) {
  auto old_sink = Open(dir_);
  Write(old_sink.get(), "a", 3);
  const std::string state1 = old_sink->PreCommit(1).value();  // completes
  Write(old_sink.get(), "b", 4);                              // epoch 2, in progress: paused here
  auto sink = Open(dir_, SinkRestore{1, state1});             // the next attempt
  EXPECT_EQ(Visible(dir_), (std::map<std::string, int>{{"part-0-1.jsonl", 3}}));
  Write(sink.get(), "c", 5);
  // The old instance wakes up and reaches its barrier of epoch 2: its
  // in-progress file went with the new instance's recovery, so it fails.
  EXPECT_FALSE(old_sink->PreCommit(2).ok());
  Write(sink.get(), "e", 2);
  ASSERT_TRUE(sink->PreCommit(2).ok());
  ASSERT_TRUE(sink->Commit(2).ok());
  EXPECT_EQ(Visible(dir_),
            (std::map<std::string, int>{{"part-0-1.jsonl", 3}, {"part-0-2.jsonl", 7}}));
  old_sink.reset();  // fenced: cancelled, no Close
  // An old instance that got as far as a pending file after the recovery.
  std::ofstream(dir_ / ".part-0-2.0badcafe.jsonl.pending") << "{}\n";
  ASSERT_TRUE(sink->Close().ok());
  EXPECT_TRUE(Hidden(dir_).empty()) << "the old instance's leftovers are gone";
}

// A checkpoint written before sink instances had tokens (state version 2)
// still restores: its pending files are published by their old names.
TEST_F(FileSinkEosTest, AVersionTwoStateStillRestores) {
  fs::create_directories(dir_);
  std::ofstream(dir_ / ".part-0-4.jsonl.pending") << "{\"user\":\"a\"}\n{\"user\":\"b\"}\n";
  std::string state;
  ByteWriter w(&state);
  w.PutU8(2);
  w.PutVarint(1);
  w.PutSigned(4);
  w.PutBytes(fs::absolute(dir_).lexically_normal().string());
  auto sink = Open(dir_, SinkRestore{4, state});
  EXPECT_EQ(Visible(dir_), (std::map<std::string, int>{{"part-0-4.jsonl", 2}}));
  EXPECT_EQ(Hidden(dir_), (std::set<std::string>{".part-0.T.jsonl.inprogress"}));
}

TEST_F(FileSinkEosTest, AMalformedStateIsDataLoss) {
  auto sink = std::make_unique<FileSink>(Spec(dir_), TestSchema());
  SinkContext ctx{"job", 0, 1, SinkRestore{3, std::string("\x02\x05", 2)}};
  Status st = sink->Open(ctx);
  EXPECT_EQ(st.code(), StatusCode::kDataLoss) << st.message();
}

}  // namespace
}  // namespace weir::connectors
