// libFuzzer target: the schema-registry wire format (common/format/registry.h).
//
// The input's first byte picks plain (avro, json) or protobuf framing; the
// rest is split at 0x1e into payloads. Each header that parses must
// re-encode to bytes that parse to the same id and message indexes; and
// the framed decoder of that kind (framing: registry, no registry to call:
// json for plain framing, protobuf with a nested message for protobuf
// framing) must give each payload one row or one error, as every decoder
// does.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/batch.h"
#include "common/format/format.h"
#include "common/format/registry.h"
#include "common/spec/job_spec.h"
#include "common/types.h"
#include "tests/fuzz/decoder_fuzz_util.h"

namespace {

constexpr char kTarget[] = "fuzz_registry_framing";

// Two messages, so message indexes [0] and [1] both name one.
constexpr char kProto[] = R"(syntax = "proto3";
package fz;
message Other { string x = 1; }
message Row { int64 n = 1; string s = 2; }
)";

struct Harness {
  std::shared_ptr<const weir::Schema> schema;
  std::unique_ptr<weir::format::Decoder> json, protobuf;

  Harness() {
    schema = std::make_shared<const weir::Schema>(
        std::vector<weir::Field>{{"n", weir::TypeId::kBigint}, {"s", weir::TypeId::kString}});
    weir::spec::FormatSpec json_spec;
    json_spec.type = "json";
    json_spec.options["framing"] = "registry";
    json = std::move(weir::format::MakeDecoder(json_spec, *schema, {})).value();
    weir::spec::FormatSpec pb = weir::fuzz::ProtobufFormat(kProto, "fz.Row");
    pb.options["framing"] = "registry";
    auto made = weir::format::MakeDecoder(pb, *schema, {});
    weir::fuzz::RemoveProtobufFormat(pb);
    if (!made.ok()) weir::fuzz::Fail(kTarget, made.status().message().c_str());
    protobuf = std::move(made).value();
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Harness* h = new Harness();
  if (size == 0) return 0;
  const bool protobuf = (data[0] & 1) != 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::vector<std::string_view> payloads = weir::fuzz::Split(input, "\x1e");
  for (std::string_view p : payloads) {
    weir::format::WireHeader header;
    if (!weir::format::ParseWireHeader(p, protobuf, &header).empty()) continue;
    if (header.size > p.size()) weir::fuzz::Fail(kTarget, "header longer than the payload");
    std::string again;
    weir::format::AppendWireHeader(header.id, protobuf, header.message_indexes, &again);
    weir::format::WireHeader reparsed;
    if (!weir::format::ParseWireHeader(again, protobuf, &reparsed).empty() ||
        reparsed.id != header.id || reparsed.message_indexes != header.message_indexes ||
        reparsed.size != again.size())
      weir::fuzz::Fail(kTarget, "a header does not survive encode -> parse");
  }
  weir::fuzz::DecodeChecked(kTarget, protobuf ? *h->protobuf : *h->json, h->schema, payloads);
  return 0;
}
