// Metrics exposition (common/metrics.h) and log lines (common/log.h). The
// HTTP server of /metrics is tested in tests/unit/http.
#include <gtest/gtest.h>

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
