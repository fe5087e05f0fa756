// HostsSync: keeps dnsmasq's host list (one "MAC,IP,NAME" line per named
// node) in step with the registry, through a dhcp-hostsdir. dnsmasq reads
// a new file there by itself (inotify), but re-reading its whole list on
// SIGHUP costs it time that grows with the list (144 ms of CPU for 10,000
// hosts, measured): during a boot storm that made every registration
// slower than the one before. So nodes that are only added go into a new
// file, and only a node that changed or went away (an admin's edit) makes
// the list be rewritten and dnsmasq reload it.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "cluster/node_registry.h"
#include "common/env.h"
#include "common/status.h"

namespace gc {

class HostsSync {
 public:
  // `dir` is dnsmasq's dhcp-hostsdir; HostsSync owns what is in it.
  HostsSync(NodeRegistry* registry, std::string dir, Env* env = Env::Default());

  // Writes every node's line, replacing whatever the directory held
  // (before dnsmasq starts, which reads it then).
  Status Start();

  // After the registry changed (its generation moved): writes what is new.
  // True when dnsmasq must re-read the directory (SIGHUP).
  Result<bool> Tick();

 private:
  Status WriteFile(const std::string& lines);
  Status Rewrite(const std::map<std::string, std::string>& all);

  NodeRegistry* registry_;
  const std::string dir_;
  Env* env_;
  std::map<std::string, std::string> written_;  // MAC -> its line, as dnsmasq has it
  int64_t generation_ = -1;
  int files_ = 0;     // in the directory now
  int64_t next_ = 0;  // number of the next file
};

}  // namespace gc
