// weir_kafka_latency: end-to-end latency through a job (tests/bench/latency.py).
// One thread produces JSON records {"id":N,"created_us":T} to IN_TOPIC at
// RATE records per second for SECONDS (T: the wall clock in microseconds
// when the record is handed to librdkafka); another reads OUT_TOPIC
// (read_committed) and takes, for each record, its arrival time minus its
// created_us. Records of the first WARMUP seconds are not counted. Prints
// "sent N received M p50_ms A p90_ms B p99_ms C max_ms D".
//
// Usage: weir_kafka_latency BROKERS IN_TOPIC OUT_TOPIC RATE SECONDS WARMUP
#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "weir_kafka_latency: %s\n", what.c_str());
  std::exit(1);
}

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

rd_kafka_t* Client(rd_kafka_type_t type, const char* brokers,
                   const std::vector<std::pair<const char*, const char*>>& settings) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, sizeof err) != RD_KAFKA_CONF_OK)
    Die(err);
  for (const auto& [k, v] : settings)
    if (rd_kafka_conf_set(conf, k, v, err, sizeof err) != RD_KAFKA_CONF_OK) Die(err);
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof err);
  if (!rk) Die(err);
  return rk;
}

int64_t FieldValue(const char* text, size_t len, const char* name) {
  const std::string s(text, len);
  const size_t at = s.find(name);
  if (at == std::string::npos) return -1;
  return std::strtoll(s.c_str() + at + std::strlen(name), nullptr, 10);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 7) Die("usage: weir_kafka_latency BROKERS IN OUT RATE SECONDS WARMUP");
  const char* brokers = argv[1];
  const char* in = argv[2];
  const char* out = argv[3];
  const double rate = std::atof(argv[4]);
  const double seconds = std::atof(argv[5]);
  const double warmup = std::atof(argv[6]);
  if (rate <= 0 || seconds <= warmup) Die("need RATE > 0 and SECONDS > WARMUP");

  rd_kafka_t* consumer = Client(RD_KAFKA_CONSUMER, brokers,
                                {{"group.id", "weir-kafka-latency"},
                                 {"enable.auto.commit", "false"},
                                 {"auto.offset.reset", "earliest"},
                                 {"isolation.level", "read_committed"},
                                 {"fetch.wait.max.ms", "1"}});
  // Every partition of OUT from its start (a fresh topic per run); assign,
  // not subscribe, so no group rebalance delays the first records.
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_topic_t* out_topic = rd_kafka_topic_new(consumer, out, nullptr);
  if (rd_kafka_metadata(consumer, 0, out_topic, &md, 10'000) != RD_KAFKA_RESP_ERR_NO_ERROR ||
      md->topic_cnt != 1 || md->topics[0].err)
    Die(std::string("no metadata for topic ") + out);
  rd_kafka_topic_partition_list_t* parts =
      rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
  for (int p = 0; p < md->topics[0].partition_cnt; ++p)
    rd_kafka_topic_partition_list_add(parts, out, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_metadata_destroy(md);
  rd_kafka_topic_destroy(out_topic);
  if (rd_kafka_assign(consumer, parts)) Die("cannot assign");
  rd_kafka_topic_partition_list_destroy(parts);

  const int64_t total = static_cast<int64_t>(rate * seconds);
  const int64_t skip = static_cast<int64_t>(rate * warmup);
  std::atomic<bool> done{false};
  std::vector<double> latencies_ms;
  latencies_ms.reserve(static_cast<size_t>(total));
  int64_t received = 0;
  std::thread reader([&] {
    const auto give_up =
        std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds + 30);
    while (received < total && std::chrono::steady_clock::now() < give_up) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 50);
      if (!m) {
        if (done && received >= total) break;
        continue;
      }
      const int64_t now = NowMicros();
      if (!m->err && m->payload) {
        const auto* text = static_cast<const char*>(m->payload);
        const int64_t id = FieldValue(text, m->len, "\"id\":");
        const int64_t created = FieldValue(text, m->len, "\"created_us\":");
        if (id >= skip && created > 0)
          latencies_ms.push_back(static_cast<double>(now - created) / 1000.0);
        ++received;
      }
      rd_kafka_message_destroy(m);
    }
  });

  rd_kafka_t* producer = Client(RD_KAFKA_PRODUCER, brokers, {{"linger.ms", "1"}, {"acks", "all"}});
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(producer, in, nullptr);
  const auto start = std::chrono::steady_clock::now();
  char buf[96];
  for (int64_t i = 0; i < total; ++i) {
    const auto due = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                 std::chrono::duration<double>(static_cast<double>(i) / rate));
    std::this_thread::sleep_until(due);
    const int n = std::snprintf(buf, sizeof buf, "{\"id\":%lld,\"created_us\":%lld}",
                                static_cast<long long>(i), static_cast<long long>(NowMicros()));
    while (rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, buf,
                            static_cast<size_t>(n), nullptr, 0, nullptr) != 0)
      rd_kafka_poll(producer, 1);
    rd_kafka_poll(producer, 0);
  }
  rd_kafka_flush(producer, 10'000);
  done = true;
  reader.join();
  std::sort(latencies_ms.begin(), latencies_ms.end());
  auto at = [&](double q) {
    if (latencies_ms.empty()) return -1.0;
    return latencies_ms[std::min(
        latencies_ms.size() - 1,
        static_cast<size_t>(q * static_cast<double>(latencies_ms.size())))];
  };
  std::printf("sent %lld received %lld p50_ms %.2f p90_ms %.2f p99_ms %.2f max_ms %.2f\n",
              static_cast<long long>(total), static_cast<long long>(received), at(0.5), at(0.9),
              at(0.99), latencies_ms.empty() ? -1.0 : latencies_ms.back());
  rd_kafka_topic_destroy(rkt);
  rd_kafka_destroy(producer);
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  return received == total ? 0 : 2;
}
