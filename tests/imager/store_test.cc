#include "imager/store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/hash.h"
#include "tests/testing/fault_env.h"
#include "tests/testing/temp_dir.h"

namespace gc {
namespace {

using ::gc::testing::FaultEnv;
using ::gc::testing::ReadTestFile;
using ::gc::testing::TempDir;
using ::gc::testing::WriteTestFile;

std::string PutObject(ImageStore* store, const std::string& content) {
  EXPECT_TRUE(store->BeginWrite().ok());
  auto writer = store->NewObject();
  EXPECT_TRUE(writer.ok()) << writer.status().message();
  EXPECT_TRUE((*writer)->Append(content).ok());
  auto hash = (*writer)->Commit("");
  EXPECT_TRUE(hash.ok()) << hash.status().message();
  return *hash;
}

Entry Dir(const std::string& path) {
  Entry entry;
  entry.path = path;
  entry.type = EntryType::kDir;
  entry.mode = 0755;
  return entry;
}

Entry File(const std::string& path, const std::string& hash, uint64_t size) {
  Entry entry;
  entry.path = path;
  entry.type = EntryType::kFile;
  entry.mode = 0644;
  entry.hash = hash;
  entry.size = size;
  return entry;
}

Manifest OneFile(const std::string& hash, uint64_t size) {
  Manifest manifest;
  manifest.entries = {Dir("."), Dir("etc"), File("etc/hostname", hash, size)};
  return manifest;
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = ImageStore::Open(dir_.path(), /*create=*/true);
    ASSERT_TRUE(store.ok()) << store.status().message();
    store_ = std::move(store).value();
  }

  Result<ImageRef> PublishContent(const std::string& name, const std::string& content) {
    std::string hash = PutObject(store_.get(), content);
    return store_->Publish(name, OneFile(hash, content.size()), "{}", CaptureRecord{});
  }

  TempDir dir_;
  std::unique_ptr<ImageStore> store_;
};

TEST(StoreOpenTest, MissingStoreWithoutCreateSaysWhatToDo) {
  TempDir dir;
  auto store = ImageStore::Open(dir.path(), /*create=*/false);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), Code::kNotFound);
  EXPECT_NE(store.status().message().find("--state"), std::string::npos);
}

TEST(StoreOpenTest, UnknownFormatIsRefused) {
  TempDir dir;
  ASSERT_TRUE(ImageStore::Open(dir.path(), true).ok());
  WriteTestFile(dir.Sub("store/FORMAT"), "goldcast-store 99\n");
  auto store = ImageStore::Open(dir.path(), true);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("goldcast-store 99"), std::string::npos);
}

TEST_F(StoreTest, PublishesAndResolvesVersions) {
  auto v1 = PublishContent("compute", "node-a\n");
  ASSERT_TRUE(v1.ok()) << v1.status().message();
  EXPECT_EQ(v1->ToString(), "compute@1");
  auto v2 = PublishContent("compute", "node-b\n");
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ(v2->version, 2u);

  auto latest = store_->Resolve("compute");
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(latest->version, 2u);
  auto first = store_->Resolve("compute@1");
  ASSERT_TRUE(first.ok());
  auto manifest = store_->LoadManifest(*first);
  ASSERT_TRUE(manifest.ok()) << manifest.status().message();
  EXPECT_EQ(manifest->entries[2].hash, Sha256Hex("node-a\n"));

  auto list = store_->List();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].ref.ToString(), "compute@1");
}

TEST_F(StoreTest, UnknownImageAndVersionAreClearErrors) {
  ASSERT_TRUE(PublishContent("compute", "x").ok());
  auto missing = store_->Resolve("nosuch");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("image 'nosuch' does not exist"), std::string::npos);
  auto version = store_->Resolve("compute@7");
  ASSERT_FALSE(version.ok());
  EXPECT_NE(version.status().message().find("versions are 1"), std::string::npos);
  EXPECT_FALSE(ParseImageSpec("compute@0").ok());
  EXPECT_FALSE(ParseImageSpec("compute@x").ok());
  EXPECT_FALSE(ParseImageSpec("../etc").ok());
  EXPECT_FALSE(ParseImageSpec("").ok());
  EXPECT_FALSE(ParseImageSpec("a:12").ok());  // a numeric tag would shadow versions
}

TEST_F(StoreTest, VersionNumbersAreNeverReused) {
  ASSERT_TRUE(PublishContent("compute", "1").ok());
  auto v2 = PublishContent("compute", "2");
  ASSERT_TRUE(v2.ok());
  ASSERT_TRUE(store_->Remove(*v2).ok());
  auto v3 = PublishContent("compute", "3");
  ASSERT_TRUE(v3.ok());
  EXPECT_EQ(v3->version, 3u);
}

TEST_F(StoreTest, PublishRefusesMissingObjects) {
  ASSERT_TRUE(store_->BeginWrite().ok());
  auto ref = store_->Publish("compute", OneFile(Sha256Hex("never stored"), 12), "{}", {});
  ASSERT_FALSE(ref.ok());
  EXPECT_NE(ref.status().message().find("etc/hostname"), std::string::npos);
  EXPECT_TRUE(store_->List()->empty());
}

TEST_F(StoreTest, PublishRefusesInvalidManifest) {
  std::string hash = PutObject(store_.get(), "x");
  Manifest manifest = OneFile(hash, 1);
  manifest.entries[2].path = "etc/../../escape";
  EXPECT_FALSE(store_->Publish("compute", manifest, "{}", {}).ok());
  EXPECT_TRUE(store_->List()->empty());
}

TEST_F(StoreTest, TagsPointAtVersionsAndGoWithThem) {
  auto v1 = PublishContent("compute", "1");
  ASSERT_TRUE(v1.ok());
  ASSERT_TRUE(PublishContent("compute", "2").ok());
  ASSERT_TRUE(store_->Tag(*v1, "stable").ok());
  auto stable = store_->Resolve("compute:stable");
  ASSERT_TRUE(stable.ok());
  EXPECT_EQ(stable->version, 1u);
  auto info = store_->Info(*v1);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->tags, std::vector<std::string>{"stable"});
  ASSERT_TRUE(store_->Remove(*v1).ok());
  EXPECT_FALSE(store_->Resolve("compute:stable").ok());
  EXPECT_FALSE(store_->Untag("compute", "stable").ok());
}

TEST_F(StoreTest, ObjectWithWrongHashIsNotStored) {
  ASSERT_TRUE(store_->BeginWrite().ok());
  auto writer = store_->NewObject();
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Append("tampered").ok());
  auto hash = (*writer)->Commit(Sha256Hex("original"));
  ASSERT_FALSE(hash.ok());
  EXPECT_EQ(hash.status().code(), Code::kCorrupt);
  writer->reset();
  EXPECT_FALSE(store_->HasObject(Sha256Hex("tampered")));
  EXPECT_FALSE(store_->HasObject(Sha256Hex("original")));
  EXPECT_TRUE(std::filesystem::is_empty(dir_.Sub("store/tmp")));
}

TEST_F(StoreTest, SkippedRangesBecomeHoles) {
  ASSERT_TRUE(store_->BeginWrite().ok());
  auto writer = store_->NewObject();
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Skip(8 << 20).ok());
  ASSERT_TRUE((*writer)->Append("data").ok());
  ASSERT_TRUE((*writer)->Skip(1 << 20).ok());
  auto hash = (*writer)->Commit("");
  ASSERT_TRUE(hash.ok());
  std::string dense = std::string(8 << 20, '\0') + "data" + std::string(1 << 20, '\0');
  EXPECT_EQ(*hash, Sha256Hex(dense));
  struct stat st;
  ASSERT_EQ(::stat(store_->ObjectPath(*hash).c_str(), &st), 0);
  EXPECT_EQ(static_cast<size_t>(st.st_size), dense.size());
  EXPECT_LT(st.st_blocks * 512, 1 << 20);
}

TEST_F(StoreTest, GarbageCollectionKeepsReferencedObjects) {
  auto v1 = PublishContent("compute", "old");
  ASSERT_TRUE(v1.ok());
  ASSERT_TRUE(PublishContent("compute", "new").ok());
  std::string orphan = PutObject(store_.get(), "orphan");
  // This store is in a write session, so gc must come from another instance.
  auto other = ImageStore::Open(dir_.path(), false);
  ASSERT_TRUE(other.ok());
  auto busy = (*other)->CollectGarbage();
  ASSERT_FALSE(busy.ok());
  EXPECT_EQ(busy.status().code(), Code::kBusy);
  store_.reset();  // ends the write session

  ASSERT_TRUE((*other)->Remove(*v1).ok());
  auto stats = (*other)->CollectGarbage();
  ASSERT_TRUE(stats.ok()) << stats.status().message();
  EXPECT_EQ(stats->objects_removed, 2u);  // "old" and the orphan
  EXPECT_EQ(stats->objects_kept, 1u);
  EXPECT_FALSE((*other)->HasObject(orphan));
  EXPECT_TRUE((*other)->HasObject(Sha256Hex("new")));
  auto report = (*other)->Verify();
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->problems.empty());
}

TEST_F(StoreTest, VerifyNamesCorruptAndMissingObjectsWithTheirPaths) {
  auto v1 = PublishContent("compute", "good content");
  ASSERT_TRUE(v1.ok());
  auto clean = store_->Verify();
  ASSERT_TRUE(clean.ok());
  EXPECT_TRUE(clean->problems.empty());
  EXPECT_EQ(clean->objects_checked, 1u);

  std::string hash = Sha256Hex("good content");
  std::string path = store_->ObjectPath(hash);
  ::chmod(path.c_str(), 0644);
  WriteTestFile(path, "evil content");
  auto report = store_->Verify();
  ASSERT_TRUE(report.ok());
  ASSERT_EQ(report->problems.size(), 1u);
  EXPECT_NE(report->problems[0].find(hash), std::string::npos);
  EXPECT_NE(report->problems[0].find("corrupt"), std::string::npos);
  EXPECT_NE(report->problems[0].find("compute@1:/etc/hostname"), std::string::npos);

  std::filesystem::remove(path);
  report = store_->Verify();
  ASSERT_TRUE(report.ok());
  ASSERT_EQ(report->problems.size(), 1u);
  EXPECT_NE(report->problems[0].find("missing"), std::string::npos);
}

TEST_F(StoreTest, VerifyReportsDamagedManifest) {
  auto v1 = PublishContent("compute", "x");
  ASSERT_TRUE(v1.ok());
  std::string manifest_path = dir_.Sub("store/images/compute/1/manifest");
  std::string text = ReadTestFile(manifest_path);
  WriteTestFile(manifest_path, text.substr(0, text.size() / 2));
  auto report = store_->Verify();
  ASSERT_TRUE(report.ok());
  ASSERT_EQ(report->problems.size(), 1u);
  EXPECT_NE(report->problems[0].find("compute@1"), std::string::npos);
}

TEST(StoreTempTest, TempFilesOfDeadWritersAreRemovedOnOpen) {
  TempDir dir;
  ASSERT_TRUE(ImageStore::Open(dir.path(), true).ok());
  // pid 2^22+1 is above the default pid_max, so no process has it.
  std::string dead = dir.Sub("store/tmp/4194305.0.1.object");
  std::string live = dir.Sub("store/tmp/" + std::to_string(::getppid()) + ".0.1.object");
  WriteTestFile(dead, "half an object");
  WriteTestFile(live, "being written");
  ASSERT_TRUE(ImageStore::Open(dir.path(), false).ok());
  EXPECT_FALSE(std::filesystem::exists(dead));
  EXPECT_TRUE(std::filesystem::exists(live));
}

TEST(StoreFaultTest, FullDiskLeavesNoVersionAndAValidStore) {
  TempDir dir;
  FaultEnv env;
  auto opened = ImageStore::Open(dir.path(), true, &env);
  ASSERT_TRUE(opened.ok());
  auto store = std::move(opened).value();
  ASSERT_TRUE(store->BeginWrite().ok());

  env.FailWritesAfter(1000);
  auto writer = store->NewObject();
  ASSERT_TRUE(writer.ok());
  Status status = (*writer)->Append(std::string(4096, 'x'));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), Code::kNoSpace);
  EXPECT_NE(status.message().find("free some space"), std::string::npos);
  writer->reset();

  // The objects fit, but the manifest does not.
  env.StopFailing();
  std::string hash = PutObject(store.get(), "small");
  env.FailWritesAfter(10);
  auto ref = store->Publish("compute", OneFile(hash, 5), "{}", {});
  ASSERT_FALSE(ref.ok());
  EXPECT_EQ(ref.status().code(), Code::kNoSpace);
  env.StopFailing();
  EXPECT_TRUE(store->List()->empty());
  EXPECT_TRUE(std::filesystem::is_empty(dir.Sub("store/tmp")));
  auto report = store->Verify();
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->problems.empty());
  // And once there is space again, the same publish works.
  auto retry = store->Publish("compute", OneFile(hash, 5), "{}", {});
  ASSERT_TRUE(retry.ok()) << retry.status().message();
  EXPECT_EQ(retry->version, 1u);
}

}  // namespace
}  // namespace gc
