#include "worker/runtime/task.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "common/expr/expr.h"
#include "common/keys.h"
#include "worker/runtime/crash_point.h"

namespace weir::runtime {

// ---------------------------------------------------------------- EdgeWriter

EdgeWriter::EdgeWriter(const plan::Edge& edge, int subtask, std::vector<Target> targets,
                       std::shared_ptr<const Schema> schema, int max_parallelism, int batch_size)
    : partitioning_(edge.partitioning),
      subtask_(subtask),
      targets_(std::move(targets)),
      schema_(std::move(schema)),
      max_parallelism_(max_parallelism),
      batch_size_(batch_size) {
  if (partitioning_ == plan::Partitioning::kHash) {
    for (const auto& k : *edge.keys)
      key_evals_.push_back(std::make_unique<expr::Evaluator>(k.expr.get()));
    for (size_t t = 0; t < targets_.size(); ++t) builders_.emplace_back(schema_);
    rows_for_.resize(targets_.size());
  }
  next_ = static_cast<size_t>(subtask_) % std::max<size_t>(1, targets_.size());
}

int64_t SteadyNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool EdgeWriter::Push(const Target& t, Element&& e) {
  if (!backpressured_ns_) return t.queue->Push(std::move(e));
  const int64_t start = SteadyNanos();
  const bool ok = t.queue->Push(std::move(e));
  backpressured_ns_->fetch_add(SteadyNanos() - start, std::memory_order_relaxed);
  return ok;
}

bool EdgeWriter::Send(size_t target, RecordBatch&& batch) {
  Element e;
  e.kind = Element::Kind::kBatch;
  e.channel = targets_[target].channel;
  e.batch = std::move(batch);
  return Push(targets_[target], std::move(e));
}

bool EdgeWriter::Write(RecordBatch& batch) {
  const size_t n = batch.num_rows();
  if (n == 0) return true;
  switch (partitioning_) {
    case plan::Partitioning::kForward:
      return Send(0, std::move(batch));
    case plan::Partitioning::kRebalance: {
      size_t t = next_;
      next_ = (next_ + 1) % targets_.size();
      return Send(t, std::move(batch));
    }
    case plan::Partitioning::kHash:
      break;
  }
  const int parallelism = static_cast<int>(targets_.size());
  if (parallelism == 1) return Send(0, std::move(batch));
  for (auto& r : rows_for_) r.clear();
  cols_.clear();
  // Each Evaluator keeps its result until its next call, so all key columns
  // stay valid together.
  for (auto& ev : key_evals_) cols_.push_back(&ev->Evaluate(batch));
  for (size_t i = 0; i < n; ++i) {
    key_.clear();
    EncodeKey(cols_, i, &key_);
    int kg = KeyGroupOf(key_, max_parallelism_);
    rows_for_[static_cast<size_t>(SubtaskForKeyGroup(kg, parallelism, max_parallelism_))].push_back(
        static_cast<uint32_t>(i));
  }
  for (size_t t = 0; t < targets_.size(); ++t) {
    if (rows_for_[t].empty()) continue;
    builders_[t].AppendRows(batch, rows_for_[t].data(), rows_for_[t].size());
    if (builders_[t].num_rows() >= static_cast<size_t>(batch_size_)) {
      RecordBatch full = std::move(builders_[t]);
      builders_[t] = RecordBatch(schema_);
      if (!Send(t, std::move(full))) return false;
    }
  }
  return true;
}

bool EdgeWriter::Flush() {
  for (size_t t = 0; t < builders_.size(); ++t) {
    if (builders_[t].num_rows() == 0) continue;
    RecordBatch b = std::move(builders_[t]);
    builders_[t] = RecordBatch(schema_);
    if (!Send(t, std::move(b))) return false;
  }
  return true;
}

bool EdgeWriter::SendWatermark(const WatermarkStatus& wm) {
  if (!Flush()) return false;
  for (const auto& t : targets_) {
    Element e;
    e.kind = Element::Kind::kWatermark;
    e.channel = t.channel;
    e.watermark = wm;
    if (!Push(t, std::move(e))) return false;
  }
  return true;
}

bool EdgeWriter::SendBarrier(int64_t checkpoint_id) {
  if (!Flush()) return false;
  for (const auto& t : targets_) {
    Element e;
    e.kind = Element::Kind::kBarrier;
    e.channel = t.channel;
    e.checkpoint_id = checkpoint_id;
    if (!Push(t, std::move(e))) return false;
  }
  return true;
}

bool EdgeWriter::SendEnd() {
  if (!Flush()) return false;
  for (const auto& t : targets_) {
    Element e;
    e.kind = Element::Kind::kEndOfInput;
    e.channel = t.channel;
    if (!Push(t, std::move(e))) return false;
  }
  return true;
}

// ---------------------------------------------------------------- steps

namespace {

// A sink at the end of a chain, driven like an operator. With checkpoints
// the task closes it after the final checkpoint instead.
class SinkOperator final : public Operator {
 public:
  SinkOperator(std::unique_ptr<connectors::Sink> sink, bool close_at_finish)
      : sink_(std::move(sink)), close_at_finish_(close_at_finish) {}
  Status ProcessBatch(int, RecordBatch& batch, Output&) override { return sink_->Write(batch); }
  Status Finish(Output&) override { return close_at_finish_ ? sink_->Close() : Status::OK(); }
  connectors::Sink* sink() { return sink_.get(); }

 private:
  std::unique_ptr<connectors::Sink> sink_;
  bool close_at_finish_;
};

}  // namespace

// Routes what step `i` emits: to the next step of the chain and/or edges.
class Task::StepOutput final : public Output {
 public:
  StepOutput(Task* task, size_t step) : task_(task), step_(step) {}

  void Emit(int port, RecordBatch& batch) override {
    if (!task_->failure_.ok() || batch.num_rows() == 0) return;
    const plan::Step& s = task_->vertex_.chain[step_];
    const auto& po = s.ports[static_cast<size_t>(port)];
    auto& writers = writers_[static_cast<size_t>(port)];
    size_t uses = writers.size() + (po.chained ? 1 : 0);
    for (size_t w = 0; w < writers.size(); ++w) {
      --uses;
      if (uses > 0) {
        RecordBatch copy = batch;
        if (!writers[w]->Write(copy)) return Cancelled();
      } else if (!writers[w]->Write(batch)) {
        return Cancelled();
      }
    }
    if (po.chained) {
      Status st = task_->ops_[step_ + 1]->ProcessBatch(0, batch, *task_->outputs_[step_ + 1]);
      if (!st.ok() && task_->failure_.ok()) task_->failure_ = st;
    }
  }

  std::vector<std::unique_ptr<EdgeWriter>> writers_[2];

 private:
  void Cancelled() {
    if (task_->failure_.ok()) task_->failure_ = Status::Cancelled("cancelled");
  }
  Task* task_;
  size_t step_;
};

// ---------------------------------------------------------------- Task

Task::Task(const plan::PhysicalPlan& plan, const plan::Vertex& vertex, int subtask,
           const Clock* clock, int batch_size, std::atomic<bool>* cancelled)
    : plan_(plan),
      vertex_(vertex),
      subtask_(subtask),
      clock_(clock),
      batch_size_(batch_size),
      cancelled_(cancelled) {}

Task::~Task() = default;

std::string Task::name() const {
  return vertex_.name + "[" + std::to_string(subtask_) + "]";
}

void Task::SetCheckpointing(Checkpointer* checkpointer, int index,
                            std::unique_ptr<state::KeyedStateBackend> backend,
                            const CheckpointMetadata* restore) {
  checkpointer_ = checkpointer;
  index_ = index;
  state_ = std::move(backend);
  restore_ = restore;
}

Status Task::Build() {
  const spec::JobSpec& job = *plan_.job;
  event_time_ = job.event_time;
  if (!state_) state_ = state::MakeMemoryStateBackend();
  for (size_t i = 0; i < vertex_.chain.size(); ++i) {
    const plan::Step& s = vertex_.chain[i];
    outputs_.push_back(std::make_unique<StepOutput>(this, i));
    switch (s.kind) {
      case plan::StepKind::kSource: {
        WEIR_ASSIGN_OR_RETURN(source_, connectors::MakeSource(*s.source, job));
        ops_.push_back(nullptr);
        break;
      }
      case plan::StepKind::kOperator: {
        std::vector<const Schema*> inputs;
        for (const auto& f : s.op->from) inputs.push_back(job.StreamSchema(f));
        WEIR_ASSIGN_OR_RETURN(auto op, MakeOperator(*s.op, job, inputs));
        ops_.push_back(std::move(op));
        break;
      }
      case plan::StepKind::kSink: {
        WEIR_ASSIGN_OR_RETURN(auto sink,
                              connectors::MakeSink(*s.sink, job, *job.StreamSchema(s.sink->from)));
        auto op = std::make_unique<SinkOperator>(std::move(sink), checkpointer_ == nullptr);
        sink_ = op->sink();
        ops_.push_back(std::move(op));
        break;
      }
    }
  }
  return Status::OK();
}

void Task::SetInput(std::unique_ptr<InputQueue> queue, std::vector<int> channel_inputs) {
  input_ = std::move(queue);
  channel_inputs_ = std::move(channel_inputs);
}

void Task::AddEdgeWriter(int step, int port, std::unique_ptr<EdgeWriter> writer) {
  writer->backpressured_ns_ = &stats_.backpressured_ns;
  outputs_[static_cast<size_t>(step)]->writers_[port].push_back(std::move(writer));
}

void Task::PublishCounters() {
  int64_t late = 0;
  for (const auto& op : ops_)
    if (op) late += op->late_dropped();
  stats_.late_dropped.store(late, std::memory_order_relaxed);
}

Status Task::Run() {
  stats_.started_ns.store(SteadyNanos(), std::memory_order_relaxed);
  const spec::JobSpec& job = *plan_.job;
  // Open tail to head, so a step's consumers are ready before it emits.
  for (size_t i = ops_.size(); i-- > 0;) {
    if (!ops_[i]) continue;
    OperatorContext ctx;
    ctx.job = job.name;
    ctx.subtask = subtask_;
    ctx.parallelism = vertex_.parallelism;
    ctx.max_parallelism = job.max_parallelism;
    ctx.key_groups = KeyGroupRangeFor(subtask_, vertex_.parallelism, job.max_parallelism);
    ctx.clock = clock_;
    ctx.event_time = job.event_time;
    ctx.state = state_.get();
    ctx.batch_size = batch_size_;
    const plan::Step& s = vertex_.chain[i];
    if (s.kind == plan::StepKind::kSink) {
      connectors::SinkContext sc{job.name, subtask_, vertex_.parallelism, std::nullopt};
      if (restore_) {
        const TaskSnapshot* snap = restore_->Find(vertex_.name, subtask_);
        if (snap && snap->sink_state)
          sc.restore = connectors::SinkRestore{restore_->id, *snap->sink_state};
      }
      Status st = sink_->Open(sc);
      if (!st.ok()) return Status(st.code(), "sink '" + s.name + "': " + st.message());
    }
    Status st = ops_[i]->Open(ctx);
    if (!st.ok()) return Status(st.code(), s.name + ": " + st.message());
  }
  last_tick_ = clock_->NowMillis();
  if (checkpointer_) checkpointer_->TaskReady(index_);
  Status st = source_ ? RunSource() : RunConsumer();
  if (!st.ok()) return st;
  WEIR_RETURN_IF_ERROR(failure_);
  if (checkpointer_) return RunFinished();
  return Status::OK();
}

Status Task::Snapshot(int64_t id, bool finished) {
  TaskSnapshot snap;
  snap.vertex = vertex_.name;
  snap.subtask = subtask_;
  if (source_) {
    auto pos = source_->SnapshotPosition();
    if (!pos.ok())
      return Status(pos.status().code(),
                    "source '" + vertex_.chain[0].name + "': " + pos.status().message());
    snap.source_position = std::move(pos).value();
  }
  if (sink_) {
    auto state = sink_->PreCommit(id);
    if (!state.ok())
      return Status(state.status().code(),
                    "sink '" + vertex_.chain.back().name + "': " + state.status().message());
    snap.sink_state = std::move(state).value();
    precommitted_.push_back(id);
    CrashPoint("after-precommit");
    WEIR_RETURN_IF_ERROR(FailPoint("after-precommit"));
  }
  if (!finished) {
    // Forward first: downstream tasks must get barrier `id` even while this
    // one waits for the process's state snapshot.
    for (auto& out : outputs_)
      for (auto& port : out->writers_)
        for (auto& w : port)
          if (!w->SendBarrier(id)) return Status::Cancelled("cancelled");
  }
  // The process's state snapshot is taken once every task acked: this task's
  // cached state writes must be in the store by then.
  Status flushed = state_->Flush();
  if (!flushed.ok()) return Status(flushed.code(), "state: " + flushed.message());
  last_barrier_ = id;
  if (!checkpointer_->Ack(index_, id, std::move(snap), finished))
    return Status::Cancelled("cancelled");
  return Status::OK();
}

Status Task::CommitCompleted() {
  if (precommitted_.empty()) return Status::OK();
  const int64_t completed = checkpointer_->completed_id();
  while (!precommitted_.empty() && precommitted_.front() <= completed) {
    Status st = sink_->Commit(precommitted_.front());
    if (!st.ok())
      return Status(st.code(), "sink '" + vertex_.chain.back().name + "': commit of checkpoint " +
                                   std::to_string(precommitted_.front()) + ": " + st.message());
    committed_through_.store(precommitted_.front());
    precommitted_.pop_front();
    CrashPoint("after-commit");
  }
  return Status::OK();
}

Status Task::RunFinished() {
  checkpointer_->TaskFinished(index_);
  while (!cancelled_->load(std::memory_order_relaxed)) {
    WEIR_RETURN_IF_ERROR(CommitCompleted());
    const int64_t triggered = checkpointer_->triggered_id();
    if (triggered > last_barrier_) {
      WEIR_RETURN_IF_ERROR(Snapshot(triggered, /*finished=*/true));
      continue;
    }
    if (released_.load() && precommitted_.empty()) {
      if (sink_) return sink_->Close();
      return Status::OK();
    }
    const int64_t wait_start = SteadyNanos();
    checkpointer_->WaitForChange(triggered, checkpointer_->completed_id(),
                                 std::chrono::milliseconds(50));
    stats_.idle_ns.fetch_add(SteadyNanos() - wait_start, std::memory_order_relaxed);
  }
  return Status::Cancelled("cancelled");
}

Status Task::AdvanceWatermark(const WatermarkStatus& wm) {
  if (!wm.idle) {
    stats_.watermark.store(wm.watermark);
    if (event_time_) {
      for (size_t i = 0; i < ops_.size(); ++i) {
        if (!ops_[i]) continue;
        WEIR_RETURN_IF_ERROR(ops_[i]->ProcessWatermark(wm.watermark, *outputs_[i]));
        WEIR_RETURN_IF_ERROR(failure_);
      }
    }
  }
  for (auto& out : outputs_)
    for (auto& port : out->writers_)
      for (auto& w : port)
        if (!w->SendWatermark(wm)) return Status::Cancelled("cancelled");
  return Status::OK();
}

Status Task::Tick() {
  int64_t now = clock_->NowMillis();
  if (now - last_tick_ < 100) return Status::OK();
  last_tick_ = now;
  for (size_t i = 0; i < ops_.size(); ++i) {
    if (!ops_[i]) continue;
    WEIR_RETURN_IF_ERROR(ops_[i]->ProcessTime(now, *outputs_[i]));
    WEIR_RETURN_IF_ERROR(failure_);
  }
  PublishCounters();
  return Status::OK();
}

Status Task::FinishChain() {
  WEIR_RETURN_IF_ERROR(AdvanceWatermark({kMaxWatermark, false}));
  for (size_t i = 0; i < ops_.size(); ++i) {
    if (!ops_[i]) continue;
    Status st = ops_[i]->Finish(*outputs_[i]);
    if (!st.ok()) return Status(st.code(), vertex_.chain[i].name + ": " + st.message());
    WEIR_RETURN_IF_ERROR(failure_);
  }
  PublishCounters();
  for (auto& out : outputs_)
    for (auto& port : out->writers_)
      for (auto& w : port)
        if (!w->SendEnd()) return Status::Cancelled("cancelled");
  return Status::OK();
}

Status Task::RunSource() {
  const plan::Step& head = vertex_.chain[0];
  connectors::SourceContext sc{plan_.job->name, subtask_, vertex_.parallelism, clock_,
                               plan_.job->event_time};
  if (restore_) {
    Status st = source_->RestorePositions(restore_->SourcePositions(vertex_.name));
    if (!st.ok()) return Status(st.code(), "source '" + head.name + "': " + st.message());
  }
  Status st = source_->Open(sc);
  if (!st.ok()) return Status(st.code(), "source '" + head.name + "': " + st.message());
  auto schema = std::make_shared<Schema>(head.source->schema);
  int64_t last_wm = kMinWatermark;
  bool last_idle = false;
  // A throttle for kafka and file sources with `rate` (the generators pace
  // themselves): this subtask's share of the rate, by the task clock.
  const bool throttled =
      head.source->rate && (head.source->type == "kafka" || head.source->type == "file");
  const double per_ms =
      throttled ? static_cast<double>(*head.source->rate) / vertex_.parallelism / 1000.0 : 0;
  const int64_t throttle_start = clock_->NowMillis();
  int64_t emitted = 0;
  while (!cancelled_->load(std::memory_order_relaxed)) {
    int max_rows = batch_size_;
    if (throttled) {
      const double allowed = per_ms * static_cast<double>(clock_->NowMillis() - throttle_start + 1);
      max_rows =
          static_cast<int>(std::min<double>(batch_size_, allowed - static_cast<double>(emitted)));
      if (max_rows <= 0) {
        const int64_t sleep_start = SteadyNanos();
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        stats_.idle_ns.fetch_add(SteadyNanos() - sleep_start, std::memory_order_relaxed);
        if (checkpointer_) {
          const int64_t triggered = checkpointer_->triggered_id();
          if (triggered > last_barrier_) WEIR_RETURN_IF_ERROR(Snapshot(triggered, false));
          WEIR_RETURN_IF_ERROR(CommitCompleted());
        }
        WEIR_RETURN_IF_ERROR(Tick());
        continue;
      }
    }
    RecordBatch batch(schema);
    const int64_t poll_start = SteadyNanos();
    auto polled = source_->Poll(&batch, max_rows, 50);
    if (batch.num_rows() == 0)
      stats_.idle_ns.fetch_add(SteadyNanos() - poll_start, std::memory_order_relaxed);
    emitted += static_cast<int64_t>(batch.num_rows());
    if (!polled.ok())
      return Status(polled.status().code(),
                    "source '" + head.name + "': " + polled.status().message());
    if (batch.num_rows() > 0) {
      stats_.rows_in.fetch_add(static_cast<int64_t>(batch.num_rows()), std::memory_order_relaxed);
      outputs_[0]->Emit(0, batch);
      WEIR_RETURN_IF_ERROR(failure_);
    }
    if (*polled == connectors::PollState::kEndOfInput) return FinishChain();
    if (checkpointer_) {
      const int64_t triggered = checkpointer_->triggered_id();
      if (triggered > last_barrier_) WEIR_RETURN_IF_ERROR(Snapshot(triggered, false));
      WEIR_RETURN_IF_ERROR(CommitCompleted());
    }
    WatermarkStatus wm = source_->Watermark();
    if (wm.watermark > last_wm || wm.idle != last_idle) {
      last_wm = wm.watermark;
      last_idle = wm.idle;
      WEIR_RETURN_IF_ERROR(AdvanceWatermark(wm));
    }
    WEIR_RETURN_IF_ERROR(Tick());
  }
  return Status::Cancelled("cancelled");
}

Status Task::RunConsumer() {
  const size_t n = channel_inputs_.size();
  ChannelWatermarks watermarks(n);
  // Alignment of a barrier: channels that delivered it are blocked and their
  // later elements held, in arrival order, until every open channel has.
  std::vector<bool> blocked(n, false), ended(n, false);
  std::deque<Element> held;
  int64_t aligning = 0;
  int64_t alignment_start = 0;
  auto aligned = [&] {
    for (size_t c = 0; c < n; ++c)
      if (!blocked[c] && !ended[c]) return false;
    return true;
  };
  while (!cancelled_->load(std::memory_order_relaxed)) {
    std::optional<Element> elem;
    if (aligning == 0 && !held.empty()) {
      elem = std::move(held.front());
      held.pop_front();
    } else {
      const int64_t wait_start = SteadyNanos();
      elem = input_->Pop(std::chrono::milliseconds(50));
      stats_.idle_ns.fetch_add(SteadyNanos() - wait_start, std::memory_order_relaxed);
    }
    if (!elem) {
      if (input_->closed()) break;
      if (checkpointer_) WEIR_RETURN_IF_ERROR(CommitCompleted());
      WEIR_RETURN_IF_ERROR(Tick());
      continue;
    }
    const size_t c = static_cast<size_t>(elem->channel);
    // The exchange delivers only the channels the plan gives (frame_handler.h).
    if (c >= n)
      return Status::Internal("element on channel " + std::to_string(elem->channel) + " of " +
                              std::to_string(n));
    if (blocked[c]) {
      held.push_back(std::move(*elem));
      continue;
    }
    bool changed = false;
    switch (elem->kind) {
      case Element::Kind::kBatch: {
        stats_.rows_in.fetch_add(static_cast<int64_t>(elem->batch.num_rows()),
                                 std::memory_order_relaxed);
        Status st = ops_[0]->ProcessBatch(channel_inputs_[c], elem->batch, *outputs_[0]);
        if (!st.ok()) return Status(st.code(), vertex_.chain[0].name + ": " + st.message());
        WEIR_RETURN_IF_ERROR(failure_);
        break;
      }
      case Element::Kind::kWatermark:
        changed = watermarks.Update(c, elem->watermark);
        break;
      case Element::Kind::kBarrier:
        if (elem->checkpoint_id <= last_barrier_) break;  // stale
        if (aligning == 0) alignment_start = SteadyNanos();
        aligning = elem->checkpoint_id;
        blocked[c] = true;
        break;
      case Element::Kind::kEndOfInput:
        ended[c] = true;
        changed = watermarks.End(c);
        break;
    }
    if (aligning != 0 && aligned()) {
      const int64_t id = aligning;
      aligning = 0;
      stats_.last_alignment_ms.store((SteadyNanos() - alignment_start) / 1'000'000,
                                     std::memory_order_relaxed);
      std::fill(blocked.begin(), blocked.end(), false);
      WEIR_RETURN_IF_ERROR(Snapshot(id, false));
    }
    if (watermarks.all_ended() && held.empty()) return FinishChain();
    if (changed) WEIR_RETURN_IF_ERROR(AdvanceWatermark(watermarks.current()));
    if (checkpointer_) WEIR_RETURN_IF_ERROR(CommitCompleted());
    WEIR_RETURN_IF_ERROR(Tick());
  }
  return Status::Cancelled("cancelled");
}

}  // namespace weir::runtime
