// weir-dev-broker: runs an in-memory Kafka cluster (librdkafka's mock cluster)
// for development and tests until SIGTERM or SIGINT. See docs/dev-broker.md.
//
// Exit codes: 0 after a signal-triggered shutdown, 1 if the cluster could not
// be started or the address could not be published, 2 for bad flags.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "worker/devbroker/dev_broker.h"

namespace weir::devbroker {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

constexpr const char kUsage[] =
    "Usage: weir-dev-broker [--brokers N] [--topic NAME[:PARTITIONS]]... [--address-file FILE]\n"
    "\n"
    "Runs an in-memory Kafka cluster (librdkafka's mock cluster) on 127.0.0.1 for\n"
    "development and tests. NOT for production: it keeps at most 5 MiB or 100,000\n"
    "message sets per partition and drops older data silently.\n"
    "\n"
    "Prints the bootstrap servers as one line on stdout once the topics exist, then\n"
    "runs until SIGTERM or SIGINT.\n"
    "\n"
    "  --brokers N            number of brokers, 1..64 (default 1)\n"
    "  --topic NAME[:PARTS]   create a topic (default 1 partition); repeatable.\n"
    "                         Other topics are created on first use with 4 partitions.\n"
    "  --address-file FILE    also write the bootstrap servers to FILE, atomically\n"
    "                         (written to a temporary file, then renamed)\n"
    "  --help                 print this help\n";

struct Flags {
  DevBrokerOptions options;
  std::string address_file;
  bool help = false;
};

Result<int> ParseBrokerCount(std::string_view text) {
  int value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end || value < 1 || value > kMaxBrokers) {
    return Status::InvalidArgument("--brokers expects a number from 1 to " +
                                   std::to_string(kMaxBrokers) + ", got \"" + std::string(text) +
                                   "\"");
  }
  return value;
}

// Accepts "--flag value" and "--flag=value".
Result<Flags> ParseFlags(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      flags.help = true;
      continue;
    }
    std::string_view name = arg;
    std::string_view value;
    bool has_value = false;
    if (size_t eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_value = true;
    }
    if (name != "--brokers" && name != "--topic" && name != "--address-file") {
      return Status::InvalidArgument("unknown argument \"" + std::string(arg) + "\" (see --help)");
    }
    if (!has_value) {
      if (i + 1 >= argc) {
        return Status::InvalidArgument(std::string(name) + " needs a value");
      }
      value = argv[++i];
    }
    if (name == "--brokers") {
      WEIR_ASSIGN_OR_RETURN(flags.options.brokers, ParseBrokerCount(value));
    } else if (name == "--topic") {
      WEIR_ASSIGN_OR_RETURN(TopicSpec topic, ParseTopicSpec(value));
      flags.options.topics.push_back(std::move(topic));
    } else {
      if (value.empty()) return Status::InvalidArgument("--address-file needs a file name");
      flags.address_file = std::string(value);
    }
  }
  return flags;
}

// Writes `contents` to `path` through a temporary file in the same directory
// and rename(2), so a reader sees either no file or the whole contents.
Status WriteFileAtomically(const std::string& path, const std::string& contents) {
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  std::FILE* f = std::fopen(tmp.c_str(), "w");
  if (f == nullptr) {
    return Status::Unavailable("cannot create " + tmp + ": " + std::strerror(errno));
  }
  bool ok = std::fwrite(contents.data(), 1, contents.size(), f) == contents.size();
  ok = std::fflush(f) == 0 && ok;
  ok = fsync(fileno(f)) == 0 && ok;
  int saved_errno = errno;
  ok = std::fclose(f) == 0 && ok;
  if (!ok) {
    std::remove(tmp.c_str());
    return Status::Unavailable("cannot write " + tmp + ": " + std::strerror(saved_errno));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    saved_errno = errno;
    std::remove(tmp.c_str());
    return Status::Unavailable("cannot rename " + tmp + " to " + path + ": " +
                               std::strerror(saved_errno));
  }
  return Status::OK();
}

int Run(int argc, char** argv) {
  Result<Flags> flags = ParseFlags(argc, argv);
  if (!flags.ok()) {
    std::fprintf(stderr, "weir-dev-broker: %s\n", flags.status().message().c_str());
    return kExitUsage;
  }
  if (flags->help) {
    std::fputs(kUsage, stdout);
    return kExitOk;
  }

  // Block the shutdown signals before librdkafka starts its threads, so they
  // inherit the mask and the signals stay pending until sigwait() below.
  sigset_t shutdown_signals;
  sigemptyset(&shutdown_signals);
  sigaddset(&shutdown_signals, SIGTERM);
  sigaddset(&shutdown_signals, SIGINT);
  if (int err = pthread_sigmask(SIG_BLOCK, &shutdown_signals, nullptr); err != 0) {
    std::fprintf(stderr, "weir-dev-broker: cannot block signals: %s\n", std::strerror(err));
    return kExitFailure;
  }
  // A client that disconnects mid-response must not kill the broker.
  std::signal(SIGPIPE, SIG_IGN);

  Result<std::unique_ptr<DevBroker>> broker = DevBroker::Start(flags->options);
  if (!broker.ok()) {
    std::fprintf(stderr, "weir-dev-broker: %s\n", broker.status().ToString().c_str());
    return kExitFailure;
  }
  const std::string& address = (*broker)->bootstrap_servers();
  if (!flags->address_file.empty()) {
    if (Status st = WriteFileAtomically(flags->address_file, address + "\n"); !st.ok()) {
      std::fprintf(stderr, "weir-dev-broker: %s\n", st.message().c_str());
      return kExitFailure;
    }
  }
  std::printf("%s\n", address.c_str());
  std::fflush(stdout);

  int signal_number = 0;
  if (int err = sigwait(&shutdown_signals, &signal_number); err != 0) {
    std::fprintf(stderr, "weir-dev-broker: sigwait: %s\n", std::strerror(err));
    return kExitFailure;
  }
  broker->reset();  // Stops the cluster and joins its threads.
  return kExitOk;
}

}  // namespace
}  // namespace weir::devbroker

int main(int argc, char** argv) {
  return weir::devbroker::Run(argc, argv);
}
