#include <algorithm>
#include <string>
#include <utility>

#include "worker/connectors/connectors_internal.h"

namespace weir::connectors {

std::string RecordPosition::ToString() const {
  if (kind == Kind::kFile) return std::string(name) + ":" + std::to_string(offset);
  return "topic " + std::string(name) + " partition " + std::to_string(partition) + " offset " +
         std::to_string(offset);
}

Status CheckSnapshotReady(const std::string& what, bool opened, SourceIngest* ingest) {
  if (!opened) return Status::FailedPrecondition(what + ": position asked before Open");
  if (ingest) WEIR_RETURN_IF_ERROR(ingest->Flush());
  return Status::OK();
}

Status CheckPositionVersion(ByteReader* r, uint8_t version, const std::string& where) {
  const uint8_t found = r->GetU8();
  if (r->ok() && found != version) {
    return Status::DataLoss(where + " has unknown version " + std::to_string(found));
  }
  return Status::OK();
}

Result<std::unique_ptr<SourceIngest>> SourceIngest::Make(const spec::SourceSpec& spec,
                                                         const SourceContext& ctx,
                                                         ConnectorStats* stats) {
  std::unique_ptr<SourceIngest> ingest(new SourceIngest());
  // The decoder sees the payload's fields only; metadata fields follow them.
  ingest->metadata_fields_ = spec.metadata.size();
  Schema payload_schema = spec.schema;
  if (!spec.metadata.empty()) {
    std::vector<Field> fields = spec.schema.fields();
    fields.resize(fields.size() - spec.metadata.size());
    payload_schema = Schema(std::move(fields));
    ingest->payload_batch_.emplace(std::make_shared<const Schema>(payload_schema));
  }
  auto decoder = format::MakeDecoder(spec.format, payload_schema, spec.fields);
  if (!decoder.ok()) {
    return Status(decoder.status().code(),
                  "source '" + spec.name + "': " + decoder.status().message());
  }
  ingest->decoder_ = std::move(decoder).value();
  ingest->on_error_ = spec.on_error;
  ingest->max_record_bytes_ = static_cast<size_t>(spec.max_record_bytes);
  ingest->stats_ = stats;
  ingest->clock_ = ctx.clock;
  ingest->event_time_job_ = ctx.event_time;
  if (spec.event_time && !spec.event_time->field.empty()) {
    ingest->time_field_ = spec.event_time->field;
    ingest->time_column_ = spec.schema.IndexOf(ingest->time_field_);
    if (ingest->time_column_ < 0) {
      return Status::InvalidArgument("source '" + spec.name + "': event_time field '" +
                                     ingest->time_field_ + "' is not in its schema");
    }
  }
  if (spec.on_error == spec::OnError::kDeadLetter) {
    WEIR_ASSIGN_OR_RETURN(ingest->dead_letters_, MakeDeadLetterWriter(spec, ctx));
  }
  return ingest;
}

void SourceIngest::SetEventTimes(size_t first_row, RecordBatch* batch) {
  const size_t end = batch->num_rows();
  if (!event_time_job_ || time_column_ < 0) {
    const int64_t now = NowOr0(clock_);
    std::fill(batch->event_time.begin() + static_cast<ptrdiff_t>(first_row),
              batch->event_time.end(), now);
    return;
  }
  const Column& col = batch->columns[static_cast<size_t>(time_column_)];
  size_t nulls = 0;
  for (size_t r = first_row; r < end; ++r) {
    if (col.IsNull(r)) {
      ++nulls;
      continue;
    }
    // Validation allows timestamp and bigint (epoch milliseconds) only.
    batch->event_time[r] =
        col.type() == TypeId::kDouble ? static_cast<int64_t>(col.GetDouble(r)) : col.GetInt(r);
  }
  if (nulls == 0) return;
  // Rare: rebuild the batch without those rows.
  keep_.clear();
  std::vector<uint32_t> kept_rows_of;
  for (size_t r = 0; r < end; ++r) {
    if (r >= first_row && col.IsNull(r)) {
      errors_.push_back({rows_of_[r - first_row],
                         "field '" + time_field_ + "' is null; it holds the event time"});
      continue;
    }
    keep_.push_back(static_cast<uint32_t>(r));
    if (r >= first_row) kept_rows_of.push_back(rows_of_[r - first_row]);
  }
  RecordBatch kept(batch->schema);
  kept.AppendRows(*batch, keep_.data(), keep_.size());
  *batch = std::move(kept);
  rows_of_ = std::move(kept_rows_of);
}

Status SourceIngest::Ingest(const std::vector<std::string_view>& payloads,
                            const std::vector<int32_t>& partition_of,
                            const std::function<RecordPosition(size_t)>& position,
                            RecordBatch* batch, PartitionWatermarks* watermarks,
                            const MetadataFill& metadata) {
  if (payloads.empty()) return Status::OK();
  WEIR_RETURN_IF_ERROR(decoder_->Prepare(payloads));
  const size_t first_row = batch->num_rows();
  RecordBatch* decoded = batch;
  if (payload_batch_) {
    payload_batch_->Clear();
    decoded = &*payload_batch_;
  }
  errors_.clear();
  rows_of_.clear();
  // Records over the limit never reach the decoder (rare: the others are
  // decoded from a second list, and indexes mapped back).
  bool any_oversize = false;
  for (std::string_view p : payloads) any_oversize |= p.size() > max_record_bytes_;
  if (!any_oversize) {
    decoder_->Decode(payloads, decoded, &errors_, &rows_of_);
  } else {
    kept_.clear();
    kept_index_.clear();
    oversize_.clear();
    for (size_t i = 0; i < payloads.size(); ++i) {
      if (payloads[i].size() > max_record_bytes_) {
        oversize_.push_back(static_cast<uint32_t>(i));
      } else {
        kept_.push_back(payloads[i]);
        kept_index_.push_back(static_cast<uint32_t>(i));
      }
    }
    decoder_->Decode(kept_, decoded, &errors_, &rows_of_);
    for (format::DecodeError& e : errors_) e.index = kept_index_[e.index];
    for (uint32_t& r : rows_of_) r = kept_index_[r];
    for (uint32_t i : oversize_) {
      errors_.push_back({i, "record is larger than max_record_bytes (" +
                                std::to_string(max_record_bytes_) + " bytes)"});
    }
  }
  if (payload_batch_) {
    // Payload columns, then each metadata field of each row's record.
    const size_t rows = decoded->num_rows();
    const size_t payload_fields = decoded->columns.size();
    keep_.resize(rows);
    for (size_t r = 0; r < rows; ++r) keep_[r] = static_cast<uint32_t>(r);
    for (size_t c = 0; c < payload_fields; ++c)
      batch->columns[c].AppendRows(decoded->columns[c], keep_.data(), rows);
    for (size_t m = 0; m < metadata_fields_; ++m) {
      Column* col = &batch->columns[payload_fields + m];
      for (size_t r = 0; r < rows; ++r) metadata(rows_of_[r], m, col);
    }
    batch->event_time.resize(batch->event_time.size() + rows, 0);
  }
  SetEventTimes(first_row, batch);

  const size_t end = batch->num_rows();
  if (watermarks != nullptr) {
    for (size_t r = first_row; r < end; ++r) {
      watermarks->Observe(partition_of[rows_of_[r - first_row]], batch->event_time[r]);
    }
    touched_.assign(static_cast<size_t>(watermarks->partitions()), 0);
    for (int32_t p : partition_of) touched_[static_cast<size_t>(p)] = 1;
    for (size_t p = 0; p < touched_.size(); ++p) {
      if (touched_[p]) watermarks->Touch(static_cast<int>(p));
    }
  }
  int64_t bytes = 0;
  for (std::string_view p : payloads) bytes += static_cast<int64_t>(p.size());
  stats_->bytes += bytes;
  stats_->records += static_cast<int64_t>(end - first_row);

  if (errors_.empty()) return Status::OK();
  std::stable_sort(
      errors_.begin(), errors_.end(),
      [](const format::DecodeError& a, const format::DecodeError& b) { return a.index < b.index; });
  switch (on_error_) {
    case spec::OnError::kFail: {
      const format::DecodeError& e = errors_.front();
      return Status::InvalidArgument(position(e.index).ToString() + ": " + e.reason);
    }
    case spec::OnError::kSkip:
      stats_->skipped += static_cast<int64_t>(errors_.size());
      return Status::OK();
    case spec::OnError::kDeadLetter:
      for (const format::DecodeError& e : errors_) {
        // A record over the limit is cut to it: the target may refuse more.
        WEIR_RETURN_IF_ERROR(dead_letters_->Write(payloads[e.index].substr(0, max_record_bytes_),
                                                  position(e.index), e.reason));
        stats_->dead_lettered++;
      }
      return Status::OK();
  }
  return Status::OK();
}

}  // namespace weir::connectors
