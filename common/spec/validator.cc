// Reads and validates a job file into a JobSpec. Two passes: first the
// structure of every source, operator and sink (keys, values, names); then
// operators are bound in dependency order, which gives each stream its schema,
// type-checks expressions and finds unknown streams and cycles.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <tuple>

#include "common/format/avro.h"
#include "common/format/protobuf.h"
#include "common/spec/job_spec.h"
#include "common/spec/yaml_reader_internal.h"
#include "common/text.h"
#include "common/time.h"

namespace weir::spec {
namespace {

using internal::MapReader;
using internal::Reader;

const std::vector<std::string> kTopKeys = {
    "name",    "description", "parallelism", "max_parallelism", "checkpoint", "restart",
    "sources", "operators",   "sinks"};
const std::vector<std::string> kOperatorKindKeys = {"filter", "map", "key_by", "join",
                                                    "union",  "udf", "rename", "cast"};

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

bool IsIdentifier(std::string_view s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  return true;
}

bool IsStreamName(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.'))
      return false;
  return true;
}

// Whether a schema default (always written as text) converts to the type.
bool DefaultFits(const std::string& v, TypeId t) {
  switch (t) {
    case TypeId::kBigint: {
      int64_t x;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
      return ec == std::errc() && p == v.data() + v.size();
    }
    case TypeId::kDouble: {
      char* end = nullptr;
      std::strtod(v.c_str(), &end);
      return !v.empty() && end == v.c_str() + v.size();
    }
    case TypeId::kBoolean:
      return v == "true" || v == "false";
    case TypeId::kTimestamp:
      return ParseTimestamp(v).has_value();
    default:
      return true;
  }
}

std::unique_ptr<expr::Expr> Clone(const expr::Expr& e) {
  auto c = std::make_unique<expr::Expr>();
  c->kind = e.kind;
  c->offset = e.offset;
  c->literal = e.literal;
  c->qualifier = e.qualifier;
  c->name = e.name;
  c->op = e.op;
  c->function = e.function;
  c->cast_type = e.cast_type;
  c->negated = e.negated;
  c->has_else = e.has_else;
  c->type = e.type;
  c->input = e.input;
  c->column = e.column;
  for (const auto& ch : e.children) c->children.push_back(Clone(*ch));
  return c;
}

// Which inputs an expression's columns come from: bit i set = input i.
unsigned InputsUsed(const expr::Expr& e) {
  unsigned m = e.kind == expr::NodeKind::kColumn && e.input >= 0 ? (1u << e.input) : 0u;
  for (const auto& ch : e.children) m |= InputsUsed(*ch);
  return m;
}

struct Stream {
  enum Kind { kSource, kOperator, kLate } kind;
  size_t index;  // into sources / drafts
  Position pos;
};

// An operator between the two passes.
struct Draft {
  OperatorSpec spec;
  YAML::Node node;
  std::vector<YAML::Node> from_nodes;  // parallel to spec.from
  YAML::Node filter_node, join_on_node;
  std::vector<YAML::Node> map_nodes, key_nodes, agg_nodes;  // value nodes
  // rename/cast: a map over every input field, made when it is bound.
  bool reshape = false;
  std::vector<std::pair<std::string, std::string>> renames;  // old -> new
  std::vector<std::pair<std::string, TypeId>> casts;         // field (new name) -> type
  std::vector<YAML::Node> rename_nodes, cast_nodes;          // key nodes, parallel
  bool structure_ok = true;
  enum State { kPending, kBound, kPoisoned } state = kPending;
};

class Validator {
 public:
  Validator(Reader* r, JobSpec* job) : r_(*r), job_(*job) {}

  void Run(const YAML::Node& root) {
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

 private:
  // ---- checkpoint, restart ----
  void ReadCheckpoint(const YAML::Node& node) {
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
    m.Finish();
  }

  void ReadRestart(const YAML::Node& node) {
    MapReader m(&r_, node, "restart", {"attempts", "delay"});
    if (!m.ok()) return;
    if (auto n = m.Get("attempts"); n.IsDefined())
      if (auto v = r_.Int(n, "restart.attempts", 0, 1'000'000)) job_.restart.attempts = int(*v);
    if (auto n = m.Get("delay"); n.IsDefined())
      if (auto d = r_.Duration(n, "restart.delay")) job_.restart.delay_ms = *d;
    m.Finish();
  }

  // ---- streams ----
  bool DefineStream(const std::string& name, const YAML::Node& at, Stream s) {
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

  std::vector<std::string> StreamNames() const { return stream_order_; }

  // ---- sources ----
  void ReadSources(const YAML::Node& node) {
    if (!node.IsMap() || node.size() == 0) {
      r_.Error(node, "sources must be a map of source names to their settings");
      return;
    }
    for (const auto& kv : node) {
      std::string name = kv.first.Scalar();
      SourceSpec src;
      src.name = name;
      src.pos = Reader::Pos(kv.first);
      if (!DefineStream(name, kv.first, {Stream::kSource, job_.sources.size(), src.pos})) continue;
      size_t before = r_.diagnostics().size();
      ReadSource(kv.second, &src);
      // Operators reading a source with errors are not checked: their errors
      // would only echo this one.
      if (r_.diagnostics().size() != before) poisoned_sources_.insert(name);
      job_.sources.push_back(std::move(src));
    }
  }

  void ReadSource(const YAML::Node& node, SourceSpec* src) {
    const std::string what = "source '" + src->name + "'";
    if (!node.IsMap()) {
      r_.Error(node, what + " must be a map with at least a 'type'");
      return;
    }
    std::vector<std::string> keys = {"type",       "parallelism", "format",     "schema",
                                     "event_time", "on_error",    "dead_letter"};
    auto tn = node["type"];
    std::string type;
    if (!tn.IsDefined()) {
      r_.Error(node, what + " has no 'type': use kafka, file, nexmark or datagen");
    } else if (auto t = r_.Enum(tn, "source type", {"kafka", "file", "nexmark", "datagen"})) {
      type = *t;
    }
    src->type = type;
    if (type == "kafka")
      keys.insert(keys.end(), {"brokers", "topic", "start", "end", "properties", "security", "rate",
                               "max_record_bytes", "metadata"});
    if (type == "file") keys.insert(keys.end(), {"path", "rate", "max_record_bytes", "metadata"});
    if (type == "nexmark") keys.insert(keys.end(), {"events", "rate", "seed", "only"});
    if (type == "datagen") keys.insert(keys.end(), {"events", "rate", "seed"});
    MapReader m(&r_, node, what, keys);
    if (type.empty()) return;  // unknown keys depend on the type
    if (auto n = m.Get("parallelism"); n.IsDefined())
      if (auto v = r_.Int(n, "parallelism", 1, 32768)) src->parallelism = int(*v);
    auto required = [&](const std::string& key) -> std::string {
      auto n = m.Get(key);
      if (!n.IsDefined()) {
        r_.Error(node, what + " (" + type + ") needs '" + key + "'");
        return "";
      }
      return r_.String(n, key).value_or("");
    };
    if (type == "kafka") {
      src->brokers = required("brokers");
      src->topic = required("topic");
      if (auto n = m.Get("start"); n.IsDefined())
        if (auto v = r_.Enum(n, "start", {"earliest", "latest"}))
          src->start = *v == "earliest" ? StartFrom::kEarliest : StartFrom::kLatest;
      if (auto n = m.Get("end"); n.IsDefined())
        if (auto v = r_.Enum(n, "end", {"never", "latest"})) src->end_at_latest = *v == "latest";
      if (auto n = m.Get("properties"); n.IsDefined())
        ReadProperties(n, &src->properties, &src->secrets);
      if (auto n = m.Get("security"); n.IsDefined())
        ReadSecurity(n, what, &src->properties, &src->secrets);
    } else if (type == "file") {
      src->path = required("path");
    } else {
      if (auto n = m.Get("events"); n.IsDefined())
        src->events = r_.Int(n, "events", 0, int64_t{1} << 62);
      if (auto n = m.Get("seed"); n.IsDefined())
        src->seed = r_.Int(n, "seed", INT64_MIN, INT64_MAX).value_or(0);
      if (auto n = m.Get("only"); n.IsDefined())
        src->only = r_.Enum(n, "nexmark kind", {"bid", "auction", "person"}).value_or("bid");
    }
    if (auto n = m.Get("rate"); n.IsDefined()) src->rate = r_.Int(n, "rate", 1, int64_t{1} << 40);
    if (auto n = m.Get("max_record_bytes"); n.IsDefined())
      src->max_record_bytes =
          ReadByteSize(n, "max_record_bytes", 1, int64_t{1} << 30).value_or(kDefaultMaxRecordBytes);
    // Format and schema.
    bool needs_schema = type == "kafka" || type == "file" || type == "datagen";
    if (type == "kafka" || type == "file") {
      if (auto n = m.Get("format"); n.IsDefined()) {
        ReadFormat(n, &src->format, false);
        if (type == "file" && (src->format.type == "avro" || src->format.type == "protobuf"))
          r_.Error(n, what + ": " + src->format.type +
                          " records are binary and cannot be read as lines of a file; "
                          "use a kafka source");
        else if (type == "file" &&
                 (src->format.options.count("registry") || src->format.options.count("framing")))
          r_.Error(n, what +
                          ": the schema-registry wire format is binary and cannot be read "
                          "as lines of a file; use a kafka source");
      }
    } else if (m.Has("format")) {
      r_.Error(m.KeyNode("format"),
               what + ": a " + type + " source generates rows and takes no format");
    }
    if (type == "nexmark") {
      if (m.Has("schema"))
        r_.Error(m.KeyNode("schema"),
                 what + ": the nexmark schema is fixed (see docs/job-spec.md); remove 'schema'");
      src->schema = NexmarkSchema(src->only);
    } else if (src->format.type == "raw" && type != "datagen") {
      if (m.Has("schema"))
        r_.Error(m.KeyNode("schema"), what +
                                          ": format raw gives one field 'value' (bytes); "
                                          "remove 'schema'");
      src->schema = Schema({{"value", TypeId::kBytes}});
    } else if (auto n = m.Get("schema"); n.IsDefined()) {
      ReadSchema(n, src);
    } else if (needs_schema) {
      r_.Error(node, what + " needs a 'schema' listing its fields and their types");
    }
    if (auto n = m.Get("metadata"); n.IsDefined()) ReadMetadata(n, what, src);
    if (auto n = m.Get("event_time"); n.IsDefined())
      ReadEventTime(n, src);
    else if (type == "nexmark")
      src->event_time = EventTimeSpec{"date_time", 0, 0};
    if (auto n = m.Get("on_error"); n.IsDefined()) {
      if (type == "nexmark" || type == "datagen")
        r_.Error(n, what + ": a generated source has no malformed records; remove 'on_error'");
      else if (auto v = r_.Enum(n, "on_error", {"fail", "skip", "dead_letter"}))
        src->on_error = *v == "fail"   ? OnError::kFail
                        : *v == "skip" ? OnError::kSkip
                                       : OnError::kDeadLetter;
    }
    if (auto n = m.Get("dead_letter"); n.IsDefined()) {
      if (src->on_error != OnError::kDeadLetter)
        r_.Error(m.KeyNode("dead_letter"),
                 what + " has a dead_letter sink but on_error is not dead_letter");
      DeadLetterSpec dl;
      dl.pos = Reader::Pos(n);
      MapReader d(&r_, n, what + " dead_letter", {"type", "brokers", "topic", "path"});
      if (d.ok()) {
        auto t = d.Get("type");
        if (!t.IsDefined())
          r_.Error(n, "dead_letter needs a 'type': kafka or file");
        else
          dl.type = r_.Enum(t, "dead_letter type", {"kafka", "file"}).value_or("");
        auto need = [&](const std::string& key) -> std::string {
          auto v = d.Get(key);
          if (!v.IsDefined()) {
            r_.Error(n, "dead_letter (" + dl.type + ") needs '" + key + "'");
            return "";
          }
          return r_.String(v, key).value_or("");
        };
        if (dl.type == "kafka") {
          dl.topic = need("topic");
          if (auto b = d.Get("brokers"); b.IsDefined())
            dl.brokers = r_.String(b, "brokers").value_or("");
          else
            dl.brokers = src->brokers;
          if (dl.brokers.empty() && src->type != "kafka")
            r_.Error(n, "dead_letter (kafka) needs 'brokers'");
        } else if (dl.type == "file") {
          dl.path = need("path");
        }
        d.Finish();
      }
      src->dead_letter = dl;
    } else if (src->on_error == OnError::kDeadLetter) {
      r_.Error(m.KeyNode("on_error"), what +
                                          ": on_error is dead_letter but there is no "
                                          "'dead_letter' sink (e.g. {type: kafka, topic: x.dlq})");
    }
    m.Finish();
  }

  // `metadata: {field: kind}`: fields filled from each record's metadata,
  // appended to the source's schema.
  void ReadMetadata(const YAML::Node& n, const std::string& what, SourceSpec* src) {
    if (!n.IsMap() || n.size() == 0) {
      r_.Error(n, what + ": metadata must map field names to what fills them (e.g. {k: key})");
      return;
    }
    static const std::vector<std::string> kKafka = {"key",   "headers",   "timestamp",
                                                    "topic", "partition", "offset"};
    static const std::vector<std::string> kFile = {"file", "line"};
    const std::vector<std::string>& kinds = src->type == "kafka" ? kKafka : kFile;
    std::vector<Field> fields = src->schema.fields();
    for (const auto& kv : n) {
      const std::string name = kv.first.Scalar();
      if (!IsIdentifier(name)) {
        r_.Error(kv.first, "field name '" + name + "' must be an identifier");
        continue;
      }
      if (src->schema.IndexOf(name) >= 0 ||
          std::any_of(src->metadata.begin(), src->metadata.end(),
                      [&](const MetadataField& f) { return f.name == name; })) {
        r_.Error(kv.first, what + ": field '" + name + "' is already in its schema");
        continue;
      }
      auto text = r_.String(kv.second, "metadata of field '" + name + "'");
      if (!text) continue;
      MetadataField f{name, *text, ""};
      if (src->type == "kafka" && text->rfind("header.", 0) == 0 && text->size() > 7) {
        f.kind = "header";
        f.header = text->substr(7);
      } else if (std::find(kinds.begin(), kinds.end(), *text) == kinds.end()) {
        std::string list;
        for (const auto& k : kinds) list += (list.empty() ? "" : ", ") + k;
        if (src->type == "kafka") list += ", header.NAME";
        r_.Error(kv.second, "unknown metadata '" + *text + "' for a " + src->type +
                                " source: use " + list + DidYouMean(*text, kinds));
        continue;
      }
      TypeId type = TypeId::kString;
      if (f.kind == "key" || f.kind == "header") type = TypeId::kBytes;
      if (f.kind == "timestamp") type = TypeId::kTimestamp;
      if (f.kind == "partition" || f.kind == "offset" || f.kind == "line") type = TypeId::kBigint;
      fields.push_back({name, type});
      src->metadata.push_back(std::move(f));
    }
    src->schema = Schema(std::move(fields));
  }

  // librdkafka settings. A value that is a secret reference, or a setting
  // that holds a secret, goes to `secrets`.
  void ReadProperties(const YAML::Node& n, std::map<std::string, std::string>* out,
                      Secrets* secrets) {
    if (!n.IsMap()) {
      r_.Error(n, "properties must be a map of setting names to values");
      return;
    }
    for (const auto& kv : n) {
      const std::string key = kv.first.Scalar();
      if (kv.second.IsMap() || IsSecretSetting(key)) {
        if (auto ref = ReadSecret(kv.second, "property " + key)) (*secrets)[key] = *ref;
      } else if (auto v = r_.String(kv.second, key)) {
        (*out)[key] = *v;
      }
    }
  }

  // `{env: NAME}`, `{file: /path}`, or a scalar that is exactly `${NAME}`
  // (kept as a reference: it is read on the workers, not substituted here).
  std::optional<SecretRef> ReadSecret(const YAML::Node& n, const std::string& what) {
    if (n.IsScalar()) {
      const std::string& raw = n.Scalar();
      if (raw.size() > 3 && raw.rfind("${", 0) == 0 && raw.back() == '}' &&
          IsIdentifier(std::string_view(raw).substr(2, raw.size() - 3)))
        return SecretRef{SecretRef::From::kEnv, raw.substr(2, raw.size() - 3)};
      r_.Error(n, what +
                      " is a secret and cannot be written in the job file (the job file is "
                      "stored with the job): use {env: NAME} or {file: /path}, which the "
                      "workers read");
      return std::nullopt;
    }
    MapReader m(&r_, n, what, {"env", "file"});
    if (!m.ok()) return std::nullopt;
    YAML::Node env = m.Get("env"), file = m.Get("file");
    m.Finish();
    if (env.IsDefined() == file.IsDefined()) {
      r_.Error(n, what + " needs one of 'env' (a variable's name) or 'file' (a path)");
      return std::nullopt;
    }
    if (env.IsDefined()) {
      auto name = r_.String(env, "env");
      if (!name) return std::nullopt;
      if (!IsIdentifier(*name)) {
        r_.Error(env, "'" + *name + "' is not an environment variable name");
        return std::nullopt;
      }
      return SecretRef{SecretRef::From::kEnv, *name};
    }
    auto path = r_.String(file, "file");
    if (!path) return std::nullopt;
    if (path->empty() || (*path)[0] != '/') {
      r_.Error(file, "the secret file must be an absolute path, not '" + *path + "'");
      return std::nullopt;
    }
    return SecretRef{SecretRef::From::kFile, *path};
  }

  // A kafka source's or sink's `security` block, as librdkafka settings.
  void ReadSecurity(const YAML::Node& n, const std::string& what,
                    std::map<std::string, std::string>* props, Secrets* secrets) {
    MapReader m(&r_, n, what + " security", {"protocol", "sasl", "ssl"});
    if (!m.ok()) return;
    // (Maps, not vectors of pairs: g++ 12 at -O3 reports a false
    // -Warray-bounds on emplacing pairs here.)
    std::map<std::string, std::string> set;
    std::map<std::string, SecretRef> set_secret;
    YAML::Node sasl = m.Get("sasl"), ssl = m.Get("ssl"), proto = m.Get("protocol");
    std::string protocol =
        std::string(sasl.IsDefined() ? "sasl_" : "") + (ssl.IsDefined() ? "ssl" : "plaintext");
    if (proto.IsDefined()) {
      auto p =
          r_.Enum(proto, "security protocol", {"plaintext", "ssl", "sasl_plaintext", "sasl_ssl"});
      if (!p) return;
      protocol = *p;
      const bool uses_sasl = protocol.rfind("sasl_", 0) == 0;
      if (uses_sasl && !sasl.IsDefined())
        r_.Error(proto, "security protocol " + protocol +
                            " needs a 'sasl' block with mechanism, username and password");
      if (!uses_sasl && sasl.IsDefined())
        r_.Error(m.KeyNode("sasl"),
                 "a 'sasl' block needs protocol sasl_plaintext or sasl_ssl, "
                 "not " +
                     protocol);
      if (ssl.IsDefined() && protocol.find("ssl") == std::string::npos)
        r_.Error(m.KeyNode("ssl"),
                 "an 'ssl' block needs protocol ssl or sasl_ssl, not " + protocol);
    }
    set["security.protocol"] = Upper(protocol);
    if (sasl.IsDefined()) {
      MapReader s(&r_, sasl, what + " security sasl", {"mechanism", "username", "password"});
      if (s.ok()) {
        auto need = [&](const std::string& key) {
          YAML::Node v = s.Get(key);
          if (!v.IsDefined()) r_.Error(sasl, what + " security sasl needs '" + key + "'");
          return v;
        };
        if (auto v = need("mechanism"); v.IsDefined())
          if (auto mech = r_.Enum(v, "sasl mechanism", {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}))
            set["sasl.mechanism"] = *mech;
        if (auto v = need("username"); v.IsDefined())
          if (auto user = r_.String(v, "sasl username")) set["sasl.username"] = *user;
        if (auto v = need("password"); v.IsDefined())
          if (auto ref = ReadSecret(v, "sasl password")) set_secret["sasl.password"] = *ref;
        s.Finish();
      }
    }
    if (ssl.IsDefined()) {
      MapReader s(&r_, ssl, what + " security ssl",
                  {"ca", "certificate", "key", "key_password", "verify_hostname"});
      if (s.ok()) {
        for (auto [key, setting] : {std::pair{"ca", "ssl.ca.location"},
                                    std::pair{"certificate", "ssl.certificate.location"},
                                    std::pair{"key", "ssl.key.location"}}) {
          if (auto v = s.Get(key); v.IsDefined())
            if (auto path = r_.String(v, std::string("ssl ") + key)) set[setting] = *path;
        }
        if (s.Has("certificate") != s.Has("key"))
          r_.Error(ssl, what +
                            " security ssl: a client certificate needs both 'certificate' "
                            "and 'key'");
        if (auto v = s.Get("key_password"); v.IsDefined())
          if (auto ref = ReadSecret(v, "ssl key_password")) set_secret["ssl.key.password"] = *ref;
        if (auto v = s.Get("verify_hostname"); v.IsDefined())
          if (auto b = r_.Bool(v, "verify_hostname"))
            set["ssl.endpoint.identification.algorithm"] = *b ? "https" : "none";
        s.Finish();
      }
    }
    m.Finish();
    auto taken = [&](const std::string& key) {
      if (props->count(key) == 0 && secrets->count(key) == 0) return false;
      r_.Error(n, what + ": '" + key +
                      "' is set both in 'properties' and by 'security'; "
                      "remove it from properties");
      return true;
    };
    for (auto& [k, v] : set)
      if (!taken(k)) (*props)[k] = v;
    for (auto& [k, ref] : set_secret)
      if (!taken(k)) (*secrets)[k] = ref;
  }

  // A size in bytes: a whole number, or one with KiB, MiB or GiB.
  std::optional<int64_t> ReadByteSize(const YAML::Node& n, const std::string& what, int64_t min,
                                      int64_t max) {
    auto text = r_.String(n, what);
    if (!text) return std::nullopt;
    int64_t v = 0;
    auto [p, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
    std::string_view unit(p, static_cast<size_t>(text->data() + text->size() - p));
    while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
    int shift = -1;
    if (unit.empty() || unit == "B") shift = 0;
    if (unit == "KiB") shift = 10;
    if (unit == "MiB") shift = 20;
    if (unit == "GiB") shift = 30;
    if (ec != std::errc() || shift < 0 || v < 0 || v > (max >> shift)) {
      if (ec == std::errc() && shift >= 0)
        r_.Error(n, what + " must be at most " + std::to_string(max >> 20) + " MiB, not " + *text);
      else
        r_.Error(n, what + " must be a size such as 1048576, 512KiB or 8MiB, not '" + *text + "'");
      return std::nullopt;
    }
    v <<= shift;
    if (v < min) {
      r_.Error(n, what + " must be at least " + std::to_string(min) + " bytes");
      return std::nullopt;
    }
    return v;
  }

  void ReadFormat(const YAML::Node& n, FormatSpec* f, bool for_sink) {
    static const std::vector<std::string> kFormats = {"json", "csv", "raw", "avro", "protobuf"};
    YAML::Node type_node = n;
    // The avro options (a default YAML::Node is defined, hence the flags).
    YAML::Node avro_schema, avro_registry, avro_id;
    bool has_schema = false, has_registry = false, has_id = false;
    // The protobuf options.
    YAML::Node pb_set, pb_proto, pb_message;
    bool has_set = false, has_proto = false, has_message = false;
    // The schema-registry options (avro, protobuf, json).
    YAML::Node url(YAML::NodeType::Undefined), framing(YAML::NodeType::Undefined),
        subject(YAML::NodeType::Undefined);
    if (n.IsMap()) {
      MapReader m(&r_, n, "format",
                  {"type", "delimiter", "header", "schema", "registry_schemas", "schema_id",
                   "descriptor_set", "proto", "message", "registry", "framing", "subject"});
      type_node.reset(m.Get("type"));
      if (!type_node.IsDefined())
        r_.Error(n, "format needs a 'type': json, csv, raw, avro or protobuf");
      avro_schema.reset(m.Get("schema"));
      avro_registry.reset(m.Get("registry_schemas"));
      avro_id.reset(m.Get("schema_id"));
      has_schema = avro_schema.IsDefined();
      has_registry = avro_registry.IsDefined();
      has_id = avro_id.IsDefined();
      pb_set.reset(m.Get("descriptor_set"));
      pb_proto.reset(m.Get("proto"));
      pb_message.reset(m.Get("message"));
      has_set = pb_set.IsDefined();
      has_proto = pb_proto.IsDefined();
      has_message = pb_message.IsDefined();
      url.reset(m.Get("registry"));
      framing.reset(m.Get("framing"));
      subject.reset(m.Get("subject"));
      if (auto d = m.Get("delimiter"); d.IsDefined())
        if (auto s = r_.String(d, "delimiter")) {
          if (s->size() != 1) r_.Error(d, "the csv delimiter must be one character");
          f->options["delimiter"] = *s;
        }
      if (auto h = m.Get("header"); h.IsDefined())
        if (auto b = r_.Bool(h, "header")) f->options["header"] = *b ? "true" : "false";
      m.Finish();
      if (!type_node.IsDefined()) return;
    }
    auto s = r_.String(type_node, "format");
    if (!s) return;
    if (*s == "binary") *s = "raw";  // the other name users know it by
    if (std::find(kFormats.begin(), kFormats.end(), *s) == kFormats.end()) {
      r_.Error(type_node, "unknown format '" + *s +
                              "': expected 'json', 'csv', 'raw', 'avro' or 'protobuf'" +
                              DidYouMean(*s, kFormats));
      return;
    }
    f->type = *s;
    ReadRegistryOptions(url, framing, subject, *s, f, for_sink);
    if (*s != "avro") {
      if (has_schema) r_.Error(avro_schema, "'schema' is an option of format avro, not " + *s);
      if (has_registry)
        r_.Error(avro_registry, "'registry_schemas' is an option of format avro, not " + *s);
      if (has_id) {
        if (*s != "protobuf" && *s != "json")
          r_.Error(avro_id,
                   "'schema_id' is an option of formats avro, protobuf and json, not " + *s);
        else if (!for_sink)
          r_.Error(avro_id, "schema_id is for sinks; a source reads the id in each message");
        else if (auto v = r_.Int(avro_id, "schema_id", 0, 0xFFFFFFFFll))
          f->options["schema_id"] = std::to_string(*v);
      }
    }
    if (*s == "protobuf") {
      ReadProtobufOptions(n, has_set ? &pb_set : nullptr, has_proto ? &pb_proto : nullptr,
                          has_message ? &pb_message : nullptr, f);
      return;
    }
    for (auto [has, node, key] :
         {std::tuple{has_set, &pb_set, "descriptor_set"}, std::tuple{has_proto, &pb_proto, "proto"},
          std::tuple{has_message, &pb_message, "message"}})
      if (has)
        r_.Error(*node, "'" + std::string(key) + "' is an option of format protobuf, not " + *s);
    if (*s != "avro") return;
    ReadAvroOptions(n, has_schema ? &avro_schema : nullptr, has_registry ? &avro_registry : nullptr,
                    has_id ? &avro_id : nullptr, f, for_sink);
  }

  // `registry` (a schema registry's URL), `framing: registry` (the wire
  // format without a registry) and `subject` (sinks).
  void ReadRegistryOptions(const YAML::Node& url, const YAML::Node& framing,
                           const YAML::Node& subject, const std::string& type, FormatSpec* f,
                           bool for_sink) {
    const bool registry_format = type == "avro" || type == "protobuf" || type == "json";
    if (url.IsDefined()) {
      if (!registry_format) {
        r_.Error(url, "'registry' is an option of formats avro, protobuf and json, not " + type);
      } else if (auto v = r_.String(url, "registry")) {
        if (v->rfind("http://", 0) != 0 && v->rfind("https://", 0) != 0)
          r_.Error(url, "registry must be a schema registry's http:// or https:// URL, not '" + *v +
                            "'");
        else
          f->options["registry"] = *v;
      }
    }
    if (framing.IsDefined()) {
      if (for_sink)
        r_.Error(framing,
                 "framing is for sources; a sink writes the wire format with "
                 "'schema_id' or 'registry'");
      else if (type != "protobuf" && type != "json")
        r_.Error(framing, "'framing' is an option of formats protobuf and json, not " + type +
                              (type == "avro" ? " (avro reads the wire format with 'registry' "
                                                "or 'registry_schemas')"
                                              : ""));
      else if (auto v = r_.Enum(framing, "framing", {"none", "registry"}); v && *v == "registry")
        f->options["framing"] = *v;
    }
    if (subject.IsDefined()) {
      if (!for_sink || !url.IsDefined())
        r_.Error(subject,
                 "'subject' names where a sink registers its schema; it needs "
                 "'registry' on a sink");
      else if (auto v = r_.String(subject, "subject"))
        f->options["subject"] = *v;
    }
  }

  // The protobuf options of a format: the descriptors are loaded here, so
  // that a missing file or message is reported at its option.
  void ReadProtobufOptions(const YAML::Node& n, const YAML::Node* set_opt,
                           const YAML::Node* proto_opt, const YAML::Node* message_opt,
                           FormatSpec* f) {
    if (set_opt != nullptr && proto_opt != nullptr) {
      r_.Error(*proto_opt, "give 'descriptor_set' or 'proto', not both");
      return;
    }
    if (set_opt == nullptr && proto_opt == nullptr) {
      r_.Error(n,
               "format protobuf needs 'descriptor_set' (a FileDescriptorSet file) or 'proto' "
               "(a .proto file)");
      return;
    }
    const YAML::Node& file = set_opt != nullptr ? *set_opt : *proto_opt;
    const std::string key = set_opt != nullptr ? "descriptor_set" : "proto";
    auto path = r_.String(file, key);
    if (!path) return;
    f->options[key] = *path;
    if (Status st = format::CheckProtobufFile(f->options); !st.ok()) {
      r_.Error(file, st.message());
      return;
    }
    if (message_opt == nullptr) {
      r_.Error(n, "format protobuf needs 'message', the full name of the message (pkg.Name)");
      return;
    }
    auto message = r_.String(*message_opt, "message");
    if (!message) return;
    f->options["message"] = *message;
    if (Status st = format::CheckProtobufMessage(f->options); !st.ok())
      r_.Error(*message_opt, st.message());
  }

  // The avro options of a format: each writer schema (inline JSON or a file
  // path) is read and checked here, and kept as JSON text in the options.
  void ReadAvroOptions(const YAML::Node& n, const YAML::Node* schema_opt,
                       const YAML::Node* registry_opt, const YAML::Node* id_opt, FormatSpec* f,
                       bool for_sink) {
    auto read_schema = [&](const YAML::Node& node, const std::string& what) -> bool {
      auto text = r_.String(node, what);
      if (!text) return false;
      auto json = format::LoadAvroSchemaText(*text);
      if (!json.ok()) {
        r_.Error(node, json.status().message());
        return false;
      }
      if (Status st = format::CheckAvroSchema(*json); !st.ok()) {
        r_.Error(node, what + ": " + st.message());
        return false;
      }
      f->options[what == "schema" ? what : "registry_schemas." + what.substr(what.find(' ') + 1)] =
          *json;
      return true;
    };
    if (schema_opt != nullptr) read_schema(*schema_opt, "schema");
    if (registry_opt != nullptr) {
      const YAML::Node& registry = *registry_opt;
      if (for_sink) {
        r_.Error(registry,
                 "registry_schemas is for sources; a sink gives 'schema' and 'schema_id'");
      } else if (schema_opt != nullptr) {
        r_.Error(registry, "give 'schema' or 'registry_schemas', not both");
      } else if (!registry.IsMap() || registry.size() == 0) {
        r_.Error(registry,
                 "registry_schemas must map schema ids to Avro schemas (inline or a file)");
      } else {
        for (const auto& kv : registry) {
          auto key = r_.Int(kv.first, "schema id", 0, 0xFFFFFFFFll);
          if (key) read_schema(kv.second, "schema_id " + std::to_string(*key));
        }
      }
    }
    if (id_opt != nullptr) {
      const YAML::Node& id = *id_opt;
      if (!for_sink)
        r_.Error(id,
                 "schema_id is for sinks; a source maps ids with registry_schemas or "
                 "'registry'");
      else if (auto v = r_.Int(id, "schema_id", 0, 0xFFFFFFFFll))
        f->options["schema_id"] = std::to_string(*v);
    }
    const bool fetches = f->options.count("registry") != 0;
    if (!for_sink && schema_opt != nullptr && fetches)
      r_.Error(*schema_opt, "give 'schema' (unframed datums) or 'registry', not both");
    if (!for_sink && schema_opt == nullptr && registry_opt == nullptr && !fetches)
      r_.Error(n,
               "format avro needs 'schema' (the writer schema: inline JSON or a file path), "
               "'registry' (a schema registry's URL) or 'registry_schemas'");
  }

  void ReadSchema(const YAML::Node& n, SourceSpec* src) {
    if (!n.IsMap() || n.size() == 0) {
      r_.Error(n,
               "schema must be a map of field names to types (string, bigint, double, "
               "boolean, timestamp, bytes)");
      return;
    }
    static const std::vector<std::string> kTypes = {"boolean", "bigint", "double",
                                                    "string",  "bytes",  "timestamp"};
    std::set<std::string> names;
    std::map<std::string, std::string> alias_of;  // alias -> its field
    for (const auto& kv : n) {
      FieldSpec f;
      f.name = kv.first.Scalar();
      f.pos = Reader::Pos(kv.first);
      if (!IsIdentifier(f.name))
        r_.Error(kv.first, "field name '" + f.name +
                               "' must start with a letter or '_' and "
                               "use only letters, digits and '_'");
      YAML::Node type_node = kv.second;
      if (kv.second.IsMap()) {
        MapReader fm(&r_, kv.second, "field '" + f.name + "'", {"type", "aliases", "default"});
        type_node.reset(fm.Get("type"));
        if (!type_node.IsDefined()) {
          r_.Error(kv.second, "field '" + f.name + "' needs a 'type'");
          fm.Finish();
          continue;
        }
        if (auto a = fm.Get("aliases"); a.IsDefined())
          if (auto l = r_.StringList(a, "aliases")) f.aliases = *l;
        if (auto d = fm.Get("default"); d.IsDefined()) f.default_value = r_.String(d, "default");
        fm.Finish();
      }
      auto tname = r_.String(type_node, "field type");
      if (!tname) continue;
      auto t = ParseTypeName(*tname);
      if (!t || *t == TypeId::kNull) {
        r_.Error(type_node, "unknown type '" + *tname + "' for field '" + f.name + "': expected " +
                                QuotedList(kTypes) + DidYouMean(*tname, kTypes));
        continue;
      }
      f.type = *t;
      if (f.default_value && !DefaultFits(*f.default_value, f.type))
        r_.Error(kv.second["default"], "default '" + *f.default_value + "' of field '" + f.name +
                                           "' is not a " + std::string(TypeName(f.type)));
      if (auto it = alias_of.find(f.name); it != alias_of.end()) {
        r_.Error(kv.first,
                 "field '" + f.name + "' is already an alias of field '" + it->second + "'");
        continue;
      }
      if (!names.insert(f.name).second) continue;  // duplicate key reported by YAML checks
      for (const auto& a : f.aliases) {
        if (names.count(a) || alias_of.count(a))
          r_.Error(kv.first,
                   "alias '" + a + "' of field '" + f.name + "' is already a field or alias");
        else
          alias_of[a] = f.name;
      }
      src->schema.Add({f.name, f.type});
      src->fields.push_back(std::move(f));
    }
  }

  void ReadEventTime(const YAML::Node& n, SourceSpec* src) {
    MapReader m(&r_, n, "event_time", {"field", "max_out_of_orderness", "idle_timeout"});
    if (!m.ok()) return;
    EventTimeSpec et;
    if (auto f = m.Get("field"); f.IsDefined()) {
      if (auto s = r_.String(f, "event_time.field")) {
        et.field = *s;
        int idx = src->schema.IndexOf(*s);
        std::vector<std::string> names;
        for (const auto& fld : src->schema.fields()) names.push_back(fld.name);
        if (idx < 0 && src->schema.size() > 0) {
          r_.Error(f, "event_time field '" + *s + "' is not in the schema of source '" + src->name +
                          "'" + DidYouMean(*s, names));
        } else if (idx >= 0) {
          TypeId t = src->schema.field(idx).type;
          if (t != TypeId::kTimestamp && t != TypeId::kBigint)
            r_.Error(f, "event_time field '" + *s + "' is " + std::string(TypeName(t)) +
                            "; it must be a timestamp or bigint (epoch milliseconds)");
        }
      }
    } else if (src->type == "nexmark") {
      et.field = "date_time";
    } else {
      r_.Error(n, "event_time needs a 'field' holding each record's time");
    }
    if (src->type == "nexmark" && !et.field.empty() && et.field != "date_time")
      r_.Error(m.KeyNode("field"), "nexmark event time is always 'date_time'");
    if (auto d = m.Get("max_out_of_orderness"); d.IsDefined())
      et.max_out_of_orderness_ms = r_.Duration(d, "max_out_of_orderness").value_or(0);
    if (auto d = m.Get("idle_timeout"); d.IsDefined())
      et.idle_timeout_ms = r_.Duration(d, "idle_timeout").value_or(0);
    m.Finish();
    src->event_time = et;
  }

  // ---- operators, pass 1: structure ----
  void ReadOperators(const YAML::Node& node) {
    if (!node.IsSequence()) {
      operators_broken_ = true;
      r_.Error(node, "operators must be a list; start each operator with '- name: ...'");
      return;
    }
    for (const auto& entry : node) {
      YAML::Node item = entry;
      Draft d;
      d.node = item;
      d.spec.pos = Reader::Pos(item);
      ReadOperatorStructure(item, &d);
      drafts_.push_back(std::move(d));
      Draft& dr = drafts_.back();
      if (!dr.spec.name.empty()) {
        YAML::Node at = item.IsMap() && item["name"].IsDefined() ? item["name"] : item;
        if (!DefineStream(dr.spec.name, at, {Stream::kOperator, drafts_.size() - 1, dr.spec.pos}))
          dr.structure_ok = false;
      }
      if (dr.spec.window && !dr.spec.window->late.empty()) {
        YAML::Node w = item["window"].IsDefined() ? item["window"] : item["join"]["window"];
        YAML::Node at = w.IsMap() && w["late"].IsDefined() ? w["late"] : item;
        DefineStream(dr.spec.window->late, at,
                     {Stream::kLate, drafts_.size() - 1, Reader::Pos(at)});
      }
    }
  }

  void ReadOperatorStructure(const YAML::Node& item, Draft* d) {
    OperatorSpec& op = d->spec;
    if (!item.IsMap()) {
      r_.Error(item, "an operator must be a map starting with 'name:'");
      d->structure_ok = false;
      return;
    }
    auto nn = item["name"];
    if (!nn.IsDefined()) {
      r_.Error(item, "operator has no 'name'");
      d->structure_ok = false;
    } else if (auto s = r_.String(nn, "operator name")) {
      op.name = *s;
    } else {
      d->structure_ok = false;
    }
    const std::string what = "operator '" + op.name + "'";
    // Which kind: exactly one of the kind keys.
    std::vector<std::string> kinds;
    for (const auto& k : kOperatorKindKeys)
      if (item[k].IsDefined()) kinds.push_back(k);
    std::vector<std::string> keys = {"name", "from", "parallelism"};
    if (kinds.empty()) {
      for (const char* keyed : {"window", "aggregate", "dedupe", "reduce"}) {
        if (item[keyed].IsDefined()) {
          YAML::Node at = item[keyed];
          for (const auto& kv : item)
            if (kv.first.Scalar() == keyed) at.reset(kv.first);
          r_.Error(at, what + ": '" + keyed + "' needs 'key_by' in the same operator (" + keyed +
                           " state is kept per key)");
          d->structure_ok = false;
          return;
        }
      }
      std::vector<std::string> all = kOperatorKindKeys;
      std::string hint;
      for (const auto& kv : item) {
        std::string k = kv.first.Scalar();
        if (k != "name" && k != "from" && k != "parallelism") {
          std::string m = ClosestMatch(k, all);
          if (!m.empty()) hint = " ('" + k + "' looks like '" + m + "')";
        }
      }
      r_.Error(item, what +
                         " does nothing: give it one of 'filter', 'map', 'key_by', 'join', "
                         "'union', 'udf', 'rename' or 'cast'" +
                         hint);
      d->structure_ok = false;
      return;
    }
    // rename and cast go together: one pass over the fields.
    if (kinds.size() == 2 && kinds[0] == "rename" && kinds[1] == "cast") kinds.pop_back();
    if (kinds.size() > 1) {
      r_.Error(item[kinds[1]], what + " has both '" + kinds[0] + "' and '" + kinds[1] +
                                   "': an operator does one thing; split it into two");
      d->structure_ok = false;
      return;
    }
    const std::string kind = kinds[0];
    if (kind == "filter") keys.push_back("filter");
    if (kind == "map") keys.push_back("map");
    if (kind == "key_by")
      keys.insert(keys.end(), {"key_by", "window", "aggregate", "dedupe", "reduce"});
    if (kind == "join") keys.push_back("join");
    if (kind == "union") keys.push_back("union");
    if (kind == "udf") keys.push_back("udf");
    if (kind == "rename" || kind == "cast") keys.insert(keys.end(), {"rename", "cast"});
    MapReader m(&r_, item, what, keys);
    if (auto p = m.Get("parallelism"); p.IsDefined()) {
      op.parallelism = int(r_.Int(p, "parallelism", 1, 32768).value_or(0));
      if (op.parallelism > job_.max_parallelism)
        r_.Error(p, what + ": parallelism " + std::to_string(op.parallelism) +
                        " is larger than max_parallelism " + std::to_string(job_.max_parallelism));
    }
    bool takes_from = kind != "join" && kind != "union";
    if (takes_from) {
      auto f = m.Get("from");
      if (!f.IsDefined()) {
        r_.Error(item, what + " has no 'from': name the stream it reads");
        d->structure_ok = false;
      } else if (f.IsSequence()) {
        r_.Error(f, what + " reads one stream; to read several, add a 'union' operator first");
        d->structure_ok = false;
      } else if (auto s = r_.String(f, "from")) {
        op.from.push_back(*s);
        d->from_nodes.push_back(f);
      } else {
        d->structure_ok = false;
      }
    } else if (m.Has("from")) {
      r_.Error(m.KeyNode("from"),
               what + ": a " + kind + " names its inputs in '" + kind + "'; remove 'from'");
    }

    if (kind == "filter") {
      op.kind = OperatorKind::kFilter;
      d->filter_node = m.Get("filter");
      op.filter.text = r_.String(d->filter_node, "filter").value_or("");
      op.filter.pos = Reader::Pos(d->filter_node);
    } else if (kind == "map") {
      op.kind = OperatorKind::kMap;
      ReadNamedExprs(m.Get("map"), "map", &op.map, &d->map_nodes);
    } else if (kind == "rename" || kind == "cast") {
      op.kind = OperatorKind::kMap;
      d->reshape = true;
      ReadReshape(m.Get("rename"), m.Get("cast"), what, d);
    } else if (kind == "key_by") {
      ReadKeyBy(m.Get("key_by"), d);
      bool w = m.Has("window"), a = m.Has("aggregate"), dd = m.Has("dedupe"), rd = m.Has("reduce");
      int n = (w || a ? 1 : 0) + (dd ? 1 : 0) + (rd ? 1 : 0);
      if (n == 0) {
        r_.Error(item["key_by"], what +
                                     ": key_by needs, in the same operator, 'window' with "
                                     "'aggregate', 'dedupe' or 'reduce'");
        d->structure_ok = false;
      } else if (n > 1) {
        r_.Error(item, what + " mixes " + std::string(w || a ? "window/aggregate, " : "") +
                           (dd ? "dedupe, " : "") + (rd ? "reduce" : "") +
                           ": a keyed operator does one of them");
        d->structure_ok = false;
      } else if (w || a) {
        op.kind = OperatorKind::kWindowAggregate;
        if (!w) {
          r_.Error(m.KeyNode("aggregate"), what +
                                               ": aggregate needs a 'window' (or use 'reduce' "
                                               "for a running aggregate per key)");
          d->structure_ok = false;
        } else {
          op.window = ReadWindow(m.Get("window"), false);
          if (!op.window) d->structure_ok = false;
        }
        if (!a) {
          r_.Error(m.KeyNode("window"), what +
                                            ": a window needs an 'aggregate' saying what to "
                                            "compute, e.g. {n: count()}");
          d->structure_ok = false;
        } else {
          ReadNamedExprs(m.Get("aggregate"), "aggregate", nullptr, &d->agg_nodes, &op.aggregates);
        }
      } else if (dd) {
        op.kind = OperatorKind::kDedupe;
        MapReader dm(&r_, m.Get("dedupe"), what + " dedupe", {"within"});
        if (auto w2 = dm.Get("within"); w2.IsDefined())
          op.dedupe_within_ms = r_.Duration(w2, "dedupe.within").value_or(0);
        else if (dm.ok())
          r_.Error(m.Get("dedupe"),
                   "dedupe needs 'within', the time a key is remembered (e.g. 10m)");
        dm.Finish();
      } else {
        op.kind = OperatorKind::kReduce;
        ReadNamedExprs(m.Get("reduce"), "reduce", nullptr, &d->agg_nodes, &op.aggregates);
      }
    } else if (kind == "join") {
      op.kind = OperatorKind::kJoin;
      auto j = m.Get("join");
      MapReader jm(&r_, j, what + " join", {"left", "right", "on", "within", "window"});
      if (jm.ok()) {
        for (const char* side : {"left", "right"}) {
          auto s = jm.Get(side);
          if (!s.IsDefined()) {
            r_.Error(j, "join needs '" + std::string(side) + "', the name of a stream");
            d->structure_ok = false;
          } else if (auto v = r_.String(s, side)) {
            op.from.push_back(*v);
            d->from_nodes.push_back(s);
          } else {
            d->structure_ok = false;
          }
        }
        d->join_on_node = jm.Get("on");
        if (!d->join_on_node.IsDefined()) {
          r_.Error(j, "join needs 'on', a condition such as \"A.id = B.id\"");
          d->structure_ok = false;
        } else {
          op.join_on.text = r_.String(d->join_on_node, "join.on").value_or("");
        }
        bool has_within = jm.Has("within"), has_window = jm.Has("window");
        if (has_within && has_window) {
          r_.Error(jm.KeyNode("window"),
                   "a join has either 'within' (interval join) or 'window' "
                   "(window join), not both");
          d->structure_ok = false;
        } else if (has_within) {
          op.join_within_ms = r_.Duration(jm.Get("within"), "join.within").value_or(0);
        } else if (has_window) {
          op.window = ReadWindow(jm.Get("window"), true);
          if (!op.window) d->structure_ok = false;
        } else {
          r_.Error(j, "join needs 'within' (an interval join, e.g. within: 10s) or a 'window'");
          d->structure_ok = false;
        }
        if (op.from.size() == 2 && op.from[0] == op.from[1]) {
          r_.Error(jm.Get("right"), "a join's left and right must be different streams");
          d->structure_ok = false;
        }
      } else {
        d->structure_ok = false;
      }
      jm.Finish();
    } else if (kind == "union") {
      op.kind = OperatorKind::kUnion;
      auto u = m.Get("union");
      if (!u.IsSequence() || u.size() < 2) {
        r_.Error(u, "union needs a list of at least two streams, e.g. union: [a, b]");
        d->structure_ok = false;
      } else {
        // An input that is not a name leaves the union unbound, not short of
        // an input (a union of none would have nothing to bind against).
        for (const auto& s : u)
          if (auto v = r_.String(s, "union input")) {
            op.from.push_back(*v);
            d->from_nodes.push_back(s);
          } else {
            d->structure_ok = false;
          }
      }
    } else if (kind == "udf") {
      op.kind = OperatorKind::kUdf;
      r_.Error(m.KeyNode("udf"), "udf operators are not supported by this version of weir yet");
      d->structure_ok = false;
    }
    m.Finish();
  }

  // Reads {name: expr, ...}; aggregates go to `aggs` when given.
  void ReadNamedExprs(const YAML::Node& n, const std::string& what, std::vector<NamedExpr>* out,
                      std::vector<YAML::Node>* nodes, std::vector<AggregateSpec>* aggs = nullptr) {
    if (!n.IsMap() || n.size() == 0) {
      r_.Error(n, what +
                      " must be a map of output field names to expressions, e.g. {total: "
                      "\"sum(amount)\"}");
      return;
    }
    for (const auto& kv : n) {
      std::string name = kv.first.Scalar();
      if (!IsIdentifier(name)) {
        r_.Error(kv.first, "output field name '" + name +
                               "' must start with a letter or '_' and "
                               "use only letters, digits and '_'");
        continue;
      }
      std::string text = r_.String(kv.second, what + " expression").value_or("");
      if (aggs) {
        AggregateSpec a;
        a.name = name;
        a.text = text;
        a.pos = Reader::Pos(kv.second);
        aggs->push_back(std::move(a));
      } else {
        NamedExpr e;
        e.name = name;
        e.text = text;
        e.pos = Reader::Pos(kv.second);
        out->push_back(std::move(e));
      }
      nodes->push_back(kv.second);
    }
  }

  // `rename: {old: new}` and `cast: {field: type}` (by the new names).
  void ReadReshape(const YAML::Node& rename, const YAML::Node& cast, const std::string& what,
                   Draft* d) {
    if (rename.IsDefined()) {
      if (!rename.IsMap() || rename.size() == 0) {
        r_.Error(rename, what + ": rename must map input field names to new names");
        d->structure_ok = false;
      } else {
        for (const auto& kv : rename) {
          auto to = r_.String(kv.second, "new name of '" + kv.first.Scalar() + "'");
          if (!to) continue;
          if (!IsIdentifier(*to)) {
            r_.Error(kv.second, "field name '" + *to +
                                    "' must start with a letter or '_' and use only letters, "
                                    "digits and '_'");
            continue;
          }
          d->renames.emplace_back(kv.first.Scalar(), *to);
          d->rename_nodes.push_back(kv.first);
        }
      }
    }
    if (cast.IsDefined()) {
      if (!cast.IsMap() || cast.size() == 0) {
        r_.Error(cast, what +
                           ": cast must map field names to types (string, bigint, double, "
                           "boolean, timestamp, bytes)");
        d->structure_ok = false;
        return;
      }
      static const std::vector<std::string> kTypes = {"boolean", "bigint", "double",
                                                      "string",  "bytes",  "timestamp"};
      for (const auto& kv : cast) {
        auto tname = r_.String(kv.second, "type of '" + kv.first.Scalar() + "'");
        if (!tname) continue;
        auto t = ParseTypeName(*tname);
        if (!t || *t == TypeId::kNull) {
          r_.Error(kv.second, "unknown type '" + *tname + "': expected " + QuotedList(kTypes) +
                                  DidYouMean(*tname, kTypes));
          continue;
        }
        d->casts.emplace_back(kv.first.Scalar(), *t);
        d->cast_nodes.push_back(kv.first);
      }
    }
  }

  // Expands rename/cast into a map over every input field, in order.
  void BindReshape(Draft* d, const Schema& input) {
    OperatorSpec& op = d->spec;
    std::vector<std::string> names;
    for (const auto& f : input.fields()) names.push_back(f.name);
    std::map<std::string, std::string> new_name;
    for (size_t i = 0; i < d->renames.size(); ++i) {
      const auto& [from, to] = d->renames[i];
      if (input.IndexOf(from) < 0)
        r_.Error(d->rename_nodes[i], "rename: '" + from + "' is not a field of '" + op.from[0] +
                                         "'" + DidYouMean(from, names));
      else
        new_name[from] = to;
    }
    std::map<std::string, TypeId> cast_to;
    std::vector<std::string> out_names;
    for (const auto& f : input.fields())
      out_names.push_back(new_name.count(f.name) ? new_name[f.name] : f.name);
    for (size_t i = 0; i < d->casts.size(); ++i) {
      const auto& [field, type] = d->casts[i];
      if (std::find(out_names.begin(), out_names.end(), field) == out_names.end())
        r_.Error(d->cast_nodes[i], "cast: '" + field + "' is not a field of the output (" +
                                       "cast names fields by their new names)" +
                                       DidYouMean(field, out_names));
      else
        cast_to[field] = type;
    }
    for (size_t i = 0; i < input.size(); ++i) {
      const std::string& in = input.field(i).name;
      NamedExpr e;
      e.name = out_names[i];
      e.text = "`" + in + "`";
      if (auto it = cast_to.find(e.name); it != cast_to.end())
        e.text = "cast(" + e.text + " as " + std::string(TypeName(it->second)) + ")";
      e.pos = Reader::Pos(d->node);
      op.map.push_back(std::move(e));
      d->map_nodes.push_back(d->node);
    }
  }

  void ReadKeyBy(const YAML::Node& n, Draft* d) {
    YAML::Node list = n;
    if (n.IsScalar()) {
      list.reset(YAML::Node(YAML::NodeType::Sequence));
      list.push_back(n);
    }
    if (!list.IsSequence() || list.size() == 0) {
      r_.Error(n,
               "key_by must be a list of fields or named expressions, e.g. [user] or "
               "[{day: \"cast(ts as bigint) / 86400000\"}]");
      d->structure_ok = false;
      return;
    }
    for (const auto& item : list) {
      NamedExpr e;
      YAML::Node vn = item;
      if (item.IsMap() && item.size() == 1) {
        auto kv = *item.begin();
        e.name = kv.first.Scalar();
        vn.reset(kv.second);
        if (!IsIdentifier(e.name))
          r_.Error(kv.first, "key name '" + e.name + "' must be an identifier");
      }
      e.text = r_.String(vn, "key_by entry").value_or("");
      e.pos = Reader::Pos(vn);
      d->spec.key_by.push_back(std::move(e));
      d->key_nodes.push_back(vn);
    }
  }

  std::optional<WindowSpec> ReadWindow(const YAML::Node& n, bool in_join) {
    std::vector<std::string> keys = {"tumbling", "sliding", "session", "count"};
    if (!in_join) keys.insert(keys.end(), {"allowed_lateness", "late"});
    MapReader m(&r_, n, "window", keys);
    if (!m.ok()) return std::nullopt;
    WindowSpec w;
    w.pos = Reader::Pos(n);
    int kinds = 0;
    for (const char* k : {"tumbling", "sliding", "session", "count"}) kinds += m.Has(k) ? 1 : 0;
    bool ok = true;
    if (kinds != 1) {
      r_.Error(n, kinds == 0 ? "window needs one of tumbling, sliding, session or count"
                             : "window has more than one of tumbling, sliding, session, count");
      ok = false;
    } else if (auto t = m.Get("tumbling"); t.IsDefined()) {
      w.kind = WindowKind::kTumbling;
      auto d = r_.Duration(t, "tumbling");
      ok = d && *d > 0;
      if (d && *d <= 0) r_.Error(t, "a tumbling window's size must be positive");
      w.size_ms = d.value_or(0);
    } else if (auto s = m.Get("sliding"); s.IsDefined()) {
      w.kind = WindowKind::kSliding;
      MapReader sm(&r_, s, "sliding window", {"size", "slide"});
      auto size = sm.Get("size"), slide = sm.Get("slide");
      if (sm.ok() && (!size.IsDefined() || !slide.IsDefined())) {
        r_.Error(s, "a sliding window needs 'size' and 'slide', e.g. {size: 1m, slide: 10s}");
        ok = false;
      } else if (sm.ok()) {
        auto a = r_.Duration(size, "sliding.size"), b = r_.Duration(slide, "sliding.slide");
        if (a && b) {
          if (*b <= 0 || *a <= 0) {
            r_.Error(slide, "a sliding window's size and slide must be positive");
            ok = false;
          } else if (*b > *a) {
            r_.Error(slide, "a sliding window's slide (" + FormatDuration(*b) +
                                ") must not exceed its size (" + FormatDuration(*a) + ")");
            ok = false;
          }
          w.size_ms = *a;
          w.slide_ms = *b;
        } else {
          ok = false;
        }
      } else {
        ok = false;
      }
      sm.Finish();
    } else if (auto g = m.Get("session"); g.IsDefined()) {
      w.kind = WindowKind::kSession;
      MapReader gm(&r_, g, "session window", {"gap"});
      if (auto gap = gm.Get("gap"); gap.IsDefined()) {
        auto d = r_.Duration(gap, "session.gap");
        if (d && *d <= 0) r_.Error(gap, "a session gap must be positive");
        ok = d && *d > 0;
        w.gap_ms = d.value_or(0);
      } else {
        if (gm.ok()) r_.Error(g, "a session window needs 'gap', e.g. {gap: 30s}");
        ok = false;
      }
      gm.Finish();
    } else if (auto c = m.Get("count"); c.IsDefined()) {
      w.kind = WindowKind::kCount;
      auto v = r_.Int(c, "count", 1, int64_t{1} << 40);
      ok = v.has_value();
      w.count = v.value_or(0);
      if (in_join) {
        r_.Error(c, "a join window must be tumbling, sliding or session");
        ok = false;
      }
    }
    if (auto l = m.Get("allowed_lateness"); l.IsDefined()) {
      w.allowed_lateness_ms = r_.Duration(l, "allowed_lateness").value_or(0);
      if (w.kind == WindowKind::kCount)
        r_.Error(l, "count windows fire on the count, not on time: remove allowed_lateness");
    }
    if (auto l = m.Get("late"); l.IsDefined()) {
      w.late = r_.String(l, "late").value_or("");
      if (w.kind == WindowKind::kCount)
        r_.Error(l, "count windows have no late records: remove 'late'");
    }
    m.Finish();
    if (!ok) return std::nullopt;
    return w;
  }

  // ---- operators, pass 2: bind in dependency order ----
  // Returns the schema of a stream when known; sets *poisoned when the stream
  // exists but could not be bound (its errors are already reported).
  const Schema* Resolve(const std::string& name, bool* poisoned) {
    auto it = streams_.find(name);
    if (it == streams_.end()) return nullptr;
    const Stream& s = it->second;
    if (s.kind == Stream::kSource) {
      if (poisoned_sources_.count(name)) *poisoned = true;
      return &job_.sources[s.index].schema;
    }
    Draft& d = drafts_[s.index];
    if (d.state == Draft::kPoisoned) *poisoned = true;
    if (d.state != Draft::kBound) return nullptr;
    if (s.kind == Stream::kOperator) return &d.spec.schema;
    return &late_schemas_.at(name);
  }

  void BindOperators() {
    // Unknown streams first, so that the loop below only waits on real ones.
    for (auto& d : drafts_) {
      for (size_t i = 0; i < d.spec.from.size(); ++i) {
        const std::string& f = d.spec.from[i];
        auto it = streams_.find(f);
        if (it == streams_.end()) {
          r_.Error(d.from_nodes[i], "unknown stream '" + f + "' in operator '" + d.spec.name + "'" +
                                        DidYouMean(f, StreamNames()));
          d.state = Draft::kPoisoned;
        } else if (it->second.kind != Stream::kSource &&
                   it->second.index == size_t(&d - drafts_.data())) {
          r_.Error(d.from_nodes[i], "operator '" + d.spec.name + "' reads its own output");
          d.state = Draft::kPoisoned;
        }
      }
      if (!d.structure_ok) d.state = Draft::kPoisoned;
      WEIR_ASSERT(d.state == Draft::kPoisoned || !d.spec.from.empty(),
                  "operator '" + d.spec.name + "' has well-formed structure but no input");
    }
    std::vector<size_t> order;
    bool progress = true;
    while (progress) {
      progress = false;
      for (size_t i = 0; i < drafts_.size(); ++i) {
        Draft& d = drafts_[i];
        if (d.state != Draft::kPending) continue;
        std::vector<const Schema*> inputs;
        bool ready = true, poisoned = false;
        for (const auto& f : d.spec.from) {
          const Schema* s = Resolve(f, &poisoned);
          if (!s) ready = false;
          inputs.push_back(s);
        }
        if (poisoned) {
          d.state = Draft::kPoisoned;
          progress = true;
          continue;
        }
        if (!ready) continue;
        size_t before = r_.diagnostics().size();
        BindOperator(&d, inputs);
        d.state = r_.diagnostics().size() == before ? Draft::kBound : Draft::kPoisoned;
        if (d.state == Draft::kBound) order.push_back(i);
        progress = true;
      }
    }
    ReportCycles();
    for (size_t i : order) job_.operators.push_back(std::move(drafts_[i].spec));
  }

  void ReportCycles() {
    std::set<size_t> reported;
    for (size_t start = 0; start < drafts_.size(); ++start) {
      if (drafts_[start].state != Draft::kPending || reported.count(start)) continue;
      // Walk upstream through pending operators until one repeats.
      std::vector<size_t> path = {start};
      size_t cur = start;
      while (true) {
        size_t next = SIZE_MAX;
        for (const auto& f : drafts_[cur].spec.from) {
          auto it = streams_.find(f);
          if (it != streams_.end() && it->second.kind != Stream::kSource &&
              drafts_[it->second.index].state == Draft::kPending) {
            next = it->second.index;
            break;
          }
        }
        if (next == SIZE_MAX) break;
        auto pos = std::find(path.begin(), path.end(), next);
        if (pos != path.end()) {
          std::vector<size_t> cycle(pos, path.end());
          std::string text;
          for (auto it = cycle.rbegin(); it != cycle.rend(); ++it)
            text += drafts_[*it].spec.name + " -> ";
          text += drafts_[cycle.back()].spec.name;
          size_t first = *std::min_element(cycle.begin(), cycle.end());
          bool already = false;
          for (size_t c : cycle) already |= reported.count(c) > 0;
          if (!already)
            r_.Error(drafts_[first].node["name"].IsDefined() ? drafts_[first].node["name"]
                                                             : drafts_[first].node,
                     "operators form a cycle: " + text);
          for (size_t c : cycle) reported.insert(c);
          break;
        }
        path.push_back(next);
        cur = next;
      }
    }
  }

  expr::BindOptions BindOpts() const {
    expr::BindOptions o;
    o.allow_now = std::none_of(job_.sources.begin(), job_.sources.end(),
                               [](const SourceSpec& s) { return s.event_time.has_value(); });
    return o;
  }

  // Parses and binds one expression; reports errors at their file position.
  std::unique_ptr<expr::Expr> BindExpr(const std::string& text, const YAML::Node& at,
                                       const std::vector<expr::Input>& inputs) {
    expr::ExprError err;
    auto e = expr::Parse(text, &err);
    if (!e) {
      r_.Error(r_.PosInScalar(at, err.offset), err.message);
      return nullptr;
    }
    std::vector<expr::ExprError> errors;
    if (!expr::Bind(e.get(), inputs, BindOpts(), &errors)) {
      for (const auto& x : errors) r_.Error(r_.PosInScalar(at, x.offset), x.message);
      return nullptr;
    }
    return e;
  }

  void AddField(Schema* s, const std::string& name, TypeId t, const YAML::Node& at,
                const std::string& op) {
    if (s->IndexOf(name) >= 0) {
      r_.Error(at, "operator '" + op + "' outputs the field '" + name + "' twice");
      return;
    }
    if (t == TypeId::kNull) {
      r_.Error(at, "the type of '" + name +
                       "' is unknown (it is always null); write "
                       "cast(null as TYPE)");
      return;
    }
    s->Add({name, t});
  }

  void BindKeys(Draft* d, const std::vector<expr::Input>& in, Schema* out) {
    OperatorSpec& op = d->spec;
    for (size_t i = 0; i < op.key_by.size(); ++i) {
      NamedExpr& k = op.key_by[i];
      k.expr = BindExpr(k.text, d->key_nodes[i], in);
      if (!k.expr) continue;
      if (k.name.empty()) {
        if (k.expr->kind == expr::NodeKind::kColumn) {
          k.name = k.expr->name;
        } else {
          r_.Error(d->key_nodes[i], "key_by expression '" + k.text +
                                        "' needs a name: write {key: \"" + k.text + "\"}");
          continue;
        }
      }
      AddField(out, k.name, k.expr->type, d->key_nodes[i], op.name);
    }
  }

  void BindAggregates(Draft* d, const std::vector<expr::Input>& in, Schema* out) {
    OperatorSpec& op = d->spec;
    for (size_t i = 0; i < op.aggregates.size(); ++i) {
      AggregateSpec& a = op.aggregates[i];
      std::vector<expr::ExprError> errors;
      if (!expr::ParseAggregate(a.text, in, BindOpts(), &a.aggregate, &errors)) {
        for (const auto& x : errors) r_.Error(r_.PosInScalar(d->agg_nodes[i], x.offset), x.message);
        continue;
      }
      AddField(out, a.name, a.aggregate.result_type, d->agg_nodes[i], op.name);
    }
  }

  void BindOperator(Draft* d, const std::vector<const Schema*>& inputs) {
    OperatorSpec& op = d->spec;
    std::vector<expr::Input> in = {{op.from[0], inputs[0]}};
    switch (op.kind) {
      case OperatorKind::kFilter: {
        op.filter.expr = BindExpr(op.filter.text, d->filter_node, in);
        if (op.filter.expr && op.filter.expr->type != TypeId::kBoolean)
          r_.Error(d->filter_node, "filter must be a boolean condition, but '" + op.filter.text +
                                       "' is " + std::string(TypeName(op.filter.expr->type)));
        op.schema = *inputs[0];
        break;
      }
      case OperatorKind::kMap:
        if (d->reshape) BindReshape(d, *inputs[0]);
        for (size_t i = 0; i < op.map.size(); ++i) {
          op.map[i].expr = BindExpr(op.map[i].text, d->map_nodes[i], in);
          if (op.map[i].expr)
            AddField(&op.schema, op.map[i].name, op.map[i].expr->type, d->map_nodes[i], op.name);
        }
        break;
      case OperatorKind::kWindowAggregate:
        BindKeys(d, in, &op.schema);
        for (const char* f : {"window_start", "window_end"})
          AddField(&op.schema, f, TypeId::kTimestamp, d->node["key_by"], op.name);
        BindAggregates(d, in, &op.schema);
        if (!op.window->late.empty()) late_schemas_[op.window->late] = *inputs[0];
        break;
      case OperatorKind::kReduce:
        BindKeys(d, in, &op.schema);
        BindAggregates(d, in, &op.schema);
        break;
      case OperatorKind::kDedupe: {
        Schema keys;
        BindKeys(d, in, &keys);
        op.schema = *inputs[0];
        break;
      }
      case OperatorKind::kUnion:
        op.schema = *inputs[0];
        for (size_t i = 1; i < inputs.size(); ++i)
          if (!(*inputs[i] == *inputs[0]))
            r_.Error(d->from_nodes[i], "union input '" + op.from[i] + "' has fields " +
                                           inputs[i]->ToString() + " but '" + op.from[0] +
                                           "' has " + inputs[0]->ToString() +
                                           "; add a map so they match");
        break;
      case OperatorKind::kJoin:
        BindJoin(d, inputs);
        break;
      case OperatorKind::kUdf:
        break;
    }
  }

  void BindJoin(Draft* d, const std::vector<const Schema*>& inputs) {
    OperatorSpec& op = d->spec;
    std::vector<expr::Input> both = {{op.from[0], inputs[0]}, {op.from[1], inputs[1]}};
    op.join_on.expr = BindExpr(op.join_on.text, d->join_on_node, both);
    if (!op.join_on.expr) return;
    if (op.join_on.expr->type != TypeId::kBoolean) {
      r_.Error(d->join_on_node, "join condition must be boolean");
      return;
    }
    // Split `a and b and ...` into equalities between one side and the other.
    std::vector<const expr::Expr*> conjuncts;
    std::function<void(const expr::Expr&)> split = [&](const expr::Expr& e) {
      if (e.kind == expr::NodeKind::kBinary && e.op == expr::Op::kAnd) {
        split(*e.children[0]);
        split(*e.children[1]);
      } else {
        conjuncts.push_back(&e);
      }
    };
    split(*op.join_on.expr);
    for (const expr::Expr* c : conjuncts) {
      unsigned l = 0, r = 0;
      if (c->kind == expr::NodeKind::kBinary && c->op == expr::Op::kEq) {
        l = InputsUsed(*c->children[0]);
        r = InputsUsed(*c->children[1]);
      }
      const expr::Expr *lhs = nullptr, *rhs = nullptr;
      if (l == 1u && r == 2u) lhs = c->children[0].get(), rhs = c->children[1].get();
      if (l == 2u && r == 1u) lhs = c->children[1].get(), rhs = c->children[0].get();
      if (!lhs) {
        r_.Error(r_.PosInScalar(d->join_on_node, c->offset),
                 "join condition must be equalities between a field of '" + op.from[0] +
                     "' and a field of '" + op.from[1] + "', joined with 'and'");
        return;
      }
      NamedExpr lk, rk;
      lk.expr = Clone(*lhs);
      rk.expr = Clone(*rhs);
      // Re-point the right side's columns at input 0: each side is evaluated alone.
      std::function<void(expr::Expr&)> to_zero = [&](expr::Expr& e) {
        if (e.kind == expr::NodeKind::kColumn) e.input = 0;
        for (auto& ch : e.children) to_zero(*ch);
      };
      to_zero(*rk.expr);
      lk.text = expr::ToString(*lk.expr);
      rk.text = expr::ToString(*rk.expr);
      op.join_left_keys.push_back(std::move(lk));
      op.join_right_keys.push_back(std::move(rk));
    }
    for (const auto& f : inputs[0]->fields()) op.schema.Add(f);
    for (const auto& f : inputs[1]->fields()) {
      std::string name = f.name;
      if (op.schema.IndexOf(name) >= 0) name = op.from[1] + "_" + f.name;
      for (char& c : name)
        if (c == '-' || c == '.') c = '_';
      if (op.schema.IndexOf(name) >= 0) {
        r_.Error(d->node["join"], "join output would have the field '" + name +
                                      "' twice; rename it with a map before the join");
        return;
      }
      op.schema.Add({name, f.type});
    }
    if (op.window) {
      for (const char* f : {"window_start", "window_end"}) {
        if (op.schema.IndexOf(f) >= 0) {
          r_.Error(d->node["join"], std::string("join output already has a field '") + f + "'");
          return;
        }
        op.schema.Add({f, TypeId::kTimestamp});
      }
    }
  }

  // ---- sinks ----
  void ReadSinks(const YAML::Node& node) {
    if (!node.IsMap() || node.size() == 0) {
      r_.Error(node, "sinks must be a map of sink names to their settings");
      return;
    }
    std::set<std::string> names;
    for (const auto& kv : node) {
      SinkSpec s;
      s.name = kv.first.Scalar();
      s.pos = Reader::Pos(kv.first);
      if (streams_.count(s.name))
        r_.Error(kv.first, "sink '" + s.name + "' has the name of a stream; give it its own name");
      ReadSink(kv.second, &s);
      job_.sinks.push_back(std::move(s));
    }
  }

  void ReadSink(const YAML::Node& node, SinkSpec* s) {
    const std::string what = "sink '" + s->name + "'";
    if (!node.IsMap()) {
      r_.Error(node, what + " must be a map with 'from' and 'type'");
      return;
    }
    std::vector<std::string> keys = {"from", "type", "parallelism", "delivery"};
    std::string type;
    auto tn = node["type"];
    if (!tn.IsDefined())
      r_.Error(node, what + " has no 'type': use kafka, file, postgres, stdout or blackhole");
    else
      type = r_.Enum(tn, "sink type", {"kafka", "file", "postgres", "stdout", "blackhole"})
                 .value_or("");
    s->type = type;
    if (type == "kafka")
      keys.insert(keys.end(), {"brokers", "topic", "format", "key", "properties", "security"});
    if (type == "file") keys.insert(keys.end(), {"path", "format"});
    if (type == "postgres") keys.insert(keys.end(), {"dsn", "password", "table", "mode", "key"});
    if (type == "stdout") keys.insert(keys.end(), {"format"});
    MapReader m(&r_, node, what, keys);
    const Schema* schema = nullptr;
    if (auto f = m.Get("from"); !f.IsDefined()) {
      r_.Error(node, what + " has no 'from': name the stream it writes");
    } else if (auto name = r_.String(f, "from")) {
      s->from = *name;
      if (!streams_.count(*name)) {
        if (!operators_broken_)
          r_.Error(f,
                   "unknown stream '" + *name + "' in " + what + DidYouMean(*name, StreamNames()));
      } else if (auto late = late_schemas_.find(*name); late != late_schemas_.end()) {
        schema = &late->second;
      } else {
        // Null when the stream had errors (they are reported where they are).
        schema = poisoned_sources_.count(*name) ? nullptr : job_.StreamSchema(*name);
      }
    }
    if (type.empty()) return;
    if (auto p = m.Get("parallelism"); p.IsDefined())
      s->parallelism = int(r_.Int(p, "parallelism", 1, 32768).value_or(0));
    auto required = [&](const std::string& key) -> std::string {
      auto n = m.Get(key);
      if (!n.IsDefined()) {
        r_.Error(node, what + " (" + type + ") needs '" + key + "'");
        return "";
      }
      return r_.String(n, key).value_or("");
    };
    auto check_fields = [&](const YAML::Node& n, const std::vector<std::string>& fields) {
      if (!schema) return;
      std::vector<std::string> names;
      for (const auto& f : schema->fields()) names.push_back(f.name);
      for (size_t i = 0; i < fields.size(); ++i)
        if (schema->IndexOf(fields[i]) < 0)
          r_.Error(n.IsSequence() ? n[i] : n, "key field '" + fields[i] + "' is not in stream '" +
                                                  s->from + "'" + DidYouMean(fields[i], names));
    };
    if (type == "kafka") {
      s->brokers = required("brokers");
      s->topic = required("topic");
      if (auto k = m.Get("key"); k.IsDefined())
        if (auto l = r_.StringList(k, "key")) {
          s->key = *l;
          check_fields(k, s->key);
        }
      if (auto p = m.Get("properties"); p.IsDefined())
        ReadProperties(p, &s->properties, &s->secrets);
      if (auto p = m.Get("security"); p.IsDefined())
        ReadSecurity(p, what, &s->properties, &s->secrets);
    } else if (type == "file") {
      s->path = required("path");
    } else if (type == "postgres") {
      s->dsn = required("dsn");
      if (auto d = m.Get("dsn"); d.IsScalar() && MaskDsnPassword(d.Scalar()) != d.Scalar())
        r_.Error(d, what +
                        ": the dsn holds a password, which would be stored with the job: use "
                        "password: {env: NAME} or {file: /path} (read on the workers), or give "
                        "the workers PGPASSWORD or a PGPASSFILE");
      if (auto pw = m.Get("password"); pw.IsDefined())
        if (auto ref = ReadSecret(pw, "postgres password")) s->secrets["password"] = *ref;
      s->table = required("table");
      if (auto md = m.Get("mode"); md.IsDefined())
        s->upsert =
            r_.Enum(md, "postgres mode", {"insert", "upsert"}).value_or("insert") == "upsert";
      if (auto k = m.Get("key"); k.IsDefined()) {
        if (auto l = r_.StringList(k, "key")) {
          s->key = *l;
          check_fields(k, s->key);
        }
      } else if (s->upsert) {
        r_.Error(m.KeyNode("mode"), what +
                                        ": mode upsert needs 'key', the fields of the "
                                        "table's primary key");
      }
    }
    if (auto f = m.Get("format"); f.IsDefined()) {
      ReadFormat(f, &s->format, true);
      const bool framed =
          s->format.options.count("registry") || s->format.options.count("schema_id");
      if (framed && type == "kafka" && s->format.options.count("registry") &&
          !s->format.options.count("subject"))
        s->format.options["subject"] = s->topic + "-value";  // the registry's TopicNameStrategy
      if (framed && type != "kafka" && s->format.type == "json") {
        r_.Error(f, what + ": the schema-registry wire format is binary and needs a kafka sink (" +
                        type + " writes lines)");
      } else if (s->format.type == "avro" && type != "kafka") {
        r_.Error(f, what + ": avro records are binary and need a kafka sink (" + type +
                        " writes lines)");
      } else if (s->format.type == "protobuf" && type != "kafka") {
        r_.Error(f, what + ": protobuf records are binary and need a kafka sink (" + type +
                        " writes lines)");
      } else if (s->format.type == "protobuf" && schema &&
                 s->format.options.count("message") != 0) {
        Status st = format::CheckProtobufSinkSchema(s->format.options, *schema);
        if (!st.ok()) r_.Error(f, what + ": " + st.message());
      } else if (s->format.type == "avro" && schema) {
        auto it = s->format.options.find("schema");
        Status st = format::CheckAvroSinkSchema(
            it != s->format.options.end() ? it->second : format::DeriveAvroSchema(*schema),
            *schema);
        if (!st.ok()) r_.Error(f, what + ": " + st.message());
      }
      if (s->format.type == "raw" && schema &&
          !(schema->size() == 1 && IsStringStored(schema->field(0).type)))
        r_.Error(f, "format raw writes one string or bytes field, but stream '" + s->from +
                        "' has " + schema->ToString() + "; add a map or use json");
    }
    bool can_exactly_once =
        type == "kafka" || type == "file" || type == "postgres" || type == "blackhole";
    if (auto dn = m.Get("delivery"); dn.IsDefined()) {
      if (auto v = r_.Enum(dn, "delivery", {"exactly_once", "at_least_once"})) {
        if (*v == "exactly_once") {
          if (!can_exactly_once) {
            r_.Error(dn, what + " (" + type +
                             ") cannot deliver exactly once; use delivery: "
                             "at_least_once, or a kafka, file, postgres or blackhole sink");
          } else if (job_.checkpoint.mode != CheckpointMode::kExactlyOnce) {
            r_.Error(dn, what +
                             ": delivery exactly_once needs checkpoint.mode exactly_once "
                             "(the job's is " +
                             std::string(job_.checkpoint.mode == CheckpointMode::kNone
                                             ? "none"
                                             : "at_least_once") +
                             ")");
          }
          s->delivery = Delivery::kExactlyOnce;
        } else {
          s->delivery = Delivery::kAtLeastOnce;
        }
      }
    } else {
      s->delivery = can_exactly_once && job_.checkpoint.mode == CheckpointMode::kExactlyOnce
                        ? Delivery::kExactlyOnce
                        : Delivery::kAtLeastOnce;
    }
    m.Finish();
  }

  Reader& r_;
  JobSpec& job_;
  std::map<std::string, Stream> streams_;
  std::vector<std::string> stream_order_;
  std::vector<Draft> drafts_;
  std::map<std::string, Schema> late_schemas_;
  std::set<std::string> poisoned_sources_;
  bool operators_broken_ = false;

 public:
  // Late streams outlive the validator: move them into the job.
  std::map<std::string, Schema> TakeLateSchemas() { return std::move(late_schemas_); }
};

}  // namespace

LoadResult ParseJob(std::string_view yaml_text, std::string file, EnvLookup env) {
  LoadResult out;
  if (yaml_text.size() > kMaxJobFileBytes) {
    out.diagnostics.push_back({{},
                               "the job file is larger than " + std::to_string(kMaxJobFileBytes) +
                                   " bytes (1 MiB), the limit for a job file"});
    return out;
  }
  auto job = std::make_unique<JobSpec>();
  job->file = file;
  Reader reader(yaml_text, env);
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
  out.diagnostics = std::move(reader.diagnostics());
  std::stable_sort(
      out.diagnostics.begin(), out.diagnostics.end(), [](const Diagnostic& a, const Diagnostic& b) {
        return a.pos.line != b.pos.line ? a.pos.line < b.pos.line : a.pos.column < b.pos.column;
      });
  if (out.diagnostics.empty()) out.job = std::move(job);
  return out;
}

LoadResult LoadJob(const std::string& path, EnvLookup env) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    LoadResult out;
    out.diagnostics.push_back({{}, "cannot read job file: " + std::string(std::strerror(errno))});
    return out;
  }
  // Reads one byte past the limit, so a huge file is refused without being
  // read whole.
  std::string text(kMaxJobFileBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  return ParseJob(text, path, env);
}

}  // namespace weir::spec
