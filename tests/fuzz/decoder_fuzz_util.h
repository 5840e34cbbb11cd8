// What the decoder fuzz targets share: splitting an input into payloads, the
// invariants every decode must keep, and the encode -> decode round trip.
// Any broken invariant aborts, which libFuzzer reports as a crash.
#pragma once

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/batch.h"
#include "common/format/format.h"
#include "common/format/protobuf.h"
#include "common/spec/job_spec.h"

namespace weir::fuzz {

[[noreturn]] inline void Fail(const char* target, const char* what) {
  std::fprintf(stderr, "%s: %s\n", target, what);
  std::abort();
}

// A protobuf format for `message` of the .proto text `proto`, which is written
// to a file of this process's own under the temporary directory and compiled
// as the CLI compiles a job's. RemoveProtobufFormat deletes the file.
inline spec::FormatSpec ProtobufFormat(std::string_view proto, const std::string& message) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("weir_fuzz_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::filesystem::path file = dir / (message + ".proto");
  std::ofstream(file) << proto;
  spec::FormatSpec pb;
  pb.type = "protobuf";
  pb.options["proto"] = file.string();
  auto compiled = format::CompileProtoFile(file.string(), size_t{1} << 20);
  if (compiled.ok()) pb.options["descriptors"] = *compiled;
  pb.options["message"] = message;
  return pb;
}

inline void RemoveProtobufFormat(const spec::FormatSpec& pb) {
  std::error_code ec;
  std::filesystem::remove_all(std::filesystem::path(pb.options.at("proto")).parent_path(), ec);
}

// Equal values, nulls and NaNs included; -0.0 differs from 0.0.
inline bool SameValue(const Column& a, const Column& b, size_t r) {
  if (a.IsNull(r) != b.IsNull(r)) return false;
  if (a.IsNull(r)) return true;
  switch (a.type()) {
    case TypeId::kNull:
      return true;
    case TypeId::kBoolean:
    case TypeId::kBigint:
    case TypeId::kTimestamp:
      return a.GetInt(r) == b.GetInt(r);
    case TypeId::kDouble: {
      const double x = a.GetDouble(r), y = b.GetDouble(r);
      return (std::isnan(x) && std::isnan(y)) || (x == y && std::signbit(x) == std::signbit(y));
    }
    case TypeId::kString:
    case TypeId::kBytes:
      return a.GetString(r) == b.GetString(r);
  }
  return false;
}

// The pieces of `input` between occurrences of `separator`.
inline std::vector<std::string_view> Split(std::string_view input, std::string_view separator) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    const size_t end = input.find(separator, start);
    if (end == std::string_view::npos) {
      out.push_back(input.substr(start));
      return out;
    }
    out.push_back(input.substr(start, end - start));
    start = end + separator.size();
  }
}

// Decodes `payloads` and checks that every payload gave one row or one error
// (or, with `may_skip_one`, that one was skipped: a csv header), that the
// columns are aligned and rows_of is increasing and in range.
inline RecordBatch DecodeChecked(const char* target, format::Decoder& decoder,
                                 const std::shared_ptr<const Schema>& schema,
                                 const std::vector<std::string_view>& payloads,
                                 bool may_skip_one = false) {
  RecordBatch batch(schema);
  std::vector<format::DecodeError> errors;
  std::vector<uint32_t> rows_of;
  decoder.Decode(payloads, &batch, &errors, &rows_of);
  const size_t accounted = batch.num_rows() + errors.size();
  if (accounted != payloads.size() && !(may_skip_one && accounted + 1 == payloads.size()))
    Fail(target, "rows + errors != payloads");
  if (rows_of.size() != batch.num_rows()) Fail(target, "rows_of size");
  for (const Column& c : batch.columns)
    if (c.size() != batch.num_rows()) Fail(target, "column size");
  for (size_t i = 0; i < rows_of.size(); ++i) {
    if (rows_of[i] >= payloads.size()) Fail(target, "rows_of out of range");
    if (i > 0 && rows_of[i] <= rows_of[i - 1]) Fail(target, "rows_of not increasing");
  }
  for (const format::DecodeError& e : errors) {
    if (e.index >= payloads.size()) Fail(target, "error index out of range");
    if (e.reason.empty()) Fail(target, "empty reason");
  }
  return batch;
}

// Every row of `batch`, encoded and decoded again, comes back unchanged.
inline void CheckRoundTrip(const char* target, const RecordBatch& batch, format::Encoder& encoder,
                           format::Decoder& redecoder) {
  std::vector<std::string> encoded(batch.num_rows());
  for (size_t r = 0; r < batch.num_rows(); ++r) encoder.Encode(batch, r, &encoded[r]);
  std::vector<std::string_view> views(encoded.begin(), encoded.end());
  RecordBatch again(batch.schema);
  std::vector<format::DecodeError> errors;
  redecoder.Decode(views, &again, &errors, nullptr);
  if (!errors.empty()) {
    std::fprintf(stderr, "re-decoding row %zu failed: %s\n", errors[0].index,
                 errors[0].reason.c_str());
    Fail(target, "round trip: encoded row does not decode");
  }
  for (size_t r = 0; r < batch.num_rows(); ++r)
    for (size_t c = 0; c < batch.columns.size(); ++c)
      if (!SameValue(batch.columns[c], again.columns[c], r)) {
        std::fprintf(stderr, "field %zu of row %zu changed\n", c, r);
        Fail(target, "round trip: value changed");
      }
}

}  // namespace weir::fuzz
