// Process configuration for the servers: a YAML file (--config) of flat
// `key: value` pairs named like the flags, then WEIR_* environment variables,
// then flags, each overriding the one before (shared/design/architecture.md).
#pragma once

#include <map>
#include <string>

#include "common/status.h"

namespace weir {

// Sets *keys[k] for every key k in the YAML mapping at `file`. An unknown key
// or a value that is not a scalar is an error naming file:line:col.
Status ApplyYamlConfig(const std::string& file, const std::map<std::string, std::string*>& keys);

// The value of --config in argv, if any ("--config F" or "--config=F").
std::string FindConfigFlag(int argc, char** argv);

}  // namespace weir
