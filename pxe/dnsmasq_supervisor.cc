#include "pxe/dnsmasq_supervisor.h"

#include <signal.h>

#include <algorithm>

#include "common/env.h"
#include "common/log.h"
#include "common/subprocess.h"

namespace gc {

namespace {

std::string LogTail(const std::string& path) {
  auto text = Env::Default()->ReadFile(path);
  if (!text.ok()) return "";
  return text->size() > 600 ? text->substr(text->size() - 600) : *text;
}

}  // namespace

Status DnsmasqSupervisor::Start() {
  GC_ASSIGN_OR_RETURN(child_, ChildProcess::Start(DnsmasqCommand(files_), files_.log + ".stderr"));
  started_ = std::chrono::steady_clock::now();
  if (auto status = child_->Wait(std::chrono::milliseconds(300))) {
    return Internal("dnsmasq exited with status " + std::to_string(*status) +
                    " right after starting: " + LogTail(files_.log + ".stderr"));
  }
  GC_LOG(Info) << "serve: dnsmasq running (pid " << child_->pid() << ")";
  return Status::Ok();
}

void DnsmasqSupervisor::ScheduleRestart(std::chrono::steady_clock::time_point now) {
  child_.reset();
  restart_at_ = now + backoff_;
  backoff_ = std::min(backoff_ * 2, std::chrono::seconds(30));
}

void DnsmasqSupervisor::Tick() {
  auto now = std::chrono::steady_clock::now();
  if (child_) {
    auto status = child_->Poll();
    if (!status) {
      if (now - started_ > std::chrono::seconds(60)) backoff_ = std::chrono::seconds(1);
      return;
    }
    GC_LOG(Warning) << "serve: dnsmasq exited with status " << *status << "; restarting in "
                    << backoff_.count() << " s";
    ScheduleRestart(now);
    return;
  }
  if (now < restart_at_) return;
  Status status = Start();
  if (!status.ok()) {
    GC_LOG(Error) << "serve: " << status.message();
    ScheduleRestart(now);
  }
}

void DnsmasqSupervisor::Reload() {
  if (child_) (void)child_->Signal(SIGHUP);
}

void DnsmasqSupervisor::Stop() {
  if (child_) child_->Stop();
  child_.reset();
}

}  // namespace gc
