#include "node-agent/node_identity.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <memory>
#include <sstream>

#include "common/list_dir.h"
#include "common/log.h"
#include "common/manifest.h"
#include "common/text.h"

namespace gc {

namespace {

std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> parts;
  size_t begin = 0;
  while (begin <= path.size()) {
    size_t end = path.find('/', begin);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(begin, end - begin);
    if (!part.empty() && part != ".") parts.emplace_back(part);
    begin = end + 1;
  }
  return parts;
}

std::string JoinParts(const std::vector<std::string>& parts, size_t count) {
  std::string out;
  for (size_t k = 0; k < count; ++k) out += (k ? "/" : "") + parts[k];
  return out;
}

std::string Shown(const std::string& root, std::string_view relative) {
  return relative.empty() ? root : root + "/" + std::string(relative);
}

// Splits "a/b/c" into "a/b" and "c"; the name must be a real component.
Status SplitParent(std::string_view relative, std::string* parent, std::string* name) {
  auto parts = SplitPath(relative);
  if (parts.empty()) return InvalidArgument("empty path to write beneath the root");
  for (const auto& part : parts) {
    if (part == "..") return InvalidArgument("path '" + std::string(relative) + "' contains '..'");
  }
  *name = parts.back();
  *parent = JoinParts(parts, parts.size() - 1);
  return Status::Ok();
}

std::string TempName(const std::string& name) { return "." + name + ".gc-" + RandomHex(6); }

// Removes `name` in `dir_fd` and, for a directory, everything below it,
// never following a symlink.
Status RemoveAt(int dir_fd, const std::string& name, const std::string& shown) {
  struct stat st;
  if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return errno == ENOENT ? Status::Ok() : ErrnoError("stat " + shown);
  }
  if (S_ISDIR(st.st_mode)) {
    UniqueFd sub(::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!sub.valid()) return ErrnoError("open " + shown);
    GC_ASSIGN_OR_RETURN(auto names, ListDirFd(sub.get(), shown));
    for (const auto& child : names) {
      GC_RETURN_IF_ERROR(RemoveAt(sub.get(), child, shown + "/" + child));
    }
    if (::unlinkat(dir_fd, name.c_str(), AT_REMOVEDIR) != 0) return ErrnoError("remove " + shown);
    return Status::Ok();
  }
  if (::unlinkat(dir_fd, name.c_str(), 0) != 0 && errno != ENOENT) {
    return ErrnoError("remove " + shown);
  }
  return Status::Ok();
}

bool IsRegularBeneath(const std::string& root, const std::string& relative) {
  auto resolved = ResolveInRoot(root, relative);
  if (!resolved.ok()) return false;
  struct stat st;
  return ::lstat(Shown(root, *resolved).c_str(), &st) == 0 && S_ISREG(st.st_mode);
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
      GC_RETURN_IF_ERROR(WriteAllFd(out, std::string_view(buffer, n), Shown(root, dest)));
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
  GC_ASSIGN_OR_RETURN(auto result, runner->Run({"chroot", root, "/usr/bin/ssh-keygen", "-A"}));
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

Result<UniqueFd> OpenDirBeneath(const std::string& root, std::string_view relative, bool create) {
  UniqueFd dir(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) return ErrnoError("open target root " + root);
  auto parts = SplitPath(relative);
  for (size_t k = 0; k < parts.size(); ++k) {
    const std::string& part = parts[k];
    std::string shown = Shown(root, JoinParts(parts, k + 1));
    if (part == "..") return InvalidArgument("path " + shown + " contains '..'");
    int fd = ::openat(dir.get(), part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create) {
      if (::mkdirat(dir.get(), part.c_str(), 0755) != 0 && errno != EEXIST) {
        return ErrnoError("create directory " + shown);
      }
      fd = ::openat(dir.get(), part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0) {
      int err = errno;
      struct stat st;
      if ((err == ELOOP || err == ENOTDIR) &&
          ::fstatat(dir.get(), part.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
          S_ISLNK(st.st_mode)) {
        return InvalidArgument(shown +
                               " is a symlink; the installer never writes through one (it could "
                               "lead outside the target root): make it a directory in the image");
      }
      if (err == ENOTDIR) return InvalidArgument(shown + " is not a directory");
      return ErrnoError("open directory " + shown, err);
    }
    dir.Reset(fd);
  }
  return dir;
}

Status WriteAllFd(int fd, std::string_view data, std::string_view what) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("write " + std::string(what));
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

Status WriteFileBeneath(const std::string& root, std::string_view relative, mode_t mode,
                        const std::function<Status(int fd)>& fill) {
  std::string parent, name;
  GC_RETURN_IF_ERROR(SplitParent(relative, &parent, &name));
  GC_ASSIGN_OR_RETURN(UniqueFd dir, OpenDirBeneath(root, parent, true));
  std::string shown = Shown(root, relative);
  std::string temp = TempName(name);
  UniqueFd file(::openat(dir.get(), temp.c_str(),
                         O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!file.valid()) return ErrnoError("create " + shown);
  Status status = fill(file.get());
  if (status.ok() && ::fchmod(file.get(), mode) != 0) status = ErrnoError("chmod " + shown);
  if (status.ok() && ::renameat(dir.get(), temp.c_str(), dir.get(), name.c_str()) != 0) {
    status = ErrnoError("rename into place " + shown);
  }
  if (!status.ok()) ::unlinkat(dir.get(), temp.c_str(), 0);
  return status;
}

Status WriteFileBeneath(const std::string& root, std::string_view relative, mode_t mode,
                        std::string_view data) {
  std::string shown = Shown(root, relative);
  return WriteFileBeneath(root, relative, mode,
                          [&](int fd) { return WriteAllFd(fd, data, shown); });
}

Status SymlinkBeneath(const std::string& root, std::string_view relative,
                      const std::string& target) {
  std::string parent, name;
  GC_RETURN_IF_ERROR(SplitParent(relative, &parent, &name));
  GC_ASSIGN_OR_RETURN(UniqueFd dir, OpenDirBeneath(root, parent, true));
  std::string temp = TempName(name);
  std::string shown = Shown(root, relative);
  if (::symlinkat(target.c_str(), dir.get(), temp.c_str()) != 0) {
    return ErrnoError("create symlink " + shown);
  }
  if (::renameat(dir.get(), temp.c_str(), dir.get(), name.c_str()) != 0) {
    Status status = ErrnoError("rename into place " + shown);
    ::unlinkat(dir.get(), temp.c_str(), 0);
    return status;
  }
  return Status::Ok();
}

Result<std::string> ReadFileBeneath(const std::string& root, std::string_view relative) {
  std::string parent, name;
  GC_RETURN_IF_ERROR(SplitParent(relative, &parent, &name));
  GC_ASSIGN_OR_RETURN(UniqueFd dir, OpenDirBeneath(root, parent, false));
  std::string shown = Shown(root, relative);
  UniqueFd file(::openat(dir.get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!file.valid()) return ErrnoError("open " + shown);
  std::string data;
  char buffer[1 << 16];
  for (;;) {
    ssize_t n = ::read(file.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("read " + shown);
    if (n == 0) return data;
    data.append(buffer, static_cast<size_t>(n));
  }
}

Status RemoveBeneath(const std::string& root, std::string_view relative) {
  std::string parent, name;
  GC_RETURN_IF_ERROR(SplitParent(relative, &parent, &name));
  auto dir = OpenDirBeneath(root, parent, false);
  if (!dir.ok()) return dir.status().code() == Code::kNotFound ? Status::Ok() : dir.status();
  return RemoveAt(dir->get(), name, Shown(root, relative));
}

Result<std::string> ResolveInRoot(const std::string& root, std::string_view relative) {
  std::vector<std::string> done;
  std::deque<std::string> todo;
  for (auto& part : SplitPath(relative)) todo.push_back(part);
  int links = 0;
  while (!todo.empty()) {
    std::string part = todo.front();
    todo.pop_front();
    if (part == "..") {
      if (!done.empty()) done.pop_back();  // ".." at the root stays at the root
      continue;
    }
    done.push_back(part);
    std::string candidate = Shown(root, JoinParts(done, done.size()));
    struct stat st;
    if (::lstat(candidate.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) continue;
    if (++links > 40) return InvalidArgument("too many symlinks resolving " + candidate);
    char target[4096];
    ssize_t n = ::readlink(candidate.c_str(), target, sizeof target - 1);
    if (n < 0) return ErrnoError("readlink " + candidate);
    std::string_view link(target, static_cast<size_t>(n));
    done.pop_back();
    if (!link.empty() && link[0] == '/') done.clear();
    auto parts = SplitPath(link);
    todo.insert(todo.begin(), parts.begin(), parts.end());
  }
  return JoinParts(done, done.size());
}

std::string RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  size_t got = 0;
  while (got < bytes) {
    ssize_t n = ::getrandom(raw.data() + got, bytes - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      // Without randomness every node would share its identity; stop here.
      std::fprintf(stderr, "goldcast-agent: getrandom failed: %d\n", errno);
      std::abort();
    }
    got += static_cast<size_t>(n);
  }
  static const char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char c : raw) {
    hex += kDigits[c >> 4];
    hex += kDigits[c & 15];
  }
  return hex;
}

std::string RandomUuid() {
  std::string hex = RandomHex(16);
  hex[12] = '4';                                                               // version 4
  hex[16] = "89ab"[std::strtoul(hex.substr(16, 1).c_str(), nullptr, 16) & 3];  // variant 10
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20);
}

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
  if (options.fstab) GC_RETURN_IF_ERROR(WriteFileBeneath(root, "etc/fstab", 0644, *options.fstab));
  for (const auto& file : options.cluster_files) {
    Status valid = ValidateRelativePath(file.path);
    if (!valid.ok() || file.path == ".") {
      return InvalidArgument("cluster file path '" + file.path +
                             "': " + (valid.ok() ? "is the root" : valid.message()));
    }
    GC_RETURN_IF_ERROR(WriteFileBeneath(root, file.path, file.mode & 07777, file.content));
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
