#include "node-agent/node_identity.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <sstream>

#include "common/env.h"
#include "common/list_dir.h"
#include "common/log.h"
#include "common/manifest.h"
#include "common/text.h"

namespace gc {

namespace {

bool IsRegularBeneath(const std::string& root, const std::string& relative) {
  auto resolved = ResolveInRoot(root, relative);
  if (!resolved.ok()) return false;
  struct stat st;
  return ::lstat(JoinPath(root, *resolved).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

Status CopyFileInto(const std::string& source, const std::string& root, const std::string& dest,
                    mode_t mode) {
  UniqueFd in(::open(source.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in.valid()) return ErrnoError("open " + source);
  return WriteFileBeneath(root, dest, mode, [&](int out) -> Status {
    char buffer[1 << 16];
    for (;;) {
      ssize_t n = ::read(in.get(), buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return ErrnoError("read " + source);
      if (n == 0) return Status::Ok();
      GC_RETURN_IF_ERROR(WriteAllFd(out, std::string_view(buffer, n), JoinPath(root, dest)));
    }
  });
}

// Copies the bundle (regular files, directories, symlinks) below `dest`.
Status CopyTreeInto(const std::string& source, const std::string& root, const std::string& dest) {
  GC_RETURN_IF_ERROR(OpenDirBeneath(root, dest, true).status());
  UniqueFd dir(::open(source.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) return ErrnoError("open agent bundle directory " + source);
  GC_ASSIGN_OR_RETURN(auto names, ListDirFd(dir.get(), source));
  for (const auto& name : names) {
    std::string from = source + "/" + name;
    std::string to = dest + "/" + name;
    struct stat st;
    if (::lstat(from.c_str(), &st) != 0) return ErrnoError("stat " + from);
    if (S_ISDIR(st.st_mode)) {
      GC_RETURN_IF_ERROR(CopyTreeInto(from, root, to));
    } else if (S_ISLNK(st.st_mode)) {
      char target[4096];
      ssize_t n = ::readlink(from.c_str(), target, sizeof target - 1);
      if (n < 0) return ErrnoError("readlink " + from);
      GC_RETURN_IF_ERROR(SymlinkBeneath(root, to, std::string(target, n)));
    } else if (S_ISREG(st.st_mode)) {
      GC_RETURN_IF_ERROR(CopyFileInto(from, root, to, st.st_mode & 07777));
    }
  }
  return Status::Ok();
}

constexpr char kAgentUnit[] =
    "# Installed by goldcast-agent install: heartbeats to the goldcast image server.\n"
    "[Unit]\n"
    "Description=goldcast node agent\n"
    "Wants=network-online.target\n"
    "After=network-online.target\n"
    "\n"
    "[Service]\n"
    "ExecStart=/usr/local/sbin/goldcast-agent run\n"
    "Restart=always\n"
    "RestartSec=5\n"
    "\n"
    "[Install]\n"
    "WantedBy=multi-user.target\n";

constexpr char kAgentWrapper[] =
    "#!/bin/sh\n"
    "# Installed by goldcast-agent install: runs the bundled agent.\n"
    "exec /usr/local/lib/goldcast-agent/goldcast-agent \"$@\"\n";

// ssh-keygen (like every OpenSSH program) exits at once when it cannot open
// /dev/null, and an image's /dev is empty until devtmpfs mounts over it at
// boot. So the installer lends its own /dev for the run: bind-mounted onto
// ROOT/dev, a real directory of the tree (checked beneath the root, so a
// symlink planted in the image cannot move the mount), unmounted afterwards,
// also on every error path.
class DevBind {
 public:
  static Result<DevBind> Lend(const std::string& root, ProcessRunner* runner) {
    DevBind bind(runner);
    struct stat st;
    if (::lstat((root + "/dev/null").c_str(), &st) == 0) return bind;  // a live /dev already
    auto dev = OpenDirBeneath(root, "dev", false);
    if (!dev.ok() && dev.status().code() == Code::kNotFound) return bind;  // ssh-keygen will say
    GC_RETURN_IF_ERROR(dev.status());
    std::string target = root + "/dev";
    GC_RETURN_IF_ERROR(RunChecked(runner, {"mount", "-o", "bind", "/dev", target}));
    bind.target_ = target;
    return bind;
  }
  DevBind(DevBind&& other) noexcept
      : runner_(other.runner_), target_(std::exchange(other.target_, "")) {}
  DevBind& operator=(DevBind&&) = delete;
  ~DevBind() { (void)Release(); }
  Status Release() {
    if (target_.empty()) return Status::Ok();
    std::string target = std::exchange(target_, "");
    return RunChecked(runner_, {"umount", target});
  }

 private:
  explicit DevBind(ProcessRunner* runner) : runner_(runner) {}
  ProcessRunner* runner_;
  std::string target_;
};

Status RegenerateSshHostKeys(const std::string& root, ProcessRunner* runner) {
  auto ssh_dir = OpenDirBeneath(root, "etc/ssh", false);
  if (ssh_dir.ok()) {
    GC_ASSIGN_OR_RETURN(auto names, ListDirFd(ssh_dir->get(), root + "/etc/ssh"));
    for (const auto& name : names) {
      if (name.rfind("ssh_host_", 0) != 0 || name.find("_key") == std::string::npos) continue;
      if (::unlinkat(ssh_dir->get(), name.c_str(), 0) != 0) {
        return ErrnoError("remove the golden client's host key " + root + "/etc/ssh/" + name);
      }
    }
  } else if (ssh_dir.status().code() != Code::kNotFound) {
    return ssh_dir.status();
  }
  if (!IsRegularBeneath(root, "usr/bin/ssh-keygen")) {
    if (ssh_dir.ok()) {
      GC_LOG(Warning) << root << "/usr/bin/ssh-keygen not found: no new ssh host keys made";
    }
    return Status::Ok();
  }
  GC_ASSIGN_OR_RETURN(DevBind dev, DevBind::Lend(root, runner));
  GC_ASSIGN_OR_RETURN(auto result, runner->Run({"chroot", root, "/usr/bin/ssh-keygen", "-A"}));
  GC_RETURN_IF_ERROR(dev.Release());
  if (result.exit_code != 0) {
    return IoError("chroot " + root + " ssh-keygen -A exited " + std::to_string(result.exit_code) +
                   ": " + result.stderr_text +
                   " (the image needs a working ssh-keygen to give the node its host keys)");
  }
  return Status::Ok();
}

Status ReplaceDbusMachineId(const std::string& root) {
  auto dir = OpenDirBeneath(root, "var/lib/dbus", false);
  if (!dir.ok()) return Status::Ok();
  struct stat st;
  if (::fstatat(dir->get(), "machine-id", &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) {
    return Status::Ok();
  }
  return SymlinkBeneath(root, "var/lib/dbus/machine-id", "/etc/machine-id");
}

// Fstab fields: device, mount point, then the rest as written.
bool SplitFstabLine(const std::string& line, std::vector<std::string>* fields) {
  std::string trimmed = Trim(line);
  if (trimmed.empty() || trimmed[0] == '#') return false;
  std::stringstream words(trimmed);
  std::string word;
  fields->clear();
  while (words >> word) fields->push_back(word);
  return fields->size() >= 2;
}

std::string Lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), ::tolower);
  return text;
}

bool NamesADisk(const std::string& device) {
  static const char* kPrefixes[] = {
      "UUID=",   "LABEL=",  "PARTUUID=", "PARTLABEL=", "/dev/disk/", "/dev/sd",
      "/dev/vd", "/dev/hd", "/dev/xvd",  "/dev/nvme",  "/dev/mmcblk"};
  for (const char* prefix : kPrefixes) {
    if (device.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

}  // namespace

std::string HostsFile(const std::string& hostname, const std::string& domain,
                      const std::string& ip) {
  std::string names = domain.empty() ? hostname : hostname + "." + domain + " " + hostname;
  return "127.0.0.1\tlocalhost\n" + (ip.empty() ? std::string("127.0.1.1") : ip) + "\t" + names +
         "\n\n::1\tlocalhost ip6-localhost ip6-loopback\nff02::1\tip6-allnodes\n"
         "ff02::2\tip6-allrouters\n";
}

std::string RewriteFstab(std::string_view fstab, const DiskPlan& plan) {
  std::map<std::string, std::string> renames;  // lowercased old name -> new name
  if (plan.replicated) {
    for (const auto& p : plan.partitions) {
      std::string by_uuid = p.uuid.empty() ? p.device : "UUID=" + p.uuid;
      if (!p.old_uuid.empty()) {
        renames[Lower("UUID=" + p.old_uuid)] = by_uuid;
        renames[Lower("/dev/disk/by-uuid/" + p.old_uuid)] = by_uuid;
      }
      if (!p.old_partuuid.empty()) {
        renames[Lower("PARTUUID=" + p.old_partuuid)] = "PARTUUID=" + p.partuuid;
        renames[Lower("/dev/disk/by-partuuid/" + p.old_partuuid)] = "PARTUUID=" + p.partuuid;
      }
      if (!p.old_device.empty()) renames[Lower(p.old_device)] = by_uuid;
    }
  }
  const PartitionPlan& root = plan.partitions[plan.root_index];
  std::string root_line = "UUID=" + root.uuid + " / " + root.fstype + " errors=remount-ro 0 1";
  std::string out;
  bool root_written = false;
  std::stringstream lines{std::string(fstab)};
  std::string line;
  std::vector<std::string> fields;
  while (std::getline(lines, line)) {
    if (!SplitFstabLine(line, &fields)) {
      out += line + "\n";
      continue;
    }
    if (plan.replicated) {
      auto it = renames.find(Lower(fields[0]));
      if (it == renames.end()) {
        out += line + "\n";
        continue;
      }
      fields[0] = it->second;
      std::string rebuilt;
      for (const auto& field : fields) rebuilt += (rebuilt.empty() ? "" : " ") + field;
      out += rebuilt + "\n";
    } else if (fields[1] == "/") {
      if (!root_written) out += root_line + "\n";
      root_written = true;
    } else if (!NamesADisk(fields[0])) {
      out += line + "\n";
    }
  }
  if (!plan.replicated && !root_written) out += root_line + "\n";
  // The default layout's other file systems: a UEFI node's ESP. nofail: the
  // running system does not need it, so a damaged one never stops a boot.
  for (const auto& p : plan.partitions) {
    if (plan.replicated || p.mountpoint.empty() || p.mountpoint == "/") continue;
    out += "UUID=" + p.uuid + " " + p.mountpoint + " " + p.fstype +
           (p.fstype == "vfat" ? " umask=0077,nofail 0 2\n" : " defaults,nofail 0 2\n");
  }
  return out;
}

std::string DisklessFstab(std::string_view fstab) {
  std::string out;
  std::stringstream lines{std::string(fstab)};
  std::string line;
  std::vector<std::string> fields;
  while (std::getline(lines, line)) {
    if (SplitFstabLine(line, &fields) && (fields[1] == "/" || NamesADisk(fields[0]))) continue;
    out += line + "\n";
  }
  return out;
}

Status WriteIdentity(const std::string& root, const IdentityOptions& options,
                     ProcessRunner* runner) {
  if (options.hostname.empty()) return InvalidArgument("no node name to write to etc/hostname");
  GC_RETURN_IF_ERROR(WriteFileBeneath(root, "etc/hostname", 0644, options.hostname + "\n"));
  GC_RETURN_IF_ERROR(WriteFileBeneath(root, "etc/hosts", 0644,
                                      HostsFile(options.hostname, options.domain, options.ip)));
  // A fresh machine-id: systemd, dbus and DHCP client ids derive from it.
  GC_RETURN_IF_ERROR(WriteFileBeneath(root, "etc/machine-id", 0444, RandomHex(16) + "\n"));
  GC_RETURN_IF_ERROR(ReplaceDbusMachineId(root));
  GC_RETURN_IF_ERROR(RegenerateSshHostKeys(root, runner));
  NodeAddress network = options.network;
  network.ip = options.ip;
  GC_RETURN_IF_ERROR(WriteNetworkConfig(root, network));
  if (options.fstab) GC_RETURN_IF_ERROR(WriteFileBeneath(root, "etc/fstab", 0644, *options.fstab));
  for (const auto& file : options.cluster_files) {
    Status valid = ValidateRelativePath(file.path);
    if (!valid.ok() || file.path == ".") {
      return InvalidArgument("cluster file path '" + file.path +
                             "': " + (valid.ok() ? "is the root" : valid.message()));
    }
    // The mode is the node's choice, not the plan's (protocol/cluster_file.h).
    GC_RETURN_IF_ERROR(WriteFileBeneath(root, file.path, ClusterFileMode(file.path), file.content));
  }
  GC_RETURN_IF_ERROR(
      WriteFileBeneath(root, "etc/goldcast/node.json", 0600, SerializeNodeConfig(options.config)));
  if (!options.agent_bundle.empty()) {
    GC_RETURN_IF_ERROR(InstallAgent(root, options.agent_bundle));
  }
  return Status::Ok();
}

Status InstallAgent(const std::string& root, const std::string& bundle_dir) {
  struct stat st;
  if (::stat((bundle_dir + "/goldcast-agent").c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return InvalidArgument("agent bundle " + bundle_dir +
                           " has no goldcast-agent wrapper (make one with "
                           "scripts/bundle-agent.sh, or pass --agent-bundle DIR)");
  }
  constexpr char kBundle[] = "usr/local/lib/goldcast-agent";
  GC_RETURN_IF_ERROR(RemoveBeneath(root, kBundle));
  GC_RETURN_IF_ERROR(CopyTreeInto(bundle_dir, root, kBundle));
  GC_RETURN_IF_ERROR(WriteFileBeneath(root, "usr/local/sbin/goldcast-agent", 0755, kAgentWrapper));
  auto systemd = OpenDirBeneath(root, "etc/systemd", false);
  if (!systemd.ok()) {
    GC_LOG(Info) << root << "/etc/systemd not found: start 'goldcast-agent run' by other means";
    return Status::Ok();
  }
  GC_RETURN_IF_ERROR(
      WriteFileBeneath(root, "etc/systemd/system/goldcast-agent.service", 0644, kAgentUnit));
  return SymlinkBeneath(root, "etc/systemd/system/multi-user.target.wants/goldcast-agent.service",
                        "/etc/systemd/system/goldcast-agent.service");
}

}  // namespace gc
