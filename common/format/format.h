// Record formats: bytes <-> rows of a schema (json, csv, raw).
//
// A Decoder turns the payloads of many messages into rows appended to a
// RecordBatch of the source's schema; an Encoder turns rows back into bytes.
// Both work a batch at a time (one virtual call per batch, not per row).
//
// Decoding is total: a payload that is not valid for the format or does not
// fit the schema (a missing field without default, a value of the wrong type,
// a timestamp that is neither ISO-8601 nor epoch millis) appends NO row and is
// reported in `errors` with its index in the input and a reason that names the
// field, e.g. "field 'amount': expected a number, got \"abc\"". The source then
// applies its on_error policy. Never a crash, whatever the bytes.
//
// Field matching (json): a field is found under its name or any of its
// `aliases` (first present wins); a field absent from the input takes its
// `default` (converted to the field's type) or else is null, as with Flink's
// JSON format; an explicit JSON null is null. Unknown input fields are
// ignored. Types: bigint accepts integral JSON numbers (and integer strings);
// double accepts any number (and numeric strings); boolean accepts true/false;
// string accepts strings (numbers and booleans are kept as their text); bytes
// accepts strings; timestamp accepts an ISO-8601 string or epoch milliseconds
// (number or digit string). Encoders write timestamps as ISO-8601 UTC with
// milliseconds ("2024-05-01T12:00:00.000Z") and doubles in the shortest form
// that reads back equal.
//
// csv: one record per payload, fields in schema order, RFC 4180 quoting,
// options `delimiter` (default ',') and `header` (sources: skip a first line
// equal to the field names; sinks: nothing, since each payload is one line).
// An empty unquoted field is null. raw: the payload is the one bytes field.
//
// Thread-safety: an instance belongs to one task thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/batch.h"
#include "common/spec/job_spec.h"
#include "common/status.h"

namespace weir::format {

struct DecodeError {
  size_t index = 0;  // index of the payload in the input span
  std::string reason;
};

class Decoder {
 public:
  virtual ~Decoder() = default;
  // Appends one row per valid payload to *batch (whose schema is the
  // decoder's); the row's event_time is set to 0 (the source sets it). For
  // each invalid payload appends a DecodeError and no row. `rows_of` (when not
  // null) receives, per appended row, the index of its payload.
  virtual void Decode(const std::vector<std::string_view>& payloads, RecordBatch* batch,
                      std::vector<DecodeError>* errors, std::vector<uint32_t>* rows_of) = 0;

  // Called before Decode with the same payloads: fetches what decoding them
  // needs from outside (a schema registry's schemas). An error (the registry
  // cannot be reached) means the batch cannot be decoded now; a schema the
  // registry does not have is not an error here but a malformed record.
  virtual Status Prepare(const std::vector<std::string_view>& payloads) { return Status::OK(); }
};

class Encoder {
 public:
  virtual ~Encoder() = default;
  // Appends the encoding of row `row` of batch to *out (no trailing newline).
  virtual void Encode(const RecordBatch& batch, size_t row, std::string* out) = 0;

  // Called once before the first Encode, where the sink runs: registers the
  // schema with a schema registry when the format names one.
  virtual Status Open() { return Status::OK(); }
};

// `fields` carries aliases and defaults (may be empty: then the schema's
// names only). Fails only on an unknown format type.
Result<std::unique_ptr<Decoder>> MakeDecoder(const spec::FormatSpec& format, const Schema& schema,
                                             const std::vector<spec::FieldSpec>& fields);
Result<std::unique_ptr<Encoder>> MakeEncoder(const spec::FormatSpec& format, const Schema& schema);

}  // namespace weir::format
