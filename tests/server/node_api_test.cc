#include "server/node_api.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "cluster/cluster_files.h"
#include "cluster/drift.h"
#include "common/hash.h"
#include "common/http_client.h"
#include "common/http_server.h"
#include "common/object_stream.h"
#include "imager/import_export.h"
#include "protocol/plan.h"
#include "protocol/redeem.h"
#include "tests/testing/fault_env.h"
#include "tests/testing/http_test_support.h"
#include "tests/testing/lab_profile.h"
#include "tests/testing/registry_fixture.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_kernel.h"

namespace gc {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using testing::TempDir;
using testing::WriteTestFile;

constexpr int64_t kNow = 1'700'000'000'000'000'000;

// The lab cluster on a /24, with kernel tiny and openMosix for group compute
// and a group plain without a kernel.
ClusterProfile TestProfile() {
  ClusterProfile p = testing::LabProfile();
  p.network.prefix_length = 24;
  p.network.pool = Ipv4Range{testing::Ip("10.77.0.200"), testing::Ip("10.77.0.250")};
  p.network.node_addresses = Ipv4Range{testing::Ip("10.77.0.10"), testing::Ip("10.77.0.99")};
  p.naming.domain = "cluster.local";
  p.groups.erase("render");
  p.groups["compute"].kernel = "tiny";
  p.groups["compute"].kernel_args = "quiet";
  p.groups["plain"] = NodeGroup{"plain", "compute", "", BootMode::kInstall, ""};
  p.openmosix.enabled = true;
  p.openmosix.calibration = "mosctl setyard P/133";
  return p;
}

// Everything a node API needs, in a temp state directory: image compute@1
// (and a second image no node may read), kernel tiny@1 with one module,
// nodes mosix1 (group compute) and mosix2 (group plain).
class NodeApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_.SetNowNanos(kNow);
    auto store = ImageStore::Open(state_, true);
    ASSERT_TRUE(store.ok()) << store.status().message();
    store_ = std::move(store).value();
    WriteTestFile(dir_.Sub("tree/etc/hostname"), "golden\n");
    WriteTestFile(dir_.Sub("tree/usr/bin/tool"), "#!/bin/sh\necho tool\n");
    // The golden client's own kernel: what group plain (no kernel:) boots.
    WriteTestFile(dir_.Sub("tree/boot/vmlinuz-6.1.0-9-amd64"), "golden kernel\n");
    auto imported = ImportDirectory(store_.get(), dir_.Sub("tree"), "compute", "test");
    ASSERT_TRUE(imported.ok()) << imported.status().message();
    WriteTestFile(dir_.Sub("other/secret"), "not for nodes\n");
    ASSERT_TRUE(ImportDirectory(store_.get(), dir_.Sub("other"), "other", "").ok());

    ASSERT_NO_FATAL_FAILURE(testing::PublishTestKernel(state_, "tiny"));

    registry_ = testing::OpenRegistry(state_ + "/registry.db", profile_);
    ASSERT_TRUE(registry_);
    auto one = registry_->Add("52:54:00:00:00:01", "");
    auto two = registry_->Add("52:54:00:00:00:02", "");
    ASSERT_TRUE(one.ok() && two.ok());
    ASSERT_TRUE(registry_->SetGroup("mosix2", "plain").ok());
    secret1_ = one->install_secret;
    secret2_ = two->install_secret;
    api_ = std::make_unique<NodeApi>(profile_, registry_.get(), &resolver_, &tokens_, &env_);
  }

  HttpRequest Request(const std::string& method, const std::string& path,
                      const std::string& body = "", const std::string& node = "mosix1",
                      const std::string* secret = nullptr) {
    HttpRequest request;
    request.method = method;
    request.path = path;
    request.body = body;
    request.remote_address = "10.77.0.10";
    if (!node.empty()) request.headers["x-goldcast-node"] = node;
    request.headers["authorization"] = "Bearer " + (secret             ? *secret
                                                    : node == "mosix2" ? secret2_
                                                                       : secret1_);
    return request;
  }
  HttpResponse Get(const std::string& path, const std::string& node = "mosix1") {
    return api_->Handle(Request("GET", path, "", node));
  }
  HttpResponse Post(const std::string& path, const std::string& body,
                    const std::string& node = "mosix1") {
    return api_->Handle(Request("POST", path, body, node));
  }
  Node Find(const std::string& name) { return registry_->FindByName(name).value().value(); }

  std::string HashOf(const std::string& manifest_text, const std::string& path) {
    auto manifest = ParseManifest(manifest_text, "test");
    EXPECT_TRUE(manifest.ok()) << manifest.status().message();
    if (!manifest.ok()) return "";
    for (const Entry& entry : manifest->entries) {
      if (entry.path == path) return entry.hash;
    }
    ADD_FAILURE() << path << " is not in the manifest";
    return "";
  }

  TempDir dir_;
  testing::FaultEnv env_;  // its clock stopped at kNow
  InstallTokens tokens_;
  std::string state_ = dir_.Sub("state");
  ClusterProfile profile_ = TestProfile();
  std::unique_ptr<ImageStore> store_;
  std::unique_ptr<NodeRegistry> registry_;
  TargetResolver resolver_{profile_, state_};
  std::unique_ptr<NodeApi> api_;
  std::string secret1_, secret2_;
};

// The whole streamed body, decoded into hash -> content (in order).
std::vector<std::pair<std::string, std::string>> ReadFrames(HttpResponse& response) {
  EXPECT_TRUE(response.stream) << response.status << " " << response.body;
  std::vector<std::pair<std::string, std::string>> objects;
  if (!response.stream) return objects;
  ObjectStreamDecoder decoder({
      [&](const std::string& hash, uint64_t) {
        objects.emplace_back(hash, "");
        return Status::Ok();
      },
      [&](std::string_view data) {
        objects.back().second += data;
        return Status::Ok();
      },
      [] { return Status::Ok(); },
  });
  char buffer[7];  // small: frames straddle calls
  for (int guard = 0; guard < 100000; ++guard) {
    auto n = response.stream(buffer, sizeof buffer);
    EXPECT_TRUE(n.ok()) << n.status().message();
    if (!n.ok() || *n == 0) break;
    EXPECT_TRUE(decoder.Feed(std::string_view(buffer, *n)).ok());
  }
  EXPECT_TRUE(decoder.Finish().ok());
  return objects;
}

TEST_F(NodeApiTest, RefusesRequestsWithoutTheNodesSecret) {
  std::string wrong = std::string(32, '0');
  std::string other_nodes = secret2_;
  struct Case {
    HttpRequest request;
    std::string reason;
  };
  std::vector<Case> cases = {
      {Request("GET", "/v1/node/plan", "", ""), "X-Goldcast-Node"},
      {Request("GET", "/v1/node/plan", "", "mosix1", &wrong), "wrong secret for node mosix1"},
      {Request("GET", "/v1/node/plan", "", "mosix1", &other_nodes), "wrong secret"},
      {Request("GET", "/v1/node/plan", "", "mosix9"), "unknown node 'mosix9'"},
      {Request("POST", "/v1/node/progress", R"({"phase":"done"})", "mosix1", &wrong), "wrong"},
      {Request("GET", "/v1/node/no/such/path", "", "mosix1", &wrong), "wrong"},
  };
  HttpRequest no_auth = Request("GET", "/v1/node/plan");
  no_auth.headers.erase("authorization");
  cases.push_back({no_auth, "Authorization: Bearer"});
  HttpRequest basic = Request("GET", "/v1/node/plan");
  basic.headers["authorization"] = "Basic " + secret1_;
  cases.push_back({basic, "Authorization: Bearer"});
  for (const Case& c : cases) {
    HttpResponse response = api_->Handle(c.request);
    EXPECT_EQ(response.status, 401) << c.reason;
    EXPECT_THAT(response.body, HasSubstr(c.reason));
    EXPECT_EQ(std::count(response.body.begin(), response.body.end(), '\n'), 1) << response.body;
    EXPECT_THAT(response.body, Not(HasSubstr(secret1_)));
    // Admission refuses the same, from the head alone: no body is read.
    HttpRequest head = c.request;
    head.body.clear();
    HttpAdmission admission = api_->Admit(head);
    ASSERT_TRUE(admission.refusal) << c.reason;
    EXPECT_EQ(admission.refusal->status, 401) << c.reason;
    EXPECT_THAT(admission.refusal->body, HasSubstr(c.reason));
  }
  EXPECT_EQ(Find("mosix1").state, NodeState::kNew);  // the progress was not recorded
  EXPECT_EQ(Get("/v1/node/plan").status, 200);
}

// Issue 10, finding 2: the boot script's token buys the node's secret once,
// and a secret no one had before (the old one stops working).
TEST_F(NodeApiTest, RedeemTradesTheInstallTokenOnceForAFreshSecret) {
  std::string token = tokens_.Issue("mosix1", kNow);
  HttpRequest redeem = Request("POST", "/v1/node/redeem", "", "mosix1", &token);
  HttpAdmission admission = api_->Admit(redeem);
  EXPECT_FALSE(admission.refusal);
  EXPECT_EQ(admission.max_body_bytes, 0u);
  HttpResponse first = api_->Handle(redeem);
  ASSERT_EQ(first.status, 200) << first.body;
  auto answer = DecodeRedeemAnswer(first.body);
  ASSERT_TRUE(answer.ok()) << answer.status().message();
  EXPECT_NE(answer->secret, secret1_);
  EXPECT_EQ(Find("mosix1").install_secret, answer->secret);
  // The old secret is dead, the new one works.
  EXPECT_EQ(Get("/v1/node/plan").status, 401);
  secret1_ = answer->secret;
  EXPECT_EQ(Get("/v1/node/plan").status, 200);

  // A replay, another node's token, a wrong one, an expired one, GET: 401/405,
  // and no secret changes.
  HttpResponse replay = api_->Handle(redeem);
  EXPECT_EQ(replay.status, 401);
  EXPECT_THAT(replay.body, HasSubstr("reboot the node for a fresh one"));
  std::string token2 = tokens_.Issue("mosix2", kNow);
  EXPECT_EQ(api_->Handle(Request("POST", "/v1/node/redeem", "", "mosix1", &token2)).status, 401);
  std::string wrong(32, 'a');
  EXPECT_EQ(api_->Handle(Request("POST", "/v1/node/redeem", "", "mosix2", &wrong)).status, 401);
  std::string late = tokens_.Issue("mosix2", kNow);
  env_.SetNowNanos(kNow + kInstallTokenLifetimeNs);
  HttpResponse expired = api_->Handle(Request("POST", "/v1/node/redeem", "", "mosix2", &late));
  EXPECT_EQ(expired.status, 401);
  EXPECT_THAT(expired.body, HasSubstr("expired"));
  std::string get_token = tokens_.Issue("mosix2", kNow + kInstallTokenLifetimeNs);
  EXPECT_EQ(api_->Handle(Request("GET", "/v1/node/redeem", "", "mosix2", &get_token)).status, 405);
  std::string evil = "mosix2\x1b[2J";
  EXPECT_EQ(api_->Handle(Request("POST", "/v1/node/redeem", "", evil, &get_token)).status, 401);
  EXPECT_EQ(Find("mosix2").install_secret, secret2_);
  // A wrong guess does not spend the node's token (or anyone could keep a
  // node from installing): the right one still works.
  EXPECT_EQ(api_->Handle(Request("POST", "/v1/node/redeem", "", "mosix2", &get_token)).status, 200);
  EXPECT_NE(Find("mosix2").install_secret, secret2_);
  // A token is no secret: it opens nothing else.
  std::string fresh = tokens_.Issue("mosix2", kNow + kInstallTokenLifetimeNs);
  EXPECT_EQ(api_->Handle(Request("GET", "/v1/node/plan", "", "mosix2", &fresh)).status, 401);
}

// An authenticated node may send what its endpoint takes, and no more.
TEST_F(NodeApiTest, AdmissionAllowsEachEndpointItsBody) {
  auto max_body = [&](const std::string& method, const std::string& path) {
    HttpAdmission admission = api_->Admit(Request(method, path, "", "mosix1"));
    EXPECT_FALSE(admission.refusal) << path;
    return admission.max_body_bytes;
  };
  EXPECT_EQ(max_body("POST", "/v1/node/objects"), kNodeApiMaxBodyBytes);
  EXPECT_EQ(max_body("POST", "/v1/node/progress"), kNodeApiMaxJsonBytes);
  EXPECT_EQ(max_body("POST", "/v1/node/heartbeat"), kNodeApiMaxJsonBytes);
  EXPECT_EQ(max_body("GET", "/v1/node/plan"), 0u);
}

TEST_F(NodeApiTest, PlanNamesTheResolvedImageKernelAndClusterFiles) {
  HttpResponse response = Get("/v1/node/plan");
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(response.content_type, "application/json");
  json plan = json::parse(response.body);
  EXPECT_EQ(plan["format"], 2);
  EXPECT_FALSE(plan.contains("server"));
  EXPECT_EQ(plan["node"],
            json({{"name", "mosix1"}, {"ip", "10.77.0.10"}, {"domain", "cluster.local"}}));
  // hostname, usr/bin/tool and boot/vmlinuz-*: 7 + 20 + 14 bytes.
  EXPECT_EQ(plan["image"], json({{"ref", "compute@1"}, {"bytes", 7 + 20 + 14}}));
  EXPECT_EQ(plan["kernel"],
            json({{"ref", "tiny@1"}, {"release", "6.1.176"}, {"has_modules", true}}));
  EXPECT_EQ(plan["kernel_args"], "quiet");
  ASSERT_EQ(plan["cluster_files"].size(), 2u);
  EXPECT_EQ(plan["cluster_files"][1],
            json({{"path", "etc/openmosix.map"}, {"mode", 0644}, {"content", "1 10.77.0.10 2\n"}}));
  EXPECT_EQ(plan["cluster_files"][0]["path"], "etc/goldcast/calibration");
  EXPECT_EQ(plan["cluster_files"][0]["mode"], 0755);

  json plain = json::parse(Get("/v1/node/plan", "mosix2").body);
  EXPECT_TRUE(plain["kernel"].is_null());  // keeps the image's kernel
  EXPECT_EQ(plain["node"]["ip"], "10.77.0.11");

  // What the agent reads back (protocol/plan.h).
  Result<InstallPlan> decoded = DecodeInstallPlan(response.body);
  ASSERT_TRUE(decoded.ok()) << decoded.status().message();
  EXPECT_EQ(decoded->node_name, "mosix1");
  EXPECT_EQ(decoded->kernel_release, "6.1.176");
  EXPECT_EQ(decoded->cluster_files, ClusterFiles(profile_, registry_->List().value()));
}

TEST_F(NodeApiTest, PlanFailsClearlyWhenTheImageDoesNotExist) {
  profile_.groups["compute"].image = "ghost";
  api_ = std::make_unique<NodeApi>(profile_, registry_.get(), &resolver_, &tokens_, &env_);
  HttpResponse response = Get("/v1/node/plan");
  // 409: the installer waits and asks again; nothing is erased meanwhile.
  EXPECT_EQ(response.status, 409);
  EXPECT_THAT(response.body, HasSubstr("image 'ghost' of group compute"));
  EXPECT_THAT(response.body, HasSubstr("capture or import it first"));
}

TEST_F(NodeApiTest, PlanRefusesAGroupWithoutKernelWhoseImageHasNone) {
  // Image "other" holds no boot/vmlinuz-*; group plain names no kernel.
  profile_.groups["plain"].image = "other";
  api_ = std::make_unique<NodeApi>(profile_, registry_.get(), &resolver_, &tokens_, &env_);
  HttpResponse response = Get("/v1/node/plan", "mosix2");
  EXPECT_EQ(response.status, 409);
  EXPECT_THAT(response.body, HasSubstr("image other@1 of group plain has no kernel"));
  EXPECT_THAT(response.body, HasSubstr("add kernel: NAME to group plain"));
  // The group with a kernel artifact installs the same kind of image.
  EXPECT_EQ(Get("/v1/node/plan").status, 200);
}

TEST_F(NodeApiTest, ServesOnlyTheManifestAndLayoutOfThePlansImage) {
  HttpResponse manifest = Get("/v1/node/images/compute@1/manifest");
  ASSERT_EQ(manifest.status, 200) << manifest.body;
  EXPECT_EQ(HashOf(manifest.body, "etc/hostname"), Sha256Hex("golden\n"));
  HttpResponse layout = Get("/v1/node/images/compute@1/layout");
  ASSERT_EQ(layout.status, 200) << layout.body;
  EXPECT_EQ(json::parse(layout.body)["source"], "import");

  HttpResponse other = Get("/v1/node/images/other@1/manifest");
  EXPECT_EQ(other.status, 404);
  EXPECT_THAT(other.body, HasSubstr("not in the plan of node mosix1"));
  EXPECT_EQ(Get("/v1/node/images/compute@7/manifest").status, 404);
  EXPECT_EQ(Get("/v1/node/images/compute@1/objects").status, 404);
}

TEST_F(NodeApiTest, StreamsObjectsOfTheImageAndTheKernelModules) {
  std::string manifest = Get("/v1/node/images/compute@1/manifest").body;
  std::string tool = HashOf(manifest, "usr/bin/tool");
  std::string hostname = HashOf(manifest, "etc/hostname");
  HttpResponse modules = Get("/v1/node/kernels/tiny@1/modules.manifest");
  ASSERT_EQ(modules.status, 200) << modules.body;
  std::string module = HashOf(modules.body, testing::kTestModulePath);
  EXPECT_EQ(module, Sha256Hex("module bytes"));

  HttpResponse response = Post("/v1/node/objects", tool + "\n" + module + "\n" + hostname + "\n");
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_THAT(ReadFrames(response),
              ElementsAre(std::make_pair(tool, std::string("#!/bin/sh\necho tool\n")),
                          std::make_pair(module, std::string("module bytes")),
                          std::make_pair(hostname, std::string("golden\n"))));
}

TEST_F(NodeApiTest, ObjectsOutsideThePlanOrMalformedAreRefused) {
  std::string hostname = Sha256Hex("golden\n");
  // In the store, but in an image this node's plan does not name.
  std::string secret = Sha256Hex("not for nodes\n");
  ASSERT_TRUE(store_->HasObject(secret));
  HttpResponse other = Post("/v1/node/objects", hostname + "\n" + secret + "\n");
  EXPECT_EQ(other.status, 404);
  EXPECT_THAT(other.body, HasSubstr(secret));
  EXPECT_FALSE(other.stream);
  // Node mosix2's plan has no kernel: the module is not its to read.
  EXPECT_EQ(Post("/v1/node/objects", Sha256Hex("module bytes"), "mosix2").status, 404);

  HttpResponse bad = Post("/v1/node/objects", hostname + "\nnot-a-hash\n");
  EXPECT_EQ(bad.status, 400);
  EXPECT_THAT(bad.body, HasSubstr("line 2: 'not-a-hash'"));
  EXPECT_EQ(Post("/v1/node/objects", hostname.substr(0, 63) + "A").status, 400);
  EXPECT_EQ(Post("/v1/node/objects", "\n").status, 400);
  EXPECT_EQ(Get("/v1/node/objects").status, 405);

  std::string many;
  for (size_t i = 0; i <= kNodeApiMaxObjects; ++i) many += hostname + "\n";
  EXPECT_EQ(Post("/v1/node/objects", many).status, 413);
}

TEST_F(NodeApiTest, KernelFilesOnlyOfThePlansKernel) {
  EXPECT_EQ(http_testing::FileBody(Get("/v1/node/kernels/tiny@1/vmlinuz")), "bzImage bytes");
  EXPECT_EQ(http_testing::FileBody(Get("/v1/node/kernels/tiny@1/config")), "CONFIG_64BIT=y\n");
  EXPECT_EQ(Get("/v1/node/kernels/tiny@1/build.log").status, 404);
  EXPECT_EQ(Get("/v1/node/kernels/tiny@1/vmlinuz", "mosix2").status, 404);
  EXPECT_EQ(Get("/v1/node/kernels/tiny@2/vmlinuz").status, 404);

  auto tree = ParseManifest(Get("/v1/node/kernels/tiny@1/modules.manifest").body, "modules");
  ASSERT_TRUE(tree.ok()) << tree.status().message();
  EXPECT_EQ(tree->entries.front().path, ".");
  // ., lib, lib/modules, 6.1.176, kernel, drivers, net, virtio_net.ko, modules.dep
  EXPECT_EQ(tree->entries.size(), 9u);
}

TEST_F(NodeApiTest, ANewVersionDoesNotPullTheImageFromUnderAnInstall) {
  ASSERT_EQ(Get("/v1/node/plan").status, 200);  // mosix1 is handed compute@1
  WriteTestFile(dir_.Sub("tree/etc/hostname"), "golden v2\n");
  auto second = ImportDirectory(store_.get(), dir_.Sub("tree"), "compute", "v2");
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(json::parse(Get("/v1/node/plan", "mosix2").body)["image"]["ref"], "compute@2");
  // mosix2 was never handed compute@1; mosix1 was.
  EXPECT_EQ(Get("/v1/node/images/compute@1/manifest", "mosix2").status, 404);
  EXPECT_EQ(Get("/v1/node/images/compute@1/manifest").status, 200);
  HttpResponse old = Post("/v1/node/objects", Sha256Hex("golden\n"));
  ASSERT_EQ(old.status, 200);
  EXPECT_EQ(ReadFrames(old).at(0).second, "golden\n");
}

TEST_F(NodeApiTest, ProgressMovesTheNodeThroughItsInstall) {
  HttpResponse first = Post(
      "/v1/node/progress", R"({"phase":"image","done":1,"total":2,"message":"writing compute@1"})");
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(json::parse(first.body), json({{"ok", true}}));
  Node node = Find("mosix1");
  EXPECT_EQ(node.state, NodeState::kInstalling);
  EXPECT_EQ(node.progress.phase, "image");
  EXPECT_EQ(node.progress.done, 1u);
  EXPECT_EQ(node.progress.message, "writing compute@1");
  EXPECT_EQ(node.progress.time_ns, kNow);

  ASSERT_EQ(Post("/v1/node/progress", R"({"phase":"failed","message":"disk\nfull"})").status, 200);
  node = Find("mosix1");
  EXPECT_EQ(node.state, NodeState::kFailed);
  EXPECT_EQ(node.mode, BootMode::kInstall);
  EXPECT_EQ(node.progress.message, "disk full");  // control characters blanked

  ASSERT_EQ(Post("/v1/node/progress", R"({"phase":"done"})").status, 200);
  node = Find("mosix1");
  EXPECT_EQ(node.state, NodeState::kInstalled);
  EXPECT_EQ(node.mode, BootMode::kLocal);
}

TEST_F(NodeApiTest, MalformedReportsAre400NamingTheField) {
  struct Case {
    const char* path;
    const char* body;
    const char* reason;
  };
  const Case cases[] = {
      {"/v1/node/progress", "{not json", "not valid JSON"},
      {"/v1/node/progress", "[1]", "expected a JSON object, got array"},
      {"/v1/node/progress", R"({"done":1})", "field phase: missing"},
      {"/v1/node/progress", R"({"phase":"reboot"})", "field phase: 'reboot'"},
      {"/v1/node/progress", R"({"phase":"image","done":"12"})",
       "field done: expected a non-negative integer, got string"},
      {"/v1/node/progress", R"({"phase":"image","total":-1})", "field total"},
      {"/v1/node/progress", R"({"phase":"image","message":7})", "field message"},
      {"/v1/node/heartbeat", R"({"boot":"installed"})", "field format: missing"},
      {"/v1/node/heartbeat", R"({"format":2,"boot":"installed"})", "field format: 2 is not"},
      {"/v1/node/heartbeat", R"({"format":1,"boot":"usb"})", "field boot: 'usb'"},
      {"/v1/node/heartbeat", R"({"format":1,"boot":"installed","kernel":{"release":6}})",
       "field kernel.release: expected a string, got number"},
      {"/v1/node/heartbeat", R"({"format":1,"boot":"installed","kernel":"6.1"})",
       "field kernel: expected an object"},
      {"/v1/node/heartbeat", R"({"format":1,"boot":"installed","load":[0.1,"x"]})",
       "field load[1]"},
      {"/v1/node/heartbeat", R"({"format":1,"boot":"installed","uptime_s":-3})", "field uptime_s"},
      {"/v1/node/heartbeat",
       R"({"format":1,"boot":"installed","cluster_files":{"../etc/passwd":"x"}})",
       "not a relative path"},
      {"/v1/node/heartbeat",
       R"({"format":1,"boot":"installed","cluster_files":{"etc/openmosix.map":"abc"}})",
       "64 lowercase hex digits"},
      {"/v1/node/heartbeat", R"({"format":1,"boot":"installed","image":"a\u001bb"})",
       "field image: contains a control character"},
  };
  for (const Case& c : cases) {
    HttpResponse response = Post(c.path, c.body);
    EXPECT_EQ(response.status, 400) << c.body;
    EXPECT_THAT(response.body, HasSubstr(c.reason)) << c.body;
  }
  Node node = Find("mosix1");
  EXPECT_EQ(node.progress.time_ns, 0);
  EXPECT_EQ(node.heartbeat.time_ns, 0);
  EXPECT_EQ(Get("/v1/node/heartbeat").status, 405);
  EXPECT_EQ(Post("/v1/node/heartbeat", std::string(kNodeApiMaxJsonBytes + 1, ' ')).status, 413);
}

TEST_F(NodeApiTest, HeartbeatIsStoredAndDriftIsComputed) {
  auto nodes = registry_->List();
  ASSERT_TRUE(nodes.ok());
  std::map<std::string, std::string> files;
  for (const ClusterFile& file : ClusterFiles(profile_, *nodes)) {
    files[file.path] = Sha256Hex(file.content);
  }
  json beat = {{"format", 1},
               {"boot", "installed"},
               {"image", "compute@1"},
               {"kernel", {{"release", "6.1.176"}, {"version", "#1 SMP"}, {"artifact", "tiny@1"}}},
               {"uptime_s", 812.4},
               {"load", {0.12, 0.08, 0.01}},
               {"cpus", 2},
               {"cpu_mhz", 2394.5},
               {"mem_total_kb", 2041828},
               {"mem_available_kb", 1871234},
               {"cluster_files", files},
               {"future_field", {{"ignored", true}}}};
  HttpResponse response = Post("/v1/node/heartbeat", beat.dump());
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(json::parse(response.body),
            json({{"ok", true}, {"time_ns", kNow}, {"cluster_files", json::array()}}));

  Node node = Find("mosix1");
  EXPECT_EQ(node.heartbeat.time_ns, kNow);
  EXPECT_EQ(node.heartbeat.image, "compute@1");
  EXPECT_EQ(node.heartbeat.kernel_artifact, "tiny@1");
  EXPECT_EQ(node.heartbeat.cluster_files, files);
  json stored = json::parse(node.heartbeat.json);
  EXPECT_EQ(stored["mem_total_kb"], 2041828);
  EXPECT_EQ(stored["load"].size(), 3u);
  EXPECT_FALSE(stored.contains("future_field"));
  EXPECT_EQ(node.state, NodeState::kNew);  // an installed boot leaves the state alone

  auto expected = [&] { return ComputeExpected(profile_, registry_->List().value(), &resolver_); };
  EXPECT_THAT(DriftReasons(Find("mosix1"), expected()), IsEmpty());
  EXPECT_THAT(DriftReasons(Find("mosix2"), expected()), IsEmpty());  // never heard from

  beat["image"] = "compute@0";
  beat["kernel"]["artifact"] = "";
  beat["kernel"]["release"] = "6.1.0-13-amd64";
  beat["cluster_files"]["etc/openmosix.map"] = Sha256Hex("1 10.0.0.1 1\n");
  beat["boot"] = "diskless";
  ASSERT_EQ(Post("/v1/node/heartbeat", beat.dump()).status, 200);
  EXPECT_EQ(Find("mosix1").state, NodeState::kDiskless);
  EXPECT_THAT(DriftReasons(Find("mosix1"), expected()),
              ElementsAre("kernel", "image", "release", "files"));

  // A group without a kernel: any reported artifact is drift, the release
  // is the image's business.
  json plain = {{"format", 1},
                {"boot", "installed"},
                {"image", "compute@1"},
                {"kernel", {{"release", "6.1.0-13-amd64"}, {"artifact", "tiny@1"}}},
                {"cluster_files", files}};
  ASSERT_EQ(Post("/v1/node/heartbeat", plain.dump(), "mosix2").status, 200);
  EXPECT_THAT(DriftReasons(Find("mosix2"), expected()), ElementsAre("kernel"));
  plain["kernel"]["artifact"] = "";
  ASSERT_EQ(Post("/v1/node/heartbeat", plain.dump(), "mosix2").status, 200);
  EXPECT_THAT(DriftReasons(Find("mosix2"), expected()), IsEmpty());
  // The agent reports a file it cannot read with an empty hash.
  json unreadable = plain;
  unreadable["cluster_files"]["etc/openmosix.map"] = "";
  ASSERT_EQ(Post("/v1/node/heartbeat", unreadable.dump(), "mosix2").status, 200);
  EXPECT_EQ(Find("mosix2").heartbeat.cluster_files.at("etc/openmosix.map"), "");
  EXPECT_THAT(DriftReasons(Find("mosix2"), expected()), ElementsAre("files"));
  ASSERT_EQ(Post("/v1/node/heartbeat", plain.dump(), "mosix2").status, 200);
  // A new node with an address changes the map: every copy is stale now.
  ASSERT_TRUE(registry_->Add("52:54:00:00:00:03", "").ok());
  EXPECT_THAT(DriftReasons(Find("mosix2"), expected()), ElementsAre("files"));
}

// The demo's problem: mosix1 installed with a map of itself only, then
// mosix3 joins. The answer hands back exactly the stale files, so the
// agent can converge.
TEST_F(NodeApiTest, HeartbeatAnswerCarriesTheClusterFilesThatDiffer) {
  auto current = [&] {
    std::map<std::string, std::string> hashes;
    for (const ClusterFile& file : ClusterFiles(profile_, registry_->List().value())) {
      hashes[file.path] = Sha256Hex(file.content);
    }
    return hashes;
  };
  json beat = {{"format", 1}, {"boot", "installed"}, {"cluster_files", current()}};
  ASSERT_EQ(beat["cluster_files"].size(), 2u);  // the map and the calibration
  auto answer = [&](const json& body) {
    HttpResponse response = Post("/v1/node/heartbeat", body.dump());
    EXPECT_EQ(response.status, 200) << response.body;
    json doc = json::parse(response.body);
    EXPECT_EQ(doc["ok"], true);
    return doc["cluster_files"];
  };
  EXPECT_EQ(answer(beat), json::array()) << "all files match";

  ASSERT_TRUE(registry_->Add("52:54:00:00:00:03", "").ok());
  std::vector<ClusterFile> files = ClusterFiles(profile_, registry_->List().value());
  const ClusterFile* map = nullptr;
  for (const ClusterFile& file : files) {
    if (file.path == kOpenMosixMapPath) map = &file;
  }
  ASSERT_NE(map, nullptr);
  ASSERT_EQ(map->content, "1 10.77.0.10 3\n");  // the new node is in the map
  json sent = answer(beat);
  ASSERT_EQ(sent.size(), 1u) << sent.dump() << ": only the map changed";
  EXPECT_EQ(sent[0],
            json({{"path", kOpenMosixMapPath}, {"mode", 0644}, {"content", map->content}}));

  // Once the node reports the new hash, nothing more is sent.
  beat["cluster_files"] = current();
  EXPECT_EQ(answer(beat), json::array());
  // An unreadable copy ("") is resent too.
  beat["cluster_files"][kCalibrationPath] = "";
  sent = answer(beat);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0]["path"], kCalibrationPath);
  EXPECT_EQ(sent[0]["mode"], 0755);
  // A file the node does not report is not in its node.json: not sent.
  beat["cluster_files"] = {{kOpenMosixMapPath, Sha256Hex("stale\n")}};
  sent = answer(beat);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0]["path"], kOpenMosixMapPath);
  // A diskless root is RAM, rebuilt at every boot: nothing to converge.
  beat["boot"] = "diskless";
  EXPECT_EQ(answer(beat), json::array());
}

// Through a real HTTP server on 127.0.0.1: headers arrive lowercased, the
// object stream goes out chunked, POST bodies reach the handler.
TEST_F(NodeApiTest, WorksOverHttp) {
  HttpServerOptions options;
  options.max_body_bytes = kNodeApiMaxBodyBytes;
  auto server =
      http_testing::StartOrDie([&](const HttpRequest& r) { return api_->Handle(r); }, options);
  std::string base = http_testing::Url(*server, "");
  HttpClient client;
  auto call = [&](const std::string& method, const std::string& path, const std::string& body,
                  const std::string& secret) {
    HttpCall request;
    request.method = method;
    request.url = base + path;
    request.body = body;
    request.retries = 0;
    request.headers = {"X-Goldcast-Node: mosix1", "Authorization: Bearer " + secret};
    auto result = client.Call(request);
    EXPECT_TRUE(result.ok()) << result.status().message();
    return result.ok() ? *result : HttpResult();
  };
  EXPECT_EQ(call("GET", "/v1/node/plan", "", "bad").status, 401);
  std::string hostname = Sha256Hex("golden\n");
  HttpResult objects =
      call("POST", "/v1/node/objects", hostname + "\n" + hostname + "\n", secret1_);
  ASSERT_EQ(objects.status, 200) << objects.body;
  EXPECT_EQ(objects.body, EncodeFrameHeader(hostname, 7) + "golden\n" +
                              EncodeFrameHeader(hostname, 7) + "golden\n");
  HttpResult beat =
      call("POST", "/v1/node/heartbeat", R"({"format":1,"boot":"diskless"})", secret1_);
  EXPECT_EQ(beat.status, 200) << beat.body;
  EXPECT_EQ(Find("mosix1").state, NodeState::kDiskless);
  server->Stop();
}

TEST_F(NodeApiTest, UnknownPathsAndMethods) {
  EXPECT_EQ(Get("/v1/node/").status, 404);
  EXPECT_EQ(Get("/v1/node/plans").status, 404);
  HttpResponse put = api_->Handle(Request("PUT", "/v1/node/plan"));
  EXPECT_EQ(put.status, 405);
  EXPECT_THAT(put.headers, ElementsAre(std::make_pair(std::string("Allow"), std::string("GET"))));
  EXPECT_EQ(Post("/v1/node/plan", "").status, 405);
  EXPECT_TRUE(NodeApi::Handles("/v1/node/plan"));
  EXPECT_FALSE(NodeApi::Handles("/v1/nodes"));
}

}  // namespace
}  // namespace gc
