// The job manager's admin calls (weir.v1.Admin through services.cc).
#include <filesystem>

#include "common/checkpoint/metadata.h"
#include "common/rpc/job_files.h"
#include "coordinator/job_manager_internal.h"
#include "coordinator/planner.h"
#include "coordinator/storage_policy.h"

namespace weir::coordinator {

namespace fs = std::filesystem;

// ---------------------------------------------------------------- admin

std::vector<std::string> JobManager::StorageRoots() const {
  std::vector<std::string> roots{options_.checkpoint_storage};
  roots.insert(roots.end(), options_.allow_storage.begin(), options_.allow_storage.end());
  return roots;
}

Result<std::unique_ptr<checkpoint::CheckpointStorage>> JobManager::OpenStorage(
    const spec::JobSpec& job) const {
  const std::string& uri =
      job.checkpoint.storage.empty() ? options_.checkpoint_storage : job.checkpoint.storage;
  WEIR_RETURN_IF_ERROR(CheckUnderRoots("checkpoint.storage", uri, StorageRoots()));
  return checkpoint::CheckpointStorage::Open(uri, job.name, job.checkpoint.retain);
}

Result<v1::Job> JobManager::Submit(const v1::SubmitJobRequest& req,
                                   std::vector<spec::Diagnostic>* diags) {
  const std::string file = req.file_name().empty() ? "job.yaml" : req.file_name();
  WEIR_ASSIGN_OR_RETURN(spec::JobFiles files, rpc::FromProto(req.files()));
  auto loaded = spec::ParseResolvedJob(req.job_yaml(), file, files);
  if (!loaded.job) {
    *diags = loaded.diagnostics;
    return Status::InvalidArgument(FormatDiagnostics(file, loaded.diagnostics));
  }
  auto j = std::make_unique<Job>();
  j->spec = std::move(loaded.job);
  const std::string id = j->spec->name;
  j->rec.set_id(id);
  j->rec.set_job_yaml(req.job_yaml());
  j->rec.set_file_name(file);
  *j->rec.mutable_files() = req.files();
  if (req.parallelism() < 0) return Status::InvalidArgument("parallelism must be positive");
  WEIR_RETURN_IF_ERROR(PlanJob(*j, req.parallelism()));
  if (j->spec->checkpoint.mode != spec::CheckpointMode::kNone) {
    WEIR_ASSIGN_OR_RETURN(j->storage, OpenStorage(*j->spec));
    int64_t first = 1;
    WEIR_ASSIGN_OR_RETURN(auto all, j->storage->List());
    for (const auto& c : all) first = std::max(first, c.id + 1);
    if (!req.from_savepoint().empty()) {
      WEIR_RETURN_IF_ERROR(CheckUnderRoots("the savepoint", req.from_savepoint(), StorageRoots()));
      WEIR_ASSIGN_OR_RETURN(auto meta,
                            checkpoint::ReadRestorePoint(req.from_savepoint(), *j->spec));
      first = std::max(first, meta.id + 1);
      j->rec.set_from_savepoint(req.from_savepoint());
    }
    j->rec.set_first_checkpoint_id(first);
  } else if (!req.from_savepoint().empty()) {
    return Status::InvalidArgument(
        "--from-savepoint: the job has checkpoint.mode none, so it cannot restore one");
  }
  std::lock_guard lock(mu_);
  if (Job* old = Find(id)) {
    if (!Terminal(old->rec.state()))
      return Status::AlreadyExists("job " + id + " is " + StateName(old->rec.state()) +
                                   "; cancel it first or give the new one another name");
    // Attempt numbers name a job's tasks on the workers, where the last
    // submission's may still be exiting: never reuse one.
    j->rec.set_attempt(old->rec.attempt());
  }
  const int64_t now = options_.clock->NowMillis();
  j->rec.set_submitted_ms(now);
  j->restart_at_ms = now;
  Job& ref = *j;
  jobs_[id] = std::move(j);
  SetState(ref, v1::JOB_STATE_PENDING, "submitted");
  TryDeploy(ref);
  return ToProto(ref);
}

std::vector<v1::Job> JobManager::List(bool include_finished) const {
  std::lock_guard lock(mu_);
  std::vector<v1::Job> out;
  for (const auto& [id, j] : jobs_)
    if (include_finished || !Terminal(j->rec.state())) out.push_back(ToProto(*j));
  return out;
}

Result<v1::Job> JobManager::Get(const std::string& id) const {
  std::lock_guard lock(mu_);
  Job* j = Find(id);
  if (!j) return Status::NotFound("no job " + id);
  v1::Job p = ToProto(*j);
  if (j->spec) {
    for (const spec::Endpoint& e : spec::DescribeEndpoints(*j->spec)) {
      v1::Endpoint* pe = p.add_endpoints();
      pe->set_name(e.name);
      pe->set_role(e.role);
      pe->set_type(e.type);
      pe->set_address(e.address);
      for (const auto& [k, v] : e.settings) (*pe->mutable_settings())[k] = v;
    }
  }
  return p;
}

Status JobManager::TakeSavepoint(std::unique_lock<std::mutex>& lock, Job& j,
                                 const std::string& purpose, int rescale_to, int64_t timeout_ms) {
  const std::string& id = j.rec.id();
  if (j.rec.state() != v1::JOB_STATE_RUNNING && (Terminal(j.rec.state()) || !j.spec))
    return Status::FailedPrecondition("job " + id + " is " + StateName(j.rec.state()) +
                                      ": a savepoint needs it RUNNING");
  if (!j.checkpointing())
    return Status::FailedPrecondition("job " + id +
                                      " has checkpoint.mode none: it cannot take a savepoint");
  if (j.rec.state() != v1::JOB_STATE_RUNNING)
    return Status::FailedPrecondition("job " + id + " is " + StateName(j.rec.state()) +
                                      ": a savepoint needs it RUNNING");
  if (j.sp && !j.sp->done)
    return Status::FailedPrecondition("job " + id + " is taking a savepoint already");
  // Tick triggers it; OnAck or a failure completes the request.
  j.sp = Job::SavepointRequest{++j.sp_counter, purpose, rescale_to};
  const int64_t no = j.sp->no;
  cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
               [&] { return !j.sp || j.sp->no != no || j.sp->done; });
  if (!j.sp || j.sp->no != no) return Status::Aborted("savepoint request superseded");
  if (!j.sp->done)
    return Status::DeadlineExceeded("the savepoint did not complete within " +
                                    std::to_string(timeout_ms) + " ms; the job keeps running");
  return j.sp->status;
}

Result<v1::CancelJobResponse> JobManager::Cancel(const std::string& id, bool savepoint,
                                                 int64_t timeout_ms) {
  std::unique_lock lock(mu_);
  Job* j = Find(id);
  if (!j) return Status::NotFound("no job " + id);
  if (Terminal(j->rec.state()) || j->rec.state() == v1::JOB_STATE_CANCELLING)
    return Status::FailedPrecondition("job " + id + " is " + StateName(j->rec.state()));
  v1::CancelJobResponse resp;
  if (savepoint) {
    // The job stops once the savepoint is complete (OnAck).
    WEIR_RETURN_IF_ERROR(TakeSavepoint(lock, *j, "cancel", 0, timeout_ms));
    resp.set_savepoint_path(j->sp->path);
  } else {
    StopAttempt(*j, Then::kCancel, "cancelled");
  }
  *resp.mutable_job() = ToProto(*j);
  return resp;
}

Result<v1::TriggerSavepointResponse> JobManager::Savepoint(const std::string& id,
                                                           int64_t timeout_ms) {
  std::unique_lock lock(mu_);
  Job* j = Find(id);
  if (!j) return Status::NotFound("no job " + id);
  WEIR_RETURN_IF_ERROR(TakeSavepoint(lock, *j, "savepoint", 0, timeout_ms));
  v1::TriggerSavepointResponse resp;
  resp.set_checkpoint_id(j->sp->checkpoint_id);
  resp.set_path(j->sp->path);
  return resp;
}

Result<v1::RescaleJobResponse> JobManager::Rescale(const std::string& id, int parallelism,
                                                   int64_t timeout_ms) {
  std::unique_lock lock(mu_);
  Job* j = Find(id);
  if (!j) return Status::NotFound("no job " + id);
  // A terminal job loaded from the registry has no spec.
  if (!j->spec)
    return Status::FailedPrecondition("job " + id + " is " + StateName(j->rec.state()) +
                                      ": a rescale needs it RUNNING");
  if (parallelism < 1 || parallelism > j->spec->max_parallelism)
    return Status::InvalidArgument("parallelism must be 1.." +
                                   std::to_string(j->spec->max_parallelism) +
                                   " (the job's max_parallelism)");
  {
    // Checked before stopping anything: the new plan must be valid.
    PlanOptions po;
    po.parallelism_override = parallelism;
    auto p = Plan(*j->spec, po);
    if (!p.ok()) return p.status();
  }
  // The attempt stops once the savepoint is complete and the job restarts
  // from it at the new parallelism (OnAck, AfterStop).
  WEIR_RETURN_IF_ERROR(TakeSavepoint(lock, *j, "rescale", parallelism, timeout_ms));
  v1::RescaleJobResponse resp;
  resp.set_savepoint_path(j->sp->path);
  *resp.mutable_job() = ToProto(*j);
  return resp;
}

Result<std::vector<v1::Checkpoint>> JobManager::Checkpoints(const std::string& id) const {
  std::unique_lock lock(mu_);
  Job* j = Find(id);
  if (!j) return Status::NotFound("no job " + id);
  std::vector<v1::Checkpoint> out;
  if (!j->storage) return out;
  WEIR_ASSIGN_OR_RETURN(auto all, j->storage->List());
  for (const auto& c : all) {
    v1::Checkpoint p;
    p.set_id(c.id);
    p.set_savepoint(c.savepoint);
    p.set_path(c.path);
    p.set_completed_ms(c.completed_ms);
    p.set_bytes(c.bytes);
    out.push_back(std::move(p));
  }
  return out;
}

std::vector<v1::Worker> JobManager::Workers() const {
  std::lock_guard lock(mu_);
  std::vector<v1::Worker> out;
  for (const auto& [id, w] : workers_) {
    v1::Worker p;
    p.set_id(w->id);
    p.set_address(w->address);
    p.set_slots(w->slots);
    p.set_slots_used(w->alive ? w->slots - FreeSlots(id) : 0);
    p.set_alive(w->alive);
    p.set_last_heartbeat_ms(w->last_heartbeat_ms);
    p.set_registered_ms(w->registered_ms);
    out.push_back(std::move(p));
  }
  return out;
}

std::vector<v1::JobEvent> JobManager::Events(const std::string& id, size_t* from,
                                             int64_t wait_ms) const {
  std::unique_lock lock(mu_);
  auto ready = [&] {
    Job* j = Find(id);
    return !j || j->events_base + j->events.size() > *from;
  };
  cv_.wait_for(lock, std::chrono::milliseconds(wait_ms), ready);
  std::vector<v1::JobEvent> out;
  Job* j = Find(id);
  if (!j) return out;
  size_t i = std::max(*from, j->events_base);
  for (; i < j->events_base + j->events.size(); ++i) out.push_back(j->events[i - j->events_base]);
  *from = i;
  return out;
}

}  // namespace weir::coordinator
