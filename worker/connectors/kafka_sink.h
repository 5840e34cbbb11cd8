// KafkaSink: writes rows to a Kafka topic, at least once or exactly once.
//
// Contract (on top of connector.h's Sink):
// - Each row is one message: value = the Encoder's output for the sink's
//   format; key = the `key` fields: one field -> its text (a string as is,
//   numbers in decimal, timestamps ISO-8601), several -> a JSON array of the
//   values; no key fields (or a single null one) -> no key. The partition is
//   chosen by librdkafka's configured partitioner on the key (default
//   consistent_random: CRC32 of the key modulo the partition count), so equal
//   keys land in the same partition.
// - Open() fails with kNotFound when the topic does not exist. The user's
//   `properties` are librdkafka settings applied last, except the `weir.*`
//   ones below, which the sink reads itself.
//
// delivery: at_least_once. One idempotent producer (enable.idempotence=true,
// acks=all) per sink subtask. Write() queues messages and blocks only while
// librdkafka's queue is full. A failed delivery (after librdkafka's retries)
// makes the next Write() or Flush() fail. Flush(), and so PreCommit(), waits
// until every queued message is acknowledged. No transactions, no state.
//
// delivery: exactly_once (shared/design/architecture.md, "Checkpoints and
// exactly-once"). Needs checkpoint.mode exactly_once (the validator checks).
// - Identity and fencing: one transactional producer per sink subtask,
//   transactional.id = "weir-<job>-<sink>-<subtask>" (a user-set
//   transactional.id is refused). Open() runs init_transactions: on a real
//   broker that fences every older producer with the same id (their next
//   request fails) and aborts the transaction they left open. A fenced sink
//   reports kAborted with a message that says it was fenced and names the id.
// - Epochs: the rows written between barrier N-1 and barrier N form epoch N;
//   epoch N is one Kafka transaction, committed only by Commit(N), i.e. once
//   checkpoint N is complete. Epochs with no rows open no transaction.
// - One open transaction per producer (librdkafka allows no more): the
//   oldest uncommitted epoch owns the transaction and its rows are produced
//   as they are written. When PreCommit(N) has closed epoch N and Commit(N)
//   has not come yet, the rows of epoch N+1 are kept in memory only; Commit(N)
//   commits N, begins N+1's transaction and sends what was kept. Sending the
//   head epoch early overlaps the network with processing, and Commit(N)
//   costs one marker and one EndTxn.
// - Write-ahead: every uncommitted epoch's encoded messages (key, value, and
//   the partition they went to, once known) stay in memory until its commit,
//   and PreCommit(N) returns them as the checkpoint state: all uncommitted
//   epochs up to N (normally just N; more when a commit was skipped, in
//   which case Commit(M) commits every epoch up to M, in order). The memory is
//   bounded by `weir.max.uncommitted.bytes` (default 128 MiB, keys + values
//   + 16 bytes a message): a Write() that would go past it fails with
//   kResourceExhausted. It cannot wait instead: the commit it would wait for
//   is called by the same task thread, after the barrier that follows.
// - Marker: Commit(N) produces, inside epoch N's transaction and just before
//   committing it, one message to the marker topic (`weir.marker.topic`,
//   default "<topic>.weir-markers"; partition = subtask % its partitions),
//   key = the transactional.id, value = {"job","sink","subtask","epoch"} as
//   JSON. It is committed atomically with the epoch's rows, so a committed
//   marker for epoch E (or a later one: epochs commit in order) proves that
//   epoch E landed. A separate topic, not a header on the output topic,
//   keeps the output clean for readers that are not weir; compaction
//   (cleanup.policy=compact) may keep it small, as the newest marker per key
//   is all recovery needs. Open() asks the brokers to create it when missing
//   (the dev broker does; a broker without auto-creation needs it created
//   beforehand: 1 partition, compacted). The marker is produced at Commit,
//   not at PreCommit, so that a transaction that never reached Commit has no
//   marker at all, even on brokers that would show its data.
// - Recovery: Open() with restore {N, state}: init_transactions (fences the
//   previous incarnation, aborts its open transaction), then reads the marker
//   partition with a read_committed consumer from an offset the state keeps
//   (the partition's end before the epoch's marker could exist) up to its
//   end; every epoch in the state that has no committed marker (this id,
//   epoch >= E) is sent again from the state, in a transaction of its own
//   with its marker, and committed. Epochs after N were never committed
//   (Commit follows a complete checkpoint only); on a real broker they were
//   aborted and are never visible.
// - Close() aborts the open transaction. Rows not covered by a committed
//   checkpoint are discarded (a restore re-sends pre-committed ones) and
//   Close() says so with kAborted; after a final checkpoint's commit it has
//   nothing to discard and returns OK. The destructor aborts too, best effort.
// - The dev broker (librdkafka's mock) writes no transaction markers: an
//   aborted transaction's rows stay visible to read_committed readers there,
//   and it does not fence by itself. The protocol (init, fencing, one
//   transaction per epoch, marker, re-send) is tested against it; end-to-end
//   exactly-once needs a real Kafka or Redpanda.
// Thread-safety: one task thread calls everything.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/format/format.h"
#include "worker/connectors/connector.h"

struct rd_kafka_topic_s;
struct rd_kafka_message_s;

namespace weir::connectors {

namespace kafka {
class Producer;
}

class KafkaSink final : public Sink {
 public:
  // Defaults of the exactly-once settings (see above).
  static constexpr int64_t kDefaultMaxUncommittedBytes = int64_t{128} << 20;
  static std::string DefaultMarkerTopic(const std::string& topic) {
    return topic + ".weir-markers";
  }
  // "weir-<job>-<sink>-<subtask>".
  static std::string TransactionalId(const std::string& job, const std::string& sink, int subtask);

  KafkaSink(spec::SinkSpec spec, Schema schema);
  ~KafkaSink() override;

  Status Open(const SinkContext& ctx) override;
  Status Write(const RecordBatch& batch) override;
  Status Flush() override;
  Result<std::string> PreCommit(int64_t checkpoint_id) override;
  Status Commit(int64_t checkpoint_id) override;
  Status Close() override;

  // Exactly-once: how many epochs of the restored state the last Open() sent
  // again because their marker was missing (for tests and logs).
  int resent_epochs() const { return resent_epochs_; }

 private:
  // One encoded message of an uncommitted epoch.
  struct Message {
    std::string key;
    std::string value;
    bool has_key = false;
    int32_t partition = -1;  // where it went, once a delivery report said; -1: not known
  };
  // An epoch not committed yet. id 0: the open epoch (rows since the last
  // barrier); otherwise the checkpoint that closed it.
  struct Epoch {
    int64_t id = 0;
    int64_t marker_from = -1;  // marker partition offset its marker cannot precede; -1: unknown
    std::deque<Message> messages;
    size_t sent = 0;  // messages produced into the open transaction
    int64_t bytes = 0;
  };

  bool exactly_once() const { return spec_.delivery == spec::Delivery::kExactlyOnce; }
  Status OpenTransactional(const SinkContext& ctx, std::map<std::string, std::string> properties);
  Status Restore(const SinkRestore& restore);
  // Sets next_marker_from_ to the marker partition's end, when it can.
  Status QueryMarkerEnd();
  // Produces the head epoch's unsent messages (beginning its transaction).
  Status SendHead();
  // Commits every pre-committed epoch with id <= checkpoint_id, in order.
  Status CommitUpTo(int64_t checkpoint_id);
  // The highest epoch whose marker for `txn_id` is committed at or after
  // offset `from` of the marker partition (0: none); sets *end to the
  // partition's end.
  Result<int64_t> LandedEpoch(const std::string& txn_id, int64_t from, int64_t* end);
  std::string MarkerValue(int64_t epoch) const;
  std::string EncodeState() const;
  static void OnDelivery(void* self, const rd_kafka_message_s& msg);
  Status Fail(Status st);  // remembers the first error: the sink is unusable after it
  void ReleaseProducer();

  spec::SinkSpec spec_;
  Schema schema_;
  std::string what_;
  std::unique_ptr<format::Encoder> encoder_;
  std::unique_ptr<kafka::Producer> producer_;
  std::vector<int> key_columns_;
  std::string key_, value_;  // reused per row

  // Exactly-once only.
  std::string job_, txn_id_, marker_topic_;
  std::map<std::string, std::string> reader_properties_;  // the marker reader's
  int subtask_ = 0;
  int32_t marker_partition_ = 0;
  rd_kafka_topic_s* marker_rkt_ = nullptr;  // owned; destroyed before producer_
  int64_t max_uncommitted_bytes_ = kDefaultMaxUncommittedBytes;
  std::deque<Epoch> epochs_;  // oldest first; the back one is open (id 0)
  bool txn_open_ = false;     // a transaction is open for epochs_.front()
  int64_t uncommitted_bytes_ = 0;
  int64_t committed_id_ = 0;         // newest checkpoint committed (or restored)
  int64_t next_marker_from_ = -1;    // lower bound for the next marker's offset
  int64_t last_marker_offset_ = -1;  // set by the marker's delivery report
  int resent_epochs_ = 0;
  Status failed_;
};

}  // namespace weir::connectors
