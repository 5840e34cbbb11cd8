#include "common/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <mutex>

#include "common/text.h"
#include "common/time.h"

namespace weir::log {

namespace {

struct State {
  std::mutex mu;
  std::string process = "weir";
  bool json = false;
  std::shared_ptr<spdlog::logger> logger;
};

State& S() {
  static State s;
  return s;
}

const char* LevelName(Level l, bool json) {
  switch (l) {
    case Level::kDebug:
      return json ? "debug" : "DEBUG";
    case Level::kInfo:
      return json ? "info" : "INFO";
    case Level::kWarn:
      return json ? "warn" : "WARN";
    case Level::kError:
      return json ? "error" : "ERROR";
  }
  return "?";
}

// A text field value: bare when it has no space or quote, else quoted.
std::string TextValue(const std::string& v) {
  if (!v.empty() && v.find_first_of(" \"=\n") == std::string::npos) return v;
  return JsonQuote(v);
}

}  // namespace

bool Init(const std::string& process, const std::string& format) {
  if (format != "text" && format != "json") return false;
  State& s = S();
  std::lock_guard lock(s.mu);
  s.process = process;
  s.json = format == "json";
  s.logger =
      std::make_shared<spdlog::logger>(process, std::make_shared<spdlog::sinks::stderr_sink_mt>());
  s.logger->set_pattern("%v");  // the line is formatted here
  s.logger->flush_on(spdlog::level::trace);
  return true;
}

std::string Format(bool json, const std::string& process, Level level, std::string_view msg,
                   const Fields& fields, int64_t time_ms) {
  const std::string ts = FormatTimestamp(time_ms);
  std::string out;
  if (json) {
    out = "{\"ts\":" + JsonQuote(ts) + ",\"level\":\"" + LevelName(level, true) +
          "\",\"process\":" + JsonQuote(process) + ",\"msg\":" + JsonQuote(std::string(msg));
    for (const auto& [k, v] : fields) out += "," + JsonQuote(k) + ":" + JsonQuote(v);
    out += "}";
  } else {
    out = ts + " " + LevelName(level, false) + " " + process + ": " + std::string(msg);
    for (const auto& [k, v] : fields) out += " " + k + "=" + TextValue(v);
  }
  return out;
}

void Write(Level level, std::string_view msg, const Fields& fields) {
  State& s = S();
  std::shared_ptr<spdlog::logger> logger;
  bool json;
  std::string process;
  {
    std::lock_guard lock(s.mu);
    if (!s.logger) {
      s.logger = std::make_shared<spdlog::logger>(
          s.process, std::make_shared<spdlog::sinks::stderr_sink_mt>());
      s.logger->set_pattern("%v");
      s.logger->flush_on(spdlog::level::trace);
    }
    logger = s.logger;
    json = s.json;
    process = s.process;
  }
  logger->info(Format(json, process, level, msg, fields, SystemClock::Get()->NowMillis()));
}

}  // namespace weir::log
