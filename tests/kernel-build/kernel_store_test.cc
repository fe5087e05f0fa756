#include "kernel-build/kernel_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "tests/testing/temp_dir.h"

namespace gc {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::TempDir;
using testing::WriteTestFile;

// Fills a staging directory the way the builder does.
void FillArtifact(const std::string& dir, const std::string& key) {
  WriteTestFile(dir + "/vmlinuz", "image " + key);
  WriteTestFile(dir + "/System.map", "map");
  WriteTestFile(dir + "/config", "CONFIG_64BIT=y\n");
  WriteTestFile(dir + "/build.log", "$ make\n");
  WriteTestFile(dir + "/inputs.json", "{\"inputs_key\": \"" + key + "\"}");
  WriteTestFile(dir + "/artifact.json", "{\"kernel_release\": \"6.1.176\"}");
  std::filesystem::create_directories(dir + "/modules");
}

Result<KernelRef> PublishNew(KernelStore* store, const std::string& name, const std::string& key) {
  GC_ASSIGN_OR_RETURN(std::string staging, store->NewStagingDir());
  FillArtifact(staging, key);
  return store->Publish(name, staging);
}

TEST(KernelStoreTest, PublishesVersionsAndFindsThemByInputsKey) {
  TempDir dir;
  auto store = KernelStore::Open(dir.path(), true);
  ASSERT_TRUE(store.ok());
  auto first = PublishNew(store->get(), "om", "key-a");
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_EQ(first->ToString(), "om@1");
  EXPECT_EQ((*store)->ArtifactDir(*first), dir.Sub("kernels/om/1"));
  EXPECT_TRUE(std::filesystem::exists(dir.Sub("kernels/om/1/vmlinuz")));
  ASSERT_EQ(PublishNew(store->get(), "om", "key-b")->ToString(), "om@2");
  ASSERT_EQ(PublishNew(store->get(), "other", "key-a")->ToString(), "other@1");

  auto found = (*store)->FindByInputsKey("om", "key-a");
  ASSERT_TRUE(found.ok());
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->ToString(), "om@1");
  EXPECT_FALSE((*store)->FindByInputsKey("om", "key-c")->has_value());
  EXPECT_FALSE((*store)->FindByInputsKey("nobody", "key-a")->has_value());

  auto list = (*store)->List();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].ref.ToString(), "om@1");
  EXPECT_EQ((*list)[1].inputs_key, "key-b");
  EXPECT_EQ((*list)[2].ref.ToString(), "other@1");
  EXPECT_EQ((*list)[0].artifact["kernel_release"], "6.1.176");

  EXPECT_EQ((*store)->Resolve("om")->ToString(), "om@2");
  EXPECT_EQ((*store)->Resolve("om@1")->ToString(), "om@1");
  EXPECT_THAT((*store)->Resolve("om@7").status().message(),
              HasSubstr("om@7 does not exist; its versions are 1, 2"));
  EXPECT_EQ((*store)->Resolve("ghost").status().code(), Code::kNotFound);
}

TEST(KernelStoreTest, RemoveNeverReusesTheNumber) {
  TempDir dir;
  auto store = KernelStore::Open(dir.path(), true);
  ASSERT_TRUE(PublishNew(store->get(), "om", "k1").ok());
  ASSERT_TRUE(PublishNew(store->get(), "om", "k2").ok());
  ASSERT_TRUE((*store)->Remove(KernelRef{"om", 2}).ok());
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("kernels/om/2")));
  EXPECT_EQ(PublishNew(store->get(), "om", "k3")->ToString(), "om@3");
  EXPECT_EQ((*store)->Remove(KernelRef{"om", 2}).code(), Code::kNotFound);
  EXPECT_THAT(*Env::Default()->ListDir(dir.Sub("kernels/tmp")), IsEmpty());
}

TEST(KernelStoreTest, AnIncompleteArtifactIsNotPublished) {
  TempDir dir;
  auto store = KernelStore::Open(dir.path(), true);
  auto staging = (*store)->NewStagingDir();
  FillArtifact(*staging, "k");
  std::filesystem::remove(*staging + "/System.map");
  auto ref = (*store)->Publish("om", *staging);
  ASSERT_FALSE(ref.ok());
  EXPECT_THAT(ref.status().message(), HasSubstr("has no System.map"));
  EXPECT_TRUE((*store)->List()->empty());
  EXPECT_EQ((*store)->Publish("bad name", *staging).status().code(), Code::kInvalidArgument);
}

TEST(KernelStoreTest, OpenRemovesStagingOfDeadBuildsOnly) {
  TempDir dir;
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);
  std::string dead = dir.Sub("kernels/tmp/" + std::to_string(child) + ".0.5.artifact");
  std::string alive = dir.Sub("kernels/tmp/" + std::to_string(::getppid()) + ".0.5.artifact");
  WriteTestFile(dead + "/vmlinuz", "half");
  WriteTestFile(alive + "/vmlinuz", "in progress");
  ASSERT_TRUE(KernelStore::Open(dir.path(), false).ok());
  EXPECT_FALSE(std::filesystem::exists(dead));
  EXPECT_TRUE(std::filesystem::exists(alive));
}

TEST(KernelStoreTest, ListOfAFreshStateIsEmpty) {
  TempDir dir;
  auto store = KernelStore::Open(dir.Sub("never-used"), false);
  ASSERT_TRUE(store.ok());
  EXPECT_TRUE((*store)->List()->empty());
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("never-used")));
}

TEST(KernelStoreTest, ParsesSpecs) {
  EXPECT_EQ(ParseKernelSpec("om")->name, "om");
  EXPECT_FALSE(ParseKernelSpec("om")->version.has_value());
  EXPECT_EQ(*ParseKernelSpec("om-2.4@3")->version, 3u);
  EXPECT_FALSE(ParseKernelSpec("om@0").ok());
  EXPECT_FALSE(ParseKernelSpec("om@x").ok());
  EXPECT_FALSE(ParseKernelSpec("../om").ok());
  EXPECT_FALSE(ParseKernelSpec("").ok());
}

}  // namespace
}  // namespace gc
