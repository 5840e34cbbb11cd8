// libFuzzer target: the csv Decoder on arbitrary bytes.
//
// The first input byte picks the delimiter (',', ';', '\t' or '|') and
// whether `header` is on; the rest is split at 0x1e (ASCII record separator)
// into the payloads of one Decode call, decoded with a schema of every type,
// and checked: no crash or sanitizer report; every payload is one row, one
// error or (the first, with header on) skipped; columns stay aligned; rows_of
// is increasing; and every decoded row survives encode -> decode unchanged.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/batch.h"
#include "common/format/format.h"
#include "common/spec/job_spec.h"
#include "common/types.h"

namespace {

using weir::Column;
using weir::RecordBatch;
using weir::Schema;
using weir::TypeId;
using weir::format::DecodeError;

constexpr char kDelimiters[4] = {',', ';', '\t', '|'};

void Fail(const char* what) {
  std::fprintf(stderr, "fuzz_csv_decoder: %s\n", what);
  std::abort();
}

bool SameValue(const Column& a, const Column& b, size_t r) {
  if (a.IsNull(r) != b.IsNull(r)) return false;
  if (a.IsNull(r)) return true;
  switch (a.type()) {
    case TypeId::kNull:
      return true;
    case TypeId::kBoolean:
    case TypeId::kBigint:
    case TypeId::kTimestamp:
      return a.GetInt(r) == b.GetInt(r);
    case TypeId::kDouble:
      return a.GetDouble(r) == b.GetDouble(r) &&
             std::signbit(a.GetDouble(r)) == std::signbit(b.GetDouble(r));
    case TypeId::kString:
    case TypeId::kBytes:
      return a.GetString(r) == b.GetString(r);
  }
  return false;
}

struct Harness {
  std::shared_ptr<const Schema> schema;
  // [delimiter][header]: the decoders under test (kept across inputs, as a
  // source keeps its decoder); re-decoding and encoding use no header.
  std::unique_ptr<weir::format::Decoder> decoders[4][2];
  std::unique_ptr<weir::format::Decoder> redecoders[4];
  std::unique_ptr<weir::format::Encoder> encoders[4];

  Harness() {
    schema = std::make_shared<const Schema>(std::vector<weir::Field>{{"b", TypeId::kBoolean},
                                                                     {"n", TypeId::kBigint},
                                                                     {"d", TypeId::kDouble},
                                                                     {"s", TypeId::kString},
                                                                     {"y", TypeId::kBytes},
                                                                     {"t", TypeId::kTimestamp}});
    for (int d = 0; d < 4; ++d) {
      weir::spec::FormatSpec csv;
      csv.type = "csv";
      csv.options["delimiter"] = std::string(1, kDelimiters[d]);
      redecoders[d] = std::move(weir::format::MakeDecoder(csv, *schema, {})).value();
      encoders[d] = std::move(weir::format::MakeEncoder(csv, *schema)).value();
      decoders[d][0] = std::move(weir::format::MakeDecoder(csv, *schema, {})).value();
      csv.options["header"] = "true";
      decoders[d][1] = std::move(weir::format::MakeDecoder(csv, *schema, {})).value();
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Harness* h = new Harness();
  if (size == 0) return 0;
  const int delim = data[0] & 3;
  const int header = (data[0] >> 2) & 1;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::vector<std::string_view> payloads;
  size_t start = 0;
  while (true) {
    size_t end = input.find('\x1e', start);
    if (end == std::string_view::npos) {
      payloads.push_back(input.substr(start));
      break;
    }
    payloads.push_back(input.substr(start, end - start));
    start = end + 1;
  }

  RecordBatch batch(h->schema);
  std::vector<DecodeError> errors;
  std::vector<uint32_t> rows_of;
  h->decoders[delim][header]->Decode(payloads, &batch, &errors, &rows_of);

  const size_t accounted = batch.num_rows() + errors.size();
  if (accounted != payloads.size() && !(header && accounted + 1 == payloads.size()))
    Fail("rows + errors != payloads");
  if (rows_of.size() != batch.num_rows()) Fail("rows_of size");
  for (const Column& c : batch.columns)
    if (c.size() != batch.num_rows()) Fail("column size");
  for (size_t i = 0; i < rows_of.size(); ++i) {
    if (rows_of[i] >= payloads.size()) Fail("rows_of out of range");
    if (i > 0 && rows_of[i] <= rows_of[i - 1]) Fail("rows_of not increasing");
  }
  for (const DecodeError& e : errors) {
    if (e.index >= payloads.size()) Fail("error index out of range");
    if (e.reason.empty()) Fail("empty reason");
  }

  // Round trip: encode every row and decode it again.
  std::vector<std::string> encoded(batch.num_rows());
  for (size_t r = 0; r < batch.num_rows(); ++r) h->encoders[delim]->Encode(batch, r, &encoded[r]);
  std::vector<std::string_view> views(encoded.begin(), encoded.end());
  RecordBatch again(h->schema);
  errors.clear();
  h->redecoders[delim]->Decode(views, &again, &errors, nullptr);
  if (!errors.empty()) {
    std::fprintf(stderr, "re-decoding [%s] failed: %s\n", encoded[errors[0].index].c_str(),
                 errors[0].reason.c_str());
    Fail("round trip: encoded row does not decode");
  }
  for (size_t r = 0; r < batch.num_rows(); ++r)
    for (size_t c = 0; c < batch.columns.size(); ++c)
      if (!SameValue(batch.columns[c], again.columns[c], r)) {
        std::fprintf(stderr, "field %zu of [%s] changed\n", c, encoded[r].c_str());
        Fail("round trip: value changed");
      }
  return 0;
}
