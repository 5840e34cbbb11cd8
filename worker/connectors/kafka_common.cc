#include <syslog.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "worker/connectors/kafka_internal.h"

namespace weir::connectors::kafka {
namespace {

// librdkafka logs from its own threads; notices and debug output are noise.
void LogCallback(const rd_kafka_t* rk, int level, const char* facility, const char* message) {
  if (level > LOG_WARNING) return;
  std::fprintf(stderr, "weir: kafka %s %s: %s\n", rd_kafka_name(rk), facility, message);
}

Status SetConf(std::string_view what, rd_kafka_conf_t* conf, const std::string& name,
               const std::string& value) {
  char errstr[512];
  if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), errstr, sizeof(errstr)) !=
      RD_KAFKA_CONF_OK) {
    return Status::InvalidArgument(std::string(what) + ": Kafka property '" + name +
                                   "': " + errstr);
  }
  return Status::OK();
}

}  // namespace

Result<rd_kafka_conf_t*> NewConf(std::string_view what, const std::string& brokers,
                                 const Settings& settings,
                                 const std::map<std::string, std::string>& properties) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set_log_cb(conf, LogCallback);
  Status st = SetConf(what, conf, "bootstrap.servers", brokers);
  for (const auto& [name, value] : settings) {
    if (!st.ok()) break;
    st = SetConf(what, conf, name, value);
  }
  for (const auto& [name, value] : properties) {
    if (!st.ok()) break;
    st = SetConf(what, conf, name, value);
  }
  if (!st.ok()) {
    rd_kafka_conf_destroy(conf);
    return st;
  }
  return conf;
}

Result<Handle> NewHandle(std::string_view what, rd_kafka_type_t type, rd_kafka_conf_t* conf) {
  char errstr[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);  // rd_kafka_new takes it only on success
    return Status::InvalidArgument(std::string(what) +
                                   ": cannot create the Kafka client: " + errstr);
  }
  return Handle(rk);
}

Result<int> PartitionCount(rd_kafka_t* rk, const std::string& topic, const std::string& brokers,
                           int timeout_ms) {
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk, /*all_topics=*/1, nullptr, &md, timeout_ms);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::Unavailable("cannot read the metadata of Kafka brokers '" + brokers +
                               "': " + rd_kafka_err2str(err));
  }
  Result<int> result =
      Status::NotFound("Kafka topic '" + topic + "' does not exist on brokers '" + brokers + "'");
  for (int i = 0; i < md->topic_cnt; ++i) {
    const rd_kafka_metadata_topic_t& t = md->topics[i];
    if (topic != t.topic) continue;
    if (t.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (t.err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
        result = Status::Unavailable("Kafka topic '" + topic + "' on brokers '" + brokers +
                                     "': " + rd_kafka_err2str(t.err));
      }
    } else if (t.partition_cnt > 0) {
      result = t.partition_cnt;
    }
    break;
  }
  rd_kafka_metadata_destroy(md);
  return result;
}

Result<std::unique_ptr<Producer>> Producer::Make(
    std::string what, const std::string& brokers, const std::string& topic,
    const std::map<std::string, std::string>& properties) {
  std::unique_ptr<Producer> p(new Producer());
  p->what_ = std::move(what);
  p->topic_ = topic;
  // At-least-once: idempotence keeps retries from duplicating or reordering
  // within a partition; a failed delivery is reported by Flush.
  Settings settings = {{"enable.idempotence", "true"},
                       {"acks", "all"},
                       {"linger.ms", "5"},
                       {"client.id", "weir-producer"}};
  WEIR_ASSIGN_OR_RETURN(rd_kafka_conf_t * conf, NewConf(p->what_, brokers, settings, properties));
  rd_kafka_conf_set_dr_msg_cb(conf, &Producer::OnDelivery);
  rd_kafka_conf_set_opaque(conf, p.get());
  WEIR_ASSIGN_OR_RETURN(p->rk_, NewHandle(p->what_, RD_KAFKA_PRODUCER, conf));
  auto count = PartitionCount(p->rk_.get(), topic, brokers);
  if (!count.ok()) return Status(count.status().code(), p->what_ + ": " + count.status().message());
  p->partition_count_ = *count;
  p->rkt_.reset(rd_kafka_topic_new(p->rk_.get(), topic.c_str(), nullptr));
  if (!p->rkt_) {
    return Status::Internal(p->what_ + ": cannot create a handle for topic '" + topic +
                            "': " + rd_kafka_err2str(rd_kafka_last_error()));
  }
  return p;
}

Producer::~Producer() {
  // Undelivered messages are dropped: Flush() is where delivery is awaited.
  if (rk_) rd_kafka_purge(rk_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  rkt_.reset();
  rk_.reset();  // before the members its callbacks use
}

void Producer::OnDelivery(rd_kafka_t* /*rk*/, const rd_kafka_message_t* msg, void* opaque) {
  if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
  auto* self = static_cast<Producer*>(opaque);
  if (self->failed_++ == 0) self->first_error_ = rd_kafka_err2str(msg->err);
}

Status Producer::DeliveryStatus() const {
  if (failed_ == 0) return Status::OK();
  return Status::Unavailable(what_ + ": " + std::to_string(failed_) +
                             " message(s) could not be delivered to topic '" + topic_ +
                             "': " + first_error_);
}

Status Producer::Produce(const void* key, size_t key_len, std::string_view value,
                         const std::vector<Header>* headers) {
  WEIR_RETURN_IF_ERROR(DeliveryStatus());
  for (;;) {
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (headers == nullptr) {
      int rc =
          rd_kafka_produce(rkt_.get(), RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY,
                           const_cast<char*>(value.data()), value.size(), key, key_len, nullptr);
      if (rc != 0) err = rd_kafka_last_error();
    } else {
      rd_kafka_headers_t* hdrs = rd_kafka_headers_new(headers->size());
      for (const Header& h : *headers) {
        rd_kafka_header_add(hdrs, h.name, -1, h.value.data(), static_cast<ssize_t>(h.value.size()));
      }
      rd_kafka_vu_t vus[6];
      vus[0].vtype = RD_KAFKA_VTYPE_RKT;
      vus[0].u.rkt = rkt_.get();
      vus[1].vtype = RD_KAFKA_VTYPE_PARTITION;
      vus[1].u.i32 = RD_KAFKA_PARTITION_UA;
      vus[2].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
      vus[2].u.i = RD_KAFKA_MSG_F_COPY;
      vus[3].vtype = RD_KAFKA_VTYPE_VALUE;
      vus[3].u.mem.ptr = const_cast<char*>(value.data());
      vus[3].u.mem.size = value.size();
      vus[4].vtype = RD_KAFKA_VTYPE_KEY;
      vus[4].u.mem.ptr = const_cast<void*>(key);
      vus[4].u.mem.size = key_len;
      vus[5].vtype = RD_KAFKA_VTYPE_HEADERS;
      vus[5].u.headers = hdrs;
      rd_kafka_error_t* error = rd_kafka_produceva(rk_.get(), vus, 6);
      if (error != nullptr) {
        err = rd_kafka_error_code(error);
        rd_kafka_error_destroy(error);
        rd_kafka_headers_destroy(hdrs);  // not taken on failure
      }
    }
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return Status::OK();
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      return Status::Unavailable(what_ + ": cannot produce to topic '" + topic_ +
                                 "': " + rd_kafka_err2str(err));
    }
    // Backpressure: wait for deliveries to make room.
    rd_kafka_poll(rk_.get(), 50);
    WEIR_RETURN_IF_ERROR(DeliveryStatus());
  }
}

Status Producer::Flush(int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (rd_kafka_outq_len(rk_.get()) > 0) {
    rd_kafka_flush(rk_.get(), 100);
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::Unavailable(what_ + ": " + std::to_string(rd_kafka_outq_len(rk_.get())) +
                                 " message(s) to topic '" + topic_ + "' not acknowledged within " +
                                 std::to_string(timeout_ms) + " ms");
    }
  }
  rd_kafka_poll(rk_.get(), 0);
  char errstr[512];
  if (rd_kafka_resp_err_t fatal = rd_kafka_fatal_error(rk_.get(), errstr, sizeof(errstr))) {
    return Status::Aborted(what_ + ": fatal producer error " + rd_kafka_err2name(fatal) + ": " +
                           errstr);
  }
  return DeliveryStatus();
}

}  // namespace weir::connectors::kafka
