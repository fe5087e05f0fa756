// NodeRegistry: boot requests. A boot storm (a rack powering on) sends
// hundreds of GET /boot/ipxe at once, each of which must be durable before
// it is answered (a name handed out and then lost on a crash could be
// handed out twice). One transaction per request meant one fsync per
// request, one after another. Instead requests queue and the first in line
// writes everything queued in one transaction (group commit, as LevelDB's
// writers do): one fsync per batch, and a request never waits for more
// than the batch before it and its own.
#include <algorithm>
#include <condition_variable>

#include "cluster/node_registry.h"
#include "cluster/node_registry_internal.h"
#include "common/log.h"

namespace gc::registry_internal {

namespace {
// Bounds one transaction, so the first request of a long queue is not
// held back by all of it.
constexpr size_t kMaxBatch = 256;
}  // namespace

struct SqliteNodeRegistry::BootWriter {
  BootWriter(const BootRequest* r, int64_t now) : request(r), now_ns(now) {}
  const BootRequest* request;
  int64_t now_ns;
  Result<BootRegistration> result = Internal("boot request not registered");
  bool done = false;
  std::condition_variable cv;
};

Result<BootRegistration> SqliteNodeRegistry::RegisterBoot(const BootRequest& boot, int64_t now_ns) {
  Result<std::string> mac = NormalizeMac(boot.mac);
  if (!mac.ok()) return mac.status().WithContext("registry " + path_ + ": boot request");
  BootRequest request = boot;
  request.mac = *mac;
  BootWriter writer(&request, now_ns);
  std::unique_lock<std::mutex> queue(queue_mu_);
  boot_queue_.push_back(&writer);
  while (!writer.done && &writer != boot_queue_.front()) writer.cv.wait(queue);
  if (writer.done) return std::move(writer.result);
  // First in line: write what is queued now, this request included.
  size_t count = std::min(boot_queue_.size(), kMaxBatch);
  std::vector<BootWriter*> batch(boot_queue_.begin(), boot_queue_.begin() + count);
  queue.unlock();
  RegisterBatch(batch);
  queue.lock();
  for (BootWriter* written : batch) {
    boot_queue_.pop_front();
    written->done = true;
    if (written != &writer) written->cv.notify_one();
  }
  if (!boot_queue_.empty()) boot_queue_.front()->cv.notify_one();
  return std::move(writer.result);
}

// Only a name handed out must survive a power cut before it is answered
// (the machine would otherwise install as a node the registry forgot, and
// its name could go to another). The rest of a boot request (last seen,
// firmware IDs, a pending machine) is written again at its next boot:
// waiting for the disk for it made a reboot storm as slow as the disk.
// A crash of serve loses nothing either way (WAL: committed is in the file).
Result<bool> SqliteNodeRegistry::BatchNamesNodes(const std::vector<BootWriter*>& batch) {
  if (profile_.naming.enroll != Enrollment::kAuto) return false;
  for (const BootWriter* writer : batch) {
    if (!writer->request->may_be_new) continue;
    GC_ASSIGN_OR_RETURN(Stmt known,
                        Query("SELECT 1 FROM nodes WHERE mac = ?", writer->request->mac));
    int rc = sqlite3_step(known.get());
    if (rc == SQLITE_DONE) return true;
    if (rc != SQLITE_ROW) return Error(rc, "look up " + writer->request->mac);
  }
  return false;
}

void SqliteNodeRegistry::RegisterBatch(const std::vector<BootWriter*>& batch) {
  std::lock_guard<std::mutex> lock(mu_);
  // Looked up before the transaction: a MAC another process names
  // meanwhile only makes this batch wait for the disk without need.
  Result<bool> names = BatchNamesNodes(batch);
  bool durable = !names.ok() || *names;
  if (!durable) (void)Exec("PRAGMA synchronous=NORMAL");
  Status status = InTransaction([&]() -> Status {
    for (BootWriter* writer : batch) {
      // A request that fails takes back only its own writes.
      GC_RETURN_IF_ERROR(Exec("SAVEPOINT boot"));
      writer->result = RegisterOne(*writer->request, writer->now_ns);
      if (!writer->result.ok()) {
        ForgetAllocation();
        GC_RETURN_IF_ERROR(Exec("ROLLBACK TO boot"));
      }
      GC_RETURN_IF_ERROR(Exec("RELEASE boot"));
    }
    return Status::Ok();
  });
  if (!durable) {
    // Everything else the registry writes waits for the disk again.
    Status full = Exec("PRAGMA synchronous=FULL");
    if (!full.ok() && status.ok()) status = full;
  }
  if (status.ok()) return;
  for (BootWriter* writer : batch) {
    if (writer->result.ok()) writer->result = status;
  }
}

Result<BootRegistration> SqliteNodeRegistry::RegisterOne(const BootRequest& request,
                                                         int64_t now_ns) {
  const bool proxy = profile_.network.dhcp_mode == DhcpMode::kProxy;
  BootRegistration found;
  GC_ASSIGN_OR_RETURN(std::optional<Node> known, SelectOne("mac", request.mac));
  if (known) {
    Node& node = found.node.emplace(std::move(*known));
    node.uuid = request.uuid;
    node.arch = request.arch;
    node.platform = request.platform;
    if (node.first_seen_ns == 0) node.first_seen_ns = now_ns;  // declared, first boot
    node.last_seen_ns = now_ns;
    // Anyone can send a boot request in a known node's name: in proxy mode
    // its address comes from where it was first seen, then from its
    // authenticated heartbeats (RecordHeartbeat), never from here.
    if (proxy && node.ip.empty()) node.ip = request.remote_address;
    GC_ASSIGN_OR_RETURN(Stmt update,
                        Query("UPDATE nodes SET uuid = ?, arch = ?, platform = ?, ip = ?, "
                              "first_seen_ns = ?, last_seen_ns = ? WHERE mac = ?",
                              node.uuid, node.arch, node.platform, node.ip, node.first_seen_ns,
                              node.last_seen_ns, node.mac));
    GC_RETURN_IF_ERROR(Run(std::move(update), "record the boot of " + node.name));
    return found;
  }
  if (!request.may_be_new) {
    return Status(Code::kBusy,
                  "too many boot requests from " + request.remote_address +
                      " lately: unknown MAC " + request.mac + " is not " +
                      (profile_.naming.enroll == Enrollment::kManual ? "kept pending" : "named") +
                      " now (it may ask again in a minute)");
  }
  if (profile_.naming.enroll == Enrollment::kManual) {
    GC_RETURN_IF_ERROR(KeepPending(request, now_ns, &found.pending.emplace()));
    return found;
  }
  GC_ASSIGN_OR_RETURN(Node node, NameNewNode(request.mac, kMaxAutoNodes));
  node.uuid = request.uuid;
  node.arch = request.arch;
  node.platform = request.platform;
  node.first_seen_ns = node.last_seen_ns = now_ns;
  if (proxy) node.ip = request.remote_address;
  GC_RETURN_IF_ERROR(Insert(node));
  GC_LOG(Info) << "new node " << node.name << " (" << node.mac << ", " << node.ip << ")";
  found.node = std::move(node);
  return found;
}

Result<Node> SqliteNodeRegistry::NameNewNode(const std::string& mac, size_t max_nodes) {
  GC_RETURN_IF_ERROR(LoadAllocation());
  Allocation& a = allocation_;
  if (a.indices.size() >= max_nodes) {
    return Status(Code::kNoSpace, "registry " + path_ + " holds " + std::to_string(max_nodes) +
                                      " nodes: naming.enroll auto names no more (add nodes with "
                                      "goldcast nodes add)");
  }
  GC_ASSIGN_OR_RETURN(auto free, FreeIndex(a.indices, a.names, a.next));
  Result<Node> node = NewNode(mac, free.first, free.second);
  if (!node.ok()) return node.status();
  // Taken from here on: the caller inserts it, or its transaction fails
  // and forgets the allocation.
  a.indices.insert(free.first);
  a.names.insert(free.second);
  a.next = free.first + 1;
  return node;
}

Status SqliteNodeRegistry::LoadAllocation() {
  // data_version changes when another connection commits, never for our
  // own writes, which keep allocation_ up to date themselves.
  GC_ASSIGN_OR_RETURN(Stmt version, Prepare("PRAGMA data_version"));
  int rc = sqlite3_step(version.get());
  if (rc != SQLITE_ROW) return Error(rc, "read the data version");
  int64_t data_version = sqlite3_column_int64(version.get(), 0);
  if (allocation_.valid && allocation_.data_version == data_version) return Status::Ok();
  Allocation fresh;
  GC_RETURN_IF_ERROR(Taken(&fresh.indices, &fresh.names));
  fresh.valid = true;
  fresh.data_version = data_version;
  allocation_ = std::move(fresh);
  return Status::Ok();
}

}  // namespace gc::registry_internal
