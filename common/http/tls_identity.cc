#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/files.h"
#include "common/http/tls_identity_internal.h"
#include "common/log.h"

namespace weir::http::internal {

struct TlsIdentity::Version {
  X509* leaf = nullptr;
  STACK_OF(X509) * chain = nullptr;  // the certificates after the leaf
  EVP_PKEY* key = nullptr;
  X509_STORE* ca = nullptr;                  // client authentication only
  STACK_OF(X509_NAME) * ca_names = nullptr;  // asked for in the CertificateRequest

  Version() = default;
  Version(const Version&) = delete;
  Version& operator=(const Version&) = delete;
  ~Version() {
    X509_free(leaf);
    sk_X509_pop_free(chain, X509_free);
    EVP_PKEY_free(key);
    X509_STORE_free(ca);
    sk_X509_NAME_pop_free(ca_names, X509_NAME_free);
  }
};

namespace {

Status ReadFile(const char* what, const std::string& path, std::string* out) {
  auto text = ReadFileLimited(path, 1 << 20, "the TLS " + std::string(what) + " file");
  if (!text.ok()) return Status::InvalidArgument(text.status().message());
  *out = std::move(text).value();
  return Status::OK();
}

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using Bio = std::unique_ptr<BIO, BioFree>;

Bio MemBio(const std::string& bytes) {
  return Bio(BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())));
}

// No passphrase prompt on the terminal: an encrypted key is an error.
int NoPassword(char*, int, int, void*) {
  return 0;
}

std::string OpensslError() {
  const unsigned long e = ERR_peek_last_error();
  ERR_clear_error();
  if (e == 0) return "";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  return std::string(" (") + buf + ")";
}

}  // namespace

Result<TlsIdentity::Files> TlsIdentity::ReadFiles(const TlsOptions& tls) {
  Files f;
  WEIR_RETURN_IF_ERROR(ReadFile("certificate", tls.cert, &f.cert));
  WEIR_RETURN_IF_ERROR(ReadFile("key", tls.key, &f.key));
  if (tls.require_client_cert) WEIR_RETURN_IF_ERROR(ReadFile("CA", tls.ca, &f.ca));
  return f;
}

Result<std::shared_ptr<const TlsIdentity::Version>> TlsIdentity::Parse(const TlsOptions& tls,
                                                                       const Files& files) {
  auto v = std::make_shared<Version>();
  Bio cert = MemBio(files.cert);
  v->leaf = PEM_read_bio_X509(cert.get(), nullptr, NoPassword, nullptr);
  if (!v->leaf)
    return Status::InvalidArgument("no PEM certificate in '" + tls.cert + "'" + OpensslError());
  v->chain = sk_X509_new_null();
  while (X509* c = PEM_read_bio_X509(cert.get(), nullptr, NoPassword, nullptr))
    sk_X509_push(v->chain, c);
  ERR_clear_error();  // the end of the file
  Bio key = MemBio(files.key);
  v->key = PEM_read_bio_PrivateKey(key.get(), nullptr, NoPassword, nullptr);
  if (!v->key)
    return Status::InvalidArgument("no PEM private key (without a passphrase) in '" + tls.key +
                                   "'" + OpensslError());
  if (X509_check_private_key(v->leaf, v->key) != 1)
    return Status::InvalidArgument("the key '" + tls.key + "' is not the key of the certificate '" +
                                   tls.cert + "'" + OpensslError());
  if (tls.require_client_cert) {
    v->ca = X509_STORE_new();
    v->ca_names = sk_X509_NAME_new_null();
    Bio ca = MemBio(files.ca);
    int n = 0;
    while (X509* c = PEM_read_bio_X509(ca.get(), nullptr, NoPassword, nullptr)) {
      X509_STORE_add_cert(v->ca, c);
      sk_X509_NAME_push(v->ca_names, X509_NAME_dup(X509_get_subject_name(c)));
      X509_free(c);
      ++n;
    }
    ERR_clear_error();
    if (n == 0)
      return Status::InvalidArgument("no PEM certificate in the CA file '" + tls.ca + "'");
  }
  return std::shared_ptr<const Version>(std::move(v));
}

Result<std::unique_ptr<TlsIdentity>> TlsIdentity::Load(const TlsOptions& tls) {
  if (tls.cert.empty() || tls.key.empty())
    return Status::InvalidArgument("HTTPS needs a certificate and its key (--tls-cert, --tls-key)");
  if (tls.require_client_cert && tls.ca.empty())
    return Status::InvalidArgument("client certificates are verified against --tls-ca");
  WEIR_ASSIGN_OR_RETURN(Files files, ReadFiles(tls));
  WEIR_ASSIGN_OR_RETURN(std::shared_ptr<const Version> version, Parse(tls, files));
  std::unique_ptr<TlsIdentity> id(new TlsIdentity(tls));
  id->current_ = std::move(version);
  id->applied_ = std::move(files);
  return id;
}

TlsIdentity::~TlsIdentity() = default;

Status TlsIdentity::Refresh() {
  Result<Files> files = ReadFiles(tls_);
  const Files seen = files.ok() ? *files : Files{};  // unreadable: no bytes
  {
    std::lock_guard lock(mu_);
    if (files.ok() && seen == applied_) return Status::OK();
  }
  Status st = files.status();
  std::shared_ptr<const Version> version;
  if (files.ok()) {
    auto parsed = Parse(tls_, seen);
    if (parsed.ok())
      version = std::move(parsed).value();
    else
      st = parsed.status();
  }
  std::lock_guard lock(mu_);
  if (!version) {
    // A file being replaced (the certificate written, the key not yet) is
    // read again at the next refresh; each bad version is logged once.
    if (!refused_ || !(*refused_ == seen))
      log::Error("cannot reload the HTTPS certificate: " + st.message() +
                 "; still serving the previous one");
    refused_ = seen;
    return st;
  }
  current_ = std::move(version);
  applied_ = seen;
  refused_.reset();
  log::Info("HTTPS certificate reloaded from " + tls_.cert);
  return Status::OK();
}

bool TlsIdentity::ApplyTo(SSL* ssl) const {
  std::shared_ptr<const Version> v;
  {
    std::lock_guard lock(mu_);
    v = current_;
  }
  if (SSL_use_certificate(ssl, v->leaf) != 1 || SSL_use_PrivateKey(ssl, v->key) != 1 ||
      SSL_set1_chain(ssl, v->chain) != 1)
    return false;
  if (tls_.require_client_cert) {
    if (SSL_set1_verify_cert_store(ssl, v->ca) != 1) return false;
    SSL_set_client_CA_list(ssl, SSL_dup_CA_list(v->ca_names));
  }
  return true;
}

bool TlsIdentity::SetUpContext(SSL_CTX* ctx) {
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) return false;
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET);
  // Every connection is verified against the CA in force: no resumption.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(ctx, 0);
  SSL_CTX_set_cert_cb(
      ctx,
      [](SSL* ssl, void* self) -> int {
        return static_cast<const TlsIdentity*>(self)->ApplyTo(ssl) ? 1 : 0;
      },
      this);
  SSL_CTX_set_verify(ctx,
                     tls_.require_client_cert ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
                                              : SSL_VERIFY_NONE,
                     nullptr);
  return true;
}

std::string TlsIdentity::Subject() const {
  std::shared_ptr<const Version> v;
  {
    std::lock_guard lock(mu_);
    v = current_;
  }
  char buf[256];
  X509_NAME_oneline(X509_get_subject_name(v->leaf), buf, sizeof(buf));
  return buf;
}

}  // namespace weir::http::internal
