// libFuzzer target: the protobuf Decoder (DynamicMessage) on arbitrary bytes.
//
// The input is split at "\x1e\x1e" into the payloads of one Decode call and
// decoded as a message with every scalar kind, an enum, a Timestamp, a
// nested message, a repeated field and a map (the .proto is written to a
// temporary directory once). Checked: no crash or sanitizer report, every
// payload is one row or one error, columns aligned, and every decoded row
// of the scalar columns survives encode -> decode unchanged.
#include <cstddef>
#include <cstdint>
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

constexpr char kTarget[] = "fuzz_protobuf_decoder";

using weir::RecordBatch;
using weir::Schema;
using weir::TypeId;

constexpr char kProto[] = R"(syntax = "proto3";
package fz;
import "google/protobuf/timestamp.proto";
enum Kind { NONE = 0; ONE = 1; TWO = 2; }
message Inner { string name = 1; int64 id = 2; }
message Msg {
  int64 i64 = 1;
  int32 i32 = 2;
  uint64 u64 = 3;
  sint64 s64 = 4;
  fixed32 f32 = 5;
  double d = 6;
  float f = 7;
  bool b = 8;
  string s = 9;
  bytes y = 10;
  Kind kind = 11;
  google.protobuf.Timestamp at = 12;
  Inner inner = 13;
  repeated int64 nums = 14;
  map<string, int64> counts = 15;
  optional string maybe = 16;
}
)";

struct Harness {
  std::shared_ptr<const Schema> schema, scalars;
  std::unique_ptr<weir::format::Decoder> decoder, scalar_decoder;
  std::unique_ptr<weir::format::Encoder> encoder;

  Harness() {
    const weir::spec::FormatSpec pb = weir::fuzz::ProtobufFormat(kProto, "fz.Msg");
    schema = std::make_shared<const Schema>(std::vector<weir::Field>{{"i64", TypeId::kBigint},
                                                                     {"i32", TypeId::kBigint},
                                                                     {"u64", TypeId::kBigint},
                                                                     {"s64", TypeId::kBigint},
                                                                     {"f32", TypeId::kBigint},
                                                                     {"d", TypeId::kDouble},
                                                                     {"f", TypeId::kDouble},
                                                                     {"b", TypeId::kBoolean},
                                                                     {"s", TypeId::kString},
                                                                     {"y", TypeId::kBytes},
                                                                     {"kind", TypeId::kString},
                                                                     {"at", TypeId::kTimestamp},
                                                                     {"name", TypeId::kString},
                                                                     {"nums", TypeId::kString},
                                                                     {"counts", TypeId::kString},
                                                                     {"maybe", TypeId::kString}});
    std::vector<weir::spec::FieldSpec> fields(1);
    fields[0].name = "name";
    fields[0].aliases = {"inner.name"};
    decoder = std::move(weir::format::MakeDecoder(pb, *schema, fields)).value();
    // The round trip covers the columns a sink can write (not repeated/map).
    scalars = std::make_shared<const Schema>(std::vector<weir::Field>{{"i64", TypeId::kBigint},
                                                                      {"s64", TypeId::kBigint},
                                                                      {"d", TypeId::kDouble},
                                                                      {"b", TypeId::kBoolean},
                                                                      {"s", TypeId::kString},
                                                                      {"y", TypeId::kBytes},
                                                                      {"at", TypeId::kTimestamp}});
    scalar_decoder = std::move(weir::format::MakeDecoder(pb, *scalars, {})).value();
    encoder = std::move(weir::format::MakeEncoder(pb, *scalars)).value();
    weir::fuzz::RemoveProtobufFormat(pb);  // everything is loaded by now
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Harness* h = new Harness();
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::vector<std::string_view> payloads = weir::fuzz::Split(input, "\x1e\x1e");
  (void)weir::fuzz::DecodeChecked(kTarget, *h->decoder, h->schema, payloads);
  RecordBatch batch = weir::fuzz::DecodeChecked(kTarget, *h->scalar_decoder, h->scalars, payloads);
  weir::fuzz::CheckRoundTrip(kTarget, batch, *h->encoder, *h->scalar_decoder);
  return 0;
}
