#include "common/metrics.h"

#include <cmath>
#include <cstdio>

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

}  // namespace weir
