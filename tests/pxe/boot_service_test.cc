#include "pxe/boot_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>

#include "imager/import_export.h"
#include "tests/testing/fault_env.h"
#include "tests/testing/http_test_support.h"
#include "tests/testing/lab_profile.h"
#include "tests/testing/registry_fixture.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_kernel.h"

namespace gc {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::Pair;
using testing::WriteTestFile;

constexpr int64_t kNow = 1'700'000'000'000'000'000;

// A boot service for the lab cluster (compute installs, render is
// diskless) over a temp state directory with no image and no kernel yet,
// and boot files install/{vmlinuz,initrd.img} and diskless/initrd.img.
class BootServiceTest : public testing::RegistryTest {
 protected:
  void SetUp() override {
    env_.SetNowNanos(kNow);
    WriteTestFile(boot_ + "/install/vmlinuz", "installer kernel");
    WriteTestFile(boot_ + "/install/initrd.img", "installer initrd");
    WriteTestFile(boot_ + "/diskless/initrd.img", "diskless initrd");
    WriteTestFile(dir_.Sub("secret"), "outside the boot files");
    registry_ = MustOpen(profile_);
    ASSERT_TRUE(registry_);
    Restart();
  }

  // A new service, as after a restart of serve with profile_.
  void Restart() {
    service_ = std::make_unique<BootService>(profile_, registry_.get(), &resolver_, &tokens_, boot_,
                                             &env_);
    service_->SetServerPin(kPin);
  }
  static constexpr char kPin[] = "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

  HttpResponse Get(const std::string& path, std::map<std::string, std::string> query = {}) {
    HttpRequest request;
    request.method = "GET";
    request.path = path;
    request.query = std::move(query);
    request.remote_address = "10.77.3.9";
    return service_->Handle(request);
  }
  HttpResponse Boot(const std::string& mac) { return Get("/boot/ipxe", {{"mac", mac}}); }

  // The token in a boot script, or "".
  static std::string TokenOf(const std::string& script) {
    size_t at = script.find("goldcast.token=");
    if (at == std::string::npos) return "";
    at += std::strlen("goldcast.token=");
    return script.substr(at, script.find_first_of(" \n", at) - at);
  }

  testing::FaultEnv env_;  // its clock stopped at kNow
  InstallTokens tokens_;
  ClusterProfile profile_ = testing::LabProfile();
  std::string state_ = dir_.Sub("state");
  std::string boot_ = dir_.Sub("boot");
  TargetResolver resolver_{profile_, state_};
  std::unique_ptr<NodeRegistry> registry_;
  std::unique_ptr<BootService> service_;
};

TEST_F(BootServiceTest, StartScriptAndHealth) {
  HttpResponse start = Get("/boot/start.ipxe");
  EXPECT_EQ(start.status, 200);
  EXPECT_EQ(start.body, StartScript("http://10.77.0.1:8470"));
  EXPECT_THAT(start.body, HasSubstr("http://10.77.0.1:8470/boot/ipxe?mac=${net0/mac}"));
  HttpResponse health = Get("/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "ok\n");
  EXPECT_EQ(Get("/boot/nothing").status, 404);
  EXPECT_TRUE(BootService::Handles("/boot/ipxe"));
  EXPECT_TRUE(BootService::Handles("/healthz"));
  EXPECT_FALSE(BootService::Handles("/v1/node/plan"));
}

TEST_F(BootServiceTest, UnknownMacsAreNamedInBootOrder) {
  HttpResponse first = Boot("52:54:00:00:00:0A");
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_THAT(first.body, HasSubstr("echo goldcast: mosix1 (install)"));
  EXPECT_THAT(first.body, HasSubstr("kernel http://10.77.0.1:8470/boot/files/install/vmlinuz"));
  EXPECT_THAT(first.body, HasSubstr("goldcast.node=mosix1"));
  HttpResponse second = Boot("52:54:00:00:00:09");
  ASSERT_EQ(second.status, 200) << second.body;
  EXPECT_THAT(second.body, HasSubstr("goldcast.node=mosix2"));
  // A known MAC keeps its name.
  EXPECT_THAT(Boot("52:54:00:00:00:0a").body, HasSubstr("goldcast.node=mosix1"));

  auto node = registry_->FindByName("mosix1");
  ASSERT_TRUE(node.ok() && *node);
  EXPECT_EQ((*node)->mac, "52:54:00:00:00:0a");
  EXPECT_EQ((*node)->last_seen_ns, kNow);  // the service's clock
  // The agent talks to the node API over TLS, trusting only the pinned key.
  EXPECT_THAT(first.body, HasSubstr("goldcast.server=https://10.77.0.1:8471 "));
  EXPECT_THAT(first.body, HasSubstr("goldcast.pin=" + std::string(kPin) + " "));
  // Firmware fetches over plain HTTP (iPXE).
  EXPECT_THAT(first.body, HasSubstr("initrd http://10.77.0.1:8470/boot/files/install/initrd.img"));
  // Issue 10, finding 2: a one-time token, never the node's secret.
  EXPECT_THAT(first.body, Not(HasSubstr((*node)->install_secret)));
  EXPECT_THAT(first.body, Not(HasSubstr("goldcast.secret")));
  std::string token = TokenOf(first.body);
  ASSERT_EQ(token.size(), 32u) << first.body;
  // Only the latest script's token counts; it is spent once.
  std::string again = TokenOf(Boot("52:54:00:00:00:0a").body);
  EXPECT_NE(again, token);
  EXPECT_EQ(tokens_.Redeem("mosix1", token, kNow).code(), Code::kUnauthorized);
  EXPECT_TRUE(tokens_.Redeem("mosix1", again, kNow).ok());
  EXPECT_EQ(tokens_.Redeem("mosix1", again, kNow).code(), Code::kUnauthorized);
}

// Issue 10, finding 1: with manual enrollment (the default) an invented
// MAC gets a script that only waits: no name, no kernel, no secret; once
// accepted, the same machine gets its install.
TEST_F(BootServiceTest, AnUnknownMacWaitsForApprovalWithNothingToInstall) {
  profile_.naming.enroll = Enrollment::kManual;
  registry_ = MustOpen(profile_);
  ASSERT_TRUE(registry_);
  Restart();
  HttpResponse waiting = Boot("52:54:00:66:66:66");
  ASSERT_EQ(waiting.status, 200);
  EXPECT_THAT(waiting.body, HasSubstr("waits for approval; on the server: goldcast nodes accept "
                                      "52:54:00:66:66:66"));
  EXPECT_THAT(waiting.body, HasSubstr("\nsleep 30\nchain --replace --autofree "
                                      "http://10.77.0.1:8470/boot/start.ipxe\n"));
  EXPECT_THAT(waiting.body, Not(HasSubstr("goldcast.token")));
  EXPECT_THAT(waiting.body, Not(HasSubstr("\nkernel ")));
  EXPECT_EQ(tokens_.outstanding(), 0u);
  EXPECT_TRUE(registry_->List().value().empty());
  ASSERT_EQ(registry_->ListPending().value().size(), 1u);

  ASSERT_TRUE(registry_->Accept({"52:54:00:66:66:66"}).ok());
  HttpResponse install = Boot("52:54:00:66:66:66");
  ASSERT_EQ(install.status, 200);
  EXPECT_THAT(install.body, HasSubstr("echo goldcast: mosix1 (install)"));
  EXPECT_EQ(TokenOf(install.body).size(), 32u) << install.body;
}

// Issue 10: with enroll auto one address cannot name machines without end
// (nor, with manual, fill the pending list); a known MAC is served anyway.
TEST_F(BootServiceTest, OneAddressNamesOnlySoManyNewMachinesAMinute) {
  service_->SetNewMachineLimit({/*per_minute=*/2, /*burst=*/2});
  auto mac = [](int i) {
    char text[32];
    std::snprintf(text, sizeof text, "52:54:00:00:10:%02x", i);
    return std::string(text);
  };
  EXPECT_THAT(Boot(mac(1)).body, HasSubstr("goldcast.node=mosix1"));
  EXPECT_THAT(Boot(mac(2)).body, HasSubstr("goldcast.node=mosix2"));
  HttpResponse refused = Boot(mac(3));
  ASSERT_EQ(refused.status, 200);
  EXPECT_THAT(refused.body, HasSubstr("too many boot requests from 10.77.3.9 lately"));
  EXPECT_THAT(refused.body, HasSubstr("asking again in 60 s"));
  EXPECT_THAT(refused.body, Not(HasSubstr("goldcast.token")));
  EXPECT_EQ(registry_->List().value().size(), 2u);
  EXPECT_THAT(Boot(mac(1)).body, HasSubstr("goldcast.node=mosix1"));  // known: served
  // Another address has its own allowance; time refills this one.
  HttpRequest other;
  other.method = "GET";
  other.path = "/boot/ipxe";
  other.query = {{"mac", mac(4)}};
  other.remote_address = "10.77.3.10";
  EXPECT_THAT(service_->Handle(other).body, HasSubstr("goldcast.node=mosix3"));
  env_.SetNowNanos(kNow + 60'000'000'000);
  EXPECT_THAT(Boot(mac(3)).body, HasSubstr("goldcast.node=mosix4"));
}

TEST_F(BootServiceTest, BadQueryIs400AndTouchesNoRegistry) {
  HttpResponse missing = Get("/boot/ipxe");
  EXPECT_EQ(missing.status, 400);
  EXPECT_THAT(missing.body, HasSubstr("argument mac of /boot/ipxe is missing"));
  HttpResponse bad = Boot("not-a-mac");
  EXPECT_EQ(bad.status, 400);
  EXPECT_THAT(bad.body, HasSubstr("argument mac"));
  EXPECT_THAT(registry_->List().value(), IsEmpty());
}

TEST_F(BootServiceTest, OnlyGetAndHead) {
  HttpRequest request;
  request.method = "POST";
  request.path = "/boot/ipxe";
  request.query = {{"mac", "52:54:00:00:00:01"}};
  HttpResponse post = service_->Handle(request);
  EXPECT_EQ(post.status, 405);
  EXPECT_THAT(post.headers, ElementsAre(Pair("Allow", "GET, HEAD")));
  EXPECT_THAT(registry_->List().value(), IsEmpty());
  request.method = "HEAD";
  request.path = "/healthz";
  EXPECT_EQ(service_->Handle(request).status, 200);
}

TEST_F(BootServiceTest, BootFilesStayInsideTheirDirectory) {
  EXPECT_EQ(http_testing::FileBody(Get("/boot/files/install/vmlinuz")), "installer kernel");
  EXPECT_EQ(http_testing::FileBody(Get("/boot/files/diskless/initrd.img")), "diskless initrd");
  ASSERT_EQ(::symlink(dir_.Sub("secret").c_str(), (boot_ + "/install/escape").c_str()), 0);
  ASSERT_EQ(::symlink("vmlinuz", (boot_ + "/install/alias").c_str()), 0);
  EXPECT_EQ(http_testing::FileBody(Get("/boot/files/install/alias")), "installer kernel");
  for (const char* path :
       {"/boot/files/../secret", "/boot/files/install/../../secret", "/boot/files/install/escape",
        "/boot/files/install", "/boot/files/", "/boot/files/install/initrd"}) {
    HttpResponse response = Get(path);
    EXPECT_EQ(response.status, 404) << path;
    EXPECT_FALSE(response.file) << path;
    EXPECT_THAT(response.body, Not(HasSubstr("outside")));
  }
}

TEST_F(BootServiceTest, DisklessNodeWithoutItsKernelWaitsSayingWhatToDo) {
  profile_.groups["render"].kernel = "tiny";
  ASSERT_TRUE(registry_->Add("52:54:00:00:00:01", "").ok());
  ASSERT_TRUE(registry_->SetGroup("mosix1", "render").ok());
  HttpResponse response = Boot("52:54:00:00:00:01");
  ASSERT_EQ(response.status, 200);
  EXPECT_THAT(response.body, HasSubstr("echo goldcast: mosix1 (diskless) cannot boot: "));
  EXPECT_THAT(response.body, HasSubstr("kernel 'tiny' of group render"));
  EXPECT_THAT(response.body, HasSubstr("build it with goldcast kernel build"));
  EXPECT_THAT(response.body, HasSubstr("\nsleep 60\nchain --replace --autofree "
                                       "http://10.77.0.1:8470/boot/start.ipxe\n"));
  EXPECT_THAT(response.body, Not(HasSubstr("\nkernel ")));
  Node failed = registry_->FindByName("mosix1").value().value();
  EXPECT_EQ(failed.progress.phase, "failed");
  EXPECT_THAT(failed.progress.message, HasSubstr("the server cannot boot it: kernel 'tiny'"));

  // Built: the script boots the artifact and names it for the heartbeats.
  ASSERT_NO_FATAL_FAILURE(testing::PublishTestKernel(state_, "tiny"));
  HttpResponse built = Boot("52:54:00:00:00:01");
  ASSERT_EQ(built.status, 200) << built.body;
  EXPECT_THAT(built.body,
              HasSubstr("kernel http://10.77.0.1:8470/boot/kernels/tiny@1/vmlinuz initrd="));
  EXPECT_THAT(built.body, HasSubstr("goldcast.kernel=tiny@1"));
  EXPECT_THAT(built.body, Not(HasSubstr("goldcast.image=")));  // render was never captured
  EXPECT_EQ(http_testing::FileBody(Get("/boot/kernels/tiny@1/vmlinuz")), "bzImage bytes");
  EXPECT_EQ(http_testing::FileBody(Get("/boot/kernels/tiny/config")), "CONFIG_64BIT=y\n");
  EXPECT_EQ(Get("/boot/kernels/tiny@1/build.log").status, 404);
  EXPECT_EQ(Get("/boot/kernels/tiny@2/vmlinuz").status, 404);
  EXPECT_EQ(Get("/boot/kernels/tiny@1").status, 404);
}

TEST_F(BootServiceTest, DisklessScriptNamesTheCapturedImage) {
  auto store = ImageStore::Open(state_, /*create=*/true);
  ASSERT_TRUE(store.ok()) << store.status().message();
  WriteTestFile(dir_.Sub("tree/etc/hostname"), "render\n");
  ASSERT_TRUE(ImportDirectory(store->get(), dir_.Sub("tree"), "render", "").ok());
  ASSERT_TRUE(registry_->Add("52:54:00:00:00:01", "").ok());
  ASSERT_TRUE(registry_->SetGroup("mosix1", "render").ok());
  HttpResponse response = Boot("52:54:00:00:00:01");
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_THAT(response.body, HasSubstr("goldcast.image=render@1"));
  EXPECT_THAT(response.body, HasSubstr("/boot/files/diskless/vmlinuz"));
  EXPECT_THAT(response.body, Not(HasSubstr("goldcast.kernel=")));
}

TEST_F(BootServiceTest, ADisklessNodeGetsAToken_ALocalNodeNone) {
  ASSERT_TRUE(registry_->Add("52:54:00:00:00:01", "").ok());
  ASSERT_TRUE(registry_->Add("52:54:00:00:00:02", "").ok());
  ASSERT_TRUE(registry_->SetGroup("mosix1", "render").ok());
  ASSERT_TRUE(registry_->SetMode("mosix2", BootMode::kLocal).ok());
  Node node = registry_->FindByMac("52:54:00:00:00:01").value().value();
  ASSERT_EQ(node.mode, BootMode::kDiskless);
  HttpResponse script = Boot("52:54:00:00:00:01");
  ASSERT_EQ(script.status, 200) << script.body;
  EXPECT_THAT(script.body, Not(HasSubstr(node.install_secret)));
  EXPECT_THAT(script.body, Not(HasSubstr("secret")));
  EXPECT_TRUE(tokens_.Redeem("mosix1", TokenOf(script.body), kNow).ok());
  // A node booting its disk needs no token and gets none.
  HttpResponse local = Boot("52:54:00:00:00:02");
  ASSERT_EQ(local.status, 200) << local.body;
  EXPECT_EQ(TokenOf(local.body), "");
  EXPECT_EQ(tokens_.outstanding(), 0u);
  // The secret initrd of earlier versions is gone.
  EXPECT_EQ(Get("/boot/secret.cpio", {{"mac", "52:54:00:00:00:01"}}).status, 404);
}

TEST_F(BootServiceTest, AGroupTheProfileLacksIs500NamingIt) {
  // The registry was written with a profile that had group "old"; serve
  // now runs one without it.
  ClusterProfile before = profile_;
  before.groups["old"] = NodeGroup{"old", "compute", "", BootMode::kInstall, ""};
  registry_ = testing::OpenRegistry(db_, before);
  ASSERT_TRUE(registry_);
  ASSERT_TRUE(registry_->Add("52:54:00:00:00:01", "").ok());
  ASSERT_TRUE(registry_->SetGroup("mosix1", "old").ok());
  Restart();
  HttpResponse response = Boot("52:54:00:00:00:01");
  EXPECT_EQ(response.status, 500);
  EXPECT_EQ(response.body,
            "node mosix1 is in group 'old', which /etc/goldcast/lab.yaml does not have\n");
}

TEST_F(BootServiceTest, InstallScriptsNameTheGroupsInstaller) {
  std::vector<std::string> asked;
  service_->SetInstallerLookup([&](const GroupTarget& target) -> Result<InstallerUrls> {
    asked.push_back(target.group.name);
    if (target.group.name == "render") return NotFound("no installer for render");
    return InstallerUrls{"/boot/files/installers/k1/vmlinuz",
                         "/boot/files/installers/k1/initrd.img"};
  });
  HttpResponse compute = Boot("52:54:00:00:00:01");
  ASSERT_EQ(compute.status, 200) << compute.body;
  EXPECT_THAT(compute.body,
              HasSubstr("kernel http://10.77.0.1:8470/boot/files/installers/k1/vmlinuz "));
  EXPECT_THAT(compute.body,
              HasSubstr("initrd http://10.77.0.1:8470/boot/files/installers/k1/initrd.img"));
  // A failed lookup falls back to install/ (and is logged).
  ASSERT_TRUE(registry_->Add("52:54:00:00:00:02", "").ok());
  ASSERT_TRUE(registry_->SetGroup("mosix2", "render").ok());
  ASSERT_TRUE(registry_->SetMode("mosix2", BootMode::kInstall).ok());
  HttpResponse render = Boot("52:54:00:00:00:02");
  ASSERT_EQ(render.status, 200) << render.body;
  EXPECT_THAT(render.body, HasSubstr("/boot/files/install/vmlinuz"));
  EXPECT_THAT(asked, ElementsAre("compute", "render"));
  // A diskless node boots the same installer (its /init fills a RAM root).
  ASSERT_TRUE(registry_->SetMode("mosix1", BootMode::kDiskless).ok());
  HttpResponse diskless = Boot("52:54:00:00:00:01");
  ASSERT_EQ(diskless.status, 200) << diskless.body;
  EXPECT_THAT(diskless.body,
              HasSubstr("initrd http://10.77.0.1:8470/boot/files/installers/k1/initrd.img"));
  EXPECT_THAT(diskless.body, HasSubstr("goldcast.mode=diskless"));
  EXPECT_EQ(asked.size(), 3u);
  // A local boot asks for none.
  ASSERT_TRUE(registry_->SetMode("mosix2", BootMode::kLocal).ok());
  Boot("52:54:00:00:00:02");
  EXPECT_EQ(asked.size(), 3u);
}

// No installer and no install/ boot files: the node is told why on its
// console and in the registry, and waits; nothing it could boot is named.
TEST_F(BootServiceTest, NoInstallerAndNoFallbackWaitsWithTheReason) {
  std::filesystem::remove_all(boot_ + "/install");
  service_->SetInstallerLookup([&](const GroupTarget&) -> Result<InstallerUrls> {
    return NotFound("image compute@1 has no /boot/vmlinuz-*: install ${x} || reboot");
  });
  HttpResponse response = Boot("52:54:00:00:00:01");
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_THAT(
      response.body,
      HasSubstr("echo goldcast: mosix1 (install) cannot boot: no installer for group "
                "compute: image compute@1 has no /boot/vmlinuz-*: install ??x? ?? reboot\n"));
  EXPECT_THAT(response.body, HasSubstr("goldcast nodes show mosix1"));
  EXPECT_THAT(response.body, Not(HasSubstr("\nkernel ")));
  EXPECT_THAT(response.body, Not(HasSubstr("goldcast.token")));
  Node node = registry_->FindByName("mosix1").value().value();
  EXPECT_EQ(node.state, NodeState::kFailed);
  EXPECT_EQ(node.mode, BootMode::kInstall);  // the next boot tries again
  EXPECT_EQ(node.progress.message,
            "the server cannot boot it: no installer for group compute: image compute@1 has no "
            "/boot/vmlinuz-*: install ${x} || reboot");
}

}  // namespace
}  // namespace gc
