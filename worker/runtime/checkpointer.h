// Checkpointer: aligned barrier checkpoints for the tasks of one process
// (shared/design/architecture.md, Checkpoints and exactly-once).
//
// Protocol, for checkpoint N:
//  1. Trigger(N) (a timer, a savepoint request, or the end of a bounded job)
//     makes N the pending checkpoint. At most one is pending at a time.
//  2. Source tasks see it between two polls: they take their source's
//     position, pre-commit their sink (if their chain ends in one), emit
//     barrier N on every outgoing edge and Ack.
//  3. Other tasks align: a channel that delivered barrier N is blocked (its
//     later elements wait) until every open channel has; then they snapshot
//     (sink pre-commit), forward barrier N and Ack. A channel that has ended
//     counts as aligned.
//  4. Keyed state: all tasks of the process share one RocksDB instance, so
//     its snapshot must be taken when no task can write state of epoch N+1.
//     Each running task therefore waits in Ack until every running task of
//     the process has acked N; the last one in takes the database's local
//     checkpoint (hard links), then all resume. The wait is short (a memtable
//     flush) and cannot deadlock: a task forwards barrier N before it waits,
//     so every downstream task still receives it. Tasks that have finished
//     (all inputs ended) write no more state: they ack from their finished
//     loop and never wait.
//  5. A background thread uploads the database checkpoint (incrementally),
//     then writes the checkpoint's metadata durably; only then is N complete
//     and completed_id() moves to N, upon which sink tasks call Commit(N).
//
// The end of a bounded job is a final checkpoint: when every task has
// finished, the runner triggers one more checkpoint, which finished tasks
// ack (sinks pre-commit their last rows), waits for it to complete, and the
// tasks commit and exit. So a crash at any moment loses nothing and
// duplicates nothing.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/checkpoint/metadata.h"
#include "common/checkpoint/storage.h"
#include "common/keys.h"
#include "common/status.h"
#include "common/time.h"
#include "worker/state/rocksdb_store.h"

namespace weir::runtime {

using checkpoint::CheckpointMetadata;
using checkpoint::DbPart;
using checkpoint::TaskSnapshot;

// A participant's share of a checkpoint (cluster workers; see
// SetParticipant).
struct LocalCheckpoint {
  int64_t id = 0;
  bool savepoint = false;
  Status status;  // not OK: this worker could not take its share
  std::vector<TaskSnapshot> tasks;
  std::optional<DbPart> db_part;
};

// The checkpoint this process is working on, for operators.
struct PendingStatus {
  int64_t id = 0;            // 0: none
  int64_t started_ms = 0;    // by the checkpointer's clock
  std::vector<int> unacked;  // tasks that have not acked it
  bool uploading = false;    // every task acked; the state is being uploaded
};

struct CheckpointEvent {
  int64_t id = 0;
  bool savepoint = false;
  bool ok = true;
  std::string path;     // completed: where it is stored
  std::string message;  // failed: why
  int64_t duration_ms = 0;
};

class Checkpointer {
 public:
  // `store` may be null (a job without keyed state still checkpoints its
  // sources and sinks). `storage` must not be null.
  Checkpointer(std::string job, int max_parallelism, int num_tasks, state::RocksDbStore* store,
               std::unique_ptr<checkpoint::CheckpointStorage> storage, std::string scratch_dir,
               int64_t first_id, const Clock* clock);
  ~Checkpointer();

  // A task has opened its chain and entered its loop. No checkpoint is
  // triggered before every task is ready.
  void TaskReady(int task);

  // Starts checkpoint `next id` unless one is pending or not every task is
  // ready yet; returns its id, or nullopt.
  std::optional<int64_t> Trigger(bool savepoint);
  // The newest triggered checkpoint (0: none). Tasks compare it with the last
  // barrier they emitted.
  int64_t triggered_id() const;
  // The newest completed checkpoint (0: none).
  int64_t completed_id() const;
  bool pending() const;
  // Every task has finished (a bounded job's inputs are exhausted).
  bool all_finished() const;
  // Some task has finished.
  bool any_finished() const;

  // A task's snapshot for checkpoint `id`. A running task blocks here until
  // every running task has acked (see the protocol); a finished one does
  // not. An ack for a checkpoint newer than the last triggered one (its
  // barrier came from another worker before this one's trigger) first waits
  // for that trigger. Returns false when the checkpointer is shutting down.
  bool Ack(int task, int64_t id, TaskSnapshot snapshot, bool finished);
  // A task finished (all inputs ended, chain finished): it no longer counts
  // among the running tasks that the state snapshot waits for.
  void TaskFinished(int task);

  // The pending checkpoint, or the oldest one still uploading (id 0: none).
  PendingStatus InFlight() const;

  // Waits until `id` completed (true) or failed (false), or the timeout.
  bool WaitCompleted(int64_t id, std::chrono::milliseconds timeout);
  // Blocks until the trigger id, completed id or shutdown changes from the
  // given values, at most `timeout`. For finished tasks' loops.
  void WaitForChange(int64_t seen_triggered, int64_t seen_completed,
                     std::chrono::milliseconds timeout);

  // Events (completed or failed checkpoints), for the runner to print.
  void SetListener(std::function<void(const CheckpointEvent&)> listener);

  // Fails the pending checkpoint when it has run longer than timeout_ms.
  void CheckTimeout(int64_t timeout_ms);
  // The newest checkpoint that failed (0: none). A failed checkpoint fails
  // the job, which restarts from the latest completed one (as Flink with no
  // tolerable checkpoint failures): sinks never hold prepared data that no
  // checkpoint will commit.
  int64_t failed_id() const;

  // Unblocks everyone; pending checkpoints are abandoned.
  void Shutdown();

  // A worker of a cluster takes part in checkpoints that the coordinator
  // drives: call before any task starts. The coordinator triggers
  // (TriggerAt), this checkpointer aligns, snapshots and uploads its database
  // as part `part` as usual, then hands its share to `on_local` (on its
  // upload thread) instead of writing the metadata; the coordinator writes
  // the metadata once every worker's share is in and calls Confirm, which
  // completes (or fails) the checkpoint here.
  void SetParticipant(std::string part, std::vector<KeyGroupRange> key_groups,
                      std::function<void(LocalCheckpoint)> on_local);
  // Starts checkpoint `id` (replacing a pending older one, which the
  // coordinator has given up). False when shutting down or `id` is not newer.
  bool TriggerAt(int64_t id, bool savepoint);
  void Confirm(int64_t id, bool ok, const std::string& path_or_reason);
  // Every task has called TaskReady.
  bool all_ready() const;

 private:
  struct Pending;
  void StartPending(int64_t id, bool savepoint);  // with mu_ held
  void MaybeSnapshotState();                      // with mu_ held
  void MaybeFinish();                             // with mu_ held
  void UploadLoop();
  void Fail(int64_t id, const std::string& why);  // with mu_ held

  const std::string job_;
  const int max_parallelism_;
  const int num_tasks_;
  state::RocksDbStore* store_;
  std::unique_ptr<checkpoint::CheckpointStorage> storage_;
  const std::string scratch_dir_;
  const Clock* clock_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  int64_t next_id_;
  int64_t triggered_ = 0;
  int64_t completed_ = 0;
  int64_t last_failed_ = 0;
  std::vector<bool> finished_;
  int running_;
  int ready_ = 0;
  std::unique_ptr<Pending> pending_;
  std::deque<std::unique_ptr<Pending>> upload_queue_;
  PendingStatus uploading_;  // the one UploadLoop works on (id 0: none)
  bool shutdown_ = false;
  std::function<void(const CheckpointEvent&)> listener_;
  // Participant mode.
  bool participant_ = false;
  std::string part_;
  std::vector<KeyGroupRange> part_key_groups_;
  std::function<void(LocalCheckpoint)> on_local_;
  std::map<int64_t, int64_t> started_ms_;  // shares handed over, awaiting Confirm
  std::thread uploader_;
};

}  // namespace weir::runtime
