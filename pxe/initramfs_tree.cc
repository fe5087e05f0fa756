#include "pxe/initramfs_tree.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>

#include "common/cpio_writer.h"
#include "common/hash.h"
#include "pxe/installer_resources.h"

namespace gc {

void InitramfsTree::Put(const std::string& path, Node node) {
  for (size_t slash = path.find('/'); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    nodes_.try_emplace(path.substr(0, slash), Node{});
  }
  nodes_[path] = std::move(node);
}

void InitramfsTree::AddDir(const std::string& path, uint32_t mode) {
  Put(path, Node{Kind::kDir, mode, "", 0, 0});
}
void InitramfsTree::AddFile(const std::string& path, uint32_t mode, std::string content) {
  Put(path, Node{Kind::kFile, mode, std::move(content), 0, 0});
}
void InitramfsTree::AddSymlink(const std::string& path, std::string target) {
  Put(path, Node{Kind::kSymlink, 0777, std::move(target), 0, 0});
}
void InitramfsTree::AddCharDevice(const std::string& path, uint32_t mode, uint32_t major,
                                  uint32_t minor) {
  Put(path, Node{Kind::kCharDevice, mode, "", major, minor});
}

std::vector<std::string> InitramfsTree::Paths() const {
  std::vector<std::string> paths;
  for (const auto& [path, node] : nodes_) paths.push_back(path);
  return paths;
}

uint64_t InitramfsTree::FileBytes() const {
  uint64_t total = 0;
  for (const auto& [path, node] : nodes_) {
    if (node.kind == Kind::kFile) total += node.data.size();
  }
  return total;
}

Status InitramfsTree::WriteCpio(const std::string& path) const {
  GC_ASSIGN_OR_RETURN(auto writer, CpioWriter::Create(path));
  // std::map orders "a" before "a/b": every directory precedes its entries,
  // which the kernel's unpacker needs (it creates no parents).
  for (const auto& [name, node] : nodes_) {
    switch (node.kind) {
      case Kind::kDir:
        GC_RETURN_IF_ERROR(writer->AddDirectory(name, node.mode));
        break;
      case Kind::kFile:
        GC_RETURN_IF_ERROR(writer->AddFile(name, node.mode, node.data));
        break;
      case Kind::kSymlink:
        GC_RETURN_IF_ERROR(writer->AddSymlink(name, node.data));
        break;
      case Kind::kCharDevice:
        GC_RETURN_IF_ERROR(writer->AddCharDevice(name, node.mode, node.major, node.minor));
        break;
    }
  }
  return writer->Finish();
}

Result<std::vector<std::string>> ParseLddOutput(std::string_view text, const std::string& binary) {
  std::vector<std::string> paths;
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    size_t arrow = line.find("=> ");
    if (arrow != std::string_view::npos) {
      std::string_view target = line.substr(arrow + 3);
      if (target.rfind("not found", 0) == 0) {
        size_t start = line.find_first_not_of(" \t");
        return NotFound(binary + " needs " +
                        std::string(line.substr(start, line.find(' ', start) - start)) +
                        ", which ldd cannot find on this host");
      }
      line = target;
    }
    size_t start = line.find_first_not_of(" \t");
    if (start == std::string_view::npos || line[start] != '/') continue;  // linux-vdso.so.1
    line.remove_prefix(start);
    paths.emplace_back(line.substr(0, line.find_first_of(" \t")));
  }
  return paths;
}

namespace {

Result<std::vector<std::string>> Libraries(ProcessRunner* runner, const std::string& binary) {
  auto result = runner->Run({"ldd", binary});
  if (!result.ok() && result.status().code() == Code::kNotFound) {
    return NotFound("ldd not found; install libc-bin");
  }
  GC_RETURN_IF_ERROR(result.status());
  // A static binary: ldd exits 1 with "not a dynamic executable".
  if (result->exit_code != 0) return std::vector<std::string>{};
  return ParseLddOutput(result->stdout_text, binary);
}

std::string FindTool(const HostFiles& host, const std::string& name) {
  for (const auto& dir : host.search_dirs) {
    std::error_code ec;
    auto path = std::filesystem::canonical(JoinPath(dir, name), ec);
    if (!ec) return path.string();
  }
  return "";
}

Status AddBusybox(const HostFiles& host, ProcessRunner* runner, Env* env, InitramfsTree* tree) {
  auto content = env->ReadFile(host.busybox);
  if (!content.ok()) {
    return NotFound(host.busybox + " not found; install busybox-static (" +
                    content.status().message() + ")");
  }
  GC_ASSIGN_OR_RETURN(auto libraries, Libraries(runner, host.busybox));
  if (!libraries.empty()) {
    return InvalidArgument(host.busybox +
                           " is dynamically linked; install busybox-static (the initramfs "
                           "has no C library for it)");
  }
  tree->AddFile("bin/busybox", 0755, std::move(content).value());
  for (const char* applet :
       {"sh",     "mount",    "umount", "ip",  "ifconfig", "route",  "udhcpc",
        "reboot", "poweroff", "sleep",  "cat", "echo",     "sync",   "chroot",
        "mkdir",  "blockdev", "partx",  "ls",  "dmesg",    "insmod", "switch_root"}) {
    tree->AddSymlink(std::string("bin/") + applet, "busybox");
  }
  return Status::Ok();
}

}  // namespace

Status AddHostFiles(const HostFiles& host, ProcessRunner* runner, Env* env, InitramfsTree* tree) {
  GC_RETURN_IF_ERROR(AddBusybox(host, runner, env, tree));
  for (const char* dir :
       {"sbin", "dev", "proc", "sys", "etc", "tmp", "mnt", "usr/bin", "usr/sbin", "opt"}) {
    tree->AddDir(dir);
  }
  auto mbr = env->ReadFile(host.mbr);
  if (!mbr.ok()) return NotFound(host.mbr + " not found; install syslinux-common");
  tree->AddFile("usr/lib/syslinux/mbr/mbr.bin", 0644, std::move(mbr).value());
  for (const HostTool& tool : host.tools) {
    std::string path = FindTool(host, tool.name);
    if (path.empty()) return NotFound("'" + tool.name + "' not found; install " + tool.package);
    GC_ASSIGN_OR_RETURN(std::string content, env->ReadFile(path));
    tree->AddFile("sbin/" + tool.name, 0755, std::move(content));
    GC_ASSIGN_OR_RETURN(auto libraries, Libraries(runner, path));
    for (const std::string& library : libraries) {
      std::string relative = library.substr(1);
      if (tree->Has(relative)) continue;
      GC_ASSIGN_OR_RETURN(std::string bytes, env->ReadFile(library));  // follows symlinks
      tree->AddFile(relative, 0755, std::move(bytes));
    }
  }
  if (env->Exists(host.mke2fs_conf)) {
    GC_ASSIGN_OR_RETURN(std::string conf, env->ReadFile(host.mke2fs_conf));
    tree->AddFile("etc/mke2fs.conf", 0644, std::move(conf));
  }
  return Status::Ok();
}

Result<std::vector<BundleFile>> ReadAgentBundle(const std::string& dir, Env* env) {
  std::error_code ec;
  auto wrapper = std::filesystem::status(JoinPath(dir, "goldcast-agent"), ec);
  if (ec || !std::filesystem::is_regular_file(wrapper) ||
      (wrapper.permissions() & std::filesystem::perms::owner_exec) ==
          std::filesystem::perms::none) {
    return NotFound(dir +
                    " holds no goldcast-agent bundle (make one with scripts/bundle-agent.sh "
                    "BUILD/node-agent/goldcast-agent DIR, from a Release build, and pass "
                    "--agent-bundle DIR)");
  }
  std::vector<BundleFile> files;
  std::filesystem::recursive_directory_iterator it(dir, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    std::string path = it->path().string();
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) return ErrnoError(path);
    BundleFile file;
    // lexically: relative() would follow a symlink to its target.
    file.path = it->path().lexically_relative(dir).string();
    file.mode = st.st_mode & 07777;
    if (S_ISDIR(st.st_mode)) continue;
    if (S_ISLNK(st.st_mode)) {
      file.symlink = true;
      file.data = std::filesystem::read_symlink(it->path(), ec).string();
    } else if (S_ISREG(st.st_mode)) {
      GC_ASSIGN_OR_RETURN(file.data, env->ReadFile(path));
    } else {
      return InvalidArgument(path + ": the agent bundle holds only files and symlinks");
    }
    files.push_back(std::move(file));
  }
  if (ec) return IoError(dir + ": " + ec.message());
  std::sort(files.begin(), files.end(),
            [](const BundleFile& a, const BundleFile& b) { return a.path < b.path; });
  return files;
}

std::string HashAgentBundle(const std::vector<BundleFile>& files) {
  Sha256 hash;
  for (const BundleFile& file : files) {
    std::string header = file.path + '\0' + std::to_string(file.mode) + '\0' +
                         (file.symlink ? "l" : "f") + '\0' + std::to_string(file.data.size()) +
                         '\0';
    hash.Update(header);
    hash.Update(file.data);
  }
  return hash.FinishHex();
}

void AddInitFiles(const std::vector<std::string>& modules, InitramfsTree* tree) {
  tree->AddFile("init", 0755, std::string(kInstallerInit));
  tree->AddFile("etc/udhcpc.script", 0755, std::string(kInstallerUdhcpcScript));
  std::string list;
  for (const auto& module : modules) list += module + "\n";
  tree->AddFile("etc/goldcast/modules", 0644, std::move(list));
  tree->AddCharDevice("dev/console", 0600, 5, 1);
}

}  // namespace gc
