#include "worker/connectors/file_sink.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

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
  std::error_code ec;
  std::filesystem::create_directories(spec_.path, ec);
  if (ec) {
    return Status::Unavailable(what + ": cannot create directory '" + spec_.path +
                               "': " + ec.message());
  }
  file_path_ =
      (std::filesystem::path(spec_.path) / PartFileName(ctx.subtask, Extension(spec_.format.type)))
          .string();
  fd_ = ::open(file_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    return Status::Unavailable(what + ": cannot open '" + file_path_ +
                               "': " + std::strerror(errno));
  }
  return Status::OK();
}

Status FileSink::Write(const RecordBatch& batch) {
  if (fd_ < 0) return Status::FailedPrecondition("file sink written before Open");
  const size_t before = buffer_.size();
  for (size_t row = 0; row < batch.num_rows(); ++row) {
    encoder_->Encode(batch, row, &buffer_);
    buffer_ += '\n';
  }
  stats_.records += static_cast<int64_t>(batch.num_rows());
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
  Status st = Flush();
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  return st;
}

}  // namespace weir::connectors
