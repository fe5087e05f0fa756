#include "common/hash.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <memory>

#include "common/unique_fd.h"

namespace gc {

struct Sha256::Impl {
  EVP_MD_CTX* ctx = nullptr;
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {
  impl_->ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(impl_->ctx, EVP_sha256(), nullptr);
}

Sha256::~Sha256() { EVP_MD_CTX_free(impl_->ctx); }

void Sha256::Update(std::string_view data) {
  EVP_DigestUpdate(impl_->ctx, data.data(), data.size());
}

std::string Sha256::FinishHex() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(impl_->ctx, digest, &length);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(digest), length));
}

std::string Sha256Hex(std::string_view data) {
  Sha256 hasher;
  hasher.Update(data);
  return hasher.FinishHex();
}

Result<std::string> Sha256Fd(int fd) {
  Sha256 hasher;
  // One buffer per thread: allocating (and zeroing) a fresh one per file
  // cost more than hashing small files.
  constexpr size_t kBufferSize = 256 << 10;
  thread_local auto buffer = std::make_unique_for_overwrite<char[]>(kBufferSize);
  for (;;) {
    ssize_t n = ::read(fd, buffer.get(), kBufferSize);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("read");
    }
    if (n == 0) break;
    hasher.Update(std::string_view(buffer.get(), static_cast<size_t>(n)));
  }
  return hasher.FinishHex();
}

Result<std::string> Sha256File(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) return ErrnoError(path);
  auto result = Sha256Fd(fd.get());
  if (!result.ok()) return result.status().WithContext(path);
  return result;
}

bool IsValidHashHex(std::string_view hex) {
  // A table, not comparisons: manifests check this for every file, often twice.
  static const auto kLowerHex = [] {
    std::array<bool, 256> table{};
    for (char c : std::string_view("0123456789abcdef")) table[static_cast<unsigned char>(c)] = true;
    return table;
  }();
  if (hex.size() != kHashHexLength) return false;
  bool valid = true;
  for (char c : hex) valid &= kLowerHex[static_cast<unsigned char>(c)];
  return valid;
}

std::string HexEncode(std::string_view bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0xf]);
  }
  return out;
}

static int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool HexDecode(std::string_view hex, std::string* out) {
  if (hex.size() % 2 != 0) return false;
  out->clear();
  out->reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = HexValue(hex[i]);
    int lo = HexValue(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>((hi << 4) | lo));
  }
  return true;
}

}  // namespace gc
