#include "coordinator/services.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <thread>

#include "common/rpc/graph.h"
#include "common/rpc/job_files.h"
#include "common/rpc/status.h"
#include "coordinator/planner.h"

namespace weir::coordinator {

namespace {

// Waits for savepoints at most until the call's deadline, and 10 minutes
// when it has none.
int64_t WaitBudgetMs(const grpc::ServerContext* ctx) {
  const auto deadline = ctx->deadline();
  const auto now = std::chrono::system_clock::now();
  if (deadline <= now + std::chrono::hours(24 * 365)) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
    return std::max<int64_t>(0, ms - 200);
  }
  return 600'000;
}

grpc::Status NotFoundJob(const Status& st) {
  return rpc::ToGrpc(st, "JOB_NOT_FOUND", "`weir list` shows the jobs");
}

grpc::Status Mapped(const Status& st) {
  switch (st.code()) {
    case StatusCode::kNotFound:
      return NotFoundJob(st);
    case StatusCode::kFailedPrecondition:
      return rpc::ToGrpc(st, "WRONG_STATE", "`weir describe JOB` shows its state");
    case StatusCode::kAlreadyExists:
      return rpc::ToGrpc(st, "JOB_EXISTS", "cancel the running job or rename the new one");
    default:
      return rpc::ToGrpc(st);
  }
}

}  // namespace

grpc::Status AdminService::SubmitJob(grpc::ServerContext* ctx, const v1::SubmitJobRequest* req,
                                     v1::SubmitJobResponse* resp) {
  auto who = Allow(ctx, rpc::Role::kOperator, "SubmitJob", req->file_name());
  if (!who.ok()) return rpc::ToGrpc(who.status());
  std::vector<spec::Diagnostic> diags;
  auto job = m_->Submit(*req, &diags);
  if (!diags.empty())
    return rpc::InvalidJob(req->file_name().empty() ? "job.yaml" : req->file_name(), diags);
  if (!job.ok()) return Mapped(job.status());
  *resp->mutable_job() = std::move(job).value();
  return grpc::Status::OK;
}

grpc::Status AdminService::ValidateJob(grpc::ServerContext* ctx, const v1::ValidateJobRequest* req,
                                       v1::ValidateJobResponse* resp) {
  auto who = Allow(ctx, rpc::Role::kViewer, "ValidateJob", "");
  if (!who.ok()) return rpc::ToGrpc(who.status());
  const std::string file = req->file_name().empty() ? "job.yaml" : req->file_name();
  auto files = rpc::FromProto(req->files());
  if (!files.ok()) return rpc::ToGrpc(files.status());
  auto loaded = spec::ParseResolvedJob(req->job_yaml(), file, *files);
  if (!loaded.job) {
    resp->set_valid(false);
    for (const auto& d : loaded.diagnostics) {
      auto* e = resp->add_errors();
      e->set_file(file);
      e->set_line(d.pos.line);
      e->set_column(d.pos.column);
      e->set_message(d.message);
    }
    return grpc::Status::OK;
  }
  PlanOptions po;
  po.parallelism_override = req->parallelism();
  auto plan = Plan(*loaded.job, po);
  if (!plan.ok()) {
    resp->set_valid(false);
    auto* e = resp->add_errors();
    e->set_file(file);
    e->set_message(plan.status().message());
    return grpc::Status::OK;
  }
  resp->set_valid(true);
  *resp->mutable_graph() = rpc::ToProto(*plan);
  resp->set_explain(plan->Explain());
  return grpc::Status::OK;
}

grpc::Status AdminService::ListJobs(grpc::ServerContext* ctx, const v1::ListJobsRequest* req,
                                    v1::ListJobsResponse* resp) {
  auto who = Allow(ctx, rpc::Role::kViewer, "ListJobs", "");
  if (!who.ok()) return rpc::ToGrpc(who.status());
  for (auto& j : m_->List(req->include_finished())) {
    j.clear_graph();  // describe shows it
    *resp->add_jobs() = std::move(j);
  }
  return grpc::Status::OK;
}

grpc::Status AdminService::GetJob(grpc::ServerContext* ctx, const v1::GetJobRequest* req,
                                  v1::Job* resp) {
  auto who = Allow(ctx, rpc::Role::kViewer, "GetJob", "");
  if (!who.ok()) return rpc::ToGrpc(who.status());
  auto job = m_->Get(req->id());
  if (!job.ok()) return Mapped(job.status());
  *resp = std::move(job).value();
  return grpc::Status::OK;
}

grpc::Status AdminService::CancelJob(grpc::ServerContext* ctx, const v1::CancelJobRequest* req,
                                     v1::CancelJobResponse* resp) {
  auto who = Allow(ctx, rpc::Role::kOperator, "CancelJob", req->id());
  if (!who.ok()) return rpc::ToGrpc(who.status());
  auto r = m_->Cancel(req->id(), req->savepoint(), WaitBudgetMs(ctx));
  if (!r.ok()) return Mapped(r.status());
  *resp = std::move(r).value();
  return grpc::Status::OK;
}

grpc::Status AdminService::TriggerSavepoint(grpc::ServerContext* ctx,
                                            const v1::TriggerSavepointRequest* req,
                                            v1::TriggerSavepointResponse* resp) {
  auto who = Allow(ctx, rpc::Role::kOperator, "TriggerSavepoint", req->id());
  if (!who.ok()) return rpc::ToGrpc(who.status());
  auto r = m_->Savepoint(req->id(), WaitBudgetMs(ctx));
  if (!r.ok()) return Mapped(r.status());
  *resp = std::move(r).value();
  return grpc::Status::OK;
}

grpc::Status AdminService::ListCheckpoints(grpc::ServerContext* ctx,
                                           const v1::ListCheckpointsRequest* req,
                                           v1::ListCheckpointsResponse* resp) {
  auto who = Allow(ctx, rpc::Role::kViewer, "ListCheckpoints", "");
  if (!who.ok()) return rpc::ToGrpc(who.status());
  auto r = m_->Checkpoints(req->id());
  if (!r.ok()) return Mapped(r.status());
  for (auto& c : *r) *resp->add_checkpoints() = std::move(c);
  return grpc::Status::OK;
}

grpc::Status AdminService::RescaleJob(grpc::ServerContext* ctx, const v1::RescaleJobRequest* req,
                                      v1::RescaleJobResponse* resp) {
  auto who = Allow(ctx, rpc::Role::kOperator, "RescaleJob", req->id());
  if (!who.ok()) return rpc::ToGrpc(who.status());
  auto r = m_->Rescale(req->id(), req->parallelism(), WaitBudgetMs(ctx));
  if (!r.ok()) return Mapped(r.status());
  *resp = std::move(r).value();
  return grpc::Status::OK;
}

grpc::Status AdminService::ListWorkers(grpc::ServerContext* ctx, const v1::ListWorkersRequest*,
                                       v1::ListWorkersResponse* resp) {
  auto who = Allow(ctx, rpc::Role::kViewer, "ListWorkers", "");
  if (!who.ok()) return rpc::ToGrpc(who.status());
  for (auto& w : m_->Workers()) *resp->add_workers() = std::move(w);
  return grpc::Status::OK;
}

grpc::Status AdminService::WatchJob(grpc::ServerContext* ctx, const v1::WatchJobRequest* req,
                                    grpc::ServerWriter<v1::JobEvent>* writer) {
  auto who = Allow(ctx, rpc::Role::kViewer, "WatchJob", "");
  if (!who.ok()) return rpc::ToGrpc(who.status());
  auto job = m_->Get(req->id());
  if (!job.ok()) return Mapped(job.status());
  size_t from = 0;
  // Start after the events so far: the first message is the job as it is.
  (void)m_->Events(req->id(), &from, 0);
  v1::JobEvent ev;
  ev.set_time_ms(SystemClock::Get()->NowMillis());
  *ev.mutable_job() = *job;
  if (!writer->Write(ev)) return grpc::Status::OK;
  auto terminal = [](v1::JobState s) {
    return s == v1::JOB_STATE_FINISHED || s == v1::JOB_STATE_CANCELLED || s == v1::JOB_STATE_FAILED;
  };
  int64_t last_progress = SystemClock::Get()->NowMillis();
  while (!ctx->IsCancelled()) {
    auto events = m_->Events(req->id(), &from, 250);
    for (auto& e : events) {
      if (!writer->Write(e)) return grpc::Status::OK;
      if (terminal(e.job().state())) return grpc::Status::OK;
    }
    const int64_t now = SystemClock::Get()->NowMillis();
    if (now - last_progress >= 1000) {
      last_progress = now;
      auto j = m_->Get(req->id());
      if (!j.ok()) return grpc::Status::OK;
      if (terminal(j->state())) return grpc::Status::OK;
      v1::JobEvent p;
      p.set_time_ms(now);
      *p.mutable_job() = std::move(j).value();
      if (!writer->Write(p)) return grpc::Status::OK;
    }
  }
  return grpc::Status::OK;
}

Result<rpc::Principal> AdminService::Allow(grpc::ServerContext* ctx, rpc::Role needed,
                                           const char* call, const std::string& job) {
  rpc::Principal who;
  if (auth_) {
    auto id = auth_->Identify(ctx);
    if (!id.ok()) {
      if (needed >= rpc::Role::kOperator)
        log::Warn(std::string("denied ") + call + ": " + id.status().message(),
                  {{"peer", ctx->peer()}, {"job", job}});
      return id.status();
    }
    who = std::move(id).value();
  } else {
    who.name = "anonymous";
    who.role = rpc::Role::kAdmin;
  }
  const log::Fields fields = {{"user", who.name},
                              {"role", std::string(rpc::RoleName(who.role))},
                              {"peer", ctx->peer()},
                              {"job", job}};
  Status st = rpc::CheckRole(who, needed);
  if (!st.ok()) {
    log::Warn(std::string("denied ") + call + ": " + st.message(), fields);
    return st;
  }
  if (needed >= rpc::Role::kOperator) log::Info(std::string("admin call ") + call, fields);
  return who;
}

// ---------------------------------------------------------------- control

namespace {

// Queues messages for one worker's session and writes them from its own
// thread, so the job manager never blocks on a slow worker.
class SessionLink final : public WorkerLink {
 public:
  SessionLink(grpc::ServerContext* ctx,
              grpc::ServerReaderWriter<v1::CoordinatorMessage, v1::WorkerMessage>* stream)
      : ctx_(ctx), stream_(stream), writer_([this] { WriteLoop(); }) {}
  ~SessionLink() override { Stop(); }

  void Send(const v1::CoordinatorMessage& m) override {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    queue_.push_back(m);
    cv_.notify_all();
  }
  void Close() override { ctx_->TryCancel(); }
  void Stop() {
    {
      std::lock_guard lock(mu_);
      stopped_ = true;
      cv_.notify_all();
    }
    if (writer_.joinable()) writer_.join();
  }

 private:
  void WriteLoop() {
    std::unique_lock lock(mu_);
    while (true) {
      cv_.wait(lock, [&] { return stopped_ || !queue_.empty(); });
      if (stopped_) return;
      v1::CoordinatorMessage m = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      const bool ok = stream_->Write(m);
      lock.lock();
      if (!ok) {
        ctx_->TryCancel();
        return;
      }
    }
  }

  grpc::ServerContext* ctx_;
  grpc::ServerReaderWriter<v1::CoordinatorMessage, v1::WorkerMessage>* stream_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<v1::CoordinatorMessage> queue_;
  bool stopped_ = false;
  std::thread writer_;
};

}  // namespace

grpc::Status ControlService::Session(
    grpc::ServerContext* ctx,
    grpc::ServerReaderWriter<v1::CoordinatorMessage, v1::WorkerMessage>* stream) {
  v1::WorkerMessage m;
  if (!stream->Read(&m)) return grpc::Status::OK;
  if (!m.has_register_() || m.register_().worker_id().empty() || m.register_().slots() < 1)
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "a session starts with RegisterWorker (an id and at least one slot)");
  auto link = std::make_shared<SessionLink>(ctx, stream);
  const int64_t token = m_->WorkerRegistered(m.register_(), link);
  while (stream->Read(&m)) m_->WorkerMessage(token, m);
  m_->WorkerGone(token, "its session ended");
  link->Stop();
  return grpc::Status::OK;
}

}  // namespace weir::coordinator
