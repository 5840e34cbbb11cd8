// Metrics exposition (common/metrics.h) and log lines (common/log.h).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/metrics.h"

namespace weir {
namespace {

TEST(Metrics, RendersFamiliesOnceWithEscapedLabels) {
  Metrics m;
  m.Counter("weir_x_total", "X things", {{"job", "a\"b"}, {"vertex", "v\\1\n"}}, 3);
  m.Gauge("weir_y", "Y level", {}, 0.5);
  m.Counter("weir_x_total", "ignored second help", {{"job", "c"}}, 1e16);
  const std::string text = m.Render();
  EXPECT_EQ(text,
            "# HELP weir_x_total X things\n"
            "# TYPE weir_x_total counter\n"
            "weir_x_total{job=\"a\\\"b\",vertex=\"v\\\\1\\n\"} 3\n"
            "weir_x_total{job=\"c\"} 1e+16\n"
            "# HELP weir_y Y level\n"
            "# TYPE weir_y gauge\n"
            "weir_y 0.5\n");
}

// One HTTP/1.0 GET on loopback; the whole response.
std::string Get(int port, const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    ::close(fd);
    return "";
  }
  const std::string req = "GET " + path + " HTTP/1.0\r\n\r\n";
  (void)::send(fd, req.data(), req.size(), 0);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof(buf), 0)) > 0;)
    out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return out;
}

TEST(Metrics, ServesMetricsAndHealthOverHttp) {
  MetricsServer server;
  ASSERT_TRUE(server.Start(0, [] { return std::string("weir_up 1\n"); }).ok());
  ASSERT_GT(server.port(), 0);
  const std::string metrics = Get(server.port(), "/metrics");
  EXPECT_EQ(metrics.rfind("HTTP/1.0 200 OK\r\n", 0), 0u) << metrics;
  EXPECT_NE(metrics.find("text/plain; version=0.0.4"), std::string::npos);
  EXPECT_TRUE(metrics.ends_with("\r\n\r\nweir_up 1\n")) << metrics;
  EXPECT_TRUE(Get(server.port(), "/healthz").ends_with("\r\n\r\nok\n"));
  EXPECT_EQ(Get(server.port(), "/nope").rfind("HTTP/1.0 404", 0), 0u);
  // A second server on the same port is refused, with the port in the message.
  MetricsServer clash;
  Status st = clash.Start(server.port(), [] { return std::string(); });
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find(std::to_string(server.port())), std::string::npos);
  server.Stop();
}

TEST(Log, TextAndJsonLinesCarryFields) {
  const int64_t t = 1'700'000'000'123;
  EXPECT_EQ(log::Format(false, "weir-coordinator", log::Level::kInfo, "checkpoint completed",
                        {{"job", "wc"}, {"checkpoint", "12"}, {"why", "a b"}}, t),
            "2023-11-14T22:13:20.123Z INFO weir-coordinator: checkpoint completed job=wc "
            "checkpoint=12 why=\"a b\"");
  EXPECT_EQ(log::Format(true, "weir-worker", log::Level::kWarn, "say \"hi\"\n", {{"job", "x"}}, t),
            "{\"ts\":\"2023-11-14T22:13:20.123Z\",\"level\":\"warn\",\"process\":\"weir-worker\","
            "\"msg\":\"say \\\"hi\\\"\\n\",\"job\":\"x\"}");
  EXPECT_FALSE(log::Init("weir", "xml"));
  EXPECT_FALSE(log::Init("weir", "text", "verbose"));
}

// --log-level drops what is less severe, through spdlog's level filter; the
// lines that pass are weir's own (escaped JSON), timed by spdlog.
TEST(Log, TheLevelFiltersAndTheLineIsWeirs) {
  ASSERT_TRUE(log::Init("weir-test", "json", "warn"));
  testing::internal::CaptureStderr();
  log::Debug("not this");
  log::Info("nor this");
  log::Warn("this {} \"quoted\"", {{"job", "j"}});
  log::Error("and this");
  const std::string out = testing::internal::GetCapturedStderr();
  EXPECT_EQ(out.find("not this"), std::string::npos) << out;
  EXPECT_EQ(out.find("nor this"), std::string::npos) << out;
  EXPECT_NE(out.find("\"level\":\"warn\",\"process\":\"weir-test\",\"msg\":\"this {} "
                     "\\\"quoted\\\"\",\"job\":\"j\"}\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("\"level\":\"error\""), std::string::npos) << out;
  ASSERT_TRUE(log::Init("weir-test", "text", "debug"));
  testing::internal::CaptureStderr();
  log::Debug("now this", {{"k", "a b"}});
  const std::string text = testing::internal::GetCapturedStderr();
  EXPECT_NE(text.find(" DEBUG weir-test: now this k=\"a b\"\n"), std::string::npos) << text;
  ASSERT_TRUE(log::Init("weir", "text", "info"));
}

}  // namespace
}  // namespace weir
