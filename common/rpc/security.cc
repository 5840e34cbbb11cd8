#include "common/rpc/security.h"

#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <openssl/evp.h>
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "common/files.h"
#include "common/log.h"

namespace weir::rpc {

namespace {

// A certificate, key or CA file: gRPC's watcher reads it; this checks it
// once, with a size limit, so a wrong path is an error at startup.
Status Readable(const std::string& what, const std::string& path) {
  auto text = ReadFileLimited(path, 1 << 20, "the " + what + " file");
  if (!text.ok()) return Status::InvalidArgument(text.status().message());
  return Status::OK();
}

}  // namespace

Result<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(const TlsFiles& tls) {
  if (tls.cert.empty()) {
    if (!tls.key.empty() || tls.require_client_cert)
      return Status::InvalidArgument("TLS needs a certificate (--tls-cert) for the server");
    return grpc::InsecureServerCredentials();
  }
  if (tls.key.empty()) return Status::InvalidArgument("--tls-cert needs --tls-key");
  WEIR_RETURN_IF_ERROR(Readable("certificate", tls.cert));
  WEIR_RETURN_IF_ERROR(Readable("key", tls.key));
  if (tls.require_client_cert) {
    if (tls.ca.empty())
      return Status::InvalidArgument("client certificates are verified against --tls-ca");
    WEIR_RETURN_IF_ERROR(Readable("CA", tls.ca));
  }
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      tls.key, tls.cert, tls.require_client_cert ? tls.ca : "", tls.refresh_s);
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (tls.require_client_cert) {
    options.watch_root_certs();
    options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  } else {
    options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  }
  return grpc::experimental::TlsServerCredentials(options);
}

Result<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentials(const TlsFiles& tls) {
  if (tls.ca.empty()) {
    if (!tls.cert.empty())
      return Status::InvalidArgument("a client certificate needs --tls-ca to verify the server");
    return grpc::InsecureChannelCredentials();
  }
  WEIR_RETURN_IF_ERROR(Readable("CA", tls.ca));
  std::shared_ptr<grpc::experimental::CertificateProviderInterface> provider;
  grpc::experimental::TlsChannelCredentialsOptions options;
  if (!tls.cert.empty()) {
    if (tls.key.empty()) return Status::InvalidArgument("--tls-cert needs --tls-key");
    WEIR_RETURN_IF_ERROR(Readable("certificate", tls.cert));
    WEIR_RETURN_IF_ERROR(Readable("key", tls.key));
    provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
        tls.key, tls.cert, tls.ca, tls.refresh_s);
    options.set_certificate_provider(provider);
    options.watch_identity_key_cert_pairs();
  } else {
    provider =
        std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(tls.ca, tls.refresh_s);
    options.set_certificate_provider(provider);
  }
  options.watch_root_certs();
  options.set_verify_server_certs(true);
  return grpc::experimental::TlsCredentials(options);
}

std::string_view RoleName(Role r) {
  switch (r) {
    case Role::kViewer:
      return "viewer";
    case Role::kOperator:
      return "operator";
    case Role::kAdmin:
      return "admin";
    case Role::kNone:
      break;
  }
  return "none";
}

std::string Sha256Hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

Result<std::unique_ptr<TokenAuth>> TokenAuth::Open(const std::string& file) {
  std::unique_ptr<TokenAuth> a(new TokenAuth(file));
  std::lock_guard lock(a->mu_);
  WEIR_RETURN_IF_ERROR(a->Reload());
  return a;
}

namespace {

Result<std::map<std::string, Principal, std::less<>>> ParseTokens(const std::string& file) {
  auto text = ReadFileLimited(file, 16 << 20, "the token file");
  if (!text.ok())
    return Status::InvalidArgument(text.status().code() == StatusCode::kNotFound
                                       ? "cannot read the token file '" + file + "'"
                                       : text.status().message());
  std::istringstream in(*text);
  std::map<std::string, Principal, std::less<>> by_hash;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::istringstream fields(line);
    std::string h, role, name, extra;
    if (!(fields >> h)) continue;  // blank
    const std::string where = file + ":" + std::to_string(n) + ": ";
    if (!(fields >> role >> name) || (fields >> extra))
      return Status::InvalidArgument(where + "expected '<sha256 hex> <role> <name>'");
    if (h.size() != 64 || h.find_first_not_of("0123456789abcdef") != std::string::npos)
      return Status::InvalidArgument(where +
                                     "the first field must be a token's SHA-256 in lowercase hex "
                                     "(printf %s TOKEN | sha256sum), never the token itself");
    Principal p;
    p.name = name;
    if (role == "viewer")
      p.role = Role::kViewer;
    else if (role == "operator")
      p.role = Role::kOperator;
    else if (role == "admin")
      p.role = Role::kAdmin;
    else
      return Status::InvalidArgument(where + "unknown role '" + role +
                                     "' (viewer, operator or admin)");
    by_hash[h] = std::move(p);
  }
  return by_hash;
}

}  // namespace

Status TokenAuth::Reload() {
  struct stat st;
  const int64_t version = ::stat(file_.c_str(), &st) != 0
                              ? -1
                              : static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 +
                                    st.st_mtim.tv_nsec + static_cast<int64_t>(st.st_size);
  if (version == version_) return verdict_;
  const bool first = version_ == -2;
  version_ = version;
  auto parsed = version == -1
                    ? Result<std::map<std::string, Principal, std::less<>>>(
                          Status::InvalidArgument("cannot read the token file '" + file_ + "'"))
                    : ParseTokens(file_);
  if (!parsed.ok()) {
    const bool was_ok = verdict_.ok();
    verdict_ = parsed.status();
    ++errors_;
    if (!first)
      log::Error(verdict_.message() + (was_ok ? "; refusing every admin call until it is fixed"
                                              : "; still refusing every admin call"));
    return verdict_;
  }
  by_hash_ = std::move(parsed).value();
  if (!verdict_.ok()) log::Info("token file '" + file_ + "' is valid again: admin calls resume");
  verdict_ = Status::OK();
  return verdict_;
}

Status TokenAuth::Refresh() {
  std::lock_guard lock(mu_);
  return Reload();
}

void TokenAuth::CollectMetrics(Metrics& m) {
  std::lock_guard lock(mu_);
  (void)Reload();
  m.Gauge("weir_auth_token_file_ok",
          "1 while --auth-tokens reads and parses; 0: every admin call is refused until the file "
          "is fixed (the log says why)",
          {}, verdict_.ok() ? 1 : 0);
  m.Counter("weir_auth_token_file_errors_total",
            "Versions of the --auth-tokens file that could not be read or parsed", {},
            static_cast<double>(errors_));
}

Status CheckRole(const Principal& who, Role needed) {
  if (who.role >= needed) return Status::OK();
  return Status(StatusCode::kPermissionDenied, who.name + " is " + std::string(RoleName(who.role)) +
                                                   "; this needs " + std::string(RoleName(needed)));
}

Result<Principal> TokenAuth::Identify(const grpc::ServerContext* ctx) {
  std::string token;
  const auto& md = ctx->client_metadata();
  if (auto it = md.find("authorization"); it != md.end()) {
    std::string_view v(it->second.data(), it->second.size());
    if (v.starts_with("Bearer ")) token = std::string(v.substr(7));
  }
  if (token.empty())
    return Status(StatusCode::kUnauthenticated,
                  "this coordinator needs a token (weir --token-file FILE, or WEIR_TOKEN)");
  const std::string h = Sha256Hex(token);
  std::lock_guard lock(mu_);
  if (!Reload().ok())
    return Status(StatusCode::kUnauthenticated,
                  "the coordinator cannot check tokens now: its token file is missing or "
                  "malformed (its log says why); every call is refused until it is fixed");
  auto it = by_hash_.find(h);
  if (it == by_hash_.end()) return Status(StatusCode::kUnauthenticated, "unknown token");
  return it->second;
}

}  // namespace weir::rpc
