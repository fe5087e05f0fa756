// SHA-256, the one content hash of goldcast (objects, manifests, artifacts).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace gc {

constexpr size_t kHashHexLength = 64;

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(std::string_view data);
  // Lowercase hex digest; the hasher must not be used afterwards.
  std::string FinishHex();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::string Sha256Hex(std::string_view data);

// Hashes a whole file by path, reading it in large blocks.
Result<std::string> Sha256File(const std::string& path);
Result<std::string> Sha256Fd(int fd);

// True for exactly 64 lowercase hex digits.
bool IsValidHashHex(std::string_view hex);

std::string HexEncode(std::string_view bytes);
// Returns false on odd length or a non-hex digit.
bool HexDecode(std::string_view hex, std::string* out);

}  // namespace gc
