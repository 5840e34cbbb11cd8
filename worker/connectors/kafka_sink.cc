#include "worker/connectors/kafka_sink.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "common/bytes.h"
#include "common/text.h"
#include "worker/connectors/connectors_internal.h"
#include "worker/connectors/kafka_internal.h"

namespace weir::connectors {
namespace {

constexpr int kFlushTimeoutMs = 120'000;
constexpr int kTxnTimeoutMs = 120'000;         // init, commit
constexpr int kCloseAbortTimeoutMs = 10'000;   // abort at Close and destruction
constexpr int kMarkerReadTimeoutMs = 120'000;  // recovery's read of the marker partition
constexpr uint8_t kStateVersion = 1;
constexpr int64_t kMessageOverhead = 16;  // bytes counted per message besides key and value
constexpr uintptr_t kMarkerTag = 2;       // the marker's opaque; messages' are odd
constexpr const char* kMarkerTopicProperty = "weir.marker.topic";
constexpr const char* kMaxUncommittedProperty = "weir.max.uncommitted.bytes";

// The epoch of a marker value ({..., "epoch":N}); 0 when there is none.
int64_t ParseMarkerEpoch(std::string_view value) {
  constexpr std::string_view kField = "\"epoch\":";
  size_t at = value.rfind(kField);
  if (at == std::string_view::npos) return 0;
  const char* begin = value.data() + at + kField.size();
  int64_t epoch = 0;
  auto r = std::from_chars(begin, value.data() + value.size(), epoch);
  return r.ec == std::errc() ? epoch : 0;
}

void AppendText(const Column& c, size_t row, std::string* out) {
  switch (c.type()) {
    case TypeId::kNull:
      break;
    case TypeId::kBoolean:
      *out += c.GetBool(row) ? "true" : "false";
      break;
    case TypeId::kBigint:
      *out += std::to_string(c.GetInt(row));
      break;
    case TypeId::kTimestamp:
      *out += FormatTimestamp(c.GetInt(row));
      break;
    case TypeId::kDouble: {
      char buf[32];
      auto r = std::to_chars(buf, buf + sizeof buf, c.GetDouble(row));
      out->append(buf, r.ptr);
      break;
    }
    case TypeId::kString:
    case TypeId::kBytes:
      out->append(c.GetString(row));
      break;
  }
}

}  // namespace

void AppendJsonValue(const Column& c, size_t row, std::string* out) {
  if (c.IsNull(row) || c.type() == TypeId::kNull) {
    *out += "null";
    return;
  }
  switch (c.type()) {
    case TypeId::kTimestamp:
      *out += JsonQuote(FormatTimestamp(c.GetInt(row)));
      break;
    case TypeId::kString:
    case TypeId::kBytes:
      *out += JsonQuote(c.GetString(row));
      break;
    case TypeId::kDouble: {
      double d = c.GetDouble(row);
      if (d != d || d - d != 0) {  // NaN, infinities: not JSON numbers
        *out += "null";
        break;
      }
      AppendText(c, row, out);
      break;
    }
    default:
      AppendText(c, row, out);
  }
}

void EncodeMessageKey(const RecordBatch& batch, const std::vector<int>& key_columns, size_t row,
                      std::string* out, bool* is_null) {
  out->clear();
  *is_null = false;
  if (key_columns.empty()) {
    *is_null = true;
    return;
  }
  if (key_columns.size() == 1) {
    const Column& c = batch.columns[static_cast<size_t>(key_columns[0])];
    if (c.IsNull(row)) {
      *is_null = true;
      return;
    }
    AppendText(c, row, out);
    return;
  }
  *out += '[';
  for (size_t k = 0; k < key_columns.size(); ++k) {
    if (k > 0) *out += ',';
    AppendJsonValue(batch.columns[static_cast<size_t>(key_columns[k])], row, out);
  }
  *out += ']';
}

std::string KafkaSink::TransactionalId(const std::string& job, const std::string& sink,
                                       int subtask) {
  return "weir-" + job + "-" + sink + "-" + std::to_string(subtask);
}

KafkaSink::KafkaSink(spec::SinkSpec spec, Schema schema)
    : spec_(std::move(spec)), schema_(std::move(schema)) {}

KafkaSink::~KafkaSink() {
  // Best effort: an abandoned open transaction would hold back read_committed
  // readers of its partitions until the broker times it out.
  if (producer_ && txn_open_) (void)producer_->AbortTransaction(kCloseAbortTimeoutMs);
  ReleaseProducer();
}

void KafkaSink::ReleaseProducer() {
  if (producer_) producer_->SetDeliveryHook(nullptr, nullptr);
  if (marker_rkt_ != nullptr) rd_kafka_topic_destroy(marker_rkt_);
  marker_rkt_ = nullptr;
  producer_.reset();
  txn_open_ = false;
}

Status KafkaSink::Fail(Status st) {
  if (!st.ok() && failed_.ok()) failed_ = st;
  return st;
}

Status KafkaSink::Open(const SinkContext& ctx) {
  what_ = "kafka sink '" + spec_.name + "'";
  for (const std::string& k : spec_.key) {
    int idx = schema_.IndexOf(k);
    if (idx < 0) {
      return Status::InvalidArgument(what_ + ": key field '" + k + "' is not in the schema " +
                                     schema_.ToString());
    }
    key_columns_.push_back(idx);
  }
  auto encoder = format::MakeEncoder(spec_.format, schema_);
  if (!encoder.ok()) {
    return Status(encoder.status().code(), what_ + ": " + encoder.status().message());
  }
  encoder_ = std::move(encoder).value();
  if (Status st = encoder_->Open(); !st.ok()) return Status(st.code(), what_ + ": " + st.message());
  // The weir.* settings are the sink's own; the rest goes to librdkafka.
  WEIR_ASSIGN_OR_RETURN(auto properties,
                        kafka::WithSecrets(what_, spec_.properties, spec_.secrets));
  marker_topic_ = DefaultMarkerTopic(spec_.topic);
  for (auto it = properties.begin(); it != properties.end();) {
    if (it->first.rfind("weir.", 0) != 0) {
      ++it;
      continue;
    }
    if (it->first == kMarkerTopicProperty) {
      if (it->second.empty()) {
        return Status::InvalidArgument(what_ + ": property " + kMarkerTopicProperty +
                                       " must name a topic");
      }
      marker_topic_ = it->second;
    } else if (it->first == kMaxUncommittedProperty) {
      int64_t v = 0;
      const std::string& text = it->second;
      auto r = std::from_chars(text.data(), text.data() + text.size(), v);
      if (r.ec != std::errc() || r.ptr != text.data() + text.size() || v <= 0) {
        return Status::InvalidArgument(what_ + ": property " + kMaxUncommittedProperty +
                                       " must be a positive number of bytes, not '" + text + "'");
      }
      max_uncommitted_bytes_ = v;
    } else {
      return Status::InvalidArgument(what_ + ": unknown property '" + it->first + "' (weir's are " +
                                     kMarkerTopicProperty + " and " + kMaxUncommittedProperty +
                                     ")");
    }
    it = properties.erase(it);
  }
  if (exactly_once()) {
    epochs_.assign(1, Epoch{});
    // A sink whose Open failed refuses everything after it.
    return Fail(OpenTransactional(ctx, std::move(properties)));
  }
  WEIR_ASSIGN_OR_RETURN(producer_,
                        kafka::Producer::Make(what_, spec_.brokers, spec_.topic, properties));
  return Status::OK();
}

Status KafkaSink::OpenTransactional(const SinkContext& ctx,
                                    std::map<std::string, std::string> properties) {
  if (properties.count("transactional.id") != 0) {
    return Status::InvalidArgument(
        what_ + ": property transactional.id is weir's to set with delivery exactly_once (" +
        TransactionalId(ctx.job, spec_.name, ctx.subtask) + " for this subtask); remove it");
  }
  job_ = ctx.job;
  subtask_ = ctx.subtask;
  txn_id_ = TransactionalId(ctx.job, spec_.name, ctx.subtask);
  // The marker reader connects like the producer: it takes the connection
  // and security settings, not the producer's tuning.
  reader_properties_ = kafka::ConnectionSettings(properties);
  WEIR_ASSIGN_OR_RETURN(
      producer_, kafka::Producer::Make(what_, spec_.brokers, spec_.topic, properties, {txn_id_}));
  producer_->SetDeliveryHook(&KafkaSink::OnDelivery, this);
  auto count =
      kafka::PartitionCountCreatingTopic(producer_->handle(), marker_topic_, spec_.brokers);
  if (!count.ok()) {
    return Status(count.status().code(),
                  what_ + ": marker topic: " + count.status().message() +
                      " (exactly_once delivery needs it: create it with 1 partition and "
                      "cleanup.policy=compact, or name another with " +
                      kMarkerTopicProperty + ")");
  }
  marker_partition_ = subtask_ % *count;
  marker_rkt_ = rd_kafka_topic_new(producer_->handle(), marker_topic_.c_str(), nullptr);
  if (marker_rkt_ == nullptr) {
    return Status::Internal(what_ + ": cannot create a handle for topic '" + marker_topic_ +
                            "': " + rd_kafka_err2str(rd_kafka_last_error()));
  }
  // Fences older producers with this transactional.id; on a real broker it
  // also aborts the transaction they left open.
  WEIR_RETURN_IF_ERROR(producer_->InitTransactions(kTxnTimeoutMs));
  if (ctx.restore && !ctx.restore->state.empty()) return Restore(*ctx.restore);
  if (ctx.restore) committed_id_ = ctx.restore->checkpoint_id;
  return QueryMarkerEnd();
}

Status KafkaSink::Restore(const SinkRestore& restore) {
  const std::string bad = what_ + ": the state of checkpoint " +
                          std::to_string(restore.checkpoint_id) + " does not decode";
  ByteReader in(restore.state);
  if (in.GetU8() != kStateVersion) return Status::DataLoss(bad + " (unknown version)");
  const std::string state_txn_id(in.GetBytes());
  const uint64_t epoch_count = in.GetVarint();
  if (!in.ok() || epoch_count > in.rest().size()) return Status::DataLoss(bad);
  std::deque<Epoch> restored;
  int64_t scan_from = std::numeric_limits<int64_t>::max();
  int64_t previous = 0;
  for (uint64_t i = 0; i < epoch_count; ++i) {
    Epoch e;
    e.id = in.GetSigned();
    e.marker_from = in.GetSigned();
    const uint64_t count = in.GetVarint();
    // Each message takes at least 4 bytes: bounds the loop on garbage.
    if (!in.ok() || count > in.rest().size() / 4 || e.id <= previous ||
        e.id > restore.checkpoint_id) {
      return Status::DataLoss(bad);
    }
    previous = e.id;
    for (uint64_t j = 0; j < count; ++j) {
      Message m;
      m.has_key = in.GetU8() != 0;
      m.key = std::string(in.GetBytes());
      m.value = std::string(in.GetBytes());
      m.partition = static_cast<int32_t>(in.GetSigned());
      e.bytes += static_cast<int64_t>(m.key.size() + m.value.size()) + kMessageOverhead;
      e.messages.push_back(std::move(m));
    }
    if (!in.ok()) return Status::DataLoss(bad);
    scan_from = e.marker_from < 0 ? -1 : std::min(scan_from, e.marker_from);
    restored.push_back(std::move(e));
  }
  if (!in.ok() || !in.done()) return Status::DataLoss(bad);
  resent_epochs_ = 0;
  committed_id_ = restore.checkpoint_id;
  if (std::all_of(restored.begin(), restored.end(),
                  [](const Epoch& e) { return e.messages.empty(); })) {
    return QueryMarkerEnd();  // nothing that could need sending again
  }
  // Which epochs landed? Read the committed markers; send the others again.
  int64_t end = -1;
  WEIR_ASSIGN_OR_RETURN(int64_t landed, LandedEpoch(state_txn_id, scan_from, &end));
  next_marker_from_ = end;
  for (Epoch& e : restored) {
    if (e.id <= landed || e.messages.empty()) continue;
    uncommitted_bytes_ += e.bytes;
    epochs_.insert(epochs_.end() - 1, std::move(e));  // before the open epoch
    ++resent_epochs_;
  }
  return CommitUpTo(restore.checkpoint_id);
}

Status KafkaSink::QueryMarkerEnd() {
  int64_t low = 0, high = 0;
  if (rd_kafka_query_watermark_offsets(producer_->handle(), marker_topic_.c_str(),
                                       marker_partition_, &low, &high,
                                       kafka::kMetadataTimeoutMs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    next_marker_from_ = high;
  }
  return Status::OK();  // unknown (-1): recovery reads the partition from its start
}

Result<int64_t> KafkaSink::LandedEpoch(const std::string& txn_id, int64_t from, int64_t* end) {
  const std::string who = what_ + ", reading marker topic '" + marker_topic_ + "' partition " +
                          std::to_string(marker_partition_);
  const kafka::Settings settings = {
      // Needed by assign(); never joined, never committed.
      {"group.id", "weir." + job_ + "." + spec_.name + ".markers"},
      {"client.id", "weir-marker-reader"},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"enable.partition.eof", "true"},
      {"isolation.level", "read_committed"},
      {"auto.offset.reset", "earliest"},
      {"fetch.wait.max.ms", "10"},
  };
  WEIR_ASSIGN_OR_RETURN(rd_kafka_conf_t * conf,
                        kafka::NewConf(who, spec_.brokers, settings, reader_properties_));
  WEIR_ASSIGN_OR_RETURN(kafka::Handle rk, kafka::NewHandle(who, RD_KAFKA_CONSUMER, conf));
  // Read up to the high watermark as it is now, after init_transactions: our
  // previous incarnation's transactions are decided and below it. A
  // read_committed reader stops early at the last stable offset while
  // another producer's transaction is open there; keep reading until the
  // end passes the watermark.
  int64_t low = 0, high = 0;
  rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
      rk.get(), marker_topic_.c_str(), marker_partition_, &low, &high, kafka::kMetadataTimeoutMs);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::Unavailable(who + ": cannot read its offsets: " + rd_kafka_err2str(err));
  }
  kafka::PartitionList list(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(list.get(), marker_topic_.c_str(), marker_partition_)->offset =
      from >= 0 ? from : RD_KAFKA_OFFSET_BEGINNING;
  err = rd_kafka_assign(rk.get(), list.get());
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::Unavailable(who + ": cannot assign it: " + rd_kafka_err2str(err));
  }
  int64_t landed = 0;
  std::string last_error;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(kMarkerReadTimeoutMs);
  bool at_end = from >= 0 && from >= high;
  *end = high;
  while (!at_end) {
    if (std::chrono::steady_clock::now() >= deadline) {
      rd_kafka_consumer_close(rk.get());
      return Status::Unavailable(
          who + ": did not reach offset " + std::to_string(high) + " within " +
          std::to_string(kMarkerReadTimeoutMs / 1000) +
          " s, so which epochs landed is unknown (an open transaction of another producer "
          "holds back read_committed readers until it ends)" +
          (last_error.empty() ? "" : "; last error: " + last_error));
    }
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk.get(), 100);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      if (m->offset >= high) {
        at_end = true;
        *end = m->offset;
      }
    } else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      last_error = rd_kafka_message_errstr(m);
    } else if (m->key != nullptr &&
               std::string_view(static_cast<const char*>(m->key), m->key_len) == txn_id) {
      landed = std::max(
          landed, ParseMarkerEpoch(std::string_view(static_cast<const char*>(m->payload), m->len)));
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk.get());
  return landed;
}

std::string KafkaSink::MarkerValue(int64_t epoch) const {
  return "{\"job\":" + JsonQuote(job_) + ",\"sink\":" + JsonQuote(spec_.name) +
         ",\"subtask\":" + std::to_string(subtask_) + ",\"epoch\":" + std::to_string(epoch) + "}";
}

std::string KafkaSink::EncodeState() const {
  std::string out;
  size_t size = 16 + txn_id_.size();
  for (const Epoch& e : epochs_) size += static_cast<size_t>(e.bytes);
  out.reserve(size);
  ByteWriter w(&out);
  w.PutU8(kStateVersion);
  w.PutBytes(txn_id_);
  uint64_t closed = 0;
  for (const Epoch& e : epochs_) closed += e.id != 0 ? 1 : 0;
  w.PutVarint(closed);
  for (const Epoch& e : epochs_) {
    if (e.id == 0) continue;
    w.PutSigned(e.id);
    w.PutSigned(e.marker_from);
    w.PutVarint(e.messages.size());
    for (const Message& m : e.messages) {
      w.PutU8(m.has_key ? 1 : 0);
      w.PutBytes(m.key);
      w.PutBytes(m.value);
      w.PutSigned(m.partition);
    }
  }
  return out;
}

void KafkaSink::OnDelivery(void* context, const rd_kafka_message_s& msg) {
  auto* self = static_cast<KafkaSink*>(context);
  if (msg.err != RD_KAFKA_RESP_ERR_NO_ERROR) return;  // the producer records failures
  const auto tag = reinterpret_cast<uintptr_t>(msg._private);
  if (tag == kMarkerTag) {
    self->last_marker_offset_ = msg.offset;
    return;
  }
  if ((tag & 1) == 0 || self->epochs_.empty()) return;
  // Only the head epoch's messages are ever in flight.
  Epoch& head = self->epochs_.front();
  const size_t index = static_cast<size_t>(tag >> 1);
  if (index < head.messages.size()) head.messages[index].partition = msg.partition;
}

Status KafkaSink::SendHead() {
  Epoch& head = epochs_.front();
  if (head.sent == head.messages.size()) return Status::OK();
  if (!txn_open_) {
    WEIR_RETURN_IF_ERROR(Fail(producer_->BeginTransaction()));
    txn_open_ = true;
  }
  for (; head.sent < head.messages.size(); ++head.sent) {
    const Message& m = head.messages[head.sent];
    kafka::Producer::Message out;
    if (m.partition >= 0 && m.partition < producer_->partition_count()) out.partition = m.partition;
    if (m.has_key) {
      out.key = m.key.data();
      out.key_len = m.key.size();
    }
    out.value = m.value;
    out.opaque = reinterpret_cast<void*>((static_cast<uintptr_t>(head.sent) << 1) | 1);
    WEIR_RETURN_IF_ERROR(Fail(producer_->Send(out)));
  }
  producer_->Poll();  // serve delivery reports
  return Status::OK();
}

Status KafkaSink::CommitUpTo(int64_t checkpoint_id) {
  while (epochs_.front().id != 0 && epochs_.front().id <= checkpoint_id) {
    Epoch& head = epochs_.front();
    WEIR_RETURN_IF_ERROR(SendHead());
    // The marker goes in last, so a transaction that never got here has none.
    const std::string value = MarkerValue(head.id);
    kafka::Producer::Message marker;
    marker.topic = marker_rkt_;
    marker.partition = marker_partition_;
    marker.key = txn_id_.data();
    marker.key_len = txn_id_.size();
    marker.value = value;
    marker.opaque = reinterpret_cast<void*>(kMarkerTag);
    last_marker_offset_ = -1;
    WEIR_RETURN_IF_ERROR(Fail(producer_->Send(marker)));
    WEIR_RETURN_IF_ERROR(Fail(producer_->Flush(kFlushTimeoutMs)));
    WEIR_RETURN_IF_ERROR(Fail(producer_->CommitTransaction(kTxnTimeoutMs)));
    txn_open_ = false;
    if (last_marker_offset_ >= 0) next_marker_from_ = last_marker_offset_ + 1;
    committed_id_ = head.id;
    uncommitted_bytes_ -= head.bytes;
    epochs_.pop_front();
  }
  committed_id_ = std::max(committed_id_, checkpoint_id);
  // The next epoch owns the producer now: send what it kept meanwhile.
  return SendHead();
}

Status KafkaSink::Write(const RecordBatch& batch) {
  if (!producer_) return Status::FailedPrecondition("kafka sink written before Open");
  if (!exactly_once()) {
    int64_t bytes = 0;
    bool null_key = false;
    for (size_t row = 0; row < batch.num_rows(); ++row) {
      value_.clear();
      encoder_->Encode(batch, row, &value_);
      EncodeMessageKey(batch, key_columns_, row, &key_, &null_key);
      WEIR_RETURN_IF_ERROR(
          producer_->Produce(null_key ? nullptr : key_.data(), null_key ? 0 : key_.size(), value_));
      bytes += static_cast<int64_t>(value_.size() + key_.size());
    }
    producer_->Poll();  // serve delivery reports
    stats_.records += static_cast<int64_t>(batch.num_rows());
    stats_.bytes += bytes;
    return Status::OK();
  }
  WEIR_RETURN_IF_ERROR(failed_);
  Epoch& open = epochs_.back();
  int64_t bytes = 0;
  bool null_key = false;
  for (size_t row = 0; row < batch.num_rows(); ++row) {
    Message m;
    encoder_->Encode(batch, row, &m.value);
    EncodeMessageKey(batch, key_columns_, row, &m.key, &null_key);
    m.has_key = !null_key;
    const int64_t size = static_cast<int64_t>(m.key.size() + m.value.size()) + kMessageOverhead;
    if (uncommitted_bytes_ + size > max_uncommitted_bytes_) {
      return Fail(Status::ResourceExhausted(
          what_ + ": " + std::to_string(uncommitted_bytes_) +
          " bytes of rows wait for checkpoints to complete, and exactly_once delivery keeps "
          "them in memory up to " +
          kMaxUncommittedProperty + " = " + std::to_string(max_uncommitted_bytes_) +
          "; checkpoint more often (checkpoint.interval) or raise " + kMaxUncommittedProperty));
    }
    uncommitted_bytes_ += size;
    open.bytes += size;
    bytes += static_cast<int64_t>(m.key.size() + m.value.size());
    open.messages.push_back(std::move(m));
  }
  stats_.records += static_cast<int64_t>(batch.num_rows());
  stats_.bytes += bytes;
  // The oldest uncommitted epoch owns the transaction; later ones wait.
  if (epochs_.size() == 1) return SendHead();
  return Status::OK();
}

Status KafkaSink::Flush() {
  if (!producer_) return Status::OK();
  if (!exactly_once()) return producer_->Flush(kFlushTimeoutMs);
  WEIR_RETURN_IF_ERROR(failed_);
  // Delivers what the open transaction holds; publishes nothing.
  if (!txn_open_) return Status::OK();
  return Fail(producer_->Flush(kFlushTimeoutMs));
}

Result<std::string> KafkaSink::PreCommit(int64_t checkpoint_id) {
  if (!exactly_once()) {
    WEIR_RETURN_IF_ERROR(Flush());
    return std::string();
  }
  if (!producer_) return Status::FailedPrecondition(what_ + ": pre-commit before Open");
  WEIR_RETURN_IF_ERROR(failed_);
  int64_t newest = committed_id_;
  for (const Epoch& e : epochs_) newest = std::max(newest, e.id);
  if (checkpoint_id <= newest) {
    return Status::FailedPrecondition(what_ + ": pre-commit of checkpoint " +
                                      std::to_string(checkpoint_id) + " after checkpoint " +
                                      std::to_string(newest));
  }
  Epoch& open = epochs_.back();
  if (!open.messages.empty()) {
    open.id = checkpoint_id;
    open.marker_from = next_marker_from_;
    // The head epoch's rows are on the brokers (in its open transaction)
    // before the checkpoint is acked, so delivery errors fail the checkpoint.
    if (epochs_.size() == 1) WEIR_RETURN_IF_ERROR(Fail(producer_->Flush(kFlushTimeoutMs)));
    epochs_.emplace_back();
  }
  return EncodeState();
}

Status KafkaSink::Commit(int64_t checkpoint_id) {
  if (!exactly_once()) return Status::OK();
  if (!producer_) return Status::FailedPrecondition(what_ + ": commit before Open");
  if (checkpoint_id <= committed_id_) return Status::OK();  // done already
  WEIR_RETURN_IF_ERROR(failed_);
  return CommitUpTo(checkpoint_id);
}

Status KafkaSink::Close() {
  if (!exactly_once()) {
    Status st = Flush();
    producer_.reset();
    return st;
  }
  if (!producer_) return Status::OK();
  size_t rows = 0;
  for (const Epoch& e : epochs_) rows += e.messages.size();
  Status st;
  if (txn_open_) st = producer_->AbortTransaction(kCloseAbortTimeoutMs);
  ReleaseProducer();
  epochs_.clear();
  uncommitted_bytes_ = 0;
  if (rows > 0) {
    return Status::Aborted(
        what_ + ": closed with " + std::to_string(rows) +
        " row(s) that no completed checkpoint covers; exactly_once delivery discarded them "
        "(their transaction was aborted)" +
        (st.ok() ? "" : "; " + st.message()));
  }
  return st;
}

}  // namespace weir::connectors
