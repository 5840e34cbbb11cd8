// weir: the command line. Parses flags with CLI11 and dispatches to
// cli/*.cc. Errors are one line on stderr; exit codes per cli/commands.h.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/commands.h"

int main(int argc, char** argv) {
  using namespace weir::cli;
  CLI::App app{"weir: a distributed stream processing engine", "weir"};
  app.require_subcommand(1);
  GlobalOptions g;
  app.add_option("-o,--output", g.output, "output format: table, wide, json or yaml")
      ->check(CLI::IsMember({"table", "wide", "json", "yaml"}));
  app.add_flag("-v,--verbose", g.verbose, "more detail in errors and logs");
  app.add_flag("-q,--quiet", g.quiet, "no progress line");

  std::string job_file;
  auto* validate = app.add_subcommand("validate", "check a job file and print its graph");
  validate->add_option("JOB", job_file, "the job file")->required();

  int explain_par = 0;
  auto* explain = app.add_subcommand("explain", "print a job's physical plan");
  explain->add_option("JOB", job_file, "the job file")->required();
  explain->add_option("-p,--parallelism", explain_par, "default parallelism")
      ->check(CLI::Range(1, 32768));

  LocalCommand local_cmd;
  auto* local = app.add_subcommand(
      "local", "run a job in this process until its bounded sources end (Ctrl-C stops it)");
  local->add_option("JOB", local_cmd.job_file, "the job file")->required();
  local->add_option("-p,--parallelism", local_cmd.parallelism, "default parallelism")
      ->check(CLI::Range(1, 32768));
  local->add_option("--produce", local_cmd.produce,
                    "TOPIC=FILE: write FILE's lines to TOPIC on the embedded broker first");
  local->add_option("--from-checkpoint", local_cmd.from_checkpoint,
                    "resume from 'latest' (the job's newest checkpoint, if any) or a chk-N or "
                    "savepoint-N directory");
  local->add_option("--state-dir", local_cmd.state_dir,
                    "where keyed state and (by default) checkpoints live "
                    "(default $XDG_STATE_HOME/weir, else ~/.local/state/weir)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "weir: %s (see weir --help)\n", e.what());
    return kExitUsage;
  }
  if (validate->parsed()) return RunValidate(g, job_file);
  if (explain->parsed()) return RunExplain(g, job_file, explain_par);
  if (local->parsed()) return RunLocal(g, local_cmd);
  return kExitUsage;
}
