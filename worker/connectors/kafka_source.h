// KafkaSource: reads a Kafka (or Redpanda) topic with librdkafka.
//
// Contract (on top of connector.h's Source):
// - No consumer-group subscription: Open() reads the topic's partition count
//   from the cluster metadata and assigns this subtask partitions
//   subtask, subtask+P, subtask+2P... explicitly. Offsets are the engine's:
//   nothing is committed to Kafka (enable.auto.commit=false). Offsets() gives
//   the next offset to read per assigned partition (for checkpoints);
//   SetStartOffsets(), called before Open(), makes those partitions start
//   there; the others start at `start` (earliest or latest), resolved to
//   concrete offsets at Open(). A start offset below the partition's earliest
//   offset (deleted by retention) starts at the earliest, with a warning.
// - Positions (checkpoints): SnapshotPosition() is the topic and, per
//   assigned partition, the next offset (and with end_at_latest the end
//   offset fixed at the first Open, so a restored bounded source ends where
//   the original would have). RestorePositions() takes the positions of every
//   old subtask and keeps the partitions assigned to this subtask at Open,
//   whatever the old parallelism was; partitions found in no position start
//   at `start`. A position for another topic fails with kFailedPrecondition.
//   Encoding: u8 version (1), bytes topic, u8 flags (1: end offsets), varint
//   n, then n x (varint partition, zigzag next offset[, zigzag end offset]).
// - isolation.level=read_committed.
// - end: latest (end_at_latest) makes the source bounded: the end offsets are
//   the partitions' high watermarks at Open(); a partition ends when its next
//   offset reaches its end (later records are not delivered), and Poll returns
//   kEndOfInput once every assigned partition has ended (a subtask with no
//   partitions ends at once).
// - Poll() decodes all messages it got as one batch; each row's event time is
//   its event_time field (a null one makes the record malformed), or the
//   clock's time. Watermarks: one PartitionWatermarks partition per assigned
//   Kafka partition; ended partitions stop holding the watermark back.
// - Malformed records: "topic T partition P offset O: reason" (on_error
//   fail: the Status of Poll; dead_letter: produced or written with that
//   position, see connectors_internal.h).
// - A missing topic fails Open() with kNotFound naming the topic and the
//   brokers; unreachable brokers with kUnavailable.
// Thread-safety: one task thread calls everything.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "worker/connectors/connector.h"

struct rd_kafka_s;
struct rd_kafka_message_s;

namespace weir::connectors {

class SourceIngest;

class KafkaSource final : public Source {
 public:
  explicit KafkaSource(spec::SourceSpec spec);
  ~KafkaSource() override;

  // (partition, next offset) pairs; partitions not assigned to this subtask
  // are ignored. Call before Open().
  void SetStartOffsets(std::vector<std::pair<int32_t, int64_t>> offsets);

  Status Open(const SourceContext& ctx) override;
  Result<PollState> Poll(RecordBatch* batch, int max_rows, int timeout_ms) override;
  WatermarkStatus Watermark() override;
  Result<std::string> SnapshotPosition() override;
  Status RestorePositions(const std::vector<std::string>& positions) override;
  void Close() override;

  // (partition, next offset to read) for every assigned partition, in
  // partition order. Valid after Open().
  std::vector<std::pair<int32_t, int64_t>> Offsets() const;
  const std::vector<int32_t>& partitions() const { return partitions_; }
  int partition_count() const { return partition_count_; }

 private:
  // Appends metadata field `f` of message `m` to `out`.
  void AppendMetadata(rd_kafka_message_s* m, const spec::MetadataField& f, Column* out);
  // Index of Kafka partition p in partitions_, or -1.
  int LocalIndex(int32_t p) const;
  void EndPartition(int local);
  Status HandleConsumerError(const rd_kafka_message_s* msg);
  void UpdateLag();  // stats_.lag, at most once a second
  int64_t lag_updated_ms_ = -1'000'000;

  spec::SourceSpec spec_;
  SourceContext ctx_;
  std::vector<std::pair<int32_t, int64_t>> start_offsets_;
  std::vector<std::pair<int32_t, int64_t>> restored_end_offsets_;  // end_at_latest
  bool opened_ = false;
  rd_kafka_s* rk_ = nullptr;
  int partition_count_ = 0;
  std::vector<int32_t> partitions_;   // assigned Kafka partitions
  std::vector<int64_t> next_offset_;  // per assigned partition
  std::vector<int64_t> end_offset_;   // per assigned partition (end_at_latest)
  std::vector<uint8_t> ended_;        // per assigned partition
  int ended_count_ = 0;
  std::unique_ptr<SourceIngest> ingest_;
  std::optional<PartitionWatermarks> watermarks_;
  // Reused per Poll.
  std::vector<rd_kafka_message_s*> messages_;
  std::vector<std::string_view> payloads_;
  std::vector<int32_t> partition_of_;
};

}  // namespace weir::connectors
