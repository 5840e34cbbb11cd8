// KafkaSink: writes rows to a Kafka topic (at-least-once).
//
// Contract (on top of connector.h's Sink):
// - One idempotent producer (enable.idempotence=true, acks=all) per sink
//   subtask; the user's `properties` are applied last.
// - Each row is one message: value = the Encoder's output for the sink's
//   format; key = the `key` fields: one field -> its text (a string as is,
//   numbers in decimal, timestamps ISO-8601), several -> a JSON array of the
//   values; no key fields (or a single null one) -> no key. The partition is
//   chosen by librdkafka's configured partitioner on the key (default
//   consistent_random: CRC32 of the key modulo the partition count), so equal
//   keys land in the same partition.
// - Write() queues messages and blocks only while librdkafka's queue is full.
//   A failed delivery (after librdkafka's retries) makes the next Write() or
//   Flush() fail. Flush() waits until every queued message is acknowledged.
// - Open() fails with kNotFound when the topic does not exist.
// Exactly-once (transactions per checkpoint) is not implemented yet.
// Thread-safety: one task thread calls everything.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/format/format.h"
#include "worker/connectors/connector.h"

namespace weir::connectors {

namespace kafka {
class Producer;
}

class KafkaSink final : public Sink {
 public:
  KafkaSink(spec::SinkSpec spec, Schema schema);
  ~KafkaSink() override;

  Status Open(const SinkContext& ctx) override;
  Status Write(const RecordBatch& batch) override;
  Status Flush() override;
  Status Close() override;

 private:
  spec::SinkSpec spec_;
  Schema schema_;
  std::unique_ptr<format::Encoder> encoder_;
  std::unique_ptr<kafka::Producer> producer_;
  std::vector<int> key_columns_;
  std::string key_, value_;  // reused per row
};

}  // namespace weir::connectors
