#include "cluster/target_resolver.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "imager/import_export.h"
#include "tests/testing/lab_profile.h"
#include "tests/testing/temp_dir.h"

namespace gc {
namespace {

using ::testing::HasSubstr;

Node NodeIn(const std::string& group) {
  Node node;
  node.index = 9;
  node.name = "mosix9";
  node.group = group;
  return node;
}

TEST(TargetResolverTest, ResolvesTheNodesGroup) {
  testing::TempDir dir;
  std::string state = dir.Sub("state");
  auto store = ImageStore::Open(state, /*create=*/true);
  ASSERT_TRUE(store.ok()) << store.status().message();
  testing::WriteTestFile(dir.Sub("tree/etc/hostname"), "golden\n");
  ASSERT_TRUE(ImportDirectory(store->get(), dir.Sub("tree"), "compute", "").ok());
  ClusterProfile profile = testing::LabProfile();
  profile.groups["compute"].kernel_args = "quiet";
  TargetResolver resolver(profile, state);

  Result<GroupTarget> target = resolver.ResolveNode(NodeIn("compute"));
  ASSERT_TRUE(target.ok()) << target.status().message();
  EXPECT_EQ(target->group.name, "compute");
  EXPECT_EQ(target->group.kernel_args, "quiet");
  ASSERT_TRUE(target->image);
  EXPECT_EQ(target->image->ToString(), "compute@1");
  EXPECT_EQ(target->kernel_spec, "");
  EXPECT_FALSE(target->kernel);

  // Never captured: not an error, the reason is kept.
  Result<GroupTarget> render = resolver.ResolveNode(NodeIn("render"));
  ASSERT_TRUE(render.ok());
  EXPECT_FALSE(render->image);
  EXPECT_THAT(render->image_error, HasSubstr("image 'render' of group render"));
}

TEST(TargetResolverTest, AGroupTheProfileLacksNamesTheNodeAndTheProfile) {
  testing::TempDir dir;
  ClusterProfile profile = testing::LabProfile();
  TargetResolver resolver(profile, dir.Sub("state"));
  Result<GroupTarget> target = resolver.ResolveNode(NodeIn("gone"));
  EXPECT_EQ(target.status().code(), Code::kInternal);
  EXPECT_EQ(target.status().message(),
            "node mosix9 is in group 'gone', which /etc/goldcast/lab.yaml does not have");
}

TEST(TargetResolverTest, AKernelThatIsNotBuiltSaysHow) {
  testing::TempDir dir;
  ClusterProfile profile = testing::LabProfile();
  profile.groups["render"].kernel = "tiny";
  TargetResolver resolver(profile, dir.Sub("state"));
  Result<GroupTarget> target = resolver.ResolveNode(NodeIn("render"));
  ASSERT_TRUE(target.ok());
  EXPECT_EQ(target->kernel_spec, "tiny");
  EXPECT_FALSE(target->kernel);
  EXPECT_THAT(target->kernel_error, HasSubstr("kernel 'tiny' of group render"));
  EXPECT_THAT(target->kernel_error, HasSubstr("goldcast kernel list"));
}

}  // namespace
}  // namespace gc
