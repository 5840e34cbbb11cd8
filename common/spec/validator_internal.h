// The job file validator's parts, shared by its files (not for use outside
// common/spec): validator.cc (the top level, checkpoint, restart, streams,
// ParseJob), validator_sources.cc (sources and what sinks share with them:
// formats, schemas, security, secrets), validator_operators.cc (operators:
// structure, then binding in dependency order), validator_sinks.cc (sinks).
// Two passes: first the structure of every source, operator and sink (keys,
// values, names); then operators are bound in dependency order, which gives
// each stream its schema, type-checks expressions and finds unknown streams
// and cycles.
#pragma once

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

namespace weir::spec::internal {

inline const std::vector<std::string> kTopKeys = {
    "name",    "description", "parallelism", "max_parallelism", "checkpoint",
    "restart", "secrets",     "sources",     "operators",       "sinks"};
inline const std::vector<std::string> kOperatorKindKeys = {"filter", "map", "key_by", "join",
                                                           "union",  "udf", "rename", "cast"};

inline std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

inline bool IsIdentifier(std::string_view s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  return true;
}

inline bool IsStreamName(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.'))
      return false;
  return true;
}

// Whether a schema default (always written as text) converts to the type.
inline bool DefaultFits(const std::string& v, TypeId t) {
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

inline std::unique_ptr<expr::Expr> Clone(const expr::Expr& e) {
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
inline unsigned InputsUsed(const expr::Expr& e) {
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
  void Run(const YAML::Node& root);

 private:
  void ReadCheckpoint(const YAML::Node& node);
  void ReadRestart(const YAML::Node& node);
  void ReadSecretsMap(const YAML::Node& node);
  bool DefineStream(const std::string& name, const YAML::Node& at, Stream s);
  std::vector<std::string> StreamNames() const { return stream_order_; }
  void ReadSources(const YAML::Node& node);
  void ReadSource(const YAML::Node& node, SourceSpec* src);
  // `metadata: {field: kind}`: fields filled from each record's metadata,
  // appended to the source's schema.
  void ReadMetadata(const YAML::Node& n, const std::string& what, SourceSpec* src);
  // librdkafka settings. A value that is a secret reference, or a setting
  // that holds a secret, goes to `secrets`.
  void ReadProperties(const YAML::Node& n, std::map<std::string, std::string>* out,
                      Secrets* secrets);
  // `{env: NAME}`, `{file: /path}`, or a scalar that is exactly `${NAME}`
  // (kept as a reference: it is read on the workers, not substituted here).
  std::optional<SecretRef> ReadSecret(const YAML::Node& n, const std::string& what);
  // A kafka source's or sink's `security` block, as librdkafka settings.
  void ReadSecurity(const YAML::Node& n, const std::string& what,
                    std::map<std::string, std::string>* props, Secrets* secrets);
  // A size in bytes: a whole number, or one with KiB, MiB or GiB.
  std::optional<int64_t> ReadByteSize(const YAML::Node& n, const std::string& what, int64_t min,
                                      int64_t max);
  void ReadFormat(const YAML::Node& n, FormatSpec* f, bool for_sink);
  // `registry` (a schema registry's URL), `framing: registry` (the wire
  // format without a registry) and `subject` (sinks).
  void ReadCsvOptions(const YAML::Node& delimiter, const YAML::Node& header,
                      const std::string& type, FormatSpec* f, bool for_sink);
  void ReadRegistryOptions(const YAML::Node& url, const YAML::Node& framing,
                           const YAML::Node& subject, const std::string& type, FormatSpec* f,
                           bool for_sink);
  // The protobuf options of a format: the descriptors are loaded here, so
  // that a missing file or message is reported at its option.
  void ReadProtobufOptions(const YAML::Node& n, const YAML::Node* set_opt,
                           const YAML::Node* proto_opt, const YAML::Node* message_opt,
                           FormatSpec* f);
  // The avro options of a format: each writer schema (inline JSON or a file
  // path) is read and checked here, and kept as JSON text in the options.
  void ReadAvroOptions(const YAML::Node& n, const YAML::Node* schema_opt,
                       const YAML::Node* registry_opt, const YAML::Node* id_opt, FormatSpec* f,
                       bool for_sink);
  void ReadSchema(const YAML::Node& n, SourceSpec* src);
  void ReadEventTime(const YAML::Node& n, SourceSpec* src);
  void ReadOperators(const YAML::Node& node);
  void ReadOperatorStructure(const YAML::Node& item, Draft* d);
  // Reads {name: expr, ...}; aggregates go to `aggs` when given.
  void ReadNamedExprs(const YAML::Node& n, const std::string& what, std::vector<NamedExpr>* out,
                      std::vector<YAML::Node>* nodes, std::vector<AggregateSpec>* aggs = nullptr);
  // `rename: {old: new}` and `cast: {field: type}` (by the new names).
  void ReadReshape(const YAML::Node& rename, const YAML::Node& cast, const std::string& what,
                   Draft* d);
  // Expands rename/cast into a map over every input field, in order.
  void BindReshape(Draft* d, const Schema& input);
  void ReadKeyBy(const YAML::Node& n, Draft* d);
  std::optional<WindowSpec> ReadWindow(const YAML::Node& n, bool in_join);
  // Returns the schema of a stream when known; sets *poisoned when the stream
  // exists but could not be bound (its errors are already reported).
  const Schema* Resolve(const std::string& name, bool* poisoned);
  void BindOperators();
  void ReportCycles();
  expr::BindOptions BindOpts() const;
  // Parses and binds one expression; reports errors at their file position.
  std::unique_ptr<expr::Expr> BindExpr(const std::string& text, const YAML::Node& at,
                                       const std::vector<expr::Input>& inputs);
  void AddField(Schema* s, const std::string& name, TypeId t, const YAML::Node& at,
                const std::string& op);
  void BindKeys(Draft* d, const std::vector<expr::Input>& in, Schema* out);
  void BindAggregates(Draft* d, const std::vector<expr::Input>& in, Schema* out);
  void BindOperator(Draft* d, const std::vector<const Schema*>& inputs);
  void BindJoin(Draft* d, const std::vector<const Schema*>& inputs);
  void ReadSinks(const YAML::Node& node);
  void ReadSink(const YAML::Node& node, SinkSpec* s);
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

}  // namespace weir::spec::internal
