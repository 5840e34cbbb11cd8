// `weir local JOB.yaml`: the whole job in this process (coordinator planner +
// worker tasks on threads), with the development broker embedded when the
// job's brokers are `embedded`.
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "cli/commands.h"
#include "common/checkpoint/storage.h"
#include "common/files.h"
#include "common/spec/job_spec.h"
#include "common/time.h"
#include "coordinator/planner.h"
#include "worker/devbroker/dev_broker.h"
#include "worker/runtime/job_runner.h"

namespace weir::cli {
namespace {

constexpr const char* kEmbedded = "embedded";

// Writes each line of `path` as one message to `topic`.
Status ProduceFile(const std::string& bootstrap, const std::string& topic, const std::string& path,
                   int64_t* count) {
  // A sample file for a laptop: read whole, with a limit.
  auto text = ReadFileLimited(path, size_t{256} << 20, "--produce: the file");
  if (!text.ok()) return text.status();
  std::istringstream in(*text);
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "linger.ms", "5", err, sizeof err);
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) return Status::Internal(std::string("kafka producer: ") + err);
  Status st;
  int64_t n = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    while (true) {
      rd_kafka_resp_err_t e = rd_kafka_producev(
          rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_VALUE(line.data(), line.size()),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
      if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        rd_kafka_poll(rk, 10);
        continue;
      }
      if (e) st = Status::Unavailable("--produce " + topic + ": " + rd_kafka_err2str(e));
      break;
    }
    if (!st.ok()) break;
    ++n;
  }
  if (st.ok() && rd_kafka_flush(rk, 30000) != RD_KAFKA_RESP_ERR_NO_ERROR)
    st = Status::Unavailable("--produce " + topic + ": timed out writing to the broker");
  rd_kafka_destroy(rk);
  *count = n;
  return st;
}

std::string Human(int64_t n) {
  const std::string digits = std::to_string(n);
  std::string out;
  out.reserve(digits.size() + digits.size() / 3);
  size_t lead = digits.size() % 3;
  if (lead == 0) lead = 3;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i >= lead && (i - lead) % 3 == 0 && digits[i - 1] != '-') out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

std::string DefaultStateDir() {
  if (const char* x = std::getenv("XDG_STATE_HOME"); x && *x) return std::string(x) + "/weir";
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.local/state/weir";
  return "/tmp/weir-" + std::to_string(::getuid());
}

}  // namespace

int RunLocal(const GlobalOptions& g, const LocalCommand& cmd) {
  spec::LoadResult loaded = spec::LoadJob(cmd.job_file);
  if (!loaded.job) {
    std::fputs(spec::FormatDiagnostics(cmd.job_file, loaded.diagnostics).c_str(), stderr);
    return kExitUsage;
  }
  spec::JobSpec& job = *loaded.job;
  if (Status keys = spec::ReadJobSecrets(&job); !keys.ok()) {
    std::fprintf(stderr, "weir: %s\n", keys.message().c_str());
    return kExitUsage;
  }
  if (!cmd.from_checkpoint.empty()) {
    if (job.checkpoint.mode == spec::CheckpointMode::kNone) {
      std::fprintf(stderr, "weir: --from-checkpoint: job %s has checkpoint.mode none\n",
                   job.name.c_str());
      return kExitUsage;
    }
    if (cmd.from_checkpoint != "latest") {
      auto meta = checkpoint::CheckpointStorage::ReadMetadata(cmd.from_checkpoint);
      if (!meta.ok()) {
        std::fprintf(stderr, "weir: --from-checkpoint: %s\n", meta.status().message().c_str());
        return meta.status().code() == StatusCode::kNotFound ? kExitNotFound : kExitError;
      }
    }
  }

  // The embedded broker, when the job asks for it.
  std::set<std::string> topics;
  bool embedded = false;
  for (auto& s : job.sources) {
    if (s.brokers == kEmbedded) embedded = true, topics.insert(s.topic);
    if (s.dead_letter && s.dead_letter->brokers == kEmbedded)
      embedded = true, topics.insert(s.dead_letter->topic);
  }
  for (auto& s : job.sinks)
    if (s.brokers == kEmbedded) embedded = true, topics.insert(s.topic);
  if (!cmd.produce.empty() && !embedded) {
    std::fprintf(stderr, "weir: --produce needs a job whose brokers are 'embedded'\n");
    return kExitUsage;
  }
  std::unique_ptr<devbroker::DevBroker> broker;
  if (embedded) {
    devbroker::DevBrokerOptions opts;
    for (const auto& t : topics) opts.topics.push_back({t, std::max(4, job.parallelism)});
    auto started = devbroker::DevBroker::Start(opts);
    if (!started.ok()) {
      std::fprintf(stderr, "weir: cannot start the embedded broker: %s\n",
                   started.status().message().c_str());
      return kExitError;
    }
    broker = std::move(started).value();
    const std::string& addr = broker->bootstrap_servers();
    for (auto& s : job.sources) {
      if (s.brokers == kEmbedded) s.brokers = addr;
      if (s.dead_letter && s.dead_letter->brokers == kEmbedded) s.dead_letter->brokers = addr;
    }
    for (auto& s : job.sinks)
      if (s.brokers == kEmbedded) s.brokers = addr;
    std::fprintf(stderr, "weir: embedded development broker at %s\n", addr.c_str());
  }
  for (const auto& p : cmd.produce) {
    auto eq = p.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == p.size()) {
      std::fprintf(stderr, "weir: --produce takes TOPIC=FILE, not '%s'\n", p.c_str());
      return kExitUsage;
    }
    std::string topic = p.substr(0, eq), file = p.substr(eq + 1);
    if (!topics.count(topic)) {
      Status st = broker->CreateTopic({topic, std::max(4, job.parallelism)});
      if (!st.ok()) {
        std::fprintf(stderr,
                     "weir: --produce %s: cannot create topic '%s' on the embedded broker: %s\n",
                     p.c_str(), topic.c_str(), st.message().c_str());
        return kExitUnavailable;
      }
      topics.insert(topic);
    }
    int64_t n = 0;
    Status st = ProduceFile(broker->bootstrap_servers(), topic, file, &n);
    if (!st.ok()) {
      std::fprintf(stderr, "weir: %s\n", st.message().c_str());
      return st.code() == StatusCode::kNotFound ? kExitNotFound : kExitUnavailable;
    }
    std::fprintf(stderr, "weir: wrote %s records from %s to topic %s\n", Human(n).c_str(),
                 file.c_str(), topic.c_str());
  }

  coordinator::PlanOptions popts;
  popts.parallelism_override = cmd.parallelism;
  auto planned = coordinator::Plan(job, popts);
  if (!planned.ok()) {
    std::fprintf(stderr, "weir: %s\n", planned.status().message().c_str());
    return kExitUsage;
  }
  const plan::PhysicalPlan& plan = planned.value();
  if (g.verbose) std::fprintf(stderr, "%s", plan.Explain().c_str());

  // Signals: handled by a watcher thread, so tasks never see them. SIGINT
  // stops at once; SIGTERM takes a checkpoint first; SIGUSR1 a savepoint.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  const bool tty = isatty(STDERR_FILENO) && !g.quiet;
  std::mutex mu;  // serializes stderr lines between the progress line and logs
  runtime::RunnerOptions ro;
  ro.state_dir = cmd.state_dir.empty() ? DefaultStateDir() : cmd.state_dir;
  ro.from_checkpoint = cmd.from_checkpoint;
  ro.verbose = g.verbose;
  ro.log = [&](const std::string& m) {
    std::lock_guard lock(mu);
    std::fprintf(stderr, "%sweir: %s\n", tty ? "\r\033[K" : "", m.c_str());
  };
  runtime::JobRunner runner(plan, ro);
  std::atomic<bool> done{false}, interrupted{false};
  std::thread watcher([&] {
    while (!done.load()) {
      timespec ts{0, 100'000'000};
      int sig = sigtimedwait(&sigs, nullptr, &ts);
      if (sig == SIGINT) {
        interrupted = true;
        runner.Cancel();
      } else if (sig == SIGTERM) {
        interrupted = true;
        runner.StopWithCheckpoint();
      } else if (sig == SIGUSR1) {
        runner.RequestSavepoint();
      }
    }
  });
  std::condition_variable cv;
  std::thread progress([&] {
    auto last = std::chrono::steady_clock::now();
    runtime::Progress prev = runner.GetProgress();
    std::unique_lock lock(mu);
    while (!done.load()) {
      cv.wait_for(lock, std::chrono::seconds(1));
      if (done.load() || !tty) continue;
      auto now = std::chrono::steady_clock::now();
      double secs = std::chrono::duration<double>(now - last).count();
      runtime::Progress p = runner.GetProgress();
      if (p.records_in < prev.records_in) prev = runtime::Progress{};  // a restart
      std::string wm = p.watermark == kMinWatermark   ? "-"
                       : p.watermark == kMaxWatermark ? "end"
                                                      : FormatTimestamp(p.watermark);
      std::string chk;
      if (runner.last_checkpoint() > 0)
        chk = "  checkpoint " + std::to_string(runner.last_checkpoint());
      std::fprintf(stderr,
                   "\r\033[K  in %s rec/s (%s total)  out %s rec/s (%s total)  watermark %s%s",
                   Human(static_cast<int64_t>((p.records_in - prev.records_in) / secs)).c_str(),
                   Human(p.records_in).c_str(),
                   Human(static_cast<int64_t>((p.records_out - prev.records_out) / secs)).c_str(),
                   Human(p.records_out).c_str(), wm.c_str(), chk.c_str());
      prev = p;
      last = now;
    }
    if (tty) std::fprintf(stderr, "\r\033[K");
  });
  auto start = std::chrono::steady_clock::now();
  Status st = runner.Run();
  done = true;
  cv.notify_all();
  progress.join();
  watcher.join();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  runtime::Progress p = runner.GetProgress();
  if (interrupted) {
    std::fprintf(stderr, "weir: interrupted after %.1fs: %s records in, %s out\n", secs,
                 Human(p.records_in).c_str(), Human(p.records_out).c_str());
    return kExitInterrupted;
  }
  if (!st.ok()) {
    std::fprintf(stderr, "weir: job %s failed: %s\n", job.name.c_str(), st.message().c_str());
    return kExitJobFailed;
  }
  std::string late;
  if (p.late_dropped > 0) late = ", " + Human(p.late_dropped) + " late dropped";
  if (runner.restarts() > 0) late += ", " + std::to_string(runner.restarts()) + " restarts";
  std::fprintf(stderr, "weir: job %s finished in %.1fs: %s records in, %s out, %s malformed%s\n",
               job.name.c_str(), secs, Human(p.records_in).c_str(), Human(p.records_out).c_str(),
               Human(p.skipped).c_str(), late.c_str());
  return kExitOk;
}

}  // namespace weir::cli
