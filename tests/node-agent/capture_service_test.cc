#include "node-agent/capture_service.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "common/delta.h"
#include "common/hash.h"
#include "common/object_stream.h"
#include "tests/testing/temp_dir.h"

namespace gc {
namespace {

using ::gc::testing::TempDir;
using ::gc::testing::WriteTestFile;

constexpr char kToken[] = "secret-token";

class CaptureServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteTestFile(dir_.Sub("root/etc/hostname"), "golden\n");
    WriteTestFile(dir_.Sub("root/usr/bin/tool"), std::string(100000, 'x'));
    WriteTestFile(dir_.Sub("root/proc/1/status"), "not captured");
    std::filesystem::create_hard_link(dir_.Sub("root/usr/bin/tool"),
                                      dir_.Sub("root/usr/bin/alias"));
    cache_ = HashCache::Load(Env::Default(), dir_.Sub("cache"));
    CaptureServiceOptions options;
    options.root = dir_.Sub("root");
    options.walk.excludes = {"/proc/*"};
    options.token = kToken;
    options.layout_json = "{\"format\": 1}";
    service_ = std::make_unique<CaptureService>(options, cache_.get());
  }

  HttpResponse Call(const std::string& method, const std::string& endpoint,
                    const std::string& body = "", const std::string& token = kToken) {
    HttpRequest request;
    request.method = method;
    request.path = std::string(kCaptureApiPrefix) + endpoint;
    if (!token.empty()) request.headers["authorization"] = "Bearer " + token;
    request.body = body;
    return service_->Handle(request);
  }

  // Drains a streamed response.
  static std::string Drain(HttpResponse& response) {
    std::string out;
    char buffer[777];  // odd size: frames straddle buffer boundaries
    for (;;) {
      auto n = response.stream(buffer, sizeof buffer);
      EXPECT_TRUE(n.ok());
      if (!n.ok() || *n == 0) break;
      out.append(buffer, *n);
    }
    return out;
  }

  TempDir dir_;
  std::unique_ptr<HashCache> cache_;
  std::unique_ptr<CaptureService> service_;
};

TEST_F(CaptureServiceTest, WrongOrMissingTokenGets401AndNothingElse) {
  EXPECT_EQ(Call("GET", "manifest", "", "wrong").status, 401);
  EXPECT_EQ(Call("GET", "manifest", "", "").status, 401);
  EXPECT_EQ(Call("GET", "layout", "", "secret-tokem").status, 401);
  HttpResponse response = Call("POST", "objects", Sha256Hex("golden\n") + "\n", "x");
  EXPECT_EQ(response.status, 401);
  EXPECT_FALSE(response.stream);
  EXPECT_EQ(Call("POST", "done", "", "wrong").status, 401);
  EXPECT_FALSE(service_->done());
}

TEST_F(CaptureServiceTest, ManifestListsTheTreeWithHashesAndExcludes) {
  HttpResponse response = Call("GET", "manifest");
  ASSERT_EQ(response.status, 200) << response.body;
  auto manifest = ParseManifest(response.body, "test");
  ASSERT_TRUE(manifest.ok()) << manifest.status().message();
  std::map<std::string, Entry> by_path;
  for (const auto& entry : manifest->entries) by_path[entry.path] = entry;
  EXPECT_EQ(by_path["etc/hostname"].hash, Sha256Hex("golden\n"));
  EXPECT_TRUE(by_path.count("proc"));  // the directory stays
  EXPECT_FALSE(by_path.count("proc/1"));
  ASSERT_TRUE(by_path.count("usr/bin/tool"));
  EXPECT_EQ(by_path["usr/bin/tool"].type, EntryType::kHardlink);  // "alias" sorts first
  EXPECT_EQ(by_path["usr/bin/tool"].hash, by_path["usr/bin/alias"].hash);
}

TEST_F(CaptureServiceTest, SecondWalkComesFromTheHashCache) {
  ASSERT_TRUE(service_->BuildManifest().ok());
  uint64_t misses = cache_->misses();
  EXPECT_EQ(misses, 2u);
  ASSERT_TRUE(service_->BuildManifest().ok());
  EXPECT_EQ(cache_->misses(), misses);
  EXPECT_GE(cache_->hits(), 2u);
  // A changed file is hashed again.
  WriteTestFile(dir_.Sub("root/etc/hostname"), "changed\n");
  auto manifest = service_->BuildManifest();
  ASSERT_TRUE(manifest.ok());
  EXPECT_EQ(cache_->misses(), misses + 1);
  // The cache survives a restart of the agent.
  auto reloaded = HashCache::Load(Env::Default(), dir_.Sub("cache"));
  CaptureServiceOptions options;
  options.root = dir_.Sub("root");
  options.walk.excludes = {"/proc/*"};
  CaptureService again(options, reloaded.get());
  ASSERT_TRUE(again.BuildManifest().ok());
  EXPECT_EQ(reloaded->misses(), 0u);
}

TEST_F(CaptureServiceTest, ObjectsStreamFramesVerifiableContent) {
  ASSERT_EQ(Call("GET", "manifest").status, 200);
  std::string a = Sha256Hex("golden\n");
  std::string b = Sha256Hex(std::string(100000, 'x'));
  HttpResponse response = Call("POST", "objects", a + "\n" + b + "\n");
  ASSERT_EQ(response.status, 200);
  ASSERT_TRUE(response.stream);
  std::string body = Drain(response);

  std::map<std::string, std::string> received;
  std::string current;
  ObjectStreamDecoder decoder({[&](const std::string& hash, uint64_t) {
                                 current = hash;
                                 return Status::Ok();
                               },
                               [&](std::string_view data) {
                                 received[current].append(data);
                                 return Status::Ok();
                               },
                               [&] { return Status::Ok(); }});
  ASSERT_TRUE(decoder.Feed(body).ok());
  ASSERT_TRUE(decoder.Finish().ok());
  EXPECT_EQ(decoder.objects(), 2u);
  EXPECT_EQ(Sha256Hex(received[a]), a);
  EXPECT_EQ(Sha256Hex(received[b]), b);
}

// Issue 10, finding 4: a user of the golden client swaps a directory of
// theirs for a symlink after the walk; the capture must not read the file
// the symlink leads to under their file's name (owner, mode).
TEST_F(CaptureServiceTest, ASymlinkSwappedInAfterTheWalkIsNotFollowed) {
  WriteTestFile(dir_.Sub("root/home/user/notes"), "mine\n");
  WriteTestFile(dir_.Sub("root/root/notes"), "root's secret\n");
  ASSERT_EQ(Call("GET", "manifest").status, 200);
  std::filesystem::rename(dir_.Sub("root/home/user"), dir_.Sub("root/home/user.old"));
  std::filesystem::create_directory_symlink("../root", dir_.Sub("root/home/user"));
  HttpResponse object = Call("GET", "object/" + Sha256Hex("mine\n"));
  EXPECT_EQ(object.status, 410);
  EXPECT_FALSE(object.file);
  EXPECT_THAT(object.body, ::testing::Not(::testing::HasSubstr("secret")));
}

// The same file name, another inode (a rename over it): refused too.
TEST_F(CaptureServiceTest, AFileReplacedAfterTheWalkIsNotServed) {
  ASSERT_EQ(Call("GET", "manifest").status, 200);
  WriteTestFile(dir_.Sub("root/etc/hostname.new"), "golden\n");
  std::filesystem::rename(dir_.Sub("root/etc/hostname.new"), dir_.Sub("root/etc/hostname"));
  EXPECT_EQ(Call("GET", "object/" + Sha256Hex("golden\n")).status, 410);
  // A new walk takes the new file.
  ASSERT_EQ(Call("GET", "manifest").status, 200);
  EXPECT_EQ(Call("GET", "object/" + Sha256Hex("golden\n")).status, 200);
}

// Before any body: without the token, 401; with it, what each endpoint takes.
TEST_F(CaptureServiceTest, AdmissionNeedsTheTokenBeforeTheBody) {
  auto head = [](const std::string& method, const std::string& endpoint, const std::string& token) {
    HttpRequest request;
    request.method = method;
    request.path = std::string(kCaptureApiPrefix) + endpoint;
    if (!token.empty()) request.headers["authorization"] = "Bearer " + token;
    return request;
  };
  for (const std::string& token : {std::string(), std::string("wrong")}) {
    HttpAdmission refused = service_->Admit(head("POST", "delta/x", token));
    ASSERT_TRUE(refused.refusal);
    EXPECT_EQ(refused.refusal->status, 401);
  }
  EXPECT_EQ(service_->Admit(head("POST", "objects", kToken)).max_body_bytes,
            CaptureService::kMaxObjectsBody);
  EXPECT_EQ(service_->Admit(head("POST", "delta/x", kToken)).max_body_bytes,
            CaptureService::kMaxDeltaBody);
  EXPECT_EQ(service_->Admit(head("GET", "manifest", kToken)).max_body_bytes, 0u);
  EXPECT_FALSE(service_->Admit(head("GET", "manifest", kToken)).refusal);
}

TEST_F(CaptureServiceTest, UnknownOrMalformedObjectRequestsAreRefused) {
  ASSERT_EQ(Call("GET", "manifest").status, 200);
  EXPECT_EQ(Call("POST", "objects", Sha256Hex("not in tree") + "\n").status, 404);
  EXPECT_EQ(Call("POST", "objects", "../../etc/shadow\n").status, 400);
  EXPECT_EQ(Call("GET", "object/" + Sha256Hex("nope")).status, 404);
  EXPECT_EQ(Call("GET", "nosuch").status, 404);
}

TEST_F(CaptureServiceTest, DeltaTurnsTheBasisIntoTheCurrentContent) {
  std::string old_content(100000, 'x');
  old_content.replace(5000, 10, "0123456789");
  ASSERT_EQ(Call("GET", "manifest").status, 200);
  std::string basis_path = dir_.Sub("basis");
  WriteTestFile(basis_path, old_content);
  UniqueFd basis(::open(basis_path.c_str(), O_RDONLY));
  auto signature = ComputeSignature(basis.get());
  ASSERT_TRUE(signature.ok());
  std::string hash = Sha256Hex(std::string(100000, 'x'));
  HttpResponse response = Call("POST", "delta/" + hash, *signature);
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_LT(response.body.size(), 10000u);
  std::string rebuilt;
  ASSERT_TRUE(ApplyDelta(basis.get(), response.body, [&](std::string_view chunk) {
                rebuilt.append(chunk);
                return Status::Ok();
              }).ok());
  EXPECT_EQ(Sha256Hex(rebuilt), hash);
  EXPECT_EQ(Call("POST", "delta/" + hash, "garbage signature").status, 400);
}

TEST_F(CaptureServiceTest, FirstManifestComesFromTheWalkAtStartLaterOnesWalkAgain) {
  auto totals = service_->WalkAtStart();
  ASSERT_TRUE(totals.ok()) << totals.status().message();
  EXPECT_EQ(totals->files, 2u);  // hostname and tool (alias is a hardlink)
  WriteTestFile(dir_.Sub("root/etc/motd"), "added after start\n");
  HttpResponse first = Call("GET", "manifest");
  ASSERT_EQ(first.status, 200);
  EXPECT_EQ(first.body.find("etc/motd"), std::string::npos);
  HttpResponse second = Call("GET", "manifest");
  ASSERT_EQ(second.status, 200);
  EXPECT_NE(second.body.find("etc/motd"), std::string::npos);
}

TEST_F(CaptureServiceTest, DoneEndsTheService) {
  EXPECT_FALSE(service_->done());
  EXPECT_EQ(Call("POST", "done").status, 200);
  EXPECT_TRUE(service_->done());
}

}  // namespace
}  // namespace gc
