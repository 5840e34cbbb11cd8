// The HTTP(S) server of /metrics and /healthz (common/http/server.h), on
// real loopback sockets: raw TCP clients for what a parser must survive
// (a request one byte at a time, oversized requests), and an OpenSSL client
// (not cpp-httplib's) for HTTPS, certificate reload and client
// certificates, with certificates the openssl command makes.
#include "common/http/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

namespace weir::http {
namespace {

namespace fs = std::filesystem;

// A connected TCP socket to host:port, or -1.
int Connect(const std::string& host, int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, host.c_str(), &a.sin_addr);
  timeval tv{10, 0};  // never hang a test on a server that does not answer
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// One response: its head and Content-Length bytes of body, or what came
// until the server closed. (A refused request's response says
// "Connection: close", but cpp-httplib 0.11 keeps the connection for its
// keep-alive time all the same.)
std::string ReadResponse(int fd) {
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof(buf), 0)) > 0;) {
    out.append(buf, static_cast<size_t>(n));
    const size_t head = out.find("\r\n\r\n");
    if (head == std::string::npos) continue;
    const size_t at = out.find("\r\nContent-Length: ");
    if (at == std::string::npos || at > head) continue;
    const size_t length = std::stoul(out.substr(at + 18));
    if (out.size() >= head + 4 + length) break;
  }
  return out;
}

void SendAll(int fd, const std::string& data) {
  for (size_t off = 0; off < data.size();) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;  // the server may close early on a refused request
    off += static_cast<size_t>(n);
  }
}

// `request` on a fresh connection; the whole response ("" if none).
// `hang_up`: close the sending side after the request (cpp-httplib then
// reads to the end but writes no response).
std::string Exchange(int port, const std::string& request, const std::string& host = "127.0.0.1",
                     bool hang_up = false) {
  int fd = Connect(host, port);
  if (fd < 0) return "";
  SendAll(fd, request);
  if (hang_up) ::shutdown(fd, SHUT_WR);
  std::string out = ReadResponse(fd);
  ::close(fd);
  return out;
}

std::string Get(int port, const std::string& path) {
  return Exchange(port, "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
}

std::string Body(const std::string& response) {
  auto at = response.find("\r\n\r\n");
  return at == std::string::npos ? "" : response.substr(at + 4);
}

ServerOptions Loopback() {
  ServerOptions o;
  o.address = "127.0.0.1";
  o.port = 0;
  return o;
}

std::unique_ptr<Server> StartMetrics(ServerOptions o, std::string text = "weir_up 1\n") {
  auto s = std::make_unique<Server>(std::move(o));
  AddMetricsRoutes(*s, [text] { return text; });
  Status st = s->Start();
  EXPECT_TRUE(st.ok()) << st.ToString();
  return s;
}

TEST(HttpServer, ServesMetricsAndHealth) {
  auto s = StartMetrics(Loopback());
  ASSERT_GT(s->port(), 0);
  EXPECT_EQ(s->Url("/metrics"), "http://127.0.0.1:" + std::to_string(s->port()) + "/metrics");
  const std::string metrics = Get(s->port(), "/metrics");
  EXPECT_EQ(metrics.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << metrics;
  EXPECT_NE(metrics.find("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"),
            std::string::npos)
      << metrics;
  EXPECT_EQ(Body(metrics), "weir_up 1\n");
  EXPECT_EQ(Body(Get(s->port(), "/healthz")), "ok\n");
  const std::string missing = Get(s->port(), "/nope");
  EXPECT_EQ(missing.rfind("HTTP/1.1 404", 0), 0u) << missing;
  EXPECT_EQ(Body(missing), "not found: try /metrics, /healthz\n");
  // HEAD gets the GET route's headers; another method nothing.
  const std::string head =
      Exchange(s->port(), "HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(head.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << head;
  EXPECT_EQ(Body(head), "");
  const std::string post = Exchange(
      s->port(),
      "POST /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(post.rfind("HTTP/1.1 200", 0), std::string::npos) << post;
  s->Stop();
  EXPECT_EQ(Get(s->port(), "/healthz"), "");  // nothing listens any more
}

// The raw-socket server this replaced read one recv() and answered 404 when
// the request line had not all arrived in it.
TEST(HttpServer, ServesARequestSentOneByteAtATime) {
  auto s = StartMetrics(Loopback());
  int fd = Connect("127.0.0.1", s->port());
  ASSERT_GE(fd, 0);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));  // one segment per byte
  const std::string request = "GET /metrics HTTP/1.1\r\nHost: scraper\r\nConnection: close\r\n\r\n";
  for (char c : request) {
    ASSERT_EQ(::send(fd, &c, 1, MSG_NOSIGNAL), 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  const std::string response = ReadResponse(fd);
  ::close(fd);
  EXPECT_EQ(response.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << response;
  EXPECT_EQ(Body(response), "weir_up 1\n");
}

TEST(HttpServer, RefusesOversizedRequestsAndKeepsServing) {
  auto s = StartMetrics(Loopback());
  const int port = s->port();
  auto status_of = [&](const std::string& request) {
    const std::string r = Exchange(port, request);
    return r.size() >= 12 ? r.substr(9, 3) : "none: " + r;
  };
  // Many small headers: 20 KiB in all, over the 8 KiB for all of them.
  std::string many = "GET /metrics HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 100; ++i)
    many += "X-Filler-" + std::to_string(i) + ": " + std::string(200, 'a') + "\r\n";
  EXPECT_EQ(status_of(many + "\r\n"), "431");
  EXPECT_EQ(Body(Get(port, "/metrics")), "weir_up 1\n");
  // One header line of 16 KiB.
  EXPECT_EQ(status_of("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: " +
                      std::string(16 << 10, 'b') + "\r\n\r\n"),
            "400");
  EXPECT_EQ(Body(Get(port, "/metrics")), "weir_up 1\n");
  // A 16 KiB request target.
  EXPECT_EQ(status_of("GET /metrics?" + std::string(16 << 10, 'c') +
                      " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
            "414");
  EXPECT_EQ(Body(Get(port, "/metrics")), "weir_up 1\n");
  // A body on a GET: the limit is 1 KiB, refused before any of it is read
  // (so none is sent here: the server closes on what it did not read).
  EXPECT_EQ(status_of("GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 65536\r\n\r\n"), "413");
  EXPECT_EQ(status_of("GET /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"),
            "413");
  EXPECT_EQ(Body(Get(port, "/metrics")), "weir_up 1\n");
  // A megabyte of garbage without a line end.
  EXPECT_EQ(Exchange(port, std::string(1 << 20, 'e'), "127.0.0.1", true), "");
  EXPECT_EQ(Body(Get(port, "/metrics")), "weir_up 1\n");
}

// A client that connects and sends nothing is dropped (after the 2 s
// keep-alive: cpp-httplib waits that long for a first request), and the
// one serving thread goes on to the next client.
TEST(HttpServer, DropsASilentClient) {
  ServerOptions o = Loopback();
  o.read_timeout = std::chrono::milliseconds(300);
  o.threads = 1;
  auto s = StartMetrics(o);
  int silent = Connect("127.0.0.1", s->port());
  ASSERT_GE(silent, 0);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(Body(Get(s->port(), "/healthz")), "ok\n");  // waits for the thread
  EXPECT_EQ(ReadResponse(silent), "");                  // closed by the server
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  ::close(silent);
}

// Stop closes the listener at once and waits `stop_timeout` for requests
// in flight; a client still trickling one after that does not hold up the
// process's shutdown, and its thread ends on its own later (ASan: without
// touching the destroyed Server).
TEST(HttpServer, StopDoesNotWaitForATricklingClient) {
  ServerOptions o = Loopback();
  o.stop_timeout = std::chrono::milliseconds(300);
  auto s = StartMetrics(o);
  int fd = Connect("127.0.0.1", s->port());
  ASSERT_GE(fd, 0);
  std::thread trickle([fd] {
    SendAll(fd, "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ");
    for (int i = 0; i < 20; ++i) {
      SendAll(fd, "z");
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ::close(fd);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const auto start = std::chrono::steady_clock::now();
  s->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1500));
  s.reset();
  trickle.join();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the left thread ends
}

// 127.0.0.0/8 is all loopback: a server bound to 127.0.0.1 is not reached
// at 127.0.0.2, as one bound to a pod's loopback is not reached from
// another pod; one bound to 0.0.0.0 is.
TEST(HttpServer, ListensOnlyOnItsAddress) {
  auto local = StartMetrics(Loopback());
  EXPECT_EQ(Body(Get(local->port(), "/healthz")), "ok\n");
  EXPECT_EQ(Connect("127.0.0.2", local->port()), -1);
  ServerOptions any = Loopback();
  any.address = "0.0.0.0";
  auto everywhere = StartMetrics(any);
  EXPECT_EQ(Body(Exchange(everywhere->port(), "GET /healthz HTTP/1.0\r\n\r\n", "127.0.0.2")),
            "ok\n");
  EXPECT_EQ(everywhere->Url("/metrics"),
            "http://0.0.0.0:" + std::to_string(everywhere->port()) + "/metrics");
}

TEST(HttpServer, RefusesABadAddressAndATakenPort) {
  for (const char* bad : {"localhost", "example.com", "127.0.0", "", "0.0.0.0:9249"}) {
    ServerOptions o = Loopback();
    o.address = bad;
    Server s(o);
    Status st = s.Start();
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << bad << ": " << st.ToString();
  }
  EXPECT_TRUE(CheckBindAddress("::1").ok());
  EXPECT_TRUE(CheckBindAddress("::").ok());
  auto first = StartMetrics(Loopback());
  ServerOptions o = Loopback();
  o.port = first->port();
  Server clash(o);
  Status st = clash.Start();
  EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.ToString();
  EXPECT_NE(st.message().find("127.0.0.1:" + std::to_string(first->port())), std::string::npos)
      << st.message();
  EXPECT_EQ(Body(Get(first->port(), "/healthz")), "ok\n");
}

TEST(HttpServer, AHandlerThatThrowsAnswers500) {
  Server s(Loopback());
  s.Get("/boom", [](const Request&) -> Response { throw std::runtime_error("no"); });
  s.Get("/echo", [](const Request& r) {
    std::string q;
    for (const auto& [k, v] : r.params) q += k + "=" + v + ";";
    return Response{200, "text/plain", r.method + " " + r.path + " " + q};
  });
  ASSERT_TRUE(s.Start().ok());
  EXPECT_EQ(Get(s.port(), "/boom").rfind("HTTP/1.1 500", 0), 0u);
  EXPECT_EQ(Body(Get(s.port(), "/echo?a=1&b=x%20y")), "GET /echo a=1;b=x y;");
}

// ---- HTTPS

class HttpsServer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::path(::testing::TempDir()) / ("weir-https-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    Ca("ca");
    Ca("rogue-ca");
    Leaf("server", "ca");
    Leaf("server-renewed", "ca");
    Leaf("scraper", "ca");
    Leaf("rogue", "rogue-ca");
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  static void Run(const std::string& cmd) {
    ASSERT_EQ(std::system(("cd '" + dir_.string() + "' && " + cmd + " >/dev/null 2>&1").c_str()), 0)
        << cmd;
  }
  static void Ca(const std::string& name) {
    Run("openssl req -x509 -newkey rsa:2048 -nodes -keyout " + name + ".key -out " + name +
        ".pem -days 2 -subj /CN=" + name);
  }
  static void Leaf(const std::string& name, const std::string& ca) {
    Run("openssl req -newkey rsa:2048 -nodes -keyout " + name + ".key -out " + name +
        ".csr -subj /CN=" + name);
    std::ofstream(dir_ / (name + ".ext"))
        << "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n";
    Run("openssl x509 -req -in " + name + ".csr -CA " + ca + ".pem -CAkey " + ca +
        ".key -CAcreateserial -out " + name + ".pem -days 2 -extfile " + name + ".ext");
  }
  static std::string File(const std::string& name) { return (dir_ / name).string(); }
  // Replaces `to` with a copy of `from` the way a renewal should: write
  // beside, rename over.
  static void Replace(const std::string& from, const std::string& to) {
    fs::copy_file(File(from), File(to + ".new"), fs::copy_options::overwrite_existing);
    fs::rename(File(to + ".new"), File(to));
  }

  // The server's own copy of its certificate and key, which tests renew.
  ServerOptions Tls(bool client_auth) {
    fs::copy_file(File("server.pem"), File("live.pem"), fs::copy_options::overwrite_existing);
    fs::copy_file(File("server.key"), File("live.key"), fs::copy_options::overwrite_existing);
    ServerOptions o = Loopback();
    o.tls.cert = File("live.pem");
    o.tls.key = File("live.key");
    o.tls.ca = File("ca.pem");
    o.tls.require_client_cert = client_auth;
    o.tls.refresh_s = 1;
    return o;
  }

  struct Client {
    std::string ca, cert, key;
  };
  // One GET over TLS with OpenSSL, verifying the server against `c.ca` for
  // 127.0.0.1 and presenting `c.cert` if set: the whole response, or ""
  // when the handshake or the exchange fails. `subject`: the CN served.
  static std::string HttpsGet(int port, const std::string& path, const Client& c,
                              std::string* subject = nullptr) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    std::string out;
    if (SSL_CTX_load_verify_locations(ctx, File(c.ca).c_str(), nullptr) == 1 &&
        (c.cert.empty() ||
         (SSL_CTX_use_certificate_chain_file(ctx, File(c.cert).c_str()) == 1 &&
          SSL_CTX_use_PrivateKey_file(ctx, File(c.key).c_str(), SSL_FILETYPE_PEM) == 1))) {
      int fd = Connect("127.0.0.1", port);
      SSL* ssl = SSL_new(ctx);
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), "127.0.0.1");
      SSL_set_fd(ssl, fd);
      if (fd >= 0 && SSL_connect(ssl) == 1) {
        if (subject) {
          X509* peer = SSL_get1_peer_certificate(ssl);
          char cn[256] = "";
          X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof(cn));
          *subject = cn;
          X509_free(peer);
        }
        const std::string req = "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        if (SSL_write(ssl, req.data(), static_cast<int>(req.size())) > 0) {
          char buf[4096];
          for (int n; (n = SSL_read(ssl, buf, sizeof(buf))) > 0;)
            out.append(buf, static_cast<size_t>(n));
        }
      }
      SSL_free(ssl);
      if (fd >= 0) ::close(fd);
    }
    SSL_CTX_free(ctx);
    ERR_clear_error();
    return out;
  }

  static fs::path dir_;
};

fs::path HttpsServer::dir_;

TEST_F(HttpsServer, ServesTheCertificateAndRefusesPlainHttp) {
  auto s = StartMetrics(Tls(false));
  EXPECT_TRUE(s->tls());
  EXPECT_EQ(s->Url("/metrics"), "https://127.0.0.1:" + std::to_string(s->port()) + "/metrics");
  std::string subject;
  const std::string r = HttpsGet(s->port(), "/metrics", {"ca.pem", "", ""}, &subject);
  EXPECT_EQ(r.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r;
  EXPECT_EQ(Body(r), "weir_up 1\n");
  EXPECT_EQ(subject, "server");
  // A client that trusts another CA does not get through its own check.
  EXPECT_EQ(HttpsGet(s->port(), "/metrics", {"rogue-ca.pem", "", ""}), "");
  // Plain HTTP to the HTTPS port: no HTTP answer, and no metrics.
  const std::string plain = Get(s->port(), "/metrics");
  EXPECT_EQ(plain.find("weir_up"), std::string::npos) << plain;
  EXPECT_EQ(plain.rfind("HTTP/1.1 200", 0), std::string::npos) << plain;
  EXPECT_EQ(Body(HttpsGet(s->port(), "/healthz", {"ca.pem", "", ""})), "ok\n");
}

TEST_F(HttpsServer, ServesARenewedCertificateWithoutARestart) {
  auto s = StartMetrics(Tls(false));
  std::string subject;
  ASSERT_EQ(Body(HttpsGet(s->port(), "/healthz", {"ca.pem", "", ""}, &subject)), "ok\n");
  ASSERT_EQ(subject, "server");
  // A broken certificate file is not applied: the old one is still served.
  { std::ofstream(File("broken.pem")) << "not a certificate\n"; }
  Replace("broken.pem", "live.pem");
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // two refreshes
  ASSERT_EQ(Body(HttpsGet(s->port(), "/healthz", {"ca.pem", "", ""}, &subject)), "ok\n");
  EXPECT_EQ(subject, "server");
  // The renewed certificate (a new key too) is served within a few refreshes.
  Replace("server-renewed.key", "live.key");
  Replace("server-renewed.pem", "live.pem");
  for (int i = 0; i < 100 && subject != "server-renewed"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    HttpsGet(s->port(), "/healthz", {"ca.pem", "", ""}, &subject);
  }
  EXPECT_EQ(subject, "server-renewed");
  EXPECT_EQ(Body(HttpsGet(s->port(), "/metrics", {"ca.pem", "", ""})), "weir_up 1\n");
}

TEST_F(HttpsServer, ClientAuthRefusesScrapersWithoutACertificateTheCaSigned) {
  auto s = StartMetrics(Tls(true));
  EXPECT_EQ(HttpsGet(s->port(), "/metrics", {"ca.pem", "", ""}), "");
  EXPECT_EQ(HttpsGet(s->port(), "/metrics", {"ca.pem", "rogue.pem", "rogue.key"}), "");
  EXPECT_EQ(Get(s->port(), "/metrics").find("weir_up"), std::string::npos);
  const std::string r = HttpsGet(s->port(), "/metrics", {"ca.pem", "scraper.pem", "scraper.key"});
  EXPECT_EQ(r.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r;
  EXPECT_EQ(Body(r), "weir_up 1\n");
}

TEST_F(HttpsServer, RefusesMissingOrMismatchedFiles) {
  ServerOptions o = Tls(false);
  o.tls.key = File("scraper.key");  // another certificate's key
  Status st = Server(o).Start();
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  EXPECT_NE(st.message().find("is not the key of the certificate"), std::string::npos)
      << st.message();
  o = Tls(false);
  o.tls.cert = File("missing.pem");
  st = Server(o).Start();
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("missing.pem"), std::string::npos) << st.message();
  o = Tls(true);
  o.tls.ca = "";
  EXPECT_EQ(Server(o).Start().code(), StatusCode::kInvalidArgument);
  o = Loopback();
  o.tls.require_client_cert = true;  // client authentication without TLS
  EXPECT_EQ(Server(o).Start().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace weir::http
