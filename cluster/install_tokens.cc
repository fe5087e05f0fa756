#include "cluster/install_tokens.h"

#include "cluster/node_registry.h"
#include "common/hash.h"
#include "common/random.h"

namespace gc {

namespace {
// How often Issue looks for expired tokens: the map holds at most one
// token per node, so this only bounds it between sweeps.
constexpr int64_t kSweepIntervalNs = 60 * 1000000000LL;
}  // namespace

std::string InstallTokens::Issue(const std::string& node, int64_t now_ns) {
  std::string token = RandomHex(16);
  std::lock_guard<std::mutex> lock(mu_);
  DropExpired(now_ns);
  tokens_[node] = Entry{Sha256Hex(token), now_ns + kInstallTokenLifetimeNs};
  return token;
}

Status InstallTokens::Redeem(const std::string& node, std::string_view token, int64_t now_ns) {
  std::string presented = Sha256Hex(token);
  // One answer whether the node has no token or another one, so a caller
  // cannot learn which nodes are booting.
  Status refused(Code::kUnauthorized,
                 "no install token is waiting for node " + node +
                     " that matches (it was used already, the server restarted, or a newer boot "
                     "script replaced it): reboot the node for a fresh one");
  std::lock_guard<std::mutex> lock(mu_);
  auto it = tokens_.find(node);
  if (it == tokens_.end() || !SecretEquals(it->second.token_hash, presented)) return refused;
  bool expired = now_ns >= it->second.expires_ns;
  tokens_.erase(it);
  if (expired) {
    return Status(Code::kUnauthorized, "the install token of node " + node +
                                           " expired: reboot the node for a fresh one");
  }
  return Status::Ok();
}

size_t InstallTokens::outstanding() const {
  std::lock_guard<std::mutex> lock(mu_);
  return tokens_.size();
}

void InstallTokens::DropExpired(int64_t now_ns) {
  if (now_ns < next_sweep_ns_) return;
  next_sweep_ns_ = now_ns + kSweepIntervalNs;
  std::erase_if(tokens_, [&](const auto& entry) { return now_ns >= entry.second.expires_ns; });
}

}  // namespace gc
