#include "pxe/hosts_sync.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/testing/registry_fixture.h"
#include "tests/testing/temp_dir.h"

namespace gc {
namespace {

using ::testing::ElementsAre;

class HostsSyncTest : public testing::RegistryTest {
 protected:
  void SetUp() override {
    registry_ = MustOpen();
    ASSERT_TRUE(registry_);
    ASSERT_TRUE(Env::Default()->CreateDirs(hosts_).ok());
  }
  std::vector<std::string> Files() {
    auto names = Env::Default()->ListDir(hosts_);
    EXPECT_TRUE(names.ok());
    std::vector<std::string> sorted = names.ok() ? *names : std::vector<std::string>{};
    std::sort(sorted.begin(), sorted.end());
    return sorted;
  }
  std::string File(const std::string& name) { return testing::ReadTestFile(hosts_ + "/" + name); }
  void Boot(const std::string& mac) {
    BootRequest request;
    request.mac = mac;
    ASSERT_TRUE(registry_->RegisterBoot(request, 1).ok());
  }

  std::unique_ptr<NodeRegistry> registry_;
  std::string hosts_ = dir_.Sub("hosts.d");
};

TEST_F(HostsSyncTest, AddedNodesGoInNewFilesChangesRewriteAll) {
  testing::WriteTestFile(hosts_ + "/stale", "52:54:00:99:99:99,10.77.9.9,old\n");
  Boot("52:54:00:00:00:01");
  HostsSync sync(registry_.get(), hosts_);
  ASSERT_TRUE(sync.Start().ok());
  EXPECT_THAT(Files(), ElementsAre("hosts-0"));  // whatever was there is gone
  EXPECT_EQ(File("hosts-0"), "52:54:00:00:00:01,10.77.1.1,mosix1\n");

  // Nothing changed: nothing written, no reload.
  EXPECT_FALSE(sync.Tick().value());
  EXPECT_THAT(Files(), ElementsAre("hosts-0"));

  // New nodes: one new file with only them, read by dnsmasq without a reload.
  Boot("52:54:00:00:00:02");
  Boot("52:54:00:00:00:03");
  EXPECT_FALSE(sync.Tick().value());
  EXPECT_THAT(Files(), ElementsAre("hosts-0", "hosts-1"));
  EXPECT_EQ(File("hosts-1"),
            "52:54:00:00:00:02,10.77.1.2,mosix2\n52:54:00:00:00:03,10.77.1.3,mosix3\n");

  // A heartbeat-like change that leaves the hosts alone: no new file.
  ASSERT_TRUE(registry_->SetMode("mosix2", BootMode::kLocal).ok());
  EXPECT_FALSE(sync.Tick().value());
  EXPECT_THAT(Files(), ElementsAre("hosts-0", "hosts-1"));

  // A node removed: everything in one file again, and dnsmasq reloads.
  ASSERT_TRUE(registry_->Remove("mosix2").ok());
  EXPECT_TRUE(sync.Tick().value());
  EXPECT_THAT(Files(), ElementsAre("hosts-2"));
  EXPECT_EQ(File("hosts-2"),
            "52:54:00:00:00:01,10.77.1.1,mosix1\n52:54:00:00:00:03,10.77.1.3,mosix3\n");
}

TEST_F(HostsSyncTest, ManyAdditionsAreFoldedIntoOneFile) {
  HostsSync sync(registry_.get(), hosts_);
  ASSERT_TRUE(sync.Start().ok());
  bool reloaded = false;
  for (int i = 1; i <= 70; ++i) {
    char mac[32];
    std::snprintf(mac, sizeof mac, "52:54:00:00:01:%02x", i);
    Boot(mac);
    reloaded = sync.Tick().value() || reloaded;
  }
  // At most 64 files; past that, one file with every host and a reload.
  EXPECT_TRUE(reloaded);
  EXPECT_LE(Files().size(), 64u);
  std::string all;
  for (const std::string& name : Files()) all += File(name);
  EXPECT_EQ(std::count(all.begin(), all.end(), '\n'), 70);
}

}  // namespace
}  // namespace gc
