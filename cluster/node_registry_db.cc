// NodeRegistry's SQLite plumbing: opening and checking the file, the schema
// and its migrations, and the mapping between rows and Node.
#include <fcntl.h>

#include <algorithm>
#include <map>
#include <set>

#include "cluster/node_registry_internal.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/random.h"
#include "common/unique_fd.h"
#include "profiles/vocabulary.h"

namespace gc::registry_internal {

namespace {

// Version 1: nodes and the generation. Version 2 added what nodes report
// (heartbeats, install progress) as the columns of kAddedColumns. Version 3
// narrowed the generation's UPDATE trigger (kGenerationUpdateTrigger).
// Version 4 added the machines waiting for approval (kPendingTable).
// Version 5 left the install secret out of the generation: boot scripts no
// longer carry it (one-time install tokens do, cluster/install_tokens.h).
constexpr int kSchemaVersion = 5;
constexpr int kBusyTimeoutMs = 5000;

// The generation row is bumped by triggers, so every write that counts, by
// any process (serve, `goldcast nodes`, a future tool), is seen, whatever
// code made it. Since version 3 not every update counts, see below.
constexpr const char* kSchemaV1 = R"sql(
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

// Heartbeats and progress reports rewrite a row every few seconds per node;
// bumping the generation for them made `serve` re-render dnsmasq's host
// list for nothing. So an update counts only when a column that dnsmasq's
// hosts or a boot script is built from really changed (`UPDATE OF` alone
// would fire for a column merely assigned its old value). Version 1 files
// have the unconditional trigger; Migrate replaces it, for new files too.
constexpr const char* kGenerationUpdateTrigger = R"sql(
DROP TRIGGER IF EXISTS nodes_update;
CREATE TRIGGER nodes_update
  AFTER UPDATE OF idx, name, mac, ip, grp, mode, state, platform ON nodes
  WHEN OLD.idx IS NOT NEW.idx OR OLD.name IS NOT NEW.name OR OLD.mac IS NOT NEW.mac
    OR OLD.ip IS NOT NEW.ip OR OLD.grp IS NOT NEW.grp OR OLD.mode IS NOT NEW.mode
    OR OLD.state IS NOT NEW.state OR OLD.platform IS NOT NEW.platform
  BEGIN UPDATE generation SET value = value + 1; END;
)sql";

// Not nodes: no name, no index, no secret, nothing dnsmasq's hosts are made
// from, so no trigger bumps the generation for them.
constexpr const char* kPendingTable = R"sql(
CREATE TABLE IF NOT EXISTS pending(
  mac TEXT PRIMARY KEY,
  uuid TEXT NOT NULL DEFAULT '',
  arch TEXT NOT NULL DEFAULT '',
  platform TEXT NOT NULL DEFAULT '',
  address TEXT NOT NULL DEFAULT '',
  first_seen_ns INTEGER NOT NULL,
  last_seen_ns INTEGER NOT NULL);
)sql";

// Columns added after version 1, each only when missing: a registry
// written by an older goldcast keeps its nodes and gains these with their
// defaults ("never reported").
struct AddedColumn {
  const char* name;
  const char* definition;
};
constexpr AddedColumn kAddedColumns[] = {
    {"hb_time_ns", "INTEGER NOT NULL DEFAULT 0"},
    {"hb_boot", "TEXT NOT NULL DEFAULT ''"},
    {"hb_image", "TEXT NOT NULL DEFAULT ''"},
    {"hb_kernel_release", "TEXT NOT NULL DEFAULT ''"},
    {"hb_kernel_version", "TEXT NOT NULL DEFAULT ''"},
    {"hb_kernel_artifact", "TEXT NOT NULL DEFAULT ''"},
    {"hb_files", "TEXT NOT NULL DEFAULT ''"},
    {"hb_json", "TEXT NOT NULL DEFAULT ''"},
    {"progress_phase", "TEXT NOT NULL DEFAULT ''"},
    {"progress_done", "INTEGER NOT NULL DEFAULT 0"},
    {"progress_total", "INTEGER NOT NULL DEFAULT 0"},
    {"progress_message", "TEXT NOT NULL DEFAULT ''"},
    {"progress_time_ns", "INTEGER NOT NULL DEFAULT 0"},
};

}  // namespace

const char* const kNodeColumns =
    "idx, name, mac, ip, grp, mode, state, declared, install_secret, uuid, arch, platform, "
    "first_seen_ns, last_seen_ns, hb_time_ns, hb_boot, hb_image, hb_kernel_release, "
    "hb_kernel_version, hb_kernel_artifact, hb_files, hb_json, progress_phase, progress_done, "
    "progress_total, progress_message, progress_time_ns";

// One "<hash> <path>" line per file: the hash has a fixed length, so any
// path (the API refuses newlines in them) survives the round trip.
std::string EncodeClusterFiles(const std::map<std::string, std::string>& files) {
  std::string out;
  for (const auto& [path, hash] : files) out += hash + " " + path + "\n";
  return out;
}

std::map<std::string, std::string> DecodeClusterFiles(std::string_view text) {
  std::map<std::string, std::string> files;
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    size_t space = line.find(' ');
    if (space == std::string_view::npos) continue;
    files[std::string(line.substr(space + 1))] = std::string(line.substr(0, space));
  }
  return files;
}

std::string NewSecret() { return RandomHex(16); }

Status SqliteNodeRegistry::Damaged(std::string_view detail) const {
  return Corrupt("registry " + path_ + " is damaged: " + std::string(detail) +
                 " (restore it from a backup, or move it away to start an empty registry: "
                 "nodes will then be named anew in boot order)");
}

Status SqliteNodeRegistry::NoSuchNode(const std::string& name) const {
  return NotFound("no node named '" + name.substr(0, 64) + "' in registry " + path_ +
                  " (`goldcast nodes list` shows the names)");
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

Status SqliteNodeRegistry::Run(Stmt stmt, std::string_view what, int* changes) {
  int rc = sqlite3_step(stmt.get());
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) return Error(rc, what);
  if (changes) *changes = sqlite3_changes(db_.get());
  return Status::Ok();
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
    return Migrate(found);
  });
}

Result<std::set<std::string>> SqliteNodeRegistry::ExistingColumns() {
  GC_ASSIGN_OR_RETURN(Stmt info, Prepare("PRAGMA table_info(nodes)"));
  std::set<std::string> columns;
  int rc;
  while ((rc = sqlite3_step(info.get())) == SQLITE_ROW) {
    const unsigned char* name = sqlite3_column_text(info.get(), 1);
    if (name) columns.insert(reinterpret_cast<const char*>(name));
  }
  if (rc != SQLITE_DONE) return Error(rc, "read the columns of table nodes");
  return columns;
}

Status SqliteNodeRegistry::Migrate(int found) {
  // A new file goes through the same steps as an old one, so the upgrade
  // path is the one every test exercises.
  if (found == 0) GC_RETURN_IF_ERROR(Exec(kSchemaV1));
  GC_ASSIGN_OR_RETURN(std::set<std::string> columns, ExistingColumns());
  if (!columns.count("idx") || !columns.count("install_secret")) {
    return Damaged("table nodes lacks the columns of schema version 1");
  }
  for (const AddedColumn& column : kAddedColumns) {
    if (columns.count(column.name)) continue;
    GC_RETURN_IF_ERROR(
        Exec((std::string("ALTER TABLE nodes ADD COLUMN ") + column.name + " " + column.definition)
                 .c_str()));
  }
  if (found < 5) GC_RETURN_IF_ERROR(Exec(kGenerationUpdateTrigger));
  if (found < 4) GC_RETURN_IF_ERROR(Exec(kPendingTable));
  if (found != 0) {
    GC_LOG(Info) << "registry " << path_ << ": schema upgraded from version " << found << " to "
                 << kSchemaVersion;
  }
  return Exec(("PRAGMA user_version=" + std::to_string(kSchemaVersion)).c_str());
}

Result<std::vector<Node>> SqliteNodeRegistry::Select(Stmt stmt) {
  std::vector<Node> nodes;
  auto text = [&](int column) { return ColumnText(stmt.get(), column); };
  auto int64 = [&](int column) {
    return static_cast<int64_t>(sqlite3_column_int64(stmt.get(), column));
  };
  auto count = [&](int column) {
    return static_cast<uint64_t>(std::max<int64_t>(0, int64(column)));
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
    node.first_seen_ns = int64(12);
    node.last_seen_ns = int64(13);
    Heartbeat& beat = node.heartbeat;
    beat.time_ns = int64(14);
    beat.boot = text(15);
    beat.image = text(16);
    beat.kernel_release = text(17);
    beat.kernel_version = text(18);
    beat.kernel_artifact = text(19);
    beat.cluster_files = DecodeClusterFiles(text(20));
    beat.json = text(21);
    InstallProgress& progress = node.progress;
    progress.phase = text(22);
    progress.done = count(23);
    progress.total = count(24);
    progress.message = text(25);
    progress.time_ns = int64(26);
    nodes.push_back(std::move(node));
  }
  if (rc != SQLITE_DONE) return Error(rc, "read nodes");
  return nodes;
}

Result<std::optional<Node>> SqliteNodeRegistry::SelectOne(const std::string& column,
                                                          const std::string& value) {
  GC_ASSIGN_OR_RETURN(
      Stmt stmt,
      Query(std::string("SELECT ") + kNodeColumns + " FROM nodes WHERE " + column + " = ?", value));
  GC_ASSIGN_OR_RETURN(std::vector<Node> nodes, Select(std::move(stmt)));
  if (nodes.empty()) return std::optional<Node>();
  return std::optional<Node>(std::move(nodes.front()));
}

Result<std::optional<Node>> SqliteNodeRegistry::Lookup(const std::string& column,
                                                       const std::string& value) {
  std::lock_guard<std::mutex> lock(mu_);
  return SelectOne(column, value);
}

Result<Node> SqliteNodeRegistry::MustSelect(const std::string& name) {
  GC_ASSIGN_OR_RETURN(std::optional<Node> node, SelectOne("name", name));
  if (!node) return NoSuchNode(name);
  return std::move(*node);
}

Status SqliteNodeRegistry::Insert(const Node& node) {
  const Heartbeat& beat = node.heartbeat;
  const InstallProgress& progress = node.progress;
  GC_ASSIGN_OR_RETURN(
      Stmt stmt,
      Query(std::string("INSERT INTO nodes (") + kNodeColumns +
                ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                "?, ?, ?)",
            node.index, node.name, node.mac, node.ip, node.group,
            std::string(BootModeName(node.mode)), std::string(NodeStateName(node.state)),
            node.declared ? 1 : 0, node.install_secret, node.uuid, node.arch, node.platform,
            node.first_seen_ns, node.last_seen_ns, beat.time_ns, beat.boot, beat.image,
            beat.kernel_release, beat.kernel_version, beat.kernel_artifact,
            EncodeClusterFiles(beat.cluster_files), beat.json, progress.phase,
            static_cast<int64_t>(progress.done), static_cast<int64_t>(progress.total),
            progress.message, progress.time_ns));
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

Result<int64_t> SqliteNodeRegistry::Generation() {
  std::lock_guard<std::mutex> lock(mu_);
  GC_ASSIGN_OR_RETURN(Stmt stmt, Prepare("SELECT value FROM generation WHERE id = 1"));
  int rc = sqlite3_step(stmt.get());
  if (rc != SQLITE_ROW)
    return Error(rc == SQLITE_DONE ? SQLITE_CORRUPT : rc, "read the generation");
  return static_cast<int64_t>(sqlite3_column_int64(stmt.get(), 0));
}

}  // namespace gc::registry_internal
