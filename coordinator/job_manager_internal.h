// What the job manager's files share (job_manager.cc: setup, deploying,
// stopping, workers, the timer; job_checkpoints.cc: checkpoints;
// job_admin.cc: the admin calls): the state of a worker and of a job. Not
// for use outside coordinator/.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "coordinator/job_manager.h"

namespace weir::coordinator {

inline bool Terminal(v1::JobState s) {
  return s == v1::JOB_STATE_FINISHED || s == v1::JOB_STATE_CANCELLED || s == v1::JOB_STATE_FAILED;
}

inline std::string StateName(v1::JobState s) {
  std::string n = v1::JobState_Name(s);
  return n.substr(std::string("JOB_STATE_").size());
}

constexpr int64_t kDrainCommitsMs = 10'000;
// Deployed tasks that have not all reported READY by then (a restore of a
// large state takes a while) make the attempt fail and restart.
constexpr int64_t kStartTimeoutMs = 120'000;

struct JobManager::Worker {
  std::string id;
  std::string address;
  int slots = 0;
  bool alive = false;
  int64_t last_heartbeat_ms = 0;
  int64_t registered_ms = 0;
  int64_t token = 0;
  std::shared_ptr<WorkerLink> link;
};

struct JobManager::Job {
  v1::StoredJob rec;
  std::unique_ptr<spec::JobSpec> spec;
  plan::PhysicalPlan plan;
  v1::JobGraph graph;
  std::unique_ptr<checkpoint::CheckpointStorage> storage;  // null: no checkpointing
  bool checkpointing() const { return storage != nullptr; }

  // The current attempt.
  bool deployed = false;
  std::vector<v1::TaskPlacement> placement;
  std::map<std::string, int> slots_on;  // worker -> slots it gives this attempt
  std::set<std::string> workers, ready, finished, exited;
  std::map<std::string, v1::TaskProgress> progress;
  bool stopping = false;
  int64_t deployed_ms = 0;
  Then then = Then::kRestart;
  std::string stop_reason;
  int rescale_to = 0;
  int64_t restart_at_ms = 0;

  // Checkpoints.
  struct Pending {
    int64_t id = 0;
    bool savepoint = false;
    int64_t started_ms = 0;
    std::string purpose;  // "", "final", "savepoint", "cancel", "rescale"
    std::map<std::string, std::string> shares;
    bool warned = false;  // logged as stuck
  };
  std::optional<Pending> pending;
  int64_t next_checkpoint_id = 1;
  int64_t last_trigger_ms = 0;
  int64_t final_id = 0;
  bool released = false;
  int64_t last_completed_id = 0;
  std::string last_completed_path;
  int64_t checkpoints_completed = 0;
  int64_t checkpoint_failures = 0;
  int64_t last_checkpoint_ms = 0;
  uint64_t last_checkpoint_bytes = 0;

  // One savepoint request at a time (savepoint, cancel --savepoint, rescale).
  struct SavepointRequest {
    int64_t no = 0;
    std::string purpose;
    int rescale_to = 0;
    int64_t checkpoint_id = 0;  // once triggered
    bool done = false;
    Status status;
    std::string path;
  };
  std::optional<SavepointRequest> sp;
  int64_t sp_counter = 0;

  std::deque<v1::JobEvent> events;
  size_t events_base = 0;  // the index of events.front()
};

}  // namespace weir::coordinator
