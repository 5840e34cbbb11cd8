#include "common/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>

#include "common/text.h"
#include "common/time.h"

namespace weir::log {

namespace {

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

spdlog::level::level_enum ToSpd(Level l) {
  switch (l) {
    case Level::kDebug:
      return spdlog::level::debug;
    case Level::kInfo:
      return spdlog::level::info;
    case Level::kWarn:
      return spdlog::level::warn;
    case Level::kError:
      return spdlog::level::err;
  }
  return spdlog::level::info;
}

Level FromSpd(spdlog::level::level_enum l) {
  if (l <= spdlog::level::debug) return Level::kDebug;
  if (l == spdlog::level::info) return Level::kInfo;
  if (l == spdlog::level::warn) return Level::kWarn;
  return Level::kError;
}

std::optional<spdlog::level::level_enum> ParseLevel(const std::string& name) {
  if (name == "debug") return spdlog::level::debug;
  if (name == "info") return spdlog::level::info;
  if (name == "warn") return spdlog::level::warn;
  if (name == "error") return spdlog::level::err;
  return std::nullopt;
}

// A text field value: bare when it has no space or quote, else quoted.
std::string TextValue(const std::string& v) {
  if (!v.empty() && v.find_first_of(" \"=\n") == std::string::npos) return v;
  return JsonQuote(v);
}

// The event's own part of a line: the message and its fields.
std::string Body(bool json, std::string_view msg, const Fields& fields) {
  std::string out;
  if (json) {
    out = "\"msg\":" + JsonQuote(std::string(msg));
    for (const auto& [k, v] : fields) out += "," + JsonQuote(k) + ":" + JsonQuote(v);
  } else {
    out = std::string(msg);
    for (const auto& [k, v] : fields) out += " " + k + "=" + TextValue(v);
  }
  return out;
}

// The whole line around a body.
std::string Line(bool json, const std::string& process, Level level, std::string_view body,
                 int64_t time_ms) {
  const std::string ts = FormatTimestamp(time_ms);
  if (json)
    return "{\"ts\":" + JsonQuote(ts) + ",\"level\":\"" + LevelName(level, true) +
           "\",\"process\":" + JsonQuote(process) + "," + std::string(body) + "}";
  return ts + " " + LevelName(level, false) + " " + process + ": " + std::string(body);
}

// spdlog's formatter for weir's lines: the payload is the Body.
class LineFormatter final : public spdlog::formatter {
 public:
  LineFormatter(std::string process, bool json) : process_(std::move(process)), json_(json) {}
  void format(const spdlog::details::log_msg& m, spdlog::memory_buf_t& dest) override {
    const int64_t ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(m.time.time_since_epoch()).count();
    const std::string line = Line(json_, process_, FromSpd(m.level),
                                  std::string_view(m.payload.data(), m.payload.size()), ms);
    dest.append(line.data(), line.data() + line.size());
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<LineFormatter>(process_, json_);
  }

 private:
  const std::string process_;
  const bool json_;
};

struct State {
  std::mutex mu;
  bool json = false;
  std::shared_ptr<spdlog::logger> logger;
};

State& S() {
  static State s;
  return s;
}

std::shared_ptr<spdlog::logger> MakeLogger(const std::string& process, bool json,
                                           spdlog::level::level_enum level) {
  auto logger =
      std::make_shared<spdlog::logger>(process, std::make_shared<spdlog::sinks::stderr_sink_mt>());
  logger->set_formatter(std::make_unique<LineFormatter>(process, json));
  logger->set_level(level);
  logger->flush_on(spdlog::level::trace);
  return logger;
}

}  // namespace

bool Init(const std::string& process, const std::string& format, const std::string& level) {
  const auto lvl = ParseLevel(level);
  if ((format != "text" && format != "json") || !lvl) return false;
  State& s = S();
  std::lock_guard lock(s.mu);
  s.json = format == "json";
  s.logger = MakeLogger(process, s.json, *lvl);
  return true;
}

std::string Format(bool json, const std::string& process, Level level, std::string_view msg,
                   const Fields& fields, int64_t time_ms) {
  return Line(json, process, level, Body(json, msg, fields), time_ms);
}

void Write(Level level, std::string_view msg, const Fields& fields) {
  State& s = S();
  std::shared_ptr<spdlog::logger> logger;
  bool json;
  {
    std::lock_guard lock(s.mu);
    if (!s.logger) {
      const char* env = std::getenv("WEIR_LOG_LEVEL");
      s.logger =
          MakeLogger("weir", false, ParseLevel(env ? env : "info").value_or(spdlog::level::info));
    }
    logger = s.logger;
    json = s.json;
  }
  const auto lvl = ToSpd(level);
  if (!logger->should_log(lvl)) return;
  logger->log(lvl, Body(json, msg, fields));
}

}  // namespace weir::log
