// Writing a job's resolved text (see WriteResolved in yaml_reader_internal.h).
//
// Only the scalars that held ${VAR} change: each is replaced, from its first
// character to its last, by a double-quoted YAML string of its value, so a
// value is always text and never YAML structure, whatever it contains. The
// rest of the file (comments, layout, secret references) stays as written.
// The result is parsed again and compared with the substituted original node
// by node, so a scalar this cannot rewrite is an error, not a changed job.
#include <algorithm>

#include "common/spec/yaml_reader_internal.h"
#include "common/text.h"

namespace weir::spec::internal {
namespace {

size_t LineEnd(std::string_view t, size_t i) {
  size_t e = t.find('\n', i);
  return e == std::string_view::npos ? t.size() : e;
}

size_t Indent(std::string_view t, size_t line_start) {
  size_t i = line_start;
  while (i < t.size() && t[i] == ' ') ++i;
  return i - line_start;
}

bool Blank(std::string_view t, size_t line_start) {
  size_t i = line_start;
  while (i < t.size() && (t[i] == ' ' || t[i] == '\t' || t[i] == '\r')) ++i;
  return i >= t.size() || t[i] == '\n';
}

// One past the last character of the scalar that starts at `pos`, or npos
// when its end cannot be found with certainty.
size_t ScalarEnd(std::string_view t, size_t pos, const std::string& raw) {
  if (pos >= t.size()) return std::string_view::npos;
  const char c = t[pos];
  if (c == '"') {
    for (size_t i = pos + 1; i < t.size(); ++i) {
      if (t[i] == '\\')
        ++i;
      else if (t[i] == '"')
        return i + 1;
    }
    return std::string_view::npos;
  }
  if (c == '\'') {
    for (size_t i = pos + 1; i < t.size(); ++i) {
      if (t[i] != '\'') continue;
      if (i + 1 < t.size() && t[i + 1] == '\'') {
        ++i;
        continue;
      }
      return i + 1;
    }
    return std::string_view::npos;
  }
  if (c == '|' || c == '>') {
    // A block scalar: its header line, then every line indented at least as
    // much as its first non-blank line (blank lines inside belong to it).
    size_t line = LineEnd(t, pos) + 1;
    while (line < t.size() && Blank(t, line)) line = LineEnd(t, line) + 1;
    if (line >= t.size()) return LineEnd(t, pos);
    const size_t indent = Indent(t, line);
    size_t end = LineEnd(t, line);
    for (line = end + 1; line < t.size(); line = LineEnd(t, line) + 1) {
      if (Blank(t, line)) continue;
      if (Indent(t, line) < indent) break;
      end = LineEnd(t, line);
    }
    return end;
  }
  // A plain scalar on one line reads exactly as written.
  if (raw.find('\n') == std::string::npos && t.compare(pos, raw.size(), raw) == 0)
    return pos + raw.size();
  return std::string_view::npos;
}

// Compares the re-parsed node `got` with `want` as substituted.
bool Same(const YAML::Node& want, const YAML::Node& got,
          const std::map<size_t, const Substitution*>& by_pos) {
  if (want.Type() != got.Type()) return false;
  switch (want.Type()) {
    case YAML::NodeType::Scalar: {
      auto it = by_pos.find(static_cast<size_t>(std::max(want.Mark().pos, 0)));
      const bool substituted = it != by_pos.end() && it->second->raw == want.Scalar();
      return got.Scalar() == (substituted ? it->second->value : want.Scalar());
    }
    case YAML::NodeType::Sequence: {
      if (want.size() != got.size()) return false;
      for (size_t i = 0; i < want.size(); ++i)
        if (!Same(want[i], got[i], by_pos)) return false;
      return true;
    }
    case YAML::NodeType::Map: {
      if (want.size() != got.size()) return false;
      auto a = want.begin();
      auto b = got.begin();
      for (; a != want.end(); ++a, ++b)
        if (!Same(a->first, b->first, by_pos) || !Same(a->second, b->second, by_pos)) return false;
      return true;
    }
    default:
      return true;
  }
}

}  // namespace

Result<std::string> WriteResolved(std::string_view text, const YAML::Node& root,
                                  std::vector<Substitution> subs, Position* where) {
  std::sort(subs.begin(), subs.end(),
            [](const Substitution& a, const Substitution& b) { return a.pos < b.pos; });
  subs.erase(
      std::unique(subs.begin(), subs.end(),
                  [](const Substitution& a, const Substitution& b) { return a.pos == b.pos; }),
      subs.end());
  std::map<size_t, const Substitution*> by_pos;
  for (const auto& s : subs) by_pos[s.pos] = &s;
  std::string out;
  out.reserve(text.size());
  size_t copied = 0;
  for (const auto& s : subs) {
    const size_t end = ScalarEnd(text, s.pos, s.raw);
    if (s.pos < copied || end == std::string_view::npos) {
      const size_t line_start = text.rfind('\n', s.pos == 0 ? 0 : s.pos - 1);
      where->line = static_cast<int>(std::count(text.begin(), text.begin() + s.pos, '\n')) + 1;
      where->column =
          static_cast<int>(s.pos - (line_start == std::string_view::npos ? 0 : line_start + 1)) + 1;
      return Status::InvalidArgument("cannot write the value '" + s.raw +
                                     "' with its variables substituted: put it in quotes on "
                                     "one line");
    }
    out.append(text.substr(copied, s.pos - copied));
    out += JsonQuote(s.value);  // JSON's escapes are YAML's too
    copied = end;
  }
  out.append(text.substr(copied));
  YAML::Node again;
  try {
    again = YAML::Load(out);
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument("the job with its variables substituted is not valid YAML: " +
                                   e.msg + " (put each value with ${VAR} in quotes on one line)");
  }
  try {
    if (!Same(root, again, by_pos))
      return Status::InvalidArgument(
          "the job with its variables substituted reads differently (put each value with ${VAR} "
          "in quotes on one line)");
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument("cannot compare the resolved job: " + e.msg);
  }
  return out;
}

}  // namespace weir::spec::internal
