// The weir CLI's commands. Each returns the process exit code of
// shared/design/cli.md: 0 ok, 1 other error, 2 usage or invalid job,
// 3 not found, 4 wrong state, 5 unavailable, 6 job failed, 130 interrupted.
#pragma once

#include <string>
#include <vector>

namespace weir::cli {

enum ExitCode {
  kExitOk = 0,
  kExitError = 1,
  kExitUsage = 2,
  kExitNotFound = 3,
  kExitWrongState = 4,
  kExitUnavailable = 5,
  kExitJobFailed = 6,
  kExitInterrupted = 130,
};

struct GlobalOptions {
  std::string output = "table";  // table | wide | json | yaml
  bool verbose = false;
  bool quiet = false;  // no progress line
};

struct LocalCommand {
  std::string job_file;
  int parallelism = 0;               // -p: overrides the job's default parallelism
  std::vector<std::string> produce;  // TOPIC=FILE, written to the embedded broker first
  std::string from_checkpoint;       // latest | PATH
  std::string state_dir;             // default: $XDG_STATE_HOME/weir or ~/.local/state/weir
};

int RunValidate(const GlobalOptions& g, const std::string& job_file);
int RunExplain(const GlobalOptions& g, const std::string& job_file, int parallelism);
int RunLocal(const GlobalOptions& g, const LocalCommand& cmd);

}  // namespace weir::cli
