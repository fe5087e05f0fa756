// protocol/heartbeat.h (named apart from tests/node-agent/heartbeat_test.cc:
// one test executable per name).
#include "protocol/heartbeat.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/hash.h"

namespace gc {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

HeartbeatReport FullReport() {
  HeartbeatReport report;
  report.boot = "installed";
  report.image = "compute@2";
  report.kernel_release = "6.1.176";
  report.kernel_version = "#1 SMP";
  report.kernel_artifact = "migration-6.1@1";
  report.cluster_files = {{"etc/openmosix.map", Sha256Hex("1 10.77.0.10 4\n")},
                          {"etc/goldcast/calibration", ""}};
  report.uptime_s = 812.4;
  report.load = std::vector<double>{0.12, 0.08, 0.01};
  report.cpus = 2;
  report.cpu_mhz = 2394.5;
  report.mem_total_kb = 2041828;
  report.mem_available_kb = 1871234;
  return report;
}

TEST(HeartbeatTest, EncodesTheDocumentedFieldsInOrder) {
  std::string text = EncodeHeartbeat(FullReport());
  EXPECT_EQ(text.find('\n'), std::string::npos) << "one line";
  nlohmann::ordered_json doc = nlohmann::ordered_json::parse(text);
  std::vector<std::string> keys;
  for (auto it = doc.begin(); it != doc.end(); ++it) keys.push_back(it.key());
  EXPECT_THAT(
      keys, ::testing::ElementsAre("format", "boot", "image", "kernel", "uptime_s", "load", "cpus",
                                   "cpu_mhz", "mem_total_kb", "mem_available_kb", "cluster_files"));
  EXPECT_EQ(doc["format"], 1);
  EXPECT_EQ(doc["kernel"],
            nlohmann::ordered_json(
                {{"release", "6.1.176"}, {"version", "#1 SMP"}, {"artifact", "migration-6.1@1"}}));
  EXPECT_TRUE(doc["uptime_s"].is_number_float());
  EXPECT_TRUE(doc["cpus"].is_number_unsigned());

  HeartbeatReport bad_utf8 = FullReport();
  bad_utf8.kernel_version = "bad \xff utf-8";
  json parsed;
  EXPECT_NO_THROW(parsed = json::parse(EncodeHeartbeat(bad_utf8)));
  EXPECT_TRUE(parsed.is_object());
}

TEST(HeartbeatTest, EncodeDecodeRoundTrips) {
  Result<HeartbeatReport> decoded = DecodeHeartbeat(EncodeHeartbeat(FullReport()));
  ASSERT_TRUE(decoded.ok()) << decoded.status().message();
  EXPECT_EQ(*decoded, FullReport());

  // Samples left out stay out.
  Result<HeartbeatReport> minimal = DecodeHeartbeat(R"({"format":1,"boot":"diskless"})");
  ASSERT_TRUE(minimal.ok()) << minimal.status().message();
  EXPECT_EQ(minimal->boot, "diskless");
  EXPECT_FALSE(minimal->uptime_s || minimal->load || minimal->cpus || minimal->mem_total_kb);
  json stored = json::parse(EncodeHeartbeat(*minimal));
  EXPECT_FALSE(stored.contains("uptime_s"));
  EXPECT_FALSE(stored.contains("load"));
  Result<HeartbeatReport> again = DecodeHeartbeat(EncodeHeartbeat(*minimal));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *minimal);
}

TEST(HeartbeatTest, ErrorsNameTheField) {
  struct Case {
    const char* body;
    const char* reason;
  } cases[] = {
      {R"({"boot":"installed"})", "heartbeat: field format: missing"},
      {R"({"format":2,"boot":"installed"})", "heartbeat: field format: 2 is not supported"},
      {R"({"format":1,"boot":"usb"})", "heartbeat: field boot: 'usb'"},
      {R"({"format":1,"boot":"installed","kernel":{"release":6}})",
       "heartbeat: field kernel.release: expected a string, got number"},
      {R"({"format":1,"boot":"installed","kernel":"6.1"})",
       "heartbeat: field kernel: expected an object"},
      {R"({"format":1,"boot":"installed","load":[0.1,"x"]})", "heartbeat: field load[1]"},
      {R"({"format":1,"boot":"installed","load":[1,2,3,4]})", "field load: more than 3 numbers"},
      {R"({"format":1,"boot":"installed","uptime_s":-3})", "heartbeat: field uptime_s"},
      {R"({"format":1,"boot":"installed","cluster_files":{"../etc/passwd":"x"}})",
       "not a relative path"},
      {R"({"format":1,"boot":"installed","cluster_files":{"etc/openmosix.map":"abc"}})",
       "64 lowercase hex digits"},
      {R"({"format":1,"boot":"installed","image":"a\u001bb"})",
       "heartbeat: field image: contains a control character"},
  };
  for (const Case& c : cases) {
    Result<HeartbeatReport> report = DecodeHeartbeat(c.body);
    ASSERT_FALSE(report.ok()) << c.body;
    EXPECT_EQ(report.status().code(), Code::kInvalidArgument);
    EXPECT_THAT(report.status().message(), HasSubstr(c.reason)) << c.body;
  }
}

TEST(HeartbeatAnswerTest, EncodeDecodeRoundTrips) {
  HeartbeatAnswer answer;
  answer.ok = true;
  answer.time_ns = 1'700'000'000'000'000'000;
  answer.cluster_files = {{"etc/openmosix.map", 0644, "1 10.77.0.10 2\n"}};
  EXPECT_EQ(
      json::parse(EncodeHeartbeatAnswer(answer)),
      json({{"ok", true},
            {"time_ns", answer.time_ns},
            {"cluster_files",
             {{{"path", "etc/openmosix.map"}, {"mode", 420}, {"content", "1 10.77.0.10 2\n"}}}}}));
  Result<HeartbeatAnswer> decoded = DecodeHeartbeatAnswer(EncodeHeartbeatAnswer(answer));
  ASSERT_TRUE(decoded.ok()) << decoded.status().message();
  EXPECT_TRUE(decoded->ok);
  EXPECT_EQ(decoded->time_ns, answer.time_ns);
  EXPECT_EQ(decoded->cluster_files, answer.cluster_files);
  EXPECT_TRUE(decoded->cluster_files_status.ok());
}

TEST(HeartbeatAnswerTest, ReadsTheFilesAndRefusesWrongTypes) {
  auto none = DecodeHeartbeatAnswer(R"({"ok":true,"time_ns":1})");
  ASSERT_TRUE(none.ok()) << none.status().message();
  EXPECT_TRUE(none->ok);
  EXPECT_TRUE(none->cluster_files_status.ok());
  EXPECT_TRUE(none->cluster_files.empty());
  auto files = DecodeHeartbeatAnswer(
      R"({"ok":true,"cluster_files":[{"path":"etc/openmosix.map","mode":420,"content":"1 a 2\n"},
                                     {"path":"etc/goldcast/calibration","mode":493,"content":""}]})");
  ASSERT_TRUE(files.ok()) << files.status().message();
  ASSERT_EQ(files->cluster_files.size(), 2u);
  EXPECT_EQ(files->cluster_files[0].path, "etc/openmosix.map");
  EXPECT_EQ(files->cluster_files[0].mode, 0644u);
  EXPECT_EQ(files->cluster_files[0].content, "1 a 2\n");
  EXPECT_EQ(files->cluster_files[1].mode, 0755u);

  // The beat was taken all the same: ok stays true, the files are dropped.
  struct Case {
    std::string answer;
    std::string reason;
  };
  std::vector<Case> bad_files = {
      {R"({"ok":true,"cluster_files":{}})", "field cluster_files: expected an array, got object"},
      {R"({"ok":true,"cluster_files":[7]})", "field cluster_files[0]: expected an object"},
      {R"({"ok":true,"cluster_files":[{"mode":420,"content":""}]})", "cluster_files[0].path"},
      {R"({"ok":true,"cluster_files":[{"path":1,"mode":420,"content":""}]})",
       "cluster_files[0].path"},
      {R"({"ok":true,"cluster_files":[{"path":"../a","mode":420,"content":""}]})",
       "cluster_files[0].path: not a relative path"},
      {R"({"ok":true,"cluster_files":[{"path":"a","mode":420}]})", "cluster_files[0].content"},
      {R"({"ok":true,"cluster_files":[{"path":"a","mode":"644","content":""}]})",
       "cluster_files[0].mode"},
      {R"({"ok":true,"cluster_files":[{"path":"a","mode":-1,"content":""}]})",
       "cluster_files[0].mode"},
      {R"({"ok":true,"cluster_files":[{"path":"a","mode":2541,"content":""}]})",
       "cluster_files[0].mode"},
  };
  for (const Case& c : bad_files) {
    auto parsed = DecodeHeartbeatAnswer(c.answer);
    ASSERT_TRUE(parsed.ok()) << c.answer;
    EXPECT_TRUE(parsed->ok) << c.answer;
    EXPECT_TRUE(parsed->cluster_files.empty()) << c.answer;
    EXPECT_THAT(parsed->cluster_files_status.message(),
                HasSubstr("heartbeat answer: " +
                          std::string(c.reason.rfind("field", 0) == 0 ? "" : "field ") + c.reason))
        << c.answer;
  }
  std::vector<Case> bad_bodies = {
      {R"([1])", "heartbeat answer: body: expected a JSON object"},
      {R"({"ok":)", "heartbeat answer: body is not valid JSON"},
      {std::string(2 << 20, ' '), "larger than"},
  };
  for (const Case& c : bad_bodies) {
    auto parsed = DecodeHeartbeatAnswer(c.answer);
    ASSERT_FALSE(parsed.ok()) << c.answer.substr(0, 80);
    EXPECT_THAT(parsed.status().message(), HasSubstr(c.reason)) << c.answer.substr(0, 80);
  }
  for (const char* refused : {R"({"ok":false})", R"({"ok":"true"})", R"({"time_ns":1})"}) {
    auto parsed = DecodeHeartbeatAnswer(refused);
    ASSERT_TRUE(parsed.ok()) << refused;
    EXPECT_FALSE(parsed->ok) << refused;
  }
}

}  // namespace
}  // namespace gc
