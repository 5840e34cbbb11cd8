#include "worker/connectors/kafka_sink.h"

#include <charconv>
#include <string>

#include "common/text.h"
#include "worker/connectors/connectors_internal.h"
#include "worker/connectors/kafka_internal.h"

namespace weir::connectors {
namespace {

constexpr int kFlushTimeoutMs = 120'000;

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

KafkaSink::KafkaSink(spec::SinkSpec spec, Schema schema)
    : spec_(std::move(spec)), schema_(std::move(schema)) {}

KafkaSink::~KafkaSink() = default;

Status KafkaSink::Open(const SinkContext& ctx) {
  const std::string what = "kafka sink '" + spec_.name + "'";
  for (const std::string& k : spec_.key) {
    int idx = schema_.IndexOf(k);
    if (idx < 0) {
      return Status::InvalidArgument(what + ": key field '" + k + "' is not in the schema " +
                                     schema_.ToString());
    }
    key_columns_.push_back(idx);
  }
  auto encoder = format::MakeEncoder(spec_.format, schema_);
  if (!encoder.ok()) {
    return Status(encoder.status().code(), what + ": " + encoder.status().message());
  }
  encoder_ = std::move(encoder).value();
  WEIR_ASSIGN_OR_RETURN(producer_,
                        kafka::Producer::Make(what, spec_.brokers, spec_.topic, spec_.properties));
  return Status::OK();
}

Status KafkaSink::Write(const RecordBatch& batch) {
  if (!producer_) return Status::FailedPrecondition("kafka sink written before Open");
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

Status KafkaSink::Flush() {
  if (!producer_) return Status::OK();
  return producer_->Flush(kFlushTimeoutMs);
}

Status KafkaSink::Close() {
  Status st = Flush();
  producer_.reset();
  return st;
}

}  // namespace weir::connectors
