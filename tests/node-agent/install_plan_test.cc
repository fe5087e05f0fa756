#include "node-agent/install_plan.h"

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
  auto plan = ParseInstallPlan(PlanJson().dump());
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ(plan->node_name, "mosix3");
  EXPECT_EQ(plan->domain, "cluster.local");
  EXPECT_EQ(plan->image_bytes, 100u);
  EXPECT_TRUE(plan->has_kernel);
  EXPECT_EQ(plan->kernel_release, "6.1.176");
  ASSERT_EQ(plan->cluster_files.size(), 1u);
  EXPECT_EQ(plan->cluster_files[0].mode, 0644u);

  json no_kernel = PlanJson();
  no_kernel["kernel"] = nullptr;
  EXPECT_FALSE(ParseInstallPlan(no_kernel.dump())->has_kernel);

  auto error_of = [](const std::function<void(json&)>& edit) {
    json doc = PlanJson();
    edit(doc);
    return ParseInstallPlan(doc.dump()).status().message();
  };
  EXPECT_EQ(error_of([](json& d) { d["node"].erase("name"); }), "plan: node.name: missing");
  EXPECT_EQ(error_of([](json& d) { d["image"]["files"] = "4"; }),
            "plan: image.files: expected a non-negative integer");
  EXPECT_THAT(error_of([](json& d) { d["kernel"]["release"] = "../../etc"; }),
              HasSubstr("plan: kernel.release:"));
  EXPECT_THAT(error_of([](json& d) { d["cluster_files"][0]["path"] = "../etc/passwd"; }),
              HasSubstr("plan: cluster_files[0].path:"));
  EXPECT_THAT(error_of([](json& d) { d["image"]["ref"] = "compute/2"; }),
              HasSubstr("plan: image.ref:"));
  EXPECT_THAT(error_of([](json& d) { d["kernel_args"] = "quiet\nAPPEND evil"; }),
              HasSubstr("plan: kernel_args: holds a control character"));
  EXPECT_THAT(error_of([](json& d) { d["format"] = 2; }), HasSubstr("plan: format:"));
  EXPECT_THAT(ParseInstallPlan("[1]").status().message(), HasSubstr("expected a JSON object"));
}

}  // namespace
}  // namespace gc
