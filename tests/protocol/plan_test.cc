#include "protocol/plan.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>

#include "tests/testing/install_plan_json.h"

namespace gc {
namespace {

using ::gc::testing::PlanJson;
using ::testing::HasSubstr;
using json = nlohmann::json;

TEST(InstallPlanTest, ParsingIsStrictAndNamesTheField) {
  auto plan = DecodeInstallPlan(PlanJson().dump());
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ(plan->node_name, "mosix3");
  EXPECT_EQ(plan->ip, "10.77.0.12");
  EXPECT_EQ(plan->domain, "cluster.local");
  EXPECT_EQ(plan->image_ref, "compute@2");
  EXPECT_EQ(plan->image_bytes, 100u);
  EXPECT_TRUE(plan->has_kernel);
  EXPECT_EQ(plan->kernel_ref, "tiny@1");
  EXPECT_EQ(plan->kernel_release, "6.1.176");
  EXPECT_TRUE(plan->kernel_has_modules);
  EXPECT_EQ(plan->kernel_args, "quiet");
  ASSERT_EQ(plan->cluster_files.size(), 1u);
  EXPECT_EQ(plan->cluster_files[0].mode, 0644u);

  json no_kernel = PlanJson();
  no_kernel["kernel"] = nullptr;
  EXPECT_FALSE(DecodeInstallPlan(no_kernel.dump())->has_kernel);

  auto error_of = [](const std::function<void(json&)>& edit) {
    json doc = PlanJson();
    edit(doc);
    return DecodeInstallPlan(doc.dump()).status().message();
  };
  EXPECT_EQ(error_of([](json& d) { d["node"].erase("name"); }), "plan: field node.name: missing");
  EXPECT_EQ(error_of([](json& d) { d["image"]["bytes"] = "4"; }),
            "plan: field image.bytes: expected a non-negative integer, got string");
  EXPECT_THAT(error_of([](json& d) { d["kernel"]["release"] = "../../etc"; }),
              HasSubstr("plan: field kernel.release:"));
  EXPECT_THAT(error_of([](json& d) { d["cluster_files"][0]["path"] = "../etc/passwd"; }),
              HasSubstr("plan: field cluster_files[0].path:"));
  EXPECT_THAT(error_of([](json& d) {
                d["cluster_files"][0]["content"] = std::string(kMaxClusterFileBytes + 1, 'x');
              }),
              HasSubstr("plan: field cluster_files[0].content: longer than 1048576 bytes"));
  EXPECT_THAT(error_of([](json& d) { d["cluster_files"][0]["mode"] = 04755; }),
              HasSubstr("plan: field cluster_files[0].mode: beyond 0777"));
  EXPECT_THAT(error_of([](json& d) { d["image"]["ref"] = "compute/2"; }),
              HasSubstr("plan: field image.ref:"));
  EXPECT_THAT(error_of([](json& d) { d["kernel_args"] = "quiet\nAPPEND evil"; }),
              HasSubstr("plan: field kernel_args: holds a control character"));
  EXPECT_THAT(error_of([](json& d) { d["node"] = "mosix3"; }),
              HasSubstr("plan: field node: expected an object, got string"));
  EXPECT_THAT(DecodeInstallPlan("[1]").status().message(), HasSubstr("expected a JSON object"));
  EXPECT_THAT(DecodeInstallPlan("{").status().message(), HasSubstr("plan: body is not valid JSON"));
}

// Format 1 (with server, node.index/mac/prefix_length/gateway/group and
// image.files) is refused by name: an agent must match its server.
TEST(InstallPlanTest, AnotherFormatIsRefusedClearly) {
  for (int format : {1, 3}) {
    json doc = PlanJson();
    doc["format"] = format;
    Result<InstallPlan> plan = DecodeInstallPlan(doc.dump());
    ASSERT_FALSE(plan.ok());
    EXPECT_EQ(plan.status().code(), Code::kInvalidArgument);
    EXPECT_THAT(plan.status().message(), HasSubstr("plan: field format: " + std::to_string(format) +
                                                   " is not supported (this agent reads 2;"));
  }
  json no_format = PlanJson();
  no_format.erase("format");
  EXPECT_EQ(DecodeInstallPlan(no_format.dump()).status().message(), "plan: field format: missing");
}

TEST(InstallPlanTest, EncodeDecodeRoundTrips) {
  InstallPlan plan;
  plan.node_name = "mosix7";
  plan.domain = "cluster.local";
  plan.image_ref = "compute@3";
  plan.image_bytes = 123456789;
  plan.kernel_args = "quiet mitigations=off";
  plan.cluster_files = {{"etc/goldcast/calibration", 0755, "#!/bin/sh\nmosctl setyard P/133\n"},
                        {"etc/openmosix.map", 0644, "1 10.77.0.10 7\n"}};
  Result<InstallPlan> decoded = DecodeInstallPlan(EncodeInstallPlan(plan));
  ASSERT_TRUE(decoded.ok()) << decoded.status().message();
  EXPECT_EQ(*decoded, plan);
  EXPECT_TRUE(json::parse(EncodeInstallPlan(plan))["kernel"].is_null());

  plan.ip = "10.77.0.16";
  plan.has_kernel = true;
  plan.kernel_ref = "migration-6.1@1";
  plan.kernel_release = "6.1.176";
  plan.kernel_has_modules = true;
  decoded = DecodeInstallPlan(EncodeInstallPlan(plan));
  ASSERT_TRUE(decoded.ok()) << decoded.status().message();
  EXPECT_EQ(*decoded, plan);
}

// Only what the installer reads travels.
TEST(InstallPlanTest, EncodesTheDocumentedFieldsOnly) {
  InstallPlan plan;
  plan.node_name = "mosix3";
  plan.image_ref = "compute@2";
  json doc = json::parse(EncodeInstallPlan(plan));
  std::vector<std::string> keys;
  for (auto it = doc.begin(); it != doc.end(); ++it) keys.push_back(it.key());
  EXPECT_THAT(keys, ::testing::UnorderedElementsAre("format", "node", "image", "kernel",
                                                    "kernel_args", "cluster_files"));
  EXPECT_EQ(doc["format"], 2);
  EXPECT_EQ(doc["node"], json({{"name", "mosix3"}, {"ip", ""}, {"domain", ""}}));
  EXPECT_EQ(doc["image"], json({{"ref", "compute@2"}, {"bytes", 0}}));
}

}  // namespace
}  // namespace gc
