// NodeRegistry: machines waiting for approval (naming.enroll: manual), and
// accepting them. Boot-order naming is in node_registry.cc.
#include <algorithm>
#include <map>
#include <mutex>
#include <set>

#include "cluster/node_registry.h"
#include "cluster/node_registry_internal.h"
#include "common/log.h"

namespace gc::registry_internal {

namespace {

constexpr char kPendingColumns[] =
    "mac, uuid, arch, platform, address, first_seen_ns, last_seen_ns";

}  // namespace

// Inside RegisterBoot's transaction.
Status SqliteNodeRegistry::KeepPending(const BootRequest& request, int64_t now_ns,
                                       PendingMachine* pending) {
  GC_ASSIGN_OR_RETURN(auto known, SelectPending("WHERE mac = ?", request.mac));
  if (known.empty()) {
    GC_ASSIGN_OR_RETURN(Stmt count, Prepare("SELECT COUNT(*) FROM pending"));
    if (sqlite3_step(count.get()) != SQLITE_ROW) return Error(SQLITE_ERROR, "count pending");
    if (static_cast<size_t>(sqlite3_column_int64(count.get(), 0)) >= kMaxPendingMachines) {
      GC_ASSIGN_OR_RETURN(Stmt forget,
                          Prepare("DELETE FROM pending WHERE mac = (SELECT mac FROM pending "
                                  "ORDER BY last_seen_ns LIMIT 1)"));
      GC_RETURN_IF_ERROR(Run(std::move(forget), "forget the machine waiting longest"));
    }
    pending->first_seen_ns = now_ns;
    GC_LOG(Info) << "machine " << request.mac << " (" << request.remote_address
                 << ") waits for approval: goldcast nodes accept " << request.mac;
  } else {
    pending->first_seen_ns = known.front().first_seen_ns;
  }
  pending->mac = request.mac;
  pending->uuid = request.uuid;
  pending->arch = request.arch;
  pending->platform = request.platform;
  pending->address = request.remote_address;
  pending->last_seen_ns = now_ns;
  GC_ASSIGN_OR_RETURN(Stmt upsert,
                      Query(std::string("INSERT OR REPLACE INTO pending(") + kPendingColumns +
                                ") VALUES (?, ?, ?, ?, ?, ?, ?)",
                            pending->mac, pending->uuid, pending->arch, pending->platform,
                            pending->address, pending->first_seen_ns, pending->last_seen_ns));
  return Run(std::move(upsert), "keep " + pending->mac + " pending");
}

Result<std::vector<PendingMachine>> SqliteNodeRegistry::SelectPending(const std::string& where_sql,
                                                                      const std::string& value) {
  std::string sql = std::string("SELECT ") + kPendingColumns + " FROM pending " + where_sql +
                    " ORDER BY first_seen_ns, mac";
  GC_ASSIGN_OR_RETURN(Stmt stmt, value.empty() ? Prepare(sql) : Query(sql, value));
  std::vector<PendingMachine> machines;
  auto text = [&](int column) { return ColumnText(stmt.get(), column); };
  int rc;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    PendingMachine m;
    m.mac = text(0);
    m.uuid = text(1);
    m.arch = text(2);
    m.platform = text(3);
    m.address = text(4);
    m.first_seen_ns = sqlite3_column_int64(stmt.get(), 5);
    m.last_seen_ns = sqlite3_column_int64(stmt.get(), 6);
    machines.push_back(std::move(m));
  }
  if (rc != SQLITE_DONE) return Error(rc, "read pending machines");
  return machines;
}

Result<std::vector<PendingMachine>> SqliteNodeRegistry::ListPending() {
  std::lock_guard<std::mutex> lock(mu_);
  return SelectPending("", "");
}

Result<std::vector<Node>> SqliteNodeRegistry::Accept(const std::vector<std::string>& macs) {
  std::set<std::string> wanted;
  for (const std::string& mac : macs) {
    Result<std::string> normal = NormalizeMac(mac);
    if (!normal.ok()) return normal.status().WithContext("nodes accept");
    wanted.insert(*normal);
  }
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Node> accepted;
  Status status = InTransaction([&]() -> Status {
    GC_ASSIGN_OR_RETURN(auto pending, SelectPending("", ""));
    if (!wanted.empty()) {
      std::erase_if(pending, [&](const PendingMachine& m) { return !wanted.count(m.mac); });
      for (const PendingMachine& m : pending) wanted.erase(m.mac);
      if (!wanted.empty()) {
        return NotFound("nodes accept: " + *wanted.begin() +
                        " is not waiting for approval (goldcast nodes pending lists those "
                        "that are); nothing was accepted");
      }
    }
    // In the order they first booted: boot order survives approval.
    for (const PendingMachine& m : pending) {
      GC_ASSIGN_OR_RETURN(Node node, NameNewNode(m.mac));
      node.uuid = m.uuid;
      node.arch = m.arch;
      node.platform = m.platform;
      node.first_seen_ns = m.first_seen_ns;
      node.last_seen_ns = m.last_seen_ns;
      if (profile_.network.dhcp_mode == DhcpMode::kProxy) node.ip = m.address;
      GC_RETURN_IF_ERROR(Insert(node));
      GC_ASSIGN_OR_RETURN(Stmt remove, Query("DELETE FROM pending WHERE mac = ?", m.mac));
      GC_RETURN_IF_ERROR(Run(std::move(remove), "accept " + m.mac));
      GC_LOG(Info) << "accepted " << m.mac << " as " << node.name;
      accepted.push_back(std::move(node));
    }
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return accepted;
}

}  // namespace gc::registry_internal
