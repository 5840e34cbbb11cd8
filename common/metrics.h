// Metrics in the Prometheus text exposition format (0.0.4), and the small
// HTTP server that serves them with a health check.
//
// Debian 12 has no prometheus-cpp, and what weir needs is small: at scrape
// time each process walks its live objects (tasks, checkpointers, jobs) and
// adds samples to a Metrics object, which renders them grouped by family
// with HELP and TYPE lines. Nothing is registered ahead of time, so there is
// nothing to unregister when a job's attempt ends.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/status.h"

namespace weir {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Metrics {
 public:
  // `name` follows Prometheus naming (weir_..._total for counters).
  void Counter(const std::string& name, const std::string& help, const Labels& labels,
               double value);
  void Gauge(const std::string& name, const std::string& help, const Labels& labels, double value);
  std::string Render() const;

 private:
  struct Family {
    std::string help, type;
    std::vector<std::pair<std::string, double>> samples;  // rendered labels, value
  };
  void Add(const std::string& name, const std::string& help, const char* type, const Labels& labels,
           double value);
  std::map<std::string, Family> families_;
};

// Serves GET /metrics (whatever `collect` renders) and GET /healthz ("ok")
// over HTTP/1.0 on one thread; one request per connection.
class MetricsServer {
 public:
  MetricsServer() = default;
  ~MetricsServer();
  // Binds 0.0.0.0:port (0: any free port) and starts serving.
  Status Start(int port, std::function<std::string()> collect);
  int port() const { return port_; }
  void Stop();

 private:
  void Serve();
  int fd_ = -1;
  int port_ = 0;
  std::function<std::string()> collect_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace weir
