#include "pxe/module_deps.h"

#include <algorithm>
#include <functional>

#include "common/text.h"

namespace gc {

std::string ModuleName(std::string_view path_or_name) {
  size_t slash = path_or_name.rfind('/');
  std::string name(slash == std::string_view::npos ? path_or_name : path_or_name.substr(slash + 1));
  size_t ko = name.find(".ko");
  if (ko != std::string::npos) name.resize(ko);
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

namespace {

std::vector<std::string> SplitWords(std::string_view text) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    size_t start = i;
    while (i < text.size() && text[i] != ' ' && text[i] != '\t') ++i;
    if (i > start) words.emplace_back(text.substr(start, i - start));
  }
  return words;
}

template <typename Visit>
void ForEachLine(std::string_view text, Visit visit) {
  size_t line_no = 0;
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    ++line_no;
    visit(line, line_no);
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
}

}  // namespace

Result<ModuleDeps> ParseModuleDeps(std::string_view modules_dep, std::string_view modules_builtin,
                                   std::string_view source) {
  ModuleDeps out;
  Status status;
  ForEachLine(modules_dep, [&](std::string_view line, size_t line_no) {
    if (!status.ok() || Trim(line).empty()) return;
    size_t colon = line.find(':');
    std::string path = colon == std::string_view::npos ? "" : Trim(line.substr(0, colon));
    if (path.empty() || path.find(".ko") == std::string::npos) {
      status = Corrupt(std::string(source) + ":" + std::to_string(line_no) +
                       ": expected 'path.ko: dependencies' (regenerate it with depmod)");
      return;
    }
    out.path_of[ModuleName(path)] = path;
    out.deps_of[path] = SplitWords(line.substr(colon + 1));
  });
  GC_RETURN_IF_ERROR(status);
  ForEachLine(modules_builtin, [&](std::string_view line, size_t) {
    std::string path = Trim(line);
    if (!path.empty()) out.builtin.insert(ModuleName(path));
  });
  return out;
}

const std::vector<WantedModule>& InstallerModules() {
  static const std::vector<WantedModule> modules = {
      {"virtio_pci", true},
      {"virtio_blk", true},
      {"virtio_net", true},
      {"ext4", true},
      {"vfat", true},
      {"af_packet", false},
      {"crc32c_generic", false},
      {"crc32c_intel", false},
      {"virtio_scsi", false},
      {"sd_mod", false},
      {"ahci", false},
      {"nvme", false},
      {"e1000", false},
      {"e1000e", false},
      {"nls_cp437", false},
      {"nls_iso8859_1", false},
      {"efivarfs", false},
  };
  return modules;
}

Result<std::vector<std::string>> ModuleLoadOrder(const ModuleDeps& deps,
                                                 const std::vector<WantedModule>& wanted,
                                                 std::string_view source) {
  std::vector<std::string> order;
  std::set<std::string> done, visiting;
  // Depth first: a module goes in after everything it needs. modules.dep
  // lists every dependency with its own line, so each is expanded in turn.
  std::function<Status(const std::string&, const std::string&)> visit =
      [&](const std::string& path, const std::string& needed_by) -> Status {
    if (done.count(path)) return Status::Ok();
    auto deps_of = deps.deps_of.find(path);
    if (deps_of == deps.deps_of.end()) {
      return Corrupt(std::string(source) + " lists " + path + " as a dependency of " + needed_by +
                     " but has no line for it (regenerate it with depmod)");
    }
    if (!visiting.insert(path).second) {
      return Corrupt(std::string(source) + ": " + path + " depends on itself through " + needed_by +
                     " (regenerate it with depmod)");
    }
    for (const std::string& dep : deps_of->second) GC_RETURN_IF_ERROR(visit(dep, path));
    visiting.erase(path);
    done.insert(path);
    order.push_back(path);
    return Status::Ok();
  };
  for (const WantedModule& module : wanted) {
    std::string name = ModuleName(module.name);
    auto path = deps.path_of.find(name);
    if (path != deps.path_of.end()) {
      GC_RETURN_IF_ERROR(visit(path->second, "the installer"));
    } else if (module.required && !deps.builtin.count(name)) {
      return NotFound("module " + name + " is neither in " + std::string(source) +
                      " nor built in (modules.builtin); the installer needs it to reach the "
                      "disk or the network. Install the kernel's full modules package in the "
                      "image, or give the group a kernel: artifact with it built in");
    }
  }
  return order;
}

}  // namespace gc
