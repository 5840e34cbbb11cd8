// Small text helpers shared by the validator and the expression binder.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace weir {

// Levenshtein distance, case-insensitive.
size_t EditDistance(std::string_view a, std::string_view b);

// The candidate closest to `word` when it is close enough to be a likely typo
// (distance <= max(1, len/3)), else "". Ties go to the earliest candidate.
std::string ClosestMatch(std::string_view word, const std::vector<std::string>& candidates);

// " (did you mean 'x'?)" or "" when nothing is close.
std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates);

// "'a', 'b' or 'c'"
std::string QuotedList(const std::vector<std::string>& items, std::string_view last_sep = " or ");

// `"text"` with JSON escapes (quotes included).
std::string JsonQuote(std::string_view text);

}  // namespace weir
