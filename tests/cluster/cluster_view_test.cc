#include "cluster/cluster_view.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cluster/cluster_files.h"
#include "common/hash.h"
#include "imager/import_export.h"
#include "tests/testing/lab_profile.h"
#include "tests/testing/registry_fixture.h"
#include "tests/testing/temp_dir.h"

namespace gc {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;
using Verdict = ClusterFileCheck::Verdict;

constexpr int64_t kNow = 1'700'000'000'000'000'000;
constexpr int64_t kSecond = 1'000'000'000;

// The lab cluster with openMosix (two cluster files: the map and the
// calibration), image compute@1 in the store, and nodes mosix1 and mosix2
// in group compute.
class ClusterViewTest : public testing::RegistryTest {
 protected:
  void SetUp() override {
    profile_.openmosix.enabled = true;
    profile_.openmosix.calibration = "mosctl setyard P/133";
    auto store = ImageStore::Open(state_, /*create=*/true);
    ASSERT_TRUE(store.ok()) << store.status().message();
    testing::WriteTestFile(dir_.Sub("tree/etc/hostname"), "golden\n");
    ASSERT_TRUE(ImportDirectory(store->get(), dir_.Sub("tree"), "compute", "").ok());
    registry_ = MustOpen(profile_);
    ASSERT_TRUE(registry_);
    ASSERT_TRUE(registry_->Add("52:54:00:00:00:01", "").ok());
    ASSERT_TRUE(registry_->Add("52:54:00:00:00:02", "").ok());
  }

  ClusterView View(int64_t now_ns = kNow) {
    return BuildClusterView(profile_, registry_->List().value(), &resolver_, now_ns);
  }

  // The server's hash of every cluster file.
  std::map<std::string, std::string> ServerFiles() {
    std::map<std::string, std::string> files;
    for (const ClusterFile& file : ClusterFiles(profile_, registry_->List().value())) {
      files[file.path] = Sha256Hex(file.content);
    }
    return files;
  }

  // A heartbeat of a node running exactly what the server expects.
  Heartbeat InSync() {
    Heartbeat beat;
    beat.boot = "installed";
    beat.image = "compute@1";
    beat.kernel_release = "6.1.0-13-amd64";
    beat.kernel_version = "#1 SMP";
    beat.cluster_files = ServerFiles();
    beat.json = R"({"format":1,"boot":"installed","cpus":2,"load":[0.5,0.25],"uptime_s":81.5})";
    return beat;
  }

  void Beat(const std::string& name, const Heartbeat& beat, int64_t time_ns) {
    auto recorded = registry_->RecordHeartbeat(name, beat, time_ns);
    ASSERT_TRUE(recorded.ok()) << recorded.status().message();
  }

  ClusterProfile profile_ = testing::LabProfile();
  std::string state_ = dir_.Sub("state");
  TargetResolver resolver_{profile_, state_};
  std::unique_ptr<NodeRegistry> registry_;
};

TEST_F(ClusterViewTest, NodesNeverHeardFromAreNotCompared) {
  ClusterView view = View();
  EXPECT_EQ(view.now_ns, kNow);
  ASSERT_EQ(view.nodes.size(), 2u);
  for (const NodeView& node : view.nodes) {
    EXPECT_FALSE(node.target) << node.node.name;
    EXPECT_FALSE(node.heartbeat_age_ns);
    EXPECT_THAT(node.drift, IsEmpty());
    EXPECT_THAT(node.files, IsEmpty());
    EXPECT_THAT(node.vitals, IsEmpty());
  }
  EXPECT_EQ(view.nodes[0].node.name, "mosix1");
  EXPECT_EQ(view.Find("mosix2"), &view.nodes[1]);
  EXPECT_EQ(view.Find("mosix9"), nullptr);
}

TEST_F(ClusterViewTest, ANodeInSyncHasItsAgeAndNoDrift) {
  Beat("mosix1", InSync(), kNow - 3 * kSecond);
  ClusterView view = View();
  const NodeView& one = view.nodes[0];
  EXPECT_EQ(one.heartbeat_age_ns, 3 * kSecond);
  EXPECT_THAT(one.drift, IsEmpty());
  ASSERT_TRUE(one.target);
  ASSERT_TRUE(one.target->image);
  EXPECT_EQ(one.target->image->ToString(), "compute@1");
  EXPECT_EQ(one.target->group.name, "compute");
  EXPECT_THAT(one.files,
              ElementsAre(::testing::Field(&ClusterFileCheck::verdict, Verdict::kAsSent),
                          ::testing::Field(&ClusterFileCheck::verdict, Verdict::kAsSent)));
  EXPECT_THAT(one.vitals,
              ElementsAre(Pair("uptime_s", "81.5"), Pair("load", "[0.5,0.25]"), Pair("cpus", "2")));
  // mosix2 is in the same group: what it should run is known, but it has
  // reported nothing to compare.
  const NodeView& two = view.nodes[1];
  EXPECT_TRUE(two.target);
  EXPECT_FALSE(two.heartbeat_age_ns);
  EXPECT_THAT(two.drift, IsEmpty());

  // A heartbeat stamped by a clock a little ahead is not from the future.
  EXPECT_EQ(View(kNow - 4 * kSecond).nodes[0].heartbeat_age_ns, 0);
}

TEST_F(ClusterViewTest, DriftAndEveryClusterFilesVerdict) {
  Heartbeat beat = InSync();
  beat.image = "compute@0";
  beat.kernel_artifact = "tiny@1";  // the group names no kernel
  beat.cluster_files.erase(kCalibrationPath);
  beat.cluster_files[kOpenMosixMapPath] = Sha256Hex("1 10.0.0.1 1\n");
  beat.cluster_files["etc/extra"] = Sha256Hex("extra");
  Beat("mosix1", beat, kNow);
  ClusterView view = View();
  const NodeView& one = view.nodes[0];
  EXPECT_THAT(one.drift, ElementsAre("kernel", "image", "files"));
  ASSERT_EQ(one.files.size(), 3u);
  EXPECT_EQ(one.files[0].path, "etc/extra");
  EXPECT_EQ(one.files[0].verdict, Verdict::kNotSent);
  EXPECT_EQ(one.files[1].path, kOpenMosixMapPath);
  EXPECT_EQ(one.files[1].verdict, Verdict::kDiffers);
  EXPECT_EQ(one.files[1].hash, Sha256Hex("1 10.0.0.1 1\n"));
  EXPECT_EQ(one.files[2].path, kCalibrationPath);
  EXPECT_EQ(one.files[2].verdict, Verdict::kMissing);
  EXPECT_EQ(one.files[2].hash, "");
  EXPECT_STREQ(VerdictText(Verdict::kDiffers), "differs from the server's");
}

TEST_F(ClusterViewTest, TheGroupIsNotComparedWhenItCannotBeResolved) {
  profile_.groups["compute"].image = "ghost";
  Beat("mosix1", InSync(), kNow);
  ClusterView view = View();
  const NodeView& one = view.nodes[0];
  ASSERT_TRUE(one.target);
  EXPECT_FALSE(one.target->image);
  EXPECT_THAT(one.target->image_error, ::testing::HasSubstr("image 'ghost' of group compute"));
  EXPECT_THAT(one.drift, IsEmpty());
}

// The keys `goldcast nodes list --json` and `nodes show --json` print;
// integration tests and scripts parse them.
TEST_F(ClusterViewTest, JsonKeepsTheKeysOfNodesShow) {
  ClusterView before = View();
  json quiet = json::parse(NodeViewJson(before.nodes[1]));
  EXPECT_EQ(quiet, json({{"index", 2},
                         {"name", "mosix2"},
                         {"mac", "52:54:00:00:00:02"},
                         {"ip", "10.77.1.2"},
                         {"group", "compute"},
                         {"mode", "install"},
                         {"state", "new"},
                         {"declared", false},
                         {"uuid", ""},
                         {"arch", ""},
                         {"platform", ""},
                         {"first_seen_ns", 0},
                         {"last_seen_ns", 0},
                         {"progress", nullptr},
                         {"heartbeat", nullptr},
                         {"drift", json::array()}}));

  InstallProgress progress{"image", 3, 9, "writing compute@1", 0};
  ASSERT_TRUE(registry_->RecordProgress("mosix1", progress, kNow - kSecond).ok());
  Heartbeat beat = InSync();
  beat.kernel_artifact = "tiny@1";
  Beat("mosix1", beat, kNow);
  ClusterView view = View();
  json one = json::parse(NodeViewJson(view.nodes[0]));
  EXPECT_EQ(one["state"], "installing");
  EXPECT_EQ(one["progress"], json({{"phase", "image"},
                                   {"done", 3},
                                   {"total", 9},
                                   {"message", "writing compute@1"},
                                   {"time_ns", kNow - kSecond}}));
  EXPECT_EQ(one["heartbeat"],
            json({{"time_ns", kNow},
                  {"boot", "installed"},
                  {"image", "compute@1"},
                  {"kernel",
                   {{"artifact", "tiny@1"}, {"release", "6.1.0-13-amd64"}, {"version", "#1 SMP"}}},
                  {"cluster_files", ServerFiles()},
                  {"report", json::parse(beat.json)}}));
  EXPECT_EQ(one["drift"], json({"kernel"}));

  std::string list = ClusterViewJson(view, 2);
  EXPECT_NE(list.find("\n  {"), std::string::npos) << "indented: " << list;
  json array = json::parse(list);
  ASSERT_EQ(array.size(), 2u);
  EXPECT_EQ(array[0], one);
  EXPECT_EQ(array[1]["name"], "mosix2");
}

TEST_F(ClusterViewTest, AReportThatIsNotJsonIsLeftOut) {
  Heartbeat beat = InSync();
  beat.json = "{broken";
  Beat("mosix1", beat, kNow);
  ClusterView view = View();
  const NodeView& one = view.nodes[0];
  EXPECT_THAT(one.vitals, IsEmpty());
  json shown = json::parse(NodeViewJson(one));
  EXPECT_FALSE(shown["heartbeat"].contains("report"));
  EXPECT_EQ(shown["heartbeat"]["image"], "compute@1");
}

}  // namespace
}  // namespace gc
