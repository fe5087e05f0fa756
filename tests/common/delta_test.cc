#include "common/delta.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <random>
#include <string>

#include "common/hash.h"
#include "common/unique_fd.h"
#include "tests/testing/temp_dir.h"

namespace gc {
namespace {

using ::gc::testing::TempDir;
using ::gc::testing::WriteTestFile;

constexpr size_t kMiB = 1024 * 1024;

std::string RandomBytes(size_t size, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string out(size, '\0');
  for (size_t i = 0; i < size; i += 8) {
    uint64_t word = rng();
    for (size_t j = 0; j < 8 && i + j < size; ++j) out[i + j] = static_cast<char>(word >> (8 * j));
  }
  return out;
}

UniqueFd OpenRead(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  EXPECT_TRUE(fd.valid()) << path;
  return fd;
}

ChunkSink AppendTo(std::string* out) {
  return [out](std::string_view chunk) {
    out->append(chunk);
    return Status::Ok();
  };
}

struct RoundTrip {
  std::string signature;
  std::string delta;
  std::string patched;
};

// signature(basis) -> delta(new) -> patch(basis, delta), through real files.
RoundTrip DoRoundTrip(const TempDir& dir, const std::string& basis, const std::string& updated) {
  WriteTestFile(dir.Sub("basis"), basis);
  WriteTestFile(dir.Sub("new"), updated);
  RoundTrip trip;
  UniqueFd basis_fd = OpenRead(dir.Sub("basis"));
  Result<std::string> signature = ComputeSignature(basis_fd.get());
  EXPECT_TRUE(signature.ok()) << signature.status().message();
  if (!signature.ok()) return trip;
  trip.signature = *signature;
  UniqueFd new_fd = OpenRead(dir.Sub("new"));
  Status delta = ComputeDelta(trip.signature, new_fd.get(), AppendTo(&trip.delta));
  EXPECT_TRUE(delta.ok()) << delta.message();
  Status patch = ApplyDelta(basis_fd.get(), trip.delta, AppendTo(&trip.patched));
  EXPECT_TRUE(patch.ok()) << patch.message();
  return trip;
}

TEST(DeltaTest, SmallEditsGiveSmallDeltaAndExactPatch) {
  TempDir dir;
  const std::string basis = RandomBytes(4 * kMiB, 1);
  std::string updated = basis;
  const std::string edit = RandomBytes(100, 2);
  for (size_t offset : {size_t{10'000}, size_t{1 * kMiB + 17}, size_t{4 * kMiB - 300}}) {
    updated.replace(offset, edit.size(), edit);
  }
  updated.insert(2 * kMiB + 5, RandomBytes(1000, 3));
  updated.erase(3 * kMiB, 5000);
  ASSERT_NE(Sha256Hex(basis), Sha256Hex(updated));

  RoundTrip trip = DoRoundTrip(dir, basis, updated);
  EXPECT_LT(trip.delta.size(), updated.size() / 20) << "delta is " << trip.delta.size();
  EXPECT_GT(trip.delta.size(), 1000u);  // it must carry the inserted bytes
  EXPECT_EQ(trip.patched.size(), updated.size());
  EXPECT_EQ(Sha256Hex(trip.patched), Sha256Hex(updated));
}

TEST(DeltaTest, IdenticalContentGivesTinyDelta) {
  TempDir dir;
  const std::string basis = RandomBytes(1 * kMiB, 4);
  RoundTrip trip = DoRoundTrip(dir, basis, basis);
  EXPECT_LT(trip.delta.size(), 200u);
  EXPECT_EQ(trip.patched, basis);
}

TEST(DeltaTest, EmptyBasis) {
  TempDir dir;
  const std::string updated = RandomBytes(300'000, 5);
  RoundTrip trip = DoRoundTrip(dir, "", updated);
  EXPECT_FALSE(trip.signature.empty());  // header only, but a valid signature
  EXPECT_EQ(trip.patched, updated);
}

TEST(DeltaTest, EmptyNew) {
  TempDir dir;
  RoundTrip trip = DoRoundTrip(dir, RandomBytes(300'000, 6), "");
  EXPECT_LT(trip.delta.size(), 16u);
  EXPECT_TRUE(trip.patched.empty());
}

TEST(DeltaTest, BothEmpty) {
  TempDir dir;
  RoundTrip trip = DoRoundTrip(dir, "", "");
  EXPECT_TRUE(trip.patched.empty());
}

TEST(DeltaTest, TotallyDifferentContent) {
  TempDir dir;
  const std::string updated = RandomBytes(1 * kMiB, 8);
  RoundTrip trip = DoRoundTrip(dir, RandomBytes(1 * kMiB, 7), updated);
  EXPECT_GE(trip.delta.size(), updated.size());  // all literal
  EXPECT_EQ(Sha256Hex(trip.patched), Sha256Hex(updated));
}

TEST(DeltaTest, FdPositionDoesNotMatter) {
  TempDir dir;
  const std::string basis = RandomBytes(200'000, 9);
  std::string updated = basis;
  updated[1000] ^= 1;
  WriteTestFile(dir.Sub("basis"), basis);
  WriteTestFile(dir.Sub("new"), updated);
  UniqueFd basis_fd = OpenRead(dir.Sub("basis"));
  UniqueFd new_fd = OpenRead(dir.Sub("new"));
  ASSERT_GT(::lseek(basis_fd.get(), 0, SEEK_END), 0);
  ASSERT_GT(::lseek(new_fd.get(), 0, SEEK_END), 0);
  Result<std::string> signature = ComputeSignature(basis_fd.get());
  ASSERT_TRUE(signature.ok()) << signature.status().message();
  std::string delta;
  ASSERT_TRUE(ComputeDelta(*signature, new_fd.get(), AppendTo(&delta)).ok());
  EXPECT_LT(delta.size(), 20'000u);
  std::string patched;
  ASSERT_TRUE(ApplyDelta(basis_fd.get(), delta, AppendTo(&patched)).ok());
  EXPECT_EQ(patched, updated);
}

class DeltaCorruptionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    basis_ = RandomBytes(500'000, 10);
    std::string updated = basis_;
    updated.insert(100'000, "inserted text");
    trip_ = DoRoundTrip(dir_, basis_, updated);
    ASSERT_FALSE(trip_.delta.empty());
  }

  Status Patch(const std::string& delta) {
    UniqueFd basis_fd = OpenRead(dir_.Sub("basis"));
    std::string out;
    return ApplyDelta(basis_fd.get(), delta, AppendTo(&out));
  }

  Status Delta(const std::string& signature) {
    UniqueFd new_fd = OpenRead(dir_.Sub("new"));
    std::string out;
    return ComputeDelta(signature, new_fd.get(), AppendTo(&out));
  }

  TempDir dir_;
  std::string basis_;
  RoundTrip trip_;
};

TEST_F(DeltaCorruptionTest, BadMagic) {
  std::string delta = trip_.delta;
  delta[0] ^= 0x55;
  Status status = Patch(delta);
  EXPECT_EQ(status.code(), Code::kCorrupt) << status.message();
  EXPECT_NE(status.message().find("patch: bad magic number"), std::string::npos)
      << status.message();
}

TEST_F(DeltaCorruptionTest, TruncatedDelta) {
  for (size_t keep :
       {size_t{0}, size_t{2}, size_t{5}, trip_.delta.size() / 2, trip_.delta.size() - 1}) {
    Status status = Patch(trip_.delta.substr(0, keep));
    EXPECT_EQ(status.code(), Code::kCorrupt) << "keep " << keep << ": " << status.message();
  }
}

TEST_F(DeltaCorruptionTest, GarbageAfterHeaderNeverCrashes) {
  // Random command bytes after a valid magic: none may crash or hang, and
  // (barring a lucky END opcode) each is reported as corrupt.
  int failures = 0;
  for (uint64_t seed = 0; seed < 50; ++seed) {
    std::string delta = trip_.delta.substr(0, 4) + RandomBytes(64, 100 + seed);
    Status status = Patch(delta);
    if (!status.ok()) {
      ++failures;
      EXPECT_EQ(status.code(), Code::kCorrupt) << status.message();
    }
  }
  EXPECT_GE(failures, 45);
  // A copy command pointing far past the end of the basis.
  std::string far_copy = trip_.delta.substr(0, 4);
  far_copy += static_cast<char>(0x4f);  // RS_OP_COPY_N4_N4
  far_copy += std::string("\x7f\x00\x00\x00", 4);
  far_copy += std::string("\x00\x00\x10\x00", 4);
  far_copy += '\0';  // RS_OP_END
  Status status = Patch(far_copy);
  EXPECT_EQ(status.code(), Code::kCorrupt) << status.message();
}

TEST_F(DeltaCorruptionTest, BasisShrankSinceSignature) {
  WriteTestFile(dir_.Sub("basis"), basis_.substr(0, 1000));
  Status status = Patch(trip_.delta);
  EXPECT_EQ(status.code(), Code::kCorrupt) << status.message();
  EXPECT_NE(status.message().find("past the end of the basis"), std::string::npos)
      << status.message();
}

TEST_F(DeltaCorruptionTest, MalformedSignature) {
  Status empty = Delta("");
  EXPECT_EQ(empty.code(), Code::kCorrupt) << empty.message();
  std::string bad_magic = trip_.signature;
  bad_magic[1] ^= 0x20;
  Status magic = Delta(bad_magic);
  EXPECT_EQ(magic.code(), Code::kCorrupt) << magic.message();
  EXPECT_NE(magic.message().find("signature"), std::string::npos) << magic.message();
  Status truncated = Delta(trip_.signature.substr(0, 7));
  EXPECT_EQ(truncated.code(), Code::kCorrupt) << truncated.message();
}

TEST(DeltaTest, SinkErrorStopsTheJob) {
  TempDir dir;
  WriteTestFile(dir.Sub("new"), RandomBytes(2 * kMiB, 11));
  WriteTestFile(dir.Sub("basis"), "");
  UniqueFd basis_fd = OpenRead(dir.Sub("basis"));
  Result<std::string> signature = ComputeSignature(basis_fd.get());
  ASSERT_TRUE(signature.ok());
  UniqueFd new_fd = OpenRead(dir.Sub("new"));
  int calls = 0;
  Status status = ComputeDelta(*signature, new_fd.get(), [&calls](std::string_view) {
    ++calls;
    return Status(Code::kNoSpace, "disk full");
  });
  EXPECT_EQ(status.code(), Code::kNoSpace);
  EXPECT_EQ(calls, 1);
}

TEST(DeltaTest, BadFdIsAnError) {
  Result<std::string> signature = ComputeSignature(-1);
  EXPECT_FALSE(signature.ok());
}

TEST(DeltaTest, SixtyFourMiBFile) {
  TempDir dir;
  const std::string basis = RandomBytes(64 * kMiB, 12);
  std::string updated = basis;
  updated.replace(40 * kMiB, 4096, RandomBytes(4096, 13));
  updated.append("tail");
  RoundTrip trip = DoRoundTrip(dir, basis, updated);
  EXPECT_LT(trip.delta.size(), 100'000u);
  EXPECT_EQ(trip.patched.size(), updated.size());
  EXPECT_EQ(Sha256Hex(trip.patched), Sha256Hex(updated));
}

}  // namespace
}  // namespace gc
