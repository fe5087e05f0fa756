#include "cluster/node_registry.h"

#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <set>
#include <thread>

#include "tests/testing/lab_profile.h"
#include "tests/testing/registry_fixture.h"
#include "tests/testing/temp_dir.h"

namespace gc {
namespace {

using ::gc::testing::LabProfile;
using ::testing::AllOf;
using ::testing::HasSubstr;

std::string Mac(int n) {
  char text[18];
  std::snprintf(text, sizeof text, "52:54:00:%02x:%02x:%02x", (n >> 16) & 0xff, (n >> 8) & 0xff,
                n & 0xff);
  return text;
}

// The node a boot request found (the lab profile enrolls automatically).
Result<Node> NodeOf(Result<BootRegistration> found) {
  if (!found.ok()) return found.status();
  if (!found->node) return Internal("the machine was kept pending");
  return *found->node;
}

BootRequest Boot(const std::string& mac, const std::string& remote = "10.77.3.9") {
  BootRequest request;
  request.mac = mac;
  request.uuid = "8c2a0b5e-1f6d-4c3a-9e7b-0a1b2c3d4e5f";
  request.arch = "x86_64";
  request.platform = "pcbios";
  request.remote_address = remote;
  return request;
}

class NodeRegistryTest : public testing::RegistryTest {
 protected:
  Node MustBoot(NodeRegistry* registry, const std::string& mac, int64_t now = 1000) {
    auto node = NodeOf(registry->RegisterBoot(Boot(mac), now));
    EXPECT_TRUE(node.ok()) << node.status().message();
    return node.ok() ? *node : Node();
  }
};

TEST_F(NodeRegistryTest, NamesUnknownMacsInBootOrder) {
  auto registry = MustOpen();
  ASSERT_TRUE(registry);
  Node first = MustBoot(registry.get(), Mac(0x30), 111);
  Node second = MustBoot(registry.get(), Mac(0x10), 222);
  EXPECT_EQ(first.name, "mosix1");
  EXPECT_EQ(first.index, 1);
  EXPECT_EQ(first.ip, "10.77.1.1");
  EXPECT_EQ(first.group, "compute");
  EXPECT_EQ(first.mode, BootMode::kInstall);
  EXPECT_EQ(first.state, NodeState::kNew);
  EXPECT_FALSE(first.declared);
  EXPECT_EQ(first.install_secret.size(), 32u);
  EXPECT_EQ(first.first_seen_ns, 111);
  EXPECT_EQ(first.platform, "pcbios");
  EXPECT_EQ(second.name, "mosix2");
  EXPECT_EQ(second.ip, "10.77.1.2");
  EXPECT_NE(first.install_secret, second.install_secret);

  // Booting again updates what it reports, not its identity.
  BootRequest again = Boot(Mac(0x30));
  again.platform = "efi";
  again.uuid = "";
  auto known = NodeOf(registry->RegisterBoot(again, 333));
  ASSERT_TRUE(known.ok()) << known.status().message();
  EXPECT_EQ(known->name, "mosix1");
  EXPECT_EQ(known->install_secret, first.install_secret);
  EXPECT_EQ(known->platform, "efi");
  EXPECT_EQ(known->uuid, "");
  EXPECT_EQ(known->first_seen_ns, 111);
  EXPECT_EQ(known->last_seen_ns, 333);

  auto list = registry->List();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "mosix1");
  EXPECT_EQ((*list)[0].platform, "efi");
  EXPECT_EQ((*list)[1].mac, Mac(0x10));

  // It holds install secrets: nobody but root reads it.
  struct stat st;
  ASSERT_EQ(::stat(db_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((db_ + "-wal").c_str(), &st), 0);  // WAL mode, same privacy
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(NodeOf(registry->RegisterBoot(Boot("garbage"), 1)).status().code(),
            Code::kInvalidArgument);
}

TEST_F(NodeRegistryTest, KnownMacKeepsItsNameAfterReopening) {
  {
    auto registry = MustOpen();
    ASSERT_TRUE(registry);
    MustBoot(registry.get(), Mac(1));
    MustBoot(registry.get(), Mac(2));
  }
  auto registry = MustOpen();
  ASSERT_TRUE(registry);
  EXPECT_EQ(MustBoot(registry.get(), Mac(2)).name, "mosix2");
  EXPECT_EQ(MustBoot(registry.get(), Mac(3)).name, "mosix3");
  auto found = registry->FindByMac("52-54-00-00-00-01");  // any spelling
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->name, "mosix1");
  auto by_name = registry->FindByName("mosix3");
  ASSERT_TRUE(by_name.ok() && by_name->has_value());
  EXPECT_EQ((*by_name)->mac, Mac(3));
  auto missing = registry->FindByName("mosix9");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
  EXPECT_EQ(registry->FindByMac("not-a-mac").status().code(), Code::kInvalidArgument);
}

TEST_F(NodeRegistryTest, EightThreadsRegisterFourHundredMacs) {
  auto registry = MustOpen();
  ASSERT_TRUE(registry);
  constexpr int kThreads = 8, kPerThread = 50;
  std::vector<std::vector<Node>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto node = NodeOf(registry->RegisterBoot(Boot(Mac(t * 1000 + i)), 1));
        if (node.ok()) got[t].push_back(*node);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::set<std::string> names, ips, macs;
  std::set<int> indices;
  for (const auto& nodes : got) {
    EXPECT_EQ(nodes.size(), static_cast<size_t>(kPerThread));
    for (const Node& node : nodes) {
      names.insert(node.name);
      ips.insert(node.ip);
      macs.insert(node.mac);
      indices.insert(node.index);
      EXPECT_EQ(node.name, "mosix" + std::to_string(node.index));
    }
  }
  EXPECT_EQ(names.size(), 400u);
  EXPECT_EQ(ips.size(), 400u);
  EXPECT_EQ(macs.size(), 400u);
  ASSERT_EQ(indices.size(), 400u);
  EXPECT_EQ(*indices.begin(), 1);
  EXPECT_EQ(*indices.rbegin(), 400);
  auto list = registry->List();
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), 400u);
}

TEST_F(NodeRegistryTest, ProcessesRegisterConcurrently) {
  MustOpen();  // creates the schema, then closes
  constexpr int kChildren = 3, kPerProcess = 40;
  std::vector<pid_t> children;
  for (int c = 0; c < kChildren; ++c) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      // The child's own connection; no gtest assertions here.
      auto registry = NodeRegistry::Open(db_, LabProfile());
      int failures = registry.ok() ? 0 : 100;
      for (int i = 0; registry.ok() && i < kPerProcess; ++i) {
        if (!NodeOf((*registry)->RegisterBoot(Boot(Mac((c + 1) * 1000 + i)), 1)).ok()) ++failures;
      }
      ::_exit(failures == 0 ? 0 : 1);
    }
    children.push_back(pid);
  }
  auto registry = MustOpen();
  ASSERT_TRUE(registry);
  for (int i = 0; i < kPerProcess; ++i) MustBoot(registry.get(), Mac(i));
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child " << pid << " failed";
  }
  auto list = registry->List();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), static_cast<size_t>((kChildren + 1) * kPerProcess));
  std::set<std::string> ips, names;
  for (size_t i = 0; i < list->size(); ++i) {
    EXPECT_EQ((*list)[i].index, static_cast<int>(i) + 1);  // 1..160, no gap
    ips.insert((*list)[i].ip);
    names.insert((*list)[i].name);
  }
  EXPECT_EQ(ips.size(), list->size());
  EXPECT_EQ(names.size(), list->size());
}

TEST_F(NodeRegistryTest, DeclaredNodesKeepTheirNamesAndAreNotCountedTwice) {
  ClusterProfile profile = LabProfile();
  profile.nodes.push_back(DeclaredNode{"52:54:00:dd:00:02", 2, "", ""});
  profile.nodes.push_back(DeclaredNode{"52:54:00:dd:00:0a", 10, "head", "render"});
  auto registry = MustOpen(profile);
  ASSERT_TRUE(registry);
  auto declared = registry->FindByName("mosix2");
  ASSERT_TRUE(declared.ok() && declared->has_value());
  EXPECT_TRUE((*declared)->declared);
  EXPECT_EQ((*declared)->ip, "10.77.1.2");
  EXPECT_EQ((*declared)->first_seen_ns, 0);  // not booted yet
  auto head = registry->FindByName("head");
  ASSERT_TRUE(head.ok() && head->has_value());
  EXPECT_EQ((*head)->index, 10);
  EXPECT_EQ((*head)->ip, "10.77.1.10");
  EXPECT_EQ((*head)->mode, BootMode::kDiskless);  // the render group's mode

  EXPECT_EQ(MustBoot(registry.get(), Mac(1)).name, "mosix1");
  EXPECT_EQ(MustBoot(registry.get(), Mac(2)).name, "mosix3");
  Node two = MustBoot(registry.get(), "52:54:00:dd:00:02", 500);
  EXPECT_EQ(two.name, "mosix2");
  EXPECT_EQ(two.first_seen_ns, 500);
  auto list = registry->List();
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), 4u);

  // Reopening with the same profile writes nothing.
  auto generation = registry->Generation();
  registry.reset();
  registry = MustOpen(profile);
  ASSERT_TRUE(registry);
  EXPECT_EQ(registry->Generation().value(), generation.value());
  EXPECT_EQ(registry->List()->size(), 4u);
}

TEST_F(NodeRegistryTest, ExplicitDeclaredNameIsSkippedByBootOrderNaming) {
  ClusterProfile profile = LabProfile();
  // The loader refuses this; the registry must still never hand out a
  // name twice.
  profile.nodes.push_back(DeclaredNode{"52:54:00:dd:00:07", 7, "mosix1", ""});
  auto registry = MustOpen(profile);
  ASSERT_TRUE(registry);
  Node node = MustBoot(registry.get(), Mac(1));
  EXPECT_EQ(node.index, 2);
  EXPECT_EQ(node.name, "mosix2");
}

TEST_F(NodeRegistryTest, DeclaredIndexHeldByAnotherMacIsAnErrorNamingBoth) {
  {
    auto registry = MustOpen();
    ASSERT_TRUE(registry);
    MustBoot(registry.get(), Mac(0xab));
  }
  ClusterProfile profile = LabProfile();
  profile.nodes.push_back(DeclaredNode{"52:54:00:dd:00:01", 1, "", ""});
  auto registry = NodeRegistry::Open(db_, profile);
  ASSERT_FALSE(registry.ok());
  EXPECT_EQ(registry.status().code(), Code::kInvalidArgument);
  EXPECT_THAT(registry.status().message(),
              AllOf(HasSubstr("52:54:00:dd:00:01"), HasSubstr(Mac(0xab)), HasSubstr("mosix1"),
                    HasSubstr("index 1"), HasSubstr(profile.path), HasSubstr(db_)));
  // Nothing was changed.
  auto reopened = MustOpen();
  ASSERT_TRUE(reopened);
  auto list = reopened->List();
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].mac, Mac(0xab));

  ClusterProfile by_name = LabProfile();
  by_name.nodes.push_back(DeclaredNode{"52:54:00:dd:00:05", 5, "mosix1", ""});
  auto clash = NodeRegistry::Open(db_, by_name);
  ASSERT_FALSE(clash.ok());
  EXPECT_THAT(clash.status().message(), AllOf(HasSubstr("name mosix1"), HasSubstr(Mac(0xab))));
}

TEST_F(NodeRegistryTest, DeclaredNodesMayTradeIndices) {
  ClusterProfile before = LabProfile();
  before.nodes.push_back(DeclaredNode{"52:54:00:dd:00:01", 1, "", ""});
  before.nodes.push_back(DeclaredNode{"52:54:00:dd:00:02", 2, "", ""});
  ASSERT_TRUE(MustOpen(before));
  ClusterProfile after = LabProfile();
  after.nodes.push_back(DeclaredNode{"52:54:00:dd:00:01", 2, "", ""});
  after.nodes.push_back(DeclaredNode{"52:54:00:dd:00:02", 1, "", ""});
  auto registry = MustOpen(after);
  ASSERT_TRUE(registry);
  EXPECT_EQ((*registry->FindByMac("52:54:00:dd:00:01"))->name, "mosix2");
  EXPECT_EQ((*registry->FindByMac("52:54:00:dd:00:02"))->ip, "10.77.1.1");
  // Dropped from the profile: the node stays, no longer declared.
  registry.reset();
  registry = MustOpen();
  ASSERT_TRUE(registry);
  auto node = registry->FindByName("mosix1");
  ASSERT_TRUE(node.ok() && node->has_value());
  EXPECT_FALSE((*node)->declared);
}

TEST_F(NodeRegistryTest, RemovedIndexIsReusedFirst) {
  auto registry = MustOpen();
  ASSERT_TRUE(registry);
  for (int i = 1; i <= 4; ++i) MustBoot(registry.get(), Mac(i));
  ASSERT_TRUE(registry->Remove("mosix2").ok());
  EXPECT_FALSE(registry->FindByName("mosix2")->has_value());
  Node again = MustBoot(registry.get(), Mac(99));
  EXPECT_EQ(again.index, 2);
  EXPECT_EQ(again.name, "mosix2");
  EXPECT_EQ(again.ip, "10.77.1.2");
  EXPECT_EQ(MustBoot(registry.get(), Mac(100)).name, "mosix5");
}

// Naming keeps the indices and names in use between registrations; what
// another connection (`goldcast nodes` in another process) changes is seen
// by the next registration all the same.
TEST_F(NodeRegistryTest, AnotherConnectionsEditsAreSeenByTheNextRegistration) {
  auto serve = MustOpen();
  auto admin = MustOpen();
  ASSERT_TRUE(serve && admin);
  for (int i = 1; i <= 3; ++i) MustBoot(serve.get(), Mac(i));
  ASSERT_TRUE(admin->Remove("mosix2").ok());
  EXPECT_EQ(MustBoot(serve.get(), Mac(10)).name, "mosix2");
  ASSERT_TRUE(admin->Add("52:54:00:aa:00:04", "mosix4").ok());
  EXPECT_EQ(MustBoot(serve.get(), Mac(11)).name, "mosix5");
  MustBoot(admin.get(), Mac(12));  // mosix6, from the other side
  EXPECT_EQ(MustBoot(serve.get(), Mac(13)).name, "mosix7");
  EXPECT_EQ(serve->List()->size(), 7u);
}

// In a boot storm requests are written in batches (one transaction each):
// a request that fails (no address left) fails alone.
TEST_F(NodeRegistryTest, AFailedRequestInABatchTakesNoOtherWithIt) {
  ClusterProfile profile = LabProfile();
  profile.network.node_addresses = Ipv4Range{testing::Ip("10.77.1.1"), testing::Ip("10.77.1.4")};
  auto registry = MustOpen(profile);
  ASSERT_TRUE(registry);
  for (int i = 1; i <= 2; ++i) MustBoot(registry.get(), Mac(i));
  constexpr int kThreads = 8, kRounds = 20;
  std::atomic<int> new_ok{0}, new_full{0}, known_ok{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < kRounds; ++r) {
        bool known = (t + r) % 2 == 0;
        auto node =
            NodeOf(registry->RegisterBoot(Boot(Mac(known ? 1 + r % 2 : 100 + t * 100 + r)), 1));
        if (node.ok()) {
          ++(known ? known_ok : new_ok);
        } else if (!known && node.status().code() == Code::kNoSpace) {
          ++new_full;
        } else {
          ++other;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(known_ok.load(), kThreads * kRounds / 2);
  EXPECT_EQ(new_ok.load(), 2);  // mosix3 and mosix4, then the range is full
  EXPECT_EQ(new_full.load(), kThreads * kRounds / 2 - 2);
  auto list = registry->List().value();
  ASSERT_EQ(list.size(), 4u);
  for (size_t i = 0; i < list.size(); ++i) EXPECT_EQ(list[i].name, "mosix" + std::to_string(i + 1));
}

TEST_F(NodeRegistryTest, AdminEdits) {
  auto registry = MustOpen();
  ASSERT_TRUE(registry);
  Node node = MustBoot(registry.get(), Mac(1));
  ASSERT_TRUE(registry->SetState("mosix1", NodeState::kInstalled).ok());
  ASSERT_TRUE(registry->SetMode("mosix1", BootMode::kLocal).ok());
  auto edited = registry->FindByName("mosix1");
  EXPECT_EQ((*edited)->state, NodeState::kInstalled);
  EXPECT_EQ((*edited)->mode, BootMode::kLocal);

  ASSERT_TRUE(registry->Reinstall("mosix1").ok());
  auto reinstall = registry->FindByName("mosix1");
  EXPECT_EQ((*reinstall)->mode, BootMode::kInstall);
  EXPECT_EQ((*reinstall)->state, NodeState::kNew);
  EXPECT_EQ((*reinstall)->install_secret.size(), 32u);
  EXPECT_NE((*reinstall)->install_secret, node.install_secret);

  ASSERT_TRUE(registry->SetGroup("mosix1", "render").ok());
  auto moved = registry->FindByName("mosix1");
  EXPECT_EQ((*moved)->group, "render");
  EXPECT_EQ((*moved)->mode, BootMode::kDiskless);  // follows the group

  auto added = registry->Add("52-54-00-AA-00-07", "mosix7");
  ASSERT_TRUE(added.ok()) << added.status().message();
  EXPECT_EQ(added->index, 7);  // a boot-order name takes its own index
  EXPECT_EQ(added->mac, "52:54:00:aa:00:07");
  EXPECT_EQ(added->ip, "10.77.1.7");
  auto named = registry->Add("52:54:00:aa:00:08", "login");
  ASSERT_TRUE(named.ok()) << named.status().message();
  EXPECT_EQ(named->index, 2);
  auto unnamed = registry->Add("52:54:00:aa:00:09", "");
  ASSERT_TRUE(unnamed.ok());
  EXPECT_EQ(unnamed->name, "mosix3");
  EXPECT_EQ(MustBoot(registry.get(), "52:54:00:aa:00:08").name, "login");
}

TEST_F(NodeRegistryTest, AdminErrorsNameTheNodeAndTheRegistry) {
  auto registry = MustOpen();
  ASSERT_TRUE(registry);
  MustBoot(registry.get(), Mac(1));
  std::vector<std::pair<std::string, Status>> calls = {
      {"SetMode", registry->SetMode("mosix9", BootMode::kLocal)},
      {"SetGroup", registry->SetGroup("mosix9", "render")},
      {"SetState", registry->SetState("mosix9", NodeState::kFailed)},
      {"Reinstall", registry->Reinstall("mosix9")},
      {"Remove", registry->Remove("mosix9")},
  };
  for (const auto& [what, status] : calls) {
    EXPECT_EQ(status.code(), Code::kNotFound) << what;
    EXPECT_THAT(status.message(), AllOf(HasSubstr("'mosix9'"), HasSubstr(db_))) << what;
  }
  Status group = registry->SetGroup("mosix1", "gpu");
  EXPECT_EQ(group.code(), Code::kInvalidArgument);
  EXPECT_THAT(group.message(), AllOf(HasSubstr("'gpu'"), HasSubstr("compute, render")));

  auto twice = registry->Add(Mac(1), "");
  EXPECT_EQ(twice.status().code(), Code::kAlreadyExists);
  EXPECT_THAT(twice.status().message(), HasSubstr("mosix1"));
  auto taken = registry->Add(Mac(2), "mosix1");
  EXPECT_EQ(taken.status().code(), Code::kAlreadyExists);
  EXPECT_EQ(registry->Add("52:54:00", "").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(registry->Add(Mac(3), "Bad_Name").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(registry->List()->size(), 1u);
}

TEST_F(NodeRegistryTest, DeclaredNodesCannotBeRemovedOrRegrouped) {
  ClusterProfile profile = LabProfile();
  profile.nodes.push_back(DeclaredNode{"52:54:00:dd:00:01", 1, "", ""});
  auto registry = MustOpen(profile);
  ASSERT_TRUE(registry);
  Status remove = registry->Remove("mosix1");
  EXPECT_EQ(remove.code(), Code::kInvalidArgument);
  EXPECT_THAT(remove.message(), AllOf(HasSubstr("declared"), HasSubstr(profile.path)));
  EXPECT_FALSE(registry->SetGroup("mosix1", "render").ok());
  EXPECT_TRUE(registry->SetMode("mosix1", BootMode::kLocal).ok());
  EXPECT_TRUE(registry->FindByName("mosix1")->has_value());
}

TEST_F(NodeRegistryTest, GenerationChangesAcrossConnectionsAndProcesses) {
  auto registry = MustOpen();
  ASSERT_TRUE(registry);
  MustBoot(registry.get(), Mac(1));
  int64_t start = registry->Generation().value();

  auto other = MustOpen();
  ASSERT_TRUE(other);
  ASSERT_TRUE(other->SetMode("mosix1", BootMode::kLocal).ok());
  int64_t after_connection = registry->Generation().value();
  EXPECT_GT(after_connection, start);

  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto child = NodeRegistry::Open(db_, LabProfile());
    ::_exit(child.ok() && (*child)->SetState("mosix1", NodeState::kFailed).ok() ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_GT(registry->Generation().value(), after_connection);
  EXPECT_EQ((*registry->FindByName("mosix1"))->state, NodeState::kFailed);
  // A failed edit changes nothing.
  int64_t before_error = registry->Generation().value();
  EXPECT_FALSE(registry->Remove("nope").ok());
  EXPECT_EQ(registry->Generation().value(), before_error);
}

// serve re-renders dnsmasq's hosts whenever the generation moves: a node
// booting again as it did before must not move it.
TEST_F(NodeRegistryTest, RepeatedBootLeavesTheGenerationAlone) {
  auto registry = MustOpen(LabProfile(DhcpMode::kProxy));
  ASSERT_TRUE(registry);
  ASSERT_TRUE(NodeOf(registry->RegisterBoot(Boot(Mac(1), "192.168.1.50"), 1)).ok());
  int64_t booted = registry->Generation().value();

  auto again = NodeOf(registry->RegisterBoot(Boot(Mac(1), "192.168.1.50"), 2));
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->last_seen_ns, 2);
  EXPECT_EQ((*registry->FindByName("mosix1"))->last_seen_ns, 2);
  EXPECT_EQ(registry->Generation().value(), booted);
  ASSERT_TRUE(registry->SetMode("mosix1", BootMode::kInstall).ok());  // already install
  EXPECT_EQ(registry->Generation().value(), booted);

  // A new address (from a heartbeat: a boot request does not move it) goes
  // into dnsmasq's hosts, another platform into the boot script: both count.
  Heartbeat beat;
  beat.boot = "installed";
  beat.address = "192.168.1.77";
  ASSERT_TRUE(registry->RecordHeartbeat("mosix1", beat, 3).ok());
  int64_t moved = registry->Generation().value();
  EXPECT_GT(moved, booted);
  BootRequest efi = Boot(Mac(1), "192.168.1.77");
  efi.platform = "efi";
  ASSERT_TRUE(NodeOf(registry->RegisterBoot(efi, 4)).ok());
  int64_t platform = registry->Generation().value();
  EXPECT_GT(platform, moved);
  // The UUID and arch iPXE reports feed neither.
  efi.uuid = "00000000-0000-0000-0000-000000000001";
  efi.arch = "i386";
  ASSERT_TRUE(NodeOf(registry->RegisterBoot(efi, 5)).ok());
  EXPECT_EQ((*registry->FindByName("mosix1"))->arch, "i386");
  EXPECT_EQ(registry->Generation().value(), platform);
}

TEST_F(NodeRegistryTest, FullAddressRangeIsAClearErrorAndLosesNothing) {
  ClusterProfile profile = LabProfile();
  profile.network.node_addresses = Ipv4Range{testing::Ip("10.77.1.1"), testing::Ip("10.77.1.2")};
  auto registry = MustOpen(profile);
  ASSERT_TRUE(registry);
  MustBoot(registry.get(), Mac(1));
  MustBoot(registry.get(), Mac(2));
  int64_t generation = registry->Generation().value();
  auto third = NodeOf(registry->RegisterBoot(Boot(Mac(3)), 1));
  ASSERT_FALSE(third.ok());
  EXPECT_THAT(third.status().message(),
              AllOf(HasSubstr("no address left for node mosix3"),
                    HasSubstr("node_addresses 10.77.1.1-10.77.1.2 is full"),
                    HasSubstr("enlarge it in /etc/goldcast/lab.yaml")));
  EXPECT_EQ(registry->List()->size(), 2u);
  EXPECT_EQ(registry->Generation().value(), generation);
}

TEST_F(NodeRegistryTest, ChangedAddressRangeMovesNodes) {
  {
    auto registry = MustOpen();
    ASSERT_TRUE(registry);
    MustBoot(registry.get(), Mac(1));
  }
  ClusterProfile moved = LabProfile();
  moved.network.node_addresses = Ipv4Range{testing::Ip("10.77.5.10"), testing::Ip("10.77.5.99")};
  auto registry = MustOpen(moved);
  ASSERT_TRUE(registry);
  EXPECT_EQ((*registry->FindByName("mosix1"))->ip, "10.77.5.10");
}

// Proxy mode: the address is where the node was first seen; after that
// only its authenticated heartbeats move it. A boot request in its name
// from elsewhere (issue 10, finding 3: the attacker landed in the openMosix
// map) does not.
TEST_F(NodeRegistryTest, ProxyModeTakesTheAddressFromHeartbeatsNotBootRequests) {
  auto registry = MustOpen(LabProfile(DhcpMode::kProxy));
  ASSERT_TRUE(registry);
  auto first = NodeOf(registry->RegisterBoot(Boot(Mac(1), "192.168.1.50"), 1));
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_EQ(first->name, "mosix1");
  EXPECT_EQ(first->ip, "192.168.1.50");
  auto spoofed = NodeOf(registry->RegisterBoot(Boot(Mac(1), "192.168.1.66"), 2));
  ASSERT_TRUE(spoofed.ok());
  EXPECT_EQ(spoofed->ip, "192.168.1.50");
  Heartbeat beat;
  beat.boot = "installed";
  beat.address = "192.168.1.77";  // the node, renumbered by the site's DHCP
  auto moved = registry->RecordHeartbeat("mosix1", beat, 3);
  ASSERT_TRUE(moved.ok()) << moved.status().message();
  EXPECT_EQ(moved->ip, "192.168.1.77");
  beat.address = "not an address";
  EXPECT_EQ(registry->RecordHeartbeat("mosix1", beat, 4).value().ip, "192.168.1.77");
  auto added = registry->Add(Mac(2), "");
  ASSERT_TRUE(added.ok());
  EXPECT_EQ(added->ip, "");  // unknown until it boots
}

// Authoritative mode: the registry assigns addresses; heartbeats never move them.
TEST_F(NodeRegistryTest, AuthoritativeAddressesIgnoreHeartbeats) {
  auto registry = MustOpen();
  ASSERT_TRUE(registry);
  Node node = MustBoot(registry.get(), Mac(1));
  Heartbeat beat;
  beat.boot = "installed";
  beat.address = "10.77.9.9";
  EXPECT_EQ(registry->RecordHeartbeat(node.name, beat, 5).value().ip, node.ip);
}

TEST_F(NodeRegistryTest, RemovedGroupIsAnErrorNamingItsNodes) {
  {
    auto registry = MustOpen();
    ASSERT_TRUE(registry);
    MustBoot(registry.get(), Mac(1));
    MustBoot(registry.get(), Mac(2));
    ASSERT_TRUE(registry->SetGroup("mosix2", "render").ok());
  }
  ClusterProfile profile = LabProfile();
  profile.groups.erase("render");
  auto registry = NodeRegistry::Open(db_, profile);
  ASSERT_FALSE(registry.ok());
  EXPECT_THAT(registry.status().message(),
              AllOf(HasSubstr("group 'render' (mosix2)"), HasSubstr(profile.path)));
}

TEST_F(NodeRegistryTest, DamagedFileIsAClearError) {
  std::string garbage;
  for (int i = 0; i < 300; ++i) garbage += "this is not an SQLite database\n";
  testing::WriteTestFile(db_, garbage);
  auto registry = NodeRegistry::Open(db_, LabProfile());
  ASSERT_FALSE(registry.ok());
  EXPECT_EQ(registry.status().code(), Code::kCorrupt);
  EXPECT_THAT(registry.status().message(), HasSubstr("registry " + db_ + " is damaged"));
  EXPECT_EQ(testing::ReadTestFile(db_), garbage);  // left as it was
}

TEST_F(NodeRegistryTest, MissingDirectoryAndNewerSchemaAreClearErrors) {
  auto missing = NodeRegistry::Open(dir_.Sub("no/such/dir/registry.db"), LabProfile());
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr("no/such/dir/registry.db"));

  ASSERT_TRUE(MustOpen());
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version=7", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto newer = NodeRegistry::Open(db_, LabProfile());
  ASSERT_FALSE(newer.ok());
  EXPECT_EQ(newer.status().code(), Code::kUnsupported);
  EXPECT_THAT(newer.status().message(), AllOf(HasSubstr(db_), HasSubstr("schema version 7")));
}

// Manual enrollment (the default): an unknown MAC is not named and gets no
// secret; it waits, keeping its first boot time, until accepted; accepted
// machines are named in the order they first booted, not the order given.
TEST_F(NodeRegistryTest, ManualEnrollmentKeepsUnknownMacsPendingUntilAccepted) {
  ClusterProfile profile = LabProfile();
  profile.naming.enroll = Enrollment::kManual;
  auto registry = MustOpen(profile);
  ASSERT_TRUE(registry);
  int64_t generation = registry->Generation().value();
  for (auto [mac, now] : {std::pair{Mac(0x30), 100}, {Mac(0x10), 200}, {Mac(0x30), 300}}) {
    auto found = registry->RegisterBoot(Boot(mac, "10.77.200.5"), now);
    ASSERT_TRUE(found.ok()) << found.status().message();
    EXPECT_FALSE(found->node);
    ASSERT_TRUE(found->pending);
    EXPECT_EQ(found->pending->mac, mac);
  }
  EXPECT_TRUE(registry->List().value().empty());
  EXPECT_EQ(registry->Generation().value(), generation);  // dnsmasq's hosts are unchanged
  auto pending = registry->ListPending();
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 2u);
  EXPECT_EQ((*pending)[0].mac, Mac(0x30));  // first booted first
  EXPECT_EQ((*pending)[0].first_seen_ns, 100);
  EXPECT_EQ((*pending)[0].last_seen_ns, 300);
  EXPECT_EQ((*pending)[0].address, "10.77.200.5");

  // An unknown MAC in the list: nothing is accepted.
  auto wrong = registry->Accept({Mac(0x10), Mac(0x99)});
  ASSERT_FALSE(wrong.ok());
  EXPECT_THAT(wrong.status().message(),
              AllOf(HasSubstr(Mac(0x99)), HasSubstr("not waiting for approval")));
  EXPECT_EQ(registry->ListPending().value().size(), 2u);

  auto accepted = registry->Accept({Mac(0x10), Mac(0x30)});
  ASSERT_TRUE(accepted.ok()) << accepted.status().message();
  ASSERT_EQ(accepted->size(), 2u);
  EXPECT_EQ((*accepted)[0].name, "mosix1");
  EXPECT_EQ((*accepted)[0].mac, Mac(0x30));
  EXPECT_EQ((*accepted)[0].first_seen_ns, 100);
  EXPECT_EQ((*accepted)[1].name, "mosix2");
  EXPECT_FALSE((*accepted)[1].install_secret.empty());
  EXPECT_TRUE(registry->ListPending().value().empty());
  EXPECT_GT(registry->Generation().value(), generation);
  // Now a node: its boot request finds it.
  auto node = NodeOf(registry->RegisterBoot(Boot(Mac(0x30)), 400));
  ASSERT_TRUE(node.ok()) << node.status().message();
  EXPECT_EQ(node->name, "mosix1");
  EXPECT_EQ(registry->Accept({}).value().size(), 0u);  // --all with none waiting
}

// A flood of invented MACs cannot grow the registry past kMaxPendingMachines:
// the one not heard from longest makes room.
TEST_F(NodeRegistryTest, PendingMachinesAreBounded) {
  ClusterProfile profile = LabProfile();
  profile.naming.enroll = Enrollment::kManual;
  auto registry = MustOpen(profile);
  ASSERT_TRUE(registry);
  for (size_t i = 0; i <= kMaxPendingMachines; ++i) {
    ASSERT_TRUE(
        registry->RegisterBoot(Boot(Mac(static_cast<int>(i + 1))), static_cast<int64_t>(i + 1))
            .ok());
  }
  auto pending = registry->ListPending().value();
  ASSERT_EQ(pending.size(), kMaxPendingMachines);
  EXPECT_EQ(pending.front().mac, Mac(2));  // Mac(1), the oldest, made room
}

TEST(NodeStateTest, NamesRoundTrip) {
  for (NodeState state : {NodeState::kNew, NodeState::kInstalling, NodeState::kInstalled,
                          NodeState::kDiskless, NodeState::kUpdating, NodeState::kFailed}) {
    auto parsed = ParseNodeState(NodeStateName(state));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, state);
  }
  EXPECT_STREQ(NodeStateName(NodeState::kInstalling), "installing");
  auto bad = ParseNodeState("booting");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("'booting'"));
}

}  // namespace
}  // namespace gc
