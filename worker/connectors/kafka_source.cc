#include "worker/connectors/kafka_source.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <limits>
#include <string>

#include "common/bytes.h"
#include "common/text.h"
#include "worker/connectors/connectors_internal.h"
#include "worker/connectors/kafka_internal.h"

namespace weir::connectors {
namespace {

constexpr int kWatermarkQueryTimeoutMs = 10'000;
constexpr uint8_t kPositionVersion = 1;
constexpr uint8_t kPositionHasEnd = 1;  // flags: end offsets follow the next offsets

bool IsTopicError(rd_kafka_resp_err_t err) {
  return err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
         err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC || err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION ||
         err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
         err == RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION;
}

}  // namespace

KafkaSource::KafkaSource(spec::SourceSpec spec) : spec_(std::move(spec)) {}

KafkaSource::~KafkaSource() {
  Close();
}

void KafkaSource::SetStartOffsets(std::vector<std::pair<int32_t, int64_t>> offsets) {
  start_offsets_ = std::move(offsets);
}

int KafkaSource::LocalIndex(int32_t p) const {
  if (p < ctx_.subtask || ctx_.parallelism <= 0) return -1;
  if ((p - ctx_.subtask) % ctx_.parallelism != 0) return -1;
  int local = (p - ctx_.subtask) / ctx_.parallelism;
  return local < static_cast<int>(partitions_.size()) ? local : -1;
}

Status KafkaSource::Open(const SourceContext& ctx) {
  if (rk_ != nullptr) return Status::FailedPrecondition("kafka source opened twice");
  ctx_ = ctx;
  const std::string what = "kafka source '" + spec_.name + "'";
  WEIR_ASSIGN_OR_RETURN(ingest_, SourceIngest::Make(spec_, ctx, &stats_));

  const kafka::Settings settings = {
      // Needed by librdkafka's assign(); never joined (no subscribe) and never
      // committed to.
      {"group.id", "weir." + ctx.job + "." + spec_.name},
      {"client.id", "weir-" + spec_.name + "-" + std::to_string(ctx.subtask)},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"isolation.level", "read_committed"},
      {"enable.partition.eof", "true"},
      {"auto.offset.reset", spec_.start == spec::StartFrom::kEarliest ? "earliest" : "latest"},
  };
  WEIR_ASSIGN_OR_RETURN(auto properties, kafka::WithSecrets(what, spec_.properties, spec_.secrets));
  WEIR_ASSIGN_OR_RETURN(rd_kafka_conf_t * conf,
                        kafka::NewConf(what, spec_.brokers, settings, properties));
  WEIR_ASSIGN_OR_RETURN(kafka::Handle handle, kafka::NewHandle(what, RD_KAFKA_CONSUMER, conf));

  auto count = kafka::PartitionCount(handle.get(), spec_.topic, spec_.brokers);
  if (!count.ok()) return Status(count.status().code(), what + ": " + count.status().message());
  partition_count_ = *count;

  const int parallelism = ctx.parallelism > 0 ? ctx.parallelism : 1;
  for (int p = ctx.subtask; p < partition_count_; p += parallelism) partitions_.push_back(p);
  const size_t n = partitions_.size();
  next_offset_.assign(n, 0);
  end_offset_.assign(n, 0);
  ended_.assign(n, 0);
  ended_count_ = 0;

  kafka::PartitionList assignment(rd_kafka_topic_partition_list_new(static_cast<int>(n)));
  for (size_t i = 0; i < n; ++i) {
    const int32_t p = partitions_[i];
    int64_t low = 0, high = 0;
    rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
        handle.get(), spec_.topic.c_str(), p, &low, &high, kWatermarkQueryTimeoutMs);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Status::Unavailable(what + ": cannot read the offsets of topic " + spec_.topic +
                                 " partition " + std::to_string(p) + " on brokers '" +
                                 spec_.brokers + "': " + rd_kafka_err2str(err));
    }
    int64_t start = spec_.start == spec::StartFrom::kEarliest ? low : high;
    bool given = false;
    for (const auto& [sp, offset] : start_offsets_) {
      if (sp != p) continue;
      start = offset;
      given = true;
    }
    if (given && start < low) {
      std::fprintf(stderr,
                   "weir: %s: topic %s partition %d no longer holds offsets %lld to %lld "
                   "(deleted by retention); resuming at %lld\n",
                   what.c_str(), spec_.topic.c_str(), static_cast<int>(p),
                   static_cast<long long>(start), static_cast<long long>(low - 1),
                   static_cast<long long>(low));
      start = low;
    }
    int64_t end = high;
    for (const auto& [sp, offset] : restored_end_offsets_) {
      if (sp == p) end = offset;
    }
    next_offset_[i] = start;
    end_offset_[i] = end;
    rd_kafka_topic_partition_list_add(assignment.get(), spec_.topic.c_str(), p)->offset = start;
  }
  rd_kafka_resp_err_t err = rd_kafka_assign(handle.get(), assignment.get());
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::Unavailable(what + ": cannot assign partitions of topic " + spec_.topic + ": " +
                               rd_kafka_err2str(err));
  }
  rk_ = handle.release();

  const spec::EventTimeSpec et = spec_.event_time.value_or(spec::EventTimeSpec{});
  watermarks_.emplace(et.max_out_of_orderness_ms, et.idle_timeout_ms, ctx.clock);
  watermarks_->Resize(static_cast<int>(n));
  if (spec_.end_at_latest) {
    for (size_t i = 0; i < n; ++i) {
      if (next_offset_[i] >= end_offset_[i]) EndPartition(static_cast<int>(i));
    }
  }
  opened_ = true;
  return Status::OK();
}

void KafkaSource::EndPartition(int local) {
  if (ended_[static_cast<size_t>(local)]) return;
  ended_[static_cast<size_t>(local)] = 1;
  ++ended_count_;
  watermarks_->End(local);
  // Stop fetching what lies beyond the end.
  kafka::PartitionList list(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(list.get(), spec_.topic.c_str(),
                                    partitions_[static_cast<size_t>(local)]);
  rd_kafka_pause_partitions(rk_, list.get());
}

Status KafkaSource::HandleConsumerError(const rd_kafka_message_t* msg) {
  char errstr[512];
  if (rd_kafka_resp_err_t fatal = rd_kafka_fatal_error(rk_, errstr, sizeof(errstr))) {
    return Status::Aborted("kafka source '" + spec_.name + "': fatal consumer error " +
                           rd_kafka_err2name(fatal) + ": " + errstr);
  }
  if (IsTopicError(msg->err)) {
    return Status::Unavailable("kafka source '" + spec_.name + "': topic " + spec_.topic +
                               " partition " + std::to_string(msg->partition) + ": " +
                               rd_kafka_message_errstr(msg));
  }
  // Anything else (a broker went away, a fetch failed) is retried by
  // librdkafka itself.
  std::fprintf(stderr, "weir: kafka source '%s': %s\n", spec_.name.c_str(),
               rd_kafka_message_errstr(msg));
  return Status::OK();
}

void KafkaSource::UpdateLag() {
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now().time_since_epoch())
                          .count();
  if (now - lag_updated_ms_ < 1000) return;
  lag_updated_ms_ = now;
  std::vector<std::pair<int32_t, int64_t>> lag;
  for (size_t i = 0; i < partitions_.size(); ++i) {
    int64_t low = 0, high = 0;
    if (rd_kafka_get_watermark_offsets(rk_, spec_.topic.c_str(), partitions_[i], &low, &high) !=
            RD_KAFKA_RESP_ERR_NO_ERROR ||
        high < 0)
      continue;
    lag.emplace_back(partitions_[i], std::max<int64_t>(0, high - next_offset_[i]));
  }
  std::lock_guard lock(stats_.lag_mu);
  stats_.lag_topic = spec_.topic;
  stats_.lag = std::move(lag);
}

Result<PollState> KafkaSource::Poll(RecordBatch* batch, int max_rows, int timeout_ms) {
  if (rk_ == nullptr) return Status::FailedPrecondition("kafka source polled before Open");
  UpdateLag();
  const auto all_ended = [&] {
    return spec_.end_at_latest && ended_count_ == static_cast<int>(partitions_.size());
  };
  if (all_ended()) return PollState::kEndOfInput;

  messages_.clear();
  partition_of_.clear();
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(std::max(timeout_ms, 0));
  Status st;
  while (static_cast<int>(messages_.size()) < max_rows && !all_ended()) {
    int wait_ms = 0;
    if (messages_.empty()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      deadline - std::chrono::steady_clock::now())
                      .count();
      wait_ms = static_cast<int>(std::max<int64_t>(left, 0));
    }
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, wait_ms);
    if (m == nullptr) {
      if (!messages_.empty() || std::chrono::steady_clock::now() >= deadline) break;
      continue;
    }
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        // m->offset is the next offset to fetch: past control records and
        // aborted transactions too.
        int local = LocalIndex(m->partition);
        if (local >= 0 && !ended_[static_cast<size_t>(local)]) {
          int64_t& next = next_offset_[static_cast<size_t>(local)];
          if (m->offset > next) next = m->offset;
          if (spec_.end_at_latest && next >= end_offset_[static_cast<size_t>(local)]) {
            EndPartition(local);
          }
        }
      } else {
        st = HandleConsumerError(m);
      }
      rd_kafka_message_destroy(m);
      if (!st.ok()) break;
      continue;
    }
    const int local = LocalIndex(m->partition);
    if (local < 0 || ended_[static_cast<size_t>(local)]) {
      rd_kafka_message_destroy(m);
      continue;
    }
    const auto l = static_cast<size_t>(local);
    if (spec_.end_at_latest && m->offset >= end_offset_[l]) {
      EndPartition(local);  // written after Open: beyond this run's end
      rd_kafka_message_destroy(m);
      continue;
    }
    next_offset_[l] = m->offset + 1;
    messages_.push_back(m);
    partition_of_.push_back(local);
    if (spec_.end_at_latest && next_offset_[l] >= end_offset_[l]) EndPartition(local);
  }

  const size_t rows_before = batch->num_rows();
  if (st.ok() && !messages_.empty()) {
    payloads_.clear();
    for (const rd_kafka_message_t* m : messages_) {
      payloads_.emplace_back(static_cast<const char*>(m->payload), m->payload ? m->len : 0);
    }
    st = ingest_->Ingest(
        payloads_, partition_of_,
        [this](size_t i) {
          const rd_kafka_message_t* m = messages_[i];
          return RecordPosition{RecordPosition::Kind::kKafka, spec_.topic, m->partition, m->offset};
        },
        batch, &*watermarks_,
        [this](size_t i, size_t m, Column* out) {
          AppendMetadata(messages_[i], spec_.metadata[m], out);
        });
  }
  for (rd_kafka_message_t* m : messages_) rd_kafka_message_destroy(m);
  messages_.clear();
  if (!st.ok()) return st;
  if (all_ended()) {
    // Dead letters must be out before the source reports its end.
    WEIR_RETURN_IF_ERROR(ingest_->Flush());
    if (batch->num_rows() == rows_before) return PollState::kEndOfInput;
  }
  return PollState::kOk;
}

WatermarkStatus KafkaSource::Watermark() {
  if (!ctx_.event_time || !watermarks_) return WatermarkStatus{};
  // An unbounded subtask with no partitions never has data: idle.
  if (partitions_.empty() && !spec_.end_at_latest) return WatermarkStatus{kMinWatermark, true};
  return watermarks_->Current();
}

void KafkaSource::AppendMetadata(rd_kafka_message_s* m, const spec::MetadataField& f, Column* out) {
  if (f.kind == "key") {
    if (m->key == nullptr)
      out->AppendNull();
    else
      out->AppendString(std::string_view(static_cast<const char*>(m->key), m->key_len));
  } else if (f.kind == "timestamp") {
    const int64_t ts = rd_kafka_message_timestamp(m, nullptr);
    if (ts < 0)
      out->AppendNull();
    else
      out->AppendInt(ts);
  } else if (f.kind == "topic") {
    out->AppendString(spec_.topic);
  } else if (f.kind == "partition") {
    out->AppendInt(m->partition);
  } else if (f.kind == "offset") {
    out->AppendInt(m->offset);
  } else {  // headers, header
    rd_kafka_headers_t* headers = nullptr;
    if (rd_kafka_message_headers(m, &headers) != RD_KAFKA_RESP_ERR_NO_ERROR) headers = nullptr;
    if (f.kind == "header") {
      const void* value = nullptr;
      size_t size = 0;
      if (headers == nullptr ||
          rd_kafka_header_get_last(headers, f.header.c_str(), &value, &size) !=
              RD_KAFKA_RESP_ERR_NO_ERROR ||
          value == nullptr)
        out->AppendNull();
      else
        out->AppendString(std::string_view(static_cast<const char*>(value), size));
      return;
    }
    // All headers, in order, as a JSON object of name -> value (text); a
    // repeated name appears as often as it was sent, a null value as null.
    std::string json = "{";
    const char* name = nullptr;
    const void* value = nullptr;
    size_t size = 0;
    for (size_t idx = 0;
         headers != nullptr &&
         rd_kafka_header_get_all(headers, idx, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
         ++idx) {
      if (idx > 0) json += ',';
      json += JsonQuote(name);
      json += ':';
      json += value == nullptr ? "null"
                               : JsonQuote(std::string_view(static_cast<const char*>(value), size));
    }
    json += '}';
    out->AppendString(json);
  }
}

void KafkaSource::Close() {
  if (rk_ == nullptr) return;
  rd_kafka_consumer_close(rk_);
  kafka::HandleDeleter()(rk_);
  rk_ = nullptr;
  if (ingest_) {
    Status st = ingest_->Flush();
    if (!st.ok()) std::fprintf(stderr, "weir: %s\n", st.message().c_str());
  }
}

Result<std::string> KafkaSource::SnapshotPosition() {
  WEIR_RETURN_IF_ERROR(
      CheckSnapshotReady("kafka source '" + spec_.name + "'", opened_, ingest_.get()));
  std::string out;
  ByteWriter w(&out);
  w.PutU8(kPositionVersion);
  w.PutBytes(spec_.topic);
  const bool with_end = spec_.end_at_latest;
  w.PutU8(with_end ? kPositionHasEnd : 0);
  w.PutVarint(partitions_.size());
  for (size_t i = 0; i < partitions_.size(); ++i) {
    w.PutVarint(static_cast<uint64_t>(partitions_[i]));
    w.PutSigned(next_offset_[i]);
    if (with_end) w.PutSigned(end_offset_[i]);
  }
  return out;
}

Status KafkaSource::RestorePositions(const std::vector<std::string>& positions) {
  const std::string what = "kafka source '" + spec_.name + "'";
  if (opened_) return Status::FailedPrecondition(what + ": positions restored after Open");
  std::vector<std::pair<int32_t, int64_t>> starts, ends;
  for (size_t sub = 0; sub < positions.size(); ++sub) {
    const std::string where = what + ": position of subtask " + std::to_string(sub);
    ByteReader r(positions[sub]);
    WEIR_RETURN_IF_ERROR(CheckPositionVersion(&r, kPositionVersion, where));
    const std::string_view topic = r.GetBytes();
    const uint8_t flags = r.GetU8();
    const uint64_t n = r.GetVarint();
    if (!r.ok() || n > positions[sub].size() || (flags & ~kPositionHasEnd) != 0) {
      return Status::DataLoss(where + " is malformed");
    }
    if (topic != spec_.topic) {
      return Status::FailedPrecondition(where + " is for topic '" + std::string(topic) +
                                        "', the source now reads '" + spec_.topic + "'");
    }
    for (uint64_t k = 0; k < n; ++k) {
      const uint64_t partition = r.GetVarint();
      const int64_t next = r.GetSigned();
      const int64_t end = (flags & kPositionHasEnd) ? r.GetSigned() : 0;
      if (!r.ok() || partition > static_cast<uint64_t>(std::numeric_limits<int32_t>::max()) ||
          next < 0) {
        return Status::DataLoss(where + " is malformed");
      }
      const auto p = static_cast<int32_t>(partition);
      starts.emplace_back(p, next);
      if (flags & kPositionHasEnd) ends.emplace_back(p, end);
    }
    if (!r.done()) return Status::DataLoss(where + " has trailing bytes");
  }
  std::sort(starts.begin(), starts.end());
  for (size_t i = 1; i < starts.size(); ++i) {
    if (starts[i].first == starts[i - 1].first) {
      return Status::DataLoss(what + ": partition " + std::to_string(starts[i].first) +
                              " appears in two positions");
    }
  }
  start_offsets_ = std::move(starts);
  restored_end_offsets_ = std::move(ends);
  return Status::OK();
}

std::vector<std::pair<int32_t, int64_t>> KafkaSource::Offsets() const {
  std::vector<std::pair<int32_t, int64_t>> out;
  out.reserve(partitions_.size());
  for (size_t i = 0; i < partitions_.size(); ++i) out.emplace_back(partitions_[i], next_offset_[i]);
  return out;
}

}  // namespace weir::connectors
