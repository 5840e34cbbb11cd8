#include "worker/connectors/file_sink.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>

#include "common/bytes.h"

namespace weir::connectors {
namespace {

constexpr size_t kBufferLimit = 1 << 20;

}  // namespace

FileSink::FileSink(spec::SinkSpec spec, Schema schema)
    : spec_(std::move(spec)), schema_(std::move(schema)) {}

FileSink::~FileSink() {
  if (fd_ >= 0) ::close(fd_);
}

std::string FileSink::PartFileName(int subtask, std::string_view extension,
                                   std::optional<int64_t> sequence) {
  std::string name = "part-" + std::to_string(subtask);
  if (sequence) name += "-" + std::to_string(*sequence);
  name += '.';
  name += extension;
  return name;
}

std::string FileSink::Extension(std::string_view format_type) {
  if (format_type == "json") return "jsonl";
  return std::string(format_type);
}

Status FileSink::Open(const SinkContext& ctx) {
  if (fd_ >= 0) return Status::FailedPrecondition("file sink opened twice");
  const std::string what = "file sink '" + spec_.name + "'";
  auto encoder = format::MakeEncoder(spec_.format, schema_);
  if (!encoder.ok()) {
    return Status(encoder.status().code(), what + ": " + encoder.status().message());
  }
  encoder_ = std::move(encoder).value();
  subtask_ = ctx.subtask;
  ext_ = Extension(spec_.format.type);
  std::error_code ec;
  std::filesystem::create_directories(spec_.path, ec);
  if (ec) {
    return Status::Unavailable(what + ": cannot create directory '" + spec_.path +
                               "': " + ec.message());
  }
  dir_ = std::filesystem::absolute(spec_.path, ec).lexically_normal().string();
  if (!exactly_once()) {
    file_path_ = (std::filesystem::path(spec_.path) / PartFileName(ctx.subtask, ext_)).string();
    return OpenFile(/*truncate=*/false);
  }
  WEIR_RETURN_IF_ERROR(Recover(ctx));
  token_ = NewToken();
  file_path_ = (std::filesystem::path(spec_.path) /
                (".part-" + std::to_string(subtask_) + "." + token_ + "." + ext_ + ".inprogress"))
                   .string();
  return OpenFile(/*truncate=*/true);
}

Status FileSink::OpenFile(bool truncate) {
  int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (truncate ? O_TRUNC : O_APPEND);
  fd_ = ::open(file_path_.c_str(), flags, 0644);
  if (fd_ < 0) {
    return Status::Unavailable("file sink '" + spec_.name + "': cannot open '" + file_path_ +
                               "': " + std::strerror(errno));
  }
  return Status::OK();
}

std::string FileSink::NewToken() {
  std::random_device rd;
  char buf[9];
  std::snprintf(buf, sizeof(buf), "%08x", static_cast<unsigned>(rd()));
  return buf;
}

std::string FileSink::PendingPath(const std::string& dir, int64_t epoch,
                                  const std::string& token) const {
  // Checkpoints written before tokens existed name ".part-<i>-<N>.<ext>.pending".
  const std::string name = token.empty()
                               ? "." + PartFileName(subtask_, ext_, epoch) + ".pending"
                               : ".part-" + std::to_string(subtask_) + "-" + std::to_string(epoch) +
                                     "." + token + "." + ext_ + ".pending";
  return (std::filesystem::path(dir) / name).string();
}

std::string FileSink::FinalPath(const std::string& dir, int64_t epoch) const {
  return (std::filesystem::path(dir) / PartFileName(subtask_, ext_, epoch)).string();
}

Status FileSink::SyncDir() {
  int dfd = ::open(spec_.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return Status::Unavailable("file sink '" + spec_.name + "': cannot open directory '" +
                               spec_.path + "': " + std::strerror(errno));
  int rc = ::fsync(dfd);
  int err = errno;
  ::close(dfd);
  if (rc != 0)
    return Status::Unavailable("file sink '" + spec_.name + "': syncing directory '" + spec_.path +
                               "': " + std::strerror(err));
  return Status::OK();
}

Status FileSink::Publish(const std::string& dir, int64_t epoch, const std::string& token) {
  const std::string from = PendingPath(dir, epoch, token), to = FinalPath(dir, epoch);
  if (::rename(from.c_str(), to.c_str()) == 0) return Status::OK();
  if (errno == ENOENT && ::access(to.c_str(), F_OK) == 0) return Status::OK();  // done before
  return Status::DataLoss("file sink '" + spec_.name + "': cannot publish epoch " +
                          std::to_string(epoch) + ": renaming '" + from + "' to '" + to +
                          "': " + std::strerror(errno));
}

Status FileSink::Recover(const SinkContext& ctx) {
  struct Promise {
    std::string dir;
    int64_t epoch;
    std::string token;
  };
  std::vector<Promise> promised;
  if (ctx.restore) {
    ByteReader r(ctx.restore->state);
    uint8_t version = r.GetU8();
    uint64_t n = r.GetVarint();
    for (uint64_t i = 0; r.ok() && i < n; ++i) {
      Promise p;
      p.epoch = r.GetSigned();
      p.dir = std::string(r.GetBytes());
      if (version >= 3) p.token = std::string(r.GetBytes());
      promised.push_back(std::move(p));
    }
    if (!r.ok() || (version != 2 && version != 3))
      return Status::DataLoss("file sink '" + spec_.name +
                              "': the checkpoint's sink state is malformed");
  }
  for (const auto& p : promised) WEIR_RETURN_IF_ERROR(Publish(p.dir, p.epoch, p.token));
  // Whatever else this subtask left behind belongs to no completed checkpoint.
  RemoveLeftovers("");
  return SyncDir();
}

void FileSink::RemoveLeftovers(const std::string& keep) {
  // ".part-<i>-<N>[.<token>].<ext>.pending" and ".part-<i>[.<token>].<ext>.inprogress".
  const std::string pending_prefix = ".part-" + std::to_string(subtask_) + "-";
  const std::string inprogress_prefix = ".part-" + std::to_string(subtask_) + ".";
  auto ends_with = [](const std::string& s, const std::string& suffix) {
    return s.size() > suffix.size() &&
           s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(spec_.path, ec)) {
    const std::string name = entry.path().filename().string();
    if (name == keep) continue;
    const bool stale =
        (name.starts_with(pending_prefix) && ends_with(name, "." + ext_ + ".pending")) ||
        (name.starts_with(inprogress_prefix) && ends_with(name, "." + ext_ + ".inprogress"));
    if (stale) std::filesystem::remove(entry.path(), ec);
  }
}

Result<std::string> FileSink::PreCommit(int64_t checkpoint_id) {
  if (!exactly_once()) {
    WEIR_RETURN_IF_ERROR(Flush());
    return std::string();
  }
  WEIR_RETURN_IF_ERROR(WriteBuffer());
  if (dirty_) {
    if (::fdatasync(fd_) != 0)
      return Status::Unavailable("file sink '" + spec_.name + "': syncing '" + file_path_ +
                                 "': " + std::strerror(errno));
    ::close(fd_);
    fd_ = -1;
    const std::string pending = PendingPath(dir_, checkpoint_id, token_);
    if (::rename(file_path_.c_str(), pending.c_str()) != 0)
      return Status::Unavailable("file sink '" + spec_.name + "': renaming '" + file_path_ +
                                 "' to '" + pending + "': " + std::strerror(errno));
    WEIR_RETURN_IF_ERROR(SyncDir());
    pending_.push_back(checkpoint_id);
    dirty_ = false;
    WEIR_RETURN_IF_ERROR(OpenFile(/*truncate=*/true));
  }
  std::string state;
  ByteWriter w(&state);
  w.PutU8(3);
  w.PutVarint(pending_.size());
  for (int64_t e : pending_) {
    w.PutSigned(e);
    w.PutBytes(dir_);
    w.PutBytes(token_);
  }
  return state;
}

Status FileSink::Commit(int64_t checkpoint_id) {
  if (!exactly_once()) return Status::OK();
  size_t done = 0;
  while (done < pending_.size() && pending_[done] <= checkpoint_id) {
    WEIR_RETURN_IF_ERROR(Publish(dir_, pending_[done], token_));
    ++done;
  }
  if (done == 0) return Status::OK();
  pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(done));
  return SyncDir();
}

Status FileSink::Write(const RecordBatch& batch) {
  if (fd_ < 0) return Status::FailedPrecondition("file sink written before Open");
  const size_t before = buffer_.size();
  for (size_t row = 0; row < batch.num_rows(); ++row) {
    encoder_->Encode(batch, row, &buffer_);
    buffer_ += '\n';
  }
  stats_.records += static_cast<int64_t>(batch.num_rows());
  if (batch.num_rows() > 0) dirty_ = true;
  stats_.bytes += static_cast<int64_t>(buffer_.size() - before);
  if (buffer_.size() >= kBufferLimit) return WriteBuffer();
  return Status::OK();
}

Status FileSink::WriteBuffer() {
  size_t done = 0;
  while (done < buffer_.size()) {
    ssize_t n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      // Keep what was not written: a retried Flush() continues from there.
      buffer_.erase(0, done);
      return Status::Unavailable("file sink '" + spec_.name + "': writing '" + file_path_ +
                                 "': " + std::strerror(errno));
    }
    done += static_cast<size_t>(n);
  }
  buffer_.clear();
  return Status::OK();
}

Status FileSink::Flush() {
  if (fd_ < 0) return Status::OK();
  WEIR_RETURN_IF_ERROR(WriteBuffer());
  if (::fdatasync(fd_) != 0) {
    return Status::Unavailable("file sink '" + spec_.name + "': syncing '" + file_path_ +
                               "': " + std::strerror(errno));
  }
  return Status::OK();
}

Status FileSink::Close() {
  if (exactly_once()) {
    // Rows after the last pre-commit belong to no checkpoint: dropped, as a
    // restart would produce them again.
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    if (!dirty_) ::unlink(file_path_.c_str());
    // What an older attempt of this subtask left behind after this one
    // recovered (a paused worker that woke up before it fenced itself).
    if (pending_.empty()) RemoveLeftovers(std::filesystem::path(file_path_).filename().string());
    return Status::OK();
  }
  Status st = Flush();
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  return st;
}

}  // namespace weir::connectors
