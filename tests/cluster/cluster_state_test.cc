#include "cluster/cluster_state.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/testing/temp_dir.h"

namespace gc {
namespace {

using ::testing::HasSubstr;

const char kProfile[] = R"(cluster: farm
network:
  interface: eth1
  server: 192.168.5.2
  subnet: 192.168.4.0/23
  dhcp:
    mode: proxy
naming:
  prefix: node
groups:
  compute:
    image: compute
)";

TEST(ClusterStateTest, PathsLiveInTheStateDirectory) {
  EXPECT_EQ(RegistryPath("/var/lib/goldcast"), "/var/lib/goldcast/registry.db");
  EXPECT_EQ(ActiveProfilePath("/var/lib/goldcast"), "/var/lib/goldcast/pxe/profile.yaml");
}

TEST(ClusterStateTest, WithoutServeOrProfileSaysBothWaysOut) {
  testing::TempDir dir;
  auto state = OpenClusterState(dir.path(), "");
  ASSERT_FALSE(state.ok());
  EXPECT_EQ(state.status().code(), Code::kNotFound);
  EXPECT_THAT(state.status().message(), HasSubstr("goldcast serve --profile FILE"));
  EXPECT_THAT(state.status().message(), HasSubstr("or pass --profile FILE"));
}

TEST(ClusterStateTest, OpensTheActiveProfileOrTheOneGiven) {
  testing::TempDir dir;
  testing::WriteTestFile(ActiveProfilePath(dir.path()), kProfile);
  auto active = OpenClusterState(dir.path(), "");
  ASSERT_TRUE(active.ok()) << active.status().message();
  EXPECT_EQ(active->profile.cluster, "farm");
  ASSERT_TRUE(active->registry);
  auto nodes = active->registry->List();
  ASSERT_TRUE(nodes.ok());
  EXPECT_TRUE(nodes->empty());

  std::string other = dir.Sub("other.yaml");
  testing::WriteTestFile(other, std::string(kProfile).replace(9, 4, "lab"));
  auto given = OpenClusterState(dir.path(), other);
  ASSERT_TRUE(given.ok()) << given.status().message();
  EXPECT_EQ(given->profile.cluster, "lab");
}

TEST(ClusterStateTest, ABrokenProfileIsNamed) {
  testing::TempDir dir;
  std::string path = dir.Sub("broken.yaml");
  testing::WriteTestFile(path, "cluster: [\n");
  auto state = OpenClusterState(dir.path(), path);
  ASSERT_FALSE(state.ok());
  EXPECT_THAT(state.status().message(), HasSubstr(path));
}

}  // namespace
}  // namespace gc
