// The csv format: one RFC 4180 record per payload, fields in schema order.
//
// Decoding choices on top of format.h:
//   * One trailing "\n" or "\r\n" of the payload is ignored.
//   * A quoted field may hold the delimiter, newlines and doubled quotes
//     (""); after its closing quote only the delimiter or the end may follow.
//     A quote inside an unquoted field is kept as a character (as Python's
//     csv module does). An unterminated quoted field is an error.
//   * An empty unquoted field is null. An empty quoted field ("") is the
//     empty string for string/bytes fields and null for the other types.
//   * Values: bigint takes integer text, double decimal numbers (not nan or
//     inf), boolean true/false in any case, timestamp what
//     weir::ParseTimestamp reads (ISO-8601 or epoch millis); string and bytes
//     take the text as is. No whitespace is trimmed.
//   * A record with a number of fields other than the schema's is an error.
//   * header: true skips the first payload the decoder ever sees when its
//     fields equal the schema's field names (otherwise it is decoded as data).
//   * aliases and defaults do not apply (fields are matched by position).
//
// Encoding: the delimiter between fields; null as an empty field; the empty
// string as ""; strings/bytes holding the delimiter, a quote, CR or LF quoted
// with doubled quotes; numbers, booleans and timestamps as in json (NaN and
// infinities as null, i.e. empty); no trailing newline.
#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "common/format/format_internal.h"
#include "common/status.h"

namespace weir::format::internal {
namespace {

class CsvDecoder final : public Decoder {
 public:
  CsvDecoder(const spec::FormatSpec& format, const Schema& schema)
      : delimiter_(CsvDelimiter(format)), schema_(schema) {
    auto it = format.options.find("header");
    skip_header_ = it != format.options.end() && it->second == "true";
    staged_.resize(schema.size());
  }

  void Decode(const std::vector<std::string_view>& payloads, RecordBatch* batch,
              std::vector<DecodeError>* errors, std::vector<uint32_t>* rows_of) override {
    WEIR_ASSERT(batch->columns.size() == schema_.size(),
                "csv decoder: the batch's schema is not the decoder's");
    for (size_t i = 0; i < payloads.size(); ++i) {
      const bool first = !seen_first_;
      seen_first_ = true;
      if (!Split(payloads[i])) {
        errors->push_back({i, reason_});
        continue;
      }
      if (first && skip_header_ && IsHeader()) continue;
      if (!Stage()) {
        errors->push_back({i, reason_});
        continue;
      }
      AppendStagedRow(staged_.data(), nullptr, batch);
      if (rows_of != nullptr) rows_of->push_back(static_cast<uint32_t>(i));
    }
  }

 private:
  struct Span {
    const char* ptr;
    size_t len;
    bool quoted;
    std::string_view view() const { return {ptr, len}; }
  };

  // Splits one record into fields_ (true) or sets reason_ (false). Views point
  // into the payload, or into scratch_ for quoted fields with doubled quotes;
  // scratch_ is reserved to the payload's size first, so it never moves while
  // the record is decoded.
  bool Split(std::string_view rec) {
    if (!rec.empty() && rec.back() == '\n') {
      rec.remove_suffix(1);
      if (!rec.empty() && rec.back() == '\r') rec.remove_suffix(1);
    }
    fields_.clear();
    scratch_.clear();
    if (scratch_.capacity() < rec.size()) scratch_.reserve(rec.size());
    const char* p = rec.data();
    const size_t n = rec.size();
    size_t pos = 0;
    while (true) {
      if (pos < n && p[pos] == '"') {
        // Quoted: runs up to a quote that is not doubled.
        const size_t start = ++pos;
        size_t scratch_start = std::string::npos;  // set once a "" was seen
        size_t run = start;
        while (true) {
          const void* q = pos < n ? std::memchr(p + pos, '"', n - pos) : nullptr;
          if (q == nullptr) {
            reason_.assign("field ");
            reason_.append(std::to_string(fields_.size() + 1));
            reason_.append(": unterminated quoted field");
            return false;
          }
          pos = static_cast<size_t>(static_cast<const char*>(q) - p);
          if (pos + 1 < n && p[pos + 1] == '"') {
            if (scratch_start == std::string::npos) scratch_start = scratch_.size();
            scratch_.append(p + run, pos + 1 - run);  // up to and with one quote
            pos += 2;
            run = pos;
            continue;
          }
          break;  // the closing quote
        }
        if (scratch_start == std::string::npos) {
          fields_.push_back({p + start, pos - start, true});
        } else {
          scratch_.append(p + run, pos - run);
          fields_.push_back(
              {scratch_.data() + scratch_start, scratch_.size() - scratch_start, true});
        }
        ++pos;  // past the closing quote
        if (pos < n && p[pos] != delimiter_) {
          reason_.assign("field ");
          reason_.append(std::to_string(fields_.size()));
          reason_.append(": unexpected character after a closing quote");
          return false;
        }
      } else {
        const void* d = pos < n ? std::memchr(p + pos, delimiter_, n - pos) : nullptr;
        const size_t end = d == nullptr ? n : static_cast<size_t>(static_cast<const char*>(d) - p);
        fields_.push_back({p + pos, end - pos, false});
        pos = end;
      }
      if (pos >= n) return true;
      ++pos;  // past the delimiter; a delimiter at the end starts one more empty field
    }
  }

  bool IsHeader() const {
    if (fields_.size() != schema_.size()) return false;
    for (size_t f = 0; f < fields_.size(); ++f)
      if (fields_[f].view() != schema_.field(f).name) return false;
    return true;
  }

  bool Stage() {
    if (fields_.size() != schema_.size()) {
      reason_.assign("expected ");
      reason_.append(std::to_string(schema_.size()));
      reason_.append(schema_.size() == 1 ? " field, got " : " fields, got ");
      reason_.append(std::to_string(fields_.size()));
      return false;
    }
    for (size_t f = 0; f < fields_.size(); ++f) {
      const TypeId type = schema_.field(f).type;
      const bool empty_is_null = !fields_[f].quoted || !IsStringStored(type);
      if (!StageText(type, fields_[f].view(), empty_is_null, &staged_[f], &why_)) {
        reason_.assign("field '");
        reason_.append(schema_.field(f).name);
        reason_.append("': ");
        reason_.append(why_);
        return false;
      }
    }
    return true;
  }

  const char delimiter_;
  const Schema schema_;
  bool skip_header_ = false;
  bool seen_first_ = false;
  std::vector<Span> fields_;
  std::vector<Staged> staged_;
  std::string scratch_;  // unescaped quoted fields of the current record
  std::string reason_;
  std::string why_;
};

class CsvEncoder final : public Encoder {
 public:
  CsvEncoder(const spec::FormatSpec& format, const Schema& schema)
      : delimiter_(CsvDelimiter(format)), num_fields_(schema.size()) {}

  void Encode(const RecordBatch& batch, size_t row, std::string* out) override {
    const size_t n = std::min(num_fields_, batch.columns.size());
    for (size_t f = 0; f < n; ++f) {
      if (f != 0) out->push_back(delimiter_);
      const Column& col = batch.columns[f];
      if (col.IsNull(row)) continue;
      if (!IsStringStored(col.type())) {
        AppendPlainText(col, row, out);
        continue;
      }
      const std::string_view s = col.GetString(row);
      if (!NeedsQuotes(s)) {
        out->append(s);
        continue;
      }
      out->push_back('"');
      size_t run = 0;
      for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '"') {
          out->append(s.data() + run, i + 1 - run);
          out->push_back('"');
          run = i + 1;
        }
      }
      out->append(s.data() + run, s.size() - run);
      out->push_back('"');
    }
  }

 private:
  bool NeedsQuotes(std::string_view s) const {
    if (s.empty()) return true;  // "" is the empty string; an empty field is null
    for (char c : s)
      if (c == delimiter_ || c == '"' || c == '\n' || c == '\r') return true;
    return false;
  }

  const char delimiter_;
  const size_t num_fields_;
};

}  // namespace

std::unique_ptr<Decoder> MakeCsvDecoder(const spec::FormatSpec& format, const Schema& schema) {
  return std::make_unique<CsvDecoder>(format, schema);
}

std::unique_ptr<Encoder> MakeCsvEncoder(const spec::FormatSpec& format, const Schema& schema) {
  return std::make_unique<CsvEncoder>(format, schema);
}

}  // namespace weir::format::internal
