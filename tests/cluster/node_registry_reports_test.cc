// What nodes report to the registry (progress, heartbeats), the schema
// migration that added it, and the secret check.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "cluster/node_registry.h"
#include "tests/testing/lab_profile.h"
#include "tests/testing/registry_fixture.h"

namespace gc {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

InstallProgress Phase(const std::string& phase, const std::string& message = "") {
  InstallProgress progress;
  progress.phase = phase;
  progress.done = 12;
  progress.total = 40;
  progress.message = message;
  return progress;
}

Heartbeat Beat(const std::string& boot) {
  Heartbeat beat;
  beat.boot = boot;
  beat.image = "compute@2";
  beat.kernel_release = "6.1.176";
  beat.kernel_version = "#1 SMP PREEMPT_DYNAMIC";
  beat.kernel_artifact = "tiny@1";
  beat.cluster_files = {{"etc/openmosix.map", std::string(64, 'a')},
                        {"etc/goldcast/calibration", std::string(64, 'b')}};
  beat.json = R"({"format":1,"boot":")" + boot + R"("})";
  return beat;
}

class NodeReportsTest : public testing::RegistryTest {
 protected:
  Node MustFind(NodeRegistry* registry, const std::string& name) {
    auto node = registry->FindByName(name);
    EXPECT_TRUE(node.ok() && node->has_value()) << name;
    return node.ok() && node->has_value() ? **node : Node();
  }
};

TEST_F(NodeReportsTest, ProgressDrivesStateAndMode) {
  auto registry = MustOpen();
  ASSERT_TRUE(registry);
  ASSERT_TRUE(registry->Add("52:54:00:00:00:01", "").ok());
  Node fresh = MustFind(registry.get(), "mosix1");
  EXPECT_EQ(fresh.state, NodeState::kNew);
  EXPECT_EQ(fresh.progress.time_ns, 0);

  auto first = registry->RecordProgress("mosix1", Phase("partition", "sda"), 100);
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_EQ(first->state, NodeState::kInstalling);
  EXPECT_EQ(first->mode, BootMode::kInstall);
  EXPECT_EQ(first->progress.phase, "partition");
  EXPECT_EQ(first->progress.done, 12u);
  EXPECT_EQ(first->progress.total, 40u);
  EXPECT_EQ(first->progress.message, "sda");
  EXPECT_EQ(first->progress.time_ns, 100);

  auto failed =
      registry->RecordProgress("mosix1", Phase("failed", "no disk larger than 4 GB"), 200);
  ASSERT_TRUE(failed.ok());
  EXPECT_EQ(failed->state, NodeState::kFailed);
  EXPECT_EQ(failed->mode, BootMode::kInstall);  // the next boot tries again
  EXPECT_EQ(failed->progress.message, "no disk larger than 4 GB");

  ASSERT_TRUE(registry->RecordProgress("mosix1", Phase("image"), 300).ok());
  EXPECT_EQ(MustFind(registry.get(), "mosix1").state, NodeState::kInstalling);
  auto done = registry->RecordProgress("mosix1", Phase("done"), 400);
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->state, NodeState::kInstalled);
  EXPECT_EQ(done->mode, BootMode::kLocal);

  // Kept across a reopen, and cleared by a reinstall.
  registry.reset();
  registry = MustOpen();
  Node reopened = MustFind(registry.get(), "mosix1");
  EXPECT_EQ(reopened.progress.phase, "done");
  EXPECT_EQ(reopened.progress.time_ns, 400);
  ASSERT_TRUE(registry->Reinstall("mosix1").ok());
  Node again = MustFind(registry.get(), "mosix1");
  EXPECT_EQ(again.progress.phase, "");
  EXPECT_EQ(again.progress.time_ns, 0);
  EXPECT_EQ(again.state, NodeState::kNew);
  EXPECT_EQ(again.mode, BootMode::kInstall);
}

TEST_F(NodeReportsTest, BadProgressChangesNothing) {
  auto registry = MustOpen();
  ASSERT_TRUE(registry->Add("52:54:00:00:00:01", "").ok());
  auto bad = registry->RecordProgress("mosix1", Phase("reboot"), 100);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), AllOf(HasSubstr("'reboot'"), HasSubstr("mosix1")));
  EXPECT_EQ(MustFind(registry.get(), "mosix1").state, NodeState::kNew);

  auto unknown = registry->RecordProgress("mosix9", Phase("image"), 100);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), Code::kNotFound);
  EXPECT_THAT(unknown.status().message(), AllOf(HasSubstr("mosix9"), HasSubstr(db_)));
}

TEST_F(NodeReportsTest, HeartbeatIsStoredAndDisklessSetsTheState) {
  auto registry = MustOpen();
  ASSERT_TRUE(registry->Add("52:54:00:00:00:01", "").ok());
  ASSERT_TRUE(registry->Add("52:54:00:00:00:02", "").ok());
  ASSERT_TRUE(registry->SetState("mosix1", NodeState::kInstalled).ok());

  auto installed = registry->RecordHeartbeat("mosix1", Beat("installed"), 5000);
  ASSERT_TRUE(installed.ok()) << installed.status().message();
  EXPECT_EQ(installed->state, NodeState::kInstalled);
  auto diskless = registry->RecordHeartbeat("mosix2", Beat("diskless"), 6000);
  ASSERT_TRUE(diskless.ok());
  EXPECT_EQ(diskless->state, NodeState::kDiskless);

  registry.reset();
  registry = MustOpen();
  Node node = MustFind(registry.get(), "mosix1");
  const Heartbeat& beat = node.heartbeat;
  EXPECT_EQ(beat.time_ns, 5000);
  EXPECT_EQ(beat.boot, "installed");
  EXPECT_EQ(beat.image, "compute@2");
  EXPECT_EQ(beat.kernel_release, "6.1.176");
  EXPECT_EQ(beat.kernel_version, "#1 SMP PREEMPT_DYNAMIC");
  EXPECT_EQ(beat.kernel_artifact, "tiny@1");
  EXPECT_THAT(beat.cluster_files,
              ElementsAre(Pair("etc/goldcast/calibration", std::string(64, 'b')),
                          Pair("etc/openmosix.map", std::string(64, 'a'))));
  EXPECT_EQ(beat.json, R"({"format":1,"boot":"installed"})");
  EXPECT_EQ(node.last_seen_ns, 0);  // boots and heartbeats are apart

  Heartbeat odd = Beat("netboot");
  auto bad = registry->RecordHeartbeat("mosix1", odd, 7000);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("'netboot'"));
  EXPECT_EQ(MustFind(registry.get(), "mosix1").heartbeat.time_ns, 5000);
  EXPECT_EQ(registry->RecordHeartbeat("ghost", Beat("installed"), 1).status().code(),
            Code::kNotFound);
}

// Nodes report every few seconds; serve re-renders dnsmasq's hosts on every
// generation change, so only a report that moves the state or the mode may
// change it.
TEST_F(NodeReportsTest, ReportsChangeTheGenerationOnlyWithStateOrMode) {
  auto registry = MustOpen();
  ASSERT_TRUE(registry);
  ASSERT_TRUE(registry->Add("52:54:00:00:00:01", "").ok());
  ASSERT_TRUE(registry->Add("52:54:00:00:00:02", "").ok());
  ASSERT_TRUE(registry->SetState("mosix1", NodeState::kInstalled).ok());
  int64_t generation = registry->Generation().value();

  // Heartbeats of an installed node: stored, generation unchanged.
  for (int64_t t : {100, 200, 300}) {
    ASSERT_TRUE(registry->RecordHeartbeat("mosix1", Beat("installed"), t).ok());
  }
  EXPECT_EQ(MustFind(registry.get(), "mosix1").heartbeat.time_ns, 300);
  EXPECT_EQ(registry->Generation().value(), generation);

  // The first diskless heartbeat changes the state, the next ones do not.
  ASSERT_TRUE(registry->RecordHeartbeat("mosix2", Beat("diskless"), 100).ok());
  int64_t diskless = registry->Generation().value();
  EXPECT_GT(diskless, generation);
  ASSERT_TRUE(registry->RecordHeartbeat("mosix2", Beat("diskless"), 200).ok());
  EXPECT_EQ(registry->Generation().value(), diskless);

  // A redeemed install token rotates the secret: no boot script or host
  // entry holds it, so the generation stays.
  std::string before = MustFind(registry.get(), "mosix2").install_secret;
  auto rotated = registry->RotateSecret("mosix2");
  ASSERT_TRUE(rotated.ok()) << rotated.status().message();
  EXPECT_EQ(rotated->size(), 32u);
  EXPECT_NE(*rotated, before);
  EXPECT_EQ(MustFind(registry.get(), "mosix2").install_secret, *rotated);
  EXPECT_EQ(registry->Generation().value(), diskless);
  EXPECT_EQ(registry->RotateSecret("mosix9").status().code(), Code::kNotFound);

  // Progress: new -> installing counts, the phases after it do not.
  ASSERT_TRUE(registry->Reinstall("mosix1").ok());
  int64_t reinstall = registry->Generation().value();
  EXPECT_GT(reinstall, diskless);  // mode and state changed
  ASSERT_TRUE(registry->RecordProgress("mosix1", Phase("partition"), 400).ok());
  int64_t installing = registry->Generation().value();
  EXPECT_GT(installing, reinstall);
  for (const char* phase : {"format", "image", "image", "kernel", "identity", "bootloader"}) {
    ASSERT_TRUE(registry->RecordProgress("mosix1", Phase(phase), 500).ok()) << phase;
    EXPECT_EQ(registry->Generation().value(), installing) << phase;
  }
  EXPECT_EQ(MustFind(registry.get(), "mosix1").progress.phase, "bootloader");

  // "done" switches the mode to local: the next PXE boot must see it.
  auto done = registry->RecordProgress("mosix1", Phase("done"), 600);
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->mode, BootMode::kLocal);
  int64_t installed = registry->Generation().value();
  EXPECT_GT(installed, installing);
  ASSERT_TRUE(registry->RecordHeartbeat("mosix1", Beat("installed"), 700).ok());
  EXPECT_EQ(registry->Generation().value(), installed);

  // A failure changes the state once.
  ASSERT_TRUE(registry->Reinstall("mosix1").ok());
  ASSERT_TRUE(registry->RecordProgress("mosix1", Phase("failed", "no disk"), 800).ok());
  int64_t failed = registry->Generation().value();
  ASSERT_TRUE(registry->RecordProgress("mosix1", Phase("failed", "still no disk"), 900).ok());
  EXPECT_EQ(registry->Generation().value(), failed);
}

TEST_F(NodeReportsTest, ReportsSurviveTheProfileRewritingADeclaredNode) {
  ClusterProfile profile = testing::LabProfile();
  profile.nodes.push_back(DeclaredNode{"52:54:00:dd:00:02", 2, "", ""});
  auto registry = MustOpen(profile);
  ASSERT_TRUE(registry->RecordHeartbeat("mosix2", Beat("installed"), 42).ok());
  ASSERT_TRUE(registry->RecordProgress("mosix2", Phase("done"), 41).ok());
  registry.reset();
  // A new group: the row is rewritten.
  profile.nodes[0].group = "render";
  registry = MustOpen(profile);
  Node node = MustFind(registry.get(), "mosix2");
  EXPECT_EQ(node.group, "render");
  EXPECT_EQ(node.heartbeat.time_ns, 42);
  EXPECT_EQ(node.heartbeat.cluster_files.size(), 2u);
  EXPECT_EQ(node.progress.phase, "done");
}

TEST_F(NodeReportsTest, VersionOneRegistryIsMigratedKeepingItsNodes) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_.c_str(), &db), SQLITE_OK);
  const char* v1 = R"sql(
CREATE TABLE nodes(idx INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, mac TEXT NOT NULL UNIQUE,
  ip TEXT NOT NULL DEFAULT '', grp TEXT NOT NULL, mode TEXT NOT NULL, state TEXT NOT NULL,
  declared INTEGER NOT NULL DEFAULT 0, install_secret TEXT NOT NULL,
  uuid TEXT NOT NULL DEFAULT '', arch TEXT NOT NULL DEFAULT '', platform TEXT NOT NULL DEFAULT '',
  first_seen_ns INTEGER NOT NULL DEFAULT 0, last_seen_ns INTEGER NOT NULL DEFAULT 0);
CREATE TABLE generation(id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL);
INSERT INTO generation VALUES (1, 7);
INSERT INTO nodes VALUES (1, 'mosix1', '52:54:00:00:00:01', '10.77.1.1', 'compute', 'local',
  'installed', 0, '00112233445566778899aabbccddeeff', '', 'x86_64', 'pcbios', 10, 20);
PRAGMA user_version=1;
)sql";
  ASSERT_EQ(sqlite3_exec(db, v1, nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);

  auto registry = MustOpen();
  ASSERT_TRUE(registry);
  Node node = MustFind(registry.get(), "mosix1");
  EXPECT_EQ(node.state, NodeState::kInstalled);
  EXPECT_EQ(node.mode, BootMode::kLocal);
  EXPECT_EQ(node.install_secret, "00112233445566778899aabbccddeeff");
  EXPECT_EQ(node.last_seen_ns, 20);
  EXPECT_EQ(node.heartbeat.time_ns, 0);
  EXPECT_EQ(node.progress.phase, "");
  ASSERT_TRUE(registry->RecordHeartbeat("mosix1", Beat("installed"), 99).ok());
  EXPECT_EQ(MustFind(registry.get(), "mosix1").heartbeat.image, "compute@2");
  registry.reset();

  ASSERT_EQ(sqlite3_open(db_.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(stmt, 0), 5);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  // Opening again is a no-op (the columns exist now).
  registry = MustOpen();
  EXPECT_EQ(MustFind(registry.get(), "mosix1").heartbeat.time_ns, 99);
}

int64_t UserVersion(const std::string& path) {
  sqlite3* db = nullptr;
  int64_t version = -1;
  if (sqlite3_open(path.c_str(), &db) == SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      version = sqlite3_column_int64(stmt, 0);
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  return version;
}

// Version 2 bumped the generation on every row update (heartbeats
// included); the upgrade keeps the nodes and the generation's value and
// narrows the trigger.
TEST_F(NodeReportsTest, VersionTwoRegistryIsMigratedToTheNarrowTrigger) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_.c_str(), &db), SQLITE_OK);
  const char* v2 = R"sql(
CREATE TABLE nodes(idx INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, mac TEXT NOT NULL UNIQUE,
  ip TEXT NOT NULL DEFAULT '', grp TEXT NOT NULL, mode TEXT NOT NULL, state TEXT NOT NULL,
  declared INTEGER NOT NULL DEFAULT 0, install_secret TEXT NOT NULL,
  uuid TEXT NOT NULL DEFAULT '', arch TEXT NOT NULL DEFAULT '', platform TEXT NOT NULL DEFAULT '',
  first_seen_ns INTEGER NOT NULL DEFAULT 0, last_seen_ns INTEGER NOT NULL DEFAULT 0,
  hb_time_ns INTEGER NOT NULL DEFAULT 0, hb_boot TEXT NOT NULL DEFAULT '',
  hb_image TEXT NOT NULL DEFAULT '', hb_kernel_release TEXT NOT NULL DEFAULT '',
  hb_kernel_version TEXT NOT NULL DEFAULT '', hb_kernel_artifact TEXT NOT NULL DEFAULT '',
  hb_files TEXT NOT NULL DEFAULT '', hb_json TEXT NOT NULL DEFAULT '',
  progress_phase TEXT NOT NULL DEFAULT '', progress_done INTEGER NOT NULL DEFAULT 0,
  progress_total INTEGER NOT NULL DEFAULT 0, progress_message TEXT NOT NULL DEFAULT '',
  progress_time_ns INTEGER NOT NULL DEFAULT 0);
CREATE TABLE generation(id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL);
INSERT INTO generation VALUES (1, 40);
CREATE TRIGGER nodes_insert AFTER INSERT ON nodes
  BEGIN UPDATE generation SET value = value + 1; END;
CREATE TRIGGER nodes_update AFTER UPDATE ON nodes
  BEGIN UPDATE generation SET value = value + 1; END;
CREATE TRIGGER nodes_delete AFTER DELETE ON nodes
  BEGIN UPDATE generation SET value = value + 1; END;
INSERT INTO nodes (idx, name, mac, ip, grp, mode, state, install_secret, hb_time_ns, hb_boot)
  VALUES (1, 'mosix1', '52:54:00:00:00:01', '10.77.1.1', 'compute', 'local', 'installed',
          '00112233445566778899aabbccddeeff', 55, 'installed');
PRAGMA user_version=2;
)sql";
  ASSERT_EQ(sqlite3_exec(db, v2, nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);

  auto registry = MustOpen();
  ASSERT_TRUE(registry);
  EXPECT_EQ(UserVersion(db_), 5);
  // Inserting and deleting rows still counts: the other triggers stay.
  int64_t generation = registry->Generation().value();
  EXPECT_GE(generation, 40);
  Node node = MustFind(registry.get(), "mosix1");
  EXPECT_EQ(node.heartbeat.time_ns, 55);
  EXPECT_EQ(node.install_secret, "00112233445566778899aabbccddeeff");

  ASSERT_TRUE(registry->RecordHeartbeat("mosix1", Beat("installed"), 99).ok());
  EXPECT_EQ(MustFind(registry.get(), "mosix1").heartbeat.time_ns, 99);
  EXPECT_EQ(registry->Generation().value(), generation);
  ASSERT_TRUE(registry->SetMode("mosix1", BootMode::kInstall).ok());
  EXPECT_EQ(registry->Generation().value(), generation + 1);
  ASSERT_TRUE(registry->Add("52:54:00:00:00:02", "").ok());
  EXPECT_EQ(registry->Generation().value(), generation + 2);
  ASSERT_TRUE(registry->Remove("mosix2").ok());
  EXPECT_EQ(registry->Generation().value(), generation + 3);

  // Opening a version 3 file again changes nothing.
  registry.reset();
  registry = MustOpen();
  EXPECT_EQ(registry->Generation().value(), generation + 3);
  EXPECT_EQ(UserVersion(db_), 5);
}

TEST(SecretEqualsTest, ExactMatchOnly) {
  EXPECT_TRUE(SecretEquals("00112233445566778899aabbccddeeff", "00112233445566778899aabbccddeeff"));
  EXPECT_FALSE(
      SecretEquals("00112233445566778899aabbccddeeff", "00112233445566778899aabbccddeefe"));
  EXPECT_FALSE(SecretEquals("00112233445566778899aabbccddeeff", "00112233445566778899aabbccddee"));
  EXPECT_FALSE(SecretEquals("00112233445566778899aabbccddeeff", ""));
  EXPECT_FALSE(SecretEquals("", ""));  // a node without a secret never authenticates
}

}  // namespace
}  // namespace gc
