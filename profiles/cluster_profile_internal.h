// Internals shared by the cluster profile's source files: cluster_profile.cc
// (the document, naming, groups, nodes, openmosix and the public helpers) and
// cluster_profile_network.cc (the network section: subnet, server, DHCP mode,
// address ranges). Not part of the API: nothing outside
// profiles/cluster_profile*.cc includes it.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include "common/status.h"
#include "profiles/cluster_profile.h"
#include "profiles/yaml_reader.h"

namespace gc::cluster_profile_internal {

inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }
inline bool IsLowerAlnum(char c) { return IsDigit(c) || (c >= 'a' && c <= 'z'); }
inline bool IsStoreNameChar(char c) {
  return IsLowerAlnum(c) || (c >= 'A' && c <= 'Z') || c == '.' || c == '_' || c == '-';
}

// Reads one profile document; each Parse* method fills one section and
// returns the first problem as FILE:LINE:COL: FIELD: message.
class Parser {
 public:
  explicit Parser(std::string file) : yaml_(std::move(file)) {}
  Result<ClusterProfile> Parse(std::string_view text);

 private:
  using Field = YamlField;
  using Section = YamlSection;
  Status Error(const Field& field, std::string_view problem) const {
    return yaml_.Error(field, problem);
  }
  Result<ClusterProfile> ParseDocument(std::string_view text);
  Result<Ipv4> Address(const Field& field);
  Result<Ipv4Range> Range(const Field& field, const NetworkSettings& net);

  Status ParseNetwork(const Field& field, NetworkSettings* net);
  Status ParseSubnet(const Field& field, NetworkSettings* net);
  Status ParseDhcp(const Field& field, NetworkSettings* net);
  Status ParseTls(const Field& field, TlsSettings* tls);
  Status ParseNaming(const Field& field, NamingSettings* naming);
  Status ParseGroups(const Field& field, ClusterProfile* profile);
  struct SeenNodes;
  Result<std::string> GroupName(const Field& field, const ClusterProfile& profile);
  Result<int> NodeIndex(const Field& field, size_t i, const ClusterProfile& profile,
                        SeenNodes* seen);
  Result<DeclaredNode> ParseNode(const Field& item, size_t i, const ClusterProfile& profile,
                                 SeenNodes* seen);
  Status CheckBootOrderNames(const ClusterProfile& profile, const SeenNodes& seen);
  Status ParseNodes(const Field& field, ClusterProfile* profile);
  Status ParseOpenMosix(const Field& field, OpenMosixSettings* settings);

  YamlReader yaml_;
};

}  // namespace gc::cluster_profile_internal
