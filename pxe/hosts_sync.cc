#include "pxe/hosts_sync.h"

#include <utility>

namespace gc {

namespace {
// Past this many files the list is written as one again: each file is a
// watch event and a name in the directory, forever.
constexpr int kMaxFiles = 64;

std::map<std::string, std::string> Lines(const std::vector<HostEntry>& hosts) {
  std::map<std::string, std::string> lines;
  for (const HostEntry& host : hosts) {
    if (host.ip.empty() || host.mac.empty()) continue;
    lines[host.mac] = host.mac + "," + host.ip + "," + host.name + "\n";
  }
  return lines;
}
}  // namespace

HostsSync::HostsSync(NodeRegistry* registry, std::string dir, Env* env)
    : registry_(registry), dir_(std::move(dir)), env_(env) {}

Status HostsSync::Start() {
  GC_ASSIGN_OR_RETURN(generation_, registry_->Generation());
  GC_ASSIGN_OR_RETURN(std::vector<HostEntry> hosts, registry_->ListHosts());
  return Rewrite(Lines(hosts));
}

Result<bool> HostsSync::Tick() {
  GC_ASSIGN_OR_RETURN(int64_t generation, registry_->Generation());
  if (generation == generation_) return false;
  GC_ASSIGN_OR_RETURN(std::vector<HostEntry> hosts, registry_->ListHosts());
  std::map<std::string, std::string> now = Lines(hosts);
  std::string added;
  bool only_added = true;
  for (const auto& [mac, line] : written_) {
    auto it = now.find(mac);
    if (it == now.end() || it->second != line) only_added = false;
  }
  if (only_added && files_ < kMaxFiles) {
    for (const auto& [mac, line] : now) {
      if (!written_.count(mac)) added += line;
    }
    if (!added.empty()) GC_RETURN_IF_ERROR(WriteFile(added));
    written_ = std::move(now);
    generation_ = generation;
    return false;  // dnsmasq reads the new file by itself
  }
  GC_RETURN_IF_ERROR(Rewrite(now));
  generation_ = generation;
  return true;
}

// A name starting with '.' while written: dnsmasq's watch skips it, and
// reads the file once, whole, when it is renamed into place.
Status HostsSync::WriteFile(const std::string& lines) {
  std::string name = "hosts-" + std::to_string(next_++);
  std::string temp = JoinPath(dir_, "." + name);
  GC_RETURN_IF_ERROR(env_->WriteFile(temp, lines));
  GC_RETURN_IF_ERROR(env_->Rename(temp, JoinPath(dir_, name)));
  ++files_;
  return Status::Ok();
}

Status HostsSync::Rewrite(const std::map<std::string, std::string>& all) {
  GC_ASSIGN_OR_RETURN(std::vector<std::string> old, env_->ListDir(dir_));
  std::string lines;
  for (const auto& [mac, line] : all) lines += line;
  files_ = 0;
  GC_RETURN_IF_ERROR(WriteFile(lines));
  std::string kept = "hosts-" + std::to_string(next_ - 1);
  for (const std::string& name : old) {
    if (name != kept) GC_RETURN_IF_ERROR(env_->RemoveFile(JoinPath(dir_, name)));
  }
  written_ = all;
  return Status::Ok();
}

}  // namespace gc
