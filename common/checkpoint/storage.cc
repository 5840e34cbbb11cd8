// CheckpointStorage on a file system (file:// URIs); see checkpoint_storage.h.
//
// Files of a checkpoint directory (chk-N or savepoint-N):
//   _db_manifest  the DB manifest UploadDb returned, written before any file
//                 is copied: it tells garbage collection which shared SSTs
//                 the checkpoint references, even while it is being uploaded
//   db/           the database's non-SST files (all of its files for a savepoint)
//   _db_manifest.P, db.P/
//                 the same for part P, when several databases upload into one
//                 checkpoint (parts are named without dots, so no part's file
//                 is ever taken for another's, nor for a temporary file)
//   _metadata     written last by Complete
//
// DB manifest (text, one entry a line):
//   weir-db-manifest 1
//   dbid <DBID>
//   <database file name> <size> <stored path, relative to the checkpoint directory>
// e.g. "000012.sst 4096 ../shared/DBID-000012.sst" or "MANIFEST-000005 210 db/MANIFEST-000005"
// ("db.P/MANIFEST-000005" for part P).
// The database's IDENTITY file is not part of it: a restored database gets a
// fresh identity, so the SST files it writes later never take the name of a
// different file that the original database put into shared/.
//
// _metadata: a weir.v1.CheckpointMetadata message framed with a magic number,
// its major version and a CRC32C (metadata_file.h).
#include "common/checkpoint/storage.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <set>
#include <system_error>
#include <utility>

#include "common/checkpoint/metadata_file.h"
#include "common/log.h"

namespace weir::checkpoint {

namespace {

std::atomic<int64_t> g_housekeeping_errors{0};

void Housekeeping(const Status& st, const std::string& what) {
  if (st.ok()) return;
  g_housekeeping_errors.fetch_add(1, std::memory_order_relaxed);
  log::Warn("checkpoint storage: " + what + " failed: " + st.message());
}

}  // namespace
namespace {

namespace fs = std::filesystem;

constexpr char kMetadataFile[] = "_metadata";
constexpr char kManifestFile[] = "_db_manifest";
constexpr char kManifestHeader[] = "weir-db-manifest 1";
constexpr int64_t kStaleTempSeconds = 3600;  // temp files older than this are garbage
// What a file read whole may have (ReadWholeFile; _metadata's is
// kMaxMetadataFileBytes). A DB manifest takes a line per database file; an
// IDENTITY is a UUID.
constexpr uint64_t kMaxManifestBytes = uint64_t{64} << 20;
constexpr uint64_t kMaxIdentityBytes = 4096;

// ---- errors ----------------------------------------------------------------

Status ErrnoStatus(std::string_view what, const std::string& path, int err) {
  std::string msg = std::string(what) + " " + path + ": " + std::strerror(err);
  switch (err) {
    case ENOENT:
      return Status::NotFound(std::move(msg));
    case ENOSPC:
    case EDQUOT:
      return Status::ResourceExhausted(std::move(msg));
    case EACCES:
    case EPERM:
    case EROFS:
      return Status(StatusCode::kPermissionDenied, std::move(msg));
    case EEXIST:
      return Status::AlreadyExists(std::move(msg));
    default:
      return Status::Internal(std::move(msg));
  }
}

Status EcStatus(std::string_view what, const fs::path& path, const std::error_code& ec) {
  return ErrnoStatus(what, path.string(), ec.value());
}

// ---- small file-system helpers (POSIX, no exceptions) ----------------------

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  // Closes now, returning close's errno (0 when fine).
  int Close() {
    int r = fd_ >= 0 ? ::close(fd_) : 0;
    fd_ = -1;
    return r == 0 ? 0 : errno;
  }

 private:
  int fd_;
};

Status WriteAll(int fd, const char* p, size_t n, const std::string& path) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("writing", path, errno);
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return Status::OK();
}

Status SyncDir(const fs::path& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoStatus("opening directory", dir.string(), errno);
  if (::fsync(fd.get()) != 0) return ErrnoStatus("syncing directory", dir.string(), errno);
  return Status::OK();
}

std::string TempName(const fs::path& final_path) {
  static std::atomic<uint64_t> counter{0};
  return final_path.string() + ".tmp." + std::to_string(::getpid()) + "." +
         std::to_string(counter.fetch_add(1));
}

bool IsTempName(std::string_view name) {
  return name.find(".tmp.") != std::string_view::npos;
}

// Writes `source` (a file descriptor to copy from, or the bytes `data` when
// src_fd < 0) to `final_path` through a temporary name: fsync (when durable),
// rename. A crash leaves no partial file under the final name.
Status WriteThroughTemp(const fs::path& final_path, int src_fd, const std::string& src_path,
                        std::string_view data, bool durable, uint64_t* bytes) {
  std::string tmp = TempName(final_path);
  Fd out(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (out.get() < 0) return ErrnoStatus("creating", tmp, errno);
  auto fail = [&](Status st) {
    out.Close();
    ::unlink(tmp.c_str());
    return st;
  };
  uint64_t total = 0;
  if (src_fd < 0) {
    Status st = WriteAll(out.get(), data.data(), data.size(), tmp);
    if (!st.ok()) return fail(st);
    total = data.size();
  } else {
    constexpr size_t kBuf = 1 << 20;
    std::unique_ptr<char[]> buf(new char[kBuf]);
    while (true) {
      ssize_t r = ::read(src_fd, buf.get(), kBuf);
      if (r < 0) {
        if (errno == EINTR) continue;
        return fail(ErrnoStatus("reading", src_path, errno));
      }
      if (r == 0) break;
      Status st = WriteAll(out.get(), buf.get(), static_cast<size_t>(r), tmp);
      if (!st.ok()) return fail(st);
      total += static_cast<uint64_t>(r);
    }
  }
  if (durable && ::fsync(out.get()) != 0) return fail(ErrnoStatus("syncing", tmp, errno));
  if (int err = out.Close(); err != 0) return fail(ErrnoStatus("closing", tmp, err));
  if (::rename(tmp.c_str(), final_path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return ErrnoStatus("renaming " + tmp + " to", final_path.string(), err);
  }
  if (bytes) *bytes = total;
  return Status::OK();
}

Status CopyFile(const fs::path& src, const fs::path& dst, bool durable, uint64_t* bytes) {
  Fd in(::open(src.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.get() < 0) return ErrnoStatus("opening", src.string(), errno);
  return WriteThroughTemp(dst, in.get(), src.string(), {}, durable, bytes);
}

Status WriteFileAtomic(const fs::path& path, std::string_view data) {
  return WriteThroughTemp(path, -1, {}, data, /*durable=*/true, nullptr);
}

// "64 MiB", "4 KiB" or "100 bytes".
std::string ByteSize(uint64_t n) {
  if (n >= (1u << 20) && n % (1u << 20) == 0) return std::to_string(n >> 20) + " MiB";
  if (n >= 1024 && n % 1024 == 0) return std::to_string(n >> 10) + " KiB";
  return std::to_string(n) + " bytes";
}

// Reads a whole file of at most `max_bytes`. No file that weir writes comes
// near its limit, so a larger one is damage or not weir's: kDataLoss, and it
// is refused before it is read (or, growing, while it is), never held in
// memory whatever its size.
Result<std::string> ReadWholeFile(const fs::path& path, uint64_t max_bytes) {
  Fd in(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.get() < 0) return ErrnoStatus("opening", path.string(), errno);
  auto too_large = [&](uint64_t bytes) {
    return Status::DataLoss(path.string() + " has " + std::to_string(bytes) +
                            " bytes or more, over the " + ByteSize(max_bytes) +
                            " such a file may have: refused unread");
  };
  struct stat st;
  if (::fstat(in.get(), &st) != 0) return ErrnoStatus("stat of", path.string(), errno);
  if (static_cast<uint64_t>(st.st_size) > max_bytes)
    return too_large(static_cast<uint64_t>(st.st_size));
  std::string out;
  char buf[64 * 1024];
  while (true) {
    ssize_t r = ::read(in.get(), buf, sizeof buf);
    if (r < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("reading", path.string(), errno);
    }
    if (r == 0) break;
    out.append(buf, static_cast<size_t>(r));
    if (out.size() > max_bytes) return too_large(out.size());
  }
  return out;
}

// Size of a regular file; NotFound when missing.
Result<uint64_t> FileSize(const fs::path& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ErrnoStatus("stat of", path.string(), errno);
  if (!S_ISREG(st.st_mode)) return Status::FailedPrecondition(path.string() + " is not a file");
  return static_cast<uint64_t>(st.st_size);
}

bool Exists(const fs::path& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

Status RemoveTree(const fs::path& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) return EcStatus("removing", path, ec);
  return Status::OK();
}

// Names of the entries of `dir` (not . and ..).
Result<std::vector<std::string>> ListDir(const fs::path& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) return EcStatus("listing", dir, ec);
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) break;
    names.push_back(it->path().filename().string());
  }
  if (ec) return EcStatus("listing", dir, ec);
  std::sort(names.begin(), names.end());
  return names;
}

// ---- names -----------------------------------------------------------------

std::string CheckpointDirName(int64_t id, bool savepoint) {
  return (savepoint ? "savepoint-" : "chk-") + std::to_string(id);
}

// "chk-12" -> (12, false); "savepoint-3" -> (3, true); anything else: nullopt.
std::optional<std::pair<int64_t, bool>> ParseCheckpointDirName(std::string_view name) {
  bool savepoint;
  if (name.starts_with("chk-")) {
    savepoint = false;
    name.remove_prefix(4);
  } else if (name.starts_with("savepoint-")) {
    savepoint = true;
    name.remove_prefix(10);
  } else {
    return std::nullopt;
  }
  if (name.empty() || name.size() > 18) return std::nullopt;
  for (char c : name)
    if (c < '0' || c > '9') return std::nullopt;
  int64_t id = 0;
  auto [p, ec] = std::from_chars(name.data(), name.data() + name.size(), id);
  if (ec != std::errc() || p != name.data() + name.size()) return std::nullopt;
  return std::make_pair(id, savepoint);
}

// A file name we accept in a manifest or as a DB identity: no separators, no
// dot-only names, nothing a shell or a path join could misread.
bool IsSafeName(std::string_view n) {
  if (n.empty() || n.size() > 200 || n == "." || n == "..") return false;
  for (char c : n) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

bool IsSst(std::string_view name) {
  return name.ends_with(".sst");
}

// A part name (UploadDb): a safe name without dots, so that "_db_manifest.P"
// and "db.P" split at their only dot and never look like a temporary file
// (TempName adds ".tmp.").
bool IsPartName(std::string_view part) {
  return IsSafeName(part) && part.find('.') == std::string_view::npos;
}

// The manifest file and the directory of the non-SST files of part `part`.
std::string ManifestFileOf(std::string_view part) {
  return part.empty() ? std::string(kManifestFile) : kManifestFile + ("." + std::string(part));
}
std::string DbDirOf(std::string_view part) {
  return part.empty() ? std::string("db") : "db." + std::string(part);
}

// True for "_db_manifest" and "_db_manifest.P" (P a part name); not for
// their temporary files.
bool IsManifestFileName(std::string_view name) {
  if (!name.starts_with(kManifestFile)) return false;
  name.remove_prefix(sizeof kManifestFile - 1);
  return name.empty() || (name.starts_with(".") && IsPartName(name.substr(1)));
}

// ---- DB manifest -------------------------------------------------------------

struct ManifestEntry {
  std::string db_name;  // the file's name in the database directory
  uint64_t size = 0;
  std::string stored;  // relative to the checkpoint directory
  bool shared() const { return stored.starts_with("../shared/"); }
  std::string shared_name() const { return stored.substr(10); }
};

struct DbManifest {
  std::string dbid;
  std::vector<ManifestEntry> files;
};

std::string EncodeManifest(const DbManifest& m) {
  std::string out = std::string(kManifestHeader) + "\ndbid " + m.dbid + "\n";
  for (const ManifestEntry& e : m.files)
    out += e.db_name + " " + std::to_string(e.size) + " " + e.stored + "\n";
  return out;
}

Result<DbManifest> ParseManifest(std::string_view text, std::string_view where) {
  auto bad = [&](std::string_view why) {
    return Status::DataLoss("malformed DB manifest (" + std::string(where) +
                            "): " + std::string(why));
  };
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    if (nl == std::string_view::npos) return bad("no newline at the end");
    lines.push_back(text.substr(0, nl));
    text.remove_prefix(nl + 1);
  }
  if (lines.size() < 2 || lines[0] != kManifestHeader) return bad("unknown header");
  if (!lines[1].starts_with("dbid ")) return bad("no dbid line");
  DbManifest m;
  m.dbid = std::string(lines[1].substr(5));
  if (!IsSafeName(m.dbid)) return bad("bad dbid");
  std::set<std::string, std::less<>> seen;
  for (size_t i = 2; i < lines.size(); ++i) {
    std::string_view l = lines[i];
    size_t a = l.find(' ');
    size_t b = a == std::string_view::npos ? a : l.find(' ', a + 1);
    if (b == std::string_view::npos) return bad("line " + std::to_string(i + 1));
    ManifestEntry e;
    e.db_name = std::string(l.substr(0, a));
    std::string_view size = l.substr(a + 1, b - a - 1);
    e.stored = std::string(l.substr(b + 1));
    auto [p, ec] = std::from_chars(size.data(), size.data() + size.size(), e.size);
    if (ec != std::errc() || p != size.data() + size.size() || size.empty())
      return bad("size on line " + std::to_string(i + 1));
    std::string_view leaf;
    const size_t slash = e.stored.find('/');
    if (e.stored.starts_with("db/")) {
      leaf = std::string_view(e.stored).substr(3);
    } else if (e.stored.starts_with("db.") && slash != std::string::npos &&
               IsPartName(std::string_view(e.stored).substr(3, slash - 3))) {
      leaf = std::string_view(e.stored).substr(slash + 1);  // "db.P/NAME": part P's file
    } else if (e.stored.starts_with("../shared/")) {
      leaf = std::string_view(e.stored).substr(10);
    } else {
      return bad("stored path on line " + std::to_string(i + 1));
    }
    if (!IsSafeName(e.db_name) || !IsSafeName(leaf) || !seen.insert(e.db_name).second)
      return bad("file name on line " + std::to_string(i + 1));
    m.files.push_back(std::move(e));
  }
  return m;
}

// The DB manifests in checkpoint directory `chk`, one per part uploaded so
// far (none for a job without keyed state, or a directory gone meanwhile).
// An unreadable or malformed one is an error: its references are unknown.
Result<std::vector<DbManifest>> ReadManifests(const fs::path& chk) {
  std::vector<DbManifest> out;
  auto names = ListDir(chk);
  if (!names.ok()) {
    if (names.status().code() == StatusCode::kNotFound) return out;
    return names.status();
  }
  for (const std::string& n : *names) {
    if (!IsManifestFileName(n)) continue;
    const fs::path file = chk / n;
    auto text = ReadWholeFile(file, kMaxManifestBytes);
    if (!text.ok()) {
      if (text.status().code() == StatusCode::kNotFound) continue;
      return text.status();
    }
    WEIR_ASSIGN_OR_RETURN(DbManifest m, ParseManifest(*text, file.string()));
    out.push_back(std::move(m));
  }
  return out;
}

// ---- _metadata ---------------------------------------------------------------

// Reads and verifies dir/_metadata (metadata_file.h); *file_bytes is set to
// the file's size when given.
Result<v1::CheckpointMetadata> ReadMetadataFile(const fs::path& dir,
                                                uint64_t* file_bytes = nullptr) {
  const fs::path file = dir / kMetadataFile;
  WEIR_ASSIGN_OR_RETURN(std::string bytes, ReadWholeFile(file, kMaxMetadataFileBytes));
  if (file_bytes) *file_bytes = bytes.size();
  return DecodeMetadataFile(bytes, file.string());
}

// A newer weir's metadata (DecodeMetadataFile's kFailedPrecondition): this
// weir cannot tell what it says, so it neither lists nor deletes it.
bool IsNewer(const Status& st) {
  return st.code() == StatusCode::kFailedPrecondition;
}

// "file:///abs/path" or "/abs/path" -> "/abs/path".
Result<std::string> PathOfUri(std::string_view uri) {
  std::string_view path = uri;
  if (uri.starts_with("file://")) {
    path = uri.substr(7);
    if (!path.starts_with("/"))
      return Status::InvalidArgument("checkpoint storage URI " + std::string(uri) +
                                     ": expected file:///absolute/path (no host)");
  } else if (uri.find("://") != std::string_view::npos) {
    return Status::Unimplemented("checkpoint storage URI " + std::string(uri) +
                                 ": only file:// is supported");
  }
  if (!path.starts_with("/"))
    return Status::InvalidArgument("checkpoint storage path " + std::string(uri) +
                                   " must be absolute");
  std::string p = fs::path(path).lexically_normal().string();
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

}  // namespace

Result<std::string> PathOfStorageUri(std::string_view uri) {
  return PathOfUri(uri);
}

struct CheckpointStorage::Impl {
  fs::path job_dir;
  fs::path shared_dir;
  std::string job_dir_string;
  int retain = 1;

  fs::path DirOf(int64_t id, bool savepoint) const {
    return job_dir / CheckpointDirName(id, savepoint);
  }

  // The checkpoint directories present (complete or not), by name.
  Result<std::vector<std::pair<std::string, std::pair<int64_t, bool>>>> CheckpointDirs() const {
    WEIR_ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(job_dir));
    std::vector<std::pair<std::string, std::pair<int64_t, bool>>> out;
    for (const std::string& n : names) {
      auto parsed = ParseCheckpointDirName(n);
      if (parsed) out.emplace_back(n, *parsed);
    }
    return out;
  }

  // Deletes periodic checkpoints beyond the newest `retain` completed ones,
  // uncompleted ones older than every retained one, then unreferenced SSTs.
  Status ApplyRetention() {
    WEIR_ASSIGN_OR_RETURN(auto dirs, CheckpointDirs());
    std::vector<int64_t> complete;
    std::vector<int64_t> incomplete;
    for (const auto& [name, key] : dirs) {
      if (key.second) continue;  // savepoints are never deleted automatically
      auto meta = ReadMetadataFile(job_dir / name);
      if (meta.ok() && meta->id() == key.first && !meta->savepoint())
        complete.push_back(key.first);
      else if (meta.ok() || !IsNewer(meta.status()))
        incomplete.push_back(key.first);
    }
    std::sort(complete.rbegin(), complete.rend());
    if (static_cast<int>(complete.size()) > retain) {
      for (size_t i = static_cast<size_t>(retain); i < complete.size(); ++i) {
        fs::path dir = DirOf(complete[i], false);
        // Unmark it as complete first: a crash in the middle leaves an
        // uncompleted directory, never a complete one with files missing.
        if (::unlink((dir / kMetadataFile).c_str()) != 0 && errno != ENOENT)
          return ErrnoStatus("removing", (dir / kMetadataFile).string(), errno);
        WEIR_RETURN_IF_ERROR(RemoveTree(dir));
      }
      complete.resize(static_cast<size_t>(retain));
    }
    if (!complete.empty()) {
      int64_t oldest_kept = complete.back();
      for (int64_t id : incomplete)
        if (id < oldest_kept) WEIR_RETURN_IF_ERROR(RemoveTree(DirOf(id, false)));
    }
    return CollectGarbage();
  }

  // Deletes the shared SSTs that no checkpoint directory still present
  // references in any of its parts' manifests (in-flight ones included: a
  // part's _db_manifest is written before its files).
  Status CollectGarbage() {
    WEIR_ASSIGN_OR_RETURN(auto dirs, CheckpointDirs());
    std::set<std::string, std::less<>> referenced;
    for (const auto& [name, key] : dirs) {
      // Unreadable references: deleting anything could break that checkpoint.
      WEIR_ASSIGN_OR_RETURN(std::vector<DbManifest> parts, ReadManifests(job_dir / name));
      for (const DbManifest& m : parts)
        for (const ManifestEntry& e : m.files)
          if (e.shared()) referenced.insert(e.shared_name());
    }
    WEIR_ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(shared_dir));
    const time_t now = ::time(nullptr);
    for (const std::string& n : names) {
      fs::path p = shared_dir / n;
      if (IsTempName(n)) {
        struct stat st;
        if (::lstat(p.c_str(), &st) != 0 || now - st.st_mtime < kStaleTempSeconds) continue;
      } else if (referenced.count(n) || !IsSst(n)) {
        continue;
      }
      if (::unlink(p.c_str()) != 0 && errno != ENOENT)
        return ErrnoStatus("removing", p.string(), errno);
    }
    return Status::OK();
  }
};

CheckpointStorage::CheckpointStorage(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CheckpointStorage::~CheckpointStorage() = default;

Result<std::unique_ptr<CheckpointStorage>> CheckpointStorage::Open(std::string_view uri,
                                                                   std::string_view job,
                                                                   int retain) {
  WEIR_ASSIGN_OR_RETURN(std::string root, PathOfUri(uri));
  if (!IsSafeName(job))
    return Status::InvalidArgument("job name '" + std::string(job) +
                                   "' cannot name a checkpoint directory");
  if (retain < 1)
    return Status::InvalidArgument("checkpoints to retain must be at least 1, got " +
                                   std::to_string(retain));
  auto impl = std::make_unique<Impl>();
  impl->job_dir = fs::path(root) / std::string(job);
  impl->shared_dir = impl->job_dir / "shared";
  impl->job_dir_string = impl->job_dir.string();
  impl->retain = retain;
  std::error_code ec;
  fs::create_directories(impl->shared_dir, ec);
  if (ec) return EcStatus("creating", impl->shared_dir, ec);
  return std::unique_ptr<CheckpointStorage>(new CheckpointStorage(std::move(impl)));
}

Result<std::string> CheckpointStorage::UploadDb(int64_t id, bool savepoint,
                                                const std::string& local_dir,
                                                std::string_view part) {
  if (id < 0) return Status::InvalidArgument("negative checkpoint id " + std::to_string(id));
  if (!part.empty() && !IsPartName(part))
    return Status::InvalidArgument("part name '" + std::string(part) +
                                   "': expected letters, digits, '-' and '_'");
  const fs::path chk = impl_->DirOf(id, savepoint);
  if (Exists(chk / kMetadataFile))
    return Status::AlreadyExists("checkpoint " + chk.string() + " is already complete");

  // The database's identity names its SSTs in shared/.
  const fs::path identity = fs::path(local_dir) / "IDENTITY";
  WEIR_ASSIGN_OR_RETURN(std::string dbid, ReadWholeFile(identity, kMaxIdentityBytes));
  while (!dbid.empty() && (dbid.back() == '\n' || dbid.back() == '\r' || dbid.back() == ' '))
    dbid.pop_back();
  if (!IsSafeName(dbid))
    return Status::FailedPrecondition("unusable database identity in " + identity.string());

  const std::string db_dir_name = DbDirOf(part);
  DbManifest manifest;
  manifest.dbid = dbid;
  WEIR_ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(local_dir));
  for (const std::string& n : names) {
    if (n == "IDENTITY") continue;  // a restored database gets a fresh identity
    if (!IsSafeName(n))
      return Status::FailedPrecondition("unexpected file name '" + n + "' in " + local_dir);
    WEIR_ASSIGN_OR_RETURN(uint64_t size, FileSize(fs::path(local_dir) / n));
    ManifestEntry e;
    e.db_name = n;
    e.size = size;
    e.stored = (IsSst(n) && !savepoint) ? "../shared/" + dbid + "-" + n : db_dir_name + "/" + n;
    manifest.files.push_back(std::move(e));
  }
  const std::string text = EncodeManifest(manifest);

  // A retry of the same checkpoint and part starts that part's files afresh;
  // the other parts' are not touched.
  const fs::path db_dir = chk / db_dir_name;
  WEIR_RETURN_IF_ERROR(RemoveTree(db_dir));
  std::error_code ec;
  fs::create_directories(db_dir, ec);
  if (ec) return EcStatus("creating", db_dir, ec);
  // References first, so that garbage collection keeps what we reuse.
  WEIR_RETURN_IF_ERROR(WriteFileAtomic(chk / ManifestFileOf(part), text));

  bool wrote_shared = false;
  for (const ManifestEntry& e : manifest.files) {
    const fs::path src = fs::path(local_dir) / e.db_name;
    if (e.shared()) {
      const fs::path dst = impl_->shared_dir / e.shared_name();
      auto have = FileSize(dst);
      if (have.ok()) {
        if (*have != e.size)
          return Status::DataLoss("shared file " + dst.string() + " has " + std::to_string(*have) +
                                  " bytes, the database's " + std::to_string(e.size) +
                                  ": two files with one name");
        continue;  // already stored: referenced, not copied again
      }
      if (have.status().code() != StatusCode::kNotFound) return have.status();
      WEIR_RETURN_IF_ERROR(CopyFile(src, dst, /*durable=*/true, nullptr));
      wrote_shared = true;
    } else {
      WEIR_RETURN_IF_ERROR(CopyFile(src, chk / e.stored, /*durable=*/true, nullptr));
    }
  }
  if (wrote_shared) WEIR_RETURN_IF_ERROR(SyncDir(impl_->shared_dir));
  WEIR_RETURN_IF_ERROR(SyncDir(db_dir));
  WEIR_RETURN_IF_ERROR(SyncDir(chk));
  WEIR_RETURN_IF_ERROR(SyncDir(impl_->job_dir));
  return text;
}

Status CheckpointStorage::Complete(int64_t id, bool savepoint, std::string_view metadata,
                                   int64_t completed_ms) {
  if (id < 0) return Status::InvalidArgument("negative checkpoint id " + std::to_string(id));
  const fs::path chk = impl_->DirOf(id, savepoint);
  if (Exists(chk / kMetadataFile))
    return Status::AlreadyExists("checkpoint " + chk.string() + " is already complete");
  auto parsed = ParseMetadataMessage(metadata, "completing " + chk.string());
  if (!parsed.ok()) return Status::InvalidArgument(parsed.status().message());
  v1::CheckpointMetadata meta = std::move(parsed).value();
  std::error_code ec;
  fs::create_directories(chk, ec);
  if (ec) return EcStatus("creating", chk, ec);

  // Where it is stored decides what it is: these are storage's to record.
  meta.set_id(id);
  meta.set_savepoint(savepoint);
  meta.set_completed_ms(completed_ms);
  uint64_t files_bytes = 0;
  WEIR_ASSIGN_OR_RETURN(std::vector<DbManifest> parts, ReadManifests(chk));
  for (const DbManifest& m : parts)
    for (const ManifestEntry& e : m.files) files_bytes += e.size;
  meta.set_files_bytes(files_bytes);

  WEIR_RETURN_IF_ERROR(WriteFileAtomic(chk / kMetadataFile, EncodeMetadataFile(std::move(meta))));
  WEIR_RETURN_IF_ERROR(SyncDir(chk));
  WEIR_RETURN_IF_ERROR(SyncDir(impl_->job_dir));
  // The checkpoint is complete now. Retention is housekeeping: when it fails
  // (a file system error) the next Complete or Abort tries again.
  Housekeeping(impl_->ApplyRetention(),
               "removing checkpoints past checkpoint.retain in " + impl_->job_dir.string());
  return Status::OK();
}

Status CheckpointStorage::Abort(int64_t id, bool savepoint) {
  const fs::path chk = impl_->DirOf(id, savepoint);
  if (!Exists(chk)) return Status::OK();
  if (auto meta = ReadMetadataFile(chk); meta.ok() || IsNewer(meta.status()))
    return Status::FailedPrecondition("checkpoint " + chk.string() +
                                      " is complete; not aborting it");
  WEIR_RETURN_IF_ERROR(RemoveTree(chk));
  // What only this checkpoint uploaded is garbage now (best effort, as above).
  Housekeeping(impl_->CollectGarbage(),
               "removing files no checkpoint references in " + impl_->job_dir.string());
  return Status::OK();
}

void CheckpointStorage::Discard(int64_t id, bool savepoint) {
  Housekeeping(Abort(id, savepoint), std::string("removing the incomplete ") +
                                         (savepoint ? "savepoint " : "checkpoint ") +
                                         std::to_string(id) + " of " + impl_->job_dir.string());
}

int64_t CheckpointStorage::HousekeepingErrors() {
  return g_housekeeping_errors.load(std::memory_order_relaxed);
}

Result<std::vector<CheckpointInfo>> CheckpointStorage::List() const {
  std::vector<CheckpointInfo> out;
  if (!Exists(impl_->job_dir)) return out;
  WEIR_ASSIGN_OR_RETURN(auto dirs, impl_->CheckpointDirs());
  for (const auto& [name, key] : dirs) {
    const fs::path dir = impl_->job_dir / name;
    uint64_t meta_bytes = 0;
    auto meta = ReadMetadataFile(dir, &meta_bytes);
    if (!meta.ok()) {
      // A newer weir's checkpoint: without it the list would lie (the
      // latest would be an older checkpoint, or none), so there is none.
      if (IsNewer(meta.status())) return meta.status();
      // Missing (in progress, aborted) or damaged metadata: not a completed
      // checkpoint. ReadMetadata reports the damage to whoever asks for it.
      continue;
    }
    if (meta->id() != key.first || meta->savepoint() != key.second) continue;
    CheckpointInfo info;
    info.id = meta->id();
    info.savepoint = meta->savepoint();
    info.path = dir.string();
    info.completed_ms = meta->completed_ms();
    info.bytes = meta_bytes + meta->files_bytes();
    out.push_back(std::move(info));
  }
  std::sort(out.begin(), out.end(), [](const CheckpointInfo& a, const CheckpointInfo& b) {
    if (a.id != b.id) return a.id < b.id;
    return a.completed_ms < b.completed_ms;
  });
  return out;
}

Result<std::optional<CheckpointInfo>> CheckpointStorage::Latest() const {
  WEIR_ASSIGN_OR_RETURN(std::vector<CheckpointInfo> all, List());
  if (all.empty()) return std::optional<CheckpointInfo>();
  return std::optional<CheckpointInfo>(std::move(all.back()));
}

Result<std::string> CheckpointStorage::ReadMetadata(const std::string& path) {
  WEIR_ASSIGN_OR_RETURN(v1::CheckpointMetadata meta, ReadMetadataFile(path));
  return meta.SerializeAsString();
}

Result<int64_t> CheckpointStorage::ReadId(const std::string& path) {
  WEIR_ASSIGN_OR_RETURN(v1::CheckpointMetadata meta, ReadMetadataFile(path));
  return meta.id();
}

Status CheckpointStorage::DownloadDb(const std::string& path, std::string_view db_manifest,
                                     const std::string& into_dir) {
  WEIR_ASSIGN_OR_RETURN(DbManifest m, ParseManifest(db_manifest, path));
  if (Exists(into_dir)) return Status::AlreadyExists("restore directory " + into_dir + " exists");
  const fs::path into(into_dir);
  std::error_code ec;
  if (into.has_parent_path()) {
    fs::create_directories(into.parent_path(), ec);
    if (ec) return EcStatus("creating", into.parent_path(), ec);
  }
  if (::mkdir(into.c_str(), 0755) != 0) return ErrnoStatus("creating", into_dir, errno);

  auto restore = [&]() -> Status {
    for (const ManifestEntry& e : m.files) {
      const fs::path src = fs::path(path) / e.stored;
      const fs::path dst = into / e.db_name;
      auto size = FileSize(src);
      if (!size.ok())
        return Status::DataLoss("checkpoint file missing: " + size.status().message());
      if (*size != e.size)
        return Status::DataLoss("checkpoint file " + src.string() + " has " +
                                std::to_string(*size) + " bytes, expected " +
                                std::to_string(e.size));
      // SSTs are immutable (RocksDB only ever deletes them): a hard link is
      // safe. Everything else (MANIFEST, CURRENT, OPTIONS...) is copied:
      // RocksDB may append to a MANIFEST, which must not reach the stored copy.
      if (IsSst(e.db_name)) {
        if (::link(src.c_str(), dst.c_str()) == 0) continue;
        int err = errno;
        if (err != EXDEV && err != EPERM && err != EMLINK && err != ENOTSUP)
          return ErrnoStatus("linking " + src.string() + " to", dst.string(), err);
      }
      WEIR_RETURN_IF_ERROR(CopyFile(src, dst, /*durable=*/false, nullptr));
    }
    return Status::OK();
  };
  Status st = restore();
  if (!st.ok()) {
    fs::remove_all(into, ec);
    return st;
  }
  return Status::OK();
}

const std::string& CheckpointStorage::job_dir() const {
  return impl_->job_dir_string;
}

}  // namespace weir::checkpoint
