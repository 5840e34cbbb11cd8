// Private to worker/connectors: librdkafka helpers the Kafka source, the Kafka
// sink and the Kafka dead-letter target share.
#pragma once

#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/spec/job_spec.h"
#include "common/status.h"

namespace weir::connectors::kafka {

constexpr int kMetadataTimeoutMs = 10'000;

struct HandleDeleter {
  void operator()(rd_kafka_t* rk) const;  // also forgets its LastClientError
};
using Handle = std::unique_ptr<rd_kafka_t, HandleDeleter>;

struct TopicDeleter {
  void operator()(rd_kafka_topic_t* rkt) const { rd_kafka_topic_destroy(rkt); }
};
using TopicHandle = std::unique_ptr<rd_kafka_topic_t, TopicDeleter>;

struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter>;

using Settings = std::vector<std::pair<std::string, std::string>>;

// A client configuration: bootstrap.servers, a log callback that keeps
// warnings and errors, `settings` in order, then the user's `properties`
// (which win). Errors name `what` ("kafka source 'orders'") and the property.
// The caller owns the result until NewHandle takes it.
Result<rd_kafka_conf_t*> NewConf(std::string_view what, const std::string& brokers,
                                 const Settings& settings,
                                 const std::map<std::string, std::string>& properties);

// `properties` with each secret's value read (spec::ResolveSecret) and added
// under its setting's name. Values stay in memory: they are never logged. An
// absent secret is kUnavailable naming `what`, the setting and where it was
// looked for (it may appear by the next attempt, e.g. a mounted secret).
Result<std::map<std::string, std::string>> WithSecrets(
    std::string_view what, std::map<std::string, std::string> properties,
    const spec::Secrets& secrets);

// The connection and security settings (security.*, sasl.*, ssl.*, socket.*,
// ...) of `properties`: what another client of the same cluster needs.
std::map<std::string, std::string> ConnectionSettings(
    const std::map<std::string, std::string>& properties);

// The last warning or error the client logged ("SASL authentication error:
// ..."), or "" when none.
std::string LastClientError(const rd_kafka_t* rk);

// Creates a client; takes ownership of conf (also on failure).
Result<Handle> NewHandle(std::string_view what, rd_kafka_type_t type, rd_kafka_conf_t* conf);

// The partition count of `topic`. A topic the cluster does not have is
// kNotFound naming the topic and the brokers; unreachable brokers are
// kUnavailable. Reads the metadata of all topics: asking for one topic by name
// can auto-create it on brokers configured to do so.
Result<int> PartitionCount(rd_kafka_t* rk, const std::string& topic, const std::string& brokers,
                           int timeout_ms = kMetadataTimeoutMs);

// Asks the brokers to create `topic` when it is missing, through a metadata
// request that allows auto-creation (the dev broker and brokers with
// auto.create.topics.enable do it; others leave it missing), then returns its
// partition count as PartitionCount does. Waits up to timeout_ms for it.
Result<int> PartitionCountCreatingTopic(rd_kafka_t* rk, const std::string& topic,
                                        const std::string& brokers,
                                        int timeout_ms = kMetadataTimeoutMs);

struct ProducerOptions {
  // Non-empty: a transactional producer (transactional.id, and
  // transaction.timeout.ms 15 minutes unless the properties say otherwise);
  // the caller runs InitTransactions before producing.
  std::string transactional_id;
};

// A producer for one topic (enable.idempotence=true, acks=all) that records
// delivery failures. Thread-compatible: one thread at a time.
class Producer {
 public:
  struct Header {
    const char* name;
    std::string_view value;
  };
  // One message for Send(). The key may be null (no key).
  struct Message {
    rd_kafka_topic_t* topic = nullptr;          // null: the producer's topic
    int32_t partition = RD_KAFKA_PARTITION_UA;  // UA: the partitioner chooses by key
    const void* key = nullptr;
    size_t key_len = 0;
    std::string_view value;
    const std::vector<Header>* headers = nullptr;
    void* opaque = nullptr;  // handed back to the delivery hook
  };
  // Sees every delivery report (success or failure) on the thread that calls
  // Poll, Flush or the transaction methods, before failures are recorded.
  using DeliveryHook = void (*)(void* context, const rd_kafka_message_t& msg);

  // `what` names the owner in messages. Fails when the topic does not exist.
  static Result<std::unique_ptr<Producer>> Make(
      std::string what, const std::string& brokers, const std::string& topic,
      const std::map<std::string, std::string>& properties, const ProducerOptions& options = {});
  ~Producer();

  // Queues one message (key may be null: no key; partition by the key with
  // the configured partitioner). Blocks while librdkafka's queue is full.
  // Fails when a previous delivery failed.
  Status Produce(const void* key, size_t key_len, std::string_view value,
                 const std::vector<Header>* headers = nullptr);
  // The same for a message with a topic, partition or opaque of its own.
  Status Send(const Message& m);
  // Serves delivery reports without blocking.
  void Poll() { rd_kafka_poll(rk_.get(), 0); }
  // Waits until every queued message is delivered (or failed).
  Status Flush(int timeout_ms);

  void SetDeliveryHook(DeliveryHook hook, void* context) {
    hook_ = hook;
    hook_context_ = context;
  }

  // Transactions (a producer made with a transactional_id). Errors become
  // Statuses naming the owner; a producer fenced by a newer one with the same
  // transactional.id is kAborted with a message saying so (see FatalStatus).
  Status InitTransactions(int timeout_ms);
  Status BeginTransaction();
  Status CommitTransaction(int timeout_ms);
  Status AbortTransaction(int timeout_ms);
  // OK, or the producer's fatal error (fencing explained) as kAborted.
  Status FatalStatus() const;

  int partition_count() const { return partition_count_; }
  rd_kafka_t* handle() const { return rk_.get(); }
  const std::string& transactional_id() const { return transactional_id_; }

 private:
  Producer() = default;
  static void OnDelivery(rd_kafka_t* rk, const rd_kafka_message_t* msg, void* opaque);
  Status DeliveryStatus() const;
  Status TxnStatus(const std::string& operation, rd_kafka_error_t* error) const;

  std::string what_, topic_, transactional_id_;
  Handle rk_;
  TopicHandle rkt_;
  int partition_count_ = 0;
  int64_t failed_ = 0;
  std::string first_error_;
  DeliveryHook hook_ = nullptr;
  void* hook_context_ = nullptr;
};

}  // namespace weir::connectors::kafka
