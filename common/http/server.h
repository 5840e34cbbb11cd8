// A small HTTP/1.1 server for weir's own endpoints: /metrics and /healthz
// today, the web console later. It wraps Debian's cpp-httplib (0.11), which
// parses requests properly (a request may arrive in any number of packets),
// and adds what weir needs around it:
//
//  - one bind address and port (ServerOptions::address; no implicit
//    "every interface");
//  - HTTPS with the process's --tls-cert/--tls-key when they are set. The
//    files are read again every `tls.refresh_s` seconds (10, like gRPC's
//    file watcher) and a version that parses replaces the served one
//    without a restart; a broken version is logged and the previous one
//    kept. With `tls.require_client_cert` a client must present a
//    certificate that `tls.ca` signed, or the handshake fails;
//  - small limits, since these are GET endpoints: a request line or header
//    line over 8 KiB is refused by cpp-httplib (414 / 400), all headers
//    together over `max_header_bytes` with 431, a body over
//    `max_body_bytes` with 413; a client that sends nothing for
//    `read_timeout` is dropped; at most `threads` connections are served at
//    once and 16 more wait, while further clients wait in the kernel's
//    listen backlog (nothing of the process is held for them);
//    cpp-httplib 0.11 reads a whole line, and all the header lines, before
//    any of these limits applies, so a client that keeps sending fast is
//    buffered until it stops (docs/security.md: loopback by default, and
//    with client authentication nobody gets that far without a
//    certificate);
//  - no exceptions out of the module: a handler that throws answers 500.
//
// Lifecycle: construct, Get() each route, Start() (binds, then serves on
// threads of its own), Stop() (or the destructor): the listener closes at
// once, and Stop waits up to `stop_timeout` for the requests in flight (an
// idle kept-alive connection ends within `keep_alive`); a client still
// trickling a request then is left to its read timeout, on threads that no
// longer touch the Server object. Handlers run on the
// server's threads, several at once: they must be thread-safe. cpp-httplib
// itself is included by server.cc only.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace weir::http {

struct Request {
  std::string method;  // GET or HEAD (HEAD gets the headers of the GET route)
  std::string path;
  std::vector<std::pair<std::string, std::string>> params;  // the query, decoded
  std::string remote_addr;
};

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

using Handler = std::function<Response(const Request&)>;

struct TlsOptions {
  std::string cert;                  // PEM certificate chain; empty: plain HTTP
  std::string key;                   // PEM private key of `cert`
  std::string ca;                    // PEM CA that signs client certificates
  bool require_client_cert = false;  // refuse clients without one `ca` signed
  unsigned refresh_s = 10;           // how often the files are read again
};

struct ServerOptions {
  std::string address = "127.0.0.1";  // an IPv4 or IPv6 address of this host
  int port = 0;                       // 0: any free port (see Server::port)
  TlsOptions tls;
  std::chrono::milliseconds read_timeout{5000};   // per read of a request
  std::chrono::milliseconds write_timeout{5000};  // per write of a response
  std::chrono::seconds keep_alive{2};             // idle time before a connection is closed
  std::chrono::milliseconds stop_timeout{5000};   // what Stop waits for requests in flight
  size_t max_header_bytes = 8192;                 // the request line and all headers
  size_t max_body_bytes = 1024;
  int threads = 2;
};

// OK for an address a server can bind: an IPv4 or IPv6 literal ("127.0.0.1",
// "0.0.0.0", "::1", "::"). Host names are refused: which interface one
// resolves to can change under a running process.
Status CheckBindAddress(const std::string& address);

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Routes a GET (and HEAD) of exactly `path`. Before Start only.
  void Get(const std::string& path, Handler handler);

  // Binds and starts serving. INVALID_ARGUMENT for a bad address or TLS
  // files that cannot be read or do not match (fix the setting);
  // UNAVAILABLE when the address cannot be bound (the port is taken, or the
  // address is not this host's).
  Status Start();
  // Idempotent; see the lifecycle above.
  void Stop();

  int port() const;  // the bound port, after Start
  bool tls() const;  // HTTPS
  // "http://127.0.0.1:9249/metrics", "https://[::1]:9249/metrics".
  std::string Url(const std::string& path) const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;  // shared with the serving threads
};

// The Prometheus routes every weir server has: GET /metrics (what `collect`
// renders, text format 0.0.4) and GET /healthz ("ok").
void AddMetricsRoutes(Server& server, std::function<std::string()> collect);

}  // namespace weir::http
