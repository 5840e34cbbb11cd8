// libFuzzer target: a checkpoint's _metadata file
// (common/checkpoint/metadata_file.h), which a restore reads from wherever
// `--from-savepoint` points: this weir's format, format 1
// (metadata_legacy.h), or a newer one.
//
// An input whose first byte is even is framed here (magic, the major
// version byte[1] % 4, the rest, a correct CRC32C), so that mutations reach
// the message and format-1 decoders behind the checksum; an odd one (as the
// 'W' of a real file is: the seeds) is decoded as it is.
//
// Checked: no crash, overread or sanitizer report; every error is kDataLoss
// (damage) or kFailedPrecondition (a newer format), nothing else; a file
// that decodes re-encodes to one that decodes to the same message (but for
// the minor version, which encoding sets to this weir's); and the
// runtime's Decode of that message either fails cleanly or gives metadata
// whose positions can be looked up (SourcePositions indexes by subtask).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/checkpoint/metadata.h"
#include "common/checkpoint/metadata_file.h"

namespace {

void Check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz_checkpoint_metadata: %s\n", what);
  std::abort();
}

uint32_t Crc32c(std::string_view data) {
  uint32_t c = 0xffffffffu;
  for (char ch : data) {
    c ^= static_cast<uint8_t>(ch);
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
  }
  return ~c;
}

void PutU32(uint32_t v, std::string* out) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// The file to decode: the input, or (first byte even) its rest framed.
std::string FileOf(std::string_view in) {
  if (in.size() < 2 || (in[0] & 1) == 1) return std::string(in);
  std::string out = "WEIRMETA";
  PutU32(static_cast<uint8_t>(in[1]) % 4, &out);
  out.append(in.substr(2));
  PutU32(Crc32c(out), &out);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace weir::checkpoint;
  const std::string file = FileOf(std::string_view(reinterpret_cast<const char*>(data), size));
  auto m = DecodeMetadataFile(file, "_metadata");
  if (!m.ok()) {
    Check(m.status().code() == weir::StatusCode::kDataLoss ||
              m.status().code() == weir::StatusCode::kFailedPrecondition,
          "an error other than damage or a newer format");
    return 0;
  }
  // Encoding stamps this weir's format version; nothing else may change.
  weir::v1::CheckpointMetadata stamped = *m;
  stamped.mutable_format_version()->set_minor(kMetadataMinor);
  auto back = DecodeMetadataFile(EncodeMetadataFile(*m), "_metadata");
  Check(back.ok(), "a decoded file does not decode once re-encoded");
  Check(back->SerializeAsString() == stamped.SerializeAsString(),
        "re-encoding changed the message");

  auto meta = CheckpointMetadata::Decode(m->SerializeAsString());
  if (!meta.ok()) {
    Check(meta.status().code() == weir::StatusCode::kDataLoss, "Decode: not kDataLoss");
    return 0;
  }
  for (const TaskSnapshot& t : meta->tasks) meta->SourcePositions(t.vertex);
  return 0;
}
