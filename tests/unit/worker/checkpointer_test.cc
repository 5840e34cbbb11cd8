// The checkpoint protocol of one process (worker/runtime/checkpointer.h) with
// real RocksDB state and real file:// checkpoint storage; time is a
// ManualClock. Tasks are played by the test's threads.
#include "worker/runtime/checkpointer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <future>

namespace weir::runtime {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class CheckpointerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("weir_checkpointer_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "scratch");
    state::RocksDbOptions ro;
    ro.dir = (dir_ / "db").string();
    auto store = state::RocksDbStore::Open(ro);
    ASSERT_TRUE(store.ok()) << store.status().message();
    store_ = std::move(store).value();
  }
  void TearDown() override {
    cp_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }
  void Make(int tasks) {
    auto storage =
        checkpoint::CheckpointStorage::Open("file://" + (dir_ / "chk").string(), "job", 3);
    ASSERT_TRUE(storage.ok()) << storage.status().message();
    cp_ = std::make_unique<Checkpointer>("job", 128, tasks, store_.get(),
                                         std::move(storage).value(), (dir_ / "scratch").string(),
                                         /*first_id=*/1, &clock_);
    for (int t = 0; t < tasks; ++t) cp_->TaskReady(t);
  }
  static TaskSnapshot Snap(const std::string& vertex, int subtask, const std::string& pos) {
    TaskSnapshot s;
    s.vertex = vertex;
    s.subtask = subtask;
    s.source_position = pos;
    return s;
  }
  Result<CheckpointMetadata> LatestMetadata() {
    auto storage =
        checkpoint::CheckpointStorage::Open("file://" + (dir_ / "chk").string(), "job", 3);
    if (!storage.ok()) return storage.status();
    auto latest = (*storage)->Latest();
    if (!latest.ok()) return latest.status();
    if (!*latest) return Status::NotFound("no checkpoint");
    auto bytes = checkpoint::CheckpointStorage::ReadMetadata((*latest)->path);
    if (!bytes.ok()) return bytes.status();
    return CheckpointMetadata::Decode(*bytes);
  }

  fs::path dir_;
  ManualClock clock_{1'000};
  std::unique_ptr<state::RocksDbStore> store_;
  std::unique_ptr<Checkpointer> cp_;
};

TEST_F(CheckpointerTest, NothingIsTriggeredBeforeEveryTaskIsReady) {
  auto storage = checkpoint::CheckpointStorage::Open("file://" + (dir_ / "chk").string(), "job", 3);
  ASSERT_TRUE(storage.ok());
  Checkpointer cp("job", 128, 2, store_.get(), std::move(storage).value(),
                  (dir_ / "scratch").string(), 7, &clock_);
  cp.TaskReady(0);
  EXPECT_FALSE(cp.Trigger(false));
  cp.TaskReady(1);
  EXPECT_EQ(cp.Trigger(false), std::optional<int64_t>(7));
  EXPECT_FALSE(cp.Trigger(false)) << "one pending at a time";
  EXPECT_EQ(cp.triggered_id(), 7);
  cp.Shutdown();
}

TEST_F(CheckpointerTest, StateIsSnapshotWhenEveryRunningTaskAckedAndThenCompletes) {
  Make(2);
  auto state = store_->NewBackend();
  auto id_state = state->Register("op", "s");
  ASSERT_TRUE(state->Put(id_state, 3, "k", "before").ok());
  ASSERT_TRUE(state->Flush().ok());  // as a task does before it acks
  auto id = cp_->Trigger(false);
  ASSERT_TRUE(id);
  // Task 0 acks and must wait for task 1: the state snapshot is not taken yet.
  auto first =
      std::async(std::launch::async, [&] { return cp_->Ack(0, *id, Snap("src", 0, "p0"), false); });
  EXPECT_EQ(first.wait_for(100ms), std::future_status::timeout);
  EXPECT_EQ(cp_->completed_id(), 0);
  // Task 1 acks: the snapshot is taken, both go on.
  EXPECT_TRUE(cp_->Ack(1, *id, Snap("src", 1, "p1"), false));
  EXPECT_TRUE(first.get());
  // Writes after the barrier are not in checkpoint 1.
  ASSERT_TRUE(state->Put(id_state, 3, "k", "after").ok());
  ASSERT_TRUE(cp_->WaitCompleted(*id, 10s));
  auto meta = LatestMetadata();
  ASSERT_TRUE(meta.ok()) << meta.status().message();
  EXPECT_EQ(meta->id, 1);
  EXPECT_EQ(meta->SourcePositions("src"), (std::vector<std::string>{"p0", "p1"}));
  ASSERT_EQ(meta->db_parts.size(), 1u);
  EXPECT_EQ(meta->db_parts[0].name, "");
  EXPECT_EQ(meta->db_parts[0].key_groups, (std::vector<KeyGroupRange>{{0, 127}}));
  // Restore the state of checkpoint 1 and read the key back.
  auto latest = fs::path(dir_ / "chk" / "job" / "chk-1").string();
  const std::string restored = (dir_ / "restored").string();
  ASSERT_TRUE(
      checkpoint::CheckpointStorage::DownloadDb(latest, meta->db_parts[0].manifest, restored).ok());
  state::RocksDbOptions ro;
  ro.dir = restored;
  auto db = state::RocksDbStore::Open(ro);
  ASSERT_TRUE(db.ok());
  auto view = (*db)->NewBackend();
  std::string value;
  auto got = view->Get(view->Register("op", "s"), 3, "k", &value);
  ASSERT_TRUE(got.ok() && *got);
  EXPECT_EQ(value, "before");
}

TEST_F(CheckpointerTest, FinishedTasksAckWithoutWaitingAndDoNotHoldTheSnapshot) {
  Make(2);
  cp_->TaskFinished(1);
  EXPECT_FALSE(cp_->all_finished());
  auto id = cp_->Trigger(false);
  ASSERT_TRUE(id);
  // The only running task does not wait for the finished one.
  EXPECT_TRUE(cp_->Ack(0, *id, Snap("src", 0, "p0"), false));
  EXPECT_FALSE(cp_->WaitCompleted(*id, 50ms)) << "the finished task has not acked yet";
  EXPECT_TRUE(cp_->Ack(1, *id, Snap("src", 1, "end"), true));
  EXPECT_TRUE(cp_->WaitCompleted(*id, 10s));
  cp_->TaskFinished(0);
  EXPECT_TRUE(cp_->all_finished());
}

TEST_F(CheckpointerTest, ATaskFinishingInsteadOfAckingReleasesTheOthers) {
  Make(2);
  auto id = cp_->Trigger(false);
  ASSERT_TRUE(id);
  auto first =
      std::async(std::launch::async, [&] { return cp_->Ack(0, *id, Snap("src", 0, "p0"), false); });
  EXPECT_EQ(first.wait_for(100ms), std::future_status::timeout);
  // Task 1's inputs end before barrier 1 reaches it: it finishes, then acks
  // from its finished loop.
  cp_->TaskFinished(1);
  EXPECT_TRUE(first.get());
  EXPECT_TRUE(cp_->Ack(1, *id, Snap("src", 1, "end"), true));
  EXPECT_TRUE(cp_->WaitCompleted(*id, 10s));
}

TEST_F(CheckpointerTest, ATimedOutCheckpointFailsAndReleasesTheWaitingTasks) {
  Make(2);
  std::vector<CheckpointEvent> events;
  std::mutex mu;
  cp_->SetListener([&](const CheckpointEvent& e) {
    std::lock_guard lock(mu);
    events.push_back(e);
  });
  auto id = cp_->Trigger(false);
  ASSERT_TRUE(id);
  auto first =
      std::async(std::launch::async, [&] { return cp_->Ack(0, *id, Snap("src", 0, "p0"), false); });
  cp_->CheckTimeout(5'000);
  EXPECT_EQ(cp_->failed_id(), 0) << "not yet";
  clock_.Advance(5'000);
  cp_->CheckTimeout(5'000);
  EXPECT_EQ(cp_->failed_id(), *id);
  EXPECT_TRUE(first.get());
  EXPECT_FALSE(cp_->WaitCompleted(*id, 10ms));
  {
    std::lock_guard lock(mu);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_FALSE(events[0].ok);
    EXPECT_NE(events[0].message.find("timed out"), std::string::npos);
  }
  // A late ack of the abandoned checkpoint is ignored; the next one works.
  EXPECT_TRUE(cp_->Ack(1, *id, Snap("src", 1, "p1"), false));
  auto next = cp_->Trigger(false);
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, *id + 1);
}

TEST_F(CheckpointerTest, SavepointsAreKeptApartFromCheckpoints) {
  Make(1);
  auto id = cp_->Trigger(/*savepoint=*/true);
  ASSERT_TRUE(id);
  EXPECT_TRUE(cp_->Ack(0, *id, Snap("src", 0, "p"), false));
  ASSERT_TRUE(cp_->WaitCompleted(*id, 10s));
  EXPECT_TRUE(
      fs::exists(dir_ / "chk" / "job" / ("savepoint-" + std::to_string(*id)) / "_metadata"));
}

// Issue 18: on a cluster, a consumer whose local inputs have ended can align
// on the barriers of another worker's source before its own worker gets the
// coordinator's trigger. Its ack must count for that checkpoint: it waits for
// the trigger, and the worker's share then holds both tasks. (Before the
// fix the ack went to no pending checkpoint and was dropped, and the share
// never came: the job stalled until checkpoint.timeout.)
TEST_F(CheckpointerTest, AnAckThatOvertakesTheTriggerWaitsForItAndCounts) {
  Make(2);
  std::promise<LocalCheckpoint> share;
  auto got = share.get_future();
  cp_->SetParticipant("w1", {{0, 127}}, [&](LocalCheckpoint c) { share.set_value(std::move(c)); });
  // Task 1 (the consumer) acks checkpoint 5 before the trigger came.
  auto early =
      std::async(std::launch::async, [&] { return cp_->Ack(1, 5, Snap("window", 1, ""), false); });
  EXPECT_EQ(early.wait_for(100ms), std::future_status::timeout)
      << "the ack returned before the checkpoint was triggered here";
  EXPECT_EQ(cp_->triggered_id(), 0);
  ASSERT_TRUE(cp_->TriggerAt(5, false));
  // Task 0 (the local source) sees the trigger and acks; both go on.
  auto source =
      std::async(std::launch::async, [&] { return cp_->Ack(0, 5, Snap("src", 0, "p0"), false); });
  if (source.wait_for(10s) != std::future_status::ready) {
    cp_->Shutdown();  // release the waiting tasks
    FAIL() << "the source's ack waits forever: the consumer's ack was lost";
  }
  EXPECT_TRUE(source.get());
  ASSERT_EQ(early.wait_for(10s), std::future_status::ready);
  EXPECT_TRUE(early.get());
  ASSERT_EQ(got.wait_for(10s), std::future_status::ready) << "the share never came";
  LocalCheckpoint c = got.get();
  EXPECT_EQ(c.id, 5);
  EXPECT_TRUE(c.status.ok()) << c.status.message();
  ASSERT_EQ(c.tasks.size(), 2u);
  EXPECT_EQ(c.tasks[0].vertex, "src");
  EXPECT_EQ(c.tasks[1].vertex, "window");
  cp_->Confirm(5, true, "");
  EXPECT_EQ(cp_->completed_id(), 5);
}

// A cancel ends the wait for a trigger that will not come.
TEST_F(CheckpointerTest, AnAckWaitingForItsTriggerEndsOnShutdown) {
  Make(2);
  cp_->SetParticipant("w1", {{0, 127}}, [](LocalCheckpoint) {});
  auto early =
      std::async(std::launch::async, [&] { return cp_->Ack(1, 3, Snap("window", 1, ""), false); });
  EXPECT_EQ(early.wait_for(100ms), std::future_status::timeout);
  cp_->Shutdown();
  ASSERT_EQ(early.wait_for(10s), std::future_status::ready);
  EXPECT_FALSE(early.get());
}

}  // namespace
}  // namespace weir::runtime
