// weir_kafka_loop: the physical limit for weir's Kafka end-to-end benchmark
// (tests/bench/kafka_e2e.py): a plain librdkafka program that reads every
// message of a topic up to its end offsets as they are at the start and
// produces each value to another topic, with the producer settings weir's
// at-least-once Kafka sink uses (idempotent, acks=all, linger.ms=5). No
// decoding, no batching beyond librdkafka's own, one thread.
//
// Usage: weir_kafka_loop BROKERS IN_TOPIC OUT_TOPIC
// Prints one line: "messages N wall_s W cpu_s C".
#include <librdkafka/rdkafka.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "weir_kafka_loop: %s\n", what.c_str());
  std::exit(1);
}

rd_kafka_conf_t* Conf(const char* brokers,
                      const std::vector<std::pair<const char*, const char*>>& settings) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, sizeof err) != RD_KAFKA_CONF_OK)
    Die(err);
  for (const auto& [k, v] : settings)
    if (rd_kafka_conf_set(conf, k, v, err, sizeof err) != RD_KAFKA_CONF_OK) Die(err);
  return conf;
}

double CpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) Die("usage: weir_kafka_loop BROKERS IN_TOPIC OUT_TOPIC");
  const char* brokers = argv[1];
  const char* in = argv[2];
  const char* out = argv[3];
  char err[512];
  rd_kafka_t* consumer = rd_kafka_new(RD_KAFKA_CONSUMER,
                                      Conf(brokers, {{"group.id", "weir-kafka-loop"},
                                                     {"enable.auto.commit", "false"},
                                                     {"enable.partition.eof", "true"},
                                                     {"auto.offset.reset", "earliest"},
                                                     {"fetch.wait.max.ms", "10"}}),
                                      err, sizeof err);
  if (!consumer) Die(err);
  rd_kafka_t* producer = rd_kafka_new(
      RD_KAFKA_PRODUCER,
      Conf(brokers, {{"enable.idempotence", "true"}, {"acks", "all"}, {"linger.ms", "5"}}), err,
      sizeof err);
  if (!producer) Die(err);

  const auto start = std::chrono::steady_clock::now();
  const double cpu0 = CpuSeconds();
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(consumer, in, nullptr);
  if (rd_kafka_metadata(consumer, 0, rkt, &md, 10'000) != RD_KAFKA_RESP_ERR_NO_ERROR ||
      md->topic_cnt != 1 || md->topics[0].err)
    Die(std::string("no metadata for topic ") + in);
  const int partitions = md->topics[0].partition_cnt;
  rd_kafka_metadata_destroy(md);
  rd_kafka_topic_destroy(rkt);
  // Read each partition up to its end offset as it is now.
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  std::vector<int64_t> end(static_cast<size_t>(partitions));
  int open = 0;
  for (int p = 0; p < partitions; ++p) {
    int64_t lo = 0, hi = 0;
    if (rd_kafka_query_watermark_offsets(consumer, in, p, &lo, &hi, 10'000))
      Die("cannot read the end offsets");
    end[static_cast<size_t>(p)] = hi;
    if (hi > lo) {
      rd_kafka_topic_partition_list_add(list, in, p)->offset = lo;
      ++open;
    }
  }
  if (rd_kafka_assign(consumer, list)) Die("cannot assign the partitions");
  rd_kafka_topic_partition_list_destroy(list);
  rd_kafka_topic_t* out_topic = rd_kafka_topic_new(producer, out, nullptr);
  int64_t n = 0;
  while (open > 0) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 100);
    if (!m) continue;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      rd_kafka_message_destroy(m);
      continue;
    }
    if (m->err) Die(rd_kafka_message_errstr(m));
    while (rd_kafka_produce(out_topic, m->partition, RD_KAFKA_MSG_F_COPY, m->payload, m->len,
                            m->key, m->key_len, nullptr) != 0) {
      if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL)
        Die(rd_kafka_err2str(rd_kafka_last_error()));
      rd_kafka_poll(producer, 10);
    }
    rd_kafka_poll(producer, 0);
    ++n;
    if (m->offset + 1 >= end[static_cast<size_t>(m->partition)]) --open;
    rd_kafka_message_destroy(m);
  }
  if (rd_kafka_flush(producer, 60'000) != RD_KAFKA_RESP_ERR_NO_ERROR) Die("flush timed out");
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("messages %lld wall_s %.3f cpu_s %.3f\n", static_cast<long long>(n), wall,
              CpuSeconds() - cpu0);
  rd_kafka_topic_destroy(out_topic);
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  rd_kafka_destroy(producer);
  return 0;
}
