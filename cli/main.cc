// weir: the command line. Parses flags with CLI11 and dispatches to
// cli/*.cc. Errors are one line on stderr; exit codes per cli/commands.h.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>

#include "cli/commands.h"

int main(int argc, char** argv) {
  using namespace weir::cli;
  CLI::App app{"weir: a distributed stream processing engine", "weir"};
  app.require_subcommand(1);
  app.fallthrough();  // global flags also after the command, as kubectl takes them
  GlobalOptions g;
  app.add_option("-o,--output", g.output, "output format: table, wide, json or yaml")
      ->check(CLI::IsMember({"table", "wide", "json", "yaml", "name"}));
  app.add_flag("--no-headers", g.no_headers, "tables without their header line");
  RemoteOptions r;
  if (const char* env = std::getenv("WEIR_ADDR"); env && *env) r.addr = env;
  app.add_option("--addr", r.addr, "the coordinator's HOST:PORT (env WEIR_ADDR)")
      ->capture_default_str();
  app.add_option("--token-file", r.token_file,
                 "file whose first line is the bearer token for the admin API (else WEIR_TOKEN)");
  app.add_option("--tls-ca", r.tls_ca, "PEM CA to verify the coordinator: connect with TLS")
      ->envname("WEIR_TLS_CA");
  app.add_option("--tls-cert", r.tls_cert, "PEM client certificate, for mutual TLS")
      ->envname("WEIR_TLS_CERT");
  app.add_option("--tls-key", r.tls_key, "PEM private key of --tls-cert")->envname("WEIR_TLS_KEY");
  app.add_option("--timeout", r.timeout_s, "seconds to wait for the coordinator's answer")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
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

  SubmitCommand submit_cmd;
  auto* submit = app.add_subcommand("submit", "validate a job file and run it on the cluster");
  submit->add_option("JOB", submit_cmd.job_file, "the job file")->required();
  submit->add_option("-p,--parallelism", submit_cmd.parallelism, "default parallelism")
      ->check(CLI::Range(1, 32768));
  submit->add_option("--from-savepoint", submit_cmd.from_savepoint,
                     "start from this savepoint-N (or chk-N) directory");
  submit->add_flag("--wait", submit_cmd.wait,
                   "follow the job until it ends (exit 6 when it fails; Ctrl-C stops waiting)");

  bool list_all = false;
  auto* list = app.add_subcommand("list", "jobs on the cluster");
  list->add_flag("-a,--all", list_all, "also finished, cancelled and failed jobs");

  std::string job_id;
  auto* describe = app.add_subcommand("describe", "a job's state, progress and placement");
  describe->add_option("JOB", job_id, "the job's name")->required();

  bool cancel_savepoint = false;
  auto* cancel = app.add_subcommand("cancel", "stop a job");
  cancel->add_option("JOB", job_id, "the job's name")->required();
  cancel->add_flag("--savepoint", cancel_savepoint, "take a savepoint first and print its path");

  auto* savepoint = app.add_subcommand("savepoint", "take a savepoint of a running job");
  savepoint->add_option("JOB", job_id, "the job's name")->required();

  auto* checkpoints = app.add_subcommand("checkpoints", "a job's completed checkpoints");
  checkpoints->add_option("JOB", job_id, "the job's name")->required();

  int rescale_p = 0;
  auto* rescale =
      app.add_subcommand("rescale", "change a running job's parallelism through a savepoint");
  rescale->add_option("JOB", job_id, "the job's name")->required();
  rescale->add_option("-p,--parallelism", rescale_p, "the new parallelism")
      ->required()
      ->check(CLI::Range(1, 32768));

  auto* workers = app.add_subcommand("workers", "the cluster's workers and their slots");

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
  const bool remote = submit->parsed() || list->parsed() || describe->parsed() ||
                      cancel->parsed() || savepoint->parsed() || checkpoints->parsed() ||
                      rescale->parsed() || workers->parsed();
  if (remote)
    if (int code = PrepareRemote(&r); code != kExitOk) return code;
  if (submit->parsed()) return RunSubmit(g, r, submit_cmd);
  if (list->parsed()) return RunList(g, r, list_all);
  if (describe->parsed()) return RunDescribe(g, r, job_id);
  if (cancel->parsed()) return RunCancel(g, r, job_id, cancel_savepoint);
  if (savepoint->parsed()) return RunSavepoint(g, r, job_id);
  if (checkpoints->parsed()) return RunCheckpoints(g, r, job_id);
  if (rescale->parsed()) return RunRescale(g, r, job_id, rescale_p);
  if (workers->parsed()) return RunWorkers(g, r);
  return kExitUsage;
}
