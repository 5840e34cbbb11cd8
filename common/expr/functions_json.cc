// json_value(s, path): the scalar at a JSONPath in the JSON text s, as a
// string. Paths are `$` followed by `.name`, `['name']` (or `["name"]`) and
// `[N]` steps: `$.user.id`, `$.items[0].sku`, `$['a b']`. Strings come back
// unescaped, numbers exactly as written in the JSON (`1.50` stays `1.50`),
// booleans as `true`/`false`. Null when s is not JSON (the whole text is
// checked), the path is missing, or the value is an object, an array or
// null. With duplicate keys the first one counts.
//
// simdjson's DOM parser checks and navigates the text; only for a number does
// its on-demand parser walk the same path again to read the token as written.
#include <simdjson.h>

#include <charconv>

#include "common/expr/functions.h"

namespace weir::expr::fn {
namespace {

struct PathStep {
  bool is_index = false;
  std::string key;
  size_t index = 0;
};
using Path = std::vector<PathStep>;

// Parses a path; on failure returns false with the reason.
bool ParsePath(std::string_view p, Path* path, std::string* why) {
  path->clear();
  if (p.empty() || p[0] != '$') {
    *why = "a path starts with '$'";
    return false;
  }
  size_t i = 1;
  while (i < p.size()) {
    PathStep step;
    if (p[i] == '.') {
      const size_t start = ++i;
      while (i < p.size() && p[i] != '.' && p[i] != '[') ++i;
      if (i == start) {
        *why = "a name is missing after '.' at character " + std::to_string(start);
        return false;
      }
      step.key = std::string(p.substr(start, i - start));
    } else if (p[i] == '[') {
      ++i;
      if (i < p.size() && (p[i] == '\'' || p[i] == '"')) {
        const char quote = p[i++];
        const size_t end = p.find(quote, i);
        if (end == p.npos || end + 1 >= p.size() || p[end + 1] != ']') {
          *why = "a quoted name in [...] is not closed";
          return false;
        }
        step.key = std::string(p.substr(i, end - i));
        i = end + 2;
      } else {
        const size_t end = p.find(']', i);
        const std::string_view digits = p.substr(i, end == p.npos ? p.npos : end - i);
        auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), step.index);
        if (end == p.npos || digits.empty() || ec != std::errc() ||
            ptr != digits.data() + digits.size()) {
          *why = "an array index is a number in [...], such as [0]";
          return false;
        }
        step.is_index = true;
        i = end + 1;
      }
    } else {
      *why = "expected '.' or '[' at character " + std::to_string(i) + ", found '" +
             std::string(1, p[i]) + "'";
      return false;
    }
    path->push_back(std::move(step));
  }
  return true;
}

bool BindJsonValue(BindCall& c) {
  bool ok = c.Expect(0, IsString, "a string of JSON");
  ok = c.Expect(1, IsString, "a string path") && ok;
  if (!ok) return false;
  if (const Literal* p = c.literal(1)) {
    Path path;
    std::string why;
    if (!ParsePath(p->s, &path, &why)) {
      c.Error(1, "invalid path '" + p->s + "': " + why);
      return false;
    }
  }
  c.SetType(TypeId::kString);
  return true;
}

class JsonValueKernel final : public Kernel {
 public:
  explicit JsonValueKernel(const Expr& call) {
    const Expr& p = *call.children[1];
    if (p.kind == NodeKind::kLiteral && p.literal.type == TypeId::kString) {
      literal_ = std::make_unique<Path>();
      std::string why;
      if (!ParsePath(p.literal.s, literal_.get(), &why)) literal_.reset();
      literal_given_ = true;
    }
  }

  void Run(const Column* const* a, size_t n, Column* out) override {
    out->Clear();
    out->Reserve(n);
    for (size_t i = 0; i < n; ++i) {
      const Path* path = a[0]->IsNull(i) || a[1]->IsNull(i) ? nullptr : PathAt(*a[1], i);
      if (!path || !Value(a[0]->GetString(i), *path, out)) out->AppendNull();
    }
  }

 private:
  const Path* PathAt(const Column& paths, size_t i) {
    if (literal_given_) return literal_.get();
    const std::string_view text = paths.GetString(i);
    ParsedPath* p = cache_.Get(text);
    if (!p) {
      auto parsed = std::make_unique<ParsedPath>();
      std::string why;
      parsed->ok = ParsePath(text, &parsed->path, &why);
      p = cache_.Put(text, std::move(parsed));
    }
    return p->ok ? &p->path : nullptr;
  }

  // Appends the value at `path` in `json`; false when it is null.
  bool Value(std::string_view json, const Path& path, Column* out) {
    simdjson::dom::element e;
    if (dom_.parse(json.data(), json.size()).get(e) != simdjson::SUCCESS) return false;
    for (const PathStep& step : path) {
      if (step.is_index) {
        simdjson::dom::array arr;
        if (e.get_array().get(arr) != simdjson::SUCCESS) return false;
        if (arr.at(step.index).get(e) != simdjson::SUCCESS) return false;
      } else {
        simdjson::dom::object obj;
        if (e.get_object().get(obj) != simdjson::SUCCESS) return false;
        bool found = false;
        for (auto field : obj) {
          if (field.key == step.key) {
            e = field.value;
            found = true;
            break;  // the first of duplicate keys
          }
        }
        if (!found) return false;
      }
    }
    switch (e.type()) {
      case simdjson::dom::element_type::STRING: {
        std::string_view s;
        if (e.get_string().get(s) != simdjson::SUCCESS) return false;
        out->AppendString(s);
        return true;
      }
      case simdjson::dom::element_type::BOOL: {
        bool b = false;
        if (e.get_bool().get(b) != simdjson::SUCCESS) return false;
        out->AppendString(b ? "true" : "false");
        return true;
      }
      case simdjson::dom::element_type::INT64:
      case simdjson::dom::element_type::UINT64:
      case simdjson::dom::element_type::DOUBLE:
        return RawNumber(json, path, out);
      default:  // object, array, null
        return false;
    }
  }

  // The number at `path`, as written: the text is known to be valid JSON.
  bool RawNumber(std::string_view json, const Path& path, Column* out) {
    padded_.assign(json);
    padded_.resize(json.size() + simdjson::SIMDJSON_PADDING, ' ');
    simdjson::ondemand::document doc;
    if (od_.iterate(padded_.data(), json.size(), padded_.size()).get(doc) != simdjson::SUCCESS)
      return false;
    std::string_view token;
    if (path.empty()) {
      if (doc.raw_json_token().get(token) != simdjson::SUCCESS) return false;
      return AppendNumberToken(token, out);
    }
    simdjson::ondemand::value v;
    if (Step(doc, path[0], &v) != simdjson::SUCCESS) return false;
    for (size_t k = 1; k < path.size(); ++k) {
      simdjson::ondemand::value next;
      if (Step(v, path[k], &next) != simdjson::SUCCESS) return false;
      v = next;
    }
    return AppendNumberToken(v.raw_json_token(), out);
  }

  template <typename T>
  static simdjson::error_code Step(T& from, const PathStep& step, simdjson::ondemand::value* to) {
    if (step.is_index) {
      simdjson::ondemand::array arr;
      if (auto err = from.get_array().get(arr)) return err;
      size_t k = 0;
      for (auto item : arr) {
        if (k++ == step.index) return item.get(*to);
      }
      return simdjson::INDEX_OUT_OF_BOUNDS;
    }
    simdjson::ondemand::object obj;
    if (auto err = from.get_object().get(obj)) return err;
    for (auto field : obj) {
      std::string_view key;
      if (auto err = field.unescaped_key().get(key)) return err;
      if (key == step.key) return field.value().get(*to);
    }
    return simdjson::NO_SUCH_FIELD;
  }

  static bool AppendNumberToken(std::string_view token, Column* out) {
    size_t len = 0;
    while (len < token.size() &&
           std::string_view("0123456789+-.eE").find(token[len]) != std::string_view::npos)
      ++len;
    if (len == 0) return false;
    out->AppendString(token.substr(0, len));
    return true;
  }

  std::unique_ptr<Path> literal_;
  bool literal_given_ = false;
  struct ParsedPath {
    bool ok = false;
    Path path;
  };
  BoundedCache<ParsedPath> cache_;
  simdjson::dom::parser dom_;
  simdjson::ondemand::parser od_;
  std::string padded_;
};

}  // namespace

const std::vector<Function>& JsonFunctions() {
  static const std::vector<Function> functions = {
      {"json_value", 2, 2, true, BindJsonValue,
       [](const Expr& call) -> std::unique_ptr<Kernel> {
         return std::make_unique<JsonValueKernel>(call);
       }},
  };
  return functions;
}

}  // namespace weir::expr::fn
