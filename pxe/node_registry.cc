#include "pxe/node_registry.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <sqlite3.h>

#include <map>
#include <mutex>
#include <set>
#include <utility>

#include "common/hash.h"
#include "common/log.h"
#include "common/unique_fd.h"

namespace gc {

namespace {

constexpr int kSchemaVersion = 1;
constexpr int kBusyTimeoutMs = 5000;

// The generation row is bumped by triggers, so every write by any process
// (serve, `goldcast nodes`, a future tool) is seen, whatever code made it.
constexpr const char* kSchema = R"sql(
CREATE TABLE nodes(
  idx INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  mac TEXT NOT NULL UNIQUE,
  ip TEXT NOT NULL DEFAULT '',
  grp TEXT NOT NULL,
  mode TEXT NOT NULL,
  state TEXT NOT NULL,
  declared INTEGER NOT NULL DEFAULT 0,
  install_secret TEXT NOT NULL,
  uuid TEXT NOT NULL DEFAULT '',
  arch TEXT NOT NULL DEFAULT '',
  platform TEXT NOT NULL DEFAULT '',
  first_seen_ns INTEGER NOT NULL DEFAULT 0,
  last_seen_ns INTEGER NOT NULL DEFAULT 0);
CREATE TABLE generation(id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL);
INSERT INTO generation VALUES (1, 0);
CREATE TRIGGER nodes_insert AFTER INSERT ON nodes
  BEGIN UPDATE generation SET value = value + 1; END;
CREATE TRIGGER nodes_update AFTER UPDATE ON nodes
  BEGIN UPDATE generation SET value = value + 1; END;
CREATE TRIGGER nodes_delete AFTER DELETE ON nodes
  BEGIN UPDATE generation SET value = value + 1; END;
)sql";

constexpr const char* kColumns =
    "idx, name, mac, ip, grp, mode, state, declared, install_secret, uuid, arch, platform, "
    "first_seen_ns, last_seen_ns";

constexpr NodeState kAllStates[] = {NodeState::kNew,       NodeState::kInstalling,
                                    NodeState::kInstalled, NodeState::kDiskless,
                                    NodeState::kUpdating,  NodeState::kFailed};

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StmtFinalizer {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using Stmt = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

Result<std::string> NewSecret() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return Internal("OpenSSL RAND_bytes failed");
  return HexEncode(std::string_view(reinterpret_cast<const char*>(bytes), sizeof bytes));
}

bool IsHostLabel(std::string_view name) {
  if (name.empty() || name.size() > 63 || name.front() == '-' || name.back() == '-') return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

class SqliteNodeRegistry : public NodeRegistry {
 public:
  SqliteNodeRegistry(std::string path, const ClusterProfile& profile)
      : path_(std::move(path)), profile_(profile) {}

  Status Init();
  Status ApplyProfile();

  Result<Node> RegisterBoot(const BootRequest& request, int64_t now_ns) override;
  Result<std::optional<Node>> FindByMac(const std::string& mac) override;
  Result<std::optional<Node>> FindByName(const std::string& name) override;
  Result<std::vector<Node>> List() override;
  Result<Node> Add(const std::string& mac, const std::string& name) override;
  Status SetMode(const std::string& name, BootMode mode) override;
  Status SetGroup(const std::string& name, const std::string& group) override;
  Status SetState(const std::string& name, NodeState state) override;
  Status Reinstall(const std::string& name) override;
  Status Remove(const std::string& name) override;
  Result<int64_t> Generation() override;

 private:
  // Everything below runs with mu_ held.
  Status Error(int rc, std::string_view what) const;
  Status Damaged(std::string_view detail) const;
  Status Exec(const char* sql);
  Result<Stmt> Prepare(const std::string& sql);
  template <typename... Args>
  Result<Stmt> Query(const std::string& sql, const Args&... args);
  Status Run(Stmt stmt, std::string_view what, int* changes = nullptr);
  template <typename F>
  Status InTransaction(F&& body);

  Result<std::vector<Node>> Select(Stmt stmt);
  Result<std::optional<Node>> SelectOne(const std::string& column, const std::string& value);
  Result<std::optional<Node>> Lookup(const std::string& column, const std::string& value);
  Status Insert(const Node& node);
  // Every index and name in use.
  Status Taken(std::set<int>* indices, std::set<std::string>* names);
  // A node not seen yet, in the default group, with a fresh secret.
  Result<Node> NewNode(const std::string& mac, int index, const std::string& name);
  // The lowest free index >= naming.first whose boot-order name is free too.
  Result<std::pair<int, std::string>> FreeIndex(const std::set<int>& indices,
                                                const std::set<std::string>& names) const;
  Result<std::string> FixedAddress(int index, const std::string& name) const;
  BootMode GroupMode(const std::string& group) const;
  Status UpdateNamed(const std::string& name, const std::string& set_sql,
                     const std::vector<std::string>& values);
  Status RefuseDeclared(const std::string& name, std::string_view action);
  Status CheckGroups(const std::vector<Node>& nodes) const;

  const std::string path_;
  const ClusterProfile profile_;
  std::mutex mu_;
  std::unique_ptr<sqlite3, DbCloser> db_;
};

Status SqliteNodeRegistry::Damaged(std::string_view detail) const {
  return Corrupt("registry " + path_ + " is damaged: " + std::string(detail) +
                 " (restore it from a backup, or move it away to start an empty registry: "
                 "nodes will then be named anew in boot order)");
}

Status SqliteNodeRegistry::Error(int rc, std::string_view what) const {
  std::string message = db_ ? sqlite3_errmsg(db_.get()) : sqlite3_errstr(rc);
  switch (rc & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Damaged(message);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status(Code::kBusy, "registry " + path_ + " is busy: another process held it for " +
                                     "more than 5 s while trying to " + std::string(what) + " (" +
                                     message + ")");
    case SQLITE_FULL:
      return Status(Code::kNoSpace, "registry " + path_ + ": disk full while trying to " +
                                        std::string(what) + " (free space on its file system)");
    default:
      return IoError("registry " + path_ + ": cannot " + std::string(what) + ": " + message);
  }
}

Status SqliteNodeRegistry::Exec(const char* sql) {
  int rc = sqlite3_exec(db_.get(), sql, nullptr, nullptr, nullptr);
  return rc == SQLITE_OK ? Status::Ok() : Error(rc, std::string("run ") + sql);
}

Result<Stmt> SqliteNodeRegistry::Prepare(const std::string& sql) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db_.get(), sql.c_str(), -1, &raw, nullptr);
  Stmt stmt(raw);
  if (rc != SQLITE_OK) return Error(rc, "prepare " + sql);
  return stmt;
}

void BindOne(sqlite3_stmt* stmt, int i, const std::string& value) {
  sqlite3_bind_text(stmt, i, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
}
void BindOne(sqlite3_stmt* stmt, int i, int64_t value) { sqlite3_bind_int64(stmt, i, value); }
void BindOne(sqlite3_stmt* stmt, int i, int value) { sqlite3_bind_int64(stmt, i, value); }

template <typename... Args>
Result<Stmt> SqliteNodeRegistry::Query(const std::string& sql, const Args&... args) {
  GC_ASSIGN_OR_RETURN(Stmt stmt, Prepare(sql));
  int i = 0;
  (BindOne(stmt.get(), ++i, args), ...);
  return stmt;
}

Status SqliteNodeRegistry::Run(Stmt stmt, std::string_view what, int* changes) {
  int rc = sqlite3_step(stmt.get());
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) return Error(rc, what);
  if (changes) *changes = sqlite3_changes(db_.get());
  return Status::Ok();
}

template <typename F>
Status SqliteNodeRegistry::InTransaction(F&& body) {
  // IMMEDIATE takes the write lock up front (waiting up to busy_timeout),
  // so read-then-allocate cannot race another process's allocation.
  GC_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  Status status = body();
  if (status.ok()) status = Exec("COMMIT");
  if (!status.ok()) sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
  return status;
}

Status SqliteNodeRegistry::Init() {
  // It holds the install secrets: created private, and SQLite gives its
  // -wal and -shm files the same mode.
  UniqueFd create(::open(path_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!create.valid() && errno != EEXIST) {
    return ErrnoError("create registry " + path_ + " (check that its directory exists)");
  }
  create.Reset();
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path_.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  db_.reset(raw);  // closed on every path, also when the open failed
  if (rc != SQLITE_OK) {
    return IoError("cannot open registry " + path_ + ": " +
                   (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)) +
                   " (check that its directory exists and is writable)");
  }
  sqlite3_extended_result_codes(db_.get(), 1);
  sqlite3_busy_timeout(db_.get(), kBusyTimeoutMs);
  // The first statement reads the file: a damaged one fails here.
  GC_ASSIGN_OR_RETURN(Stmt wal, Prepare("PRAGMA journal_mode=WAL"));
  rc = sqlite3_step(wal.get());
  if (rc != SQLITE_ROW) return Error(rc, "switch to WAL");
  std::string mode = reinterpret_cast<const char*>(sqlite3_column_text(wal.get(), 0));
  if (mode != "wal") {
    GC_LOG(Warning) << "registry " << path_ << ": journal mode is " << mode
                    << ", not wal (file system without shared memory?)";
  }
  wal.reset();
  GC_RETURN_IF_ERROR(Exec("PRAGMA foreign_keys=ON; PRAGMA synchronous=FULL"));

  GC_ASSIGN_OR_RETURN(Stmt check, Prepare("PRAGMA quick_check"));
  rc = sqlite3_step(check.get());
  if (rc != SQLITE_ROW) return Error(rc, "check its integrity");
  std::string verdict = reinterpret_cast<const char*>(sqlite3_column_text(check.get(), 0));
  if (verdict != "ok") return Damaged(verdict);
  check.reset();

  return InTransaction([&]() -> Status {
    GC_ASSIGN_OR_RETURN(Stmt version, Prepare("PRAGMA user_version"));
    int step = sqlite3_step(version.get());
    if (step != SQLITE_ROW) return Error(step, "read the schema version");
    int found = sqlite3_column_int(version.get(), 0);
    version.reset();
    if (found == kSchemaVersion) return Status::Ok();
    if (found > kSchemaVersion) {
      return Status(Code::kUnsupported,
                    "registry " + path_ + " has schema version " + std::to_string(found) +
                        ", written by a newer goldcast (this one knows version " +
                        std::to_string(kSchemaVersion) + "): upgrade goldcast");
    }
    GC_RETURN_IF_ERROR(Exec(kSchema));
    return Exec(("PRAGMA user_version=" + std::to_string(kSchemaVersion)).c_str());
  });
}

Result<std::vector<Node>> SqliteNodeRegistry::Select(Stmt stmt) {
  std::vector<Node> nodes;
  auto text = [&](int column) {
    const unsigned char* value = sqlite3_column_text(stmt.get(), column);
    return value ? std::string(reinterpret_cast<const char*>(value)) : std::string();
  };
  int rc;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    Node node;
    node.index = sqlite3_column_int(stmt.get(), 0);
    node.name = text(1);
    node.mac = text(2);
    node.ip = text(3);
    node.group = text(4);
    Result<BootMode> mode = ParseBootMode(text(5));
    Result<NodeState> state = ParseNodeState(text(6));
    if (!mode.ok() || !state.ok()) {
      return Corrupt("registry " + path_ + " is damaged: node " + node.name +
                     " has an unknown mode or state (" + text(5) + ", " + text(6) + ")");
    }
    node.mode = *mode;
    node.state = *state;
    node.declared = sqlite3_column_int(stmt.get(), 7) != 0;
    node.install_secret = text(8);
    node.uuid = text(9);
    node.arch = text(10);
    node.platform = text(11);
    node.first_seen_ns = sqlite3_column_int64(stmt.get(), 12);
    node.last_seen_ns = sqlite3_column_int64(stmt.get(), 13);
    nodes.push_back(std::move(node));
  }
  if (rc != SQLITE_DONE) return Error(rc, "read nodes");
  return nodes;
}

Result<std::optional<Node>> SqliteNodeRegistry::SelectOne(const std::string& column,
                                                          const std::string& value) {
  GC_ASSIGN_OR_RETURN(
      Stmt stmt,
      Query(std::string("SELECT ") + kColumns + " FROM nodes WHERE " + column + " = ?", value));
  GC_ASSIGN_OR_RETURN(std::vector<Node> nodes, Select(std::move(stmt)));
  if (nodes.empty()) return std::optional<Node>();
  return std::optional<Node>(std::move(nodes.front()));
}

Result<std::optional<Node>> SqliteNodeRegistry::Lookup(const std::string& column,
                                                       const std::string& value) {
  std::lock_guard<std::mutex> lock(mu_);
  return SelectOne(column, value);
}

Status SqliteNodeRegistry::Insert(const Node& node) {
  GC_ASSIGN_OR_RETURN(
      Stmt stmt, Query(std::string("INSERT INTO nodes (") + kColumns +
                           ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       node.index, node.name, node.mac, node.ip, node.group,
                       std::string(BootModeName(node.mode)), std::string(NodeStateName(node.state)),
                       node.declared ? 1 : 0, node.install_secret, node.uuid, node.arch,
                       node.platform, node.first_seen_ns, node.last_seen_ns));
  return Run(std::move(stmt), "add node " + node.name);
}

Status SqliteNodeRegistry::Taken(std::set<int>* indices, std::set<std::string>* names) {
  GC_ASSIGN_OR_RETURN(Stmt taken, Prepare("SELECT idx, name FROM nodes"));
  int rc;
  while ((rc = sqlite3_step(taken.get())) == SQLITE_ROW) {
    indices->insert(sqlite3_column_int(taken.get(), 0));
    names->insert(reinterpret_cast<const char*>(sqlite3_column_text(taken.get(), 1)));
  }
  return rc == SQLITE_DONE ? Status::Ok() : Error(rc, "read the node indices");
}

Result<Node> SqliteNodeRegistry::NewNode(const std::string& mac, int index,
                                         const std::string& name) {
  Node node;
  node.index = index;
  node.name = name;
  node.mac = mac;
  node.group = profile_.default_group;
  node.mode = GroupMode(node.group);
  GC_ASSIGN_OR_RETURN(node.install_secret, NewSecret());
  GC_ASSIGN_OR_RETURN(node.ip, FixedAddress(index, name));
  return node;
}

Result<std::pair<int, std::string>> SqliteNodeRegistry::FreeIndex(
    const std::set<int>& indices, const std::set<std::string>& names) const {
  for (int64_t index = profile_.naming.first; index <= INT32_MAX; ++index) {
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

Status SqliteNodeRegistry::ApplyProfile() {
  std::lock_guard<std::mutex> lock(mu_);
  const bool authoritative = profile_.network.dhcp_mode == DhcpMode::kAuthoritative;
  return InTransaction([&]() -> Status {
    GC_ASSIGN_OR_RETURN(Stmt all, Prepare(std::string("SELECT ") + kColumns + " FROM nodes"));
    GC_ASSIGN_OR_RETURN(std::vector<Node> existing, Select(std::move(all)));
    std::map<std::string, const Node*> by_mac;
    for (const Node& node : existing) by_mac[node.mac] = &node;
    std::set<std::string> declared_macs;
    for (const DeclaredNode& d : profile_.nodes) declared_macs.insert(d.mac);
    // What the rest of the registry holds: declared nodes must fit around it.
    std::map<int, const Node*> other_index;
    std::map<std::string, const Node*> other_name;
    for (const Node& node : existing) {
      if (declared_macs.count(node.mac)) continue;
      other_index[node.index] = &node;
      other_name[node.name] = &node;
    }

    // Pass 1: the declared node's index is known (declared, or already
    // registered); pass 2: the others take the lowest free index.
    const size_t count = profile_.nodes.size();
    std::vector<Node> wanted(count);
    std::vector<bool> placed(count, false);
    for (size_t i = 0; i < count; ++i) {
      const DeclaredNode& d = profile_.nodes[i];
      auto it = by_mac.find(d.mac);
      const Node* known = it == by_mac.end() ? nullptr : it->second;
      Node& w = wanted[i];
      if (known) {
        w = *known;
      } else {
        w.mac = d.mac;
        GC_ASSIGN_OR_RETURN(w.install_secret, NewSecret());
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
    for (const auto& [index, node] : other_index) indices.insert(index);
    for (const auto& [name, node] : other_name) names.insert(name);
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

    std::map<int, const Node*> seen_index;
    std::map<std::string, const Node*> seen_name;
    for (Node& w : wanted) {
      std::string what = "declared node " + w.mac + " (" + w.name + ", index " +
                         std::to_string(w.index) + ") in " + profile_.path;
      auto clash = [&](const std::string& held, const Node& holder) {
        return InvalidArgument(what + ": its " + held + " is held by " +
                               (holder.declared ? "node " : "registered node ") + holder.name +
                               " (MAC " + holder.mac + ") in registry " + path_ +
                               "; remove that node (`goldcast nodes rm " + holder.name +
                               "`) or change the declaration");
      };
      if (auto it = other_index.find(w.index); it != other_index.end()) {
        return clash("index " + std::to_string(w.index), *it->second);
      }
      if (auto it = other_name.find(w.name); it != other_name.end()) {
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

    // Only what changed is written (opening for `goldcast nodes list` must
    // not bump the generation); all old rows go before the new ones come so
    // swapped indices or names never collide half-way.
    std::vector<const Node*> inserts;
    for (const Node& w : wanted) {
      auto it = by_mac.find(w.mac);
      const Node* known = it == by_mac.end() ? nullptr : it->second;
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
    for (const Node& node : existing) {
      if (declared_macs.count(node.mac)) continue;
      // No longer declared: it stays, as a node named in boot order.
      if (node.declared) {
        GC_ASSIGN_OR_RETURN(Stmt undeclare,
                            Query("UPDATE nodes SET declared = 0 WHERE mac = ?", node.mac));
        GC_RETURN_IF_ERROR(Run(std::move(undeclare), "update node " + node.name));
      }
      // A node's fixed address follows its index: a changed node_addresses
      // range moves it.
      if (!authoritative) continue;
      GC_ASSIGN_OR_RETURN(std::string ip, FixedAddress(node.index, node.name));
      if (ip == node.ip) continue;
      GC_ASSIGN_OR_RETURN(Stmt move, Query("UPDATE nodes SET ip = ? WHERE mac = ?", ip, node.mac));
      GC_RETURN_IF_ERROR(Run(std::move(move), "update node " + node.name));
    }
    GC_ASSIGN_OR_RETURN(Stmt after, Prepare(std::string("SELECT ") + kColumns + " FROM nodes"));
    GC_ASSIGN_OR_RETURN(std::vector<Node> result, Select(std::move(after)));
    return CheckGroups(result);
  });
}

Result<Node> SqliteNodeRegistry::RegisterBoot(const BootRequest& boot, int64_t now_ns) {
  Result<std::string> mac = NormalizeMac(boot.mac);
  if (!mac.ok()) return mac.status().WithContext("registry " + path_ + ": boot request");
  BootRequest request = boot;
  request.mac = *mac;
  std::lock_guard<std::mutex> lock(mu_);
  const bool proxy = profile_.network.dhcp_mode == DhcpMode::kProxy;
  Node node;
  Status status = InTransaction([&]() -> Status {
    GC_ASSIGN_OR_RETURN(std::optional<Node> known, SelectOne("mac", request.mac));
    if (known) {
      node = std::move(*known);
      node.uuid = request.uuid;
      node.arch = request.arch;
      node.platform = request.platform;
      if (node.first_seen_ns == 0) node.first_seen_ns = now_ns;  // declared, first boot
      node.last_seen_ns = now_ns;
      if (proxy && !request.remote_address.empty()) node.ip = request.remote_address;
      GC_ASSIGN_OR_RETURN(Stmt update,
                          Query("UPDATE nodes SET uuid = ?, arch = ?, platform = ?, ip = ?, "
                                "first_seen_ns = ?, last_seen_ns = ? WHERE mac = ?",
                                node.uuid, node.arch, node.platform, node.ip, node.first_seen_ns,
                                node.last_seen_ns, node.mac));
      return Run(std::move(update), "record the boot of " + node.name);
    }
    std::set<int> indices;
    std::set<std::string> names;
    GC_RETURN_IF_ERROR(Taken(&indices, &names));
    GC_ASSIGN_OR_RETURN(auto free, FreeIndex(indices, names));
    GC_ASSIGN_OR_RETURN(node, NewNode(request.mac, free.first, free.second));
    node.uuid = request.uuid;
    node.arch = request.arch;
    node.platform = request.platform;
    node.first_seen_ns = node.last_seen_ns = now_ns;
    if (proxy) node.ip = request.remote_address;
    GC_LOG(Info) << "new node " << node.name << " (" << node.mac << ", " << node.ip << ")";
    return Insert(node);
  });
  if (!status.ok()) return status;
  return node;
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
                      Prepare(std::string("SELECT ") + kColumns + " FROM nodes ORDER BY idx"));
  return Select(std::move(all));
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
  if (changes == 0) {
    return NotFound("no node named '" + name.substr(0, 64) + "' in registry " + path_ +
                    " (`goldcast nodes list` shows the names)");
  }
  return Status::Ok();
}

Status SqliteNodeRegistry::RefuseDeclared(const std::string& name, std::string_view action) {
  GC_ASSIGN_OR_RETURN(std::optional<Node> node, SelectOne("name", name));
  if (!node) {
    return NotFound("no node named '" + name.substr(0, 64) + "' in registry " + path_ +
                    " (`goldcast nodes list` shows the names)");
  }
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
  GC_ASSIGN_OR_RETURN(std::string secret, NewSecret());
  std::lock_guard<std::mutex> lock(mu_);
  return UpdateNamed(name, "mode = ?, state = ?, install_secret = ?",
                     {BootModeName(BootMode::kInstall), NodeStateName(NodeState::kNew), secret});
}

Status SqliteNodeRegistry::Remove(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  return InTransaction([&]() -> Status {
    GC_RETURN_IF_ERROR(RefuseDeclared(name, "remove it"));
    GC_ASSIGN_OR_RETURN(Stmt drop, Query("DELETE FROM nodes WHERE name = ?", name));
    return Run(std::move(drop), "remove node " + name);
  });
}

Result<int64_t> SqliteNodeRegistry::Generation() {
  std::lock_guard<std::mutex> lock(mu_);
  GC_ASSIGN_OR_RETURN(Stmt stmt, Prepare("SELECT value FROM generation WHERE id = 1"));
  int rc = sqlite3_step(stmt.get());
  if (rc != SQLITE_ROW)
    return Error(rc == SQLITE_DONE ? SQLITE_CORRUPT : rc, "read the generation");
  return static_cast<int64_t>(sqlite3_column_int64(stmt.get(), 0));
}
}  // namespace

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
  auto registry = std::make_unique<SqliteNodeRegistry>(db_path, profile);
  GC_RETURN_IF_ERROR(registry->Init());
  GC_RETURN_IF_ERROR(registry->ApplyProfile());
  return std::unique_ptr<NodeRegistry>(std::move(registry));
}

}  // namespace gc
