// The job validator against a table of job files: every file in
// testdata/invalid/ lists, in `# expect: LINE:COL: message` lines, exactly the
// diagnostics it must produce; every file in testdata/valid/ must produce none.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/spec/job_spec.h"

namespace weir::spec {
namespace {

namespace fs = std::filesystem;

const fs::path kData = fs::path(WEIR_TESTDATA_DIR);

std::optional<std::string> TestEnv(const std::string& name) {
  if (name == "WEIR_BROKERS") return "localhost:9092";
  return std::nullopt;
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// What the client sends is the same job to the coordinator and the workers.
void ExpectResolvesToTheSameJob(const LoadResult& client, const std::string& name) {
  if (!client.job) return;
  LoadResult server = ParseResolvedJob(client.resolved_yaml, name, client.files);
  ASSERT_TRUE(server.diagnostics.empty())
      << name << " resolved:\n"
      << FormatDiagnostics(name, server.diagnostics) << client.resolved_yaml;
  EXPECT_EQ(DescribeGraph(*server.job), DescribeGraph(*client.job)) << name;
  auto endpoints = [](const JobSpec& j) {
    std::string out;
    for (const auto& e : DescribeEndpoints(j)) {
      out += e.name + " " + e.role + " " + e.type + " " + e.address + "\n";
      for (const auto& [k, v] : e.settings) out += "  " + k + "=" + v + "\n";
    }
    return out;
  };
  EXPECT_EQ(endpoints(*server.job), endpoints(*client.job)) << name;
}

std::vector<fs::path> Files(const std::string& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(kData / dir))
    if (e.path().extension() == ".yaml") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> Render(const std::vector<Diagnostic>& diags) {
  std::vector<std::string> out;
  for (const auto& d : diags)
    out.push_back(std::to_string(d.pos.line) + ":" + std::to_string(d.pos.column) + ": " +
                  d.message);
  return out;
}

TEST(JobValidator, InvalidTableHasAtLeastFortyCases) {
  EXPECT_GE(Files("invalid").size(), 40u);
}

TEST(JobValidator, EveryInvalidJobReportsExactlyItsExpectedDiagnostics) {
  for (const auto& path : Files("invalid")) {
    std::string text = ReadFile(path);
    std::vector<std::string> expected;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);)
      if (line.rfind("# expect: ", 0) == 0) expected.push_back(line.substr(10));
    ASSERT_FALSE(expected.empty()) << path << " has no '# expect:' line";
    LoadResult r = ParseJob(text, path.filename().string(), TestEnv);
    EXPECT_EQ(r.job, nullptr) << path;
    EXPECT_EQ(Render(r.diagnostics), expected) << "in " << path.filename();
  }
}

TEST(JobValidator, ValidJobsHaveNoDiagnostics) {
  for (const auto& path : Files("valid")) {
    LoadResult r = ParseJob(ReadFile(path), path.filename().string(), TestEnv);
    EXPECT_TRUE(r.diagnostics.empty())
        << path.filename() << ":\n"
        << FormatDiagnostics(path.filename().string(), r.diagnostics);
    EXPECT_NE(r.job, nullptr);
    ExpectResolvesToTheSameJob(r, path.filename().string());
  }
}

TEST(JobValidator, ShippedExampleJobsAreValid) {
  for (const auto& e : fs::recursive_directory_iterator(fs::path(WEIR_CONFIG_DIR) / "jobs")) {
    if (e.path().extension() != ".yaml") continue;
    LoadResult r = ParseJob(ReadFile(e.path()), e.path().string(), TestEnv);
    EXPECT_TRUE(r.diagnostics.empty()) << FormatDiagnostics(e.path().string(), r.diagnostics);
    ExpectResolvesToTheSameJob(r, e.path().string());
  }
}

// Every complete job in the docs (a ```yaml block starting with `name:`) is valid.
TEST(JobValidator, DocumentedJobExamplesAreValid) {
  int examples = 0;
  for (const char* doc : {"docs/job-spec.md", "README.md"}) {
    std::istringstream lines(ReadFile(fs::path(WEIR_SOURCE_DIR) / doc));
    std::string block, line;
    bool in_yaml = false;
    int start = 0, n = 0;
    while (std::getline(lines, line)) {
      ++n;
      if (!in_yaml && line == "```yaml") {
        in_yaml = true;
        block.clear();
        start = n + 1;
      } else if (in_yaml && line == "```") {
        in_yaml = false;
        if (block.rfind("name:", 0) != 0) continue;
        ++examples;
        LoadResult r =
            ParseJob(block, std::string(doc) + " block at line " + std::to_string(start), TestEnv);
        EXPECT_TRUE(r.diagnostics.empty()) << doc << " example at line " << start << ":\n"
                                           << FormatDiagnostics("example", r.diagnostics);
        ExpectResolvesToTheSameJob(r, std::string(doc) + ":" + std::to_string(start));
      } else if (in_yaml) {
        block += line + "\n";
      }
    }
  }
  EXPECT_GE(examples, 3);
}

TEST(JobValidator, SpecExampleHasTheExpectedGraph) {
  LoadResult r = ParseJob(ReadFile(kData / "valid" / "revenue-per-user.yaml"), "j.yaml", TestEnv);
  ASSERT_NE(r.job, nullptr);
  const JobSpec& j = *r.job;
  EXPECT_EQ(j.name, "revenue-per-user");
  EXPECT_EQ(j.parallelism, 2);
  EXPECT_EQ(j.checkpoint.interval_ms, 5000);
  ASSERT_EQ(j.sources.size(), 1u);
  EXPECT_EQ(j.sources[0].brokers, "localhost:9092");
  EXPECT_EQ(j.sources[0].fields[0].aliases,
            (std::vector<std::string>{"userId", "CustID", "CustomerID"}));
  EXPECT_EQ(j.sources[0].event_time->max_out_of_orderness_ms, 5000);
  EXPECT_EQ(j.sources[0].on_error, OnError::kDeadLetter);
  ASSERT_EQ(j.operators.size(), 3u);
  const OperatorSpec& w = j.operators[2];
  EXPECT_EQ(w.kind, OperatorKind::kWindowAggregate);
  EXPECT_EQ(w.window->size_ms, 60'000);
  EXPECT_EQ(w.window->late, "late_orders");
  EXPECT_EQ(w.schema.ToString(),
            "(user string, window_start timestamp, window_end timestamp, orders bigint, revenue "
            "bigint, biggest bigint, avg_cents double)");
  ASSERT_NE(j.StreamSchema("late_orders"), nullptr);
  EXPECT_EQ(j.StreamSchema("late_orders")->ToString(), "(user string, cents bigint, ts timestamp)");
  EXPECT_EQ(j.sinks[0].delivery, Delivery::kExactlyOnce);
  EXPECT_EQ(j.sinks[1].delivery, Delivery::kExactlyOnce);  // file sink defaults to the job's mode
}

TEST(JobValidator, OperatorsAreOrderedByDependencyWhateverTheirListOrder) {
  std::string text = R"(name: t
sources:
  s: {type: datagen, schema: {x: bigint}}
operators:
  - {name: c, from: b, filter: "x > 2"}
  - {name: b, from: a, filter: "x > 1"}
  - {name: a, from: s, filter: "x > 0"}
sinks:
  o: {from: c, type: blackhole}
)";
  LoadResult r = ParseJob(text, "t.yaml", TestEnv);
  ASSERT_NE(r.job, nullptr) << FormatDiagnostics("t.yaml", r.diagnostics);
  ASSERT_EQ(r.job->operators.size(), 3u);
  EXPECT_EQ(r.job->operators[0].name, "a");
  EXPECT_EQ(r.job->operators[1].name, "b");
  EXPECT_EQ(r.job->operators[2].name, "c");
}

TEST(JobValidator, JoinExtractsEquiKeysPerSide) {
  std::string text = R"(name: t
sources:
  a: {type: datagen, schema: {id: bigint, v: string}}
  b: {type: datagen, schema: {aid: bigint, w: string, v: string}}
operators:
  - name: j
    join: {left: a, right: b, on: "a.id = b.aid and b.w = a.v", within: 10s}
sinks:
  o: {from: j, type: blackhole}
)";
  LoadResult r = ParseJob(text, "t.yaml", TestEnv);
  ASSERT_NE(r.job, nullptr) << FormatDiagnostics("t.yaml", r.diagnostics);
  const OperatorSpec& j = r.job->operators[0];
  ASSERT_EQ(j.join_left_keys.size(), 2u);
  EXPECT_EQ(j.join_left_keys[0].expr->name, "id");
  EXPECT_EQ(j.join_right_keys[0].expr->name, "aid");
  EXPECT_EQ(j.join_left_keys[1].expr->name, "v");
  EXPECT_EQ(j.join_right_keys[1].expr->input, 0);  // evaluated on the right batch alone
  EXPECT_EQ(j.schema.ToString(), "(id bigint, v string, aid bigint, w string, b_v string)");
}

TEST(JobValidator, EnvDefaultsApply) {
  std::string text = R"(name: t
sources:
  s: {type: kafka, brokers: "${NOPE:-localhost:1234}", topic: x, format: raw}
sinks:
  o: {from: s, type: blackhole}
)";
  LoadResult r = ParseJob(text, "t.yaml", TestEnv);
  ASSERT_NE(r.job, nullptr) << FormatDiagnostics("t.yaml", r.diagnostics);
  EXPECT_EQ(r.job->sources[0].brokers, "localhost:1234");
  EXPECT_EQ(r.job->sources[0].schema.ToString(), "(value bytes)");
}

// checkpoint.timeout defaults to 60 intervals within [1 min, 10 min]; a
// given one wins.
TEST(JobValidator, CheckpointTimeoutFollowsTheInterval) {
  auto timeout = [](const std::string& checkpoint) {
    std::string text = "name: t\n" + checkpoint +
                       "sources:\n  s: {type: datagen, schema: {x: bigint}}\n"
                       "sinks:\n  o: {from: s, type: blackhole}\n";
    LoadResult r = ParseJob(text, "t.yaml", TestEnv);
    EXPECT_NE(r.job, nullptr) << FormatDiagnostics("t.yaml", r.diagnostics);
    return r.job ? r.job->checkpoint.timeout_ms : -1;
  };
  EXPECT_EQ(timeout(""), 600'000);
  EXPECT_EQ(timeout("checkpoint: {interval: 400ms}\n"), 60'000);
  EXPECT_EQ(timeout("checkpoint: {interval: 2s}\n"), 120'000);
  EXPECT_EQ(timeout("checkpoint: {interval: 1m}\n"), 600'000);
  EXPECT_EQ(timeout("checkpoint: {interval: 400ms, timeout: 30m}\n"), 1'800'000);
}

TEST(JobValidator, MissingFileIsOneDiagnostic) {
  LoadResult r = LoadJob("/nonexistent/job.yaml");
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_EQ(r.diagnostics[0].message,
            "cannot read the job file '/nonexistent/job.yaml': No such file or directory");
}

TEST(JobValidator, NonMapDocumentIsAnErrorNotACrash) {
  for (const char* text : {"", "just a string", "[1, 2]", "name: [", "{a: {b: {c: [}}}", "- - -"}) {
    LoadResult r = ParseJob(text, "t.yaml", TestEnv);
    EXPECT_FALSE(r.diagnostics.empty()) << text;
  }
}

TEST(JobValidator, SecurityBlockBecomesClientSettingsAndSecretsStayReferences) {
  LoadResult r = LoadJob((kData / "valid" / "kafka-security.yaml").string(), TestEnv);
  ASSERT_NE(r.job, nullptr) << FormatDiagnostics("kafka-security.yaml", r.diagnostics);
  const SourceSpec& s = r.job->sources[0];
  EXPECT_EQ(s.properties.at("security.protocol"), "SASL_SSL");
  EXPECT_EQ(s.properties.at("sasl.mechanism"), "SCRAM-SHA-512");
  EXPECT_EQ(s.properties.at("sasl.username"), "weir");
  EXPECT_EQ(s.properties.at("ssl.ca.location"), "/etc/weir/kafka-ca.pem");
  EXPECT_EQ(s.properties.at("ssl.key.location"), "/etc/weir/client.key");
  EXPECT_EQ(s.properties.count("sasl.password"), 0u);
  // ${KAFKA_PASSWORD} is not substituted (TestEnv does not have it): it is a
  // reference the workers read.
  ASSERT_EQ(s.secrets.count("sasl.password"), 1u);
  EXPECT_EQ(s.secrets.at("sasl.password").ToString(), "env KAFKA_PASSWORD");
  EXPECT_EQ(s.secrets.at("ssl.key.password").ToString(), "file /run/secrets/client-key-password");
  EXPECT_EQ(s.secrets.at("sasl.oauthbearer.client.secret").ToString(), "env UNUSED_BUT_VALID");
  EXPECT_EQ(s.max_record_bytes, 512 * 1024);
  EXPECT_EQ(r.job->sinks[0].secrets.at("password").ToString(), "file /run/secrets/pg-password");
}

TEST(JobValidator, EndpointsShowWhereSecretsComeFromButNeverAValue) {
  LoadResult r = LoadJob((kData / "valid" / "kafka-security.yaml").string(), TestEnv);
  ASSERT_NE(r.job, nullptr);
  r.job->sources[0].properties["sasl.jaas.config"] = "leaked";  // as if it got there
  std::vector<Endpoint> e = DescribeEndpoints(*r.job);
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0].role, "source");
  EXPECT_EQ(e[0].address, "localhost:9092/orders");
  std::map<std::string, std::string> settings(e[0].settings.begin(), e[0].settings.end());
  EXPECT_EQ(settings.at("sasl.password"), "****** (env KAFKA_PASSWORD)");
  EXPECT_EQ(settings.at("sasl.jaas.config"), "******");
  EXPECT_EQ(settings.at("sasl.username"), "weir");
  // The dead-letter topic on the source's cluster connects as the source.
  EXPECT_EQ(e[1].role, "dead letter");
  EXPECT_EQ(e[1].address, "localhost:9092/orders.dlq");
  EXPECT_EQ(e[1].settings, e[0].settings);
  EXPECT_EQ(e[2].type, "postgres");
  EXPECT_EQ(e[2].settings.at(0).second, "****** (file /run/secrets/pg-password)");
}

TEST(Secrets, ResolveFromEnvAndFile) {
  ::setenv("WEIR_TEST_SECRET", "from-env", 1);
  auto v = ResolveSecret({SecretRef::From::kEnv, "WEIR_TEST_SECRET"});
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, "from-env");
  auto missing = ResolveSecret({SecretRef::From::kEnv, "WEIR_TEST_NO_SUCH_SECRET"});
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), "environment variable WEIR_TEST_NO_SUCH_SECRET is not set");

  const fs::path file = fs::temp_directory_path() / "weir-secret-test";
  {
    std::ofstream out(file);
    out << "p@ss word\n";  // secret files often end with a newline
  }
  v = ResolveSecret({SecretRef::From::kFile, file.string()});
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, "p@ss word");
  {
    std::ofstream out(file);
    out << std::string(70 * 1024, 'x');
  }
  EXPECT_EQ(ResolveSecret({SecretRef::From::kFile, file.string()}).status().code(),
            StatusCode::kInvalidArgument);
  fs::remove(file);
  auto absent = ResolveSecret({SecretRef::From::kFile, file.string()});
  EXPECT_EQ(absent.status().code(), StatusCode::kNotFound);
  EXPECT_NE(absent.status().message().find(file.string()), std::string::npos);
}

TEST(Secrets, SecretSettingsAreRecognised) {
  for (const char* name : {"sasl.password", "ssl.key.password", "ssl.keystore.password",
                           "sasl.oauthbearer.client.secret", "sasl.jaas.config", "ssl.key.pem"})
    EXPECT_TRUE(IsSecretSetting(name)) << name;
  for (const char* name : {"sasl.username", "ssl.key.location", "security.protocol", "acks"})
    EXPECT_FALSE(IsSecretSetting(name)) << name;
}

TEST(Secrets, DsnPasswordsAreMasked) {
  EXPECT_EQ(MaskDsnPassword("postgresql://weir:pw@db:5432/weir"),
            "postgresql://weir:******@db:5432/weir");
  EXPECT_EQ(MaskDsnPassword("postgres://db/weir?user=u&password=x&sslmode=require"),
            "postgres://db/weir?user=u&password=******&sslmode=require");
  EXPECT_EQ(MaskDsnPassword("host=db password='a b\\' c' dbname=weir"),
            "host=db password=****** dbname=weir");
  EXPECT_EQ(MaskDsnPassword("host=db password = x"), "host=db password = ******");
  for (const char* clean : {"postgresql://weir@db/weir", "host=db dbname=passwords",
                            "host=db user=password_reader", "postgresql://db/weir?sslmode=a"})
    EXPECT_EQ(MaskDsnPassword(clean), clean);
}

TEST(JobValidator, AJobFileOverTheLimitIsRefusedBeforeParsing) {
  std::string text = "name: t\n# " + std::string(kMaxJobFileBytes, 'x') + "\n";
  LoadResult r = ParseJob(text, "big.yaml", TestEnv);
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_EQ(r.diagnostics[0].message,
            "the job file is larger than 1048576 bytes (1 MiB), the limit for a job file");
  const fs::path file = fs::temp_directory_path() / "weir-big-job.yaml";
  {
    std::ofstream out(file);
    out << text;
  }
  r = LoadJob(file.string(), TestEnv);
  fs::remove(file);
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_EQ(r.diagnostics[0].message, "the job file '" + file.string() + "' is over 1 MiB");
}

}  // namespace
}  // namespace weir::spec
