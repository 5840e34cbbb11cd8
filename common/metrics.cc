#include "common/metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace weir {

namespace {

std::string EscapeLabel(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string EscapeHelp(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 1e15)
    std::snprintf(buf, sizeof(buf), "%.0f", v);
  else
    std::snprintf(buf, sizeof(buf), "%.10g", v);
  return buf;
}

}  // namespace

void Metrics::Add(const std::string& name, const std::string& help, const char* type,
                  const Labels& labels, double value) {
  Family& f = families_[name];
  if (f.type.empty()) {
    f.help = help;
    f.type = type;
  }
  std::string l;
  for (const auto& [k, v] : labels) {
    l += l.empty() ? "{" : ",";
    l += k + "=\"" + EscapeLabel(v) + "\"";
  }
  if (!l.empty()) l += "}";
  f.samples.emplace_back(std::move(l), value);
}

void Metrics::Counter(const std::string& name, const std::string& help, const Labels& labels,
                      double value) {
  Add(name, help, "counter", labels, value);
}

void Metrics::Gauge(const std::string& name, const std::string& help, const Labels& labels,
                    double value) {
  Add(name, help, "gauge", labels, value);
}

std::string Metrics::Render() const {
  std::string out;
  for (const auto& [name, f] : families_) {
    out += "# HELP " + name + " " + EscapeHelp(f.help) + "\n";
    out += "# TYPE " + name + " " + f.type + "\n";
    for (const auto& [labels, value] : f.samples)
      out += name + labels + " " + FormatValue(value) + "\n";
  }
  return out;
}

MetricsServer::~MetricsServer() {
  Stop();
}

Status MetricsServer::Start(int port, std::function<std::string()> collect) {
  collect_ = std::move(collect);
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return Status::Unavailable(std::string("socket: ") + std::strerror(errno));
  int one = 1;
  ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(fd_, 16) != 0) {
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    return Status::Unavailable("cannot serve metrics on port " + std::to_string(port) + ": " +
                               std::strerror(err));
  }
  socklen_t len = sizeof(addr);
  ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { Serve(); });
  return Status::OK();
}

void MetricsServer::Stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void MetricsServer::Serve() {
  while (!stop_.load()) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;
    // A scrape is one small request; a client that sends nothing in a
    // second is dropped rather than holding the thread.
    timeval tv{1, 0};
    ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    char buf[2048];
    ssize_t n = ::recv(c, buf, sizeof(buf) - 1, 0);
    std::string status = "200 OK", type = "text/plain; version=0.0.4; charset=utf-8", body;
    if (n <= 0) {
      ::close(c);
      continue;
    }
    buf[n] = 0;
    std::string req(buf, static_cast<size_t>(n));
    std::string path;
    if (req.rfind("GET ", 0) == 0) path = req.substr(4, req.find(' ', 4) - 4);
    if (path == "/metrics") {
      body = collect_();
    } else if (path == "/healthz") {
      body = "ok\n";
      type = "text/plain";
    } else {
      status = "404 Not Found";
      type = "text/plain";
      body = "try /metrics or /healthz\n";
    }
    std::string resp = "HTTP/1.0 " + status + "\r\nContent-Type: " + type +
                       "\r\nContent-Length: " + std::to_string(body.size()) +
                       "\r\nConnection: close\r\n\r\n" + body;
    size_t off = 0;
    while (off < resp.size()) {
      ssize_t w = ::send(c, resp.data() + off, resp.size() - off, MSG_NOSIGNAL);
      if (w <= 0) break;
      off += static_cast<size_t>(w);
    }
    ::close(c);
  }
}

}  // namespace weir
