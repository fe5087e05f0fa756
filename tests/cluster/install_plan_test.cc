#include "cluster/install_plan.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cluster/cluster_files.h"
#include "tests/testing/lab_profile.h"
#include "tests/testing/registry_fixture.h"

namespace gc {
namespace {

using ::testing::HasSubstr;

Node MakeNode(int index, const std::string& ip) { return testing::NodeAt(index, ip, "compute"); }

GroupTarget ComputeTarget(const ClusterProfile& profile) {
  GroupTarget target;
  target.group = profile.groups.at("compute");
  target.group.kernel_args = "quiet";
  target.image = ImageRef{"compute", 2};
  return target;
}

TEST(InstallPlanTest, CarriesTheNodeTheTargetAndTheClusterFiles) {
  ClusterProfile profile = testing::LabProfile();
  profile.naming.domain = "cluster.local";
  profile.openmosix.enabled = true;
  std::vector<Node> nodes = {MakeNode(1, "10.77.1.1"), MakeNode(2, "10.77.1.2")};
  GroupTarget target = ComputeTarget(profile);
  target.kernel_spec = "migration";
  target.kernel = KernelRef{"migration", 3};
  target.kernel_release = "6.1.0-goldcast";
  target.kernel_has_modules = true;
  ASSERT_TRUE(CheckInstallable(target).ok());

  InstallPlan plan = MakeInstallPlan(profile, nodes[1], target, nodes, 12345);
  EXPECT_EQ(plan.node_name, "mosix2");
  EXPECT_EQ(plan.ip, "10.77.1.2");
  EXPECT_EQ(plan.domain, "cluster.local");
  EXPECT_EQ(plan.image_ref, "compute@2");
  EXPECT_EQ(plan.image_bytes, 12345u);
  EXPECT_TRUE(plan.has_kernel);
  EXPECT_EQ(plan.kernel_ref, "migration@3");
  EXPECT_EQ(plan.kernel_release, "6.1.0-goldcast");
  EXPECT_TRUE(plan.kernel_has_modules);
  EXPECT_EQ(plan.kernel_args, "quiet");
  // Every node gets the same files, listing every node.
  EXPECT_EQ(plan.cluster_files, ClusterFiles(profile, nodes));
  ASSERT_FALSE(plan.cluster_files.empty());
  EXPECT_EQ(plan.cluster_files[0].content, "1 10.77.1.1 2\n");  // both nodes, one range
}

TEST(InstallPlanTest, ProxyDhcpSendsNoAddressAndNoKernelKeepsTheImagesOwn) {
  ClusterProfile profile = testing::LabProfile(DhcpMode::kProxy);
  std::vector<Node> nodes = {MakeNode(1, "192.168.5.20")};
  InstallPlan plan = MakeInstallPlan(profile, nodes[0], ComputeTarget(profile), nodes, 0);
  EXPECT_EQ(plan.ip, "");
  EXPECT_FALSE(plan.has_kernel);
  EXPECT_EQ(plan.kernel_ref, "");
}

TEST(InstallPlanTest, UnresolvedImageOrKernelIsRefusedWithTheNextStep) {
  ClusterProfile profile = testing::LabProfile();
  GroupTarget no_image = ComputeTarget(profile);
  no_image.image.reset();
  no_image.image_error = "image 'compute' of group compute: no image store";
  Status status = CheckInstallable(no_image);
  EXPECT_EQ(status.code(), Code::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("no image store (capture or import it first)"));

  GroupTarget no_kernel = ComputeTarget(profile);
  no_kernel.kernel_spec = "migration";
  no_kernel.kernel_error = "kernel 'migration' of group compute: not built";
  status = CheckInstallable(no_kernel);
  EXPECT_EQ(status.code(), Code::kFailedPrecondition);
  EXPECT_EQ(status.message(), no_kernel.kernel_error);
}

TEST(InstallPlanTest, AGroupWithoutKernelNeedsAnImageWithOne) {
  ClusterProfile profile = testing::LabProfile();
  GroupTarget target = ComputeTarget(profile);
  EXPECT_TRUE(CheckImageKernel(profile, target, "6.1.0-9-amd64").ok());
  Status status = CheckImageKernel(profile, target, "");
  EXPECT_EQ(status.code(), Code::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("image compute@2 of group compute has no kernel"));
  EXPECT_THAT(status.message(), HasSubstr(profile.path));
  // A kernel artifact makes the image's own kernel irrelevant.
  target.kernel_spec = "migration";
  target.kernel = KernelRef{"migration", 1};
  EXPECT_TRUE(CheckImageKernel(profile, target, "").ok());
}

}  // namespace
}  // namespace gc
