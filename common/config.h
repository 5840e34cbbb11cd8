// Process configuration for the servers: a YAML file (--config) of flat
// `key: value` pairs named like the flags, then WEIR_* environment variables,
// then flags, each overriding the one before (shared/design/architecture.md).
// A setting's value is checked the same way from all three: the flags and
// variables by CLI11 (common/rpc/server_flags.h), the file's keys by the
// setters below, with the same types and ranges.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace weir {

// Stores a --config value into its setting, or says why it cannot.
using ConfigSetter = std::function<Status(const std::string& value)>;

ConfigSetter SetString(std::string* target);
// The whole value a decimal integer within [min, max].
ConfigSetter SetInt(int64_t* target, int64_t min, int64_t max);
ConfigSetter SetOneOf(std::string* target, std::vector<std::string> allowed);

// Applies every key of the YAML mapping at `file` through its setter. An
// unknown key, a value that is not a scalar or one its setter refuses is an
// error naming file:line:col.
Status ApplyYamlConfig(const std::string& file, const std::map<std::string, ConfigSetter>& keys);

// The value of --config in argv, if any ("--config F" or "--config=F").
std::string FindConfigFlag(int argc, char** argv);

}  // namespace weir
