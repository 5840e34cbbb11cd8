// The only file that includes cpp-httplib (a large header; Debian builds its
// implementation into libcpp-httplib.so, with the OpenSSL support that the
// pkg-config flags turn on here too).
#include "common/http/server.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <sys/socket.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>

#include "common/http/tls_identity_internal.h"
#include "common/log.h"

namespace weir::http {

namespace {

std::string EscapeRegex(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

// Connections accepted and waiting for a serving thread (see BoundedPool).
constexpr size_t kWaitingConnections = 16;

const char* Reason(int status) {
  switch (status) {
    case 400:
      return "bad request";
    case 404:
      return "not found";
    case 405:
      return "method not allowed";
    case 413:
      return "request body too large";
    case 414:
      return "request URI too long";
    case 431:
      return "request headers too large";
    default:
      return status >= 500 ? "internal error" : "error";
  }
}

// cpp-httplib's ThreadPool queues every accepted connection without bound,
// each holding a file descriptor, so a flood of connections could take all
// of the process's (and with them the gRPC servers'). This pool serves
// `threads` connections at once and lets `waiting` more wait; past that the
// accept loop serves the connection itself and so stops accepting: further
// clients wait in the kernel's listen backlog, holding nothing of ours.
class BoundedPool : public httplib::TaskQueue {
 public:
  BoundedPool(size_t threads, size_t waiting) : waiting_(waiting) {
    for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { Work(); });
  }
  ~BoundedPool() override = default;

  void enqueue(std::function<void()> fn) override {
    {
      std::lock_guard lock(mu_);
      if (jobs_.size() < waiting_) {
        jobs_.push_back(std::move(fn));
        cv_.notify_one();
        return;
      }
    }
    Run(fn);
  }

  void shutdown() override {
    {
      std::lock_guard lock(mu_);
      shutdown_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }

 private:
  static void Run(const std::function<void()>& fn) {
    try {
      fn();
    } catch (const std::exception& e) {
      log::Error(std::string("HTTP connection failed: ") + e.what());
    } catch (...) {
      log::Error("HTTP connection failed");
    }
  }
  void Work() {
    for (;;) {
      std::function<void()> fn;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return shutdown_ || !jobs_.empty(); });
        if (jobs_.empty()) return;  // shutting down, nothing left
        fn = std::move(jobs_.front());
        jobs_.pop_front();
      }
      Run(fn);
    }
  }

  const size_t waiting_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool shutdown_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace

Status CheckBindAddress(const std::string& address) {
  unsigned char buf[sizeof(in6_addr)];
  if (inet_pton(AF_INET, address.c_str(), buf) == 1 ||
      inet_pton(AF_INET6, address.c_str(), buf) == 1)
    return Status::OK();
  return Status::InvalidArgument("'" + address +
                                 "' is not an IP address to listen on (127.0.0.1 or ::1 for this "
                                 "host only, 0.0.0.0 or :: for every interface, or the address of "
                                 "one interface)");
}

// What the serving threads use: shared with them, so that threads Stop no
// longer waits for never outlive what they touch.
struct Server::Impl {
  ServerOptions options;
  std::vector<std::pair<std::string, Handler>> routes;
  std::unique_ptr<internal::TlsIdentity> identity;  // HTTPS only; outlives `server`
  std::unique_ptr<httplib::Server> server;
  int port = 0;
  bool started = false;
  std::thread listener, refresher;

  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  bool listener_done = false;
};

Server::Server(ServerOptions options) : impl_(std::make_shared<Impl>()) {
  impl_->options = std::move(options);
}

Server::~Server() {
  Stop();
}

void Server::Get(const std::string& path, Handler handler) {
  impl_->routes.emplace_back(path, std::move(handler));
}

int Server::port() const {
  return impl_->port;
}

bool Server::tls() const {
  return !impl_->options.tls.cert.empty();
}

std::string Server::Url(const std::string& path) const {
  const std::string& a = impl_->options.address;
  const std::string host = a.find(':') != std::string::npos ? "[" + a + "]" : a;
  return std::string(tls() ? "https" : "http") + "://" + host + ":" + std::to_string(impl_->port) +
         path;
}

Status Server::Start() {
  Impl& im = *impl_;
  if (im.started) return Status::FailedPrecondition("the HTTP server was started already");
  const ServerOptions& o = im.options;
  WEIR_RETURN_IF_ERROR(CheckBindAddress(o.address));
  if (o.port < 0 || o.port > 65535)
    return Status::InvalidArgument("port " + std::to_string(o.port) + " is out of range");
  const std::string where = o.address + ":" + std::to_string(o.port);
  try {
    if (o.tls.cert.empty()) {
      if (!o.tls.key.empty() || o.tls.require_client_cert)
        return Status::InvalidArgument("HTTPS needs a certificate (--tls-cert)");
      im.server = std::make_unique<httplib::Server>();
    } else {
      WEIR_ASSIGN_OR_RETURN(im.identity, internal::TlsIdentity::Load(o.tls));
      internal::TlsIdentity* id = im.identity.get();
      im.server = std::make_unique<httplib::SSLServer>(
          [id](SSL_CTX& ctx) { return id->SetUpContext(&ctx); });
    }
    httplib::Server& s = *im.server;
    if (!s.is_valid()) return Status::Internal("cannot set up the HTTP server on " + where);
    const size_t threads = o.threads > 0 ? static_cast<size_t>(o.threads) : 1;
    s.new_task_queue = [threads] { return new BoundedPool(threads, kWaitingConnections); };
    s.set_read_timeout(o.read_timeout);
    s.set_write_timeout(o.write_timeout);
    s.set_keep_alive_timeout(std::max<time_t>(1, o.keep_alive.count()));
    s.set_payload_max_length(o.max_body_bytes);
    // cpp-httplib's default sets SO_REUSEPORT, with which a second process
    // binding the same port silently shares it (and its scrapes): a taken
    // port must be an error. SO_REUSEADDR alone lets a restarted process
    // bind while connections of the old one linger in TIME_WAIT.
    s.set_socket_options([](int sock) {
      int yes = 1;
      ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    });
    const size_t max_header = o.max_header_bytes, max_body = o.max_body_bytes;
    // cpp-httplib 0.11 caps each line (8 KiB) but not their number, and
    // reads no body for a GET (it would be taken for the next request): both
    // are checked here, before any route runs.
    s.set_pre_routing_handler([max_header, max_body](const httplib::Request& req,
                                                     httplib::Response& res) {
      size_t n = req.method.size() + req.target.size() + req.version.size();
      for (const auto& [k, v] : req.headers) n += k.size() + v.size() + 4;
      const std::string length = req.get_header_value("Content-Length");
      if (n > max_header) {
        res.status = 431;
      } else if (req.has_header("Transfer-Encoding") ||
                 (!length.empty() && (length.find_first_not_of("0123456789") != std::string::npos ||
                                      length.size() > 18 || std::stoull(length) > max_body))) {
        res.status = 413;
      } else {
        return httplib::Server::HandlerResponse::Unhandled;
      }
      res.set_header("Connection", "close");
      return httplib::Server::HandlerResponse::Handled;
    });
    std::string paths;
    for (const auto& [path, handler] : im.routes) {
      paths += (paths.empty() ? "" : ", ") + path;
      s.Get(EscapeRegex(path), [h = handler](const httplib::Request& req, httplib::Response& res) {
        Request r;
        r.method = req.method;
        r.path = req.path;
        r.params.assign(req.params.begin(), req.params.end());
        r.remote_addr = req.remote_addr;
        Response out;
        try {
          out = h(r);
        } catch (const std::exception& e) {
          log::Error(std::string("HTTP handler of ") + req.path + " failed: " + e.what());
          out = Response{500, "text/plain; charset=utf-8", "internal error\n"};
        } catch (...) {
          log::Error("HTTP handler of " + req.path + " failed");
          out = Response{500, "text/plain; charset=utf-8", "internal error\n"};
        }
        res.status = out.status;
        res.set_content(std::move(out.body), out.content_type.c_str());
      });
    }
    s.set_exception_handler([](const httplib::Request&, httplib::Response& res,
                               std::exception_ptr) { res.status = 500; });
    // Errors get a one-line text body; a 404 names the routes there are.
    s.set_error_handler(httplib::Server::HandlerWithResponse(
        [paths](const httplib::Request&, httplib::Response& res) {
          if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
          std::string body = Reason(res.status);
          if (res.status == 404 && !paths.empty()) body += ": try " + paths;
          res.set_content(body + "\n", "text/plain; charset=utf-8");
          return httplib::Server::HandlerResponse::Handled;
        }));

    if (o.port == 0) {
      im.port = s.bind_to_any_port(o.address);
      if (im.port <= 0) im.port = 0;
    } else if (s.bind_to_port(o.address, o.port)) {
      im.port = o.port;
    }
    if (im.port == 0)
      return Status::Unavailable("cannot listen on " + where +
                                 " (the port is taken, or the address is not this host's)");
  } catch (const std::exception& e) {
    return Status::Internal("cannot set up the HTTP server on " + where + ": " + e.what());
  }

  // The listener (with its thread pool) on a thread of its own, the
  // certificate refresher on another; both hold the Impl.
  im.started = true;
  std::shared_ptr<Impl> shared = impl_;
  try {
    im.listener = std::thread([shared] {
      try {
        shared->server->listen_after_bind();
      } catch (const std::exception& e) {
        log::Error(std::string("the HTTP server stopped: ") + e.what());
      } catch (...) {
        log::Error("the HTTP server stopped");
      }
      std::lock_guard lock(shared->mu);
      shared->listener_done = true;
      shared->cv.notify_all();
    });
    if (im.identity) {
      im.refresher = std::thread([shared] {
        const auto period = std::chrono::seconds(std::max(1u, shared->options.tls.refresh_s));
        std::unique_lock lock(shared->mu);
        while (!shared->cv.wait_for(lock, period, [&] { return shared->stopping; })) {
          lock.unlock();
          (void)shared->identity->Refresh();  // logs what it refuses
          lock.lock();
        }
      });
    }
  } catch (const std::system_error& e) {  // no thread to be had
    Stop();
    return Status::Internal("cannot start the HTTP server on " + where + ": " + e.what());
  }
  // Stop must not come before the listener runs (httplib's stop() would do
  // nothing then).
  for (int i = 0; i < 5000 && !im.server->is_running(); ++i) {
    {
      std::lock_guard lock(im.mu);
      if (im.listener_done) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!im.server->is_running()) {
    Stop();
    return Status::Internal("the HTTP server on " + where + " did not start");
  }
  return Status::OK();
}

void Server::Stop() {
  Impl& im = *impl_;
  if (!im.started) return;
  {
    std::lock_guard lock(im.mu);
    if (im.stopping) return;
    im.stopping = true;
    im.cv.notify_all();
  }
  im.server->stop();
  if (im.refresher.joinable()) im.refresher.join();
  if (!im.listener.joinable()) return;
  bool done;
  {
    std::unique_lock lock(im.mu);
    done = im.cv.wait_for(lock, im.options.stop_timeout, [&] { return im.listener_done; });
  }
  if (done) {
    im.listener.join();
  } else {
    log::Warn("the HTTP server on " + Url("") +
              " stopped listening; the requests still in flight end on their own");
    im.listener.detach();  // it holds the Impl it uses
  }
}

void AddMetricsRoutes(Server& server, std::function<std::string()> collect) {
  server.Get("/metrics", [collect = std::move(collect)](const Request&) {
    return Response{200, "text/plain; version=0.0.4; charset=utf-8", collect()};
  });
  server.Get("/healthz", [](const Request&) { return Response{200, "text/plain", "ok\n"}; });
}

}  // namespace weir::http
