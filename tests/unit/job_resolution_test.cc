// A job is resolved once, on the client: ParseJob substitutes ${VAR} and
// reads the files the job names; ParseResolvedJob (the coordinator, the
// workers) substitutes nothing and opens no file. These tests check that the
// resolved text means the same job, that secret references survive it, and
// that a resolved parse cannot be made to read the process's environment or
// disk.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "common/spec/job_spec.h"

namespace weir::spec {
namespace {

namespace fs = std::filesystem;

std::optional<std::string> Env(const std::string& name) {
  if (name == "BROKERS") return "kafka-1:9092";
  if (name == "TRICKY") return "a: b # c \"q\" \\ 'x' {y} [z], & * ! | >";
  if (name == "MIN") return "10";
  if (name == "LOOP") return "${BROKERS}";
  return std::nullopt;
}

constexpr const char* kJob = R"(name: resolved
sources:
  orders:
    type: kafka
    brokers: ${BROKERS}
    topic: "orders-${MISSING:-default}"
    format: json
    schema: {id: bigint, note: string}
    properties:
      client.id: ${TRICKY}
      sasl.password: ${KAFKA_PASSWORD}
operators:
  - name: big
    from: orders
    filter: |
      id > ${MIN}
        and note != ''
sinks:
  out: {from: big, type: stdout, format: json}
)";

class ResolutionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("weir-resolve-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path Write(const std::string& name, const std::string& text) {
    fs::path p = dir_ / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p;
  }
  fs::path dir_;
};

TEST_F(ResolutionTest, TheResolvedTextIsTheSameJobWithNothingLeftToSubstitute) {
  LoadResult client = ParseJob(kJob, "job.yaml", Env);
  ASSERT_TRUE(client.diagnostics.empty()) << FormatDiagnostics("job.yaml", client.diagnostics);
  EXPECT_EQ(client.resolved_yaml.find("${BROKERS}"), std::string::npos);
  EXPECT_NE(client.resolved_yaml.find("brokers: \"kafka-1:9092\""), std::string::npos)
      << client.resolved_yaml;
  // The secret stays a reference for the workers; comments and layout stay.
  EXPECT_NE(client.resolved_yaml.find("sasl.password: ${KAFKA_PASSWORD}"), std::string::npos);

  LoadResult server = ParseResolvedJob(client.resolved_yaml, "job.yaml", client.files);
  ASSERT_TRUE(server.diagnostics.empty())
      << FormatDiagnostics("job.yaml", server.diagnostics) << client.resolved_yaml;
  const SourceSpec& s = server.job->sources.at(0);
  EXPECT_EQ(s.brokers, "kafka-1:9092");
  EXPECT_EQ(s.topic, "orders-default");
  EXPECT_EQ(s.properties.at("client.id"), *Env("TRICKY"));
  ASSERT_EQ(s.secrets.count("sasl.password"), 1u);
  EXPECT_EQ(s.secrets.at("sasl.password").name, "KAFKA_PASSWORD");
  EXPECT_EQ(DescribeGraph(*server.job), DescribeGraph(*client.job));
}

TEST_F(ResolutionTest, AResolvedJobNeverReadsTheProcessEnvironment) {
  ::setenv("WEIR_RESOLVE_TEST_SECRET", "hunter2-from-the-coordinator", 1);
  const std::string text =
      "name: leak\nsources:\n  x: {type: kafka, brokers: \"b:9092\", topic: t, format: "
      "\"${WEIR_RESOLVE_TEST_SECRET}\", schema: {a: string}}\nsinks:\n  out: {from: x, type: "
      "stdout}\n";
  LoadResult r = ParseResolvedJob(text, "leak.yaml", {});
  ::unsetenv("WEIR_RESOLVE_TEST_SECRET");
  ASSERT_EQ(r.job, nullptr);
  const std::string all = FormatDiagnostics("leak.yaml", r.diagnostics);
  EXPECT_EQ(all.find("hunter2"), std::string::npos) << all;
  EXPECT_NE(all.find("leak.yaml:3:58: '${WEIR_RESOLVE_TEST_SECRET}' in format is not substituted"),
            std::string::npos)
      << all;
}

TEST_F(ResolutionTest, AResolvedJobOpensNoFileItNames) {
  for (const char* path : {"/etc/passwd", "/dev/zero"}) {
    const std::string text = std::string("name: f\nsources:\n  x:\n    type: kafka\n") +
                             "    brokers: b:9092\n    topic: t\n    format: {type: avro, "
                             "schema: " +
                             path +
                             "}\n    schema: {a: string}\nsinks:\n  out: {from: x, type: "
                             "kafka, brokers: b:9092, topic: o, format: json}\n";
    LoadResult r = ParseResolvedJob(text, "f.yaml", {});
    ASSERT_EQ(r.job, nullptr);
    const std::string all = FormatDiagnostics("f.yaml", r.diagnostics);
    EXPECT_NE(all.find(std::string("f.yaml:7:34: '") + path + "' was not sent with the job"),
              std::string::npos)
        << all;
    EXPECT_EQ(all.find("root:"), std::string::npos) << all;
  }
}

TEST_F(ResolutionTest, FilesTravelWithTheJobAndAreReadWithLimits) {
  const fs::path avsc = Write("order.avsc", R"({"type": "record", "name": "Order", "fields": [)"
                                            R"({"name": "id", "type": "long"}]})");
  auto job = [](const std::string& schema) {
    return "name: f\nsources:\n  x:\n    type: kafka\n    brokers: b:9092\n    topic: t\n"
           "    format: {type: avro, schema: \"" +
           schema +
           "\"}\n    schema: {id: bigint}\nsinks:\n  out: {from: x, type: kafka, brokers: "
           "b:9092, topic: o, format: json}\n";
  };
  LoadResult client = ParseJob(job(avsc.string()), "f.yaml", Env);
  ASSERT_TRUE(client.diagnostics.empty()) << FormatDiagnostics("f.yaml", client.diagnostics);
  ASSERT_EQ(client.files.size(), 1u);
  EXPECT_NE(client.files.at(avsc.string()).find("Order"), std::string::npos);
  fs::remove(avsc);  // the resolved parse must not need it
  LoadResult server = ParseResolvedJob(client.resolved_yaml, "f.yaml", client.files);
  EXPECT_TRUE(server.diagnostics.empty()) << FormatDiagnostics("f.yaml", server.diagnostics);

  LoadResult zero = ParseJob(job("/dev/zero"), "f.yaml", Env);
  ASSERT_EQ(zero.diagnostics.size(), 1u);
  EXPECT_EQ(zero.diagnostics[0].message, "the Avro schema file '/dev/zero' is not a regular file");
  const fs::path big = Write("big.avsc", std::string(kMaxJobFileBlobBytes + 1, ' '));
  LoadResult over = ParseJob(job(big.string()), "f.yaml", Env);
  ASSERT_EQ(over.diagnostics.size(), 1u);
  EXPECT_EQ(over.diagnostics[0].message,
            "the Avro schema file '" + big.string() + "' is over 4 MiB");
}

TEST_F(ResolutionTest, AProtoFileIsSentCompiledWithItsImports) {
  Write("protos/common/money.proto",
        "syntax = \"proto3\";\npackage shop;\nmessage Money { int64 cents = 1; }\n");
  const fs::path proto =
      Write("protos/order.proto",
            "syntax = \"proto3\";\npackage shop;\nimport "
            "\"common/money.proto\";\nimport \"google/protobuf/timestamp.proto\";"
            "\nmessage Order { string id = 1; Money total = 2; "
            "google.protobuf.Timestamp at = 3; }\n");
  const std::string text =
      "name: p\nsources:\n  x:\n    type: kafka\n    brokers: b:9092\n    topic: t\n"
      "    format: {type: protobuf, proto: \"" +
      proto.string() +
      "\", message: shop.Order}\n    schema: {id: string, at: timestamp}\nsinks:\n  out: {from: x, "
      "type: kafka, brokers: b:9092, topic: o, format: "
      "json}\n";
  LoadResult client = ParseJob(text, "p.yaml", Env);
  ASSERT_TRUE(client.diagnostics.empty()) << FormatDiagnostics("p.yaml", client.diagnostics);
  fs::remove_all(dir_ / "protos");
  LoadResult server = ParseResolvedJob(client.resolved_yaml, "p.yaml", client.files);
  EXPECT_TRUE(server.diagnostics.empty()) << FormatDiagnostics("p.yaml", server.diagnostics);
}

TEST_F(ResolutionTest, ValuesThatWouldReadAsReferencesAreRefused) {
  const std::string text =
      "name: loop\nsources:\n  x: {type: kafka, brokers: \"${LOOP}\", topic: t, format: json, "
      "schema: {a: string}}\nsinks:\n  out: {from: x, type: stdout}\n";
  LoadResult r = ParseJob(text, "loop.yaml", Env);
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_EQ(r.diagnostics[0].message,
            "the value of environment variable 'LOOP' contains '${', which a job's values cannot "
            "hold");
}

TEST_F(ResolutionTest, JobSecretsAreReadWhereTheJobRunsAndNeverResolved) {
  const std::string text =
      "name: keys\nsecrets:\n  pii: {env: WEIR_RESOLVE_TEST_PII}\n  other: ${WEIR_RESOLVE_TEST_2}\n"
      "sources:\n  x: {type: file, path: /in, format: json, schema: {e: string}}\n"
      "operators:\n  - {name: m, from: x, map: {h: \"hmac_sha256(e, 'pii')\"}}\n"
      "sinks:\n  out: {from: m, type: stdout}\n";
  // The client leaves the references as written; the coordinator binds the
  // expression against the names alone.
  LoadResult client = ParseJob(text, "keys.yaml", Env);
  ASSERT_TRUE(client.diagnostics.empty()) << FormatDiagnostics("keys.yaml", client.diagnostics);
  EXPECT_NE(client.resolved_yaml.find("other: ${WEIR_RESOLVE_TEST_2}"), std::string::npos);
  LoadResult server = ParseResolvedJob(client.resolved_yaml, "keys.yaml", client.files);
  ASSERT_NE(server.job, nullptr) << FormatDiagnostics("keys.yaml", server.diagnostics);
  ASSERT_NE(server.job->keys, nullptr);
  EXPECT_TRUE(server.job->keys->values.empty());
  // A worker reads them: an absent or empty one is an error naming it.
  ::unsetenv("WEIR_RESOLVE_TEST_PII");
  Status st = ReadJobSecrets(server.job.get());
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_EQ(st.message(),
            "secret 'other' (env WEIR_RESOLVE_TEST_2): environment variable WEIR_RESOLVE_TEST_2 "
            "is not set");
  ::setenv("WEIR_RESOLVE_TEST_2", "", 1);
  ::setenv("WEIR_RESOLVE_TEST_PII", "k3y", 1);
  st = ReadJobSecrets(server.job.get());
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("secret 'other' (env WEIR_RESOLVE_TEST_2) is empty"),
            std::string::npos);
  ::setenv("WEIR_RESOLVE_TEST_2", "x", 1);
  EXPECT_TRUE(ReadJobSecrets(server.job.get()).ok());
  EXPECT_EQ(server.job->keys->values.at("pii"), "k3y");
  ::unsetenv("WEIR_RESOLVE_TEST_PII");
  ::unsetenv("WEIR_RESOLVE_TEST_2");
}

}  // namespace
}  // namespace weir::spec
