#include "protocol/progress.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

namespace gc {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

TEST(ProgressTest, EncodeDecodeRoundTrips) {
  ProgressReport report{"image", 1200, 5325, "writing image compute@2"};
  EXPECT_EQ(json::parse(EncodeProgress(report)), json({{"phase", "image"},
                                                       {"done", 1200},
                                                       {"total", 5325},
                                                       {"message", "writing image compute@2"}}));
  Result<ProgressReport> decoded = DecodeProgress(EncodeProgress(report));
  ASSERT_TRUE(decoded.ok()) << decoded.status().message();
  EXPECT_EQ(*decoded, report);
}

TEST(ProgressTest, CountersAreOptionalAndTheMessageIsCleaned) {
  Result<ProgressReport> done = DecodeProgress(R"({"phase":"done","future":1})");
  ASSERT_TRUE(done.ok()) << done.status().message();
  EXPECT_EQ(*done, (ProgressReport{"done", 0, 0, ""}));

  Result<ProgressReport> failed = DecodeProgress(
      json({{"phase", "failed"}, {"message", "disk\nfull" + std::string(5000, 'x')}}).dump());
  ASSERT_TRUE(failed.ok()) << failed.status().message();
  EXPECT_EQ(failed->message.size(), kMaxProgressMessageBytes);
  EXPECT_EQ(failed->message.substr(0, 9), "disk full");
}

TEST(ProgressTest, ErrorsNameTheField) {
  struct Case {
    const char* body;
    const char* reason;
  } cases[] = {
      {"{not json", "progress: body is not valid JSON"},
      {"[1]", "progress: body: expected a JSON object, got array"},
      {R"({"done":1})", "progress: field phase: missing"},
      {R"({"phase":"reboot"})", "progress: field phase: 'reboot' is not one of"},
      {R"({"phase":"image","done":"12"})",
       "progress: field done: expected a non-negative integer, got string"},
      {R"({"phase":"image","total":-1})", "progress: field total"},
      {R"({"phase":"image","total":18446744073709551615})", "progress: field total: too large"},
      {R"({"phase":"image","message":7})", "progress: field message: expected a string"},
  };
  for (const Case& c : cases) {
    Result<ProgressReport> report = DecodeProgress(c.body);
    ASSERT_FALSE(report.ok()) << c.body;
    EXPECT_EQ(report.status().code(), Code::kInvalidArgument);
    EXPECT_THAT(report.status().message(), HasSubstr(c.reason)) << c.body;
  }
  EXPECT_THAT(DecodeProgress(std::string((1 << 20) + 1, ' ')).status().message(),
              HasSubstr("progress: body larger than 1048576 bytes"));
}

TEST(InstallPhaseTest, KnowsTheDocumentedPhases) {
  for (const char* phase :
       {"partition", "format", "image", "kernel", "identity", "bootloader", "done", "failed"}) {
    EXPECT_TRUE(IsInstallPhase(phase)) << phase;
  }
  EXPECT_FALSE(IsInstallPhase(""));
  EXPECT_FALSE(IsInstallPhase("Done"));
  EXPECT_FALSE(IsInstallPhase("reboot"));
}

}  // namespace
}  // namespace gc
