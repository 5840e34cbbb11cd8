// MakeDecoder/MakeEncoder and the helpers the formats share
// (format_internal.h).
#include "common/format/format.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <system_error>

#include "common/format/format_internal.h"
#include "common/status.h"
#include "common/time.h"

namespace weir::format {

Result<std::unique_ptr<Decoder>> MakeDecoder(const spec::FormatSpec& format, const Schema& schema,
                                             const std::vector<spec::FieldSpec>& fields) {
  if (format.type == "json") {
    return internal::FrameJsonDecoder(format, internal::MakeJsonDecoder(schema, fields));
  }
  if (format.type == "csv") return internal::MakeCsvDecoder(format, schema);
  if (format.type == "raw") return internal::MakeRawDecoder(schema);
  if (format.type == "avro") return internal::MakeAvroDecoder(format, schema, fields);
  if (format.type == "protobuf") return internal::MakeProtobufDecoder(format, schema, fields);
  return Status::InvalidArgument("unknown format '" + format.type +
                                 "': expected 'json', 'csv', 'raw', 'avro' or 'protobuf'");
}

Result<std::unique_ptr<Encoder>> MakeEncoder(const spec::FormatSpec& format, const Schema& schema) {
  if (format.type == "json") {
    return internal::FrameJsonEncoder(format, schema, internal::MakeJsonEncoder(schema));
  }
  if (format.type == "csv") return internal::MakeCsvEncoder(format, schema);
  if (format.type == "raw") return internal::MakeRawEncoder(schema);
  if (format.type == "avro") return internal::MakeAvroEncoder(format, schema);
  if (format.type == "protobuf") return internal::MakeProtobufEncoder(format, schema);
  return Status::InvalidArgument("unknown format '" + format.type +
                                 "': expected 'json', 'csv', 'raw', 'avro' or 'protobuf'");
}

namespace internal {

void AppendStagedRow(const Staged* values, const char* scratch, RecordBatch* batch) {
  const size_t n = batch->columns.size();
  for (size_t c = 0; c < n; ++c) {
    Column& col = batch->columns[c];
    const Staged& v = values[c];
    if (col.type() == TypeId::kNull) {
      col.AppendNull();
      continue;
    }
    switch (v.kind) {
      case Staged::Kind::kNull:
        col.AppendNull();
        break;
      case Staged::Kind::kInt:
        col.AppendInt(v.i);
        break;
      case Staged::Kind::kDouble:
        col.AppendDouble(v.d);
        break;
      case Staged::Kind::kString:
        col.AppendString(std::string_view(v.ptr, v.len));
        break;
      case Staged::Kind::kScratch:
        col.AppendString(std::string_view(scratch + v.off, v.len));
        break;
    }
  }
  batch->event_time.push_back(0);
}

ParseOutcome ParseInt64(std::string_view text, int64_t* out) {
  if (text.empty()) return ParseOutcome::kMalformed;
  // from_chars also takes a lone "-" as malformed and needs no '+' check.
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  if (p != text.data() + text.size()) {
    // "12x" or "1.5": malformed even when the digits before overflow.
    return ParseOutcome::kMalformed;
  }
  if (ec == std::errc::result_out_of_range) return ParseOutcome::kOutOfRange;
  if (ec != std::errc()) return ParseOutcome::kMalformed;
  return ParseOutcome::kOk;
}

ParseOutcome ParseFiniteDouble(std::string_view text, double* out) {
  if (text.empty()) return ParseOutcome::kMalformed;
  // std::from_chars takes "inf"/"nan" and hex-free decimal syntax; the first
  // character must start a decimal number for us.
  const char c0 = text[0] == '-' && text.size() > 1 ? text[1] : text[0];
  if (!((c0 >= '0' && c0 <= '9') || c0 == '.')) return ParseOutcome::kMalformed;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  if (p != text.data() + text.size()) return ParseOutcome::kMalformed;
  if (ec == std::errc::result_out_of_range) return ParseOutcome::kOutOfRange;
  if (ec != std::errc() || !std::isfinite(*out)) return ParseOutcome::kMalformed;
  return ParseOutcome::kOk;
}

namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view lower) {
  if (a.size() != lower.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char c = a[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lower[i]) return false;
  }
  return true;
}

}  // namespace

bool ParseBoolText(std::string_view text, bool* out) {
  if (EqualsIgnoreCase(text, "true")) {
    *out = true;
    return true;
  }
  if (EqualsIgnoreCase(text, "false")) {
    *out = false;
    return true;
  }
  return false;
}

std::string_view ExpectedFor(TypeId type) {
  switch (type) {
    case TypeId::kBoolean:
      return "expected true or false";
    case TypeId::kBigint:
      return "expected an integer";
    case TypeId::kDouble:
      return "expected a number";
    case TypeId::kString:
      return "expected a string";
    case TypeId::kBytes:
      return "expected a string";
    case TypeId::kTimestamp:
      return "expected an ISO-8601 timestamp or epoch milliseconds";
    case TypeId::kNull:
      return "expected null";
  }
  return "expected a value";
}

std::string QuoteForMessage(std::string_view text) {
  constexpr size_t kMax = 64;
  std::string out;
  if (text.size() <= kMax) {
    AppendJsonString(text, &out);
  } else {
    AppendJsonString(text.substr(0, kMax), &out);
    out += "...";
  }
  return out;
}

bool StageText(TypeId type, std::string_view text, bool empty_is_null, Staged* out,
               std::string* reason) {
  if (type == TypeId::kNull || (text.empty() && empty_is_null)) {
    *out = Staged::Null();
    return true;
  }
  switch (type) {
    case TypeId::kString:
    case TypeId::kBytes:
      *out = Staged::String(text);
      return true;
    case TypeId::kBoolean: {
      bool b;
      if (ParseBoolText(text, &b)) {
        *out = Staged::Int(b ? 1 : 0);
        return true;
      }
      break;
    }
    case TypeId::kBigint: {
      int64_t v;
      ParseOutcome r = ParseInt64(text, &v);
      if (r == ParseOutcome::kOk) {
        *out = Staged::Int(v);
        return true;
      }
      if (r == ParseOutcome::kOutOfRange) {
        *reason = "integer " + QuoteForMessage(text) + " is out of range for bigint";
        return false;
      }
      break;
    }
    case TypeId::kDouble: {
      double v;
      ParseOutcome r = ParseFiniteDouble(text, &v);
      if (r == ParseOutcome::kOk) {
        *out = Staged::Double(v);
        return true;
      }
      if (r == ParseOutcome::kOutOfRange) {
        *reason = "number " + QuoteForMessage(text) + " is out of range for double";
        return false;
      }
      break;
    }
    case TypeId::kTimestamp: {
      if (auto ms = ParseTimestamp(text)) {
        *out = Staged::Int(*ms);
        return true;
      }
      break;
    }
    case TypeId::kNull:
      break;
  }
  *reason = std::string(ExpectedFor(type)) + ", got " + QuoteForMessage(text);
  return false;
}

namespace {

// 0: copied as is; 1: ASCII that needs an escape; 2: first byte of a
// multi-byte UTF-8 sequence (or an invalid byte).
constexpr auto kJsonClass = [] {
  struct Table {
    uint8_t v[256];
  } t{};
  for (int c = 0; c < 256; ++c) {
    if (c < 0x20 || c == '"' || c == '\\')
      t.v[c] = 1;
    else if (c >= 0x80)
      t.v[c] = 2;
    else
      t.v[c] = 0;
  }
  return t;
}();

// Length of the valid UTF-8 sequence starting at p[0] (>= 0x80), or 0.
size_t Utf8SequenceLength(const unsigned char* p, size_t avail) {
  const unsigned char c = p[0];
  auto cont = [&](size_t k) { return k < avail && (p[k] & 0xC0) == 0x80; };
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (avail < 2) return 0;
    const unsigned char c1 = p[1];
    if (c == 0xE0 && c1 < 0xA0) return 0;  // overlong
    if (c == 0xED && c1 > 0x9F) return 0;  // surrogates
    return cont(1) && cont(2) ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (avail < 2) return 0;
    const unsigned char c1 = p[1];
    if (c == 0xF0 && c1 < 0x90) return 0;  // overlong
    if (c == 0xF4 && c1 > 0x8F) return 0;  // above U+10FFFF
    return cont(1) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

}  // namespace

void AppendJsonString(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  out->push_back('"');
  size_t run = 0;  // start of the bytes not yet copied
  size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    const uint8_t cls = kJsonClass.v[c];
    if (cls == 0) {
      ++i;
      continue;
    }
    if (cls == 2) {
      if (size_t len = Utf8SequenceLength(p + i, n - i); len != 0) {
        i += len;
        continue;
      }
      out->append(s.data() + run, i - run);
      out->append("\\ufffd");
      run = ++i;
      continue;
    }
    out->append(s.data() + run, i - run);
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      default: {
        const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
        out->append(esc, sizeof esc);
      }
    }
    run = ++i;
  }
  out->append(s.data() + run, n - run);
  out->push_back('"');
}

void AppendInt64(int64_t v, std::string* out) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, static_cast<size_t>(r.ptr - buf));
}

void AppendDouble(double v, std::string* out) {
  char buf[40];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  const size_t len = static_cast<size_t>(r.ptr - buf);
  out->append(buf, len);
  if (std::memchr(buf, '.', len) == nullptr && std::memchr(buf, 'e', len) == nullptr) {
    out->append(".0");
  }
}

namespace {

constexpr int64_t kMsPerDay = 86'400'000;
// 0000-01-01T00:00:00Z and 10000-01-01T00:00:00Z in epoch milliseconds.
constexpr int64_t kMinIsoMs = -62'167'219'200'000;
constexpr int64_t kEndIsoMs = 253'402'300'800'000;

void Put2(char* p, int v) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
}

}  // namespace

bool AppendTimestamp(int64_t ms, std::string* out) {
  if (ms < kMinIsoMs || ms >= kEndIsoMs) {
    AppendInt64(ms, out);
    return false;
  }
  int64_t days = ms / kMsPerDay;
  int64_t rem = ms % kMsPerDay;
  if (rem < 0) {
    rem += kMsPerDay;
    --days;
  }
  // Civil date of a day count (Howard Hinnant's civil_from_days).
  const int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  const int month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  const int year = static_cast<int>(yoe + era * 400 + (month <= 2 ? 1 : 0));
  const int millis = static_cast<int>(rem % 1000);
  const int secs = static_cast<int>(rem / 1000);
  char buf[24];  // YYYY-MM-DDTHH:MM:SS.mmmZ
  Put2(buf, year / 100);
  Put2(buf + 2, year % 100);
  buf[4] = '-';
  Put2(buf + 5, month);
  buf[7] = '-';
  Put2(buf + 8, day);
  buf[10] = 'T';
  Put2(buf + 11, secs / 3600);
  buf[13] = ':';
  Put2(buf + 14, secs / 60 % 60);
  buf[16] = ':';
  Put2(buf + 17, secs % 60);
  buf[19] = '.';
  buf[20] = static_cast<char>('0' + millis / 100);
  Put2(buf + 21, millis % 100);
  buf[23] = 'Z';
  out->append(buf, sizeof buf);
  return true;
}

void AppendPlainText(const Column& col, size_t row, std::string* out) {
  switch (col.type()) {
    case TypeId::kNull:
      break;
    case TypeId::kBoolean:
      out->append(col.GetBool(row) ? "true" : "false");
      break;
    case TypeId::kBigint:
      AppendInt64(col.GetInt(row), out);
      break;
    case TypeId::kDouble: {
      const double d = col.GetDouble(row);
      if (std::isfinite(d)) AppendDouble(d, out);
      break;
    }
    case TypeId::kString:
    case TypeId::kBytes:
      out->append(col.GetString(row));
      break;
    case TypeId::kTimestamp:
      AppendTimestamp(col.GetInt(row), out);
      break;
  }
}

char CsvDelimiter(const spec::FormatSpec& format) {
  auto it = format.options.find("delimiter");
  if (it == format.options.end() || it->second.size() != 1) return ',';
  const char d = it->second[0];
  if (d == '"' || d == '\r' || d == '\n') return ',';
  return d;
}

}  // namespace internal
}  // namespace weir::format
