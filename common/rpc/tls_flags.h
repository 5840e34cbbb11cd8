// The TLS settings of weir-coordinator and weir-worker, as flags, WEIR_*
// variables and --config keys (header only: the servers' mains use CLI11).
#pragma once

#include <CLI/CLI.hpp>
#include <map>
#include <string>

#include "common/rpc/security.h"

namespace weir::rpc {

struct TlsFlags {
  std::string cert, key, ca, client_auth = "false";

  void AddConfigKeys(std::map<std::string, std::string*>* keys) {
    (*keys)["tls-cert"] = &cert;
    (*keys)["tls-key"] = &key;
    (*keys)["tls-ca"] = &ca;
    (*keys)["tls-client-auth"] = &client_auth;
  }
  void AddOptions(CLI::App& app) {
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
  TlsFiles Files() const {
    TlsFiles f;
    f.cert = cert;
    f.key = key;
    f.ca = ca;
    f.require_client_cert = client_auth == "true";
    return f;
  }
};

}  // namespace weir::rpc
