// The _metadata format of weir up to commit baa98f9 (format major 1): a
// hand-written binary encoding, read so that checkpoints and savepoints taken
// by such a weir still restore (an upgrade: savepoint, new binaries,
// resubmit). Nothing writes it any more.
//
// The file (integers little-endian):
//   magic "WEIRMETA" | major u32 (1) | flags u32 (bit 0: savepoint) | id i64 |
//   completed_ms i64 | files_bytes u64 | payload length u64 | payload |
//   CRC32C u32 of everything before it
// The payload was the runtime's CheckpointMetadata::Encode() (common/bytes.h
// varints; bytes are a varint length and the bytes):
//   u8 version (1 or 2) | zigzag id | u8 savepoint | bytes job |
//   varint max_parallelism | zigzag completed_ms | varint n |
//   n x (bytes vertex | varint subtask | u8 has | [bytes source_position] |
//        u8 has | [bytes sink_state]) | then
//   version 1: bytes manifest (empty: no keyed state; one database holding
//              every key group)
//   version 2: varint n | n x (bytes name | bytes manifest | varint ranges |
//                              ranges x (varint start | varint end))
// Both versions were written by releases; tests/fixtures/savepoint-baa98f9
// is a savepoint of the last (payload version 2).
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "weir/v1/checkpoint.pb.h"

namespace weir::checkpoint {

// `body`: a format-1 file's bytes after the magic and the major version and
// before the CRC32C, which DecodeMetadataFile has verified. Returns the same
// metadata as a message (format_version left for the caller to set);
// kDataLoss naming `path` when the bytes do not decode.
Result<v1::CheckpointMetadata> DecodeLegacyMetadata(std::string_view body, const std::string& path);

}  // namespace weir::checkpoint
