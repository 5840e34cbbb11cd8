#include <syslog.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "worker/connectors/kafka_internal.h"

namespace weir::connectors::kafka {
namespace {

// The last warning or error each client logged, so that a call that fails
// with a bare "Broker transport failure" can say why (an authentication or
// TLS handshake failure).
std::mutex last_error_mu;
std::map<const rd_kafka_t*, std::string>& LastErrors() {
  static auto* m = new std::map<const rd_kafka_t*, std::string>();
  return *m;
}

// librdkafka logs from its own threads; notices and debug output are noise.
void LogCallback(const rd_kafka_t* rk, int level, const char* facility, const char* message) {
  if (level > LOG_WARNING) return;
  std::fprintf(stderr, "weir: kafka %s %s: %s\n", rd_kafka_name(rk), facility, message);
  std::lock_guard lock(last_error_mu);
  LastErrors()[rk] = message;
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

Result<std::map<std::string, std::string>> WithSecrets(
    std::string_view what, std::map<std::string, std::string> properties,
    const spec::Secrets& secrets) {
  for (const auto& [name, ref] : secrets) {
    auto value = spec::ResolveSecret(ref);
    if (!value.ok()) {
      return Status::Unavailable(std::string(what) + ": Kafka property '" + name + "' (" +
                                 ref.ToString() + "): " + value.status().message() +
                                 " on this worker");
    }
    properties[name] = std::move(value).value();
  }
  return properties;
}

std::map<std::string, std::string> ConnectionSettings(
    const std::map<std::string, std::string>& properties) {
  static constexpr const char* kPrefixes[] = {
      "security.",   "sasl.",     "ssl.",       "socket.",    "broker.",      "api.version",
      "client.dns.", "metadata.", "reconnect.", "enable.ssl", "retry.backoff"};
  std::map<std::string, std::string> out;
  for (const auto& [name, value] : properties) {
    for (const char* prefix : kPrefixes) {
      if (name.rfind(prefix, 0) == 0) {
        out[name] = value;
        break;
      }
    }
  }
  return out;
}

void HandleDeleter::operator()(rd_kafka_t* rk) const {
  rd_kafka_destroy(rk);
  std::lock_guard lock(last_error_mu);
  LastErrors().erase(rk);
}

std::string LastClientError(const rd_kafka_t* rk) {
  std::lock_guard lock(last_error_mu);
  auto it = LastErrors().find(rk);
  return it == LastErrors().end() ? "" : it->second;
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
    const std::string last = LastClientError(rk);
    return Status::Unavailable("cannot read the metadata of Kafka brokers '" + brokers +
                               "': " + rd_kafka_err2str(err) +
                               (last.empty() ? "" : " (last client error: " + last + ")"));
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

Result<int> PartitionCountCreatingTopic(rd_kafka_t* rk, const std::string& topic,
                                        const std::string& brokers, int timeout_ms) {
  Result<int> count = PartitionCount(rk, topic, brokers, timeout_ms);
  if (count.ok() || count.status().code() != StatusCode::kNotFound) return count;
  // Metadata asked for this one topic by name may auto-create it. A new
  // topic can take a moment to appear (the dev broker sometimes needs a
  // second when idle): ask again until it does or the time is up.
  TopicHandle rkt(rd_kafka_topic_new(rk, topic.c_str(), nullptr));
  if (!rkt) {
    return Status::Internal("cannot create a handle for topic '" + topic +
                            "': " + rd_kafka_err2str(rd_kafka_last_error()));
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    const rd_kafka_metadata_t* md = nullptr;
    if (rd_kafka_metadata(rk, /*all_topics=*/0, rkt.get(), &md, timeout_ms) ==
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_metadata_destroy(md);
    }
    count = PartitionCount(rk, topic, brokers, timeout_ms);
    if (count.ok() || count.status().code() != StatusCode::kNotFound ||
        std::chrono::steady_clock::now() >= deadline) {
      return count;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

Result<std::unique_ptr<Producer>> Producer::Make(
    std::string what, const std::string& brokers, const std::string& topic,
    const std::map<std::string, std::string>& properties, const ProducerOptions& options) {
  std::unique_ptr<Producer> p(new Producer());
  p->what_ = std::move(what);
  p->topic_ = topic;
  p->transactional_id_ = options.transactional_id;
  // At-least-once: idempotence keeps retries from duplicating or reordering
  // within a partition; a failed delivery is reported by Flush.
  Settings settings = {{"enable.idempotence", "true"},
                       {"acks", "all"},
                       {"linger.ms", "5"},
                       {"client.id", "weir-producer"}};
  if (!options.transactional_id.empty()) {
    // A transaction stays open from an epoch's first row until its checkpoint
    // completes: allow 15 minutes, the brokers' usual transaction.max.timeout.ms.
    settings.push_back({"transactional.id", options.transactional_id});
    settings.push_back({"transaction.timeout.ms", "900000"});
  }
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
  hook_ = nullptr;
  if (rk_) rd_kafka_purge(rk_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  rkt_.reset();
  rk_.reset();  // before the members its callbacks use
}

void Producer::OnDelivery(rd_kafka_t* /*rk*/, const rd_kafka_message_t* msg, void* opaque) {
  auto* self = static_cast<Producer*>(opaque);
  if (self->hook_ != nullptr) self->hook_(self->hook_context_, *msg);
  if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
  if (self->failed_++ == 0) {
    self->first_error_ =
        std::string("topic '") + rd_kafka_topic_name(msg->rkt) + "': " + rd_kafka_err2str(msg->err);
  }
}

Status Producer::DeliveryStatus() const {
  if (failed_ == 0) return Status::OK();
  WEIR_RETURN_IF_ERROR(FatalStatus());
  return Status::Unavailable(what_ + ": " + std::to_string(failed_) +
                             " message(s) could not be delivered to " + first_error_);
}

Status Producer::FatalStatus() const {
  char errstr[512];
  rd_kafka_resp_err_t fatal = rd_kafka_fatal_error(rk_.get(), errstr, sizeof(errstr));
  if (fatal == RD_KAFKA_RESP_ERR_NO_ERROR) return Status::OK();
  if (fatal == RD_KAFKA_RESP_ERR__FENCED || fatal == RD_KAFKA_RESP_ERR_PRODUCER_FENCED ||
      fatal == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH) {
    return Status::Aborted(what_ + ": fenced: a newer producer with transactional.id '" +
                           transactional_id_ +
                           "' started (another instance of this sink subtask, after a restart "
                           "or while this one was presumed dead); this instance must stop (" +
                           errstr + ")");
  }
  return Status::Aborted(what_ + ": fatal producer error " + rd_kafka_err2name(fatal) + ": " +
                         errstr);
}

Status Producer::Produce(const void* key, size_t key_len, std::string_view value,
                         const std::vector<Header>* headers) {
  Message m;
  m.key = key;
  m.key_len = key_len;
  m.value = value;
  m.headers = headers;
  return Send(m);
}

Status Producer::Send(const Message& m) {
  WEIR_RETURN_IF_ERROR(DeliveryStatus());
  rd_kafka_topic_t* rkt = m.topic != nullptr ? m.topic : rkt_.get();
  for (;;) {
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (m.headers == nullptr) {
      int rc =
          rd_kafka_produce(rkt, m.partition, RD_KAFKA_MSG_F_COPY, const_cast<char*>(m.value.data()),
                           m.value.size(), m.key, m.key_len, m.opaque);
      if (rc != 0) err = rd_kafka_last_error();
    } else {
      rd_kafka_headers_t* hdrs = rd_kafka_headers_new(m.headers->size());
      for (const Header& h : *m.headers) {
        rd_kafka_header_add(hdrs, h.name, -1, h.value.data(), static_cast<ssize_t>(h.value.size()));
      }
      rd_kafka_vu_t vus[7];
      vus[0].vtype = RD_KAFKA_VTYPE_RKT;
      vus[0].u.rkt = rkt;
      vus[1].vtype = RD_KAFKA_VTYPE_PARTITION;
      vus[1].u.i32 = m.partition;
      vus[2].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
      vus[2].u.i = RD_KAFKA_MSG_F_COPY;
      vus[3].vtype = RD_KAFKA_VTYPE_VALUE;
      vus[3].u.mem.ptr = const_cast<char*>(m.value.data());
      vus[3].u.mem.size = m.value.size();
      vus[4].vtype = RD_KAFKA_VTYPE_KEY;
      vus[4].u.mem.ptr = const_cast<void*>(m.key);
      vus[4].u.mem.size = m.key_len;
      vus[5].vtype = RD_KAFKA_VTYPE_HEADERS;
      vus[5].u.headers = hdrs;
      vus[6].vtype = RD_KAFKA_VTYPE_OPAQUE;
      vus[6].u.ptr = m.opaque;
      rd_kafka_error_t* error = rd_kafka_produceva(rk_.get(), vus, 7);
      if (error != nullptr) {
        err = rd_kafka_error_code(error);
        rd_kafka_error_destroy(error);
        rd_kafka_headers_destroy(hdrs);  // not taken on failure
      }
    }
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return Status::OK();
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      WEIR_RETURN_IF_ERROR(FatalStatus());
      return Status::Unavailable(what_ + ": cannot produce to topic '" + rd_kafka_topic_name(rkt) +
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
  WEIR_RETURN_IF_ERROR(FatalStatus());
  return DeliveryStatus();
}

Status Producer::TxnStatus(const std::string& operation, rd_kafka_error_t* error) const {
  if (error == nullptr) return Status::OK();
  const rd_kafka_resp_err_t code = rd_kafka_error_code(error);
  const std::string text =
      std::string(rd_kafka_error_name(error)) + ": " + rd_kafka_error_string(error);
  const bool fatal = rd_kafka_error_is_fatal(error);
  const bool retriable = rd_kafka_error_is_retriable(error);
  const bool needs_abort = rd_kafka_error_txn_requires_abort(error);
  rd_kafka_error_destroy(error);
  if (fatal || code == RD_KAFKA_RESP_ERR__FENCED) {
    Status st = FatalStatus();
    if (!st.ok()) return st;
    return Status::Aborted(what_ + ": " + operation + " failed fatally: " + text);
  }
  if (needs_abort) {
    return Status::Aborted(what_ + ": " + operation +
                           " failed and the transaction must be aborted: " + text);
  }
  if (retriable) return Status::Unavailable(what_ + ": " + operation + " failed: " + text);
  return Status::Internal(what_ + ": " + operation + " failed: " + text);
}

Status Producer::InitTransactions(int timeout_ms) {
  return TxnStatus("initializing transactions (transactional.id '" + transactional_id_ + "')",
                   rd_kafka_init_transactions(rk_.get(), timeout_ms));
}

Status Producer::BeginTransaction() {
  return TxnStatus("beginning a transaction", rd_kafka_begin_transaction(rk_.get()));
}

Status Producer::CommitTransaction(int timeout_ms) {
  return TxnStatus("committing a transaction", rd_kafka_commit_transaction(rk_.get(), timeout_ms));
}

Status Producer::AbortTransaction(int timeout_ms) {
  return TxnStatus("aborting a transaction", rd_kafka_abort_transaction(rk_.get(), timeout_ms));
}

}  // namespace weir::connectors::kafka
