#include "worker/connectors/file_source.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <set>
#include <string>

#include <sys/stat.h>

#include "common/bytes.h"
#include "worker/connectors/connectors_internal.h"

namespace weir::connectors {
namespace {

constexpr uint8_t kPositionVersion = 1;

bool IsTrue(const std::string& v) {
  return v == "true" || v == "yes" || v == "1";
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  return s;
}

// Reads one line (through its '\n', or to the end of the file) and appends
// at most `keep` bytes of it to *out, so a huge line costs no memory. Returns
// the bytes consumed: 0 at the end of the file, -1 on a read error.
int64_t ReadLine(std::FILE* f, size_t keep, std::string* out) {
  int64_t consumed = 0;
  size_t kept = 0;
  for (;;) {
    const int c = getc_unlocked(f);
    if (c == EOF) return std::ferror(f) ? -1 : consumed;
    ++consumed;
    if (c == '\n') return consumed;
    if (kept < keep) {
      out->push_back(static_cast<char>(c));
      ++kept;
    }
  }
}

}  // namespace

FileSource::FileSource(spec::SourceSpec spec) : spec_(std::move(spec)) {}

FileSource::~FileSource() {
  Close();
}

Status FileSource::Open(const SourceContext& ctx) {
  if (opened_) return Status::FailedPrecondition("file source opened twice");
  ctx_ = ctx;
  const std::string what = "file source '" + spec_.name + "'";
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::file_status st = fs::status(spec_.path, ec);
  if (ec || !fs::exists(st)) {
    return Status::NotFound(what + ": path '" + spec_.path + "' does not exist");
  }
  std::vector<std::string> all;
  if (fs::is_directory(st)) {
    std::vector<std::string> names;
    for (fs::directory_iterator it(spec_.path, ec), end; !ec && it != end; it.increment(ec)) {
      std::string name = it->path().filename().string();
      if (name.empty() || name[0] == '.') continue;
      std::error_code ec2;
      if (!it->is_regular_file(ec2)) continue;
      names.push_back(std::move(name));
    }
    if (ec) {
      return Status::Unavailable(what + ": cannot list directory '" + spec_.path +
                                 "': " + ec.message());
    }
    std::sort(names.begin(), names.end());
    for (const std::string& n : names) all.push_back((fs::path(spec_.path) / n).string());
  } else {
    all.push_back(spec_.path);
  }
  const int parallelism = ctx.parallelism > 0 ? ctx.parallelism : 1;
  for (size_t k = static_cast<size_t>(ctx.subtask); k < all.size();
       k += static_cast<size_t>(parallelism)) {
    files_.push_back(FileState{all[k]});
  }

  if (spec_.format.type == "csv") {
    auto it = spec_.format.options.find("header");
    skip_header_ = it != spec_.format.options.end() && IsTrue(it->second);
  }
  WEIR_ASSIGN_OR_RETURN(ingest_, SourceIngest::Make(spec_, ctx, &stats_));
  const spec::EventTimeSpec et = spec_.event_time.value_or(spec::EventTimeSpec{});
  watermarks_.emplace(et.max_out_of_orderness_ms, et.idle_timeout_ms, ctx.clock);
  watermarks_->Resize(static_cast<int>(files_.size()));
  if (restored_parallelism_) WEIR_RETURN_IF_ERROR(ApplyRestoredPositions());
  opened_ = true;
  return Status::OK();
}

Status FileSource::ApplyRestoredPositions() {
  const std::string what = "file source '" + spec_.name + "'";
  if (*restored_parallelism_ == 0) {
    return Status::FailedPrecondition(what + ": the checkpoint holds no position for it");
  }
  // Positions are per file, so they survive a change of parallelism (a
  // rescale): this subtask takes the positions of the files it now reads,
  // whichever subtask read them before.
  std::map<std::string_view, const FilePosition*> by_path;
  for (const FilePosition& p : restored_) by_path.emplace(p.path, &p);
  for (size_t k = 0; k < files_.size(); ++k) {
    FileState& f = files_[k];
    auto it = by_path.find(f.path);
    if (it == by_path.end()) continue;  // new since the checkpoint: from its start
    f.offset = it->second->offset;
    f.line = it->second->line;
    f.done = it->second->done;
    if (f.done) watermarks_->End(static_cast<int>(k));
  }
  // An unfinished file of the checkpoint must still be there (every subtask
  // sees every position; subtask 0 checks).
  for (const FilePosition& p : restored_) {
    if (ctx_.subtask != 0 || p.done) continue;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(p.path, ec)) {
      return Status::FailedPrecondition(what + ": '" + p.path + "' was read up to line " +
                                        std::to_string(p.line) +
                                        " when the checkpoint was taken and is gone");
    }
  }
  while (current_ < files_.size() && files_[current_].done) ++current_;
  return Status::OK();
}

Status FileSource::OpenFile(FileState* f) {
  const std::string what = "file source '" + spec_.name + "'";
  f->file = std::fopen(f->path.c_str(), "rb");
  if (f->file == nullptr) {
    return Status::Unavailable(what + ": cannot open '" + f->path + "': " + std::strerror(errno));
  }
  if (f->offset == 0) return Status::OK();
  // Resuming from a position: seek past what was read before.
  struct stat st;
  if (::fstat(::fileno(f->file), &st) != 0) {
    return Status::Unavailable(what + ": cannot stat '" + f->path + "': " + std::strerror(errno));
  }
  if (static_cast<int64_t>(st.st_size) < f->offset) {
    return Status::FailedPrecondition(
        what + ": '" + f->path + "' has " + std::to_string(st.st_size) + " bytes, fewer than the " +
        std::to_string(f->offset) + " the checkpoint had read: the file changed since");
  }
  if (::fseeko(f->file, static_cast<off_t>(f->offset), SEEK_SET) != 0) {
    return Status::Unavailable(what + ": cannot seek in '" + f->path +
                               "': " + std::strerror(errno));
  }
  return Status::OK();
}

Result<std::string> FileSource::SnapshotPosition() {
  WEIR_RETURN_IF_ERROR(
      CheckSnapshotReady("file source '" + spec_.name + "'", opened_, ingest_.get()));
  std::string out;
  ByteWriter w(&out);
  w.PutU8(kPositionVersion);
  w.PutVarint(files_.size());
  for (const FileState& f : files_) {
    w.PutBytes(f.path);
    w.PutVarint(static_cast<uint64_t>(f.offset));
    w.PutVarint(static_cast<uint64_t>(f.line));
    w.PutU8(f.done ? 1 : 0);
  }
  return out;
}

Status FileSource::RestorePositions(const std::vector<std::string>& positions) {
  const std::string what = "file source '" + spec_.name + "'";
  if (opened_) return Status::FailedPrecondition(what + ": positions restored after Open");
  std::vector<FilePosition> restored;
  std::set<std::string_view> seen;
  for (size_t sub = 0; sub < positions.size(); ++sub) {
    const std::string where = what + ": position of subtask " + std::to_string(sub);
    ByteReader r(positions[sub]);
    WEIR_RETURN_IF_ERROR(CheckPositionVersion(&r, kPositionVersion, where));
    const uint64_t n = r.GetVarint();
    if (!r.ok() || n > positions[sub].size()) return Status::DataLoss(where + " is malformed");
    for (uint64_t k = 0; k < n; ++k) {
      FilePosition p;
      p.path = std::string(r.GetBytes());
      const uint64_t offset = r.GetVarint();
      const uint64_t line = r.GetVarint();
      const uint8_t done = r.GetU8();
      if (!r.ok() || offset > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
          line > offset || done > 1) {
        return Status::DataLoss(where + " is malformed");
      }
      p.offset = static_cast<int64_t>(offset);
      p.line = static_cast<int64_t>(line);
      p.done = done == 1;
      p.subtask = sub;
      restored.push_back(std::move(p));
    }
    if (!r.done()) return Status::DataLoss(where + " has trailing bytes");
  }
  for (const FilePosition& p : restored) {
    if (!seen.insert(p.path).second) {
      return Status::DataLoss(what + ": '" + p.path + "' appears in two positions");
    }
  }
  restored_ = std::move(restored);
  restored_parallelism_ = positions.size();
  return Status::OK();
}

bool FileSource::IsHeader(std::string_view line) const {
  char delim = ',';
  if (auto it = spec_.format.options.find("delimiter");
      it != spec_.format.options.end() && !it->second.empty()) {
    delim = it->second == "\\t" ? '\t' : it->second[0];
  }
  size_t field = 0;
  for (;;) {
    size_t cut = line.find(delim);
    std::string_view name = Trim(line.substr(0, cut));
    if (field >= spec_.schema.size() || name != spec_.schema.field(field).name) return false;
    ++field;
    if (cut == std::string_view::npos) break;
    line.remove_prefix(cut + 1);
  }
  return field == spec_.schema.size();
}

Result<PollState> FileSource::Poll(RecordBatch* batch, int max_rows, int timeout_ms) {
  if (!opened_) return Status::FailedPrecondition("file source polled before Open");
  if (current_ >= files_.size()) return PollState::kEndOfInput;

  data_.clear();
  ends_.clear();
  partition_of_.clear();
  line_of_.clear();
  while (static_cast<int>(ends_.size()) < max_rows && current_ < files_.size()) {
    FileState& f = files_[current_];
    if (f.done) {  // finished before a restore
      ++current_;
      continue;
    }
    if (f.file == nullptr) WEIR_RETURN_IF_ERROR(OpenFile(&f));
    // Keeps one byte past the limit, so that SourceIngest sees the line is
    // over it.
    const size_t start = data_.size();
    const int64_t n = ReadLine(f.file, static_cast<size_t>(spec_.max_record_bytes) + 1, &data_);
    if (n <= 0) {
      data_.resize(start);
      bool failed = n < 0;
      std::fclose(f.file);
      f.file = nullptr;
      if (failed) {
        return Status::Unavailable("file source '" + spec_.name + "': cannot read '" + f.path +
                                   "'");
      }
      f.done = true;
      watermarks_->End(static_cast<int>(current_));
      ++current_;
      continue;
    }
    ++f.line;
    f.offset += n;
    std::string_view line(data_.data() + start, data_.size() - start);
    if (!line.empty() && line.back() == '\r') {
      data_.pop_back();
      line.remove_suffix(1);
    }
    if (line.empty() || (f.line == 1 && skip_header_ && IsHeader(line))) {
      data_.resize(start);
      continue;
    }
    ends_.push_back(data_.size());
    partition_of_.push_back(static_cast<int32_t>(current_));
    line_of_.push_back(f.line);
  }

  const size_t rows_before = batch->num_rows();
  if (!ends_.empty()) {
    payloads_.clear();
    size_t start = 0;
    for (size_t end : ends_) {
      payloads_.emplace_back(data_.data() + start, end - start);
      start = end;
    }
    WEIR_RETURN_IF_ERROR(ingest_->Ingest(
        payloads_, partition_of_,
        [this](size_t i) {
          return RecordPosition{RecordPosition::Kind::kFile,
                                files_[static_cast<size_t>(partition_of_[i])].path, -1,
                                line_of_[i]};
        },
        batch, &*watermarks_,
        [this](size_t i, size_t m, Column* out) {
          if (spec_.metadata[m].kind == "file")
            out->AppendString(files_[static_cast<size_t>(partition_of_[i])].path);
          else  // line
            out->AppendInt(line_of_[i]);
        }));
  }
  if (current_ >= files_.size()) {
    WEIR_RETURN_IF_ERROR(ingest_->Flush());
    if (batch->num_rows() == rows_before) return PollState::kEndOfInput;
  }
  return PollState::kOk;
}

WatermarkStatus FileSource::Watermark() {
  if (!ctx_.event_time || !watermarks_) return WatermarkStatus{};
  return watermarks_->Current();
}

void FileSource::Close() {
  for (FileState& f : files_) {
    if (f.file != nullptr) std::fclose(f.file);
    f.file = nullptr;
  }
  if (ingest_) {
    Status st = ingest_->Flush();
    if (!st.ok()) std::fprintf(stderr, "weir: %s\n", st.message().c_str());
    ingest_.reset();
  }
}

std::vector<std::string> FileSource::files() const {
  std::vector<std::string> out;
  for (const FileState& f : files_) out.push_back(f.path);
  return out;
}

}  // namespace weir::connectors
