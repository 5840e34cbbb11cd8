// Shared pieces of the record formats (private to common/format/).
//
// Decoders check a whole payload before touching the batch: each field's
// value is first "staged" (a Staged holds an integer, a double, or a view of
// bytes that stay valid until the payload is done), and only when every field
// fits is the row appended with AppendStagedRow. A bad payload thus never
// leaves a partial row behind, and the columns are appended to directly, with
// no temporary strings.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/batch.h"
#include "common/format/format.h"
#include "common/spec/job_spec.h"
#include "common/types.h"

namespace weir::format::internal {

// One decoded field value, waiting for the rest of its payload to be checked.
struct Staged {
  enum class Kind : uint8_t {
    kNull,
    kInt,      // boolean (0/1), bigint, timestamp: `i`
    kDouble,   // `d`
    kString,   // string/bytes at `ptr`, `len` bytes
    kScratch,  // string/bytes at offset `off` of the decoder's scratch buffer
  };
  Kind kind = Kind::kNull;
  int64_t i = 0;
  double d = 0;
  const char* ptr = nullptr;
  size_t off = 0;
  size_t len = 0;

  static Staged Null() { return {}; }
  static Staged Int(int64_t v) {
    Staged s;
    s.kind = Kind::kInt;
    s.i = v;
    return s;
  }
  static Staged Double(double v) {
    Staged s;
    s.kind = Kind::kDouble;
    s.d = v;
    return s;
  }
  static Staged String(std::string_view v) {
    Staged s;
    s.kind = Kind::kString;
    s.ptr = v.data();
    s.len = v.size();
    return s;
  }
  static Staged Scratch(size_t off, size_t len) {
    Staged s;
    s.kind = Kind::kScratch;
    s.off = off;
    s.len = len;
    return s;
  }
};

// Appends one row made of values[0..batch->columns.size()) plus event time 0.
// Contract: values[c] matches the storage of column c (kInt for int-stored
// types, kDouble for double, kString/kScratch for string/bytes, anything for
// a null-typed column, kNull anywhere).
void AppendStagedRow(const Staged* values, const char* scratch, RecordBatch* batch);

// ---- Text to values (csv fields, json strings, defaults) ----

enum class ParseOutcome { kOk, kMalformed, kOutOfRange };

// A whole-string base-10 int64: optional '-', digits only.
ParseOutcome ParseInt64(std::string_view text, int64_t* out);
// A whole-string finite decimal number (std::from_chars syntax); nan/inf are malformed.
ParseOutcome ParseFiniteDouble(std::string_view text, double* out);
// "true" / "false", case-insensitive.
bool ParseBoolText(std::string_view text, bool* out);

// Converts the text of a value to `type`. The empty text is null when
// `empty_is_null`; otherwise it is an empty string (string/bytes) or an
// error. Strings are staged as views of `text`. On failure returns false and
// sets *reason to e.g. `expected a number, got "abc"` (no field name).
bool StageText(TypeId type, std::string_view text, bool empty_is_null, Staged* out,
               std::string* reason);

// The `expected ...` part of a type error, e.g. "expected a number".
std::string_view ExpectedFor(TypeId type);
// `"text"` as JSON, cut to its first 64 bytes ("..." after the quote when cut), for messages.
std::string QuoteForMessage(std::string_view text);

// ---- Values to text (encoders) ----

// Appends `s` as a JSON string with quotes. '"', '\\' and control characters
// are escaped (\n, \t... or \u00XX); valid UTF-8 is copied as is; each byte
// that is not part of a valid UTF-8 sequence becomes \ufffd.
// json in the schema-registry wire format (common/format/registry.cc): with
// option `registry` (a URL) or `framing: registry` the decoder strips and
// checks the header; with `registry` or `schema_id` the encoder writes it.
// Otherwise `inner` is returned as it is.
Result<std::unique_ptr<Decoder>> FrameJsonDecoder(const spec::FormatSpec& format,
                                                  std::unique_ptr<Decoder> inner);
Result<std::unique_ptr<Encoder>> FrameJsonEncoder(const spec::FormatSpec& format,
                                                  const Schema& schema,
                                                  std::unique_ptr<Encoder> inner);

void AppendJsonString(std::string_view s, std::string* out);
void AppendInt64(int64_t v, std::string* out);
// The shortest text that reads back to the same double, with ".0" added when
// it would otherwise look like an integer ("1.0", "1e+300"). `v` must be finite.
void AppendDouble(double v, std::string* out);
// What weir::FormatTimestamp returns, without allocating: ISO-8601 UTC with
// milliseconds ("2024-05-01T12:00:00.000Z") when the year is within
// 0000..9999, else the epoch milliseconds as digits (which ParseTimestamp
// reads back too). Returns true when it wrote ISO text.
bool AppendTimestamp(int64_t ms, std::string* out);
// Appends the text of the non-null value at `row` as csv and raw write it,
// unquoted: true/false, integers, AppendDouble (nothing for NaN and
// infinities), AppendTimestamp, the bytes of strings.
void AppendPlainText(const Column& col, size_t row, std::string* out);

// ---- Format constructors (format.cc dispatches on FormatSpec::type) ----

std::unique_ptr<Decoder> MakeJsonDecoder(const Schema& schema,
                                         const std::vector<spec::FieldSpec>& fields);
std::unique_ptr<Encoder> MakeJsonEncoder(const Schema& schema);
std::unique_ptr<Decoder> MakeCsvDecoder(const spec::FormatSpec& format, const Schema& schema);
std::unique_ptr<Encoder> MakeCsvEncoder(const spec::FormatSpec& format, const Schema& schema);
std::unique_ptr<Decoder> MakeRawDecoder(const Schema& schema);
std::unique_ptr<Encoder> MakeRawEncoder(const Schema& schema);
// avro (avro.cc): fail when the writer schema options are missing or invalid.
Result<std::unique_ptr<Decoder>> MakeAvroDecoder(const spec::FormatSpec& format,
                                                 const Schema& schema,
                                                 const std::vector<spec::FieldSpec>& fields);
Result<std::unique_ptr<Encoder>> MakeAvroEncoder(const spec::FormatSpec& format,
                                                 const Schema& schema);
// protobuf (protobuf.cc): fail when the descriptors or the message cannot be loaded.
Result<std::unique_ptr<Decoder>> MakeProtobufDecoder(const spec::FormatSpec& format,
                                                     const Schema& schema,
                                                     const std::vector<spec::FieldSpec>& fields);
Result<std::unique_ptr<Encoder>> MakeProtobufEncoder(const spec::FormatSpec& format,
                                                     const Schema& schema);

// The csv delimiter of a format's options: its one character, or ',' when the
// option is absent, not one character, or one that cannot be a delimiter
// ('"', '\r', '\n').
char CsvDelimiter(const spec::FormatSpec& format);

}  // namespace weir::format::internal
