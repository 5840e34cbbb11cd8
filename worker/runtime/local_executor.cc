#include "worker/runtime/local_executor.h"

#include <map>

namespace weir::runtime {

LocalExecutor::LocalExecutor(const plan::PhysicalPlan& plan, LocalOptions options)
    : plan_(plan), options_(options) {
  if (!options_.clock) options_.clock = SystemClock::Get();
}

LocalExecutor::~LocalExecutor() {
  Cancel();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
}

Status LocalExecutor::Start() {
  const spec::JobSpec& job = *plan_.job;
  auto local = [&](int v, int s) { return !options_.is_local || options_.is_local(v, s); };
  // by_vertex_[v][s] is subtask s of vertex v (null when it runs elsewhere).
  by_vertex_.assign(plan_.vertices.size(), {});
  for (const auto& v : plan_.vertices) {
    by_vertex_[static_cast<size_t>(v.id)].assign(static_cast<size_t>(v.parallelism), nullptr);
    for (int s = 0; s < v.parallelism; ++s) {
      if (!local(v.id, s)) continue;
      auto t =
          std::make_unique<Task>(plan_, v, s, options_.clock, options_.batch_size, &cancelled_);
      if (options_.checkpointer) {
        t->SetCheckpointing(options_.checkpointer, static_cast<int>(tasks_.size()),
                            options_.store ? options_.store->NewBackend() : nullptr,
                            options_.restore);
      }
      Status st = t->Build();
      if (!st.ok()) return Status(st.code(), t->name() + ": " + st.message());
      by_vertex_[static_cast<size_t>(v.id)][static_cast<size_t>(s)] = t.get();
      tasks_.push_back(std::move(t));
    }
  }
  // Channels: for each consumer subtask, one per (input edge, producer
  // subtask that sends to it).
  for (const auto& v : plan_.vertices) {
    if (v.inputs.empty()) continue;
    for (int c = 0; c < v.parallelism; ++c) {
      if (Task* t = by_vertex_[static_cast<size_t>(v.id)][static_cast<size_t>(c)]) {
        t->SetInput(std::make_unique<InputQueue>(options_.queue_capacity),
                    ChannelInputs(plan_, v.id, c));
      }
    }
  }
  // Edge writers: each producer subtask gets one per outgoing edge.
  for (const auto& e : plan_.edges) {
    const plan::Vertex& from = plan_.vertices[static_cast<size_t>(e.from_vertex)];
    const plan::Vertex& to = plan_.vertices[static_cast<size_t>(e.to_vertex)];
    auto schema = std::make_shared<Schema>(
        *from.chain[static_cast<size_t>(e.from_step)].output_schema(e.from_port));
    for (int p = 0; p < from.parallelism; ++p) {
      Task* producer = by_vertex_[static_cast<size_t>(from.id)][static_cast<size_t>(p)];
      if (!producer) continue;
      std::vector<EdgeWriter::Target> targets;
      for (int c = 0; c < to.parallelism; ++c) {
        const int ch = ChannelOf(plan_, e.id, p, c);
        if (ch < 0) continue;
        Task* consumer = by_vertex_[static_cast<size_t>(to.id)][static_cast<size_t>(c)];
        ElementSink* sink =
            consumer ? consumer->input() : (options_.remote ? options_.remote(e, p, c) : nullptr);
        if (!sink)
          return Status::Internal("no way to reach subtask " + std::to_string(c) + " of " +
                                  to.name);
        targets.push_back({sink, ch});
      }
      producer->AddEdgeWriter(
          e.from_step, e.from_port,
          std::make_unique<EdgeWriter>(e, p, std::move(targets), schema, job.max_parallelism,
                                       options_.batch_size));
    }
  }
  results_.resize(tasks_.size());
  running_ = static_cast<int>(tasks_.size());
  for (size_t i = 0; i < tasks_.size(); ++i) {
    threads_.emplace_back([this, i] {
      Status st = tasks_[i]->Run();
      results_[i] = st;
      if (!st.ok() && st.code() != StatusCode::kCancelled) {
        {
          std::lock_guard lock(mu_);
          if (first_failure_.ok()) {
            first_failure_ = Status(st.code(), tasks_[i]->name() + ": " + st.message());
            failed_vertex_ = tasks_[i]->vertex_name();
            failed_subtask_ = tasks_[i]->subtask();
          }
        }
        Cancel();
      }
      running_.fetch_sub(1);
    });
  }
  return Status::OK();
}

void LocalExecutor::Cancel() {
  cancelled_.store(true);
  for (auto& t : tasks_)
    if (t->input()) t->input()->Close();
  if (options_.checkpointer) options_.checkpointer->Shutdown();
}

bool LocalExecutor::Committed(int64_t id) const {
  for (const auto& t : tasks_)
    if (!t->Committed(id)) return false;
  return true;
}

void LocalExecutor::Release() {
  for (auto& t : tasks_) t->Release();
}

std::vector<int> ChannelInputs(const plan::PhysicalPlan& plan, int vertex, int consumer) {
  std::vector<int> out;
  for (int eid : plan.vertices[static_cast<size_t>(vertex)].inputs) {
    const plan::Edge& e = plan.edges[static_cast<size_t>(eid)];
    const plan::Vertex& from = plan.vertices[static_cast<size_t>(e.from_vertex)];
    for (int p = 0; p < from.parallelism; ++p) {
      if (e.partitioning == plan::Partitioning::kForward && p != consumer) continue;
      out.push_back(e.to_input);
    }
  }
  return out;
}

int ChannelOf(const plan::PhysicalPlan& plan, int edge, int producer, int consumer) {
  if (edge < 0 || static_cast<size_t>(edge) >= plan.edges.size()) return -1;
  const plan::Vertex& to =
      plan.vertices[static_cast<size_t>(plan.edges[static_cast<size_t>(edge)].to_vertex)];
  if (consumer < 0 || consumer >= to.parallelism) return -1;
  int offset = 0;
  for (int eid : to.inputs) {
    const plan::Edge& e = plan.edges[static_cast<size_t>(eid)];
    const int producers = plan.vertices[static_cast<size_t>(e.from_vertex)].parallelism;
    const bool forward = e.partitioning == plan::Partitioning::kForward;
    if (eid == edge) {
      if (producer < 0 || producer >= producers) return -1;
      if (forward) return producer == consumer ? offset : -1;
      return offset + producer;
    }
    offset += forward ? 1 : producers;
  }
  return -1;
}

int CountTasks(const plan::PhysicalPlan& plan,
               const std::function<bool(int vertex, int subtask)>& is_local) {
  int n = 0;
  for (const auto& v : plan.vertices)
    for (int s = 0; s < v.parallelism; ++s)
      if (!is_local || is_local(v.id, s)) ++n;
  return n;
}

std::string LocalExecutor::TaskName(int index) const {
  if (index < 0 || static_cast<size_t>(index) >= tasks_.size()) return "?";
  return tasks_[static_cast<size_t>(index)]->name();
}

InputQueue* LocalExecutor::Input(int vertex, int subtask) const {
  if (vertex < 0 || static_cast<size_t>(vertex) >= by_vertex_.size()) return nullptr;
  const auto& subtasks = by_vertex_[static_cast<size_t>(vertex)];
  if (subtask < 0 || static_cast<size_t>(subtask) >= subtasks.size()) return nullptr;
  Task* t = subtasks[static_cast<size_t>(subtask)];
  return t ? t->input() : nullptr;
}

void LocalExecutor::CollectMetrics(Metrics& m, const Labels& base) const {
  const int64_t now = SteadyNanos();
  for (const auto& t : tasks_) {
    Labels l = base;
    l.emplace_back("vertex", t->vertex_name());
    l.emplace_back("subtask", std::to_string(t->subtask()));
    const TaskStats& s = t->stats();
    m.Counter("weir_task_records_in_total", "Rows the task's chain received (or read, for sources)",
              l, static_cast<double>(s.rows_in.load(std::memory_order_relaxed)));
    const int64_t wm = s.watermark.load(std::memory_order_relaxed);
    if (wm > kMinWatermark && wm < kMaxWatermark)
      m.Gauge("weir_task_watermark_seconds",
              "The task's current event-time watermark (seconds since the epoch)", l,
              static_cast<double>(wm) / 1000.0);
    const int64_t started = s.started_ns.load(std::memory_order_relaxed);
    if (started > 0) {
      const double idle = static_cast<double>(s.idle_ns.load(std::memory_order_relaxed)) / 1e9;
      const double bp =
          static_cast<double>(s.backpressured_ns.load(std::memory_order_relaxed)) / 1e9;
      const double total = static_cast<double>(now - started) / 1e9;
      m.Counter("weir_task_idle_seconds_total", "Time the task waited for input", l, idle);
      m.Counter("weir_task_backpressured_seconds_total",
                "Time the task was blocked sending to a full consumer", l, bp);
      m.Counter("weir_task_busy_seconds_total", "Time the task spent processing", l,
                std::max(0.0, total - idle - bp));
    }
    m.Gauge("weir_task_checkpoint_alignment_seconds",
            "Duration of the task's last barrier alignment", l,
            static_cast<double>(s.last_alignment_ms.load(std::memory_order_relaxed)) / 1000.0);
    m.Counter("weir_task_late_dropped_total", "Rows dropped as too late for their window or join",
              l, static_cast<double>(s.late_dropped.load(std::memory_order_relaxed)));
    if (const auto* src = t->source()) {
      const auto& cs = src->stats();
      m.Counter("weir_source_records_total", "Records the source read", l,
                static_cast<double>(cs.records.load(std::memory_order_relaxed)));
      m.Counter("weir_source_bytes_total", "Bytes the source read", l,
                static_cast<double>(cs.bytes.load(std::memory_order_relaxed)));
      m.Counter("weir_source_malformed_skipped_total", "Malformed records skipped (on_error: skip)",
                l, static_cast<double>(cs.skipped.load(std::memory_order_relaxed)));
      m.Counter("weir_source_dead_letter_total",
                "Malformed records sent to the dead-letter topic (on_error: dead_letter)", l,
                static_cast<double>(cs.dead_lettered.load(std::memory_order_relaxed)));
      std::lock_guard lock(cs.lag_mu);
      for (const auto& [partition, lag] : cs.lag) {
        Labels pl = l;
        pl.emplace_back("topic", cs.lag_topic);
        pl.emplace_back("partition", std::to_string(partition));
        m.Gauge("weir_kafka_consumer_lag",
                "Messages between the source's position and the end of the partition", pl,
                static_cast<double>(lag));
      }
    }
    if (const auto* sink = t->sink()) {
      const auto& cs = sink->stats();
      m.Counter("weir_task_records_out_total", "Rows the task's sink wrote", l,
                static_cast<double>(cs.records.load(std::memory_order_relaxed)));
      m.Counter("weir_sink_bytes_total", "Bytes the sink wrote", l,
                static_cast<double>(cs.bytes.load(std::memory_order_relaxed)));
    }
  }
}

std::pair<std::string, int> LocalExecutor::FailedTask() const {
  std::lock_guard lock(mu_);
  return {failed_vertex_, failed_subtask_};
}

bool LocalExecutor::has_sinks() const {
  for (const auto& t : tasks_)
    if (t->sink()) return true;
  return false;
}

Status LocalExecutor::Wait() {
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  std::lock_guard lock(mu_);
  if (!first_failure_.ok()) return first_failure_;
  for (const auto& st : results_)
    if (!st.ok()) return st;  // cancelled from outside
  return Status::OK();
}

Progress LocalExecutor::GetProgress() const {
  Progress p;
  int64_t wm = kMaxWatermark;
  bool any_sink = false;
  for (const auto& t : tasks_) {
    if (const auto* src = t->source()) {
      p.records_in += src->stats().records.load(std::memory_order_relaxed);
      p.skipped += src->stats().skipped.load(std::memory_order_relaxed) +
                   src->stats().dead_lettered.load(std::memory_order_relaxed);
    }
    p.late_dropped += t->stats().late_dropped.load(std::memory_order_relaxed);
    if (const auto* sink = t->sink()) {
      p.records_out += sink->stats().records.load(std::memory_order_relaxed);
      wm = std::min(wm, t->stats().watermark.load(std::memory_order_relaxed));
      any_sink = true;
    }
  }
  p.watermark = any_sink ? wm : kMinWatermark;
  p.finished = running_.load() == 0;
  return p;
}

}  // namespace weir::runtime
