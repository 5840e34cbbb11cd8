// CheckpointStorage: where completed checkpoints live (a `file://` URI: a
// local disk for one machine, a shared volume in Kubernetes). The interface
// is narrow (put files, write metadata atomically, list, read back) so an
// object store can implement it later.
//
// Layout under ROOT (the URI's path) for job J:
//   ROOT/J/shared/DBID-NNNNNN.sst   SST files, shared between checkpoints
//   ROOT/J/chk-N/                   checkpoint N (taken periodically)
//     _db_manifest                  the DB manifest UploadDb returned, written
//                                   before any file is copied: the shared SSTs
//                                   the checkpoint references (for garbage
//                                   collection, which reads only these)
//     db/                           the non-SST files of the RocksDB checkpoint
//                                   (MANIFEST, CURRENT, OPTIONS...)
//     _db_manifest.P, db.P/         the same for part P (one database of
//                                   several, e.g. one per worker process)
//     _metadata                     written last: complete <=> this exists and
//                                   verifies
//   ROOT/J/savepoint-N/             a savepoint: self-contained (its SSTs are
//                                   copied into it, not shared), never deleted
//                                   automatically
// DBID is the RocksDB identity of the database that wrote the file (SST file
// numbers are unique within one database, not across databases), read from
// the IDENTITY file of the local checkpoint. IDENTITY itself is not stored:
// a database restored by DownloadDb gets a fresh identity, so the SSTs it
// writes later never take the name of a different file already in shared/.
// Parts: several databases (one per worker process) may upload into one
// checkpoint id, each under a part name of its own; part "" is the layout of
// a single database (_db_manifest, db/). A second UploadDb of the same id and
// part replaces that part's files (a retry) and leaves the other parts alone.
// Their SSTs never clash in shared/: each database has its own DBID.
//
// Incremental: UploadDb copies an SST only when shared/ does not already hold
// it; otherwise the checkpoint references the stored copy. Files are written
// to a temporary name, fsynced and renamed, so a crash leaves no torn file
// under a final name. Complete() writes _metadata the same way (temp, fsync,
// rename, fsync of the directory); only then is the checkpoint complete.
// Retention: after Complete, periodic checkpoints beyond the newest `retain`
// are deleted (their _metadata first), so are uncompleted chk-N directories
// older than every retained checkpoint (crash leftovers), and shared SSTs that
// no remaining checkpoint directory references (in-flight ones included) are
// garbage-collected. Retention is housekeeping: its failure does not fail
// Complete, and the next Complete or Abort tries again.
//
// _metadata holds a weir.v1.CheckpointMetadata message: the runtime's
// (sources' positions, sinks' states, the DB manifests) with what storage
// records (id, kind, completion time, bytes), framed with a magic number, the
// format's major version and a CRC32C (metadata_file.h), so a damaged file is
// detected and reported, not restored, and a newer weir's is refused, not
// misread. The hand-written format of weir up to baa98f9 is still read
// (metadata_legacy.h): a savepoint taken before an upgrade restores after it.
//
// Errors name the path and the system's reason. Missing files are
// kNotFound, damaged or inconsistent stored data kDataLoss. Every file read
// whole has a size limit (64 MiB for _metadata and a DB manifest): a larger
// one is kDataLoss, refused unread.
//
// Thread-safety: one instance may be used from one thread at a time; the
// runtime uploads from a background thread. Garbage collection assumes no
// other process uploads into the same job directory at the same time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace weir::checkpoint {

struct CheckpointInfo {
  int64_t id = 0;
  bool savepoint = false;
  std::string path;          // the chk-N or savepoint-N directory
  int64_t completed_ms = 0;  // wall-clock time of completion (from the metadata)
  uint64_t bytes = 0;        // metadata plus files referenced
};

// The absolute, normalized path of a storage URI ("file:///abs/path" or
// "/abs/path"); an error for another scheme or a relative path.
Result<std::string> PathOfStorageUri(std::string_view uri);

class CheckpointStorage {
 public:
  // uri: "file:///abs/path" (or a plain absolute path); job: the job's name.
  static Result<std::unique_ptr<CheckpointStorage>> Open(std::string_view uri, std::string_view job,
                                                         int retain);
  ~CheckpointStorage();

  // Copies the RocksDB checkpoint directory `local_dir` (CreateLocalCheckpoint)
  // into checkpoint `id`, as its part `part` ("" for the only database;
  // otherwise letters, digits, '-' and '_', e.g. "w3"). Returns the DB
  // manifest to put into the metadata: which stored file becomes which file
  // of the database on restore (DownloadDb takes it, whatever the part).
  Result<std::string> UploadDb(int64_t id, bool savepoint, const std::string& local_dir,
                               std::string_view part = "");

  // Makes checkpoint `id` complete with `metadata` (a serialized
  // weir.v1.CheckpointMetadata: CheckpointMetadata::Encode()), durably; then
  // applies retention. The metadata's id, savepoint flag and `completed_ms`
  // are set to these, and the bytes of the files of every part uploaded are
  // recorded. UploadDb may not have been called (a job without keyed state).
  // kAlreadyExists when `id` is already complete; kInvalidArgument when
  // `metadata` is not such a message.
  Status Complete(int64_t id, bool savepoint, std::string_view metadata, int64_t completed_ms);

  // Drops what an uncompleted checkpoint `id` wrote (a failed or timed-out
  // one), and the shared SSTs only it referenced. OK when nothing is there;
  // kFailedPrecondition (and nothing removed) when `id` is complete.
  Status Abort(int64_t id, bool savepoint);
  // Abort as housekeeping: a failure (a full or read-only disk) fails
  // nothing, but is logged with its cause and counted.
  void Discard(int64_t id, bool savepoint);
  // Housekeeping failures of this process so far (retention, garbage
  // collection, Discard), each logged with its cause; the servers export it
  // as weir_checkpoint_storage_errors_total.
  static int64_t HousekeepingErrors();

  // Completed checkpoints and savepoints of the job, oldest first.
  // kFailedPrecondition when one was written by a weir of a newer format:
  // leaving it out would make an older checkpoint (or none) the latest.
  Result<std::vector<CheckpointInfo>> List() const;
  // The newest completed one (checkpoint or savepoint), if any.
  Result<std::optional<CheckpointInfo>> Latest() const;

  // Reads and verifies `path`/_metadata (path: a chk-N or savepoint-N
  // directory, possibly of another storage root) and returns its message,
  // serialized in this weir's format whatever the file's (for
  // CheckpointMetadata::Decode): kNotFound when missing, kDataLoss when
  // damaged (bad magic, checksum or message, over 64 MiB),
  // kFailedPrecondition when written by a weir of a newer format (the error
  // names both versions and what to do).
  static Result<std::string> ReadMetadata(const std::string& path);
  // The id of the checkpoint at `path` (from its metadata).
  static Result<int64_t> ReadId(const std::string& path);

  // Recreates the database of checkpoint `path` in `into_dir` (must not
  // exist) from the DB manifest UploadDb returned: SSTs are hard-linked when
  // storage and `into_dir` are on one file system (copied otherwise); every
  // other file is always copied: RocksDB may append to a MANIFEST it opens
  // (7.8 happens to start a new one) and a link would then change the stored
  // checkpoint. A stored file that is missing or
  // has the wrong size is kDataLoss; nothing is left in `into_dir` on error.
  static Status DownloadDb(const std::string& path, std::string_view db_manifest,
                           const std::string& into_dir);

  const std::string& job_dir() const;

 private:
  struct Impl;
  explicit CheckpointStorage(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace weir::checkpoint
