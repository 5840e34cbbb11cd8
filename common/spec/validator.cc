// Reads and validates a job file into a JobSpec (validator_internal.h says
// how the validator is split): the top level, checkpoint, restart and
// streams here, and ParseJob/LoadJob.
#include "common/files.h"
#include "common/spec/validator_internal.h"

namespace weir::spec {
namespace internal {

void Validator::Run(const YAML::Node& root) {
  MapReader top(&r_, root, "the job", kTopKeys);
  if (!top.ok()) return;
  if (auto n = top.Get("name"); n.IsDefined()) {
    if (auto s = r_.String(n, "name")) {
      bool ok = !s->empty() && s->size() <= 63;
      for (char c : *s) ok &= (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
      if (!ok)
        r_.Error(n, "job name '" + *s +
                        "' must be 1 to 63 characters of lower-case letters, digits and '-'");
      job_.name = *s;
    }
  } else {
    r_.Error(Position{1, 1}, "the job has no 'name'");
  }
  if (auto n = top.Get("description"); n.IsDefined()) (void)r_.String(n, "description");
  if (auto n = top.Get("max_parallelism"); n.IsDefined())
    if (auto v = r_.Int(n, "max_parallelism", 1, 32768)) job_.max_parallelism = int(*v);
  if (auto n = top.Get("parallelism"); n.IsDefined())
    if (auto v = r_.Int(n, "parallelism", 1, 32768)) {
      job_.parallelism = int(*v);
      if (*v > job_.max_parallelism)
        r_.Error(n, "parallelism " + std::to_string(*v) + " is larger than max_parallelism " +
                        std::to_string(job_.max_parallelism));
    }
  if (auto n = top.Get("checkpoint"); n.IsDefined()) ReadCheckpoint(n);
  if (auto n = top.Get("restart"); n.IsDefined()) ReadRestart(n);
  if (auto n = top.Get("secrets"); n.IsDefined()) ReadSecretsMap(n);
  if (auto n = top.Get("sources"); n.IsDefined())
    ReadSources(n);
  else
    r_.Error(Position{1, 1}, "the job has no 'sources'");
  if (auto n = top.Get("operators"); n.IsDefined()) ReadOperators(n);
  BindOperators();
  if (auto n = top.Get("sinks"); n.IsDefined())
    ReadSinks(n);
  else
    r_.Error(Position{1, 1}, "the job has no 'sinks': add one (stdout shows the results)");
  top.Finish();
  job_.event_time = std::any_of(job_.sources.begin(), job_.sources.end(),
                                [](const SourceSpec& s) { return s.event_time.has_value(); });
}

// `secrets: {pii: {env: PII_KEY}}`: keys that expressions name
// (hmac_sha256(x, 'pii')); the values are read on the workers.
void Validator::ReadSecretsMap(const YAML::Node& node) {
  if (!node.IsMap()) {
    r_.Error(node, "secrets must be a map of names to {env: NAME} or {file: /path}");
    return;
  }
  job_.keys = std::make_shared<expr::KeyRing>();
  for (const auto& kv : node) {
    const std::string name = kv.first.Scalar();
    if (!IsIdentifier(name)) {
      r_.Error(kv.first, "secret name '" + name +
                             "' must be letters, digits and '_', not starting with a digit");
      continue;
    }
    if (auto ref = ReadSecret(kv.second, "secrets." + name)) {
      job_.secrets[name] = *ref;
      job_.keys->names.insert(name);
    }
  }
}

void Validator::ReadCheckpoint(const YAML::Node& node) {
  MapReader m(&r_, node, "checkpoint", {"interval", "mode", "storage", "retain", "timeout"});
  if (!m.ok()) return;
  if (auto n = m.Get("interval"); n.IsDefined())
    if (auto d = r_.Duration(n, "checkpoint.interval")) {
      if (*d < 10) r_.Error(n, "checkpoint.interval must be at least 10ms");
      job_.checkpoint.interval_ms = *d;
    }
  if (auto n = m.Get("mode"); n.IsDefined())
    if (auto v = r_.Enum(n, "checkpoint mode", {"exactly_once", "at_least_once", "none"}))
      job_.checkpoint.mode = *v == "exactly_once"    ? CheckpointMode::kExactlyOnce
                             : *v == "at_least_once" ? CheckpointMode::kAtLeastOnce
                                                     : CheckpointMode::kNone;
  if (auto n = m.Get("storage"); n.IsDefined())
    if (auto s = r_.String(n, "checkpoint.storage")) {
      if (!s->starts_with("file://") || s->size() <= 7)
        r_.Error(n,
                 "checkpoint.storage must be a file:// URI, such as "
                 "file:///var/lib/weir/checkpoints");
      job_.checkpoint.storage = *s;
    }
  if (auto n = m.Get("retain"); n.IsDefined())
    if (auto v = r_.Int(n, "checkpoint.retain", 1, 1000)) job_.checkpoint.retain = int(*v);
  job_.checkpoint.timeout_ms =
      std::clamp<int64_t>(60 * job_.checkpoint.interval_ms, 60'000, 600'000);
  if (auto n = m.Get("timeout"); n.IsDefined())
    if (auto d = r_.Duration(n, "checkpoint.timeout")) job_.checkpoint.timeout_ms = *d;
  if (job_.checkpoint.mode == CheckpointMode::kNone)
    for (const char* key : {"interval", "storage", "retain", "timeout"})
      if (m.Has(key))
        r_.Error(m.KeyNode(key), std::string("checkpoint.") + key +
                                     " does nothing with checkpoint.mode none (the job takes no "
                                     "checkpoints): remove it, or choose a mode");
  m.Finish();
}

void Validator::ReadRestart(const YAML::Node& node) {
  MapReader m(&r_, node, "restart", {"attempts", "delay"});
  if (!m.ok()) return;
  if (auto n = m.Get("attempts"); n.IsDefined())
    if (auto v = r_.Int(n, "restart.attempts", 0, 1'000'000)) job_.restart.attempts = int(*v);
  if (auto n = m.Get("delay"); n.IsDefined())
    if (auto d = r_.Duration(n, "restart.delay")) job_.restart.delay_ms = *d;
  m.Finish();
}

bool Validator::DefineStream(const std::string& name, const YAML::Node& at, Stream s) {
  if (!IsStreamName(name)) {
    r_.Error(at, "stream name '" + name + "' may only use letters, digits, '_', '-' and '.'");
    return false;
  }
  auto [it, fresh] = streams_.emplace(name, s);
  if (!fresh) {
    r_.Error(at, "stream '" + name + "' is already defined at line " +
                     std::to_string(it->second.pos.line));
    return false;
  }
  stream_order_.push_back(name);
  return true;
}

}  // namespace internal

using internal::Reader;
using internal::Validator;

namespace {

// ParseJob and ParseResolvedJob: `env` null for a resolved job.
LoadResult Parse(std::string_view yaml_text, std::string file, EnvLookup env,
                 const JobFiles* files) {
  LoadResult out;
  if (yaml_text.size() > kMaxJobFileBytes) {
    out.diagnostics.push_back({{},
                               "the job file is larger than " + std::to_string(kMaxJobFileBytes) +
                                   " bytes (1 MiB), the limit for a job file"});
    return out;
  }
  auto job = std::make_unique<JobSpec>();
  job->file = file;
  Reader reader(yaml_text, env, files);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml_text));
  } catch (const YAML::Exception& e) {
    Position p{e.mark.line >= 0 ? e.mark.line + 1 : 0, e.mark.column >= 0 ? e.mark.column + 1 : 0};
    out.diagnostics.push_back({p, "invalid YAML: " + e.msg});
    return out;
  }
  try {
    Validator v(&reader, job.get());
    v.Run(root);
    job->late_streams = v.TakeLateSchemas();
  } catch (const YAML::Exception& e) {
    // yaml-cpp throws on some malformed structures; report rather than crash.
    Position p{e.mark.line >= 0 ? e.mark.line + 1 : 0, e.mark.column >= 0 ? e.mark.column + 1 : 0};
    reader.Error(p, "invalid job file: " + e.msg);
  }
  if (!reader.resolved() && reader.diagnostics().empty()) {
    Position where;
    auto text = internal::WriteResolved(yaml_text, root, reader.substitutions(), &where);
    if (text.ok())
      out.resolved_yaml = std::move(text).value();
    else
      reader.Error(where, text.status().message());
    size_t total = 0;
    for (const auto& [path, content] : reader.files_read()) total += content.size();
    if (reader.files_read().size() > kMaxJobFileCount || total > kMaxJobFilesTotalBytes)
      reader.Error(Position{}, "the job names " + std::to_string(reader.files_read().size()) +
                                   " files of " + SizeText(total) +
                                   " in all; a job may send at most " +
                                   std::to_string(kMaxJobFileCount) + " files of " +
                                   SizeText(kMaxJobFilesTotalBytes) + " in all");
    out.files = std::move(reader.files_read());
  }
  out.diagnostics = std::move(reader.diagnostics());
  std::stable_sort(
      out.diagnostics.begin(), out.diagnostics.end(), [](const Diagnostic& a, const Diagnostic& b) {
        return a.pos.line != b.pos.line ? a.pos.line < b.pos.line : a.pos.column < b.pos.column;
      });
  if (out.diagnostics.empty()) {
    out.job = std::move(job);
  } else {
    out.resolved_yaml.clear();
    out.files.clear();
  }
  return out;
}

}  // namespace

LoadResult ParseJob(std::string_view yaml_text, std::string file, EnvLookup env) {
  return Parse(yaml_text, std::move(file), env != nullptr ? env : ProcessEnv, nullptr);
}

LoadResult ParseResolvedJob(std::string_view yaml_text, std::string file, const JobFiles& files) {
  return Parse(yaml_text, std::move(file), nullptr, &files);
}

LoadResult LoadJob(const std::string& path, EnvLookup env) {
  auto text = ReadFileLimited(path, kMaxJobFileBytes, "the job file");
  if (!text.ok()) {
    LoadResult out;
    out.diagnostics.push_back({{}, text.status().message()});
    return out;
  }
  return ParseJob(*text, path, env);
}

}  // namespace weir::spec
