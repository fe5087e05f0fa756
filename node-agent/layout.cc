#include "node-agent/layout.h"

#include <sys/utsname.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace gc {

namespace {

using nlohmann::json;

std::string ReadSmallFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Runs a tool that prints JSON; a failure becomes a warning.
json RunJson(ProcessRunner* runner, const std::vector<std::string>& argv, json* warnings) {
  auto result = runner->Run(argv);
  std::string command = argv[0] + (argv.size() > 1 ? " " + argv.back() : "");
  if (!result.ok()) {
    warnings->push_back(command + ": " + result.status().message());
    return nullptr;
  }
  if (result->exit_code != 0) {
    std::string err = result->stderr_text.substr(0, result->stderr_text.find('\n'));
    warnings->push_back(command + " exited " + std::to_string(result->exit_code) + ": " + err);
    return nullptr;
  }
  try {
    return json::parse(result->stdout_text);
  } catch (const std::exception& e) {
    warnings->push_back(command + " printed unreadable JSON: " + e.what());
    return nullptr;
  }
}

json KernelsInTree(const std::filesystem::path& root) {
  json kernels = json::array();
  std::error_code ec;
  for (const auto& item : std::filesystem::directory_iterator(root / "lib/modules", ec)) {
    kernels.push_back(item.path().filename().string());
  }
  std::sort(kernels.begin(), kernels.end());
  return kernels;
}

std::string BootloaderInTree(const std::filesystem::path& root) {
  std::error_code ec;
  if (std::filesystem::exists(root / "boot/efi/EFI", ec)) return "uefi";
  if (std::filesystem::exists(root / "boot/grub", ec)) return "bios";
  return "unknown";
}

}  // namespace

Result<std::string> CollectLayout(const LayoutOptions& options, ProcessRunner* runner) {
  namespace fs = std::filesystem;
  fs::path root(options.root);
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    return InvalidArgument("root " + options.root + " is not a directory");
  }
  bool real_root = fs::equivalent(root, "/", ec);
  json layout;
  json warnings = json::array();
  layout["format"] = 1;
  layout["source"] = real_root ? "root" : "directory";
  layout["fstab"] = ReadSmallFile(root / "etc/fstab");
  layout["kernels"] = KernelsInTree(root);

  if (real_root) {
    struct utsname name;
    if (::uname(&name) == 0) layout["running_kernel"] = name.release;
    layout["bootloader"] =
        fs::exists(fs::path(options.sys_dir) / "firmware/efi", ec) ? "uefi" : "bios";
    json blocks = RunJson(runner,
                          {"lsblk", "--json", "--bytes", "--output",
                           "NAME,PATH,TYPE,SIZE,FSTYPE,UUID,LABEL,PARTUUID,MOUNTPOINT,PTTYPE"},
                          &warnings);
    json disks = json::array();
    if (blocks.is_object() && blocks.contains("blockdevices")) {
      layout["block_devices"] = blocks["blockdevices"];
      for (const auto& device : blocks["blockdevices"]) {
        if (device.value("type", "") != "disk" || !device.contains("path")) continue;
        std::string path = device["path"].get<std::string>();
        json table = RunJson(runner, {"sfdisk", "--json", path}, &warnings);
        disks.push_back({{"path", path},
                         {"size", device.value("size", json(nullptr))},
                         {"partitiontable", table.is_object() && table.contains("partitiontable")
                                                ? table["partitiontable"]
                                                : json(nullptr)}});
      }
    }
    layout["disks"] = disks;
  } else {
    layout["bootloader"] = BootloaderInTree(root);
    layout["disks"] = json::array();
  }
  layout["warnings"] = warnings;
  return layout.dump(2) + "\n";
}

}  // namespace gc
