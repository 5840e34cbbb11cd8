// The settings weir-coordinator and weir-worker share (TLS, health and
// metrics ports, log format), as flags, WEIR_* variables and --config keys
// (header only: the servers' mains use CLI11).
#pragma once

#include <CLI/CLI.hpp>
#include <map>
#include <string>

#include "common/config.h"
#include "common/rpc/security.h"

namespace weir::rpc {

struct ServerFlags {
  explicit ServerFlags(std::string default_metrics_port)
      : metrics_port(std::move(default_metrics_port)) {}

  std::string cert, key, ca, client_auth = "false";
  std::string metrics_port, health_port = "-1", log_format = "text";
  std::string config_file;  // parsed by LoadConfig before the flags

  void AddConfigKeys(std::map<std::string, std::string*>* keys) {
    (*keys)["tls-cert"] = &cert;
    (*keys)["tls-key"] = &key;
    (*keys)["tls-ca"] = &ca;
    (*keys)["tls-client-auth"] = &client_auth;
    (*keys)["metrics-port"] = &metrics_port;
    (*keys)["health-port"] = &health_port;
    (*keys)["log-format"] = &log_format;
  }
  // Adds these settings' keys to `keys` and applies the --config YAML file
  // named in argv, if any (flags and WEIR_* variables, parsed later,
  // override it). Errors name file:line:col.
  Status LoadConfig(int argc, char** argv, std::map<std::string, std::string*>* keys) {
    AddConfigKeys(keys);
    const std::string file = FindConfigFlag(argc, argv);
    return file.empty() ? Status::OK() : ApplyYamlConfig(file, *keys);
  }

  // --config and the shared settings as flags.
  void AddOptions(CLI::App& app) {
    app.add_option("--config", config_file, "YAML file of settings (flags override it)");
    app.add_option("--metrics-port", metrics_port,
                   "HTTP port for /metrics (Prometheus) and /healthz (0: any free port, -1: off)")
        ->envname("WEIR_METRICS_PORT")
        ->capture_default_str();
    app.add_option("--health-port", health_port,
                   "plaintext port serving only grpc.health.v1 (probes that cannot do TLS); -1: "
                   "off")
        ->envname("WEIR_HEALTH_PORT")
        ->capture_default_str();
    app.add_option("--log-format", log_format, "text (for people) or json (one object per line)")
        ->envname("WEIR_LOG_FORMAT")
        ->check(CLI::IsMember({"text", "json"}))
        ->capture_default_str();
    app.add_option("--tls-cert", cert, "PEM certificate: serve TLS (reloaded when it changes)")
        ->envname("WEIR_TLS_CERT");
    app.add_option("--tls-key", key, "PEM private key of --tls-cert")->envname("WEIR_TLS_KEY");
    app.add_option("--tls-ca", ca,
                   "PEM CA that verifies the servers this process calls (and clients, with "
                   "--tls-client-auth)")
        ->envname("WEIR_TLS_CA");
    app.add_option("--tls-client-auth", client_auth,
                   "true: mutual TLS, callers must present a certificate --tls-ca signed")
        ->envname("WEIR_TLS_CLIENT_AUTH")
        ->check(CLI::IsMember({"true", "false"}))
        ->capture_default_str();
  }
  TlsFiles Tls() const {
    TlsFiles f;
    f.cert = cert;
    f.key = key;
    f.ca = ca;
    f.require_client_cert = client_auth == "true";
    return f;
  }
};

}  // namespace weir::rpc
