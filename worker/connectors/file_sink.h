// FileSink: writes newline-delimited encoded rows into a directory.
//
// Contract (on top of connector.h's Sink):
// - `path` is a directory (created with its parents at Open()); sink subtask
//   i appends to PartFileName(i, ext), "part-<i>.<ext>", where ext is "jsonl"
//   for json, "csv" for csv and the format's name otherwise. Appending, not
//   truncating: an at-least-once restart must not lose rows written before.
// - Write() encodes each row on its own line into a buffer that goes to the
//   file when it grows past 1 MiB; Flush() writes the buffer and fdatasync()s
//   the file: after it, every row written so far is durable.
// - Not yet exactly-once. The checkpoint issue will write to an in-progress
//   file ".part-<i>-<N>.<ext>.inprogress" (hidden: file sources skip names
//   starting with '.'), close it as pending at barrier N and rename it to
//   "part-<i>-<N>.<ext>" when N completes; PartFileName takes the sequence.
// Thread-safety: one task thread calls everything.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/format/format.h"
#include "worker/connectors/connector.h"

namespace weir::connectors {

class FileSink final : public Sink {
 public:
  FileSink(spec::SinkSpec spec, Schema schema);
  ~FileSink() override;

  // "part-3.jsonl", or with a sequence "part-3-17.jsonl".
  static std::string PartFileName(int subtask, std::string_view extension,
                                  std::optional<int64_t> sequence = std::nullopt);
  // The extension for a format type: json -> jsonl, csv -> csv, else the type.
  static std::string Extension(std::string_view format_type);

  Status Open(const SinkContext& ctx) override;
  Status Write(const RecordBatch& batch) override;
  Status Flush() override;
  Status Close() override;

  // The file this subtask writes. Valid after Open().
  const std::string& file_path() const { return file_path_; }

 private:
  Status WriteBuffer();

  spec::SinkSpec spec_;
  Schema schema_;
  std::unique_ptr<format::Encoder> encoder_;
  std::string file_path_;
  int fd_ = -1;
  std::string buffer_;
};

}  // namespace weir::connectors
