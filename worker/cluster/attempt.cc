#include "worker/cluster/attempt.h"

#include <chrono>
#include <filesystem>

#include "common/checkpoint/storage.h"
#include "common/log.h"
#include "common/rpc/graph.h"
#include "common/rpc/job_files.h"
#include "worker/runtime/crash_point.h"
#include "worker/runtime/state_restore.h"

namespace weir::cluster {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

Attempt::Attempt(v1::DeployJob deploy, AttemptEnv env)
    : deploy_(std::move(deploy)), env_(std::move(env)) {
  if (!env_.clock) env_.clock = SystemClock::Get();
}

Attempt::~Attempt() {
  Cancel();
  if (drainer_.joinable()) drainer_.join();
  if (monitor_.joinable()) monitor_.join();
  if (registered_.load()) env_.exchange->Unregister(job_id(), attempt());
  {
    std::lock_guard lock(mu_);
    for (auto& [k, c] : clients_) c->Cancel();
  }
  exec_.reset();  // joins the task threads
  clients_.clear();
  targets_.clear();
  checkpointer_.reset();
  store_.reset();
  std::error_code ec;
  if (!dir_.empty()) fs::remove_all(dir_, ec);
}

Status Attempt::Start() {
  WEIR_ASSIGN_OR_RETURN(spec::JobFiles files, rpc::FromProto(deploy_.files()));
  auto loaded = spec::ParseResolvedJob(deploy_.job_yaml(), deploy_.file_name(), files);
  if (!loaded.job)
    return Status::InvalidArgument(FormatDiagnostics(deploy_.file_name(), loaded.diagnostics));
  job_ = std::move(loaded.job);
  WEIR_RETURN_IF_ERROR(spec::ReadJobSecrets(job_.get()));
  WEIR_ASSIGN_OR_RETURN(plan_, rpc::FromProto(deploy_.graph(), *job_));
  for (const auto& p : deploy_.peers()) address_of_[p.worker_id()] = p.address();
  std::set<int> slots;
  for (const auto& t : deploy_.tasks()) {
    worker_of_[{t.vertex(), t.subtask()}] = t.worker_id();
    if (t.worker_id() == env_.worker_id) {
      local_.insert({t.vertex(), t.subtask()});
      slots.insert(t.subtask());
    }
  }
  slots_ = static_cast<int>(slots.size());
  for (const auto& e : plan_.edges) {
    const plan::Vertex& from = plan_.vertices[static_cast<size_t>(e.from_vertex)];
    edge_schemas_.push_back(std::make_shared<Schema>(
        *from.chain[static_cast<size_t>(e.from_step)].output_schema(e.from_port)));
  }
  auto is_local = [this](int v, int s) { return local_.count({v, s}) > 0; };

  runtime::LocalOptions lo;
  lo.clock = env_.clock;
  lo.is_local = is_local;
  lo.remote = [this](const plan::Edge& e, int p, int c) { return Remote(e, p, c); };
  const spec::JobSpec& job = *job_;
  if (job.checkpoint.mode != spec::CheckpointMode::kNone) {
    dir_ = (fs::path(env_.data_dir) / job.name / ("attempt-" + std::to_string(attempt()))).string();
    if (!deploy_.restore_path().empty()) {
      WEIR_ASSIGN_OR_RETURN(restore_, checkpoint::ReadRestorePoint(deploy_.restore_path(), job));
    }
    const auto owned = runtime::OwnedKeyGroups(plan_, is_local);
    WEIR_ASSIGN_OR_RETURN(
        store_, runtime::OpenAttemptState(
                    (fs::path(dir_) / "db").string(), (fs::path(dir_) / "scratch").string(),
                    deploy_.restore_path(), restore_ ? &*restore_ : nullptr, owned));
    WEIR_ASSIGN_OR_RETURN(
        auto storage, checkpoint::CheckpointStorage::Open(deploy_.checkpoint_storage(), job.name,
                                                          job.checkpoint.retain));
    checkpointer_ = std::make_unique<runtime::Checkpointer>(
        job.name, job.max_parallelism, runtime::CountTasks(plan_, is_local), store_.get(),
        std::move(storage), (fs::path(dir_) / "scratch").string(), 1, env_.clock);
    checkpointer_->SetParticipant(env_.worker_id, owned, [this](runtime::LocalCheckpoint share) {
      v1::WorkerMessage m;
      auto* ack = m.mutable_checkpoint_ack();
      ack->set_job_id(job_id());
      ack->set_attempt(attempt());
      ack->set_checkpoint_id(share.id);
      ack->set_ok(share.status.ok());
      ack->set_error(share.status.message());
      runtime::CheckpointMetadata meta;
      meta.id = share.id;
      meta.savepoint = share.savepoint;
      meta.job = job_->name;
      meta.max_parallelism = job_->max_parallelism;
      meta.tasks = std::move(share.tasks);
      if (share.db_part) meta.db_parts.push_back(std::move(*share.db_part));
      ack->set_share(meta.Encode());
      if (!share.status.ok())
        log::Warn("checkpoint share failed: " + share.status.message(),
                  {{"job", job_id()},
                   {"attempt", std::to_string(attempt())},
                   {"checkpoint", std::to_string(share.id)}});
      env_.send(std::move(m));
    });
    lo.checkpointer = checkpointer_.get();
    lo.store = store_.get();
    lo.restore = restore_ ? &*restore_ : nullptr;
  }
  exec_ = std::make_unique<runtime::LocalExecutor>(plan_, lo);
  Status st = exec_->Start();
  if (!st.ok()) {
    exec_->Cancel();
    (void)exec_->Wait();
    return st;
  }
  // Streams from other workers wait for this (ExchangeService).
  env_.exchange->Register(job_id(), attempt(), this);
  registered_.store(true);
  started_.store(true);
  log::Info(
      "attempt started: " + std::to_string(local_.size()) + " subtasks here" +
          (deploy_.restore_path().empty() ? "" : ", restored " + deploy_.restore_path()),
      {{"job", job_id()}, {"attempt", std::to_string(attempt())}, {"worker", env_.worker_id}});
  monitor_ = std::thread([this] { Monitor(); });
  return Status::OK();
}

runtime::ElementSink* Attempt::Remote(const plan::Edge& e, int producer, int consumer) {
  auto w = worker_of_.find({e.to_vertex, consumer});
  if (w == worker_of_.end()) return nullptr;
  auto a = address_of_.find(w->second);
  if (a == address_of_.end()) return nullptr;
  const std::string key =
      std::to_string(e.from_vertex) + "/" + std::to_string(producer) + "/" + w->second;
  std::lock_guard lock(mu_);
  auto& client = clients_[key];
  if (!client) {
    v1::StreamHeader h;
    h.set_job_id(job_id());
    h.set_attempt(attempt());
    h.set_from_vertex(e.from_vertex);
    h.set_from_subtask(producer);
    client = std::make_unique<ExchangeClient>(env_.channel_to(a->second), h,
                                              w->second + " (" + a->second + ")",
                                              [this](const std::string& why) { Fail(why); });
  }
  targets_.push_back(std::make_unique<RemoteTarget>(client.get(), e.id, e.to_vertex, consumer));
  return targets_.back().get();
}

Result<ExchangeRoute> Attempt::Route(int edge, int from_vertex, int from_subtask, int to_vertex,
                                     int to_subtask) {
  if (edge < 0 || static_cast<size_t>(edge) >= plan_.edges.size())
    return Status::InvalidArgument("unknown edge " + std::to_string(edge));
  const plan::Edge& e = plan_.edges[static_cast<size_t>(edge)];
  if (e.from_vertex != from_vertex || e.to_vertex != to_vertex)
    return Status::InvalidArgument("edge " + std::to_string(edge) + " does not lead from vertex " +
                                   std::to_string(from_vertex) + " to vertex " +
                                   std::to_string(to_vertex));
  ExchangeRoute r;
  r.queue = exec_->Input(to_vertex, to_subtask);  // registered only after Start
  if (!r.queue)
    return Status::InvalidArgument("no subtask " + std::to_string(to_subtask) + " of vertex " +
                                   std::to_string(to_vertex) + " here");
  r.channel = runtime::ChannelOf(plan_, edge, from_subtask, to_subtask);
  if (r.channel < 0)
    return Status::InvalidArgument("subtask " + std::to_string(from_subtask) +
                                   " does not send to subtask " + std::to_string(to_subtask) +
                                   " on edge " + std::to_string(edge));
  r.schema = edge_schemas_[static_cast<size_t>(edge)];
  return r;
}

bool IsPermanent(const Status& st) {
  return st.code() == StatusCode::kInvalidArgument || st.code() == StatusCode::kNotFound ||
         st.code() == StatusCode::kDataLoss;
}

void Attempt::Report(v1::TaskEvent::Kind kind, const std::string& message, bool permanent) {
  v1::WorkerMessage m;
  auto* ev = m.mutable_task_event();
  ev->set_job_id(job_id());
  ev->set_attempt(attempt());
  ev->set_kind(kind);
  ev->set_message(message);
  ev->set_permanent(permanent);
  if (exec_) *ev->mutable_progress() = Progress();
  env_.send(std::move(m));
}

void Attempt::Monitor() {
  bool ready = false, finished = false;
  while (!exec_->GetProgress().finished) {
    if (!ready && (!checkpointer_ || checkpointer_->all_ready())) {
      ready = true;
      Report(v1::TaskEvent::KIND_READY, "");
    }
    if (ready && !finished && checkpointer_ && checkpointer_->all_finished()) {
      finished = true;
      Report(v1::TaskEvent::KIND_FINISHED, "");
    }
    std::this_thread::sleep_for(10ms);
  }
  Status st = exec_->Wait();
  // The exchange streams this attempt opened end with it. (clients_ does
  // not change after Start; Close may call Fail, which takes mu_.)
  for (auto& [k, c] : clients_) {
    if (st.ok())
      c->Close();
    else
      c->Cancel();
  }
  std::string failure;
  {
    std::lock_guard lock(mu_);
    failure = failure_;
  }
  bool permanent = false;
  log::Fields fields = {{"job", job_id()}, {"attempt", std::to_string(attempt())}};
  if (failure.empty() && !st.ok() && !cancelled_.load()) {
    failure = st.message();
    permanent = IsPermanent(st);
    const auto [vertex, subtask] = exec_->FailedTask();
    if (subtask >= 0) {
      fields.emplace_back("vertex", vertex);
      fields.emplace_back("subtask", std::to_string(subtask));
    }
  }
  if (!failure.empty()) log::Warn("attempt failed: " + failure, fields);
  if (!failure.empty()) Report(v1::TaskEvent::KIND_FAILED, failure, permanent);
  Report(v1::TaskEvent::KIND_EXITED, st.ok() ? "" : st.message());
  exited_.store(true);
}

void Attempt::Trigger(int64_t id, bool savepoint) {
  if (!checkpointer_) return;
  // Tests hold back a worker some of whose tasks have finished (its sources
  // ended) while the others' sources still send barriers.
  if (checkpointer_->any_finished()) runtime::DelayPoint("trigger-after-finish");
  checkpointer_->TriggerAt(id, savepoint);
}

void Attempt::CheckpointDone(int64_t id, bool ok) {
  if (checkpointer_) checkpointer_->Confirm(id, ok, ok ? "" : "aborted by the coordinator");
}

void Attempt::Release() {
  // Every input has been delivered and the final checkpoint is durable: a
  // peer that tears its streams down first is no failure now (sink commit
  // errors still come back through the executor).
  released_.store(true);
  if (exec_) exec_->Release();
}

void Attempt::Cancel() {
  cancelled_.store(true);
  if (exec_) exec_->Cancel();
  std::lock_guard lock(mu_);
  for (auto& [k, c] : clients_) c->Cancel();
}

void Attempt::CancelAfterCommits(int64_t wait_ms) {
  if (!checkpointer_ || drainer_.joinable()) return Cancel();
  drainer_ = std::thread([this, wait_ms] {
    const int64_t id = checkpointer_->completed_id();
    const int64_t until = env_.clock->NowMillis() + wait_ms;
    while (!cancelled_.load() && !exec_->Committed(id) && env_.clock->NowMillis() < until)
      std::this_thread::sleep_for(10ms);
    Cancel();
  });
}

void Attempt::Fail(const std::string& why) {
  if (released_.load()) return;
  {
    std::lock_guard lock(mu_);
    if (!failure_.empty() || cancelled_.load()) return;
    failure_ = why;
  }
  if (exec_) exec_->Cancel();
  std::lock_guard lock(mu_);
  for (auto& [k, c] : clients_) c->Cancel();
}

void Attempt::CollectMetrics(Metrics& m) const {
  if (!exec_ || !started_.load()) return;
  const Labels job = {{"job", job_id()}};
  exec_->CollectMetrics(m, job);
  if (store_)
    m.Gauge("weir_state_size_bytes",
            "Keyed state on this worker (RocksDB live files and memtables)", job,
            static_cast<double>(store_->ApproximateSizeBytes()));
}

v1::TaskProgress Attempt::Progress() const {
  v1::TaskProgress p;
  p.set_job_id(deploy_.job_id());
  p.set_attempt(deploy_.attempt());
  if (!exec_) return p;
  runtime::Progress pr = exec_->GetProgress();
  p.set_records_in(pr.records_in);
  p.set_records_out(pr.records_out);
  p.set_skipped(pr.skipped);
  p.set_watermark_ms(pr.watermark);
  p.set_has_sinks(exec_->has_sinks());
  if (checkpointer_) {
    const runtime::PendingStatus pending = checkpointer_->InFlight();
    p.set_checkpoint_pending(pending.id);
    p.set_checkpoint_uploading(pending.uploading);
    for (int t : pending.unacked) p.add_checkpoint_unacked(exec_->TaskName(t));
  }
  return p;
}

}  // namespace weir::cluster
