#include "pxe/secret_initrd.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "tests/testing/temp_dir.h"

namespace gc {
namespace {

struct Member {
  std::string name, body;
  unsigned long mode = 0;
};

unsigned long Field(const std::string& archive, size_t header, int index) {
  return std::strtoul(archive.substr(header + 6 + 8 * index, 8).c_str(), nullptr, 16);
}

// A reader after the kernel's (init/initramfs.c): newc headers, names and
// bodies padded to 4 bytes, up to TRAILER!!!.
std::vector<Member> ReadNewc(const std::string& archive) {
  std::vector<Member> members;
  size_t at = 0;
  auto align = [](size_t n) { return (n + 3) & ~size_t{3}; };
  while (at + 110 <= archive.size()) {
    EXPECT_EQ(archive.substr(at, 6), "070701") << "at " << at;
    if (archive.substr(at, 6) != "070701") break;
    Member m;
    m.mode = Field(archive, at, 1);
    size_t size = Field(archive, at, 6), name_size = Field(archive, at, 11);
    m.name = archive.substr(at + 110, name_size - 1);
    EXPECT_EQ(archive[at + 110 + name_size - 1], '\0');
    size_t body = align(at + 110 + name_size);
    m.body = archive.substr(body, size);
    at = align(body + size);
    if (m.name == "TRAILER!!!") {
      EXPECT_EQ(at, archive.size());
      return members;
    }
    members.push_back(m);
  }
  ADD_FAILURE() << "no trailer";
  return members;
}

TEST(SecretInitrdTest, HoldsOnlyTheSecretReadableByRoot) {
  std::string archive = SecretInitrd("00112233445566778899aabbccddeeff");
  EXPECT_EQ(archive.size() % 4, 0u);
  std::vector<Member> members = ReadNewc(archive);
  ASSERT_EQ(members.size(), 1u);
  EXPECT_EQ(members[0].name, "goldcast.secret");
  EXPECT_EQ(members[0].body, "00112233445566778899aabbccddeeff\n");
  EXPECT_EQ(members[0].mode, 0100400u);
}

TEST(SecretInitrdTest, CpioReadsIt) {
  if (std::system("command -v cpio >/dev/null 2>&1") != 0) GTEST_SKIP() << "no cpio";
  testing::TempDir dir;
  for (const std::string& name : {std::string("a"), std::string("abc"), std::string("abcd.e")}) {
    testing::WriteTestFile(dir.Sub("in.cpio"), NewcArchive(name, "xyz"));
    std::string command = "cd " + dir.path() + " && cpio -i --quiet --no-absolute-filenames " +
                          "< in.cpio 2>err && cat " + name + " > out";
    ASSERT_EQ(std::system(command.c_str()), 0) << testing::ReadTestFile(dir.Sub("err"));
    EXPECT_EQ(testing::ReadTestFile(dir.Sub("out")), "xyz");
    std::remove(dir.Sub(name).c_str());
  }
}

}  // namespace
}  // namespace gc
