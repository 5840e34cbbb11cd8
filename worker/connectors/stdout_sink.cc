// The stdout and blackhole sinks.
#include <cstdio>
#include <mutex>
#include <string>

#include "common/format/format.h"
#include "worker/connectors/connectors_internal.h"

namespace weir::connectors {
namespace {

// One mutex for every stdout sink subtask of the process, so lines of
// different subtasks never interleave.
std::mutex& StdoutMutex() {
  static std::mutex mu;
  return mu;
}

// StdoutSink: each row encoded (json by default) on its own line; a batch is
// written with one fwrite under the process-wide stdout mutex and flushed, so
// output appears as it is produced. Flush() flushes stdout.
class StdoutSink final : public Sink {
 public:
  StdoutSink(spec::SinkSpec spec, Schema schema)
      : spec_(std::move(spec)), schema_(std::move(schema)) {}

  Status Open(const SinkContext& ctx) override {
    auto encoder = format::MakeEncoder(spec_.format, schema_);
    if (!encoder.ok()) {
      return Status(encoder.status().code(),
                    "stdout sink '" + spec_.name + "': " + encoder.status().message());
    }
    encoder_ = std::move(encoder).value();
    return Status::OK();
  }

  Status Write(const RecordBatch& batch) override {
    if (!encoder_) return Status::FailedPrecondition("stdout sink written before Open");
    if (batch.num_rows() == 0) return Status::OK();
    buffer_.clear();
    for (size_t row = 0; row < batch.num_rows(); ++row) {
      encoder_->Encode(batch, row, &buffer_);
      buffer_ += '\n';
    }
    {
      std::lock_guard<std::mutex> lock(StdoutMutex());
      size_t written = std::fwrite(buffer_.data(), 1, buffer_.size(), stdout);
      std::fflush(stdout);
      if (written != buffer_.size()) {
        return Status::Unavailable("stdout sink '" + spec_.name + "': cannot write to stdout");
      }
    }
    stats_.records += static_cast<int64_t>(batch.num_rows());
    stats_.bytes += static_cast<int64_t>(buffer_.size());
    return Status::OK();
  }

  Status Flush() override {
    std::lock_guard<std::mutex> lock(StdoutMutex());
    std::fflush(stdout);
    return Status::OK();
  }

 private:
  spec::SinkSpec spec_;
  Schema schema_;
  std::unique_ptr<format::Encoder> encoder_;
  std::string buffer_;
};

// BlackholeSink: counts rows and their in-memory bytes (8 per fixed-size
// value, the length of each string) and discards them. For benchmarks.
class BlackholeSink final : public Sink {
 public:
  Status Open(const SinkContext& ctx) override { return Status::OK(); }

  Status Write(const RecordBatch& batch) override {
    const size_t rows = batch.num_rows();
    if (rows == 0) return Status::OK();
    int64_t bytes = 0;
    for (const Column& c : batch.columns) {
      if (IsStringStored(c.type())) {
        // Strings are stored back to back: the span from the first to the last.
        std::string_view first = c.GetString(0), last = c.GetString(rows - 1);
        bytes += (last.data() + last.size()) - first.data();
      } else {
        bytes += static_cast<int64_t>(8 * rows);
      }
    }
    stats_.records += static_cast<int64_t>(rows);
    stats_.bytes += bytes;
    return Status::OK();
  }

  Status Flush() override { return Status::OK(); }
};

}  // namespace

Result<std::unique_ptr<Sink>> MakeStdoutSink(const spec::SinkSpec& spec, const Schema& schema) {
  return std::unique_ptr<Sink>(new StdoutSink(spec, schema));
}

Result<std::unique_ptr<Sink>> MakeBlackholeSink() {
  return std::unique_ptr<Sink>(new BlackholeSink());
}

}  // namespace weir::connectors
