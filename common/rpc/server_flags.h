// The settings of weir-coordinator and weir-worker: each one a flag, a WEIR_*
// variable and a --config key, registered together (Settings) so that its
// type and range are checked the same way whichever of the three sets it;
// and the settings both servers share (TLS, health and metrics ports, the
// metrics address, log format and level). Header only: the servers' mains
// use CLI11.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/http/server.h"
#include "common/log.h"
#include "common/rpc/security.h"

namespace weir::rpc {

class Settings {
 public:
  explicit Settings(CLI::App& app) : app_(app) {
    app_.add_option("--config", config_file_, "YAML file of settings (flags override it)");
  }

  CLI::Option* String(const std::string& name, std::string* target, const std::string& help,
                      const std::string& env) {
    keys_[name] = SetString(target);
    return Named(app_.add_option("--" + name, *target, help), env);
  }
  // A whole number within [min, max]: "7600abc" or 70000 for a port is an
  // error, from a flag, a variable or the file alike.
  CLI::Option* Int(const std::string& name, int64_t* target, int64_t min, int64_t max,
                   const std::string& help, const std::string& env) {
    keys_[name] = SetInt(target, min, max);
    return Named(app_.add_option("--" + name, *target, help)->check(CLI::Range(min, max)), env);
  }
  CLI::Option* OneOf(const std::string& name, std::string* target,
                     const std::vector<std::string>& allowed, const std::string& help,
                     const std::string& env) {
    keys_[name] = SetOneOf(target, allowed);
    return Named(app_.add_option("--" + name, *target, help)->check(CLI::IsMember(allowed)), env);
  }

  // A string that `check` accepts; what it refuses is an error naming the
  // setting, from a flag, a variable or the file (at file:line:col) alike.
  CLI::Option* Checked(const std::string& name, std::string* target,
                       std::function<Status(const std::string&)> check, const std::string& help,
                       const std::string& env) {
    keys_[name] = [target, check](const std::string& v) {
      WEIR_RETURN_IF_ERROR(check(v));
      *target = v;
      return Status::OK();
    };
    return Named(app_.add_option("--" + name, *target, help)->check([check](const std::string& v) {
      Status st = check(v);
      return st.ok() ? std::string() : st.message();
    }),
                 env);
  }

  // Applies the --config file named in argv, if any. Call before parsing:
  // WEIR_* variables and flags then override it. Errors name file:line:col.
  Status LoadConfig(int argc, char** argv) const {
    const std::string file = FindConfigFlag(argc, argv);
    return file.empty() ? Status::OK() : ApplyYamlConfig(file, keys_);
  }

 private:
  CLI::Option* Named(CLI::Option* o, const std::string& env) {
    if (!env.empty()) o->envname(env);
    return o->capture_default_str();
  }

  CLI::App& app_;
  std::string config_file_;  // read by LoadConfig (FindConfigFlag) before parsing
  std::map<std::string, ConfigSetter> keys_;
};

// Applies the --config file, then parses argv. Nothing: go on; else the
// process exits with the code (2 for a bad setting, logged as an error; 0
// after --help).
inline std::optional<int> ParseSettings(CLI::App& app, const Settings& settings, int argc,
                                        char** argv) {
  if (Status st = settings.LoadConfig(argc, argv); !st.ok()) {
    log::Error(st.message());
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    log::Error(std::string(e.what()) + " (see " + app.get_name() + " --help)");
    return 2;
  }
  return std::nullopt;
}

struct ServerFlags {
  explicit ServerFlags(int64_t default_metrics_port) : metrics_port(default_metrics_port) {}

  std::string cert, key, ca, client_auth = "false";
  int64_t metrics_port, health_port = -1;
  // Loopback by default: /metrics tells job, topic and worker names to
  // whoever can reach it, so every interface (0.0.0.0, as the Kubernetes
  // manifests set for Prometheus) is an explicit choice (docs/security.md).
  std::string metrics_address = "127.0.0.1";
  std::string log_format = "text", log_level = "info";

  void Add(Settings& s) {
    s.Int("metrics-port", &metrics_port, -1, 65535,
          "HTTP port for /metrics (Prometheus) and /healthz (0: any free port, -1: off)",
          "WEIR_METRICS_PORT");
    s.Checked("metrics-address", &metrics_address, http::CheckBindAddress,
              "IP address /metrics and /healthz listen on: 127.0.0.1 this host only, 0.0.0.0 or "
              ":: every interface (Prometheus from another host or pod)",
              "WEIR_METRICS_ADDRESS");
    s.Int("health-port", &health_port, -1, 65535,
          "plaintext port serving only grpc.health.v1 (probes that cannot do TLS); -1: off",
          "WEIR_HEALTH_PORT");
    s.OneOf("log-format", &log_format, {"text", "json"},
            "text (for people) or json (one object per line)", "WEIR_LOG_FORMAT");
    s.OneOf("log-level", &log_level, {"debug", "info", "warn", "error"},
            "the least severe events logged", "WEIR_LOG_LEVEL");
    s.String("tls-cert", &cert, "PEM certificate: serve TLS (reloaded when it changes)",
             "WEIR_TLS_CERT");
    s.String("tls-key", &key, "PEM private key of --tls-cert", "WEIR_TLS_KEY");
    s.String("tls-ca", &ca,
             "PEM CA that verifies the servers this process calls (and clients, with "
             "--tls-client-auth)",
             "WEIR_TLS_CA");
    s.OneOf("tls-client-auth", &client_auth, {"true", "false"},
            "true: mutual TLS, callers (and /metrics scrapers) must present a certificate "
            "--tls-ca signed",
            "WEIR_TLS_CLIENT_AUTH");
  }
  TlsFiles Tls() const {
    TlsFiles f;
    f.cert = cert;
    f.key = key;
    f.ca = ca;
    f.require_client_cert = client_auth == "true";
    return f;
  }
  // The metrics endpoint: --metrics-address and --metrics-port, HTTPS with
  // the gRPC server's certificate when TLS is on, and with
  // --tls-client-auth true scrapers need a certificate --tls-ca signed, as
  // every gRPC caller does. INVALID_ARGUMENT for an address that is not one.
  Result<http::ServerOptions> MetricsHttp() const {
    WEIR_RETURN_IF_ERROR(http::CheckBindAddress(metrics_address));
    http::ServerOptions o;
    o.address = metrics_address;
    o.port = static_cast<int>(metrics_port);
    o.tls.cert = cert;
    o.tls.key = key;
    o.tls.ca = ca;
    o.tls.require_client_cert = client_auth == "true";
    return o;
  }
};

// Serves GET /metrics (what `collect` renders) and GET /healthz as `flags`
// say, logging "metrics on URL"; nullptr with --metrics-port -1. An address
// that cannot be bound (the port is taken) is logged and the process runs
// without /metrics: several processes on one machine may want one port. A
// wrong setting (the address, TLS files) is returned: exit 2.
inline Result<std::unique_ptr<http::Server>> StartMetricsServer(
    const ServerFlags& flags, std::function<std::string()> collect) {
  if (flags.metrics_port < 0) return std::unique_ptr<http::Server>();
  WEIR_ASSIGN_OR_RETURN(http::ServerOptions options, flags.MetricsHttp());
  auto server = std::make_unique<http::Server>(options);
  http::AddMetricsRoutes(*server, std::move(collect));
  if (Status st = server->Start(); !st.ok()) {
    if (st.code() != StatusCode::kUnavailable) return st;
    log::Error(st.message() + "; running without /metrics (--metrics-address, --metrics-port)");
    return std::unique_ptr<http::Server>();
  }
  log::Info("metrics on " + server->Url("/metrics"));
  return server;
}

}  // namespace weir::rpc
