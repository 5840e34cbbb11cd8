// FileSource: reads newline-delimited records from a file or a directory.
//
// Contract (on top of connector.h's Source):
// - `path` is a file or a directory; a directory's regular files are read in
//   name order (names starting with '.' are skipped: hidden and in-progress
//   files). File k of that order belongs to subtask k % P; a subtask reads
//   its files one after the other.
// - Each line is one payload for the format ('\n' or "\r\n" endings); empty
//   lines are skipped. With format csv and option header: true, a file's
//   first line is skipped when it lists the schema's field names.
// - Bounded: Poll returns kEndOfInput after the last line of the last file.
// - Each file is one watermark partition; a finished file stops holding the
//   watermark back.
// - Malformed lines: "PATH:LINE: reason" (1-based line), per on_error.
// - A path that does not exist fails Open() with kNotFound; an unreadable
//   file fails Poll() with kUnavailable.
// - Positions (checkpoints): per file of this subtask its path, the bytes and
//   lines consumed and whether it is finished. Poll never reads a line it
//   does not return (or skip), so a restored file is opened and sought to its
//   byte offset without re-reading. RestorePositions() needs the positions of
//   the same parallelism (else Open fails with kFailedPrecondition); files
//   are matched by path across every subtask's position, so a file that
//   appeared since starts at its beginning. A file that is shorter than its
//   position, or unfinished in the position and gone, fails with
//   kFailedPrecondition. Encoding: u8 version (1), varint n, then n x (bytes
//   path, varint byte offset, varint lines, u8 finished).
// Thread-safety: one task thread calls everything.
#pragma once

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "worker/connectors/connector.h"

namespace weir::connectors {

class SourceIngest;

class FileSource final : public Source {
 public:
  explicit FileSource(spec::SourceSpec spec);
  ~FileSource() override;

  Status Open(const SourceContext& ctx) override;
  Result<PollState> Poll(RecordBatch* batch, int max_rows, int timeout_ms) override;
  WatermarkStatus Watermark() override;
  Result<std::string> SnapshotPosition() override;
  Status RestorePositions(const std::vector<std::string>& positions) override;
  void Close() override;

  // The files this subtask reads, in order. Valid after Open().
  std::vector<std::string> files() const;

 private:
  struct FileState {
    std::string path;
    std::FILE* file = nullptr;
    int64_t offset = 0;  // bytes read so far
    int64_t line = 0;    // lines read so far
    bool done = false;
  };
  // A file's entry in a restored position.
  struct FilePosition {
    std::string path;
    int64_t offset = 0;
    int64_t line = 0;
    bool done = false;
    size_t subtask = 0;  // whose position it was in
  };
  bool IsHeader(std::string_view line) const;
  Status ApplyRestoredPositions();
  Status OpenFile(FileState* f);

  spec::SourceSpec spec_;
  SourceContext ctx_;
  bool opened_ = false;
  bool skip_header_ = false;
  // Set by RestorePositions: the old parallelism and every file's position.
  std::optional<size_t> restored_parallelism_;
  std::vector<FilePosition> restored_;
  std::vector<FileState> files_;
  size_t current_ = 0;
  std::unique_ptr<SourceIngest> ingest_;
  std::optional<PartitionWatermarks> watermarks_;
  // Reused per Poll.
  std::string data_;
  std::vector<size_t> ends_;
  std::vector<std::string_view> payloads_;
  std::vector<int32_t> partition_of_;
  std::vector<int64_t> line_of_;
};

}  // namespace weir::connectors
