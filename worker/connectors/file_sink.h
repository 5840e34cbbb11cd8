// FileSink: writes newline-delimited encoded rows into a directory.
//
// Contract (on top of connector.h's Sink):
// - `path` is a directory (created with its parents at Open()). Rows are
//   encoded one per line into a buffer that goes to the file when it grows
//   past 1 MiB.
// - at_least_once: sink subtask i appends to "part-<i>.<ext>" (ext: jsonl for
//   json, csv for csv, else the format's name). Appending, not truncating: a
//   restart must not lose rows written before. Flush()/PreCommit() write the
//   buffer and fdatasync() the file.
// - exactly_once (two-phase commit over renames): each sink instance picks a
//   random token (8 hex digits) at Open, so two instances of one subtask
//   never touch each other's files: a worker that was paused, declared lost
//   and then woke up runs its old attempt for a moment before it fences
//   itself, while the new attempt already writes the same subtask. The rows
//   of one checkpoint epoch go to a hidden in-progress file
//   ".part-<i>.<token>.<ext>.inprogress" (file sources skip names starting
//   with '.'). PreCommit(N) syncs and closes it and renames it to
//   ".part-<i>-<N>.<token>.<ext>.pending"; Commit(N) renames every pending
//   file of epochs <= N to "part-<i>-<N>.<ext>", which is when rows become
//   visible. An epoch without rows makes no file. PreCommit(N)'s state lists
//   the epochs pending at that moment (a checkpoint may complete after the
//   next one was pre-committed), with the absolute directory and the token
//   (state version 3; version 2, without tokens, still restores). Recovery
//   from checkpoint N renames the pending files listed in N's state, in the
//   directory the state names (so a restore whose job writes elsewhere still
//   finishes the old commits where they were; a final file already there
//   means a previous attempt did it: renames are idempotent), and deletes
//   every other in-progress and pending file of this subtask, which no
//   completed checkpoint covers; a fresh start (no restore) deletes them all.
//   Close, once everything is committed, deletes what an older instance
//   left after that. Directory entries are fsynced after renames.
// Thread-safety: one task thread calls everything.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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
  Result<std::string> PreCommit(int64_t checkpoint_id) override;
  Status Commit(int64_t checkpoint_id) override;
  Status Close() override;

  // The file this subtask writes now (at_least_once: its part file;
  // exactly_once: the current in-progress file). Valid after Open().
  const std::string& file_path() const { return file_path_; }

 private:
  bool exactly_once() const { return spec_.delivery == spec::Delivery::kExactlyOnce; }
  Status WriteBuffer();
  Status OpenFile(bool truncate);
  // In directory `dir` (the sink's, unless a restored state names another).
  static std::string NewToken();
  std::string PendingPath(const std::string& dir, int64_t epoch, const std::string& token) const;
  std::string FinalPath(const std::string& dir, int64_t epoch) const;
  // pending -> final, idempotent
  Status Publish(const std::string& dir, int64_t epoch, const std::string& token);
  // Deletes this subtask's pending and in-progress files but `keep`.
  void RemoveLeftovers(const std::string& keep);
  Status Recover(const SinkContext& ctx);
  Status SyncDir();

  spec::SinkSpec spec_;
  Schema schema_;
  std::unique_ptr<format::Encoder> encoder_;
  std::string ext_;
  int subtask_ = 0;
  std::string file_path_;
  int fd_ = -1;
  bool dirty_ = false;  // exactly_once: rows in the in-progress file
  std::string buffer_;
  std::string dir_;               // the absolute directory
  std::string token_;             // exactly_once: this instance's, in its file names
  std::vector<int64_t> pending_;  // exactly_once: pre-committed, not committed
};

}  // namespace weir::connectors
