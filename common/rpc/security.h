// TLS and bearer tokens for weir's gRPC servers and clients.
//
// TLS: certificates and keys come from PEM files, which gRPC's file-watcher
// provider reads again every `refresh_s` seconds, so a renewed certificate is
// picked up without a restart. Without a certificate a server is plaintext;
// without a CA a client is. Mutual TLS (`require_client_cert`): the server
// asks for a client certificate and verifies it against the CA.
//
// Tokens: the admin API reads `authorization: Bearer TOKEN` metadata. The
// coordinator's token file holds only SHA-256 hashes of the tokens, one per
// line with a role and a name ("<sha256 hex> viewer|operator|admin NAME";
// `#` starts a comment); it is read again when it changes, and while it is
// missing or malformed every call is refused (TokenAuth::Refresh). Roles nest:
// viewer (list, describe, watch), operator (also submit, cancel, savepoint,
// rescale), admin (everything).
#pragma once

#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "common/metrics.h"
#include "common/status.h"

namespace weir::rpc {

struct TlsFiles {
  std::string cert;                  // PEM certificate chain (server; a client for mutual TLS)
  std::string key;                   // PEM private key for `cert`
  std::string ca;                    // PEM CA: a client verifies servers, a server verifies clients
  bool require_client_cert = false;  // server: mutual TLS
  unsigned refresh_s = 10;
};

// Plaintext when `tls.cert` is empty. Errors name the missing or unreadable file.
Result<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(const TlsFiles& tls);
// Plaintext when `tls.ca` is empty; presents `cert`/`key` when given.
Result<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentials(const TlsFiles& tls);

enum class Role { kNone = 0, kViewer = 1, kOperator = 2, kAdmin = 3 };
std::string_view RoleName(Role r);

struct Principal {
  std::string name;
  Role role = Role::kNone;
};

std::string Sha256Hex(std::string_view data);

// PERMISSION_DENIED when `who` may not do what `needed` allows.
Status CheckRole(const Principal& who, Role needed);

class TokenAuth {
 public:
  // Reads `file` now (errors at file:line) and again whenever it changes.
  static Result<std::unique_ptr<TokenAuth>> Open(const std::string& file);

  // Who sent the call: UNAUTHENTICATED without a known token, and for every
  // call while the token file is missing or malformed (see Refresh).
  Result<Principal> Identify(const grpc::ServerContext* ctx);

  // Reads the file again if it changed. A version that cannot be read or
  // parsed is not applied, and until the file is fixed every call is
  // refused: fail closed, because an edit that revokes a token must never
  // leave it valid by breaking the file. Each bad version is logged once
  // (with file:line), and so is the recovery. Returns the file's verdict.
  Status Refresh();
  // weir_auth_token_file_ok (1/0) and weir_auth_token_file_errors_total.
  void CollectMetrics(Metrics& m);

 private:
  explicit TokenAuth(std::string file) : file_(std::move(file)) {}
  Status Reload();  // with mu_ held

  std::string file_;
  std::mutex mu_;
  int64_t version_ = -2;  // mtime and size of the version last read; -1: missing
  Status verdict_;        // of that version
  int64_t errors_ = 0;    // bad versions seen
  std::map<std::string, Principal, std::less<>> by_hash_;
};

}  // namespace weir::rpc
