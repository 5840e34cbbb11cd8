// weir-coordinator: the job registry, scheduler, checkpoint coordinator and
// failure detector of a cluster (shared/design/cli.md).
//   weir-coordinator [--config FILE] [--data-dir DIR] [--port 7600]
//                    [--checkpoint-storage URI] [--heartbeat-timeout MS]
// Serves weir.v1.Admin and weir.v1.Control on --port, with grpc.health.v1
// and server reflection, until SIGTERM or SIGINT.
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "common/log.h"
#include "common/metrics.h"
#include "common/rpc/health.h"
#include "common/rpc/server_flags.h"
#include "coordinator/services.h"

namespace {
void Log(const std::string& m) {
  weir::log::Info(m);
}
}  // namespace

int main(int argc, char** argv) {
  std::string data_dir = "weir-coordinator-data", storage, allow_storage, auth_tokens;
  int64_t port = 7600, hb_timeout = 5000, hb_interval = 500;
  weir::rpc::ServerFlags common(9249);
  CLI::App app{"weir-coordinator: schedules weir jobs on workers", "weir-coordinator"};
  weir::rpc::Settings settings(app);
  common.Add(settings);
  settings.String("data-dir", &data_dir, "the job registry and default checkpoint storage",
                  "WEIR_DATA_DIR");
  settings.Int("port", &port, 0, 65535, "admin and control port (0: any free port)", "WEIR_PORT");
  settings.String("checkpoint-storage", &storage,
                  "file:// URI for jobs that name none (default DATA_DIR/checkpoints); workers "
                  "must see the same path",
                  "WEIR_CHECKPOINT_STORAGE");
  settings.String("allow-storage", &allow_storage,
                  "comma-separated file:// URIs or absolute paths where jobs may also keep "
                  "checkpoints and restore savepoints from (besides --checkpoint-storage)",
                  "WEIR_ALLOW_STORAGE");
  settings.Int("heartbeat-timeout", &hb_timeout, 20, 3'600'000,
               "ms without a heartbeat before a worker is lost", "WEIR_HEARTBEAT_TIMEOUT");
  settings.Int("heartbeat-interval", &hb_interval, 10, 600'000, "ms between a worker's heartbeats",
               "WEIR_HEARTBEAT_INTERVAL");
  settings.String("auth-tokens", &auth_tokens,
                  "file of '<sha256 of token> <viewer|operator|admin> <name>' lines: the admin "
                  "API then needs a bearer token",
                  "WEIR_AUTH_TOKENS");
  if (auto exit = weir::rpc::ParseSettings(app, settings, argc, argv)) return *exit;
  weir::log::Init("weir-coordinator", common.log_format, common.log_level);
  weir::coordinator::ManagerOptions mo;
  mo.heartbeat_timeout_ms = hb_timeout;
  mo.heartbeat_interval_ms = hb_interval;
  if (mo.heartbeat_timeout_ms < 2 * mo.heartbeat_interval_ms) {
    weir::log::Error("--heartbeat-timeout must be at least twice --heartbeat-interval");
    return 2;
  }
  mo.data_dir = data_dir;
  mo.checkpoint_storage = storage;
  for (size_t start = 0; start < allow_storage.size();) {
    size_t comma = std::min(allow_storage.find(',', start), allow_storage.size());
    if (comma > start) mo.allow_storage.push_back(allow_storage.substr(start, comma - start));
    start = comma + 1;
  }
  mo.log = [](weir::log::Level l, const std::string& m, const weir::log::Fields& f) {
    weir::log::Write(l, m, f);
  };
  auto manager = weir::coordinator::JobManager::Create(mo);
  if (!manager.ok()) {
    Log(manager.status().message());
    return 1;
  }

  auto creds = weir::rpc::ServerCredentials(common.Tls());
  if (!creds.ok()) {
    Log(creds.status().message());
    return 2;
  }
  std::unique_ptr<weir::rpc::TokenAuth> auth;
  if (!auth_tokens.empty()) {
    auto opened = weir::rpc::TokenAuth::Open(auth_tokens);
    if (!opened.ok()) {
      Log(opened.status().message());
      return 2;
    }
    auth = std::move(opened).value();
  }
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  weir::coordinator::AdminService admin(manager->get(), auth.get());
  weir::coordinator::ControlService control(manager->get());
  grpc::ServerBuilder builder;
  int bound = 0;
  builder.AddListeningPort("0.0.0.0:" + std::to_string(port), *creds, &bound);
  builder.SetMaxReceiveMessageSize(16 << 20);
  builder.RegisterService(&admin);
  builder.RegisterService(&control);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || bound == 0) {
    Log("cannot listen on port " + std::to_string(port) + " (in use?)");
    return 5;
  }
  std::unique_ptr<grpc::Server> health;
  if (common.health_port >= 0) {
    auto started = weir::rpc::StartHealthServer(static_cast<int>(common.health_port));
    if (!started.ok()) {
      Log(started.status().message());
      return 5;
    }
    health = std::move(started).value();
  }
  auto metrics = weir::rpc::StartMetricsServer(common, [m = manager->get(), a = auth.get()] {
    std::string text = m->RenderMetrics();
    if (a) {
      weir::Metrics am;
      a->CollectMetrics(am);
      text += am.Render();
    }
    return text;
  });
  if (!metrics.ok()) {
    weir::log::Error(metrics.status().message());
    return 2;
  }
  Log("serving on port " + std::to_string(bound) + ", data in " + data_dir);

  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  std::atomic<bool> stop{false};
  std::thread ticker([&] {
    while (!stop.load()) {
      (*manager)->Tick();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  int sig = 0;
  sigwait(&sigs, &sig);
  Log("stopping (jobs resume when a coordinator starts again on this data directory)");
  stop.store(true);
  ticker.join();
  if (*metrics) (*metrics)->Stop();
  if (health) health->Shutdown(std::chrono::system_clock::now());
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  return 0;
}
