// Dead-letter targets for on_error: dead_letter (see connectors_internal.h).
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

#include "common/text.h"
#include "worker/connectors/connectors_internal.h"
#include "worker/connectors/kafka_internal.h"

namespace weir::connectors {
namespace {

constexpr int kFlushTimeoutMs = 60'000;

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t len = 0;
    if (c < 0x80)
      len = 1;
    else if ((c & 0xE0) == 0xC0 && c >= 0xC2)
      len = 2;
    else if ((c & 0xF0) == 0xE0)
      len = 3;
    else if ((c & 0xF8) == 0xF0 && c <= 0xF4)
      len = 4;
    else
      return false;
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += len;
  }
  return true;
}

std::string Base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint32_t{static_cast<unsigned char>(in[i])} << 16) |
                 (uint32_t{static_cast<unsigned char>(in[i + 1])} << 8) |
                 static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i < in.size()) {
    uint32_t v = uint32_t{static_cast<unsigned char>(in[i])} << 16;
    if (i + 1 < in.size()) v |= uint32_t{static_cast<unsigned char>(in[i + 1])} << 8;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// Appends to one file, one write(2) per record, so subtasks that share the
// file (O_APPEND) never interleave within a line.
class FileDeadLetters final : public DeadLetterWriter {
 public:
  static Result<std::unique_ptr<DeadLetterWriter>> Open(const std::string& source,
                                                        const std::string& path) {
    std::error_code ec;
    std::filesystem::path parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
      return Status::Unavailable("source '" + source + "': cannot open dead-letter file '" + path +
                                 "': " + std::strerror(errno));
    }
    return std::unique_ptr<DeadLetterWriter>(new FileDeadLetters(path, fd));
  }
  ~FileDeadLetters() override { ::close(fd_); }

  Status Write(std::string_view payload, const RecordPosition& pos,
               std::string_view error) override {
    line_ = DeadLetterJson(payload, pos, error);
    line_ += '\n';
    size_t done = 0;
    while (done < line_.size()) {
      ssize_t n = ::write(fd_, line_.data() + done, line_.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        return Status::Unavailable("writing dead-letter file '" + path_ +
                                   "': " + std::strerror(errno));
      }
      done += static_cast<size_t>(n);
    }
    return Status::OK();
  }

  Status Flush() override {
    if (::fdatasync(fd_) != 0 && errno != EINVAL) {
      return Status::Unavailable("syncing dead-letter file '" + path_ +
                                 "': " + std::strerror(errno));
    }
    return Status::OK();
  }

 private:
  FileDeadLetters(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  std::string path_;
  int fd_;
  std::string line_;
};

class KafkaDeadLetters final : public DeadLetterWriter {
 public:
  explicit KafkaDeadLetters(std::unique_ptr<kafka::Producer> producer)
      : producer_(std::move(producer)) {}

  Status Write(std::string_view payload, const RecordPosition& pos,
               std::string_view error) override {
    partition_ = std::to_string(pos.partition);
    offset_ = std::to_string(pos.offset);
    headers_.clear();
    headers_.push_back({"weir.error", error});
    if (pos.kind == RecordPosition::Kind::kKafka) {
      headers_.push_back({"weir.topic", pos.name});
      headers_.push_back({"weir.partition", partition_});
      headers_.push_back({"weir.offset", offset_});
    } else {
      headers_.push_back({"weir.file", pos.name});
      headers_.push_back({"weir.line", offset_});
    }
    WEIR_RETURN_IF_ERROR(producer_->Produce(nullptr, 0, payload, &headers_));
    producer_->Poll();
    return Status::OK();
  }

  Status Flush() override { return producer_->Flush(kFlushTimeoutMs); }

 private:
  std::unique_ptr<kafka::Producer> producer_;
  std::vector<kafka::Producer::Header> headers_;
  std::string partition_, offset_;
};

}  // namespace

std::string DeadLetterJson(std::string_view payload, const RecordPosition& pos,
                           std::string_view error) {
  std::string out = "{\"error\":" + JsonQuote(error);
  if (pos.kind == RecordPosition::Kind::kKafka) {
    out += ",\"topic\":" + JsonQuote(pos.name) + ",\"partition\":" + std::to_string(pos.partition) +
           ",\"offset\":" + std::to_string(pos.offset);
  } else {
    out += ",\"file\":" + JsonQuote(pos.name) + ",\"line\":" + std::to_string(pos.offset);
  }
  if (IsValidUtf8(payload)) {
    out += ",\"payload\":" + JsonQuote(payload);
  } else {
    out += ",\"payload_base64\":\"" + Base64(payload) + "\"";
  }
  out += '}';
  return out;
}

Result<std::unique_ptr<DeadLetterWriter>> MakeDeadLetterWriter(const spec::SourceSpec& source,
                                                               const SourceContext& ctx) {
  if (!source.dead_letter) {
    return Status::InvalidArgument("source '" + source.name +
                                   "': on_error is dead_letter but it has no dead_letter target");
  }
  const spec::DeadLetterSpec& dl = *source.dead_letter;
  if (dl.type == "file") return FileDeadLetters::Open(source.name, dl.path);
  if (dl.type == "kafka") {
    const std::string& brokers = dl.brokers.empty() ? source.brokers : dl.brokers;
    const std::string what = "dead-letter topic of source '" + source.name + "'";
    // On the source's own cluster it connects as the source does.
    std::map<std::string, std::string> properties;
    if (brokers == source.brokers) {
      WEIR_ASSIGN_OR_RETURN(properties,
                            kafka::WithSecrets(what, source.properties, source.secrets));
      properties = kafka::ConnectionSettings(properties);
    }
    WEIR_ASSIGN_OR_RETURN(auto producer,
                          kafka::Producer::Make(what, brokers, dl.topic, properties));
    return std::unique_ptr<DeadLetterWriter>(new KafkaDeadLetters(std::move(producer)));
  }
  return Status::InvalidArgument("source '" + source.name + "': unknown dead_letter type '" +
                                 dl.type + "' (use kafka or file)");
}

}  // namespace weir::connectors
