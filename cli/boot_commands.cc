// `goldcast boot ...`: what nodes boot. build-installer makes the installer
// kernel + initramfs for an image's own kernel or a kernel artifact
// (docs/installer.md); `goldcast serve` builds the same on demand.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/cli.h"
#include "common/progress.h"
#include "kernel-build/kernel_store.h"
#include "pxe/installer_builder.h"

namespace gc {

namespace {

struct BuildInstallerFlags {
  std::string image;
  std::string kernel;
  std::string agent_bundle;
  bool json = false;
};

Result<InstallerSource> ResolveSource(const CliContext& context, const BuildInstallerFlags& flags) {
  if (flags.image.empty() == flags.kernel.empty()) {
    return InvalidArgument(
        "give an image (IMAGE@V: its own kernel and modules) or --kernel NAME@N (a kernel "
        "artifact), not both");
  }
  InstallerSource source;
  if (!flags.kernel.empty()) {
    GC_ASSIGN_OR_RETURN(auto kernels, KernelStore::Open(context.state_dir, /*create=*/false));
    GC_ASSIGN_OR_RETURN(source.kernel, kernels->Resolve(flags.kernel));
  } else {
    GC_ASSIGN_OR_RETURN(auto images, context.OpenStore(/*create=*/false));
    GC_ASSIGN_OR_RETURN(source.image, images->Resolve(flags.image));
  }
  return source;
}

Status RunBuildInstaller(const CliContext& context, const BuildInstallerFlags& flags) {
  GC_ASSIGN_OR_RETURN(InstallerSource source, ResolveSource(context, flags));
  InstallerOptions options;
  options.state_dir = context.state_dir;
  options.agent_bundle = flags.agent_bundle;
  options.progress = [](const std::string& line) {
    std::fprintf(stderr, "build-installer: %s\n", line.c_str());
  };
  GC_ASSIGN_OR_RETURN(InstallerResult result, BuildInstaller(source, options));
  if (flags.json) {
    nlohmann::json out = {{"source", source.ToString()},
                          {"key", result.key},
                          {"dir", result.dir},
                          {"vmlinuz", JoinPath(result.dir, "vmlinuz")},
                          {"initrd", JoinPath(result.dir, "initrd.img")},
                          {"reused", result.reused},
                          {"kernel_release", result.kernel_release},
                          {"modules", result.modules},
                          {"initrd_bytes", result.initrd_bytes}};
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    std::printf("installer for %s%s\n  %s\n  initrd.img %s, %zu modules\n",
                source.ToString().c_str(), result.reused ? " is up to date" : " built",
                result.dir.c_str(), FormatBytes(result.initrd_bytes).c_str(),
                result.modules.size());
  }
  return Status::Ok();
}

void AddBuildInstaller(CLI::App* boot, CliContext* context) {
  auto flags = std::make_shared<BuildInstallerFlags>();
  auto* cmd = boot->add_subcommand(
      "build-installer",
      "Build the installer kernel + initramfs for an image's own kernel or a kernel artifact "
      "(STATE/boot/installers; a no-op when it is there)");
  cmd->add_option("IMAGE", flags->image,
                  "Image (NAME, NAME@V, NAME:TAG) whose newest /boot/vmlinuz-* and modules the "
                  "installer boots");
  cmd->add_option("--kernel", flags->kernel, "Kernel artifact NAME or NAME@N to boot instead");
  cmd->add_option("--agent-bundle", flags->agent_bundle,
                  "goldcast-agent bundle (scripts/bundle-agent.sh; default: beside goldcast)");
  cmd->add_flag("--json", flags->json, "Print the result as JSON");
  cmd->callback([=] { context->run = [=] { return RunBuildInstaller(*context, *flags); }; });
}

}  // namespace

void AddBootCommands(CLI::App* app, CliContext* context) {
  auto* boot = app->add_subcommand("boot", "What nodes boot: the installer");
  boot->require_subcommand(1);
  AddBuildInstaller(boot, context);
}

}  // namespace gc
