// NodeRegistry: boot-order naming, the profile's declared nodes and the
// admin's edits. SQLite plumbing is in node_registry_db.cc, what nodes
// report in node_registry_reports.cc.
#include "cluster/node_registry.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <set>
#include <utility>

#include "cluster/node_registry_internal.h"
#include "common/log.h"

namespace gc {

namespace {

constexpr NodeState kAllStates[] = {NodeState::kNew,       NodeState::kInstalling,
                                    NodeState::kInstalled, NodeState::kDiskless,
                                    NodeState::kUpdating,  NodeState::kFailed};

}  // namespace

namespace registry_internal {

namespace {

bool IsHostLabel(std::string_view name) {
  if (name.empty() || name.size() > 63 || name.front() == '-' || name.back() == '-') return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

}  // namespace

Result<Node> SqliteNodeRegistry::NewNode(const std::string& mac, int index,
                                         const std::string& name) {
  Node node;
  node.index = index;
  node.name = name;
  node.mac = mac;
  node.group = profile_.default_group;
  node.mode = GroupMode(node.group);
  node.install_secret = NewSecret();
  GC_ASSIGN_OR_RETURN(node.ip, FixedAddress(index, name));
  return node;
}

Result<std::pair<int, std::string>> SqliteNodeRegistry::FreeIndex(
    const std::set<int>& indices, const std::set<std::string>& names, int64_t from) const {
  for (int64_t index = std::max<int64_t>(from, profile_.naming.first); index <= INT32_MAX;
       ++index) {
    if (indices.count(static_cast<int>(index))) continue;
    // A declared node may carry this index's boot-order name explicitly.
    std::string name = profile_.naming.NameFor(static_cast<int>(index));
    if (!names.count(name)) return std::make_pair(static_cast<int>(index), name);
  }
  return Internal("registry " + path_ + ": no free node index left");
}

Result<std::string> SqliteNodeRegistry::FixedAddress(int index, const std::string& name) const {
  const NetworkSettings& net = profile_.network;
  if (net.dhcp_mode != DhcpMode::kAuthoritative) return std::string();
  if (std::optional<Ipv4> address = profile_.AddressFor(index)) return FormatIpv4(*address);
  if (!net.node_addresses) {
    return InvalidArgument("no address for node " + name + ": " + profile_.path +
                           " has no network.node_addresses (add it)");
  }
  std::string range =
      FormatIpv4(net.node_addresses->first) + "-" + FormatIpv4(net.node_addresses->last);
  return Status(Code::kNoSpace, "no address left for node " + name + " (index " +
                                    std::to_string(index) + "): node_addresses " + range +
                                    " is full (enlarge it in " + profile_.path + ")");
}

BootMode SqliteNodeRegistry::GroupMode(const std::string& group) const {
  auto it = profile_.groups.find(group);
  return it == profile_.groups.end() ? BootMode::kInstall : it->second.mode;
}

Status SqliteNodeRegistry::CheckGroups(const std::vector<Node>& nodes) const {
  std::map<std::string, std::string> users;  // missing group -> node names
  for (const Node& node : nodes) {
    if (profile_.groups.count(node.group)) continue;
    std::string& list = users[node.group];
    list += (list.empty() ? "" : ", ") + node.name;
  }
  if (users.empty()) return Status::Ok();
  std::string message =
      "registry " + path_ + ": nodes use groups that " + profile_.path + " no longer has:";
  for (const auto& [group, names] : users) message += " group '" + group + "' (" + names + ");";
  return InvalidArgument(message +
                         " add the groups back (to drop a group, first move its nodes with "
                         "`goldcast nodes set NAME --group G`)");
}

// The registry as ApplyProfile found it, indexed for its steps. The maps
// point into `nodes`, so it is never copied.
struct SqliteNodeRegistry::Rows {
  std::vector<Node> nodes;
  std::map<std::string, const Node*> by_mac;
  std::set<std::string> declared_macs;  // of the profile's declared nodes
  // What the rest of the registry holds: declared nodes must fit around it.
  std::map<int, const Node*> other_index;
  std::map<std::string, const Node*> other_name;

  Rows(std::vector<Node> all, const std::vector<DeclaredNode>& declared) : nodes(std::move(all)) {
    for (const Node& node : nodes) by_mac[node.mac] = &node;
    for (const DeclaredNode& d : declared) declared_macs.insert(d.mac);
    for (const Node& node : nodes) {
      if (declared_macs.count(node.mac)) continue;
      other_index[node.index] = &node;
      other_name[node.name] = &node;
    }
  }
  Rows(const Rows&) = delete;
  Rows& operator=(const Rows&) = delete;

  const Node* Known(const std::string& mac) const {
    auto it = by_mac.find(mac);
    return it == by_mac.end() ? nullptr : it->second;
  }
};

// Pass 1: the declared node's index is known (declared, or already
// registered); pass 2: the others take the lowest free index.
Result<std::vector<Node>> SqliteNodeRegistry::PlaceDeclared(const Rows& rows) const {
  const size_t count = profile_.nodes.size();
  std::vector<Node> wanted(count);
  std::vector<bool> placed(count, false);
  for (size_t i = 0; i < count; ++i) {
    const DeclaredNode& d = profile_.nodes[i];
    const Node* known = rows.Known(d.mac);
    Node& w = wanted[i];
    if (known) {
      w = *known;
    } else {
      w.mac = d.mac;
      w.install_secret = NewSecret();
    }
    w.declared = true;
    w.group = d.group.empty() ? profile_.default_group : d.group;
    // An admin's `nodes set --mode` survives unless the group changes.
    w.mode = known && known->group == w.group ? known->mode : GroupMode(w.group);
    if (!d.index && !known) continue;
    w.index = d.index ? *d.index : known->index;
    w.name = !d.name.empty() ? d.name : d.index ? profile_.naming.NameFor(*d.index) : known->name;
    placed[i] = true;
  }
  std::set<int> indices;
  std::set<std::string> names;
  for (const auto& [index, node] : rows.other_index) indices.insert(index);
  for (const auto& [name, node] : rows.other_name) names.insert(name);
  for (size_t i = 0; i < count; ++i) {
    if (!placed[i]) continue;
    indices.insert(wanted[i].index);
    names.insert(wanted[i].name);
  }
  for (size_t i = 0; i < count; ++i) {
    if (placed[i]) continue;
    GC_ASSIGN_OR_RETURN(auto free, FreeIndex(indices, names));
    wanted[i].index = free.first;
    wanted[i].name = profile_.nodes[i].name.empty() ? free.second : profile_.nodes[i].name;
    indices.insert(wanted[i].index);
    names.insert(wanted[i].name);
  }
  return wanted;
}

// Each declared node's index and name must be its own (not another
// node's, declared or not); then it gets its fixed address.
Status SqliteNodeRegistry::CheckDeclared(const Rows& rows, std::vector<Node>* wanted) const {
  const bool authoritative = profile_.network.dhcp_mode == DhcpMode::kAuthoritative;
  std::map<int, const Node*> seen_index;
  std::map<std::string, const Node*> seen_name;
  for (Node& w : *wanted) {
    std::string what = "declared node " + w.mac + " (" + w.name + ", index " +
                       std::to_string(w.index) + ") in " + profile_.path;
    auto clash = [&](const std::string& held, const Node& holder) {
      return InvalidArgument(what + ": its " + held + " is held by " +
                             (holder.declared ? "node " : "registered node ") + holder.name +
                             " (MAC " + holder.mac + ") in registry " + path_ +
                             "; remove that node (`goldcast nodes rm " + holder.name +
                             "`) or change the declaration");
    };
    if (auto it = rows.other_index.find(w.index); it != rows.other_index.end()) {
      return clash("index " + std::to_string(w.index), *it->second);
    }
    if (auto it = rows.other_name.find(w.name); it != rows.other_name.end()) {
      return clash("name " + w.name, *it->second);
    }
    if (auto [it, fresh] = seen_index.emplace(w.index, &w); !fresh) {
      return clash("index " + std::to_string(w.index), *it->second);
    }
    if (auto [it, fresh] = seen_name.emplace(w.name, &w); !fresh) {
      return clash("name " + w.name, *it->second);
    }
    if (authoritative) {
      GC_ASSIGN_OR_RETURN(w.ip, FixedAddress(w.index, w.name));
    }
  }
  return Status::Ok();
}

// Only what changed is written (opening for `goldcast nodes list` must not
// bump the generation); all old rows go before the new ones come so
// swapped indices or names never collide half-way.
Status SqliteNodeRegistry::WriteDeclared(const Rows& rows, const std::vector<Node>& wanted) {
  std::vector<const Node*> inserts;
  for (const Node& w : wanted) {
    const Node* known = rows.Known(w.mac);
    if (known && known->index == w.index && known->name == w.name && known->ip == w.ip &&
        known->group == w.group && known->mode == w.mode && known->declared) {
      continue;
    }
    if (known) {
      GC_ASSIGN_OR_RETURN(Stmt drop, Query("DELETE FROM nodes WHERE mac = ?", w.mac));
      GC_RETURN_IF_ERROR(Run(std::move(drop), "update declared node " + w.name));
    }
    inserts.push_back(&w);
  }
  for (const Node* w : inserts) GC_RETURN_IF_ERROR(Insert(*w));
  return Status::Ok();
}

// Nodes the profile no longer declares stay, as nodes named in boot order;
// a node's fixed address follows its index, so a changed node_addresses
// range moves it.
Status SqliteNodeRegistry::UpdateUndeclared(const Rows& rows) {
  const bool authoritative = profile_.network.dhcp_mode == DhcpMode::kAuthoritative;
  for (const Node& node : rows.nodes) {
    if (rows.declared_macs.count(node.mac)) continue;
    if (node.declared) {
      GC_ASSIGN_OR_RETURN(Stmt undeclare,
                          Query("UPDATE nodes SET declared = 0 WHERE mac = ?", node.mac));
      GC_RETURN_IF_ERROR(Run(std::move(undeclare), "update node " + node.name));
    }
    if (!authoritative) continue;
    GC_ASSIGN_OR_RETURN(std::string ip, FixedAddress(node.index, node.name));
    if (ip == node.ip) continue;
    GC_ASSIGN_OR_RETURN(Stmt move, Query("UPDATE nodes SET ip = ? WHERE mac = ?", ip, node.mac));
    GC_RETURN_IF_ERROR(Run(std::move(move), "update node " + node.name));
  }
  return Status::Ok();
}

Status SqliteNodeRegistry::ApplyProfile() {
  std::lock_guard<std::mutex> lock(mu_);
  return InTransaction([&]() -> Status {
    ForgetAllocation();  // declared nodes move
    GC_ASSIGN_OR_RETURN(Stmt all, Prepare(std::string("SELECT ") + kNodeColumns + " FROM nodes"));
    GC_ASSIGN_OR_RETURN(std::vector<Node> existing, Select(std::move(all)));
    const Rows rows(std::move(existing), profile_.nodes);
    GC_ASSIGN_OR_RETURN(std::vector<Node> wanted, PlaceDeclared(rows));
    GC_RETURN_IF_ERROR(CheckDeclared(rows, &wanted));
    GC_RETURN_IF_ERROR(WriteDeclared(rows, wanted));
    GC_RETURN_IF_ERROR(UpdateUndeclared(rows));
    GC_ASSIGN_OR_RETURN(Stmt after, Prepare(std::string("SELECT ") + kNodeColumns + " FROM nodes"));
    GC_ASSIGN_OR_RETURN(std::vector<Node> result, Select(std::move(after)));
    return CheckGroups(result);
  });
}

Result<std::optional<Node>> SqliteNodeRegistry::FindByMac(const std::string& mac) {
  Result<std::string> normal = NormalizeMac(mac);
  if (!normal.ok()) return normal.status();
  return Lookup("mac", *normal);
}

Result<std::optional<Node>> SqliteNodeRegistry::FindByName(const std::string& name) {
  return Lookup("name", name);
}

Result<std::vector<Node>> SqliteNodeRegistry::List() {
  std::lock_guard<std::mutex> lock(mu_);
  GC_ASSIGN_OR_RETURN(Stmt all,
                      Prepare(std::string("SELECT ") + kNodeColumns + " FROM nodes ORDER BY idx"));
  return Select(std::move(all));
}

Result<std::vector<HostEntry>> SqliteNodeRegistry::ListHosts() {
  std::lock_guard<std::mutex> lock(mu_);
  GC_ASSIGN_OR_RETURN(Stmt stmt,
                      Prepare("SELECT mac, ip, name FROM nodes WHERE ip != '' ORDER BY idx"));
  std::vector<HostEntry> hosts;
  int rc;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    hosts.push_back(
        {ColumnText(stmt.get(), 0), ColumnText(stmt.get(), 1), ColumnText(stmt.get(), 2)});
  }
  if (rc != SQLITE_DONE) return Error(rc, "list the nodes' addresses");
  return hosts;
}

Result<Node> SqliteNodeRegistry::Add(const std::string& mac, const std::string& name) {
  Result<std::string> normal = NormalizeMac(mac);
  if (!normal.ok()) return normal.status().WithContext("nodes add --mac");
  if (!name.empty() && !IsHostLabel(name)) {
    return InvalidArgument("nodes add --name: '" + name.substr(0, 64) +
                           "' is not a host name (expected 1 to 63 lowercase letters, digits or "
                           "'-', not starting or ending with '-')");
  }
  std::lock_guard<std::mutex> lock(mu_);
  Node node;
  Status status = InTransaction([&]() -> Status {
    ForgetAllocation();  // Add names and numbers nodes its own way
    GC_ASSIGN_OR_RETURN(std::optional<Node> known, SelectOne("mac", *normal));
    if (known) {
      return Status(Code::kAlreadyExists, "MAC " + *normal + " is already registered as node " +
                                              known->name + " in registry " + path_);
    }
    if (!name.empty()) {
      GC_ASSIGN_OR_RETURN(std::optional<Node> holder, SelectOne("name", name));
      if (holder) {
        return Status(Code::kAlreadyExists, "name " + name +
                                                " is already used by the node with MAC " +
                                                holder->mac + " in registry " + path_);
      }
    }
    std::set<int> indices;
    std::set<std::string> names;
    GC_RETURN_IF_ERROR(Taken(&indices, &names));
    // A boot-order name ("mosix7") given by hand takes its own index.
    const NamingSettings& naming = profile_.naming;
    std::optional<int> index;
    if (name.size() > naming.prefix.size() &&
        name.compare(0, naming.prefix.size(), naming.prefix) == 0 &&
        name.size() - naming.prefix.size() <= 9 &&
        name.find_first_not_of("0123456789", naming.prefix.size()) == std::string::npos) {
      int wanted = std::stoi(name.substr(naming.prefix.size()));
      if (wanted >= naming.first && naming.NameFor(wanted) == name && !indices.count(wanted)) {
        index = wanted;
      }
    }
    std::string chosen = name;
    if (!index) {
      names.insert(name);
      GC_ASSIGN_OR_RETURN(auto free, FreeIndex(indices, names));
      index = free.first;
      if (chosen.empty()) chosen = free.second;
    }
    GC_ASSIGN_OR_RETURN(node, NewNode(*normal, *index, chosen));
    return Insert(node);
  });
  if (!status.ok()) return status;
  return node;
}

Status SqliteNodeRegistry::UpdateNamed(const std::string& name, const std::string& set_sql,
                                       const std::vector<std::string>& values) {
  GC_ASSIGN_OR_RETURN(Stmt stmt, Prepare("UPDATE nodes SET " + set_sql + " WHERE name = ?"));
  int i = 0;
  for (const std::string& value : values) BindOne(stmt.get(), ++i, value);
  BindOne(stmt.get(), ++i, name);
  int changes = 0;
  GC_RETURN_IF_ERROR(Run(std::move(stmt), "update node " + name, &changes));
  return changes == 0 ? NoSuchNode(name) : Status::Ok();
}

Status SqliteNodeRegistry::RefuseDeclared(const std::string& name, std::string_view action) {
  GC_ASSIGN_OR_RETURN(std::optional<Node> node, SelectOne("name", name));
  if (!node) return NoSuchNode(name);
  if (node->declared) {
    return InvalidArgument("node " + name + " (MAC " + node->mac + ") is declared in " +
                           profile_.path + ": to " + std::string(action) +
                           ", change its entry under nodes: there");
  }
  return Status::Ok();
}

Status SqliteNodeRegistry::SetMode(const std::string& name, BootMode mode) {
  std::lock_guard<std::mutex> lock(mu_);
  return UpdateNamed(name, "mode = ?", {BootModeName(mode)});
}

Status SqliteNodeRegistry::SetGroup(const std::string& name, const std::string& group) {
  auto it = profile_.groups.find(group);
  if (it == profile_.groups.end()) {
    std::string known;
    for (const auto& [group_name, unused] : profile_.groups) {
      known += (known.empty() ? "" : ", ") + group_name;
    }
    return InvalidArgument("no group '" + group.substr(0, 64) + "' in " + profile_.path +
                           " (groups: " + known + ")");
  }
  std::lock_guard<std::mutex> lock(mu_);
  return InTransaction([&]() -> Status {
    GC_RETURN_IF_ERROR(RefuseDeclared(name, "change its group"));
    return UpdateNamed(name, "grp = ?, mode = ?", {group, BootModeName(it->second.mode)});
  });
}

Status SqliteNodeRegistry::SetState(const std::string& name, NodeState state) {
  std::lock_guard<std::mutex> lock(mu_);
  return UpdateNamed(name, "state = ?", {NodeStateName(state)});
}

Status SqliteNodeRegistry::Reinstall(const std::string& name) {
  std::string secret = NewSecret();
  std::lock_guard<std::mutex> lock(mu_);
  // The old progress would read as this install's.
  return UpdateNamed(name,
                     "mode = ?, state = ?, install_secret = ?, progress_phase = '', "
                     "progress_done = 0, progress_total = 0, progress_message = '', "
                     "progress_time_ns = 0",
                     {BootModeName(BootMode::kInstall), NodeStateName(NodeState::kNew), secret});
}

Result<std::string> SqliteNodeRegistry::RotateSecret(const std::string& name) {
  std::string secret = NewSecret();
  std::lock_guard<std::mutex> lock(mu_);
  GC_RETURN_IF_ERROR(UpdateNamed(name, "install_secret = ?", {secret}));
  return secret;
}

Status SqliteNodeRegistry::Remove(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  return InTransaction([&]() -> Status {
    ForgetAllocation();  // its index and name become free
    GC_RETURN_IF_ERROR(RefuseDeclared(name, "remove it"));
    GC_ASSIGN_OR_RETURN(Stmt drop, Query("DELETE FROM nodes WHERE name = ?", name));
    return Run(std::move(drop), "remove node " + name);
  });
}
}  // namespace registry_internal

const char* NodeStateName(NodeState state) {
  static constexpr const char* kNames[] = {"new",      "installing", "installed",
                                           "diskless", "updating",   "failed"};
  auto i = static_cast<size_t>(state);
  return i < std::size(kNames) ? kNames[i] : "?";
}

Result<NodeState> ParseNodeState(std::string_view text) {
  for (NodeState state : kAllStates) {
    if (text == NodeStateName(state)) return state;
  }
  std::string shown(text.substr(0, 32));
  return InvalidArgument("'" + shown +
                         "' is not a node state (expected new, installing, installed, diskless, "
                         "updating or failed)");
}

Result<std::unique_ptr<NodeRegistry>> NodeRegistry::Open(const std::string& db_path,
                                                         const ClusterProfile& profile) {
  auto registry = std::make_unique<registry_internal::SqliteNodeRegistry>(db_path, profile);
  GC_RETURN_IF_ERROR(registry->Init());
  GC_RETURN_IF_ERROR(registry->ApplyProfile());
  return std::unique_ptr<NodeRegistry>(std::move(registry));
}

}  // namespace gc
