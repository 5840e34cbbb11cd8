// The commands that talk to a coordinator over the admin API: submit, list,
// describe, cancel, savepoint, checkpoints, rescale, workers. Tables for
// people (UPPERCASE headers, aligned), `-o json` (the API's messages in
// protobuf's canonical JSON) and `-o yaml` for scripts. Errors are one line
// on stderr; the exit code says what kind (cli/commands.h).
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "cli/commands.h"
#include "common/files.h"
#include "common/rpc/job_files.h"
#include "common/rpc/security.h"
#include "common/rpc/status.h"
#include "common/watermark.h"
#include "weir/v1/admin.grpc.pb.h"

namespace weir::cli {
namespace {

int ExitFor(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return kExitOk;
    case grpc::StatusCode::INVALID_ARGUMENT:
      return kExitUsage;
    case grpc::StatusCode::NOT_FOUND:
      return kExitNotFound;
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::ALREADY_EXISTS:
      return kExitWrongState;
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return kExitUnavailable;
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::PERMISSION_DENIED:
      return kExitDenied;
    default:
      return kExitError;
  }
}

int Fail(const RemoteOptions& r, const grpc::Status& st) {
  if (st.error_code() == grpc::StatusCode::UNAVAILABLE) {
    std::fprintf(stderr,
                 "weir: cannot reach the coordinator at %s (%s); is it running? "
                 "(--addr or WEIR_ADDR)\n",
                 r.addr.c_str(), st.error_message().c_str());
  } else if (st.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    std::fprintf(stderr, "weir: %s (--timeout)\n", st.error_message().c_str());
  } else {
    std::fprintf(stderr, "weir: %s\n", st.error_message().c_str());
    v1::ErrorInfo info = rpc::ErrorInfoOf(st);
    if (!info.hint().empty()) std::fprintf(stderr, "weir: hint: %s\n", info.hint().c_str());
  }
  return ExitFor(st.error_code());
}

std::unique_ptr<v1::Admin::Stub> Connect(const RemoteOptions& r) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  return v1::Admin::NewStub(grpc::CreateCustomChannel(r.addr, r.credentials, args));
}

void Authorize(grpc::ClientContext* ctx, const RemoteOptions& r) {
  if (!r.token.empty()) ctx->AddMetadata("authorization", "Bearer " + r.token);
}

void SetDeadline(grpc::ClientContext* ctx, const RemoteOptions& r) {
  ctx->set_deadline(std::chrono::system_clock::now() +
                    std::chrono::milliseconds(static_cast<int64_t>(r.timeout_s * 1000)));
  Authorize(ctx, r);
}

Result<std::string> ToJson(const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions o;
  o.add_whitespace = true;
  std::string out;
  auto st = google::protobuf::util::MessageToJsonString(m, &out, o);
  if (!st.ok())
    return Status::Internal("cannot print the coordinator's answer as JSON: " +
                            std::string(st.message()));
  return out;
}

void EmitYaml(const YAML::Node& n, YAML::Emitter& e) {
  if (n.IsMap()) {
    e << YAML::BeginMap;
    for (const auto& kv : n) {
      e << YAML::Key << kv.first.as<std::string>() << YAML::Value;
      EmitYaml(kv.second, e);
    }
    e << YAML::EndMap;
  } else if (n.IsSequence()) {
    e << YAML::BeginSeq;
    for (const auto& x : n) EmitYaml(x, e);
    e << YAML::EndSeq;
  } else if (n.IsScalar()) {
    e << n.as<std::string>();
  } else {
    e << YAML::Null;
  }
}

// Prints a message for scripts; false when the format is a table.
// With -o json or -o yaml: prints `m` so and returns the exit code (1 when
// it cannot be converted, e.g. a string that is not UTF-8); else nothing.
std::optional<int> PrintStructured(const GlobalOptions& g, const google::protobuf::Message& m) {
  if (g.output != "json" && g.output != "yaml") return std::nullopt;
  auto json = ToJson(m);
  if (!json.ok()) {
    std::fprintf(stderr, "weir: %s\n", json.status().message().c_str());
    return kExitError;
  }
  if (g.output == "json") {
    std::printf("%s", json->c_str());
  } else {
    YAML::Emitter e;
    EmitYaml(YAML::Load(*json), e);
    std::printf("%s\n", e.c_str());
  }
  return kExitOk;
}

void PrintTable(const GlobalOptions& g, const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(header.size(), 0);
  auto widen = [&](const std::vector<std::string>& r) {
    for (size_t i = 0; i < r.size() && i < width.size(); ++i)
      width[i] = std::max(width[i], r[i].size());
  };
  if (!g.no_headers) widen(header);
  for (const auto& r : rows) widen(r);
  auto print = [&](const std::vector<std::string>& r) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 3, ' ');
    }
    std::printf("%s\n", line.c_str());
  };
  if (!g.no_headers) print(header);
  for (const auto& r : rows) print(r);
}

std::string State(v1::JobState s) {
  return v1::JobState_Name(s).substr(std::string("JOB_STATE_").size());
}

std::string Age(int64_t ms) {
  if (ms <= 0) return "-";
  int64_t s = (std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count() -
               ms) /
              1000;
  if (s < 0) s = 0;
  if (s < 120) return std::to_string(s) + "s";
  if (s < 7200) return std::to_string(s / 60) + "m";
  if (s < 172800) return std::to_string(s / 3600) + "h";
  return std::to_string(s / 86400) + "d";
}

std::string Watermark(int64_t ms) {
  if (ms <= 0) return "-";
  if (ms == kMaxWatermark) return "end of input";
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::vector<std::string> JobRow(const GlobalOptions& g, const v1::Job& j) {
  std::vector<std::string> r = {
      j.id(),
      State(j.state()),
      std::to_string(j.parallelism()),
      std::to_string(j.records_in()),
      std::to_string(j.records_out()),
      j.last_checkpoint_id() ? std::to_string(j.last_checkpoint_id()) : "-",
      std::to_string(j.restarts()),
      Age(j.submitted_ms())};
  if (g.output == "wide") {
    r.push_back(Watermark(j.watermark_ms()));
    r.push_back(j.failure().empty() ? "-" : j.failure());
  }
  return r;
}

std::vector<std::string> JobHeader(const GlobalOptions& g) {
  std::vector<std::string> h = {"JOB", "STATE",      "PARALLELISM", "IN",
                                "OUT", "CHECKPOINT", "RESTARTS",    "AGE"};
  if (g.output == "wide") {
    h.push_back("WATERMARK");
    h.push_back("LAST FAILURE");
  }
  return h;
}

std::atomic<bool> g_interrupted{false};
void OnInterrupt(int) {
  g_interrupted.store(true);
}

// Follows a job until it ends; progress on a terminal, events always.
// How long --wait waits for a coordinator that went away (a restart) to
// come back; the job resumes on the restarted coordinator.
constexpr int64_t kReconnectMs = 120'000;

int Wait(const GlobalOptions& g, const RemoteOptions& r, v1::Admin::Stub* stub,
         const std::string& id) {
  v1::WatchJobRequest req;
  req.set_id(id);
  struct sigaction sa {};
  sa.sa_handler = OnInterrupt;
  sigaction(SIGINT, &sa, nullptr);
  std::mutex ctx_mu;
  grpc::ClientContext* current = nullptr;  // the watch in progress, guarded by ctx_mu
  std::atomic<bool> done{false};
  std::thread interrupter([&] {
    while (!done.load()) {
      if (g_interrupted.load()) {
        std::lock_guard lock(ctx_mu);
        if (current) current->TryCancel();
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  const bool tty = isatty(STDERR_FILENO) && !g.quiet;
  v1::JobEvent ev;
  v1::JobState last = v1::JOB_STATE_UNSPECIFIED;
  bool progress_shown = false, terminal = false;
  grpc::Status st;
  std::optional<std::chrono::steady_clock::time_point> lost_since;
  while (true) {
    grpc::ClientContext ctx;
    Authorize(&ctx, r);
    {
      std::lock_guard lock(ctx_mu);
      current = &ctx;
    }
    auto reader = stub->WatchJob(&ctx, req);
    while (reader->Read(&ev)) {
      if (lost_since) {
        std::fprintf(stderr, "weir: reconnected to the coordinator\n");
        lost_since.reset();
      }
      last = ev.job().state();
      if (!ev.message().empty()) {
        if (progress_shown) std::fputs("\r\033[K", stderr);
        progress_shown = false;
        std::fprintf(stderr, "%s: %s\n", id.c_str(), ev.message().c_str());
      } else if (tty) {
        std::fprintf(stderr, "\r\033[K%s %s: %lld in, %lld out, watermark %s, checkpoint %s",
                     id.c_str(), State(last).c_str(), static_cast<long long>(ev.job().records_in()),
                     static_cast<long long>(ev.job().records_out()),
                     Watermark(ev.job().watermark_ms()).c_str(),
                     ev.job().last_checkpoint_id()
                         ? std::to_string(ev.job().last_checkpoint_id()).c_str()
                         : "-");
        progress_shown = true;
      }
      terminal = last == v1::JOB_STATE_FINISHED || last == v1::JOB_STATE_FAILED ||
                 last == v1::JOB_STATE_CANCELLED;
      if (terminal) break;
    }
    st = reader->Finish();
    {
      std::lock_guard lock(ctx_mu);
      current = nullptr;
    }
    if (terminal || g_interrupted.load() || st.error_code() != grpc::StatusCode::UNAVAILABLE) break;
    // The coordinator went away (a restart): the job resumes when it is back.
    const auto now = std::chrono::steady_clock::now();
    if (!lost_since) {
      if (progress_shown) std::fputs("\n", stderr);
      progress_shown = false;
      std::fprintf(stderr,
                   "weir: lost the coordinator (%s); waiting up to %lld s for it to come back\n",
                   st.error_message().c_str(), static_cast<long long>(kReconnectMs / 1000));
      lost_since = now;
    } else if (now - *lost_since > std::chrono::milliseconds(kReconnectMs)) {
      break;
    }
    for (int i = 0; i < 10 && !g_interrupted.load(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (g_interrupted.load()) break;
  }
  if (progress_shown) std::fputs("\n", stderr);
  done.store(true);
  interrupter.join();
  if (g_interrupted.load()) {
    std::fprintf(stderr, "weir: stopped waiting; job %s keeps running (weir cancel %s)\n",
                 id.c_str(), id.c_str());
    return kExitInterrupted;
  }
  if (!st.ok() && last == v1::JOB_STATE_UNSPECIFIED) return Fail(r, st);
  switch (last) {
    case v1::JOB_STATE_FINISHED:
      return kExitOk;
    case v1::JOB_STATE_FAILED:
      return kExitJobFailed;
    case v1::JOB_STATE_CANCELLED:
      return kExitWrongState;
    default:
      std::fprintf(stderr, "weir: lost the job's progress stream (%s)\n",
                   st.error_message().c_str());
      return kExitUnavailable;
  }
}

}  // namespace

int PrepareRemote(RemoteOptions* r) {
  if (r->token.empty())
    if (const char* env = std::getenv("WEIR_TOKEN"); env) r->token = env;
  if (!r->token_file.empty()) {
    auto text = ReadFileLimited(r->token_file, 64 << 10, "the token file");
    if (!text.ok()) {
      std::fprintf(stderr, "weir: %s\n", text.status().message().c_str());
      return kExitUsage;
    }
    r->token = text->substr(0, text->find('\n'));
    if (r->token.empty()) {
      std::fprintf(stderr, "weir: cannot read a token from %s\n", r->token_file.c_str());
      return kExitUsage;
    }
    while (!r->token.empty() && (r->token.back() == '\r' || r->token.back() == ' '))
      r->token.pop_back();
  }
  rpc::TlsFiles tls;
  tls.ca = r->tls_ca;
  tls.cert = r->tls_cert;
  tls.key = r->tls_key;
  auto creds = rpc::ChannelCredentials(tls);
  if (!creds.ok()) {
    std::fprintf(stderr, "weir: %s\n", creds.status().message().c_str());
    return kExitUsage;
  }
  r->credentials = *creds;
  return kExitOk;
}

int RunSubmit(const GlobalOptions& g, const RemoteOptions& r, const SubmitCommand& cmd) {
  // Resolved and validated here: ${VAR} from this environment, the files the
  // job names read here, errors at file:line:col without a round trip. The
  // coordinator gets the result and substitutes or opens nothing itself.
  spec::LoadResult local = spec::LoadJob(cmd.job_file);
  if (!local.job) {
    std::fputs(spec::FormatDiagnostics(cmd.job_file, local.diagnostics).c_str(), stderr);
    return kExitUsage;
  }
  auto stub = Connect(r);
  grpc::ClientContext ctx;
  SetDeadline(&ctx, r);
  v1::SubmitJobRequest req;
  req.set_job_yaml(local.resolved_yaml);
  req.set_file_name(cmd.job_file);
  *req.mutable_files() = rpc::ToProto(local.files);
  req.set_parallelism(cmd.parallelism);
  req.set_from_savepoint(cmd.from_savepoint);
  v1::SubmitJobResponse resp;
  grpc::Status st = stub->SubmitJob(&ctx, req, &resp);
  if (!st.ok()) {
    auto errors = rpc::JobFileErrorsOf(st);
    if (!errors.empty()) {
      for (const auto& e : errors)
        std::fprintf(stderr, "%s:%d:%d: %s\n", e.file().c_str(), e.line(), e.column(),
                     e.message().c_str());
      return kExitUsage;
    }
    return Fail(r, st);
  }
  if (auto rc = PrintStructured(g, resp)) {
    if (*rc != kExitOk) return *rc;
  } else {
    std::printf("job %s submitted: %s\n", resp.job().id().c_str(),
                State(resp.job().state()).c_str());
  }
  if (!cmd.wait) return kExitOk;
  std::fflush(stdout);
  return Wait(g, r, stub.get(), resp.job().id());
}

int RunList(const GlobalOptions& g, const RemoteOptions& r, bool all) {
  auto stub = Connect(r);
  grpc::ClientContext ctx;
  SetDeadline(&ctx, r);
  v1::ListJobsRequest req;
  req.set_include_finished(all);
  v1::ListJobsResponse resp;
  grpc::Status st = stub->ListJobs(&ctx, req, &resp);
  if (!st.ok()) return Fail(r, st);
  if (auto rc = PrintStructured(g, resp)) return *rc;
  if (g.output == "name") {
    for (const auto& j : resp.jobs()) std::printf("%s\n", j.id().c_str());
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& j : resp.jobs()) rows.push_back(JobRow(g, j));
  PrintTable(g, JobHeader(g), rows);
  return kExitOk;
}

int RunDescribe(const GlobalOptions& g, const RemoteOptions& r, const std::string& id) {
  auto stub = Connect(r);
  grpc::ClientContext ctx;
  SetDeadline(&ctx, r);
  v1::GetJobRequest req;
  req.set_id(id);
  v1::Job j;
  grpc::Status st = stub->GetJob(&ctx, req, &j);
  if (!st.ok()) return Fail(r, st);
  if (auto rc = PrintStructured(g, j)) return *rc;
  std::printf("Job:          %s\n", j.id().c_str());
  std::printf("State:        %s\n", State(j.state()).c_str());
  std::printf("File:         %s\n", j.file_name().c_str());
  std::printf("Parallelism:  %d\n", j.parallelism());
  std::printf("Attempt:      %lld (restarts: %d)\n", static_cast<long long>(j.attempt()),
              j.restarts());
  std::printf("Records:      %lld in, %lld out, %lld malformed\n",
              static_cast<long long>(j.records_in()), static_cast<long long>(j.records_out()),
              static_cast<long long>(j.skipped()));
  std::printf("Watermark:    %s\n", Watermark(j.watermark_ms()).c_str());
  std::printf(
      "Checkpoint:   %s\n",
      j.last_checkpoint_id()
          ? (std::to_string(j.last_checkpoint_id()) + " " + j.last_checkpoint_path()).c_str()
          : "-");
  if (j.has_pending_checkpoint()) {
    const auto& p = j.pending_checkpoint();
    std::string who;
    for (const auto& w : p.waiting_for()) who += (who.empty() ? "" : ", ") + w;
    std::printf("In flight:    %s %lld for %.1f s%s%s\n",
                p.savepoint() ? "savepoint" : "checkpoint", static_cast<long long>(p.id()),
                static_cast<double>(p.age_ms()) / 1000.0, who.empty() ? "" : ", waiting for ",
                who.c_str());
  }
  if (!j.savepoint_path().empty()) std::printf("Savepoint:    %s\n", j.savepoint_path().c_str());
  if (!j.failure().empty()) std::printf("Last failure: %s\n", j.failure().c_str());
  std::printf("\nVertices:\n");
  std::vector<std::vector<std::string>> rows;
  for (const auto& v : j.graph().vertices()) {
    std::string chain;
    for (const auto& s : v.chain()) chain += (chain.empty() ? "" : " -> ") + s.name();
    std::string where;
    for (const auto& t : j.tasks())
      if (t.vertex() == v.id())
        where += (where.empty() ? "" : ",") + std::to_string(t.subtask()) + "@" + t.worker_id();
    rows.push_back({std::to_string(v.id()), v.name(), std::to_string(v.parallelism()), chain,
                    where.empty() ? "-" : where});
  }
  GlobalOptions with_headers = g;
  with_headers.no_headers = false;
  PrintTable(with_headers, {"ID", "VERTEX", "PARALLELISM", "CHAIN", "SUBTASKS"}, rows);
  if (j.endpoints_size() > 0) {
    std::printf("\nConnections:\n");
    rows.clear();
    for (const auto& e : j.endpoints()) {
      // Sorted, so the output is stable (a proto map has no order).
      std::map<std::string, std::string> settings(e.settings().begin(), e.settings().end());
      std::string text;
      for (const auto& [k, v] : settings) text += (text.empty() ? "" : " ") + k + "=" + v;
      rows.push_back({e.name(), e.role(), e.type(), e.address(), text.empty() ? "-" : text});
    }
    PrintTable(with_headers, {"NAME", "ROLE", "TYPE", "ADDRESS", "SETTINGS"}, rows);
  }
  return kExitOk;
}

int RunCancel(const GlobalOptions& g, const RemoteOptions& r, const std::string& id,
              bool savepoint) {
  auto stub = Connect(r);
  grpc::ClientContext ctx;
  SetDeadline(&ctx, r);
  v1::CancelJobRequest req;
  req.set_id(id);
  req.set_savepoint(savepoint);
  v1::CancelJobResponse resp;
  grpc::Status st = stub->CancelJob(&ctx, req, &resp);
  if (!st.ok()) return Fail(r, st);
  if (auto rc = PrintStructured(g, resp)) return *rc;
  if (savepoint)
    std::printf("job %s cancelled after savepoint %s\n", id.c_str(), resp.savepoint_path().c_str());
  else
    std::printf("job %s: %s\n", id.c_str(), State(resp.job().state()).c_str());
  return kExitOk;
}

int RunSavepoint(const GlobalOptions& g, const RemoteOptions& r, const std::string& id) {
  auto stub = Connect(r);
  grpc::ClientContext ctx;
  SetDeadline(&ctx, r);
  v1::TriggerSavepointRequest req;
  req.set_id(id);
  v1::TriggerSavepointResponse resp;
  grpc::Status st = stub->TriggerSavepoint(&ctx, req, &resp);
  if (!st.ok()) return Fail(r, st);
  if (auto rc = PrintStructured(g, resp)) return *rc;
  std::printf("%s\n", resp.path().c_str());
  return kExitOk;
}

int RunCheckpoints(const GlobalOptions& g, const RemoteOptions& r, const std::string& id) {
  auto stub = Connect(r);
  grpc::ClientContext ctx;
  SetDeadline(&ctx, r);
  v1::ListCheckpointsRequest req;
  req.set_id(id);
  v1::ListCheckpointsResponse resp;
  grpc::Status st = stub->ListCheckpoints(&ctx, req, &resp);
  if (!st.ok()) return Fail(r, st);
  if (auto rc = PrintStructured(g, resp)) return *rc;
  std::vector<std::vector<std::string>> rows;
  for (const auto& c : resp.checkpoints())
    rows.push_back({std::to_string(c.id()), c.savepoint() ? "savepoint" : "checkpoint",
                    Age(c.completed_ms()), std::to_string(c.bytes()), c.path()});
  PrintTable(g, {"ID", "KIND", "AGE", "BYTES", "PATH"}, rows);
  return kExitOk;
}

int RunRescale(const GlobalOptions& g, const RemoteOptions& r, const std::string& id,
               int parallelism) {
  auto stub = Connect(r);
  grpc::ClientContext ctx;
  SetDeadline(&ctx, r);
  v1::RescaleJobRequest req;
  req.set_id(id);
  req.set_parallelism(parallelism);
  v1::RescaleJobResponse resp;
  grpc::Status st = stub->RescaleJob(&ctx, req, &resp);
  if (!st.ok()) return Fail(r, st);
  if (auto rc = PrintStructured(g, resp)) return *rc;
  std::printf("job %s: rescaling to parallelism %d from %s\n", id.c_str(), parallelism,
              resp.savepoint_path().c_str());
  return kExitOk;
}

int RunWorkers(const GlobalOptions& g, const RemoteOptions& r) {
  auto stub = Connect(r);
  grpc::ClientContext ctx;
  SetDeadline(&ctx, r);
  v1::ListWorkersResponse resp;
  grpc::Status st = stub->ListWorkers(&ctx, v1::ListWorkersRequest(), &resp);
  if (!st.ok()) return Fail(r, st);
  if (auto rc = PrintStructured(g, resp)) return *rc;
  std::vector<std::vector<std::string>> rows;
  for (const auto& w : resp.workers())
    rows.push_back({w.id(), w.alive() ? "alive" : "lost", w.address(),
                    std::to_string(w.slots_used()) + "/" + std::to_string(w.slots()),
                    Age(w.last_heartbeat_ms()), Age(w.registered_ms())});
  PrintTable(g, {"WORKER", "STATUS", "ADDRESS", "SLOTS", "HEARTBEAT", "AGE"}, rows);
  return kExitOk;
}

}  // namespace weir::cli
