// Feeds arbitrary bytes to TarReader as an archive, the way `goldcast import`
// meets an uploaded tarball: every header and every content byte is read to
// the end or to the first error. Nothing may crash, leak or read out of
// bounds; errors are fine.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/archive.h"

namespace {

// Sparse members can declare a huge size over a few bytes of archive; their
// content is all zeros the reader would hand out, which only slows fuzzing.
constexpr uint64_t kMaxContent = 64ull << 20;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto reader = gc::TarReader::OpenMemory(std::string(reinterpret_cast<const char*>(data), size));
  if (!reader.ok()) return 0;
  for (;;) {
    gc::Entry entry;
    auto more = (*reader)->Next(&entry);
    if (!more.ok() || !*more) break;
    // Whatever the archive says, names stay inside the root.
    if (!gc::ValidateRelativePath(entry.path).ok()) __builtin_trap();
    if (entry.type == gc::EntryType::kHardlink && !gc::ValidateRelativePath(entry.target).ok())
      __builtin_trap();
    if (entry.size > kMaxContent) continue;
    uint64_t received = 0;
    gc::Status s = (*reader)->ReadContent([&](std::string_view chunk) {
      received += chunk.size();
      return gc::Status::Ok();
    });
    // The reader promises exactly entry.size bytes of a file's content.
    if (s.ok() && entry.type == gc::EntryType::kFile && received != entry.size) __builtin_trap();
    if (!s.ok()) break;
  }
  return 0;
}
