// The job file validator: sinks. See validator_internal.h.
#include "common/spec/validator_internal.h"

namespace weir::spec::internal {

void Validator::ReadSinks(const YAML::Node& node) {
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

void Validator::ReadSink(const YAML::Node& node, SinkSpec* s) {
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
    type =
        r_.Enum(tn, "sink type", {"kafka", "file", "postgres", "stdout", "blackhole"}).value_or("");
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
        r_.Error(f, "unknown stream '" + *name + "' in " + what + DidYouMean(*name, StreamNames()));
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
    if (auto p = m.Get("properties"); p.IsDefined()) ReadProperties(p, &s->properties, &s->secrets);
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
      s->upsert = r_.Enum(md, "postgres mode", {"insert", "upsert"}).value_or("insert") == "upsert";
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
    const bool framed = s->format.options.count("registry") || s->format.options.count("schema_id");
    if (framed && type == "kafka" && s->format.options.count("registry") &&
        !s->format.options.count("subject"))
      s->format.options["subject"] = s->topic + "-value";  // the registry's TopicNameStrategy
    if (framed && type != "kafka" && s->format.type == "json") {
      r_.Error(f, what + ": the schema-registry wire format is binary and needs a kafka sink (" +
                      type + " writes lines)");
    } else if (s->format.type == "avro" && type != "kafka") {
      r_.Error(
          f, what + ": avro records are binary and need a kafka sink (" + type + " writes lines)");
    } else if (s->format.type == "protobuf" && type != "kafka") {
      r_.Error(f, what + ": protobuf records are binary and need a kafka sink (" + type +
                      " writes lines)");
    } else if (s->format.type == "protobuf" && schema && s->format.options.count("message") != 0) {
      Status st = format::CheckProtobufSinkSchema(s->format.options, *schema);
      if (!st.ok()) r_.Error(f, what + ": " + st.message());
    } else if (s->format.type == "avro" && schema) {
      auto it = s->format.options.find("schema");
      Status st = format::CheckAvroSinkSchema(
          it != s->format.options.end() ? it->second : format::DeriveAvroSchema(*schema), *schema);
      if (!st.ok()) r_.Error(f, what + ": " + st.message());
    }
    if (s->format.type == "raw" && schema &&
        !(schema->size() == 1 && IsStringStored(schema->field(0).type)))
      r_.Error(f, "format raw writes one string or bytes field, but stream '" + s->from + "' has " +
                      schema->ToString() + "; add a map or use json");
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
          r_.Error(
              dn, what +
                      ": delivery exactly_once needs checkpoint.mode exactly_once "
                      "(the job's is " +
                      std::string(job_.checkpoint.mode == CheckpointMode::kNone ? "none"
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

}  // namespace weir::spec::internal
