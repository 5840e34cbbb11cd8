#include "common/checkpoint/metadata_file.h"

#include <array>
#include <cstring>

#include "common/checkpoint/metadata_legacy.h"

namespace weir::checkpoint {

namespace {

constexpr char kMagic[8] = {'W', 'E', 'I', 'R', 'M', 'E', 'T', 'A'};
constexpr size_t kPrefixBytes = sizeof kMagic + 4;  // magic, major
constexpr size_t kCrcBytes = 4;

// ---- CRC32C (Castagnoli, reflected polynomial 0x82F63B78), one table --------

constexpr std::array<uint32_t, 256> MakeCrcTable() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    t[i] = c;
  }
  return t;
}
constexpr std::array<uint32_t, 256> kCrcTable = MakeCrcTable();

uint32_t Crc32c(std::string_view data) {
  uint32_t c = 0xffffffffu;
  for (char ch : data) c = kCrcTable[(c ^ static_cast<uint8_t>(ch)) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}
static_assert(kCrcTable[1] == 0xF26B8303u, "CRC32C table");

void PutU32(uint32_t v, std::string* out) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t{static_cast<uint8_t>(p[i])} << (8 * i);
  return v;
}

std::string ThisFormat() {
  return std::to_string(kMetadataMajor) + "." + std::to_string(kMetadataMinor);
}

std::string Prefix(const std::string& what) {
  return what.empty() ? what : what + ": ";
}

// Metadata of a newer major version: this weir cannot know what changed, so
// it restores nothing rather than restore it wrongly, and says what will.
Status Newer(const std::string& what, uint32_t major, const std::string& version) {
  return Status::FailedPrecondition(
      Prefix(what) + "checkpoint metadata format " + version + " is newer than this weir's (" +
      ThisFormat() + "): restore it with a weir that reads format " + std::to_string(major) +
      ", or restore the job with this weir from a savepoint of format " +
      std::to_string(kMetadataMajor) + " or older");
}

}  // namespace

Result<v1::CheckpointMetadata> ParseMetadataMessage(std::string_view bytes,
                                                    const std::string& what) {
  if (bytes.size() > kMaxMetadataFileBytes)
    return Status::DataLoss(Prefix(what) + "checkpoint metadata of " +
                            std::to_string(bytes.size()) + " bytes, over the limit of " +
                            std::to_string(kMaxMetadataFileBytes >> 20) + " MiB");
  v1::CheckpointMetadata m;
  if (!m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return Status::DataLoss(Prefix(what) + "checkpoint metadata is malformed");
  const v1::CheckpointMetadata::FormatVersion& v = m.format_version();
  if (v.major() > kMetadataMajor)
    return Newer(what, v.major(), std::to_string(v.major()) + "." + std::to_string(v.minor()));
  // 0 is no version at all, and major 1 was never a message.
  if (v.major() != kMetadataMajor)
    return Status::DataLoss(Prefix(what) + "checkpoint metadata message of format " +
                            std::to_string(v.major()) + "." + std::to_string(v.minor()) +
                            ": no weir writes that");
  return m;
}

std::string EncodeMetadataFile(v1::CheckpointMetadata m) {
  m.mutable_format_version()->set_major(kMetadataMajor);
  m.mutable_format_version()->set_minor(kMetadataMinor);
  std::string out(kMagic, sizeof kMagic);
  PutU32(kMetadataMajor, &out);
  m.AppendToString(&out);
  PutU32(Crc32c(out), &out);
  return out;
}

Result<v1::CheckpointMetadata> DecodeMetadataFile(std::string_view bytes, const std::string& path) {
  auto bad = [&](std::string_view why) {
    return Status::DataLoss("corrupt checkpoint metadata " + path + ": " + std::string(why));
  };
  if (bytes.size() < kPrefixBytes + kCrcBytes) return bad("truncated");
  if (std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) return bad("bad magic number");
  const uint32_t major = GetU32(bytes.data() + sizeof kMagic);
  const std::string_view covered = bytes.substr(0, bytes.size() - kCrcBytes);
  const bool crc_ok = Crc32c(covered) == GetU32(bytes.data() + covered.size());
  if (major > kMetadataMajor) {
    // Refused unparsed: this weir cannot know a newer major's message. Every
    // major keeps this framing, so a checksum that does not hold is damage
    // (perhaps of the major field itself): the error says both.
    if (crc_ok) return Newer(path, major, std::to_string(major) + ".x");
    return bad("checksum mismatch, and major version " + std::to_string(major) +
               ", newer than this weir's " + std::to_string(kMetadataMajor) +
               ": damaged, or written by a newer weir");
  }
  if (!crc_ok) return bad("checksum mismatch");
  const std::string_view body = covered.substr(kPrefixBytes);
  if (major == 1) {
    WEIR_ASSIGN_OR_RETURN(v1::CheckpointMetadata m, DecodeLegacyMetadata(body, path));
    m.mutable_format_version()->set_major(kMetadataMajor);
    m.mutable_format_version()->set_minor(kMetadataMinor);
    return m;
  }
  if (major != kMetadataMajor) return bad("major version " + std::to_string(major));
  return ParseMetadataMessage(body, path);
}

}  // namespace weir::checkpoint
