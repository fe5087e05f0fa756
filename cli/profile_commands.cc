// `goldcast profile check FILE`: validates a cluster profile and shows what
// the server would make of it (docs/cluster-profile.md).
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>

#include "cli/cli.h"
#include "profiles/cluster_profile.h"

namespace gc {

namespace {

std::string RangeText(const Ipv4Range& range) {
  return FormatIpv4(range.first) + "-" + FormatIpv4(range.last) + " (" +
         std::to_string(range.size()) + (range.size() == 1 ? " address)" : " addresses)");
}

std::string GroupText(const NodeGroup& group) {
  std::string text = "image " + group.image;
  if (!group.kernel.empty()) text += ", kernel " + group.kernel;
  text += std::string(", ") + BootModeName(group.mode);
  if (!group.kernel_args.empty()) text += ", args \"" + group.kernel_args + "\"";
  return text;
}

// What an admin checks before powering nodes on: which names and addresses
// they will get, and which group each declared node falls into.
void PrintSummary(const ClusterProfile& profile) {
  const NetworkSettings& net = profile.network;
  const NamingSettings& naming = profile.naming;
  std::printf("profile %s is valid\n", profile.path.c_str());
  std::printf("  cluster:   %s\n", profile.cluster.c_str());
  std::printf("  network:   %s, server %s, subnet %s/%d, boot URL http://%s:%d/\n",
              net.interface.c_str(), FormatIpv4(net.server).c_str(), FormatIpv4(net.subnet).c_str(),
              net.prefix_length, FormatIpv4(net.server).c_str(), net.http_port);
  std::string first = naming.NameFor(naming.first);
  if (net.dhcp_mode == DhcpMode::kProxy) {
    std::printf("  dhcp:      proxy (another DHCP server hands out the addresses)\n");
    std::printf("  naming:    %s, %s, ... in boot order\n", first.c_str(),
                naming.NameFor(naming.first + 1).c_str());
  } else {
    std::printf("  dhcp:      authoritative, pool %s, lease %s\n", RangeText(*net.pool).c_str(),
                net.lease_time.c_str());
    uint64_t count = net.node_addresses->size();
    int last_index = naming.first + static_cast<int>(std::min<uint64_t>(count - 1, 999999));
    std::printf("  naming:    %s .. %s in boot order, at %s\n", first.c_str(),
                naming.NameFor(last_index).c_str(), RangeText(*net.node_addresses).c_str());
  }
  if (!naming.domain.empty()) {
    std::printf("  domain:    %s (%s.%s)\n", naming.domain.c_str(), first.c_str(),
                naming.domain.c_str());
  }
  std::printf("  enroll:    %s\n",
              naming.enroll == Enrollment::kManual
                  ? "manual (unknown machines wait for goldcast nodes accept)"
                  : "auto (any machine that boots is named: anyone on the boot LAN can join)");
  std::printf("  groups:    %zu\n", profile.groups.size());
  for (const auto& [name, group] : profile.groups) {
    std::printf("    %s%s: %s\n", name.c_str(), name == profile.default_group ? " (default)" : "",
                GroupText(group).c_str());
  }
  std::printf("  declared nodes: %zu\n", profile.nodes.size());
  for (const DeclaredNode& node : profile.nodes) {
    std::string name = !node.name.empty() ? node.name
                       : node.index       ? naming.NameFor(*node.index)
                                          : "(next name in boot order)";
    std::optional<Ipv4> address = node.index ? profile.AddressFor(*node.index) : std::nullopt;
    const NodeGroup& group = profile.GroupOf(node);
    std::printf("    %s  %-20s %-15s %s (%s)\n", node.mac.c_str(), name.c_str(),
                address ? FormatIpv4(*address).c_str() : "-", group.name.c_str(),
                BootModeName(group.mode));
  }
  const OpenMosixSettings& om = profile.openmosix;
  if (om.enabled) {
    std::string calibration = om.calibration.empty() ? "none" : "\"" + om.calibration + "\"";
    std::printf("  openmosix: enabled, map ranges %s, calibration %s\n",
                om.compress_ranges ? "compressed" : "one line per node", calibration.c_str());
  } else {
    std::printf("  openmosix: disabled\n");
  }
}

Status RunCheck(const std::string& file) {
  GC_ASSIGN_OR_RETURN(ClusterProfile loaded, LoadClusterProfile(file));
  PrintSummary(loaded);
  return Status::Ok();
}

void AddCheck(CLI::App* profile, CliContext* context) {
  auto file = std::make_shared<std::string>();
  auto* cmd = profile->add_subcommand(
      "check", "Validate a cluster profile and show the names, addresses and groups it gives");
  cmd->add_option("FILE", *file, "Cluster profile (YAML)")->required();
  cmd->callback([=] { context->run = [=] { return RunCheck(*file); }; });
}

}  // namespace

void AddProfileCommands(CLI::App* app, CliContext* context) {
  auto* profile = app->add_subcommand("profile", "Work with cluster profiles");
  profile->require_subcommand(1);
  AddCheck(profile, context);
}

}  // namespace gc
