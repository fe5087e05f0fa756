// InstallTokens: the one-time tokens a boot script carries instead of the
// node's secret. Anyone on the boot LAN can ask for any MAC's boot script,
// so what it carries must be worth little: a token is bound to one node,
// lives kInstallTokenLifetimeNs, and is exchanged once (POST
// /v1/node/redeem) for the node's long-term secret; the same token again
// is refused. A node that booted but lost its token (a server restart, a
// replay by someone else) reboots and gets a fresh one with its next boot
// script: so tokens live only in serve's memory, and a boot storm writes
// nothing to disk for them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "common/status.h"

namespace gc {

// Long enough for the slowest firmware to fetch the installer's kernel and
// initramfs and start its agent, short enough that a token copied from a
// boot script is soon worthless.
constexpr int64_t kInstallTokenLifetimeNs = 15 * 60 * 1000000000LL;

class InstallTokens {
 public:
  // A fresh token for `node`, replacing any earlier one not yet redeemed
  // (only the latest boot script's token counts).
  std::string Issue(const std::string& node, int64_t now_ns);

  // Takes the node's token if `token` is it and it has not expired; every
  // other case is kUnauthorized saying what to do. A token is taken once.
  Status Redeem(const std::string& node, std::string_view token, int64_t now_ns);

  // Tokens waiting to be redeemed (expired ones are dropped by Issue).
  size_t outstanding() const;

 private:
  struct Entry {
    std::string token_hash;  // SHA-256 of the token: memory dumps show no live token
    int64_t expires_ns = 0;
  };
  void DropExpired(int64_t now_ns);

  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> tokens_;  // by node name
  int64_t next_sweep_ns_ = 0;
};

}  // namespace gc
