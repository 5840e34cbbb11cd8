#include "common/spec/job_spec.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/files.h"
#include "common/time.h"

namespace weir::spec {

std::string_view OperatorKindName(OperatorKind k) {
  switch (k) {
    case OperatorKind::kFilter:
      return "filter";
    case OperatorKind::kMap:
      return "map";
    case OperatorKind::kWindowAggregate:
      return "window";
    case OperatorKind::kDedupe:
      return "dedupe";
    case OperatorKind::kReduce:
      return "reduce";
    case OperatorKind::kJoin:
      return "join";
    case OperatorKind::kUnion:
      return "union";
    case OperatorKind::kUdf:
      return "udf";
  }
  return "?";
}

const Schema* JobSpec::StreamSchema(std::string_view stream) const {
  for (const auto& s : sources)
    if (s.name == stream) return &s.schema;
  for (const auto& o : operators)
    if (o.name == stream) return &o.schema;
  auto it = late_streams.find(std::string(stream));
  return it == late_streams.end() ? nullptr : &it->second;
}

std::optional<std::string> ProcessEnv(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  if (!v) return std::nullopt;
  return std::string(v);
}

std::string SecretRef::ToString() const {
  return (from == From::kEnv ? "env " : "file ") + name;
}

Result<std::string> ResolveSecret(const SecretRef& ref) {
  constexpr size_t kMaxSecretBytes = 64 << 10;
  if (ref.from == SecretRef::From::kEnv) {
    const char* v = std::getenv(ref.name.c_str());
    if (v == nullptr) return Status::NotFound("environment variable " + ref.name + " is not set");
    return std::string(v);
  }
  WEIR_ASSIGN_OR_RETURN(std::string value,
                        ReadFileLimited(ref.name, kMaxSecretBytes, "the secret file"));
  if (!value.empty() && value.back() == '\n') value.pop_back();
  if (!value.empty() && value.back() == '\r') value.pop_back();
  return value;
}

Status ReadJobSecrets(JobSpec* job) {
  if (job->secrets.empty()) return Status::OK();
  if (!job->keys) job->keys = std::make_shared<expr::KeyRing>();
  for (const auto& [name, ref] : job->secrets) {
    auto value = ResolveSecret(ref);
    if (!value.ok())
      return Status(value.status().code(),
                    "secret '" + name + "' (" + ref.ToString() + "): " + value.status().message());
    if (value->empty())
      return Status::InvalidArgument("secret '" + name + "' (" + ref.ToString() +
                                     ") is empty: an HMAC key must not be");
    job->keys->names.insert(name);
    job->keys->values[name] = std::move(*value);
  }
  return Status::OK();
}

bool IsSecretSetting(std::string_view name) {
  // librdkafka's sensitive settings, and anything named like one.
  for (std::string_view word : {"password", "secret", "sasl.jaas.config", "sasl.oauthbearer.config",
                                "ssl.key.pem", "ssl_key"}) {
    if (name.find(word) != std::string_view::npos) return true;
  }
  return false;
}

std::string MaskDsnPassword(std::string_view dsn) {
  constexpr std::string_view kMask = "******";
  std::string out(dsn);
  const bool uri = dsn.rfind("postgres://", 0) == 0 || dsn.rfind("postgresql://", 0) == 0;
  if (uri) {
    const size_t start = out.find("://") + 3;
    const size_t end = std::min(out.find_first_of("/?", start), out.size());
    const size_t at = out.rfind('@', end);
    if (at != std::string::npos && at >= start) {
      const size_t colon = out.find(':', start);
      if (colon < at) out.replace(colon + 1, at - colon - 1, kMask);
    }
    const size_t query = out.find('?');
    for (size_t p = query; p != std::string::npos && p < out.size(); p = out.find('&', p + 1)) {
      if (out.compare(p + 1, 9, "password=") != 0) continue;
      const size_t v = p + 10;
      out.replace(v, std::min(out.find('&', v), out.size()) - v, kMask);
    }
    return out;
  }
  // key = value pairs; values may be quoted with '' and \ escapes.
  for (size_t p = out.find("password"); p != std::string::npos; p = out.find("password", p + 1)) {
    if (p > 0 && !std::isspace(static_cast<unsigned char>(out[p - 1]))) continue;
    size_t v = p + 8;
    while (v < out.size() && std::isspace(static_cast<unsigned char>(out[v]))) ++v;
    if (v >= out.size() || out[v] != '=') continue;
    ++v;
    while (v < out.size() && std::isspace(static_cast<unsigned char>(out[v]))) ++v;
    size_t e = v;
    if (e < out.size() && out[e] == '\'') {
      for (++e; e < out.size() && out[e] != '\''; ++e)
        if (out[e] == '\\') ++e;
      e = std::min(e + 1, out.size());
    } else {
      while (e < out.size() && !std::isspace(static_cast<unsigned char>(out[e]))) ++e;
    }
    out.replace(v, e - v, kMask);
  }
  return out;
}

std::vector<Endpoint> DescribeEndpoints(const JobSpec& job) {
  constexpr const char* kMask = "******";
  auto settings = [&](const std::map<std::string, std::string>& properties,
                      const Secrets& secrets) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& [k, v] : properties) out.emplace_back(k, IsSecretSetting(k) ? kMask : v);
    for (const auto& [k, ref] : secrets)
      out.emplace_back(k, std::string(kMask) + " (" + ref.ToString() + ")");
    std::sort(out.begin(), out.end());
    return out;
  };
  std::vector<Endpoint> out;
  for (const auto& s : job.sources) {
    if (s.type == "kafka") {
      out.push_back({s.name, "source", "kafka", s.brokers + "/" + s.topic,
                     settings(s.properties, s.secrets)});
    } else if (s.type == "file") {
      out.push_back({s.name, "source", "file", s.path, {}});
    }
    if (s.dead_letter) {
      const DeadLetterSpec& dl = *s.dead_letter;
      Endpoint e{s.name, "dead letter", dl.type, dl.type == "file" ? dl.path : "", {}};
      if (dl.type == "kafka") {
        const std::string& brokers = dl.brokers.empty() ? s.brokers : dl.brokers;
        e.address = brokers + "/" + dl.topic;
        if (brokers == s.brokers) e.settings = settings(s.properties, s.secrets);
      }
      out.push_back(std::move(e));
    }
  }
  for (const auto& s : job.sinks) {
    if (s.type == "kafka") {
      out.push_back(
          {s.name, "sink", "kafka", s.brokers + "/" + s.topic, settings(s.properties, s.secrets)});
    } else if (s.type == "file") {
      out.push_back({s.name, "sink", "file", s.path, {}});
    } else if (s.type == "postgres") {
      out.push_back({s.name, "sink", "postgres", MaskDsnPassword(s.dsn) + " table " + s.table,
                     settings({}, s.secrets)});
    }
  }
  return out;
}

std::string FormatDiagnostics(const std::string& file, const std::vector<Diagnostic>& diags) {
  std::string out;
  for (const auto& d : diags) {
    out += file;
    if (d.pos.line > 0)
      out += ":" + std::to_string(d.pos.line) + ":" + std::to_string(d.pos.column);
    out += ": " + d.message + "\n";
  }
  return out;
}

namespace {

std::string WindowText(const WindowSpec& w) {
  std::string s;
  switch (w.kind) {
    case WindowKind::kTumbling:
      s = "tumbling " + FormatDuration(w.size_ms);
      break;
    case WindowKind::kSliding:
      s = "sliding " + FormatDuration(w.size_ms) + " every " + FormatDuration(w.slide_ms);
      break;
    case WindowKind::kSession:
      s = "session gap " + FormatDuration(w.gap_ms);
      break;
    case WindowKind::kCount:
      s = "count " + std::to_string(w.count);
      break;
  }
  if (w.allowed_lateness_ms > 0) s += ", lateness " + FormatDuration(w.allowed_lateness_ms);
  if (!w.late.empty()) s += ", late -> " + w.late;
  return s;
}

std::string Join(const std::vector<std::string>& v, const char* sep) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + v[i];
  return s;
}

const char* ModeName(CheckpointMode m) {
  switch (m) {
    case CheckpointMode::kExactlyOnce:
      return "exactly_once";
    case CheckpointMode::kAtLeastOnce:
      return "at_least_once";
    case CheckpointMode::kNone:
      return "none";
  }
  return "?";
}

}  // namespace

std::string DescribeGraph(const JobSpec& job) {
  std::ostringstream o;
  o << "job " << job.name << ": parallelism " << job.parallelism << ", max_parallelism "
    << job.max_parallelism << ", checkpoints " << ModeName(job.checkpoint.mode);
  if (job.checkpoint.mode != CheckpointMode::kNone)
    o << " every " << FormatDuration(job.checkpoint.interval_ms);
  o << ", " << (job.event_time ? "event time" : "processing time") << "\n";
  o << "sources:\n";
  for (const auto& s : job.sources) {
    o << "  " << s.name << " <- " << s.type;
    if (s.type == "kafka") o << " topic " << s.topic << " (" << s.format.type << ")";
    if (s.type == "file") o << " " << s.path << " (" << s.format.type << ")";
    if (s.type == "nexmark" && !s.only.empty()) o << " " << s.only;
    if (s.events) o << ", " << *s.events << " events";
    o << "\n    " << s.schema.ToString() << "\n";
    if (s.event_time)
      o << "    event time " << s.event_time->field << ", out of order by up to "
        << FormatDuration(s.event_time->max_out_of_orderness_ms) << "\n";
  }
  if (!job.operators.empty()) o << "operators:\n";
  for (const auto& op : job.operators) {
    o << "  " << op.name << " <- " << Join(op.from, ", ") << ": " << OperatorKindName(op.kind);
    switch (op.kind) {
      case OperatorKind::kFilter:
        o << " " << op.filter.text;
        break;
      case OperatorKind::kWindowAggregate:
        o << " " << WindowText(*op.window);
        break;
      case OperatorKind::kDedupe:
        o << " within " << FormatDuration(op.dedupe_within_ms);
        break;
      case OperatorKind::kJoin:
        o << " on " << op.join_on.text;
        if (op.window)
          o << ", window " << WindowText(*op.window);
        else
          o << ", within " << FormatDuration(op.join_within_ms);
        break;
      default:
        break;
    }
    if (!op.key_by.empty()) {
      std::vector<std::string> keys;
      for (const auto& k : op.key_by) keys.push_back(k.name);
      o << ", keyed by " << Join(keys, ", ");
    }
    o << "\n    " << op.schema.ToString() << "\n";
  }
  o << "sinks:\n";
  for (const auto& s : job.sinks) {
    o << "  " << s.name << " <- " << s.from << ": " << s.type;
    if (s.type == "kafka") o << " topic " << s.topic;
    if (s.type == "file") o << " " << s.path;
    if (s.type == "postgres") o << " table " << s.table << (s.upsert ? " (upsert)" : "");
    o << ", " << (s.delivery == Delivery::kExactlyOnce ? "exactly once" : "at least once") << "\n";
  }
  return o.str();
}

Schema NexmarkSchema(std::string_view only) {
  const std::vector<Field> person = {{"id", TypeId::kBigint},
                                     {"name", TypeId::kString},
                                     {"email_address", TypeId::kString},
                                     {"credit_card", TypeId::kString},
                                     {"city", TypeId::kString},
                                     {"state", TypeId::kString},
                                     {"date_time", TypeId::kTimestamp},
                                     {"extra", TypeId::kString}};
  const std::vector<Field> auction = {
      {"id", TypeId::kBigint},          {"item_name", TypeId::kString},
      {"description", TypeId::kString}, {"initial_bid", TypeId::kBigint},
      {"reserve", TypeId::kBigint},     {"date_time", TypeId::kTimestamp},
      {"expires", TypeId::kTimestamp},  {"seller", TypeId::kBigint},
      {"category", TypeId::kBigint},    {"extra", TypeId::kString}};
  const std::vector<Field> bid = {{"auction", TypeId::kBigint}, {"bidder", TypeId::kBigint},
                                  {"price", TypeId::kBigint},   {"channel", TypeId::kString},
                                  {"url", TypeId::kString},     {"date_time", TypeId::kTimestamp},
                                  {"extra", TypeId::kString}};
  if (only == "person") return Schema(person);
  if (only == "auction") return Schema(auction);
  if (only == "bid") return Schema(bid);
  Schema all({{"event_type", TypeId::kString}, {"date_time", TypeId::kTimestamp}});
  for (auto [prefix, fields] :
       {std::pair{"person_", &person}, std::pair{"auction_", &auction}, std::pair{"bid_", &bid}})
    for (const auto& f : *fields)
      if (f.name != "date_time") all.Add({prefix + f.name, f.type});
  return all;
}

}  // namespace weir::spec
