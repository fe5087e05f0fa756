// Fuzzes the librsync wrappers (common/delta.h) in both directions the
// network reaches: a golden client's capture service computes a delta
// against the signature getimage POSTs (ComputeDelta), and getimage
// applies the delta the golden client answers to its basis (ApplyDelta).
// The first input byte picks the direction (even: the input is a
// signature; odd: a delta); the files are fixed, as in the seeds
// tests/fuzz/corpus/delta_fuzz/ (made from the same content). Never crash,
// hang or throw; invariants:
// - a delta computed against any accepted signature covers the new file
//   exactly: applied to the basis, it yields the new file's length (its
//   copies may name other blocks), and with the basis's own signature, the
//   new file itself;
// - applying a hostile delta writes at most what its commands can name:
//   literals are bounded by the delta, copies by the basis, so output stays
//   under (delta bytes + 1) x basis bytes + delta bytes;
// - errors are Status values.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/delta.h"

namespace {

[[noreturn]] void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "delta_fuzz: %s\n%s\n", what, detail.c_str());
  std::abort();
}

std::string Basis() {
  std::string basis;
  for (int i = 0; i < 300; ++i)
    basis += "line " + std::to_string(i) + " of the golden client's file\n";
  return basis;
}

int MemFd(const std::string& content) {
  int fd = ::memfd_create("delta_fuzz", MFD_CLOEXEC);
  if (fd < 0 ||
      ::write(fd, content.data(), content.size()) != static_cast<ssize_t>(content.size())) {
    Fail("memfd", "");
  }
  return fd;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const std::string basis = Basis();
  static const std::string changed = [] {
    std::string text = Basis();
    text.replace(2000, 40, "a change made on the golden client......");
    return text;
  }();
  static const int basis_fd = MemFd(basis);
  static const int changed_fd = MemFd(changed);
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  uint64_t out = 0;
  const uint64_t limit = (input.size() + 1) * basis.size() + input.size();
  auto count = [&](std::string_view chunk) {
    out += chunk.size();
    if (out > limit) Fail("delta output beyond what its commands can name", std::to_string(out));
    return gc::Status::Ok();
  };
  if (data[0] % 2 == 0) {
    // A signature from the network: delta the changed file against it.
    std::string delta;
    gc::Status made = gc::ComputeDelta(input, changed_fd, [&](std::string_view chunk) {
      delta.append(chunk);
      return gc::Status::Ok();
    });
    if (!made.ok()) return 0;
    if (delta.size() > 2 * changed.size() + 1024) Fail("delta larger than the file", "");
    std::string rebuilt;
    gc::Status applied = gc::ApplyDelta(basis_fd, delta, [&](std::string_view chunk) {
      rebuilt.append(chunk);
      return gc::Status::Ok();
    });
    if (!applied.ok()) return 0;
    if (rebuilt.size() != changed.size()) Fail("delta does not cover the new file", "");
    static const std::string own = *gc::ComputeSignature(basis_fd);
    if (input == own && rebuilt != changed)
      Fail("the basis's own signature rebuilt another file", "");
    return 0;
  }
  // A delta from the network: apply it to the basis.
  (void)gc::ApplyDelta(basis_fd, input, count);
  return 0;
}
