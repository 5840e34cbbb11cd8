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
#include "tests/fuzz/decoder_fuzz_util.h"

namespace {

constexpr char kTarget[] = "fuzz_csv_decoder";
using weir::RecordBatch;
using weir::Schema;
using weir::TypeId;

constexpr char kDelimiters[4] = {',', ';', '\t', '|'};

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
  const std::vector<std::string_view> payloads = weir::fuzz::Split(input, "\x1e");
  RecordBatch batch = weir::fuzz::DecodeChecked(kTarget, *h->decoders[delim][header], h->schema,
                                                payloads, /*may_skip_one=*/header != 0);
  weir::fuzz::CheckRoundTrip(kTarget, batch, *h->encoders[delim], *h->redecoders[delim]);
  return 0;
}
