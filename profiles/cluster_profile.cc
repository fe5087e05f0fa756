// The cluster profile loader: the document's top level, naming, groups,
// declared nodes and openmosix sections, and the public helpers (node names
// and addresses). The network section is read in cluster_profile_network.cc;
// MACs, addresses and modes are parsed by profiles/vocabulary.h.
#include "profiles/cluster_profile.h"
#include "common/text.h"

#include <algorithm>

#include "common/env.h"
#include "profiles/cluster_profile_internal.h"
#include "profiles/yaml_reader.h"

namespace gc {

namespace cluster_profile_internal {

namespace {

constexpr int kMaxIndex = 999999;  // keeps index arithmetic far from int overflow
constexpr size_t kMaxProfileBytes = 1 << 20;
constexpr size_t kMaxKernelArgs = 1024;

// A DNS label as hostnames use it: lowercase so that names compare exactly
// (DNS itself ignores case, so "Mosix1" and "mosix1" would be one host).
bool IsLabel(std::string_view text, size_t max = 63) {
  return !text.empty() && text.size() <= max &&
         std::all_of(text.begin(), text.end(),
                     [](char c) { return IsLowerAlnum(c) || c == '-'; }) &&
         text.front() != '-' && text.back() != '-';
}

bool HasControl(std::string_view text) {
  return std::any_of(text.begin(), text.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

// Mirrors ParseImageSpec (imager/store.h), which profiles/ must not depend on:
// "name", "name@N" with N >= 1, or "name:tag" where the tag is not a number.
std::optional<std::string> ImageSpecProblem(std::string_view spec, bool allow_tag) {
  auto valid_name = [](std::string_view name) {
    return !name.empty() && name.size() <= 64 && IsStoreNameChar(name[0]) && name[0] != '.' &&
           name[0] != '_' && name[0] != '-' &&
           std::all_of(name.begin(), name.end(), IsStoreNameChar);
  };
  size_t at = spec.find('@');
  size_t colon = allow_tag ? spec.find(':') : std::string_view::npos;
  std::string_view name = spec.substr(0, std::min(at, colon));
  if (!valid_name(name)) {
    return QuoteValue(spec) +
           " is not a valid name (expected 1 to 64 letters, digits, '.', '_' or " +
           "'-' starting with a letter or digit" + (allow_tag ? ", then @N or :TAG" : ", then @N") +
           ")";
  }
  if (at != std::string_view::npos && at < colon) {
    int64_t version = 0;
    if (!ParsePlainDecimal(spec.substr(at + 1), &version) || version == 0) {
      return QuoteValue(spec) + ": the version after '@' must be a positive number (e.g. " +
             std::string(name) + "@2)";
    }
  } else if (colon != std::string_view::npos) {
    std::string_view tag = spec.substr(colon + 1);
    int64_t ignored;
    if (!valid_name(tag) || ParsePlainDecimal(tag, &ignored)) {
      return QuoteValue(spec) +
             ": the tag after ':' must be letters, digits, '.', '_' or '-' and not a number "
             "(e.g. " +
             std::string(name) + ":stable)";
    }
  }
  return std::nullopt;
}

}  // namespace

Status Parser::ParseNaming(const Field& field, NamingSettings* naming) {
  GC_ASSIGN_OR_RETURN(Section s,
                      yaml_.Map(field, {"prefix", "first", "width", "domain", "enroll"}));
  GC_ASSIGN_OR_RETURN(const Field* f,
                      yaml_.Require(s, "prefix", "the start of every node name, e.g. mosix"));
  GC_ASSIGN_OR_RETURN(naming->prefix, yaml_.Text(*f, "a name prefix like mosix"));
  const std::string& prefix = naming->prefix;
  if (prefix.empty() || prefix.size() > 56 || !(prefix[0] >= 'a' && prefix[0] <= 'z') ||
      !std::all_of(prefix.begin(), prefix.end(),
                   [](char c) { return IsLowerAlnum(c) || c == '-'; })) {
    return Error(*f, QuoteValue(prefix) +
                         " is not a name prefix (expected 1 to 56 lowercase letters, digits or "
                         "'-', starting with a letter)");
  }
  if ((f = s.Get("first"))) {
    GC_ASSIGN_OR_RETURN(naming->first, yaml_.Number(*f, 0, kMaxIndex));
  }
  if ((f = s.Get("width"))) {
    GC_ASSIGN_OR_RETURN(naming->width, yaml_.Number(*f, 0, 6));
  }
  if ((f = s.Get("enroll"))) {
    GC_ASSIGN_OR_RETURN(std::string enroll, yaml_.Text(*f, "manual or auto"));
    auto parsed = ParseEnrollment(enroll);
    if (!parsed.ok()) return Error(*f, parsed.status().message());
    naming->enroll = *parsed;
  }
  if ((f = s.Get("domain"))) {
    GC_ASSIGN_OR_RETURN(naming->domain, yaml_.Text(*f, "a DNS domain like cluster.local"));
    std::string_view rest = naming->domain;
    bool ok = !rest.empty() && rest.size() <= 189;  // a full name stays within 253
    while (ok && !rest.empty()) {
      size_t dot = rest.find('.');
      ok = IsLabel(rest.substr(0, dot));
      rest = dot == std::string_view::npos ? std::string_view() : rest.substr(dot + 1);
      if (dot != std::string_view::npos && rest.empty()) ok = false;  // trailing dot
    }
    if (!ok) {
      return Error(*f, QuoteValue(naming->domain) +
                           " is not a domain (expected lowercase labels of letters, digits and "
                           "'-' separated by dots, like cluster.local)");
    }
  }
  return Status::Ok();
}

Status Parser::ParseGroups(const Field& field, ClusterProfile* profile) {
  GC_ASSIGN_OR_RETURN(std::vector<Field> entries, yaml_.Entries(field, "groups (name: settings)"));
  if (entries.empty()) {
    return Error(field, "expected at least one group (e.g. compute: {image: compute})");
  }
  for (const Field& entry : entries) {
    NodeGroup group;
    group.name = entry.key.Scalar();
    std::string dashed = group.name;  // '_' is fine in a group name, not in a host name
    std::replace(dashed.begin(), dashed.end(), '_', '-');
    if (!IsLabel(dashed, 32)) {
      return yaml_.At(
          entry.key.Mark(), entry.path,
          QuoteValue(group.name) +
              " is not a group name (expected 1 to 32 lowercase letters, digits, '-' or "
              "'_', starting and ending with a letter or digit)");
    }
    GC_ASSIGN_OR_RETURN(Section s, yaml_.Map(entry, {"image", "kernel", "mode", "kernel_args"}));
    GC_ASSIGN_OR_RETURN(
        const Field* f,
        yaml_.Require(s, "image", "the image its nodes run: name, name@N or name:tag"));
    GC_ASSIGN_OR_RETURN(group.image,
                        yaml_.Text(*f, "an image like compute, compute@2 or compute:stable"));
    if (auto problem = ImageSpecProblem(group.image, /*allow_tag=*/true)) {
      return Error(*f, *problem);
    }
    if ((f = s.Get("kernel"))) {
      GC_ASSIGN_OR_RETURN(group.kernel, yaml_.Text(*f, "a kernel like openmosix or openmosix@2"));
      if (auto problem = ImageSpecProblem(group.kernel, /*allow_tag=*/false)) {
        return Error(*f, *problem);
      }
    }
    if ((f = s.Get("mode"))) {
      GC_ASSIGN_OR_RETURN(std::string mode, yaml_.Text(*f, "install, diskless or local"));
      auto parsed = ParseBootMode(mode);
      if (!parsed.ok()) return Error(*f, parsed.status().message());
      group.mode = *parsed;
    }
    if ((f = s.Get("kernel_args"))) {
      GC_ASSIGN_OR_RETURN(group.kernel_args, yaml_.Text(*f, "kernel arguments like \"quiet\""));
      if (HasControl(group.kernel_args) || group.kernel_args.size() > kMaxKernelArgs) {
        return Error(*f, "expected one line of at most " + std::to_string(kMaxKernelArgs) +
                             " characters without control characters, got " +
                             QuoteValue(group.kernel_args));
      }
    }
    profile->groups.emplace(group.name, std::move(group));
  }
  return Status::Ok();
}

// What the nodes[] entries parsed so far declared, to refuse a second of each.
struct Parser::SeenNodes {
  std::map<std::string, size_t> by_mac, by_name;
  std::map<int, size_t> by_index;
  std::vector<Field> name_fields;  // nodes[i].name, for messages
};

// The name of one of the profile's groups.
Result<std::string> Parser::GroupName(const Field& field, const ClusterProfile& profile) {
  GC_ASSIGN_OR_RETURN(std::string name, yaml_.Text(field, "a group name"));
  if (!profile.groups.count(name)) {
    std::vector<std::string> names;
    for (const auto& [group_name, group] : profile.groups) names.push_back(group_name);
    return Error(field, QuoteValue(name) + " is not a group of this profile (expected one of " +
                            JoinStrings(names, ", ") + ")");
  }
  return name;
}

Result<int> Parser::NodeIndex(const Field& field, size_t i, const ClusterProfile& profile,
                              SeenNodes* seen) {
  const NamingSettings& naming = profile.naming;
  GC_ASSIGN_OR_RETURN(int index, yaml_.Number(field, naming.first, kMaxIndex));
  if (auto [it, fresh] = seen->by_index.emplace(index, i); !fresh) {
    return Error(field, "index " + std::to_string(index) + " is already declared by nodes[" +
                            std::to_string(it->second) + "] (expected each index once)");
  }
  const NetworkSettings& net = profile.network;
  if (net.dhcp_mode == DhcpMode::kAuthoritative && net.node_addresses &&
      !profile.AddressFor(index)) {
    int last = naming.first + static_cast<int>(std::min<uint64_t>(net.node_addresses->size() - 1,
                                                                  uint64_t{kMaxIndex}));
    return Error(field, "index " + std::to_string(index) +
                            " has no address in network.node_addresses " +
                            FormatIpv4Range(*net.node_addresses) + " (expected " +
                            std::to_string(naming.first) + " to " + std::to_string(last) +
                            ", or widen node_addresses)");
  }
  return index;
}

Result<DeclaredNode> Parser::ParseNode(const Field& item, size_t i, const ClusterProfile& profile,
                                       SeenNodes* seen) {
  GC_ASSIGN_OR_RETURN(Section s, yaml_.Map(item, {"mac", "index", "name", "group"}));
  DeclaredNode node;
  GC_ASSIGN_OR_RETURN(const Field* f, yaml_.Require(s, "mac", "the node's MAC address"));
  GC_ASSIGN_OR_RETURN(std::string mac, yaml_.Text(*f, "a MAC address like 52:54:00:12:34:01"));
  auto normal = NormalizeMac(mac);
  if (!normal.ok()) return Error(*f, normal.status().message());
  node.mac = *normal;
  if (auto [it, fresh] = seen->by_mac.emplace(node.mac, i); !fresh) {
    return Error(*f, node.mac + " is already declared by nodes[" + std::to_string(it->second) +
                         "] (expected each MAC once)");
  }
  if ((f = s.Get("index"))) {
    GC_ASSIGN_OR_RETURN(node.index, NodeIndex(*f, i, profile, seen));
  }
  if ((f = s.Get("name"))) {
    GC_ASSIGN_OR_RETURN(node.name, yaml_.Text(*f, "a host name like head"));
    if (!IsLabel(node.name)) {
      return Error(*f, QuoteValue(node.name) +
                           " is not a host name (expected 1 to 63 lowercase letters, digits or "
                           "'-', not starting or ending with '-')");
    }
    if (auto [it, fresh] = seen->by_name.emplace(node.name, i); !fresh) {
      return Error(*f, QuoteValue(node.name) + " is already declared by nodes[" +
                           std::to_string(it->second) + "] (expected each name once)");
    }
    seen->name_fields[i] = *f;
  }
  if ((f = s.Get("group"))) {
    GC_ASSIGN_OR_RETURN(node.group, GroupName(*f, profile));
  }
  return node;
}

// An explicit name must not be one that boot-order naming hands out to
// another index: two machines would answer to one name.
Status Parser::CheckBootOrderNames(const ClusterProfile& profile, const SeenNodes& seen) {
  const NamingSettings& naming = profile.naming;
  for (size_t i = 0; i < profile.nodes.size(); ++i) {
    const DeclaredNode& node = profile.nodes[i];
    const std::string& name = node.name;
    if (name.empty() || name.size() <= naming.prefix.size() ||
        name.compare(0, naming.prefix.size(), naming.prefix) != 0) {
      continue;
    }
    std::string_view digits = std::string_view(name).substr(naming.prefix.size());
    if (digits.size() > 9 || !std::all_of(digits.begin(), digits.end(), IsDigit)) continue;
    int64_t index = 0;
    for (char c : digits) index = index * 10 + (c - '0');
    // NameFor is the judge: with width 3, "mosix7" is not index 7's name.
    if (index < naming.first || index > kMaxIndex ||
        naming.NameFor(static_cast<int>(index)) != name || node.index == index) {
      continue;
    }
    auto owner = seen.by_index.find(static_cast<int>(index));
    std::string problem =
        QuoteValue(name) + " is the boot-order name of index " + std::to_string(index);
    if (owner != seen.by_index.end()) {
      problem += ", which nodes[" + std::to_string(owner->second) + "] declares";
    } else {
      problem += ": the node that boots into that index would be named the same";
    }
    return Error(seen.name_fields[i], problem + " (give this node index: " + std::to_string(index) +
                                          " instead, or a name that is "
                                          "not " +
                                          naming.prefix + " followed by a number)");
  }
  return Status::Ok();
}

Status Parser::ParseNodes(const Field& field, ClusterProfile* profile) {
  if (field.value.IsNull()) return Status::Ok();  // "nodes:" with nothing: none declared
  GC_ASSIGN_OR_RETURN(std::vector<Field> items, yaml_.Items(field, "nodes (- mac: ...)"));
  SeenNodes seen;
  seen.name_fields.resize(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    GC_ASSIGN_OR_RETURN(DeclaredNode node, ParseNode(items[i], i, *profile, &seen));
    profile->nodes.push_back(std::move(node));
  }
  return CheckBootOrderNames(*profile, seen);
}

Status Parser::ParseTls(const Field& field, TlsSettings* tls) {
  GC_ASSIGN_OR_RETURN(Section s, yaml_.Map(field, {"cert", "key"}));
  for (auto [key, out] : {std::pair{"cert", &tls->cert}, std::pair{"key", &tls->key}}) {
    GC_ASSIGN_OR_RETURN(const Field* f,
                        yaml_.Require(s, key,
                                      "the server's PEM certificate and key, both (or leave out "
                                      "tls: serve then makes a self-signed pair)"));
    GC_ASSIGN_OR_RETURN(*out, yaml_.Text(*f, "an absolute path to a PEM file"));
    if (out->empty() || out->front() != '/' || HasControl(*out)) {
      return Error(*f, QuoteValue(*out) + " is not an absolute path (e.g. /etc/goldcast/tls.crt)");
    }
  }
  return Status::Ok();
}

Status Parser::ParseOpenMosix(const Field& field, OpenMosixSettings* settings) {
  GC_ASSIGN_OR_RETURN(Section s, yaml_.Map(field, {"enabled", "compress_ranges", "calibration"}));
  settings->enabled = true;  // writing the section means wanting it, unless it says otherwise
  const Field* f;
  if ((f = s.Get("enabled"))) {
    GC_ASSIGN_OR_RETURN(settings->enabled, yaml_.Bool(*f));
  }
  if ((f = s.Get("compress_ranges"))) {
    GC_ASSIGN_OR_RETURN(settings->compress_ranges, yaml_.Bool(*f));
  }
  if ((f = s.Get("calibration"))) {
    GC_ASSIGN_OR_RETURN(settings->calibration,
                        yaml_.Text(*f, "a calibration command like \"mosctl setyard P/133\""));
    if (HasControl(settings->calibration) || settings->calibration.size() > 256) {
      return Error(*f, "expected one line of at most 256 characters, got " +
                           QuoteValue(settings->calibration));
    }
  }
  return Status::Ok();
}

Result<ClusterProfile> Parser::Parse(std::string_view text) {
  return yaml_.Guard<ClusterProfile>("profile", [&] { return ParseDocument(text); });
}

Result<ClusterProfile> Parser::ParseDocument(std::string_view text) {
  GC_ASSIGN_OR_RETURN(Section s,
                      yaml_.LoadDocument(text, kMaxProfileBytes,
                                         "a cluster profile: a map with cluster, "
                                         "network, naming and groups, see "
                                         "profiles/examples/",
                                         {"cluster", "network", "naming", "groups", "default_group",
                                          "nodes", "openmosix", "tls"}));
  ClusterProfile profile;
  profile.path = yaml_.file();
  GC_ASSIGN_OR_RETURN(const Field* f,
                      yaml_.Require(s, "cluster", "the cluster's name, e.g. mosix-lab"));
  GC_ASSIGN_OR_RETURN(profile.cluster, yaml_.Text(*f, "a name like mosix-lab"));
  if (!IsLabel(profile.cluster)) {
    return Error(*f, QuoteValue(profile.cluster) +
                         " is not a cluster name (expected 1 to 63 lowercase letters, digits or "
                         "'-', not starting or ending with '-')");
  }
  GC_ASSIGN_OR_RETURN(f, yaml_.Require(s, "network", "interface, server, subnet and dhcp"));
  GC_RETURN_IF_ERROR(ParseNetwork(*f, &profile.network));
  if ((f = s.Get("tls"))) GC_RETURN_IF_ERROR(ParseTls(*f, &profile.tls.emplace()));
  GC_ASSIGN_OR_RETURN(f, yaml_.Require(s, "naming", "at least prefix, e.g. prefix: mosix"));
  GC_RETURN_IF_ERROR(ParseNaming(*f, &profile.naming));
  GC_ASSIGN_OR_RETURN(f, yaml_.Require(s, "groups", "at least one group with an image"));
  const Field* groups = f;
  GC_RETURN_IF_ERROR(ParseGroups(*f, &profile));
  if ((f = s.Get("default_group"))) {
    GC_ASSIGN_OR_RETURN(profile.default_group, GroupName(*f, profile));
  } else if (profile.groups.size() == 1) {
    profile.default_group = profile.groups.begin()->first;
  } else {
    std::vector<std::string> names;
    for (const auto& [name, group] : profile.groups) names.push_back(name);
    return yaml_.At(groups->key.Mark(), "default_group",
                    "missing (required when there is more than one group: one of " +
                        JoinStrings(names, ", ") + ")");
  }
  if ((f = s.Get("nodes"))) GC_RETURN_IF_ERROR(ParseNodes(*f, &profile));
  if ((f = s.Get("openmosix"))) GC_RETURN_IF_ERROR(ParseOpenMosix(*f, &profile.openmosix));
  return profile;
}

}  // namespace cluster_profile_internal

std::string NamingSettings::NameFor(int index) const {
  std::string digits = std::to_string(index);
  if (index >= 0 && static_cast<int>(digits.size()) < width) {
    digits.insert(0, static_cast<size_t>(width) - digits.size(), '0');
  }
  return prefix + digits;
}

const NodeGroup& ClusterProfile::GroupOf(const DeclaredNode& node) const {
  auto it = groups.find(node.group.empty() ? default_group : node.group);
  if (it == groups.end()) it = groups.find(default_group);
  if (it == groups.end()) it = groups.begin();
  static const NodeGroup kNone;  // only for a profile that did not come from the loader
  return it == groups.end() ? kNone : it->second;
}

std::optional<Ipv4> ClusterProfile::AddressFor(int index) const {
  if (network.dhcp_mode != DhcpMode::kAuthoritative || !network.node_addresses) {
    return std::nullopt;
  }
  int64_t offset = int64_t{index} - naming.first;
  if (offset < 0 || static_cast<uint64_t>(offset) >= network.node_addresses->size()) {
    return std::nullopt;
  }
  return network.node_addresses->first + static_cast<Ipv4>(offset);
}

Result<ClusterProfile> ParseClusterProfile(std::string_view yaml, std::string_view file_name) {
  cluster_profile_internal::Parser parser{std::string(file_name)};
  return parser.Parse(yaml);
}

Result<ClusterProfile> LoadClusterProfile(const std::string& path) {
  auto text = Env::Default()->ReadFile(path);
  if (!text.ok()) {
    return Status(text.status().code(),
                  "cannot read cluster profile " + path + ": " + text.status().message());
  }
  return ParseClusterProfile(*text, path);
}

}  // namespace gc
