#include "worker/devbroker/dev_broker.h"

#include <librdkafka/rdkafka.h>
// rdkafka_mock.h must come after rdkafka.h.
#include <librdkafka/rdkafka_mock.h>
#include <syslog.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <utility>

namespace weir::devbroker {
namespace {

constexpr int kMaxTopicNameLength = 249;
constexpr int kMetadataTimeoutMs = 5000;

// librdkafka logs through this instead of its default stderr logger. The mock
// cluster's own handle never connects anywhere, so its notice about having no
// bootstrap.servers is noise; warnings and errors are kept.
void LogCallback(const rd_kafka_t* /*rk*/, int level, const char* facility, const char* message) {
  if (level > LOG_WARNING) return;
  // Also used in-process (weir local), so the prefix names the component,
  // not a binary.
  std::fprintf(stderr, "dev broker: librdkafka %s: %s\n", facility, message);
}

// Sets one configuration property or returns kInternal (the names used here
// are fixed, so a failure means an incompatible librdkafka).
Status SetConf(rd_kafka_conf_t* conf, const char* name, const char* value) {
  char errstr[512];
  if (rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
    return Status::Internal(std::string("librdkafka configuration ") + name + ": " + errstr);
  }
  return Status::OK();
}

// A new client handle (producer type; it never produces). `bootstrap_servers`
// may be empty for the handle that hosts the mock cluster.
Result<rd_kafka_t*> NewHandle(const std::string& bootstrap_servers) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set_log_cb(conf, LogCallback);
  Status st = SetConf(conf, "client.id", "weir-dev-broker");
  if (st.ok() && !bootstrap_servers.empty()) {
    st = SetConf(conf, "bootstrap.servers", bootstrap_servers.c_str());
  }
  if (!st.ok()) {
    rd_kafka_conf_destroy(conf);
    return st;
  }
  char errstr[512];
  // On success rd_kafka_new takes ownership of conf; on failure it does not.
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return Status::Internal(std::string("cannot create librdkafka handle: ") + errstr);
  }
  return rk;
}

bool IsTopicNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

}  // namespace

Status ValidateTopicSpec(const TopicSpec& topic) {
  const std::string& name = topic.name;
  if (name.empty()) return Status::InvalidArgument("topic name is empty");
  if (name.size() > kMaxTopicNameLength) {
    return Status::InvalidArgument("topic name is longer than 249 characters: " + name);
  }
  if (name == "." || name == "..") {
    return Status::InvalidArgument("topic name cannot be \".\" or \"..\"");
  }
  if (!std::all_of(name.begin(), name.end(), IsTopicNameChar)) {
    return Status::InvalidArgument("topic name \"" + name +
                                   "\" has characters other than A-Z a-z 0-9 . _ -");
  }
  if (topic.partitions < 1 || topic.partitions > kMaxPartitions) {
    return Status::InvalidArgument("topic \"" + name + "\": partition count must be 1.." +
                                   std::to_string(kMaxPartitions) + ", not " +
                                   std::to_string(topic.partitions));
  }
  return Status::OK();
}

Result<TopicSpec> ParseTopicSpec(std::string_view text) {
  TopicSpec spec;
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    spec.name = std::string(text);
  } else {
    spec.name = std::string(text.substr(0, colon));
    std::string_view count = text.substr(colon + 1);
    const char* end = count.data() + count.size();
    auto [ptr, ec] = std::from_chars(count.data(), end, spec.partitions);
    if (count.empty() || ec != std::errc() || ptr != end) {
      return Status::InvalidArgument("topic \"" + std::string(text) +
                                     "\": expected NAME or NAME:PARTITIONS with a decimal count");
    }
  }
  WEIR_RETURN_IF_ERROR(ValidateTopicSpec(spec));
  return spec;
}

Result<std::unique_ptr<DevBroker>> DevBroker::Start(const DevBrokerOptions& options) {
  if (options.brokers < 1 || options.brokers > kMaxBrokers) {
    return Status::InvalidArgument("broker count must be 1.." + std::to_string(kMaxBrokers) +
                                   ", not " + std::to_string(options.brokers));
  }
  for (const TopicSpec& topic : options.topics) {
    WEIR_RETURN_IF_ERROR(ValidateTopicSpec(topic));
  }

  WEIR_ASSIGN_OR_RETURN(rd_kafka_t * rk, NewHandle(""));
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(rk, options.brokers);
  if (cluster == nullptr) {
    rd_kafka_destroy(rk);
    return Status::Internal("cannot start the mock Kafka cluster (listener setup failed)");
  }
  // From here on the destructor releases both handles.
  std::unique_ptr<DevBroker> broker(new DevBroker(rk, cluster, options.brokers));
  for (const TopicSpec& topic : options.topics) {
    WEIR_RETURN_IF_ERROR(broker->CreateTopic(topic));
  }
  return broker;
}

DevBroker::DevBroker(rd_kafka_s* handle, rd_kafka_mock_cluster_s* cluster, int broker_count)
    : handle_(handle),
      cluster_(cluster),
      broker_count_(broker_count),
      bootstrap_servers_(rd_kafka_mock_cluster_bootstraps(cluster)) {}

DevBroker::~DevBroker() {
  // The cluster's thread belongs to handle_, so the cluster goes first.
  rd_kafka_mock_cluster_destroy(cluster_);
  rd_kafka_destroy(handle_);
}

Status DevBroker::CreateTopic(const TopicSpec& topic) {
  WEIR_RETURN_IF_ERROR(ValidateTopicSpec(topic));
  // Same replication as the mock's auto-created topics.
  const int replication_factor = std::min(broker_count_, 3);
  // The request is executed on the cluster's thread; this call waits for it.
  rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(cluster_, topic.name.c_str(),
                                                       topic.partitions, replication_factor);
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return Status::OK();
  if (err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
    return Status::Internal("creating topic \"" + topic.name + "\": " + rd_kafka_err2str(err));
  }
  WEIR_ASSIGN_OR_RETURN(int existing, PartitionCount(topic.name));
  if (existing != topic.partitions) {
    return Status(StatusCode::kAlreadyExists, "topic \"" + topic.name + "\" already exists with " +
                                                  std::to_string(existing) + " partitions, not " +
                                                  std::to_string(topic.partitions));
  }
  return Status::OK();
}

Result<int> DevBroker::PartitionCount(const std::string& topic) const {
  WEIR_ASSIGN_OR_RETURN(rd_kafka_t * rk, NewHandle(bootstrap_servers_));
  const rd_kafka_metadata_t* metadata = nullptr;
  // All topics: asking for one topic by name could auto-create it.
  rd_kafka_resp_err_t err =
      rd_kafka_metadata(rk, /*all_topics=*/1, nullptr, &metadata, kMetadataTimeoutMs);
  Result<int> result = Status::NotFound("topic \"" + topic + "\" is not in the cluster metadata");
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    result = Status::Unavailable("reading metadata from the mock cluster: " +
                                 std::string(rd_kafka_err2str(err)));
  } else {
    for (int i = 0; i < metadata->topic_cnt; ++i) {
      const rd_kafka_metadata_topic_t& t = metadata->topics[i];
      if (topic == t.topic && t.err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        result = t.partition_cnt;
        break;
      }
    }
    rd_kafka_metadata_destroy(metadata);
  }
  rd_kafka_destroy(rk);
  return result;
}

}  // namespace weir::devbroker
