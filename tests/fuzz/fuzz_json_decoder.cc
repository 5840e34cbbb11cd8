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
#include "tests/fuzz/decoder_fuzz_util.h"

namespace {

constexpr char kTarget[] = "fuzz_json_decoder";
using weir::RecordBatch;
using weir::Schema;
using weir::TypeId;

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
  const std::vector<std::string_view> payloads = weir::fuzz::Split(input, "\x1e");
  RecordBatch batch = weir::fuzz::DecodeChecked(kTarget, *h->decoder, h->schema, payloads);
  weir::fuzz::CheckRoundTrip(kTarget, batch, *h->encoder, *h->redecoder);
  return 0;
}
