// libFuzzer target: the json Decoder on arbitrary bytes.
//
// The input is split at 0x1e (ASCII record separator) into the payloads of
// one Decode call, decoded with a schema of every type (with aliases and
// defaults), and checked: no crash or sanitizer report; every payload is
// either one row or one error; columns stay aligned; rows_of is increasing;
// and every decoded row survives encode -> decode unchanged.
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

void Fail(const char* what) {
  std::fprintf(stderr, "fuzz_json_decoder: %s\n", what);
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
  std::unique_ptr<weir::format::Decoder> decoder;
  std::unique_ptr<weir::format::Decoder> redecoder;
  std::unique_ptr<weir::format::Encoder> encoder;

  Harness() {
    schema = std::make_shared<const Schema>(std::vector<weir::Field>{{"b", TypeId::kBoolean},
                                                                     {"n", TypeId::kBigint},
                                                                     {"d", TypeId::kDouble},
                                                                     {"s", TypeId::kString},
                                                                     {"y", TypeId::kBytes},
                                                                     {"t", TypeId::kTimestamp}});
    std::vector<weir::spec::FieldSpec> fields(3);
    fields[0].name = "n";
    fields[0].type = TypeId::kBigint;
    fields[0].aliases = {"num", "N"};
    fields[0].default_value = "7";
    fields[1].name = "s";
    fields[1].aliases = {"str"};
    fields[1].default_value = "dflt";
    fields[2].name = "t";
    fields[2].type = TypeId::kTimestamp;
    fields[2].aliases = {"ts", "time"};
    weir::spec::FormatSpec json;
    json.type = "json";
    decoder = std::move(weir::format::MakeDecoder(json, *schema, fields)).value();
    redecoder = std::move(weir::format::MakeDecoder(json, *schema, {})).value();
    encoder = std::move(weir::format::MakeEncoder(json, *schema)).value();
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Harness* h = new Harness();
  const std::string_view input(reinterpret_cast<const char*>(data), size);
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
  h->decoder->Decode(payloads, &batch, &errors, &rows_of);

  if (batch.num_rows() + errors.size() != payloads.size()) Fail("rows + errors != payloads");
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
  for (size_t r = 0; r < batch.num_rows(); ++r) h->encoder->Encode(batch, r, &encoded[r]);
  std::vector<std::string_view> views(encoded.begin(), encoded.end());
  RecordBatch again(h->schema);
  errors.clear();
  h->redecoder->Decode(views, &again, &errors, nullptr);
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
