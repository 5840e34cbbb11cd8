// weir-worker: runs subtasks for a coordinator (shared/design/cli.md).
//   weir-worker [--config FILE] --coordinator HOST:PORT [--port 7700]
//               [--slots N] [--data-dir DIR] [--id ID] [--advertise HOST]
// Settings come from the YAML file, then WEIR_* environment variables, then
// flags. It serves the Exchange (plus grpc.health.v1 and reflection) on
// --port and keeps a control session with the coordinator until SIGTERM or
// SIGINT.
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "common/log.h"
#include "common/rpc/health.h"
#include "common/rpc/server_flags.h"
#include "worker/cluster/agent.h"

namespace {

void Log(const std::string& m) {
  weir::log::Info(m);
}

std::string Hostname() {
  char buf[256] = {0};
  if (::gethostname(buf, sizeof(buf) - 1) != 0) return "localhost";
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  std::string coordinator = "127.0.0.1:7600", data_dir, id, advertise;
  int64_t port = 7700, slots = 4;
  weir::rpc::ServerFlags common(9250);
  CLI::App app{"weir-worker: runs subtasks for a weir coordinator", "weir-worker"};
  weir::rpc::Settings settings(app);
  common.Add(settings);
  settings.String("coordinator", &coordinator, "the coordinator's HOST:PORT", "WEIR_COORDINATOR");
  settings.Int("port", &port, 0, 65535, "the exchange port (0: any free port)", "WEIR_PORT");
  settings.Int("slots", &slots, 1, 1024, "task slots", "WEIR_SLOTS");
  settings.String("data-dir", &data_dir, "where keyed state lives (default ./weir-worker-data)",
                  "WEIR_DATA_DIR");
  settings.String("id", &id, "a stable worker id (default HOST-PORT)", "WEIR_WORKER_ID");
  settings.String("advertise", &advertise,
                  "the host other workers reach this one at (default: this host's name, or "
                  "127.0.0.1 when the coordinator is on loopback)",
                  "WEIR_ADVERTISE");
  if (auto exit = weir::rpc::ParseSettings(app, settings, argc, argv)) return *exit;
  weir::log::Init("weir-worker", common.log_format, common.log_level);
  if (data_dir.empty()) data_dir = "weir-worker-data";
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) {
    Log("cannot create --data-dir " + data_dir + ": " + ec.message());
    return 1;
  }

  auto server_creds = weir::rpc::ServerCredentials(common.Tls());
  auto channel_creds = weir::rpc::ChannelCredentials(common.Tls());
  if (!server_creds.ok() || !channel_creds.ok()) {
    Log((server_creds.ok() ? channel_creds.status() : server_creds.status()).message());
    return 2;
  }
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  weir::cluster::ExchangeService exchange;
  grpc::ServerBuilder builder;
  int bound = 0;
  builder.AddListeningPort("0.0.0.0:" + std::to_string(port), *server_creds, &bound);
  builder.SetMaxReceiveMessageSize(64 << 20);
  builder.RegisterService(&exchange);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || bound == 0) {
    Log("cannot listen on port " + std::to_string(port) + " (in use?)");
    return 5;
  }
  if (advertise.empty()) {
    const bool loopback =
        coordinator.rfind("127.", 0) == 0 || coordinator.rfind("localhost", 0) == 0;
    advertise = loopback ? "127.0.0.1" : Hostname();
  }
  if (id.empty()) id = Hostname() + "-" + std::to_string(bound);

  weir::cluster::AgentOptions ao;
  ao.worker_id = id;
  ao.coordinator = coordinator;
  ao.address = advertise + ":" + std::to_string(bound);
  ao.slots = static_cast<int>(slots);
  ao.data_dir = (std::filesystem::path(data_dir) / id).string();
  ao.credentials = *channel_creds;
  // Attempts left by an earlier run of this worker are scratch.
  std::filesystem::remove_all(ao.data_dir, ec);
  weir::cluster::Agent agent(ao, &exchange);
  std::unique_ptr<grpc::Server> health;
  if (common.health_port >= 0) {
    auto started = weir::rpc::StartHealthServer(static_cast<int>(common.health_port));
    if (!started.ok()) {
      Log(started.status().message());
      return 5;
    }
    health = std::move(started).value();
  }
  auto metrics = weir::rpc::StartMetricsServer(common, [&agent] { return agent.RenderMetrics(); });
  if (!metrics.ok()) {
    weir::log::Error(metrics.status().message());
    return 2;
  }
  Log("worker " + id + " serving the exchange on " + ao.address + ", coordinator " + coordinator);

  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  std::thread signals([&] {
    int sig = 0;
    sigwait(&sigs, &sig);
    Log("stopping");
    agent.Stop();
  });
  signals.detach();
  agent.Run();
  if (*metrics) (*metrics)->Stop();
  exchange.Shutdown();
  if (health) health->Shutdown(std::chrono::system_clock::now());
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  return 0;
}
