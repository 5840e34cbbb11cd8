// Private to common/spec: reading YAML nodes with positions, ${VAR}
// substitution and "unknown key (did you mean ...)" checks. yaml-cpp throws;
// nothing here lets an exception escape.
#pragma once

#include <yaml-cpp/yaml.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/spec/job_spec.h"

namespace weir::spec::internal {

class Reader {
 public:
  Reader(std::string_view text, EnvLookup env);

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

 private:
  std::vector<std::string> lines_;
  EnvLookup env_;
  std::vector<Diagnostic> diags_;
};

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
