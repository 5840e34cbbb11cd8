// The weir CLI's commands. Each returns the process exit code of
// shared/design/cli.md: 0 ok, 1 other error, 2 usage or invalid job,
// 3 not found, 4 wrong state, 5 unavailable, 6 job failed, 7 not allowed,
// 130 interrupted.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
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
  kExitDenied = 7,
  kExitInterrupted = 130,
};

struct GlobalOptions {
  std::string output = "table";  // table | wide | json | yaml
  bool verbose = false;
  bool quiet = false;  // no progress line
  bool no_headers = false;
};

// The coordinator's admin API, for the client commands (cli/remote.cc).
struct RemoteOptions {
  std::string addr = "127.0.0.1:7600";  // --addr, else WEIR_ADDR
  double timeout_s = 30;                // --timeout: per call
  std::string token;                    // WEIR_TOKEN, or read from --token-file
  std::string token_file;
  std::string tls_ca, tls_cert, tls_key;                  // --tls-*, WEIR_TLS_*
  std::shared_ptr<grpc::ChannelCredentials> credentials;  // made by PrepareRemote
};

// Reads the token file and builds the channel's credentials; exit code 2
// (with a message) when they cannot be, else 0.
int PrepareRemote(RemoteOptions* r);

struct SubmitCommand {
  std::string job_file;
  int parallelism = 0;
  std::string from_savepoint;
  bool wait = false;
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

int RunSubmit(const GlobalOptions& g, const RemoteOptions& r, const SubmitCommand& cmd);
int RunList(const GlobalOptions& g, const RemoteOptions& r, bool all);
int RunDescribe(const GlobalOptions& g, const RemoteOptions& r, const std::string& id);
int RunCancel(const GlobalOptions& g, const RemoteOptions& r, const std::string& id,
              bool savepoint);
int RunSavepoint(const GlobalOptions& g, const RemoteOptions& r, const std::string& id);
int RunCheckpoints(const GlobalOptions& g, const RemoteOptions& r, const std::string& id);
int RunRescale(const GlobalOptions& g, const RemoteOptions& r, const std::string& id,
               int parallelism);
int RunWorkers(const GlobalOptions& g, const RemoteOptions& r);

}  // namespace weir::cli
