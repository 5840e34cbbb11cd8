// The job file validator: sources, and what sinks share with them (formats,
// schemas, security, secrets). See validator_internal.h.
#include "common/spec/validator_internal.h"

namespace weir::spec::internal {

void Validator::ReadSources(const YAML::Node& node) {
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

void Validator::ReadSource(const YAML::Node& node, SourceSpec* src) {
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
void Validator::ReadMetadata(const YAML::Node& n, const std::string& what, SourceSpec* src) {
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
      r_.Error(kv.second, "unknown metadata '" + *text + "' for a " + src->type + " source: use " +
                              list + DidYouMean(*text, kinds));
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
void Validator::ReadProperties(const YAML::Node& n, std::map<std::string, std::string>* out,
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
std::optional<SecretRef> Validator::ReadSecret(const YAML::Node& n, const std::string& what) {
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
void Validator::ReadSecurity(const YAML::Node& n, const std::string& what,
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
      r_.Error(m.KeyNode("ssl"), "an 'ssl' block needs protocol ssl or sasl_ssl, not " + protocol);
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
std::optional<int64_t> Validator::ReadByteSize(const YAML::Node& n, const std::string& what,
                                               int64_t min, int64_t max) {
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

void Validator::ReadFormat(const YAML::Node& n, FormatSpec* f, bool for_sink) {
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
  // The csv options.
  YAML::Node delimiter(YAML::NodeType::Undefined), header(YAML::NodeType::Undefined);
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
    delimiter.reset(m.Get("delimiter"));
    header.reset(m.Get("header"));
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
  ReadCsvOptions(delimiter, header, *s, f, for_sink);
  ReadRegistryOptions(url, framing, subject, *s, f, for_sink);
  if (*s != "avro") {
    if (has_schema) r_.Error(avro_schema, "'schema' is an option of format avro, not " + *s);
    if (has_registry)
      r_.Error(avro_registry, "'registry_schemas' is an option of format avro, not " + *s);
    if (has_id) {
      if (*s != "protobuf" && *s != "json")
        r_.Error(avro_id, "'schema_id' is an option of formats avro, protobuf and json, not " + *s);
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
// `delimiter` (one character) and `header` (sources: skip the first line),
// for format csv only: elsewhere they would do nothing.
void Validator::ReadCsvOptions(const YAML::Node& delimiter, const YAML::Node& header,
                               const std::string& type, FormatSpec* f, bool for_sink) {
  if (delimiter.IsDefined()) {
    if (type != "csv") {
      r_.Error(delimiter, "'delimiter' is an option of format csv, not " + type);
    } else if (auto s = r_.String(delimiter, "delimiter")) {
      if (s->size() != 1) r_.Error(delimiter, "the csv delimiter must be one character");
      f->options["delimiter"] = *s;
    }
  }
  if (header.IsDefined()) {
    if (type != "csv")
      r_.Error(header, "'header' is an option of format csv, not " + type);
    else if (for_sink)
      r_.Error(header,
               "'header' is for csv sources (it skips a first line that names the fields); a "
               "csv sink writes no header line");
    else if (auto b = r_.Bool(header, "header"))
      f->options["header"] = *b ? "true" : "false";
  }
}

void Validator::ReadRegistryOptions(const YAML::Node& url, const YAML::Node& framing,
                                    const YAML::Node& subject, const std::string& type,
                                    FormatSpec* f, bool for_sink) {
  const bool registry_format = type == "avro" || type == "protobuf" || type == "json";
  if (url.IsDefined()) {
    if (!registry_format) {
      r_.Error(url, "'registry' is an option of formats avro, protobuf and json, not " + type);
    } else if (auto v = r_.String(url, "registry")) {
      if (v->rfind("http://", 0) != 0 && v->rfind("https://", 0) != 0)
        r_.Error(url,
                 "registry must be a schema registry's http:// or https:// URL, not '" + *v + "'");
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
void Validator::ReadProtobufOptions(const YAML::Node& n, const YAML::Node* set_opt,
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
  auto descriptors =
      r_.File(file, *path, set_opt != nullptr ? FileKind::kDescriptorSet : FileKind::kProto);
  if (!descriptors) return;
  f->options["descriptors"] = std::move(*descriptors);
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
void Validator::ReadAvroOptions(const YAML::Node& n, const YAML::Node* schema_opt,
                                const YAML::Node* registry_opt, const YAML::Node* id_opt,
                                FormatSpec* f, bool for_sink) {
  auto read_schema = [&](const YAML::Node& node, const std::string& what) -> bool {
    auto text = r_.String(node, what);
    if (!text) return false;
    auto json =
        format::IsInlineAvroSchema(*text) ? text : r_.File(node, *text, FileKind::kAvroSchema);
    if (!json) return false;
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
      r_.Error(registry, "registry_schemas is for sources; a sink gives 'schema' and 'schema_id'");
    } else if (schema_opt != nullptr) {
      r_.Error(registry, "give 'schema' or 'registry_schemas', not both");
    } else if (!registry.IsMap() || registry.size() == 0) {
      r_.Error(registry, "registry_schemas must map schema ids to Avro schemas (inline or a file)");
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

void Validator::ReadSchema(const YAML::Node& n, SourceSpec* src) {
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

void Validator::ReadEventTime(const YAML::Node& n, SourceSpec* src) {
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

}  // namespace weir::spec::internal
