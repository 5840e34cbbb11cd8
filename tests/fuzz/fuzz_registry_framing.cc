// libFuzzer target: the schema-registry wire format (common/format/registry.h).
//
// The input's first byte picks plain (avro, json) or protobuf framing; the
// rest is split at 0x1e into payloads. Each header that parses must
// re-encode to bytes that parse to the same id and message indexes; and
// the framed json decoder (framing: registry, no registry to call) must
// give each payload one row or one error, as every decoder does.
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

struct Harness {
  std::shared_ptr<const weir::Schema> schema;
  std::unique_ptr<weir::format::Decoder> decoder;

  Harness() {
    schema = std::make_shared<const weir::Schema>(
        std::vector<weir::Field>{{"n", weir::TypeId::kBigint}, {"s", weir::TypeId::kString}});
    weir::spec::FormatSpec json;
    json.type = "json";
    json.options["framing"] = "registry";
    decoder = std::move(weir::format::MakeDecoder(json, *schema, {})).value();
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
  weir::fuzz::DecodeChecked(kTarget, *h->decoder, h->schema, payloads);
  return 0;
}
