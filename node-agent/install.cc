#include "node-agent/install.h"

#include <fcntl.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <sstream>
#include <thread>
#include <tuple>

#include "common/env.h"
#include "common/log.h"
#include "common/progress.h"
#include "common/text.h"
#include "protocol/progress.h"

namespace gc {

namespace {

bool HasWord(std::string_view cmdline, std::string_view word) {
  std::stringstream words{std::string(cmdline)};
  std::string item;
  while (words >> item) {
    if (item == word) return true;
  }
  return false;
}

// ---- Progress: on the serial console and to the server ----

class Reporter {
 public:
  explicit Reporter(InstallServer* server) : server_(server) {}

  void Phase(const std::string& phase, const std::string& message) {
    Send(phase, std::nullopt, message, true);
  }
  // At most one report a second, but always the last one of a phase.
  void Count(const std::string& phase, uint64_t done, uint64_t total, const std::string& message) {
    Send(phase, std::make_pair(done, total), message, done >= total);
  }
  // "done" flips the node to local boot: worth a few tries.
  Status Done(const std::string& message) {
    Status status;
    for (int attempt = 0; attempt < 5; ++attempt) {
      if (attempt > 0) std::this_thread::sleep_for(std::chrono::seconds(attempt));
      status = Post("done", std::nullopt, message);
      if (status.ok()) break;
    }
    Print("done", std::nullopt, message);
    return status.WithContext("installed, but reporting 'done' to the server failed");
  }

 private:
  using Counts = std::optional<std::pair<uint64_t, uint64_t>>;

  void Print(const std::string& phase, const Counts& counts, const std::string& message) {
    std::string count =
        counts ? std::to_string(counts->first) + "/" + std::to_string(counts->second) + " " : "";
    std::fprintf(stderr, "goldcast-agent install: [%s] %s%s\n", phase.c_str(), count.c_str(),
                 message.c_str());
  }

  Status Post(const std::string& phase, const Counts& counts, const std::string& message) {
    ProgressReport report{phase, 0, 0, message};
    if (counts) std::tie(report.done, report.total) = *counts;
    return server_->PostProgress(EncodeProgress(report));
  }

  void Send(const std::string& phase, const Counts& counts, const std::string& message,
            bool force) {
    auto now = std::chrono::steady_clock::now();
    if (!force && now - last_ < std::chrono::seconds(1)) return;
    last_ = now;
    Print(phase, counts, message);
    Status status = Post(phase, counts, message);
    if (!status.ok() && !warned_) {
      warned_ = true;  // once: the install goes on without the server's view
      GC_LOG(Warning) << "reporting progress failed (the install goes on): " << status.message();
    }
  }

  InstallServer* server_;
  std::chrono::steady_clock::time_point last_{};
  bool warned_ = false;
};

class NodeApiServer : public InstallServer {
 public:
  explicit NodeApiServer(NodeClient* client) : client_(client) {}
  Result<std::string> Get(const std::string& path) override { return client_->Get(path); }
  Result<Manifest> GetManifest(const std::string& image_ref) override {
    return client_->GetManifest(image_ref);
  }
  Result<Manifest> GetKernelModulesManifest(const std::string& kernel_ref) override {
    return client_->GetKernelModulesManifest(kernel_ref);
  }
  Status Download(const std::string& path,
                  const std::function<Status(std::string_view)>& sink) override {
    return client_->Download(path, sink);
  }
  Status PostProgress(const std::string& body) override {
    return client_->PostJson("/v1/node/progress", body).status();
  }
  ObjectSource* objects() override { return client_->objects(); }

 private:
  NodeClient* client_;
};

// One install: the steps share the plan, the disk and what is mounted.
class Installer {
 public:
  Installer(const InstallOptions& options, const NodeConfig& config, InstallServer* server,
            ProcessRunner* runner)
      : options_(options), config_(config), server_(server), runner_(runner), report_(server) {}

  Status Run() {
    Status status = Steps();
    if (!status.ok()) {
      report_.Phase("failed", status.message());
      UnmountAll();
    }
    return status;
  }

 private:
  Status Steps() {
    bool diskless = !options_.diskless_root.empty();
    bool disk_mode = options_.target_root.empty() && !diskless;
    if (disk_mode && !options_.yes_erase) {
      auto cmdline = Env::Default()->ReadFile(options_.paths.proc_dir + "/cmdline");
      if (!cmdline.ok() || !HasWord(*cmdline, "goldcast.mode=install")) {
        return InvalidArgument(
            "refusing to erase a disk outside the goldcast installer (no goldcast.mode=install "
            "on the kernel command line): pass --yes-erase to erase it anyway, or --target-root "
            "DIR to install into a directory");
      }
    }
    GC_ASSIGN_OR_RETURN(std::string plan_text, WaitForPlan());
    GC_ASSIGN_OR_RETURN(plan_, DecodeInstallPlan(plan_text));
    if (plan_.node_name != config_.node) {
      return InvalidArgument("the server's plan is for node '" + plan_.node_name +
                             "' but this node is '" + config_.node + "'");
    }
    if (disk_mode) {
      GC_RETURN_IF_ERROR(PrepareDisk());
    } else {
      root_ = diskless ? options_.diskless_root : options_.target_root;
    }
    GC_RETURN_IF_ERROR(WriteImage());
    if (plan_.has_kernel) GC_RETURN_IF_ERROR(InstallKernel());
    GC_RETURN_IF_ERROR(WriteNodeIdentity());
    if (disk_mode) GC_RETURN_IF_ERROR(InstallBoot());
    if (diskless) {
      // No "done": the server would make the node boot its (absent) disk.
      // Its heartbeats from the new root mark it diskless.
      std::fprintf(stderr, "goldcast-agent install: [diskless] %s ready in %s\n",
                   plan_.node_name.c_str(), root_.c_str());
      return Status::Ok();
    }
    ::sync();
    UnmountAll();
    return report_.Done(plan_.node_name + " installed with " + plan_.image_ref +
                        (disk_ ? " on " + disk_->disk.path : " in " + root_));
  }

  // The plan, asking again while the server's setup is not ready for it.
  Result<std::string> WaitForPlan() {
    for (int attempt = 1;; ++attempt) {
      Result<std::string> plan = server_->Get("/v1/node/plan");
      if (plan.ok() || plan.status().code() != Code::kFailedPrecondition) return plan;
      if (options_.plan_attempts > 0 && attempt >= options_.plan_attempts) return plan;
      std::string message = plan.status().message() + " (nothing was written; asking again in " +
                            std::to_string(options_.plan_retry_s) + " s)";
      GC_LOG(Warning) << "install: " << message;
      report_.Phase("failed", message);
      std::this_thread::sleep_for(std::chrono::seconds(options_.plan_retry_s));
    }
  }

  Status PrepareDisk() {
    GC_ASSIGN_OR_RETURN(std::string layout,
                        server_->Get("/v1/node/images/" + plan_.image_ref + "/layout"));
    // The node's firmware picks the boot loader: GRUB EFI comes from the
    // image, so an image without it is refused before anything is erased.
    if (Env::Default()->Exists(options_.paths.sys_dir + "/firmware/efi")) {
      firmware_ = Firmware::kUefi;
      GC_ASSIGN_OR_RETURN(image_, server_->GetManifest(plan_.image_ref));
      GC_RETURN_IF_ERROR(CheckImageHasGrubEfi(*image_, plan_.image_ref));
    }
    GC_ASSIGN_OR_RETURN(DiskInfo disk, ChooseDisk(options_.paths, options_.disk));
    GC_RETURN_IF_ERROR(CheckDiskNotInUse(options_.paths, disk));
    GC_ASSIGN_OR_RETURN(disk_, PlanDisk(layout, disk, plan_.image_bytes, firmware_));
    // Everything the boot loader needs is checked before the disk is erased.
    if (firmware_ == Firmware::kBios) {
      GC_ASSIGN_OR_RETURN(mbr_code_, LoadMbrCode(*disk_, options_.syslinux_dir));
    }
    report_.Phase(
        "partition",
        "erasing " + disk.path + " (" + FormatBytes(disk.bytes) + ", " +
            (options_.disk.empty() ? "first disk found" : "--disk") + "): " +
            (disk_->replicated ? "the golden client's " + disk_->label + " layout, " +
                                     std::to_string(disk_->partitions.size()) + " partitions"
             : disk_->esp_index ? "default layout, an EFI system partition and ext4"
                                : "default layout, one ext4 partition"));
    GC_RETURN_IF_ERROR(PartitionDisk(*disk_, options_.paths, runner_));
    report_.Phase("format", "making file systems on " + disk.path);
    GC_RETURN_IF_ERROR(MakeFileSystems(*disk_, runner_));
    GC_RETURN_IF_ERROR(Env::Default()->CreateDirs(options_.mount_dir));
    root_ = options_.mount_dir;
    return Status::Ok();
  }

  Status Mount(const PartitionPlan& partition, const std::string& dir) {
    GC_RETURN_IF_ERROR(MountPartition(partition, dir, runner_));
    mounted_.push_back(dir);
    return Status::Ok();
  }

  void UnmountAll() {
    while (!mounted_.empty()) {
      Status status = Unmount(mounted_.back(), runner_);
      if (!status.ok()) GC_LOG(Warning) << status.message();
      mounted_.pop_back();
    }
  }

  TreeWriteOptions WriteOptions(const std::string& phase, uint64_t offset, uint64_t total,
                                const std::string& message) {
    TreeWriteOptions write;
    write.progress = [this, phase, offset, total, message](uint64_t done, uint64_t, uint64_t) {
      report_.Count(phase, offset + done, total, message);
    };
    return write;
  }

  Status WriteImage() {
    std::string message = "writing image " + plan_.image_ref;
    report_.Phase("image", message);
    if (!image_) {
      GC_ASSIGN_OR_RETURN(image_, server_->GetManifest(plan_.image_ref));
    }
    const Manifest& manifest = *image_;
    uint64_t total = ComputeTotals(manifest).files;
    std::vector<const PartitionPlan*> order;
    std::vector<std::string> mountpoints;
    if (disk_) {
      order = MountOrder(*disk_);
      for (size_t k = 1; k < order.size(); ++k) {
        mountpoints.push_back(order[k]->mountpoint.substr(1));
      }
      GC_RETURN_IF_ERROR(Mount(*order[0], root_));
    }
    GC_ASSIGN_OR_RETURN(auto parts, SplitManifest(manifest, mountpoints));
    uint64_t offset = 0;
    for (const auto& [mountpoint, part] : parts) {
      std::string dir = root_;
      if (!mountpoint.empty()) {
        // Made by the parent's manifest (or now), and never a symlink.
        GC_RETURN_IF_ERROR(OpenDirBeneath(root_, mountpoint, true).status());
        dir = root_ + "/" + mountpoint;
        for (const auto* p : order) {
          if (p->mountpoint == "/" + mountpoint) {
            GC_RETURN_IF_ERROR(Mount(*p, dir));
          }
        }
      }
      GC_ASSIGN_OR_RETURN(auto stats, WriteTree(part, dir, server_->objects(),
                                                WriteOptions("image", offset, total, message)));
      offset += stats.files;
    }
    return Status::Ok();
  }

  Status InstallKernel() {
    const std::string& release = plan_.kernel_release;
    std::string base = "/v1/node/kernels/" + plan_.kernel_ref + "/";
    report_.Phase("kernel", "installing kernel " + plan_.kernel_ref + " (" + release + ")");
    GC_ASSIGN_OR_RETURN(Manifest modules, server_->GetKernelModulesManifest(plan_.kernel_ref));
    // Staged inside the image's own modules directory (lib may be a link
    // to usr/lib, on another file system), so the final move is a rename.
    GC_ASSIGN_OR_RETURN(std::string modules_dir, ResolveInRoot(root_, "lib/modules"));
    std::string staging = modules_dir + "/.goldcast-staging";
    GC_RETURN_IF_ERROR(RemoveBeneath(root_, staging));
    GC_RETURN_IF_ERROR(OpenDirBeneath(root_, staging, true).status());
    uint64_t total = ComputeTotals(modules).files;
    GC_RETURN_IF_ERROR(WriteTree(modules, root_ + "/" + staging, server_->objects(),
                                 WriteOptions("kernel", 0, total, "kernel modules " + release))
                           .status());
    std::string built = staging + "/lib/modules/" + release;
    auto built_dir = OpenDirBeneath(root_, built, false);
    if (built_dir.ok()) {
      GC_RETURN_IF_ERROR(RemoveBeneath(root_, modules_dir + "/" + release));
      if (::rename((root_ + "/" + built).c_str(),
                   (root_ + "/" + modules_dir + "/" + release).c_str()) != 0) {
        return ErrnoError("move kernel modules into " + root_ + "/" + modules_dir + "/" + release);
      }
    } else if (plan_.kernel_has_modules) {
      return Corrupt("the modules of kernel " + plan_.kernel_ref + " hold no lib/modules/" +
                     release + "; rebuild the kernel artifact");
    }
    GC_RETURN_IF_ERROR(RemoveBeneath(root_, staging));
    for (const char* name : {"vmlinuz", "System.map", "config"}) {
      std::string dest = std::string("boot/") + name + "-" + release;
      GC_RETURN_IF_ERROR(WriteFileBeneath(root_, dest, 0644, [&](int fd) {
        return server_->Download(base + name, [&](std::string_view chunk) {
          return WriteAllFd(fd, chunk, root_ + "/" + dest);
        });
      }));
    }
    return Status::Ok();
  }

  Status WriteNodeIdentity() {
    report_.Phase("identity", "writing the identity of " + plan_.node_name);
    IdentityOptions identity;
    identity.hostname = plan_.node_name;
    identity.domain = plan_.domain;
    identity.ip = plan_.ip;
    identity.config = config_;
    identity.config.image = plan_.image_ref;
    identity.config.kernel = plan_.has_kernel ? plan_.kernel_ref : "";
    identity.config.cluster_files.clear();
    for (const auto& file : plan_.cluster_files) identity.config.cluster_files.push_back(file.path);
    identity.cluster_files = plan_.cluster_files;
    if (disk_ || !options_.diskless_root.empty()) {
      auto fstab = ReadFileBeneath(root_, "etc/fstab");
      if (!fstab.ok() && fstab.status().code() != Code::kNotFound) return fstab.status();
      std::string text = fstab.ok() ? *fstab : "";
      identity.fstab = disk_ ? RewriteFstab(text, *disk_) : DisklessFstab(text);
    }
    if (!plan_.ip.empty()) {
      // The address DHCP gave this installer is the node's: its interface
      // tells the prefix, MAC and gateway the network config needs.
      auto route = Env::Default()->ReadFile(options_.paths.proc_dir + "/net/route");
      auto found = FindNodeAddress(plan_.ip, route.ok() ? *route : "");
      if (found.ok()) identity.network = *found;
    }
    identity.agent_bundle =
        options_.agent_bundle.empty() ? FindAgentBundle(options_.paths) : options_.agent_bundle;
    if (identity.agent_bundle.empty()) {
      GC_LOG(Warning) << "not running from an agent bundle and no --agent-bundle: the node gets "
                         "no goldcast-agent (it will not heartbeat unless the image has one)";
    }
    return WriteIdentity(root_, identity, runner_);
  }

  Status InstallBoot() {
    if (firmware_ == Firmware::kUefi) {
      const PartitionPlan& esp = disk_->partitions[disk_->esp_index.value()];
      report_.Phase("bootloader", "installing GRUB EFI (EFI/BOOT/BOOTX64.EFI) on " + esp.device);
      GC_ASSIGN_OR_RETURN(BootEntry entry, MakeBootEntry(plan_, *disk_, root_));
      return InstallGrubEfi(*disk_, root_, GrubEfiConfig(entry), runner_);
    }
    report_.Phase("bootloader", "installing extlinux on " + disk_->disk.path);
    GC_ASSIGN_OR_RETURN(BootEntry entry, MakeBootEntry(plan_, *disk_, root_));
    GC_RETURN_IF_ERROR(
        WriteFileBeneath(root_, "boot/extlinux/extlinux.conf", 0644, ExtlinuxConfig(entry)));
    return InstallBootloader(*disk_, root_ + "/boot/extlinux", mbr_code_, runner_);
  }

  const InstallOptions& options_;
  const NodeConfig& config_;
  InstallServer* server_;
  ProcessRunner* runner_;
  Reporter report_;
  InstallPlan plan_;
  std::optional<DiskPlan> disk_;
  Firmware firmware_ = Firmware::kBios;
  std::optional<Manifest> image_;  // fetched early on UEFI nodes, to check for GRUB
  std::string mbr_code_;
  std::string root_;
  std::vector<std::string> mounted_;
};

}  // namespace

std::unique_ptr<InstallServer> MakeInstallServer(NodeClient* client) {
  return std::make_unique<NodeApiServer>(client);
}

Result<std::vector<std::pair<std::string, Manifest>>> SplitManifest(
    const Manifest& manifest, const std::vector<std::string>& mountpoints) {
  std::vector<std::string> sorted = mountpoints;
  // Parents first; a path belongs to the deepest mount point above it.
  std::sort(sorted.begin(), sorted.end(),
            [](const std::string& a, const std::string& b) { return ComparePaths(a, b) < 0; });
  std::vector<std::pair<std::string, Manifest>> parts;
  parts.emplace_back("", Manifest{});
  for (const auto& mountpoint : sorted) parts.emplace_back(mountpoint, Manifest{});
  auto owner = [&](const std::string& path) {
    size_t best = 0;
    for (size_t k = 1; k < parts.size(); ++k) {
      const std::string& mp = parts[k].first;
      if (path.size() > mp.size() && path.compare(0, mp.size(), mp) == 0 &&
          path[mp.size()] == '/') {
        best = k;  // sorted parents first, so a deeper match comes later
      }
    }
    return best;
  };
  auto strip = [&](size_t part, const std::string& path) {
    return part == 0 ? path : path.substr(parts[part].first.size() + 1);
  };
  for (const auto& entry : manifest.entries) {
    size_t part = owner(entry.path);
    Entry copy = entry;
    copy.path = strip(part, entry.path);
    if (entry.type == EntryType::kHardlink) {
      if (owner(entry.target) != part) {
        return InvalidArgument("image: hardlink " + entry.path + " -> " + entry.target +
                               " crosses a mount point of the layout");
      }
      copy.target = strip(part, entry.target);
    }
    parts[part].second.entries.push_back(std::move(copy));
    for (size_t k = 1; k < parts.size(); ++k) {
      if (parts[k].first != entry.path) continue;
      if (entry.type != EntryType::kDir) {
        return InvalidArgument("image: " + entry.path + " is a " + EntryTypeName(entry.type) +
                               " but the layout mounts a file system there");
      }
      Entry top = entry;
      top.path = ".";
      parts[k].second.entries.push_back(std::move(top));
    }
  }
  for (size_t k = 1; k < parts.size(); ++k) {
    auto& entries = parts[k].second.entries;
    if (entries.empty() || entries[0].path != ".") {
      Entry top;  // the image has no such directory: an empty root for it
      top.path = ".";
      top.type = EntryType::kDir;
      top.mode = 0755;
      entries.insert(entries.begin(), top);
    }
  }
  return parts;
}

Result<BootEntry> MakeBootEntry(const InstallPlan& plan, const DiskPlan& disk,
                                const std::string& root) {
  std::string prefix = BootPathPrefix(disk);
  std::string common = " rw console=ttyS0,115200 goldcast.node=" + plan.node_name;
  if (plan.has_kernel) common += " goldcast.kernel=" + plan.kernel_ref;
  common += " goldcast.image=" + plan.image_ref;
  if (!plan.kernel_args.empty()) common += " " + plan.kernel_args;
  BootEntry entry;
  entry.boot_uuid = disk.partitions[disk.boot_index].uuid;
  if (plan.has_kernel) {
    // The artifact's kernel has no initramfs: only PARTUUID works for it,
    // and rootwait covers disks that are probed asynchronously.
    entry.kernel = prefix + "/vmlinuz-" + plan.kernel_release;
    entry.append = "root=" + RootArgument(disk, true) + " rootwait" + common;
    return entry;
  }
  GC_RETURN_IF_ERROR(OpenDirBeneath(root, "boot", false).status());
  GC_ASSIGN_OR_RETURN(auto names, Env::Default()->ListDir(root + "/boot"));
  std::string newest = NewestVmlinuzRelease(names);
  if (newest.empty()) {
    return NotFound(
        "the image has no /boot/vmlinuz-* and the plan names no kernel artifact: "
        "assign a kernel to the node's group or install a kernel in the image");
  }
  entry.kernel = prefix + "/vmlinuz-" + newest;
  struct stat st;
  if (::lstat((root + "/boot/initrd.img-" + newest).c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
    entry.initrd = prefix + "/initrd.img-" + newest;
  }
  entry.append = "root=" + RootArgument(disk, false) + common;
  return entry;
}

std::string FindAgentBundle(const SystemPaths& paths) {
  char target[4096];
  ssize_t n = ::readlink((paths.proc_dir + "/self/exe").c_str(), target, sizeof target - 1);
  if (n <= 0) return "";
  std::string exe(target, static_cast<size_t>(n));
  std::string lib = exe.substr(0, exe.rfind('/'));
  size_t slash = lib.rfind('/');
  if (slash == std::string::npos || lib.substr(slash + 1) != "lib") return "";
  std::string bundle = lib.substr(0, slash);
  struct stat st;
  if (::stat((lib + "/goldcast-agent.bin").c_str(), &st) != 0 ||
      ::stat((bundle + "/goldcast-agent").c_str(), &st) != 0) {
    return "";
  }
  return bundle.empty() ? "/" : bundle;
}

Status RunInstall(const InstallOptions& options, const NodeConfig& config, InstallServer* server,
                  ProcessRunner* runner) {
  return Installer(options, config, server, runner).Run();
}

namespace {
// The redeemed secret, 0600 from creation, for a later try on this boot.
Status KeepSecret(const std::string& path, const std::string& secret) {
  GC_ASSIGN_OR_RETURN(auto file, Env::Default()->NewWritableFile(path, 0600));
  GC_RETURN_IF_ERROR(file->Append(secret + "\n"));
  return file->Close();
}
}  // namespace

Status RunInstallCommand(const InstallOptions& options) {
  NodeConfig config;
  Env* env = Env::Default();
  std::string secret = options.secret;
  // A second try on the same boot: the token is spent, the secret it
  // bought is kept here.
  std::string secret_file = options.secret_file;
  bool cached = secret.empty() && secret_file.empty() && !options.secret_cache.empty() &&
                env->Exists(options.secret_cache);
  if (cached) secret_file = options.secret_cache;
  if (!secret_file.empty()) {
    GC_ASSIGN_OR_RETURN(std::string text, env->ReadFile(secret_file));
    secret = Trim(text);
  }
  bool need_cmdline =
      options.server.empty() || options.node.empty() || (secret.empty() && options.token.empty());
  if (need_cmdline) {
    std::string path = options.paths.proc_dir + "/cmdline";
    GC_ASSIGN_OR_RETURN(std::string cmdline, Env::Default()->ReadFile(path));
    auto parsed = NodeConfigFromCmdline(cmdline);
    if (!parsed.ok()) {
      return InvalidArgument(parsed.status().message() +
                             "; pass --server, --node and --token (or --secret), or boot with "
                             "the boot script of goldcast serve");
    }
    config = *parsed;
  }
  if (!options.server.empty()) config.server = options.server;
  if (!options.pin.empty()) config.pin = options.pin;
  if (!options.node.empty()) config.node = options.node;
  if (!options.token.empty()) config.token = options.token;
  if (!secret.empty()) config.secret = secret;
  NodeClient client(config);
  // The first thing the node says: spend the token before anyone else can.
  GC_RETURN_IF_ERROR(client.Redeem());
  if (!cached && !options.secret_cache.empty() && secret.empty()) {
    GC_RETURN_IF_ERROR(KeepSecret(options.secret_cache, client.config().secret));
  }
  auto server = MakeInstallServer(&client);
  GC_RETURN_IF_ERROR(RunInstall(options, client.config(), server.get(), ProcessRunner::Default()));
  if (options.reboot) {
    ::sync();
    std::fprintf(stderr, "goldcast-agent install: rebooting\n");
    if (::reboot(RB_AUTOBOOT) != 0) return ErrnoError("reboot");
  }
  return Status::Ok();
}

}  // namespace gc
