// Private to common/http: what an HTTPS server presents (certificate chain
// and key) and, with client authentication, whom it trusts (the CA), read
// from PEM files and read again on Refresh, so that a renewed certificate is
// served without a restart.
//
// cpp-httplib creates every connection's SSL from one SSL_CTX under a mutex
// of its own, so the SSL_CTX is never changed after start. Instead
// SetUpContext installs a certificate callback (SSL_CTX_set_cert_cb), which
// OpenSSL calls in each handshake after the ClientHello: it gives that one
// SSL the version in force (SSL_use_certificate, SSL_set1_chain,
// SSL_use_PrivateKey and, for client authentication, the CA as its verify
// store and the names it asks for). A version is immutable and shared
// (shared_ptr); Refresh swaps the pointer under a mutex, so a handshake
// sees either the old or the new version whole. Session resumption is off:
// every connection is verified against the CA in force.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/http/server.h"
#include "common/status.h"

namespace weir::http::internal {

class TlsIdentity {
 public:
  // Reads the files now: INVALID_ARGUMENT naming a file that cannot be read
  // or holds no PEM certificate (key), or a key that is not the
  // certificate's.
  static Result<std::unique_ptr<TlsIdentity>> Load(const TlsOptions& tls);
  ~TlsIdentity();

  // Reads the files again. Unchanged: OK. A new version that loads is
  // applied (logged); one that does not is refused and the version in
  // force kept, logged once per bad version and returned.
  Status Refresh();

  // TLS 1.2 or newer, the certificate callback, client verification when
  // asked for, no session resumption. For httplib::SSLServer's setup
  // callback; `this` must outlive `ctx`.
  bool SetUpContext(SSL_CTX* ctx);

  // The subject of the certificate in force ("CN=coordinator"), for logs and tests.
  std::string Subject() const;

 private:
  struct Version;
  struct Files {  // the files' bytes
    std::string cert, key, ca;
    bool operator==(const Files&) const = default;
  };
  explicit TlsIdentity(TlsOptions tls) : tls_(std::move(tls)) {}
  static Result<Files> ReadFiles(const TlsOptions& tls);
  static Result<std::shared_ptr<const Version>> Parse(const TlsOptions& tls, const Files& files);
  bool ApplyTo(SSL* ssl) const;

  const TlsOptions tls_;
  mutable std::mutex mu_;
  std::shared_ptr<const Version> current_;
  Files applied_;                 // the bytes of current_
  std::optional<Files> refused_;  // the last version refused (logged once)
};

}  // namespace weir::http::internal
