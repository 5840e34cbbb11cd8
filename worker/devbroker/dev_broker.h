// DevBroker: an in-process Kafka cluster for development and tests.
//
// It wraps librdkafka's mock cluster (rdkafka_mock.h): real Kafka protocol on
// loopback TCP listeners, so any Kafka client (librdkafka, kcat, the Java
// client) can produce to and consume from it. All data lives in memory and is
// lost when the DevBroker is destroyed. It is NOT a production broker; see
// docs/dev-broker.md for what it does not do (bounded retention, no
// transaction markers, linear fetch scans).
//
// Lifecycle: Start() creates the cluster and its listeners; the brokers run in
// librdkafka's own threads until the DevBroker is destroyed, which closes the
// listeners and frees all data. Clients still connected at that point see
// their connections drop.
//
// Thread-safety: all const methods and CreateTopic() may be called from any
// thread concurrently. The destructor must not race with other calls.
//
// Signals: librdkafka starts threads in Start(). A program that wants to
// receive signals with sigwait() must block them before calling Start() so
// the threads inherit the mask (see main.cc).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

// librdkafka's opaque handle types (rdkafka.h, rdkafka_mock.h), declared here
// so that users of this header need not include librdkafka.
struct rd_kafka_s;
struct rd_kafka_mock_cluster_s;

namespace weir::devbroker {

// A topic to create. Kafka topic names: 1 to 249 characters of [A-Za-z0-9._-],
// not "." or "..".
struct TopicSpec {
  std::string name;
  int partitions = 1;
};

struct DevBrokerOptions {
  int brokers = 1;                // 1..kMaxBrokers
  std::vector<TopicSpec> topics;  // created by Start(), in order
};

inline constexpr int kMaxBrokers = 64;
inline constexpr int kMaxPartitions = 10000;

// Parses "name:partitions" or "name" (1 partition) into a TopicSpec.
// Returns kInvalidArgument for an invalid name or partition count.
Result<TopicSpec> ParseTopicSpec(std::string_view text);

// Returns kInvalidArgument unless `topic` has a valid name and 1..kMaxPartitions
// partitions.
Status ValidateTopicSpec(const TopicSpec& topic);

class DevBroker {
 public:
  // Starts a cluster of options.brokers brokers listening on 127.0.0.1 with
  // ephemeral ports, then creates options.topics. On any error nothing is left
  // running.
  static Result<std::unique_ptr<DevBroker>> Start(const DevBrokerOptions& options);

  DevBroker(const DevBroker&) = delete;
  DevBroker& operator=(const DevBroker&) = delete;
  ~DevBroker();  // Stops the cluster; blocks until its threads have exited.

  // Comma-separated "host:port" list for the clients' bootstrap.servers.
  const std::string& bootstrap_servers() const { return bootstrap_servers_; }
  int broker_count() const { return broker_count_; }

  // Creates `topic` with min(brokers, 3) replicas. Creating a topic that
  // already exists with the same partition count returns OK (so tests may
  // call it repeatedly); if it exists with a different partition count (for
  // instance because a client auto-created it first) returns kAlreadyExists.
  Status CreateTopic(const TopicSpec& topic);

 private:
  DevBroker(rd_kafka_s* handle, rd_kafka_mock_cluster_s* cluster, int broker_count);

  // Partition count of an existing topic, read through a short-lived client.
  Result<int> PartitionCount(const std::string& topic) const;

  rd_kafka_s* handle_;                // owns the cluster's threads
  rd_kafka_mock_cluster_s* cluster_;  // owned; destroyed before handle_
  int broker_count_;
  std::string bootstrap_servers_;
};

}  // namespace weir::devbroker
