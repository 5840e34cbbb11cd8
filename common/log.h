// Logs of the servers (weir-coordinator, weir-worker): one line per event on
// stderr, as text for people or JSON for log pipelines (--log-format json,
// WEIR_LOG_FORMAT), written through spdlog: its level filter drops events
// below --log-level (WEIR_LOG_LEVEL; debug, info, warn or error) before
// anything is formatted, and a formatter of weir's own writes the line (so
// JSON strings are escaped, which spdlog 1.10's patterns do not do), with
// the time spdlog took for the event. Events carry fields: the job,
// vertex, subtask, attempt and checkpoint they concern, so a pipeline can
// follow one job or one checkpoint across processes.
//
//   2026-11-24T22:13:05.123Z INFO weir-coordinator: checkpoint completed job=wc checkpoint=12
//   {"ts":"2026-11-24T22:13:05.123Z","level":"info","process":"weir-coordinator",
//    "msg":"checkpoint completed","job":"wc","checkpoint":"12"}
//
// Never put secrets into a message or a field: job files are not logged, and
// connector options are redacted before anything of them is.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace weir::log {

enum class Level { kDebug, kInfo, kWarn, kError };
using Fields = std::vector<std::pair<std::string, std::string>>;

// Once, at start. format: "text" or "json"; level: the least severe level
// written, "debug", "info", "warn" or "error" (false for anything else).
// Before Init (and in processes without it, such as `weir local`) lines are
// text at WEIR_LOG_LEVEL, else info.
bool Init(const std::string& process, const std::string& format, const std::string& level = "info");

void Write(Level level, std::string_view msg, const Fields& fields = {});
inline void Debug(std::string_view msg, const Fields& fields = {}) {
  Write(Level::kDebug, msg, fields);
}
inline void Info(std::string_view msg, const Fields& fields = {}) {
  Write(Level::kInfo, msg, fields);
}
inline void Warn(std::string_view msg, const Fields& fields = {}) {
  Write(Level::kWarn, msg, fields);
}
inline void Error(std::string_view msg, const Fields& fields = {}) {
  Write(Level::kError, msg, fields);
}

// The line Write would emit (for tests).
std::string Format(bool json, const std::string& process, Level level, std::string_view msg,
                   const Fields& fields, int64_t time_ms);

}  // namespace weir::log
