// libFuzzer target: the avro Decoder on arbitrary bytes.
//
// The input is split at "\x1e\x1e" into the payloads of one Decode call. Even
// payloads go to a decoder with one writer schema that uses every Avro type
// (records, a recursive union, arrays, maps, enum, fixed, decimal,
// timestamp-millis); odd ones to a schema-registry decoder with two ids.
// Checked: no crash or sanitizer report; every payload is one row or one
// error; columns stay aligned; and every decoded row survives encoding with
// the derived sink schema and decoding again unchanged.
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
#include "common/format/avro.h"
#include "common/format/format.h"
#include "common/spec/job_spec.h"
#include "common/types.h"
#include "tests/fuzz/decoder_fuzz_util.h"

namespace {

constexpr char kTarget[] = "fuzz_avro_decoder";
using weir::RecordBatch;
using weir::Schema;
using weir::TypeId;

constexpr char kWriter[] = R"({"type":"record","name":"All","namespace":"f","fields":[
  {"name":"b","type":"boolean"},
  {"name":"i","type":"int"},
  {"name":"l","type":["null","long"]},
  {"name":"fl","type":"float"},
  {"name":"d","type":["double","string","null"]},
  {"name":"s","type":"string"},
  {"name":"y","type":"bytes"},
  {"name":"t","type":{"type":"long","logicalType":"timestamp-millis"}},
  {"name":"dec","type":{"type":"bytes","logicalType":"decimal","precision":20,"scale":3}},
  {"name":"e","type":{"type":"enum","name":"E","symbols":["A","B","C"]}},
  {"name":"fx","type":{"type":"fixed","name":"F","size":3}},
  {"name":"arr","type":{"type":"array","items":["null","long"]}},
  {"name":"m","type":{"type":"map","values":{"type":"array","items":"null"}}},
  {"name":"node","type":["null",{"type":"record","name":"Node","fields":[
     {"name":"v","type":"long"},{"name":"next","type":["null","Node"]}]}]}]})";

constexpr char kSmall[] = R"({"type":"record","name":"S","fields":[
  {"name":"s","type":"string"},{"name":"l","type":"long"}]})";

struct Harness {
  std::shared_ptr<const Schema> schema;
  std::unique_ptr<weir::format::Decoder> plain, registry, redecoder;
  std::unique_ptr<weir::format::Encoder> encoder;

  Harness() {
    schema = std::make_shared<const Schema>(std::vector<weir::Field>{{"b", TypeId::kBoolean},
                                                                     {"n", TypeId::kBigint},
                                                                     {"l", TypeId::kBigint},
                                                                     {"d", TypeId::kDouble},
                                                                     {"s", TypeId::kString},
                                                                     {"y", TypeId::kBytes},
                                                                     {"t", TypeId::kTimestamp},
                                                                     {"dec", TypeId::kDouble},
                                                                     {"e", TypeId::kString},
                                                                     {"arr", TypeId::kString},
                                                                     {"m", TypeId::kString},
                                                                     {"deep", TypeId::kBigint},
                                                                     {"node", TypeId::kString}});
    std::vector<weir::spec::FieldSpec> fields(2);
    fields[0].name = "n";
    fields[0].aliases = {"i"};
    fields[1].name = "deep";
    fields[1].aliases = {"node.next.v"};
    weir::spec::FormatSpec avro;
    avro.type = "avro";
    avro.options["schema"] = kWriter;
    plain = std::move(weir::format::MakeDecoder(avro, *schema, fields)).value();
    weir::spec::FormatSpec reg;
    reg.type = "avro";
    reg.options["registry_schemas.1"] = kWriter;
    reg.options["registry_schemas.2"] = kSmall;
    registry = std::move(weir::format::MakeDecoder(reg, *schema, fields)).value();
    weir::spec::FormatSpec derived;
    derived.type = "avro";
    derived.options["schema"] = weir::format::DeriveAvroSchema(*schema);
    redecoder = std::move(weir::format::MakeDecoder(derived, *schema, {})).value();
    weir::spec::FormatSpec sink;
    sink.type = "avro";
    encoder = std::move(weir::format::MakeEncoder(sink, *schema)).value();
  }
};

void Check(Harness* h, const std::vector<std::string_view>& payloads,
           weir::format::Decoder* decoder) {
  RecordBatch batch = weir::fuzz::DecodeChecked(kTarget, *decoder, h->schema, payloads);
  weir::fuzz::CheckRoundTrip(kTarget, batch, *h->encoder, *h->redecoder);
}

}  // namespace

// LeakSanitizer reports libavro's generic values, which the decoders keep for
// the process's life, as leaked at exit (libavro holds them by interior
// pointers). Decoding in a loop keeps RSS flat, so these reports are noise.
extern "C" const char* __lsan_default_suppressions() {
  return "leak:libavro.so\n";
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Harness* h = new Harness();
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> even, odd;
  size_t start = 0;
  for (size_t k = 0;; ++k) {
    const size_t end = input.find("\x1e\x1e", start);
    const std::string_view p =
        input.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    (k % 2 == 0 ? even : odd).push_back(p);
    if (end == std::string_view::npos) break;
    start = end + 2;
  }
  Check(h, even, h->plain.get());
  Check(h, odd, h->registry.get());
  return 0;
}
