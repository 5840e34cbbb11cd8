#include "common/config.h"

#include <yaml-cpp/yaml.h>

#include <cstring>

namespace weir {

Status ApplyYamlConfig(const std::string& file, const std::map<std::string, std::string*>& keys) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(file);
  } catch (const YAML::BadFile&) {
    return Status::NotFound("cannot read config file " + file);
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(file + ":" + std::to_string(e.mark.line + 1) + ":" +
                                   std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  if (root.IsNull()) return Status::OK();
  auto where = [&](const YAML::Node& n) {
    return file + ":" + std::to_string(n.Mark().line + 1) + ":" +
           std::to_string(n.Mark().column + 1) + ": ";
  };
  if (!root.IsMap()) return Status::InvalidArgument(where(root) + "expected key: value pairs");
  for (const auto& kv : root) {
    const std::string key = kv.first.as<std::string>();
    auto it = keys.find(key);
    if (it == keys.end()) {
      std::string known;
      for (const auto& [k, v] : keys) known += (known.empty() ? "" : ", ") + k;
      return Status::InvalidArgument(where(kv.first) + "unknown setting '" + key +
                                     "' (known: " + known + ")");
    }
    if (!kv.second.IsScalar())
      return Status::InvalidArgument(where(kv.second) + "'" + key + "' must be a single value");
    *it->second = kv.second.as<std::string>();
  }
  return Status::OK();
}

std::string FindConfigFlag(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--config") == 0 && i + 1 < argc) return argv[i + 1];
    if (std::strncmp(argv[i], "--config=", 9) == 0) return argv[i] + 9;
  }
  return "";
}

}  // namespace weir
