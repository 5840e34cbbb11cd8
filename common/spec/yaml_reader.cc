#include <charconv>
#include <set>

#include "common/files.h"
#include "common/format/protobuf.h"
#include "common/spec/yaml_reader_internal.h"
#include "common/text.h"
#include "common/time.h"

namespace weir::spec::internal {

Reader::Reader(std::string_view text, EnvLookup env, const JobFiles* files)
    : env_(env), given_files_(files) {
  size_t start = 0;
  while (start <= text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    lines_.emplace_back(text.substr(start, nl - start));
    start = nl + 1;
  }
}

void Reader::Error(Position pos, std::string message) {
  diags_.push_back({pos, std::move(message)});
}

Position Reader::Pos(const YAML::Node& node) {
  if (!node.IsDefined()) return {};
  YAML::Mark m = node.Mark();
  if (m.line < 0) return {};
  return {m.line + 1, m.column + 1};
}

Position Reader::PosInScalar(const YAML::Node& node, size_t offset) const {
  Position p = Pos(node);
  if (p.line <= 0 || p.line > static_cast<int>(lines_.size())) return p;
  const std::string& line = lines_[p.line - 1];
  size_t col0 = static_cast<size_t>(p.column - 1);
  if (col0 >= line.size()) return p;
  char c = line[col0];
  if (c == '|' || c == '>') return p;  // block scalar: no simple mapping
  size_t quote = (c == '"' || c == '\'') ? 1 : 0;
  size_t col = col0 + quote + offset;
  if (col > line.size()) return p;  // the value spans lines
  return {p.line, static_cast<int>(col) + 1};
}

std::optional<std::string> Reader::String(const YAML::Node& node, std::string_view what) {
  if (!node.IsDefined() || node.IsNull()) {
    Error(node, std::string(what) + " must not be empty");
    return std::nullopt;
  }
  if (!node.IsScalar()) {
    Error(node,
          std::string(what) + " must be a single value, not a " + (node.IsMap() ? "map" : "list"));
    return std::nullopt;
  }
  const std::string& raw = node.Scalar();
  if (raw.find("${") == std::string::npos) return raw;
  if (resolved()) {
    // The client substitutes; whatever is left was not meant for this process.
    const size_t at = raw.find("${");
    const size_t end = raw.find('}', at);
    const std::string ref =
        end == std::string::npos ? raw.substr(at) : raw.substr(at, end - at + 1);
    Error(PosInScalar(node, at),
          "'" + ref + "' in " + std::string(what) +
              " is not substituted here: the weir CLI substitutes ${VAR} from the submitter's "
              "environment before it sends a job, and the coordinator and workers never do");
    return std::nullopt;
  }
  std::string out;
  out.reserve(raw.size());
  bool ok = true;
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '$' && i + 1 < raw.size() && raw[i + 1] == '{') {
      size_t end = raw.find('}', i + 2);
      if (end == std::string::npos) {
        Error(PosInScalar(node, i), "unterminated ${ in " + std::string(what));
        return std::nullopt;
      }
      std::string inner = raw.substr(i + 2, end - i - 2);
      std::optional<std::string> def;
      size_t sep = inner.find(":-");
      std::string var = sep == std::string::npos ? inner : inner.substr(0, sep);
      if (sep != std::string::npos) def = inner.substr(sep + 2);
      bool valid_name = !var.empty();
      for (char ch : var)
        if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '_')) valid_name = false;
      if (!valid_name) {
        Error(PosInScalar(node, i), "invalid environment variable reference '${" + inner + "}'");
        ok = false;
      } else if (auto v = env_(var); v && !v->empty()) {
        if (v->find("${") != std::string::npos) {
          // It would read as a reference when the resolved job is parsed.
          Error(PosInScalar(node, i), "the value of environment variable '" + var +
                                          "' contains '${', which a job's values cannot hold");
          ok = false;
        }
        out += *v;
      } else if (def) {
        out += *def;
      } else {
        Error(PosInScalar(node, i), "environment variable '" + var +
                                        "' is not set (set it, or write ${" + var +
                                        ":-default} to give a default)");
        ok = false;
      }
      i = end;
    } else {
      out += raw[i];
    }
  }
  if (!ok) return std::nullopt;
  const YAML::Mark m = node.Mark();
  if (m.pos >= 0) subs_.push_back({static_cast<size_t>(m.pos), raw, out});
  return out;
}

std::optional<std::string> Reader::File(const YAML::Node& node, const std::string& path,
                                        FileKind kind) {
  if (resolved()) {
    auto it = given_files_->find(path);
    if (it == given_files_->end()) {
      Error(node, "'" + path +
                      "' was not sent with the job: the weir CLI reads the files a job names "
                      "and sends them with it, and the coordinator and workers open none");
      return std::nullopt;
    }
    return it->second;
  }
  Result<std::string> content =
      kind == FileKind::kProto
          ? format::CompileProtoFile(path, kMaxJobFileBlobBytes)
          : ReadFileLimited(
                path, kMaxJobFileBlobBytes,
                kind == FileKind::kAvroSchema ? "the Avro schema file" : "the descriptor set");
  if (!content.ok()) {
    Error(node, content.status().message());
    return std::nullopt;
  }
  if (content->size() > kMaxJobFileBlobBytes) {
    Error(node, "'" + path + "' is over " + SizeText(kMaxJobFileBlobBytes) +
                    ", the limit for a file sent with a job");
    return std::nullopt;
  }
  auto [it, fresh] = files_read_.emplace(path, *content);
  if (!fresh && it->second != *content) {
    Error(node, "'" + path + "' is named both as a .proto file and as another kind of file");
    return std::nullopt;
  }
  return std::move(*content);
}

std::optional<int64_t> Reader::Int(const YAML::Node& node, std::string_view what, int64_t min,
                                   int64_t max) {
  auto s = String(node, what);
  if (!s) return std::nullopt;
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s->data(), s->data() + s->size(), v);
  if (ec != std::errc() || p != s->data() + s->size()) {
    Error(node, std::string(what) + " must be a whole number, not '" + *s + "'");
    return std::nullopt;
  }
  if (v < min || v > max) {
    Error(node, std::string(what) + " must be between " + std::to_string(min) + " and " +
                    std::to_string(max) + ", not " + *s);
    return std::nullopt;
  }
  return v;
}

std::optional<bool> Reader::Bool(const YAML::Node& node, std::string_view what) {
  auto s = String(node, what);
  if (!s) return std::nullopt;
  if (*s == "true" || *s == "yes" || *s == "on") return true;
  if (*s == "false" || *s == "no" || *s == "off") return false;
  Error(node, std::string(what) + " must be true or false, not '" + *s + "'");
  return std::nullopt;
}

std::optional<int64_t> Reader::Duration(const YAML::Node& node, std::string_view what) {
  auto s = String(node, what);
  if (!s) return std::nullopt;
  auto d = ParseDuration(*s);
  if (!d) {
    Error(node, "invalid duration '" + *s + "' for " + std::string(what) +
                    ": write a number and a unit, such as 250ms, 5s, 1m, 1h");
    return std::nullopt;
  }
  return d;
}

std::optional<std::string> Reader::Enum(const YAML::Node& node, std::string_view what,
                                        const std::vector<std::string>& choices) {
  auto s = String(node, what);
  if (!s) return std::nullopt;
  for (const auto& c : choices)
    if (c == *s) return s;
  Error(node, "unknown " + std::string(what) + " '" + *s + "': expected " + QuotedList(choices) +
                  DidYouMean(*s, choices));
  return std::nullopt;
}

std::optional<std::vector<std::string>> Reader::StringList(const YAML::Node& node,
                                                           std::string_view what) {
  std::vector<std::string> out;
  if (node.IsSequence()) {
    if (node.size() == 0) {
      Error(node, std::string(what) + " must not be an empty list");
      return std::nullopt;
    }
    bool ok = true;
    for (const auto& item : node) {
      auto s = String(item, what);
      if (s)
        out.push_back(*s);
      else
        ok = false;
    }
    if (!ok) return std::nullopt;
    return out;
  }
  auto s = String(node, what);
  if (!s) return std::nullopt;
  out.push_back(*s);
  return out;
}

MapReader::MapReader(Reader* r, const YAML::Node& node, std::string what,
                     std::vector<std::string> keys)
    : r_(r), node_(node), what_(std::move(what)), keys_(std::move(keys)) {
  if (!node.IsDefined() || node.IsNull()) {
    r_->Error(node, what_ + " must not be empty");
    return;
  }
  if (!node.IsMap()) {
    r_->Error(node, what_ + " must be a map of keys to values");
    return;
  }
  ok_ = true;
  std::map<std::string, Position> seen;
  for (const auto& kv : node) {
    std::string k = kv.first.IsScalar() ? kv.first.Scalar() : "";
    auto [it, fresh] = seen.emplace(k, Reader::Pos(kv.first));
    if (!fresh)
      r_->Error(kv.first, "duplicate key '" + k + "' in " + what_ + " (first at line " +
                              std::to_string(it->second.line) + ")");
  }
}

YAML::Node MapReader::Get(const std::string& key) {
  if (!ok_) return YAML::Node(YAML::NodeType::Undefined);
  for (const auto& kv : node_)
    if (kv.first.IsScalar() && kv.first.Scalar() == key) return kv.second;
  return YAML::Node(YAML::NodeType::Undefined);
}

bool MapReader::Has(const std::string& key) const {
  if (!ok_) return false;
  for (const auto& kv : node_)
    if (kv.first.IsScalar() && kv.first.Scalar() == key) return true;
  return false;
}

YAML::Node MapReader::KeyNode(const std::string& key) const {
  if (ok_)
    for (const auto& kv : node_)
      if (kv.first.IsScalar() && kv.first.Scalar() == key) return kv.first;
  return node_;
}

void MapReader::Finish() {
  if (!ok_) return;
  for (const auto& kv : node_) {
    std::string k = kv.first.IsScalar() ? kv.first.Scalar() : "";
    bool known = false;
    for (const auto& allowed : keys_) known |= allowed == k;
    if (!known) r_->Error(kv.first, "unknown key '" + k + "' in " + what_ + DidYouMean(k, keys_));
  }
}

}  // namespace weir::spec::internal
