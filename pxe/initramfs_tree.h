// The installer's initramfs as a tree in memory, filled from the host
// (busybox-static, the tools the installer runs with their libraries, the
// agent bundle) and written as one gzip-compressed newc cpio.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/env.h"
#include "common/status.h"
#include "common/subprocess.h"

namespace gc {

class InitramfsTree {
 public:
  // Paths are relative ("bin/busybox"); missing parent directories are
  // added (0755). A later Add of the same path replaces the earlier.
  void AddDir(const std::string& path, uint32_t mode = 0755);
  void AddFile(const std::string& path, uint32_t mode, std::string content);
  void AddSymlink(const std::string& path, std::string target);
  void AddCharDevice(const std::string& path, uint32_t mode, uint32_t major, uint32_t minor);

  bool Has(const std::string& path) const { return nodes_.count(path) > 0; }
  // Every path, parents before what they hold.
  std::vector<std::string> Paths() const;
  uint64_t FileBytes() const;

  // Writes the tree to `path` (gzip newc cpio).
  Status WriteCpio(const std::string& path) const;

 private:
  enum class Kind { kDir, kFile, kSymlink, kCharDevice };
  struct Node {
    Kind kind = Kind::kDir;
    uint32_t mode = 0755;
    std::string data;  // file content or symlink target
    uint32_t major = 0, minor = 0;
  };
  void Put(const std::string& path, Node node);

  std::map<std::string, Node> nodes_;  // path order: a directory before its entries
};

// A program the installer runs and the Debian package that has it.
struct HostTool {
  std::string name;
  std::string package;
};

// Where the host's files come from; tests point them at a temp dir.
struct HostFiles {
  std::string busybox = "/bin/busybox";               // must be static
  std::string mbr = "/usr/lib/syslinux/mbr/mbr.bin";  // extlinux's BIOS MBR
  std::string mke2fs_conf = "/etc/mke2fs.conf";       // copied when present
  std::vector<std::string> search_dirs = {"/usr/sbin", "/usr/bin", "/sbin", "/bin"};
  std::vector<HostTool> tools = {{"sfdisk", "fdisk"},
                                 {"mkfs.ext4", "e2fsprogs"},
                                 {"extlinux", "extlinux"},
                                 {"blkid", "util-linux"},
                                 {"mkfs.vfat", "dosfstools"}};
};

// The shared libraries (and the loader) in `ldd` output, as absolute
// paths; a library ldd did not find is an error naming it and `binary`.
Result<std::vector<std::string>> ParseLddOutput(std::string_view text, const std::string& binary);

// busybox (refused unless static) and the applets /init uses, the tools at
// sbin/NAME with every library ldd names at the path it names (so the
// loader path baked into each binary works), the MBR and mke2fs.conf.
// Errors name the Debian package to install.
Status AddHostFiles(const HostFiles& host, ProcessRunner* runner, Env* env, InitramfsTree* tree);

// The agent bundle (scripts/bundle-agent.sh: goldcast-agent and lib/), as
// relative paths with modes and content, sorted; what the initramfs carries
// at opt/goldcast-agent/ and what the installer's cache key hashes.
struct BundleFile {
  std::string path;
  uint32_t mode = 0;
  bool symlink = false;
  std::string data;  // content, or the symlink's target
};
Result<std::vector<BundleFile>> ReadAgentBundle(const std::string& dir, Env* env);
std::string HashAgentBundle(const std::vector<BundleFile>& files);

// /init (pxe/installer_init.sh), the udhcpc hook and /dev/console; /init
// insmods the paths in `modules` (absolute in the initramfs), in order.
void AddInitFiles(const std::vector<std::string>& modules, InitramfsTree* tree);

}  // namespace gc
