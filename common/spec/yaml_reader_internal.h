// Private to common/spec: reading YAML nodes with positions, ${VAR}
// substitution, the files a job names, and "unknown key (did you mean ...)"
// checks. yaml-cpp throws; nothing here lets an exception escape.
//
// A Reader works in one of two modes. On the client (an EnvLookup given) it
// substitutes ${VAR}, recording each substituted scalar so that ParseJob can
// write the resolved text, and reads files from disk, recording them. For a
// resolved job (no EnvLookup) it substitutes nothing and takes files only
// from the ones sent with the job.
#pragma once

#include <yaml-cpp/yaml.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/spec/job_spec.h"

namespace weir::spec::internal {

// A scalar whose ${VAR}s were substituted: where it starts in the text
// (YAML::Mark::pos), as written, and its value.
struct Substitution {
  size_t pos = 0;
  std::string raw;
  std::string value;
};

// What a file named by a job holds.
enum class FileKind {
  kAvroSchema,     // JSON text
  kDescriptorSet,  // a FileDescriptorSet
  kProto,          // a .proto file, compiled with its imports into a FileDescriptorSet
};

class Reader {
 public:
  // `env` null: a resolved job, with `files` (not null) sent with it.
  Reader(std::string_view text, EnvLookup env, const JobFiles* files);

  std::vector<Diagnostic>& diagnostics() { return diags_; }
  void Error(Position pos, std::string message);
  void Error(const YAML::Node& node, std::string message) { Error(Pos(node), std::move(message)); }

  static Position Pos(const YAML::Node& node);

  // Position of byte `offset` within the value of scalar `node`, accounting
  // for an opening quote. Falls back to the node's start for block scalars.
  Position PosInScalar(const YAML::Node& node, size_t offset) const;

  // The scalar's value with ${VAR} and ${VAR:-default} substituted; an unset
  // variable without default is an error at its position. Non-scalars are an
  // error ("expected a string") and give nullopt.
  std::optional<std::string> String(const YAML::Node& node, std::string_view what);
  std::optional<int64_t> Int(const YAML::Node& node, std::string_view what, int64_t min,
                             int64_t max);
  std::optional<bool> Bool(const YAML::Node& node, std::string_view what);
  std::optional<int64_t> Duration(const YAML::Node& node, std::string_view what);
  // One of `choices`, else an error listing them (with did-you-mean).
  std::optional<std::string> Enum(const YAML::Node& node, std::string_view what,
                                  const std::vector<std::string>& choices);
  // A string or a list of strings.
  std::optional<std::vector<std::string>> StringList(const YAML::Node& node, std::string_view what);

  // The content of the file at `path` (as written in the job), for the
  // option at `node`; an error there when it cannot be had.
  std::optional<std::string> File(const YAML::Node& node, const std::string& path, FileKind kind);

  bool resolved() const { return env_ == nullptr; }
  const std::vector<Substitution>& substitutions() const { return subs_; }
  JobFiles& files_read() { return files_read_; }

 private:
  std::vector<std::string> lines_;
  EnvLookup env_;
  const JobFiles* given_files_;
  std::vector<Substitution> subs_;
  JobFiles files_read_;
  std::vector<Diagnostic> diags_;
};

// The resolved text of `text`: each substituted scalar rewritten as a
// double-quoted YAML string holding its value. Checked by parsing the result
// and comparing it node by node with `root` as substituted; an error names
// the value that could not be written, and sets *where to it when known.
Result<std::string> WriteResolved(std::string_view text, const YAML::Node& root,
                                  std::vector<Substitution> subs, Position* where);

// Reads a YAML map whose keys are known in advance. Get() marks a key known;
// Finish() reports every other key as unknown, with a did-you-mean. Duplicate
// keys are reported when the reader is made.
class MapReader {
 public:
  MapReader(Reader* r, const YAML::Node& node, std::string what, std::vector<std::string> keys);

  bool ok() const { return ok_; }
  const YAML::Node& node() const { return node_; }
  // The value node for key (invalid Node when absent).
  YAML::Node Get(const std::string& key);
  bool Has(const std::string& key) const;
  // The key's own node (for positions), or the map's node when absent.
  YAML::Node KeyNode(const std::string& key) const;
  // Reports keys not in the allowed list. `extra` lists keys that are valid
  // elsewhere in this kind of object, to explain rather than guess.
  void Finish();

 private:
  Reader* r_;
  YAML::Node node_;
  std::string what_;
  std::vector<std::string> keys_;
  bool ok_ = false;
};

}  // namespace weir::spec::internal
