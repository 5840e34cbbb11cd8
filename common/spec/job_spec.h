// The job file's model: what `weir validate` checks and the planner reads.
//
// LoadJob() parses a YAML job file (docs/job-spec.md), substitutes ${VAR}
// references from the environment, reads the local files it names (schemas,
// descriptor sets), validates everything it can without
// running the job (names, stream references, cycles, expression types,
// aggregates, windows, delivery guarantees) and reports every problem at once
// as Diagnostics with 1-based line and column. A JobSpec that comes back with
// no errors is complete: every stream has a schema, every expression is bound,
// so the job cannot fail at run time because of its own spec.
//
// A job is resolved once, on the client (the CLI, weir local): ParseJob
// substitutes ${VAR} and reads the files, and hands back the resolved text
// and the files' contents. The coordinator and the workers parse that with
// ParseResolvedJob, which substitutes nothing and opens no file: a job cannot
// make them read their environment or their disk (docs/security.md).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/expr/expr.h"
#include "common/status.h"
#include "common/types.h"

namespace weir::spec {

struct Position {
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based
};

struct Diagnostic {
  Position pos;
  std::string message;
};

enum class CheckpointMode { kExactlyOnce, kAtLeastOnce, kNone };
enum class Delivery { kExactlyOnce, kAtLeastOnce };
enum class OnError { kFail, kSkip, kDeadLetter };
enum class StartFrom { kEarliest, kLatest };

struct CheckpointSpec {
  int64_t interval_ms = 10'000;
  CheckpointMode mode = CheckpointMode::kExactlyOnce;
  std::string storage;  // file:// URI; empty = the cluster's default
  int retain = 3;       // completed checkpoints kept
  // Unset in the file: 60 intervals, at least 1 min and at most 10 min (a
  // stuck checkpoint of a job with short intervals restarts it sooner).
  int64_t timeout_ms = 600'000;
};

struct RestartSpec {
  int attempts = 10;
  int64_t delay_ms = 1000;
};

struct FieldSpec {
  std::string name;
  TypeId type = TypeId::kString;
  std::vector<std::string> aliases;          // other names the same field has in the input
  std::optional<std::string> default_value;  // used when the input lacks the field
  Position pos;
};

struct FormatSpec {
  std::string type = "json";                   // json | csv | raw | avro | protobuf
  std::map<std::string, std::string> options;  // csv: delimiter, header
};

struct EventTimeSpec {
  std::string field;
  int64_t max_out_of_orderness_ms = 0;
  int64_t idle_timeout_ms = 0;  // 0 = a partition never counts as idle
};

// A secret the job file names but does not hold: `{env: NAME}` (or `${NAME}`
// alone) or `{file: /path}`. It is read only where a client is made (on a
// worker), so the job file, the coordinator's registry, `weir describe` and
// the logs never see its value.
struct SecretRef {
  enum class From { kEnv, kFile };
  From from = From::kEnv;
  std::string name;              // the variable's name or the file's path
  std::string ToString() const;  // "env KAFKA_PASSWORD", "file /run/secrets/pw"
};

// Client setting (librdkafka property, or "password" for postgres) -> where
// its value is.
using Secrets = std::map<std::string, SecretRef>;

// The secret's value: the variable, or the file's content without one
// trailing newline. NotFound naming the variable or the file when it is
// absent; a secret file over 64 KiB is InvalidArgument.
Result<std::string> ResolveSecret(const SecretRef& ref);

// Whether a client setting holds a secret (sasl.password, ssl.key.password,
// sasl.oauthbearer.client.secret, ...): such a setting must come from a
// SecretRef, never from the job file's text.
bool IsSecretSetting(std::string_view name);

// A postgres connection string with any password in it (`password=...`,
// `user:secret@` or `?password=`) replaced by "******".
std::string MaskDsnPassword(std::string_view dsn);

// Where records that fail to parse (or are over max_record_bytes) go when
// on_error is dead_letter.
struct DeadLetterSpec {
  std::string type;  // kafka | file
  std::string brokers, topic, path;
  Position pos;
};

// A field a source fills from a record's metadata instead of its payload
// (`metadata: {k: key, ts: timestamp}`); it follows the payload's fields in
// the source's schema.
struct MetadataField {
  std::string name;
  // kafka: key, headers, header (one header: `header.NAME`), timestamp,
  // topic, partition, offset; file: file, line.
  std::string kind;
  std::string header;  // kind header: the header's name
};

constexpr int64_t kDefaultMaxRecordBytes = int64_t{8} << 20;
// A job file over this size is refused before it is parsed.
constexpr size_t kMaxJobFileBytes = size_t{1} << 20;
// The local files a job names travel with it; each is at most this size, and
// all of them together at most kMaxJobFilesTotalBytes (well below the admin
// API's 16 MiB message limit, with the job's text).
constexpr size_t kMaxJobFileBlobBytes = size_t{4} << 20;
constexpr size_t kMaxJobFilesTotalBytes = size_t{8} << 20;
constexpr size_t kMaxJobFileCount = 64;

// The local files a job names, by the path as written in the job: an Avro
// schema file's JSON, a protobuf descriptor set, or a .proto file compiled
// with its imports into a descriptor set (a serialized FileDescriptorSet).
using JobFiles = std::map<std::string, std::string>;

struct SourceSpec {
  std::string name;
  Position pos;
  std::string type;     // kafka | file | nexmark | datagen
  int parallelism = 0;  // 0 = the job's
  // kafka
  std::string brokers, topic;
  StartFrom start = StartFrom::kEarliest;
  // end: latest makes the source bounded: it reads up to the partitions' end
  // offsets as they are when the job starts, then finishes. Default: never.
  bool end_at_latest = false;
  // Extra librdkafka settings, including what the `security` block sets;
  // secrets are in `secrets`, resolved when the client is made.
  std::map<std::string, std::string> properties;
  Secrets secrets;
  // file
  std::string path;
  // nexmark and datagen
  std::optional<int64_t> events;  // total events (nexmark) or rows (datagen); none = unbounded
  // Records per second (kafka, file: a throttle over the source's subtasks,
  // for demos and latency tests); none = as fast as possible.
  std::optional<int64_t> rate;
  int64_t seed = 0;
  std::string only;  // nexmark: bid | auction | person | "" (all kinds)
  FormatSpec format;
  std::vector<FieldSpec> fields;
  std::vector<MetadataField> metadata;  // the last metadata.size() fields of `schema`
  Schema schema;                        // the stream's output schema
  std::optional<EventTimeSpec> event_time;
  OnError on_error = OnError::kFail;
  std::optional<DeadLetterSpec> dead_letter;
  // kafka and file: a record (message value or line) over this size goes to
  // on_error instead of the decoder.
  int64_t max_record_bytes = kDefaultMaxRecordBytes;
};

enum class OperatorKind { kFilter, kMap, kWindowAggregate, kDedupe, kReduce, kJoin, kUnion, kUdf };
std::string_view OperatorKindName(OperatorKind k);

struct NamedExpr {
  std::string name;
  std::string text;
  Position pos;
  std::unique_ptr<expr::Expr> expr;  // bound against the operator's input
};

struct AggregateSpec {
  std::string name;
  std::string text;
  Position pos;
  expr::Aggregate aggregate;
};

enum class WindowKind { kTumbling, kSliding, kSession, kCount };

struct WindowSpec {
  WindowKind kind = WindowKind::kTumbling;
  int64_t size_ms = 0;   // tumbling, sliding
  int64_t slide_ms = 0;  // sliding
  int64_t gap_ms = 0;    // session
  int64_t count = 0;     // count
  int64_t allowed_lateness_ms = 0;
  std::string late;  // stream name for records later than allowed; "" = drop and count
  Position pos;
};

struct OperatorSpec {
  std::string name;
  Position pos;
  OperatorKind kind = OperatorKind::kFilter;
  std::vector<std::string> from;          // input streams (join: left, right; union: all)
  int parallelism = 0;                    // 0 = the job's
  NamedExpr filter;                       // kFilter (name empty)
  std::vector<NamedExpr> map;             // kMap
  std::vector<NamedExpr> key_by;          // keyed kinds
  std::optional<WindowSpec> window;       // kWindowAggregate, window join
  std::vector<AggregateSpec> aggregates;  // kWindowAggregate, kReduce
  int64_t dedupe_within_ms = 0;           // kDedupe
  // kJoin: from = {left, right}; on is bound against both (qualified by stream name).
  NamedExpr join_on;
  int64_t join_within_ms = 0;  // interval join: |left.time - right.time| <= within
  // The equi-join keys extracted from `on`: left_keys[i] = right_keys[i].
  std::vector<NamedExpr> join_left_keys, join_right_keys;
  // kUdf
  std::string udf_library, udf_function;
  Schema schema;  // output schema
};

struct SinkSpec {
  std::string name;
  Position pos;
  std::string from;
  std::string type;  // kafka | file | postgres | stdout | blackhole
  int parallelism = 0;
  std::string brokers, topic;    // kafka
  std::string path;              // file
  std::string dsn, table;        // postgres
  bool upsert = false;           // postgres: insert (false) or upsert on key
  std::vector<std::string> key;  // kafka: message key fields; postgres: upsert key
  FormatSpec format;
  Delivery delivery = Delivery::kAtLeastOnce;
  std::map<std::string, std::string> properties;  // kafka, as a source's
  Secrets secrets;                                // kafka: as a source's; postgres: "password"
};

struct JobSpec {
  std::string file;  // as given to LoadJob
  std::string name;
  int parallelism = 1;
  int max_parallelism = 128;
  CheckpointSpec checkpoint;
  RestartSpec restart;
  std::vector<SourceSpec> sources;
  std::vector<OperatorSpec> operators;  // in a topological order after validation
  std::vector<SinkSpec> sinks;
  bool event_time = false;                     // some source declares event_time
  std::map<std::string, Schema> late_streams;  // window `late` stream -> its schema
  // The top-level `secrets:` (keys of hmac_sha256), by name, and the key ring
  // the expressions were bound with: names only until ReadJobSecrets.
  Secrets secrets;
  std::shared_ptr<expr::KeyRing> keys;

  // The schema of a named stream (source, operator or late stream), or null.
  const Schema* StreamSchema(std::string_view stream) const;
};

// Reads the values of the job's top-level `secrets:` into job->keys, for the
// expressions that use them (hmac_sha256). Called where the job runs (a
// worker, `weir local`) before its operators are made; an error names the
// secret and its reference, never a value.
Status ReadJobSecrets(JobSpec* job);

// How LoadJob reads ${VAR}: a function so tests need not touch the process env.
using EnvLookup = std::optional<std::string> (*)(const std::string& name);
std::optional<std::string> ProcessEnv(const std::string& name);

struct LoadResult {
  std::unique_ptr<JobSpec> job;         // set when diagnostics is empty
  std::vector<Diagnostic> diagnostics;  // sorted by position
  // Set by ParseJob when the job is valid: what is sent to a coordinator.
  // The text with every ${VAR} substituted (a substituted value is written as
  // a double-quoted YAML string) except the secret references, which stay
  // for the workers to read; and the files the job names.
  std::string resolved_yaml;
  JobFiles files;
};

// Parses and validates the YAML text of a job on the client: ${VAR} from
// `env`, files read from disk (relative paths from the current directory).
// `file` is used in messages only.
LoadResult ParseJob(std::string_view yaml_text, std::string file, EnvLookup env = ProcessEnv);
// Reads the file and calls ParseJob. A missing file is one diagnostic at 0:0.
LoadResult LoadJob(const std::string& path, EnvLookup env = ProcessEnv);
// Parses a job that a client resolved (LoadResult::resolved_yaml and files):
// a ${VAR} outside a secret reference is an error, and the files come from
// `files` only.
LoadResult ParseResolvedJob(std::string_view yaml_text, std::string file, const JobFiles& files);

// "job.yaml:3:5: message" lines, one per diagnostic.
std::string FormatDiagnostics(const std::string& file, const std::vector<Diagnostic>& diags);

// The logical graph as indented text, for `weir validate`.
std::string DescribeGraph(const JobSpec& job);

// What a job connects to, for `weir describe`: one entry per kafka, file and
// postgres source, sink and dead-letter target. Secrets appear as
// "****** (env NAME)"; a secret-looking property is masked even so.
struct Endpoint {
  std::string name;     // the source's or sink's name
  std::string role;     // "source", "sink" or "dead letter"
  std::string type;     // kafka | file | postgres
  std::string address;  // brokers/topic, a path, or the dsn and table
  std::vector<std::pair<std::string, std::string>> settings;
};
std::vector<Endpoint> DescribeEndpoints(const JobSpec& job);

// The fixed Nexmark schemas: "bid", "auction", "person", or "" for the
// combined stream (event_type plus every kind's columns, prefixed).
Schema NexmarkSchema(std::string_view only);

}  // namespace weir::spec
