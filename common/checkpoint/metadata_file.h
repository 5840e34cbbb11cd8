// The _metadata file of a checkpoint or savepoint (see storage.h): a
// weir.v1.CheckpointMetadata message (proto/weir/v1/checkpoint.proto) framed
// so that a damaged file is detected and reported, not restored, and a file
// of a newer weir is refused, not misread.
//
// Layout (integers little-endian):
//   magic "WEIRMETA" | major u32 | message | CRC32C u32 of everything before it
// The major version is both here and in the message (format_version): here a
// reader refuses a newer major before it parses anything (it cannot know a
// newer major's message); in the message it travels where no file does (a
// worker's share). The minor version is in the message only: a reader reads
// every minor version of its own major. Every major version keeps this
// framing (magic, major, CRC32C trailer), so that an older reader tells a
// newer file from a damaged one.
//
// Major 1 (weir up to commit baa98f9) had the same magic, major field and
// CRC32C around a hand-written encoding; it is still read
// (metadata_legacy.h), so that a savepoint of such a weir restores.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "weir/v1/checkpoint.pb.h"

namespace weir::checkpoint {

// The format this weir writes.
inline constexpr uint32_t kMetadataMajor = 2;
inline constexpr uint32_t kMetadataMinor = 0;
// A larger _metadata file is refused unread: metadata is a few bytes per
// subtask, so no checkpoint comes near this.
inline constexpr uint64_t kMaxMetadataFileBytes = uint64_t{64} << 20;

// Parses a serialized message (of a _metadata file, or a worker's share)
// and checks its version: kFailedPrecondition for a major version newer than
// kMetadataMajor, kDataLoss for bytes that are not such a message. `what`
// begins every error (a path, "a share").
Result<v1::CheckpointMetadata> ParseMetadataMessage(std::string_view bytes,
                                                    const std::string& what);

// The bytes of a _metadata file holding `m`, stamped with this weir's format.
std::string EncodeMetadataFile(v1::CheckpointMetadata m);

// Verifies and parses the bytes of the _metadata file `path` (named in every
// error) of either major version. kDataLoss when damaged (bad magic,
// checksum or message), kFailedPrecondition when written by a weir of a newer
// major version. A major-1 file comes back as a message of this format.
Result<v1::CheckpointMetadata> DecodeMetadataFile(std::string_view bytes, const std::string& path);

}  // namespace weir::checkpoint
