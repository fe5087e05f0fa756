// The SQLite implementation of NodeRegistry, shared by its .cc files:
// node_registry.cc (naming, profile, admin edits), node_registry_db.cc
// (SQLite plumbing, schema and its migrations, rows <-> Node) and
// node_registry_reports.cc (what nodes report: progress, heartbeats).
// Nothing outside pxe/ includes it.
#pragma once

#include <sqlite3.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cluster/node_registry.h"
#include "common/status.h"

namespace gc::registry_internal {

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StmtFinalizer {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using Stmt = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

inline void BindOne(sqlite3_stmt* stmt, int i, const std::string& value) {
  sqlite3_bind_text(stmt, i, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
}
inline void BindOne(sqlite3_stmt* stmt, int i, int64_t value) {
  sqlite3_bind_int64(stmt, i, value);
}
inline void BindOne(sqlite3_stmt* stmt, int i, int value) { sqlite3_bind_int64(stmt, i, value); }

// A text column of the current row; NULL reads as "".
inline std::string ColumnText(sqlite3_stmt* stmt, int column) {
  const unsigned char* value = sqlite3_column_text(stmt, column);
  return value ? std::string(reinterpret_cast<const char*>(value)) : std::string();
}

// Every column of a node row, in the order Select reads and Insert writes.
extern const char* const kNodeColumns;

// Heartbeat::cluster_files as stored in column hb_files, and back.
std::string EncodeClusterFiles(const std::map<std::string, std::string>& files);
std::map<std::string, std::string> DecodeClusterFiles(std::string_view text);

// A fresh install secret: 16 random bytes as 32 hex digits.
std::string NewSecret();

class SqliteNodeRegistry : public NodeRegistry {
 public:
  SqliteNodeRegistry(std::string path, const ClusterProfile& profile)
      : path_(std::move(path)), profile_(profile) {}

  // Opens the file, checks it and creates or migrates the schema.
  Status Init();
  Status ApplyProfile();

  Result<BootRegistration> RegisterBoot(const BootRequest& request, int64_t now_ns) override;
  Result<std::vector<PendingMachine>> ListPending() override;
  Result<std::vector<Node>> Accept(const std::vector<std::string>& macs) override;
  Result<std::optional<Node>> FindByMac(const std::string& mac) override;
  Result<std::optional<Node>> FindByName(const std::string& name) override;
  Result<std::vector<Node>> List() override;
  Result<std::vector<HostEntry>> ListHosts() override;
  Result<Node> Add(const std::string& mac, const std::string& name) override;
  Status SetMode(const std::string& name, BootMode mode) override;
  Status SetGroup(const std::string& name, const std::string& group) override;
  Status SetState(const std::string& name, NodeState state) override;
  Status Reinstall(const std::string& name) override;
  Result<std::string> RotateSecret(const std::string& name) override;
  Status Remove(const std::string& name) override;
  Result<Node> RecordProgress(const std::string& name, const InstallProgress& progress,
                              int64_t now_ns) override;
  Result<Node> RecordHeartbeat(const std::string& name, const Heartbeat& heartbeat,
                               int64_t now_ns) override;
  Result<int64_t> Generation() override;

 private:
  // Everything below runs with mu_ held.
  Status Error(int rc, std::string_view what) const;
  Status Damaged(std::string_view detail) const;
  Status NoSuchNode(const std::string& name) const;
  Status Exec(const char* sql);
  Result<Stmt> Prepare(const std::string& sql);
  template <typename... Args>
  Result<Stmt> Query(const std::string& sql, const Args&... args);
  Status Run(Stmt stmt, std::string_view what, int* changes = nullptr);
  template <typename F>
  Status InTransaction(F&& body);

  // Brings a schema of version `found` (0 = empty file) to the current one.
  Status Migrate(int found);
  Result<std::set<std::string>> ExistingColumns();

  Result<std::vector<Node>> Select(Stmt stmt);
  Result<std::optional<Node>> SelectOne(const std::string& column, const std::string& value);
  Result<std::optional<Node>> Lookup(const std::string& column, const std::string& value);
  // The node named `name`, read inside the caller's transaction.
  Result<Node> MustSelect(const std::string& name);
  Status Insert(const Node& node);
  // Every index and name in use.
  Status Taken(std::set<int>* indices, std::set<std::string>* names);
  // A node not seen yet, in the default group, with a fresh secret.
  Result<Node> NewNode(const std::string& mac, int index, const std::string& name);
  // The lowest free index >= naming.first (and >= `from`) whose boot-order
  // name is free too.
  Result<std::pair<int, std::string>> FreeIndex(const std::set<int>& indices,
                                                const std::set<std::string>& names,
                                                int64_t from = 0) const;
  Result<std::string> FixedAddress(int index, const std::string& name) const;
  BootMode GroupMode(const std::string& group) const;
  Status UpdateNamed(const std::string& name, const std::string& set_sql,
                     const std::vector<std::string>& values);
  Status RefuseDeclared(const std::string& name, std::string_view action);
  // Pending machines (node_registry_pending.cc).
  Status KeepPending(const BootRequest& request, int64_t now_ns, PendingMachine* pending);
  Result<std::vector<PendingMachine>> SelectPending(const std::string& where_sql,
                                                    const std::string& value);
  // A new node for `mac` at the lowest free index (not inserted yet: the
  // caller inserts it in the same transaction, or the transaction fails);
  // kNoSpace when the registry already holds `max_nodes`.
  Result<Node> NameNewNode(const std::string& mac, size_t max_nodes = SIZE_MAX);
  // Boot registration (node_registry_boot.cc): one request, inside the
  // batch's transaction; a batch of them in one transaction.
  struct BootWriter;
  Result<BootRegistration> RegisterOne(const BootRequest& request, int64_t now_ns);
  void RegisterBatch(const std::vector<BootWriter*>& batch);
  // Whether the batch may name a node (then it is committed durably).
  Result<bool> BatchNamesNodes(const std::vector<BootWriter*>& batch);
  // Makes allocation_ match the table (reloading it only when another
  // connection wrote since, or after a failed transaction).
  Status LoadAllocation();
  void ForgetAllocation() { allocation_.valid = false; }
  Status CheckGroups(const std::vector<Node>& nodes) const;
  // ApplyProfile's steps (node_registry.cc), over the rows it found.
  struct Rows;
  Result<std::vector<Node>> PlaceDeclared(const Rows& rows) const;
  Status CheckDeclared(const Rows& rows, std::vector<Node>* wanted) const;
  Status WriteDeclared(const Rows& rows, const std::vector<Node>& wanted);
  Status UpdateUndeclared(const Rows& rows);

  const std::string path_;
  const ClusterProfile profile_;
  std::mutex mu_;
  std::unique_ptr<sqlite3, DbCloser> db_;

  // The indices and names in use, kept between registrations so that
  // naming the 10,000th machine costs what naming the first did (reading
  // them all per registration made a registration's cost grow with the
  // registry). Valid while no other connection wrote (PRAGMA
  // data_version: `goldcast nodes` in another process) and no transaction
  // of ours failed after it changed (guarded by mu_).
  struct Allocation {
    bool valid = false;
    int64_t data_version = 0;
    std::set<int> indices;
    std::set<std::string> names;
    int64_t next = 0;  // every index below it is taken
  };
  Allocation allocation_;

  // Boot requests waiting for their batch, the first one writing it
  // (guarded by queue_mu_).
  std::mutex queue_mu_;
  std::deque<BootWriter*> boot_queue_;
};

template <typename... Args>
Result<Stmt> SqliteNodeRegistry::Query(const std::string& sql, const Args&... args) {
  GC_ASSIGN_OR_RETURN(Stmt stmt, Prepare(sql));
  int i = 0;
  (BindOne(stmt.get(), ++i, args), ...);
  return stmt;
}

template <typename F>
Status SqliteNodeRegistry::InTransaction(F&& body) {
  // IMMEDIATE takes the write lock up front (waiting up to busy_timeout),
  // so read-then-allocate cannot race another process's allocation.
  GC_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  Status status = body();
  if (status.ok()) status = Exec("COMMIT");
  if (!status.ok()) {
    sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
    ForgetAllocation();  // it may hold what was just rolled back
  }
  return status;
}

}  // namespace gc::registry_internal
