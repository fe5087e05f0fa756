#include "cluster/cluster_files.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/testing/registry_fixture.h"

namespace gc {
namespace {

using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::IsEmpty;

Node At(int index, const std::string& ip) { return testing::NodeAt(index, ip); }

TEST(OpenMosixMapTest, ConsecutiveIndicesAndAddressesShareALine) {
  // Out of order on purpose: the map follows the indices.
  std::vector<Node> nodes = {At(3, "192.168.0.103"), At(1, "192.168.0.101"), At(2, "192.168.0.102"),
                             At(4, "192.168.0.104")};
  EXPECT_EQ(RenderOpenMosixMap(nodes, true), "1 192.168.0.101 4\n");
  EXPECT_EQ(RenderOpenMosixMap(nodes, false),
            "1 192.168.0.101 1\n2 192.168.0.102 1\n3 192.168.0.103 1\n4 192.168.0.104 1\n");
}

TEST(OpenMosixMapTest, GapsInIndicesOrAddressesStartNewLines) {
  std::vector<Node> nodes = {At(1, "10.77.0.10"), At(2, "10.77.0.11"),
                             At(3, "10.77.0.20"),                       // address jumps
                             At(4, "10.77.0.21"), At(6, "10.77.0.22"),  // index jumps
                             At(7, "10.77.0.23")};
  EXPECT_EQ(RenderOpenMosixMap(nodes, true), "1 10.77.0.10 2\n3 10.77.0.20 2\n6 10.77.0.22 2\n");
}

TEST(OpenMosixMapTest, RangesCrossOctetBoundaries) {
  std::vector<Node> nodes = {At(1, "10.77.0.254"), At(2, "10.77.0.255"), At(3, "10.77.1.0")};
  EXPECT_EQ(RenderOpenMosixMap(nodes, true), "1 10.77.0.254 3\n");
}

TEST(OpenMosixMapTest, OnlyNodesWithAnAddressAndAPositiveIndex) {
  std::vector<Node> nodes = {At(0, "10.77.0.9"), At(1, "10.77.0.10"), At(2, ""), At(3, "not-an-ip"),
                             At(4, "10.77.0.13")};
  EXPECT_EQ(RenderOpenMosixMap(nodes, true), "1 10.77.0.10 1\n4 10.77.0.13 1\n");
  EXPECT_EQ(RenderOpenMosixMap({}, true), "");
}

TEST(ClusterFilesTest, NoneWithoutOpenMosix) {
  ClusterProfile profile;
  profile.openmosix.enabled = false;
  profile.openmosix.calibration = "mosctl setyard P/133";
  EXPECT_THAT(ClusterFiles(profile, {At(1, "10.77.0.10")}), IsEmpty());
}

TEST(ClusterFilesTest, MapAndCalibrationSortedByPath) {
  ClusterProfile profile;
  profile.openmosix.enabled = true;
  profile.openmosix.compress_ranges = false;
  profile.openmosix.calibration = "mosctl setyard P/133";
  std::vector<ClusterFile> files =
      ClusterFiles(profile, {At(1, "10.77.0.10"), At(2, "10.77.0.11")});
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].path, "etc/goldcast/calibration");
  EXPECT_EQ(files[0].mode, 0755u);
  EXPECT_EQ(files[0].content,
            "#!/bin/sh\n# openMosix calibration from the cluster profile "
            "(goldcast)\nmosctl setyard P/133\n");
  EXPECT_EQ(files[1].path, "etc/openmosix.map");
  EXPECT_EQ(files[1].mode, 0644u);
  EXPECT_EQ(files[1].content, "1 10.77.0.10 1\n2 10.77.0.11 1\n");

  profile.openmosix.calibration.clear();
  EXPECT_THAT(ClusterFiles(profile, {}),
              ElementsAre(Field(&ClusterFile::path, std::string(kOpenMosixMapPath))));
}

}  // namespace
}  // namespace gc
