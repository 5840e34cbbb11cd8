// Metrics in the Prometheus text exposition format (0.0.4). The servers
// serve them on GET /metrics through common/http (AddMetricsRoutes).
//
// Debian 12 has no prometheus-cpp, and what weir needs is small: at scrape
// time each process walks its live objects (tasks, checkpointers, jobs) and
// adds samples to a Metrics object, which renders them grouped by family
// with HELP and TYPE lines. Nothing is registered ahead of time, so there is
// nothing to unregister when a job's attempt ends.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

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

}  // namespace weir
