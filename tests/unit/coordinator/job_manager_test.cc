// The coordinator's JobManager (coordinator/job_manager.h), driven by hand:
// a ManualClock, workers whose links record what the manager sends, and
// Submit/WorkerRegistered/WorkerMessage/Tick calls in place of the services
// and the timer thread.
#include "coordinator/job_manager.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/checkpoint/metadata.h"
#include "common/checkpoint/storage.h"

namespace weir::coordinator {
namespace {

namespace fs = std::filesystem;
using Msg = v1::CoordinatorMessage;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/weir-coordinator-test-XXXXXX";
    char* p = ::mkdtemp(tmpl);
    EXPECT_NE(p, nullptr);
    path_ = p ? p : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A worker's session as the manager sees it: Send records (heartbeat acks
// are only counted), Close marks it.
class RecordingLink final : public WorkerLink {
 public:
  void Send(const Msg& m) override {
    std::lock_guard lock(mu_);
    if (m.msg_case() == Msg::kHeartbeatAck)
      ++acks_;
    else
      sent_.push_back(m);
  }
  void Close() override {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  // Takes the messages sent since the last call.
  std::vector<Msg> Take() {
    std::lock_guard lock(mu_);
    std::vector<Msg> out = std::move(sent_);
    sent_.clear();
    return out;
  }
  bool closed() const {
    std::lock_guard lock(mu_);
    return closed_;
  }
  int acks() const {
    std::lock_guard lock(mu_);
    return acks_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<Msg> sent_;
  int acks_ = 0;
  bool closed_ = false;
};

// The messages of one kind among `msgs`.
std::vector<Msg> OfKind(const std::vector<Msg>& msgs, Msg::MsgCase kind) {
  std::vector<Msg> out;
  for (const auto& m : msgs)
    if (m.msg_case() == kind) out.push_back(m);
  return out;
}

// The DeployJob messages of one job among `msgs`.
std::vector<v1::DeployJob> DeploysOf(const std::vector<Msg>& msgs, const std::string& job) {
  std::vector<v1::DeployJob> out;
  for (const auto& m : msgs)
    if (m.msg_case() == Msg::kDeploy && m.deploy().job_id() == job) out.push_back(m.deploy());
  return out;
}

constexpr int kMaxParallelism = 16;
constexpr int64_t kIntervalMs = 100;
constexpr int64_t kRestartDelayMs = 1000;
constexpr int64_t kHeartbeatTimeoutMs = 5000;

std::string JobYaml(const std::string& dir, const std::string& name = "coord-test") {
  return "name: " + name +
         "\n"
         "parallelism: 2\n"
         "max_parallelism: 16\n"
         "checkpoint: {interval: 100ms, mode: exactly_once}\n"
         "restart: {attempts: 2, delay: 1s}\n"
         "sources:\n"
         "  events:\n"
         "    type: file\n"
         "    path: " +
         dir +
         "/in\n"
         "    format: json\n"
         "    schema: {uid: string, amount: bigint, ts: timestamp}\n"
         "    event_time: {field: ts, max_out_of_orderness: 0s}\n"
         "operators:\n"
         "  - name: big\n"
         "    from: events\n"
         "    filter: \"amount > 0\"\n"
         "  - name: per_user\n"
         "    from: big\n"
         "    key_by: [uid]\n"
         "    window: {tumbling: 1s}\n"
         "    aggregate: {n: count(), total: sum(amount)}\n"
         "sinks:\n"
         "  out: {from: per_user, type: file, path: " +
         dir + "/out, format: json}\n";
}

class JobManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_dir_ = (fs::path(tmp_.path()) / "data").string();
    fs::create_directories(fs::path(tmp_.path()) / "in");
    std::ofstream(fs::path(tmp_.path()) / "in" / "a.jsonl")
        << "{\"uid\": \"a\", \"amount\": 1, \"ts\": 1000}\n";
    yaml_ = JobYaml(tmp_.path());
    Start();
  }

  void Start() {
    ManagerOptions o;
    o.data_dir = data_dir_;
    o.heartbeat_interval_ms = 500;
    o.heartbeat_timeout_ms = kHeartbeatTimeoutMs;
    o.clock = &clock_;
    auto m = JobManager::Create(o);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    jm_ = std::move(m).value();
  }

  // Destroys the manager (a coordinator that stops) and makes a new one
  // over the same data directory; the workers' sessions are gone with it.
  void Restart() {
    jm_.reset();
    tokens_.clear();
    links_.clear();
    Start();
  }

  Result<v1::Job> Submit(const std::string& yaml, std::vector<spec::Diagnostic>* diags = nullptr) {
    v1::SubmitJobRequest req;
    req.set_job_yaml(yaml);
    req.set_file_name("job.yaml");
    std::vector<spec::Diagnostic> ignored;
    return jm_->Submit(req, diags ? diags : &ignored);
  }

  void Register(const std::string& id, int slots) {
    v1::RegisterWorker r;
    r.set_worker_id(id);
    r.set_address(id + ".local:7000");
    r.set_slots(slots);
    auto link = std::make_shared<RecordingLink>();
    links_[id] = link;
    tokens_[id] = jm_->WorkerRegistered(r, link);
    auto sent = link->Take();
    ASSERT_EQ(sent.size(), 1u);
    ASSERT_EQ(sent[0].msg_case(), Msg::kRegistered);
    EXPECT_EQ(sent[0].registered().heartbeat_interval_ms(), 500);
    EXPECT_GT(sent[0].registered().fence_after_ms(), 0);
    EXPECT_LT(sent[0].registered().fence_after_ms(), kHeartbeatTimeoutMs);
  }

  void Heartbeat(const std::string& w) {
    const int before = links_.at(w)->acks();
    v1::WorkerMessage m;
    m.mutable_heartbeat()->set_time_ms(clock_.NowMillis());
    jm_->WorkerMessage(tokens_.at(w), m);
    EXPECT_EQ(links_.at(w)->acks(), before + 1) << w;
  }

  void Event(const std::string& w, int64_t attempt, v1::TaskEvent::Kind kind,
             const std::string& message = "", bool permanent = false,
             const v1::TaskProgress* progress = nullptr) {
    v1::WorkerMessage m;
    auto* ev = m.mutable_task_event();
    ev->set_job_id(job_);
    ev->set_attempt(attempt);
    ev->set_kind(kind);
    ev->set_message(message);
    ev->set_permanent(permanent);
    if (progress) *ev->mutable_progress() = *progress;
    jm_->WorkerMessage(tokens_.at(w), m);
  }

  // A worker's share of checkpoint `id`: a snapshot of each subtask it runs.
  std::string Share(int64_t id, const std::vector<int>& subtasks) {
    checkpoint::CheckpointMetadata meta;
    meta.id = id;
    meta.job = job_;
    meta.max_parallelism = kMaxParallelism;
    for (int s : subtasks) {
      checkpoint::TaskSnapshot t;
      t.vertex = "events";
      t.subtask = s;
      t.source_position = "pos-" + std::to_string(id) + "-" + std::to_string(s);
      meta.tasks.push_back(t);
      checkpoint::TaskSnapshot k;
      k.vertex = "per_user";
      k.subtask = s;
      k.sink_state = "sink-" + std::to_string(s);
      meta.tasks.push_back(k);
    }
    return meta.Encode();
  }

  void Ack(const std::string& w, int64_t attempt, int64_t id, bool ok, std::string share) {
    v1::WorkerMessage m;
    auto* a = m.mutable_checkpoint_ack();
    a->set_job_id(job_);
    a->set_attempt(attempt);
    a->set_checkpoint_id(id);
    a->set_ok(ok);
    if (!ok) a->set_error("disk full");
    a->set_share(std::move(share));
    jm_->WorkerMessage(tokens_.at(w), m);
  }

  v1::JobState State() {
    auto j = jm_->Get(job_);
    EXPECT_TRUE(j.ok()) << j.status().ToString();
    return j.ok() ? j->state() : v1::JOB_STATE_UNSPECIFIED;
  }

  std::vector<Msg> Take(const std::string& w) { return links_.at(w)->Take(); }

  // Submits the job with workers w1 and w2 of 2 slots each, and checks both
  // get the same DeployJob of attempt 1. Returns it.
  v1::DeployJob SubmitAndDeploy() {
    auto j = Submit(yaml_);
    EXPECT_TRUE(j.ok()) << j.status().ToString();
    EXPECT_EQ(State(), v1::JOB_STATE_PENDING);
    Register("w1", 2);
    Register("w2", 2);
    jm_->Tick();
    auto d1 = DeploysOf(Take("w1"), job_);
    auto d2 = DeploysOf(Take("w2"), job_);
    EXPECT_EQ(d1.size(), 1u);
    EXPECT_EQ(d2.size(), 1u);
    if (d1.size() != 1 || d2.size() != 1) return {};
    EXPECT_EQ(d1[0].SerializeAsString(), d2[0].SerializeAsString());
    return d1[0];
  }

  // Both workers report READY; after the interval, both get the trigger of
  // checkpoint `id`, and their acks complete it. Returns its path.
  std::string CompleteCheckpoint(int64_t attempt, int64_t id) {
    clock_.Advance(kIntervalMs);
    jm_->Tick();
    for (const char* w : {"w1", "w2"}) {
      auto t = OfKind(Take(w), Msg::kTrigger);
      EXPECT_EQ(t.size(), 1u) << w;
      if (t.size() != 1) return "";
      EXPECT_EQ(t[0].trigger().checkpoint_id(), id);
      EXPECT_EQ(t[0].trigger().attempt(), attempt);
      EXPECT_FALSE(t[0].trigger().savepoint());
    }
    Ack("w1", attempt, id, true, Share(id, {0}));
    EXPECT_TRUE(OfKind(Take("w1"), Msg::kCheckpointDone).empty());
    Ack("w2", attempt, id, true, Share(id, {1}));
    for (const char* w : {"w1", "w2"}) {
      auto d = OfKind(Take(w), Msg::kCheckpointDone);
      EXPECT_EQ(d.size(), 1u) << w;
      if (d.size() != 1) return "";
      EXPECT_EQ(d[0].checkpoint_done().checkpoint_id(), id);
      EXPECT_TRUE(d[0].checkpoint_done().ok());
    }
    auto j = jm_->Get(job_);
    EXPECT_EQ(j->last_checkpoint_id(), id);
    return j->last_checkpoint_path();
  }

  std::string CheckpointsUri() const {
    return "file://" + (fs::absolute(data_dir_) / "checkpoints").string();
  }

  TempDir tmp_;
  std::string data_dir_;
  std::string yaml_;
  const std::string job_ = "coord-test";
  ManualClock clock_{1'000'000};
  std::unique_ptr<JobManager> jm_;
  std::map<std::string, std::shared_ptr<RecordingLink>> links_;
  std::map<std::string, int64_t> tokens_;
};

// Every subtask of every vertex placed exactly once; keyed vertices' key
// groups contiguous over the subtasks and covering 0..max_parallelism-1.
void ExpectConsistentPlacement(const v1::DeployJob& d, const std::set<std::string>& workers) {
  std::map<int, std::vector<const v1::TaskPlacement*>> by_vertex;
  std::set<std::pair<int, int>> seen;
  for (const auto& t : d.tasks()) {
    EXPECT_TRUE(seen.insert({t.vertex(), t.subtask()}).second)
        << "vertex " << t.vertex() << " subtask " << t.subtask() << " placed twice";
    EXPECT_TRUE(workers.count(t.worker_id())) << t.worker_id();
    by_vertex[t.vertex()].push_back(&t);
  }
  ASSERT_EQ(static_cast<int>(by_vertex.size()), d.graph().vertices_size());
  for (const auto& v : d.graph().vertices()) {
    auto& tasks = by_vertex[v.id()];
    ASSERT_EQ(static_cast<int>(tasks.size()), v.parallelism()) << v.name();
    std::sort(tasks.begin(), tasks.end(),
              [](auto* a, auto* b) { return a->subtask() < b->subtask(); });
    for (int s = 0; s < v.parallelism(); ++s) {
      EXPECT_EQ(tasks[static_cast<size_t>(s)]->subtask(), s);
      EXPECT_EQ(tasks[static_cast<size_t>(s)]->vertex_name(), v.name());
    }
    if (!v.keyed()) continue;
    int next = 0;
    for (const auto* t : tasks) {
      EXPECT_EQ(t->key_group_first(), next) << v.name() << " subtask " << t->subtask();
      EXPECT_GE(t->key_group_last(), t->key_group_first());
      next = t->key_group_last() + 1;
    }
    EXPECT_EQ(next, d.graph().max_parallelism()) << v.name();
  }
  // Slot i of the job runs subtask i of every vertex: one worker per index.
  std::map<int, std::set<std::string>> workers_of_subtask;
  for (const auto& t : d.tasks()) workers_of_subtask[t.subtask()].insert(t.worker_id());
  for (const auto& [s, ws] : workers_of_subtask) EXPECT_EQ(ws.size(), 1u) << "subtask " << s;
}

TEST_F(JobManagerTest, JobLifeWithCheckpointsRestartsAndFailure) {
  // ---- PENDING without workers, then deployed on both.
  v1::DeployJob d = SubmitAndDeploy();
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(d.job_id(), job_);
  EXPECT_EQ(d.attempt(), 1);
  EXPECT_EQ(d.file_name(), "job.yaml");
  EXPECT_EQ(d.job_yaml(), yaml_);
  EXPECT_TRUE(d.restore_path().empty());
  EXPECT_EQ(d.checkpoint_storage(), CheckpointsUri());
  EXPECT_EQ(d.graph().max_parallelism(), kMaxParallelism);
  bool any_keyed = false;
  for (const auto& v : d.graph().vertices()) any_keyed |= v.keyed();
  EXPECT_TRUE(any_keyed);
  ExpectConsistentPlacement(d, {"w1", "w2"});
  std::set<std::string> used;
  for (const auto& t : d.tasks()) used.insert(t.worker_id());
  EXPECT_EQ(used, (std::set<std::string>{"w1", "w2"}));
  ASSERT_EQ(d.peers_size(), 2);
  for (const auto& p : d.peers()) EXPECT_EQ(p.address(), p.worker_id() + ".local:7000");
  EXPECT_EQ(State(), v1::JOB_STATE_RUNNING);
  EXPECT_EQ(jm_->Get(job_)->attempt(), 1);
  for (const auto& w : jm_->Workers()) EXPECT_EQ(w.slots_used(), 1) << w.id();

  // ---- No checkpoint before every worker is READY.
  clock_.Advance(10 * kIntervalMs);
  jm_->Tick();
  EXPECT_TRUE(OfKind(Take("w1"), Msg::kTrigger).empty());
  EXPECT_TRUE(OfKind(Take("w2"), Msg::kTrigger).empty());
  Event("w1", 1, v1::TaskEvent::KIND_READY);
  clock_.Advance(10 * kIntervalMs);
  jm_->Tick();
  EXPECT_TRUE(OfKind(Take("w1"), Msg::kTrigger).empty());
  EXPECT_TRUE(OfKind(Take("w2"), Msg::kTrigger).empty());
  Event("w2", 1, v1::TaskEvent::KIND_READY);

  // ---- Checkpoint 1: triggered on both, completed by both acks.
  const std::string chk1 = CompleteCheckpoint(1, 1);
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(chk1, (fs::absolute(data_dir_) / "checkpoints" / job_ / "chk-1").string());
  {
    auto storage = checkpoint::CheckpointStorage::Open(CheckpointsUri(), job_, 3);
    ASSERT_TRUE(storage.ok()) << storage.status().ToString();
    auto all = (*storage)->List();
    ASSERT_TRUE(all.ok());
    ASSERT_EQ(all->size(), 1u);
    EXPECT_EQ((*all)[0].id, 1);
    EXPECT_FALSE((*all)[0].savepoint);
    EXPECT_EQ((*all)[0].path, chk1);
    auto bytes = checkpoint::CheckpointStorage::ReadMetadata(chk1);
    ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
    auto meta = checkpoint::CheckpointMetadata::Decode(*bytes);
    ASSERT_TRUE(meta.ok());
    EXPECT_EQ(meta->id, 1);
    EXPECT_EQ(meta->job, job_);
    EXPECT_EQ(meta->max_parallelism, kMaxParallelism);
    EXPECT_EQ(meta->tasks.size(), 4u);  // both workers' shares
    EXPECT_EQ(meta->SourcePositions("events"), (std::vector<std::string>{"pos-1-0", "pos-1-1"}));
    ASSERT_NE(meta->Find("per_user", 1), nullptr);
    EXPECT_EQ(meta->Find("per_user", 1)->sink_state, "sink-1");
    auto listed = jm_->Checkpoints(job_);
    ASSERT_TRUE(listed.ok());
    ASSERT_EQ(listed->size(), 1u);
    EXPECT_EQ((*listed)[0].path(), chk1);
  }
  // The next one waits for the interval, then gets the next id; an ack of a
  // stale attempt or id changes nothing.
  jm_->Tick();
  EXPECT_TRUE(OfKind(Take("w1"), Msg::kTrigger).empty());
  clock_.Advance(kIntervalMs);
  jm_->Tick();
  auto t2 = OfKind(Take("w1"), Msg::kTrigger);
  ASSERT_EQ(t2.size(), 1u);
  EXPECT_EQ(t2[0].trigger().checkpoint_id(), 2);
  Take("w2");
  Ack("w1", 1, 1, true, Share(1, {0}));
  Ack("w2", 0, 2, true, Share(2, {1}));
  EXPECT_TRUE(OfKind(Take("w1"), Msg::kCheckpointDone).empty());
  // While checkpoint 2 is pending, no other is triggered.
  clock_.Advance(3 * kIntervalMs);
  jm_->Tick();
  EXPECT_TRUE(OfKind(Take("w1"), Msg::kTrigger).empty());

  // ---- A task fails: the attempt is cancelled on both workers.
  Event("w1", 1, v1::TaskEvent::KIND_FAILED, "boom in per_user");
  for (const char* w : {"w1", "w2"}) {
    auto c = OfKind(Take(w), Msg::kCancel);
    ASSERT_EQ(c.size(), 1u) << w;
    EXPECT_EQ(c[0].cancel().attempt(), 1);
    EXPECT_EQ(c[0].cancel().job_id(), job_);
    EXPECT_EQ(c[0].cancel().drain_commits_ms(), 0);
  }
  EXPECT_EQ(State(), v1::JOB_STATE_RESTARTING);
  EXPECT_NE(jm_->Get(job_)->failure().find("boom in per_user"), std::string::npos);
  // Checkpoint 2, pending at the failure, never completes.
  Ack("w1", 1, 2, true, Share(2, {0}));
  Ack("w2", 1, 2, true, Share(2, {1}));
  EXPECT_TRUE(OfKind(Take("w1"), Msg::kCheckpointDone).empty());
  EXPECT_EQ(jm_->Get(job_)->last_checkpoint_id(), 1);

  // No new attempt until both have exited and the delay has passed.
  Event("w1", 1, v1::TaskEvent::KIND_EXITED);
  clock_.Advance(2 * kRestartDelayMs);
  jm_->Tick();
  EXPECT_TRUE(OfKind(Take("w1"), Msg::kDeploy).empty());
  Event("w2", 1, v1::TaskEvent::KIND_EXITED);
  jm_->Tick();  // the stop completes: the delay starts now
  EXPECT_EQ(State(), v1::JOB_STATE_RESTARTING);
  EXPECT_TRUE(OfKind(Take("w1"), Msg::kDeploy).empty());
  clock_.Advance(kRestartDelayMs - 1);
  Heartbeat("w1");
  Heartbeat("w2");
  jm_->Tick();
  EXPECT_TRUE(OfKind(Take("w1"), Msg::kDeploy).empty());
  EXPECT_TRUE(OfKind(Take("w2"), Msg::kDeploy).empty());
  clock_.Advance(1);
  jm_->Tick();
  auto r1 = DeploysOf(Take("w1"), job_);
  auto r2 = DeploysOf(Take("w2"), job_);
  ASSERT_EQ(r1.size(), 1u);
  ASSERT_EQ(r2.size(), 1u);
  EXPECT_EQ(r1[0].attempt(), 2);
  EXPECT_EQ(r1[0].restore_path(), chk1);
  EXPECT_EQ(r2[0].restore_path(), chk1);
  ExpectConsistentPlacement(r1[0], {"w1", "w2"});
  EXPECT_EQ(State(), v1::JOB_STATE_RUNNING);
  EXPECT_EQ(jm_->Get(job_)->restarts(), 1);
  EXPECT_EQ(jm_->Get(job_)->attempt(), 2);
  // Events of the old attempt are ignored now.
  Event("w1", 1, v1::TaskEvent::KIND_FAILED, "late news");
  EXPECT_EQ(State(), v1::JOB_STATE_RUNNING);

  // ---- w1 stops heartbeating: lost after the timeout, the job restarts.
  for (int64_t t = 0; t <= kHeartbeatTimeoutMs; t += 1000) {
    clock_.Advance(1000);
    Heartbeat("w2");
    jm_->Tick();
  }
  EXPECT_TRUE(links_["w1"]->closed());
  EXPECT_FALSE(links_["w2"]->closed());
  for (const auto& w : jm_->Workers()) EXPECT_EQ(w.alive(), w.id() == "w2") << w.id();
  EXPECT_EQ(State(), v1::JOB_STATE_RESTARTING);
  auto c2 = OfKind(Take("w2"), Msg::kCancel);
  ASSERT_EQ(c2.size(), 1u);
  EXPECT_EQ(c2[0].cancel().attempt(), 2);
  EXPECT_NE(jm_->Get(job_)->failure().find("w1"), std::string::npos);
  // A lost worker's messages are ignored.
  Event("w1", 2, v1::TaskEvent::KIND_EXITED);
  Event("w2", 2, v1::TaskEvent::KIND_EXITED);
  jm_->Tick();
  clock_.Advance(kRestartDelayMs);
  Heartbeat("w2");
  jm_->Tick();
  auto r3 = DeploysOf(Take("w2"), job_);
  ASSERT_EQ(r3.size(), 1u);
  EXPECT_EQ(r3[0].attempt(), 3);
  EXPECT_EQ(r3[0].restore_path(), chk1);
  ExpectConsistentPlacement(r3[0], {"w2"});
  EXPECT_TRUE(Take("w1").empty());
  EXPECT_EQ(jm_->Get(job_)->restarts(), 2);
  EXPECT_EQ(State(), v1::JOB_STATE_RUNNING);

  // ---- A third failure is one more than restart.attempts: FAILED.
  Event("w2", 3, v1::TaskEvent::KIND_FAILED, "boom again");
  EXPECT_EQ(OfKind(Take("w2"), Msg::kCancel).size(), 1u);
  Event("w2", 3, v1::TaskEvent::KIND_EXITED);
  jm_->Tick();
  EXPECT_EQ(State(), v1::JOB_STATE_FAILED);
  EXPECT_NE(jm_->Get(job_)->failure().find("boom again"), std::string::npos);
  clock_.Advance(10 * kRestartDelayMs);
  Heartbeat("w2");
  jm_->Tick();
  EXPECT_TRUE(OfKind(Take("w2"), Msg::kDeploy).empty());
  EXPECT_EQ(jm_->Get(job_)->restarts(), 2);
  for (const auto& w : jm_->Workers())
    if (w.alive()) {
      EXPECT_EQ(w.slots_used(), 0) << w.id();
    }

  // ---- Cancel: unknown job, then a FAILED one.
  auto unknown = jm_->Cancel("no-such-job", false, 0);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), StatusCode::kNotFound);
  auto failed = jm_->Cancel(job_, false, 0);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(jm_->List(false).empty());
  EXPECT_EQ(jm_->List(true).size(), 1u);
}

TEST_F(JobManagerTest, AFailedCheckpointRestartsTheJob) {
  SubmitAndDeploy();
  ASSERT_FALSE(HasFailure());
  Event("w1", 1, v1::TaskEvent::KIND_READY);
  Event("w2", 1, v1::TaskEvent::KIND_READY);
  clock_.Advance(kIntervalMs);
  jm_->Tick();
  ASSERT_EQ(OfKind(Take("w1"), Msg::kTrigger).size(), 1u);
  Take("w2");
  Ack("w1", 1, 1, false, "");
  for (const char* w : {"w1", "w2"}) {
    auto msgs = Take(w);
    auto done = OfKind(msgs, Msg::kCheckpointDone);
    ASSERT_EQ(done.size(), 1u) << w;
    EXPECT_FALSE(done[0].checkpoint_done().ok());
    EXPECT_EQ(OfKind(msgs, Msg::kCancel).size(), 1u) << w;
  }
  EXPECT_EQ(State(), v1::JOB_STATE_RESTARTING);
  EXPECT_NE(jm_->Get(job_)->failure().find("disk full"), std::string::npos);
  auto listed = jm_->Checkpoints(job_);
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->empty());
}

TEST_F(JobManagerTest, AMalformedShareFailsTheCheckpoint) {
  SubmitAndDeploy();
  ASSERT_FALSE(HasFailure());
  Event("w1", 1, v1::TaskEvent::KIND_READY);
  Event("w2", 1, v1::TaskEvent::KIND_READY);
  clock_.Advance(kIntervalMs);
  jm_->Tick();
  Take("w1");
  Take("w2");
  Ack("w1", 1, 1, true, Share(1, {0}));
  Ack("w2", 1, 1, true, "not a share");
  auto done = OfKind(Take("w2"), Msg::kCheckpointDone);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_FALSE(done[0].checkpoint_done().ok());
  EXPECT_EQ(State(), v1::JOB_STATE_RESTARTING);
  EXPECT_EQ(jm_->Get(job_)->last_checkpoint_id(), 0);
}

TEST_F(JobManagerTest, ACheckpointThatTimesOutRestartsTheJob) {
  // checkpoint.timeout is 10m by default.
  SubmitAndDeploy();
  ASSERT_FALSE(HasFailure());
  Event("w1", 1, v1::TaskEvent::KIND_READY);
  Event("w2", 1, v1::TaskEvent::KIND_READY);
  clock_.Advance(kIntervalMs);
  jm_->Tick();
  ASSERT_EQ(OfKind(Take("w1"), Msg::kTrigger).size(), 1u);
  for (int64_t t = 0; t <= 10 * 60 * 1000; t += 1000) {
    clock_.Advance(1000);
    Heartbeat("w1");
    Heartbeat("w2");
    jm_->Tick();
  }
  EXPECT_EQ(State(), v1::JOB_STATE_RESTARTING);
  EXPECT_NE(jm_->Get(job_)->failure().find("timed out"), std::string::npos);
}

TEST_F(JobManagerTest, BoundedInputFinishesAfterAFinalCheckpoint) {
  SubmitAndDeploy();
  ASSERT_FALSE(HasFailure());
  for (const char* w : {"w1", "w2"}) {
    Event(w, 1, v1::TaskEvent::KIND_READY);
    Event(w, 1, v1::TaskEvent::KIND_FINISHED);
  }
  jm_->Tick();
  auto t = OfKind(Take("w1"), Msg::kTrigger);
  ASSERT_EQ(t.size(), 1u);
  Take("w2");
  const int64_t id = t[0].trigger().checkpoint_id();
  Ack("w1", 1, id, true, Share(id, {0}));
  Ack("w2", 1, id, true, Share(id, {1}));
  for (const char* w : {"w1", "w2"}) {
    auto msgs = Take(w);
    EXPECT_EQ(OfKind(msgs, Msg::kCheckpointDone).size(), 1u) << w;
    EXPECT_EQ(OfKind(msgs, Msg::kRelease).size(), 1u) << w;
  }
  EXPECT_EQ(State(), v1::JOB_STATE_RUNNING);
  // The exit events carry each worker's final counters.
  v1::TaskProgress p;
  p.set_job_id(job_);
  p.set_attempt(1);
  p.set_records_in(5);
  p.set_records_out(2);
  Event("w1", 1, v1::TaskEvent::KIND_EXITED, "", false, &p);
  p.set_records_in(7);
  Event("w2", 1, v1::TaskEvent::KIND_EXITED, "", false, &p);
  jm_->Tick();
  EXPECT_EQ(State(), v1::JOB_STATE_FINISHED);
  EXPECT_TRUE(OfKind(Take("w1"), Msg::kCancel).empty());
  auto j = jm_->Get(job_);
  EXPECT_EQ(j->records_in(), 12);
  EXPECT_EQ(j->records_out(), 4);
  EXPECT_EQ(j->last_checkpoint_id(), id);
  EXPECT_EQ(j->restarts(), 0);
}

TEST_F(JobManagerTest, APermanentFailureFailsTheJobWithoutRestarts) {
  SubmitAndDeploy();
  ASSERT_FALSE(HasFailure());
  Event("w2", 1, v1::TaskEvent::KIND_FAILED, "checkpoint damaged", /*permanent=*/true);
  for (const char* w : {"w1", "w2"}) EXPECT_EQ(OfKind(Take(w), Msg::kCancel).size(), 1u) << w;
  Event("w1", 1, v1::TaskEvent::KIND_EXITED);
  Event("w2", 1, v1::TaskEvent::KIND_EXITED);
  jm_->Tick();
  EXPECT_EQ(State(), v1::JOB_STATE_FAILED);
  EXPECT_NE(jm_->Get(job_)->failure().find("checkpoint damaged"), std::string::npos);
  clock_.Advance(10 * kRestartDelayMs);
  Heartbeat("w1");
  Heartbeat("w2");
  jm_->Tick();
  EXPECT_TRUE(DeploysOf(Take("w1"), job_).empty());
  EXPECT_TRUE(DeploysOf(Take("w2"), job_).empty());
  EXPECT_EQ(jm_->Get(job_)->restarts(), 0);
}

TEST_F(JobManagerTest, AWorkerWhoseSessionEndsIsLost) {
  SubmitAndDeploy();
  ASSERT_FALSE(HasFailure());
  jm_->WorkerGone(tokens_["w2"], "session ended");
  EXPECT_EQ(State(), v1::JOB_STATE_RESTARTING);
  EXPECT_EQ(OfKind(Take("w1"), Msg::kCancel).size(), 1u);
  EXPECT_TRUE(links_["w2"]->closed());
}

TEST_F(JobManagerTest, SubmitOfAnInvalidJobFillsDiagnostics) {
  std::vector<spec::Diagnostic> diags;
  auto r = Submit("name: bad\nparalelism: 2\nsources: {}\n", &diags);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  ASSERT_FALSE(diags.empty());
  bool at_line2 = false;
  for (const auto& d : diags) at_line2 |= d.pos.line == 2 && d.pos.column == 1;
  EXPECT_TRUE(at_line2) << spec::FormatDiagnostics("job.yaml", diags);
  EXPECT_NE(r.status().message().find("job.yaml:2:1"), std::string::npos) << r.status().message();
  EXPECT_TRUE(jm_->List(true).empty());
}

TEST_F(JobManagerTest, ASecondSubmitOfAnActiveJobIsAlreadyExists) {
  ASSERT_TRUE(Submit(yaml_).ok());
  auto again = Submit(yaml_);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists);
  // Once it is over (cancelled), the name is free again.
  auto c = jm_->Cancel(job_, false, 0);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(State(), v1::JOB_STATE_CANCELLED);
  auto third = Submit(yaml_);
  ASSERT_TRUE(third.ok()) << third.status().ToString();
  EXPECT_EQ(third->state(), v1::JOB_STATE_PENDING);
}

TEST_F(JobManagerTest, ACoordinatorRestartResumesActiveJobsFromTheirCheckpoint) {
  // A second job, cancelled before it ran: terminal, it stays so.
  const std::string other = "coord-other";
  ASSERT_TRUE(Submit(JobYaml(tmp_.path(), other)).ok());
  ASSERT_TRUE(jm_->Cancel(other, false, 0).ok());
  ASSERT_EQ(jm_->Get(other)->state(), v1::JOB_STATE_CANCELLED);

  SubmitAndDeploy();
  ASSERT_FALSE(HasFailure());
  Event("w1", 1, v1::TaskEvent::KIND_READY);
  Event("w2", 1, v1::TaskEvent::KIND_READY);
  const std::string chk1 = CompleteCheckpoint(1, 1);
  ASSERT_FALSE(HasFailure());
  ASSERT_FALSE(chk1.empty());

  Restart();
  auto active = jm_->List(false);
  ASSERT_EQ(active.size(), 1u);
  EXPECT_EQ(active[0].id(), job_);
  EXPECT_EQ(active[0].state(), v1::JOB_STATE_RESTARTING);
  EXPECT_EQ(active[0].attempt(), 1);
  EXPECT_EQ(active[0].file_name(), "job.yaml");
  auto all = jm_->List(true);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(jm_->Get(other)->state(), v1::JOB_STATE_CANCELLED);
  // Requests on the terminal job are refused, not crashed on (its spec is
  // not loaded after a restart).
  EXPECT_EQ(jm_->Cancel(other, false, 0).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(jm_->Savepoint(other, 0).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(jm_->Rescale(other, 1, 0).status().code(), StatusCode::kFailedPrecondition);
  // Still active: a second submit is refused.
  EXPECT_EQ(Submit(yaml_).status().code(), StatusCode::kAlreadyExists);

  // The workers register again; the job resumes from its checkpoint.
  Register("w1", 2);
  Register("w2", 2);
  jm_->Tick();
  auto d1 = DeploysOf(Take("w1"), job_);
  auto d2 = DeploysOf(Take("w2"), job_);
  ASSERT_EQ(d1.size(), 1u);
  ASSERT_EQ(d2.size(), 1u);
  EXPECT_EQ(d1[0].attempt(), 2);
  EXPECT_EQ(d1[0].restore_path(), chk1);
  ExpectConsistentPlacement(d1[0], {"w1", "w2"});
  EXPECT_EQ(State(), v1::JOB_STATE_RUNNING);
  // Checkpoint ids go on after the restored one.
  Event("w1", 2, v1::TaskEvent::KIND_READY);
  Event("w2", 2, v1::TaskEvent::KIND_READY);
  EXPECT_FALSE(CompleteCheckpoint(2, 2).empty());
}

TEST_F(JobManagerTest, NotEnoughSlotsKeepsTheJobPending) {
  ASSERT_TRUE(Submit(yaml_).ok());
  Register("w1", 1);
  jm_->Tick();
  EXPECT_EQ(State(), v1::JOB_STATE_PENDING);
  EXPECT_TRUE(OfKind(Take("w1"), Msg::kDeploy).empty());
  Register("w2", 1);
  jm_->Tick();
  EXPECT_EQ(State(), v1::JOB_STATE_RUNNING);
  auto d = OfKind(Take("w1"), Msg::kDeploy);
  ASSERT_EQ(d.size(), 1u);
  ExpectConsistentPlacement(d[0].deploy(), {"w1", "w2"});
  EXPECT_EQ(OfKind(Take("w2"), Msg::kDeploy).size(), 1u);
}

}  // namespace
}  // namespace weir::coordinator
