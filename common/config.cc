#include "common/config.h"

#include "common/files.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cstring>

namespace weir {

ConfigSetter SetString(std::string* target) {
  return [target](const std::string& v) {
    *target = v;
    return Status::OK();
  };
}

ConfigSetter SetInt(int64_t* target, int64_t min, int64_t max) {
  return [target, min, max](const std::string& v) {
    int64_t n = 0;
    const char* end = v.data() + v.size();
    auto [ptr, ec] = std::from_chars(v.data(), end, n);
    if (ec != std::errc() || ptr != end || v.empty())
      return Status::InvalidArgument("'" + v + "' is not a whole number");
    if (n < min || n > max)
      return Status::InvalidArgument(std::to_string(n) + " is not in [" + std::to_string(min) +
                                     " - " + std::to_string(max) + "]");
    *target = n;
    return Status::OK();
  };
}

ConfigSetter SetOneOf(std::string* target, std::vector<std::string> allowed) {
  return [target, allowed = std::move(allowed)](const std::string& v) {
    for (const auto& a : allowed)
      if (v == a) {
        *target = v;
        return Status::OK();
      }
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
    return Status::InvalidArgument("'" + v + "' is not one of " + list);
  };
}

Status ApplyYamlConfig(const std::string& file, const std::map<std::string, ConfigSetter>& keys) {
  auto text = ReadFileLimited(file, 1 << 20, "the config file");
  if (!text.ok()) return text.status();
  YAML::Node root;
  try {
    root = YAML::Load(*text);
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
    if (Status st = it->second(kv.second.as<std::string>()); !st.ok())
      return Status::InvalidArgument(where(kv.second) + "'" + key + "': " + st.message());
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
