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
#include "common/metrics.h"
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
  std::string coordinator = "127.0.0.1:7600", port = "7700", slots = "4", data_dir, id, advertise;
  std::map<std::string, std::string*> keys = {
      {"coordinator", &coordinator}, {"port", &port}, {"slots", &slots},
      {"data-dir", &data_dir},       {"id", &id},     {"advertise", &advertise},
  };
  weir::rpc::ServerFlags common("9250");
  if (weir::Status st = common.LoadConfig(argc, argv, &keys); !st.ok()) {
    Log(st.message());
    return 2;
  }
  CLI::App app{"weir-worker: runs subtasks for a weir coordinator", "weir-worker"};
  common.AddOptions(app);
  app.add_option("--coordinator", coordinator, "the coordinator's HOST:PORT")
      ->envname("WEIR_COORDINATOR")
      ->capture_default_str();
  app.add_option("--port", port, "the exchange port (0: any free port)")
      ->envname("WEIR_PORT")
      ->capture_default_str();
  app.add_option("--slots", slots, "task slots")->envname("WEIR_SLOTS")->capture_default_str();
  app.add_option("--data-dir", data_dir, "where keyed state lives (default ./weir-worker-data)")
      ->envname("WEIR_DATA_DIR");
  app.add_option("--id", id, "a stable worker id (default HOST-PORT)")->envname("WEIR_WORKER_ID");
  app.add_option("--advertise", advertise,
                 "the host other workers reach this one at (default: this host's name, or "
                 "127.0.0.1 when the coordinator is on loopback)")
      ->envname("WEIR_ADVERTISE");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    Log(std::string(e.what()) + " (see weir-worker --help)");
    return 2;
  }
  weir::log::Init("weir-worker", common.log_format);
  int port_n = 0, slots_n = 0, metrics_n = 0;
  try {
    port_n = std::stoi(port);
    slots_n = std::stoi(slots);
    metrics_n = std::stoi(common.metrics_port);
  } catch (...) {
    Log("--port and --slots take numbers");
    return 2;
  }
  if (slots_n < 1 || slots_n > 1024) {
    Log("--slots must be 1..1024");
    return 2;
  }
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
  builder.AddListeningPort("0.0.0.0:" + std::to_string(port_n), *server_creds, &bound);
  builder.SetMaxReceiveMessageSize(64 << 20);
  builder.RegisterService(&exchange);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || bound == 0) {
    Log("cannot listen on port " + std::to_string(port_n) + " (in use?)");
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
  ao.slots = slots_n;
  ao.data_dir = (std::filesystem::path(data_dir) / id).string();
  ao.credentials = *channel_creds;
  // Attempts left by an earlier run of this worker are scratch.
  std::filesystem::remove_all(ao.data_dir, ec);
  weir::cluster::Agent agent(ao, &exchange);
  std::unique_ptr<grpc::Server> health;
  if (int hp = std::atoi(common.health_port.c_str()); hp >= 0) {
    auto started = weir::rpc::StartHealthServer(hp);
    if (!started.ok()) {
      Log(started.status().message());
      return 5;
    }
    health = std::move(started).value();
  }
  weir::MetricsServer metrics;
  if (metrics_n >= 0) {
    weir::Status st = metrics.Start(metrics_n, [&agent] { return agent.RenderMetrics(); });
    if (!st.ok())  // not fatal: several processes on one machine may want one port
      Log(st.message() + "; running without /metrics (--metrics-port)");
    else
      Log("metrics on http://0.0.0.0:" + std::to_string(metrics.port()) + "/metrics");
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
  metrics.Stop();
  exchange.Shutdown();
  if (health) health->Shutdown(std::chrono::system_clock::now());
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  return 0;
}
