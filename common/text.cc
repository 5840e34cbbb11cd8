#include "common/text.h"

#include <algorithm>
#include <cctype>

namespace weir {

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      bool same = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                  std::tolower(static_cast<unsigned char>(b[j - 1]));
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (same ? 0 : 1)});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string ClosestMatch(std::string_view word, const std::vector<std::string>& candidates) {
  size_t best = std::string::npos;
  std::string match;
  size_t limit = std::max<size_t>(1, word.size() / 3);
  for (const auto& c : candidates) {
    size_t d = EditDistance(word, c);
    if (d <= limit && d < best) {
      best = d;
      match = c;
    }
  }
  return match;
}

std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates) {
  std::string m = ClosestMatch(word, candidates);
  return m.empty() ? "" : " (did you mean '" + m + "'?)";
}

std::string QuotedList(const std::vector<std::string>& items, std::string_view last_sep) {
  std::string s;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) s += (i + 1 == items.size()) ? std::string(last_sep) : ", ";
    s += "'" + items[i] + "'";
  }
  return s;
}

}  // namespace weir
