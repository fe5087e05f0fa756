// Keeps serve's dnsmasq running: starts it, restarts it with growing pauses
// (1 s doubling to 30 s, reset after a minute of good running) when it dies,
// and asks it to re-read its hosts directory with SIGHUP.
#pragma once

#include <chrono>
#include <memory>

#include "common/child_process.h"
#include "common/status.h"
#include "pxe/dnsmasq.h"

namespace gc {

class DnsmasqSupervisor {
 public:
  explicit DnsmasqSupervisor(DnsmasqFiles files) : files_(std::move(files)) {}
  ~DnsmasqSupervisor() { Stop(); }
  DnsmasqSupervisor(const DnsmasqSupervisor&) = delete;
  DnsmasqSupervisor& operator=(const DnsmasqSupervisor&) = delete;

  // Starts dnsmasq; fails (with the tail of its stderr) when it exits at
  // once, as it does on bind or permission errors.
  Status Start();
  // Called from serve's main loop: notices an exit and restarts when due.
  void Tick();
  void Reload();
  void Stop();

 private:
  void ScheduleRestart(std::chrono::steady_clock::time_point now);

  DnsmasqFiles files_;
  std::unique_ptr<ChildProcess> child_;
  std::chrono::steady_clock::time_point started_, restart_at_;
  std::chrono::seconds backoff_{1};
};

}  // namespace gc
