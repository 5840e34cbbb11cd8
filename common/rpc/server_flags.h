// The settings of weir-coordinator and weir-worker: each one a flag, a WEIR_*
// variable and a --config key, registered together (Settings) so that its
// type and range are checked the same way whichever of the three sets it;
// and the settings both servers share (TLS, health and metrics ports, log
// format and level). Header only: the servers' mains use CLI11.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/config.h"
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
  std::string log_format = "text", log_level = "info";

  void Add(Settings& s) {
    s.Int("metrics-port", &metrics_port, -1, 65535,
          "HTTP port for /metrics (Prometheus) and /healthz (0: any free port, -1: off)",
          "WEIR_METRICS_PORT");
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
            "true: mutual TLS, callers must present a certificate --tls-ca signed",
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
};

}  // namespace weir::rpc
