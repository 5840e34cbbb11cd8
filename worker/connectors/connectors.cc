// MakeSource / MakeSink: the connector factories (connector.h).
#include <chrono>
#include <thread>

#include "worker/connectors/connectors_internal.h"
#include "worker/connectors/file_sink.h"
#include "worker/connectors/file_source.h"
#include "worker/connectors/kafka_sink.h"
#include "worker/connectors/kafka_source.h"
#include "worker/connectors/postgres_sink.h"

namespace weir::connectors {

void SleepAtMost(int64_t ms, int max_ms) {
  int64_t wait = std::min<int64_t>(ms, max_ms);
  if (wait > 0) std::this_thread::sleep_for(std::chrono::milliseconds(wait));
}

Result<std::unique_ptr<Source>> MakeSource(const spec::SourceSpec& spec, const spec::JobSpec& job) {
  if (spec.type == "kafka") return std::unique_ptr<Source>(new KafkaSource(spec));
  if (spec.type == "file") return std::unique_ptr<Source>(new FileSource(spec));
  if (spec.type == "nexmark") return MakeNexmarkSource(spec);
  if (spec.type == "datagen") return MakeDatagenSource(spec);
  return Status::InvalidArgument("source '" + spec.name + "': unknown type '" + spec.type +
                                 "' (use kafka, file, nexmark or datagen)");
}

Result<std::unique_ptr<Sink>> MakeSink(const spec::SinkSpec& spec, const spec::JobSpec& job,
                                       const Schema& schema) {
  if (spec.type == "kafka") return std::unique_ptr<Sink>(new KafkaSink(spec, schema));
  if (spec.type == "file") return std::unique_ptr<Sink>(new FileSink(spec, schema));
  if (spec.type == "stdout") return MakeStdoutSink(spec, schema);
  if (spec.type == "blackhole") return MakeBlackholeSink();
  if (spec.type == "postgres") return std::unique_ptr<Sink>(new PostgresSink(spec, schema));
  return Status::InvalidArgument("sink '" + spec.name + "': unknown type '" + spec.type +
                                 "' (use kafka, file, postgres, stdout or blackhole)");
}

}  // namespace weir::connectors
