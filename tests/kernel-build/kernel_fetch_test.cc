// Getting the source: a tarball fetched over HTTP (from a server on
// 127.0.0.1) and a detached signature checked with gpgv.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>

#include "common/hash.h"
#include "common/http_server.h"
#include "kernel-build/kernel_source.h"
#include "tests/testing/http_test_support.h"
#include "tests/testing/temp_dir.h"

namespace gc {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::ReadTestFile;
using testing::TempDir;
using testing::WriteTestFile;

class FetchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = http_testing::StartOrDie([this](const HttpRequest& request) {
      ++requests_;
      if (request.path == "/linux-6.1.176.tar.xz") return HttpResponse::Text(200, kBody);
      return HttpResponse::Text(404, "no such file");
    });
    base_ = http_testing::Url(*server_, "");
  }

  const std::string kBody = "pretend this is linux-6.1.176.tar.xz";
  std::atomic<int> requests_{0};
  std::unique_ptr<HttpServer> server_;
  std::string base_;
  TempDir dir_;
};

TEST_F(FetchTest, DownloadsOnceIntoTheCacheAndVerifies) {
  std::string sha = Sha256Hex(kBody);
  auto path = FetchTarball(base_ + "/linux-6.1.176.tar.xz", sha, dir_.Sub("cache"));
  ASSERT_TRUE(path.ok()) << path.status().message();
  EXPECT_EQ(*path, dir_.Sub("cache/downloads/" + sha + "/linux-6.1.176.tar.xz"));
  EXPECT_EQ(ReadTestFile(*path), kBody);
  EXPECT_EQ(requests_, 1);
  auto again = FetchTarball(base_ + "/linux-6.1.176.tar.xz", sha, dir_.Sub("cache"));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(requests_, 1) << "a verified copy in the cache is not downloaded again";
  EXPECT_THAT(*Env::Default()->ListDir(dir_.Sub("cache/downloads/tmp")), IsEmpty());
}

TEST_F(FetchTest, AWrongDownloadIsNotKept) {
  std::string declared(64, 'd');
  auto path = FetchTarball(base_ + "/linux-6.1.176.tar.xz", declared, dir_.Sub("cache"));
  ASSERT_FALSE(path.ok());
  EXPECT_EQ(path.status().code(), Code::kCorrupt);
  EXPECT_THAT(
      path.status().message(),
      HasSubstr("is not the vanilla source you declared: its sha256 is " + Sha256Hex(kBody)));
  EXPECT_FALSE(
      std::filesystem::exists(dir_.Sub("cache/downloads/" + declared + "/linux-6.1.176.tar.xz")));
  EXPECT_THAT(*Env::Default()->ListDir(dir_.Sub("cache/downloads/tmp")), IsEmpty());

  auto missing = FetchTarball(base_ + "/nope.tar.xz", declared, dir_.Sub("cache"));
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr("HTTP 404"));
}

// A throw-away signing key in its own GNUPGHOME, exported as a keyring file.
class SignatureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir_.Sub("gnupg"));
    std::filesystem::permissions(dir_.Sub("gnupg"), std::filesystem::perms::owner_all);
    auto made = Gpg(
        {"--quick-gen-key", "goldcast test <test@goldcast.invalid>", "ed25519", "sign", "never"});
    if (!made) GTEST_SKIP() << "gpg cannot make a key here";
    ASSERT_TRUE(Gpg({"--export", "--output", dir_.Sub("keyring.gpg")}));
  }

  bool Gpg(std::vector<std::string> args) {
    std::vector<std::string> argv = {
        "gpg",          "--homedir", dir_.Sub("gnupg"), "--batch", "--pinentry-mode", "loopback",
        "--passphrase", ""};
    argv.insert(argv.end(), args.begin(), args.end());
    auto result = ProcessRunner::Default()->Run(argv);
    return result.ok() && result->exit_code == 0;
  }

  TempDir dir_;
};

TEST_F(SignatureTest, AcceptsTheSignedTarballAndRefusesAnother) {
  WriteTestFile(dir_.Sub("linux.tar"), "the vanilla tree\n");
  ASSERT_TRUE(
      Gpg({"--detach-sign", "--output", dir_.Sub("linux.tar.sign"), dir_.Sub("linux.tar")}));
  ProcessRunner* runner = ProcessRunner::Default();
  EXPECT_TRUE(VerifySignature(runner, dir_.Sub("linux.tar"), dir_.Sub("linux.tar.sign"),
                              dir_.Sub("keyring.gpg"))
                  .ok());
  // kernel.org signs the .tar: a .tar.sign is checked against the decompressed .tar.xz.
  auto xz = runner->Run({"xz", "-k", dir_.Sub("linux.tar")});
  ASSERT_TRUE(xz.ok() && xz->exit_code == 0);
  Status compressed = VerifySignature(runner, dir_.Sub("linux.tar.xz"), dir_.Sub("linux.tar.sign"),
                                      dir_.Sub("keyring.gpg"));
  EXPECT_TRUE(compressed.ok()) << compressed.message();

  WriteTestFile(dir_.Sub("linux.tar"), "a patched tree\n");
  Status bad = VerifySignature(runner, dir_.Sub("linux.tar"), dir_.Sub("linux.tar.sign"),
                               dir_.Sub("keyring.gpg"));
  EXPECT_EQ(bad.code(), Code::kCorrupt);
  EXPECT_THAT(bad.message(), HasSubstr("does not verify"));
}

}  // namespace
}  // namespace gc
