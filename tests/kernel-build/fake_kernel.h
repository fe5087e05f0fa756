// Test helpers for kernel-build: a tiny kernel-shaped tree (Makefile with
// a version, Kconfig files, init/main.c), its tarball, a patch against it,
// and FakeKernelRunner: a ProcessRunner that plays `make` (config targets
// resolved with goldcast's own Kconfig reader, like olddefconfig: options
// with unmet dependencies vanish, tristates held by an m dependency become
// m) and passes tar, cp and patch to the real runner.
#pragma once

#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "common/hash.h"
#include "common/subprocess.h"
#include "kernel-build/kconfig.h"
#include "tests/testing/temp_dir.h"

namespace gc::testing {

inline void WriteFakeKernelTree(const std::string& dir, const std::string& sublevel = "176",
                                const std::string& extraversion = "") {
  WriteTestFile(dir + "/Makefile",
                "# SPDX-License-Identifier: GPL-2.0\nVERSION = 6\n"
                "PATCHLEVEL = 1\nSUBLEVEL = " +
                    sublevel + "\nEXTRAVERSION =" +
                    (extraversion.empty() ? "" : " " + extraversion) + "\nNAME = Curry Ramen\n");
  WriteTestFile(dir + "/Kconfig",
                "mainmenu \"Linux/$(ARCH) $(KERNELVERSION) Kernel Configuration\"\n"
                "source \"arch/$(SRCARCH)/Kconfig\"\n"
                "source \"init/Kconfig\"\n"
                "config MODULES\n\tbool \"Enable loadable module support\"\n"
                "config PCI\n\tbool \"PCI support\"\n"
                "config NET\n\tbool \"Networking support\"\n"
                "config E1000\n\ttristate \"Intel(R) PRO/1000\"\n\tdepends on PCI && NET\n"
                "config VIRTIO\n\ttristate \"virtio\"\n"
                "config VIRTIO_NET\n\ttristate \"virtio net\"\n\tdepends on VIRTIO && NET\n");
  WriteTestFile(dir + "/arch/x86/Kconfig", "config 64BIT\n\tbool \"64-bit kernel\"\n\tdefault y\n");
  WriteTestFile(dir + "/init/Kconfig",
                "config LOG_BUF_SHIFT\n\tint \"Kernel log buffer size\"\n\trange 12 25\n"
                "\tdefault 17\n"
                "config LOCALVERSION\n\tstring \"Local version\"\n");
  WriteTestFile(dir + "/init/main.c",
                "void start_kernel(void)\n{\n\tpr_notice(\"%s\", linux_banner);\n}\n");
}

// A 2.4-shaped tree: no Kconfig, arch/i386/config.in, an openMosix option.
inline void WriteFakeLegacyTree(const std::string& dir) {
  WriteTestFile(dir + "/Makefile", "VERSION = 2\nPATCHLEVEL = 4\nSUBLEVEL = 26\nEXTRAVERSION =\n");
  WriteTestFile(dir + "/arch/i386/config.in",
                "mainmenu_name \"Linux Kernel Configuration\"\n"
                "bool 'Enable loadable module support' CONFIG_MODULES\n"
                "source hpc/Config.in\n");
  WriteTestFile(dir + "/hpc/Config.in",
                "bool 'openMosix process migration support' CONFIG_MOSIX\n"
                "if [ \"$CONFIG_MOSIX\" = \"y\" ]; then\n"
                "  int 'Level of process-identity disclosure (0-3)' CONFIG_MOSIX_DISCLOSURE 1\n"
                "fi\n");
  WriteTestFile(dir + "/arch/i386/defconfig", "CONFIG_MODULES=y\n# CONFIG_MOSIX is not set\n");
}

// The goldcast test patch, shaped like tests/kernel-build/patches/0001-*.patch.
inline std::string FakeGoldcastPatch() {
  return "diff -ruN a/init/Kconfig b/init/Kconfig\n"
         "--- a/init/Kconfig\n+++ b/init/Kconfig\n"
         "@@ -1,6 +1,8 @@\n"
         " config LOG_BUF_SHIFT\n \tint \"Kernel log buffer size\"\n \trange 12 25\n \tdefault 17\n"
         " config LOCALVERSION\n \tstring \"Local version\"\n"
         "+config GOLDCAST_TEST\n+\tbool \"goldcast test\"\n"
         "diff -ruN a/init/main.c b/init/main.c\n"
         "--- a/init/main.c\n+++ b/init/main.c\n"
         "@@ -1,4 +1,5 @@\n"
         " void start_kernel(void)\n {\n \tpr_notice(\"%s\", linux_banner);\n"
         "+\tpr_notice(\"goldcast-test: patched kernel booted\\n\");\n }\n";
}

// A patch that depends on FakeGoldcastPatch having been applied first.
inline std::string FakeFollowUpPatch() {
  return "diff -ruN a/init/main.c b/init/main.c\n"
         "--- a/init/main.c\n+++ b/init/main.c\n"
         "@@ -2,4 +2,5 @@\n"
         " {\n \tpr_notice(\"%s\", linux_banner);\n"
         " \tpr_notice(\"goldcast-test: patched kernel booted\\n\");\n"
         "+\tpr_notice(\"follow-up\\n\");\n }\n";
}

// Packs `tree` as linux-6.1.176/ into `out` (.tar.xz); returns its sha256.
inline std::string MakeTarball(const std::string& tree, const std::string& out) {
  std::string parent = tree.substr(0, tree.find_last_of('/'));
  std::string top = tree.substr(tree.find_last_of('/') + 1);
  auto result = ProcessRunner::Default()->Run({"tar", "-cJf", out, "-C", parent, top});
  if (!result.ok() || result->exit_code != 0) std::abort();
  return *Sha256File(out);
}

class FakeKernelRunner : public ProcessRunner {
 public:
  bool ccache = false;
  bool depmod = true;              // false: modules_install writes no modules.dep, as without kmod
  std::string fail_target;         // make exits 2 for this target
  std::vector<std::string> calls;  // every argv, joined by spaces
  std::vector<std::string> make_calls;  // the targets of each make

  Result<ProcessResult> Run(const std::vector<std::string>& argv) override {
    std::string joined;
    for (const auto& arg : argv) joined += (joined.empty() ? "" : " ") + arg;
    calls.push_back(joined);
    if (argv.size() == 2 && argv[1] == "--version") {
      if (argv[0] == "ccache" && !ccache) return NotFound("'ccache' was not found in PATH");
      ProcessResult result;
      result.exit_code = 0;
      result.stdout_text = argv[0] == "make" ? "GNU Make 4.3\nBuilt for x86_64\n"
                                             : argv[0] + " (Fake) 12.2.0\nCopyright\n";
      return result;
    }
    // LoggedRunner: sh -c 'exec "$@" >>"$0" 2>&1' LOG env ... make ...
    if (argv.size() > 4 && argv[0] == "sh" && argv[2].find("exec") == 0) {
      return Make(argv[3], std::vector<std::string>(argv.begin() + 4, argv.end()));
    }
    return ProcessRunner::Default()->Run(argv);
  }

 private:
  Result<ProcessResult> Make(const std::string& log, const std::vector<std::string>& argv) {
    std::string src, out;
    std::vector<std::string> targets;
    std::map<std::string, std::string> vars;
    size_t i = 0;
    if (argv[0] == "env") {
      for (i = 1; i < argv.size() && argv[i].find('=') != std::string::npos; ++i) {
      }
    }
    for (++i; i < argv.size(); ++i) {  // argv[i-1] was make
      const std::string& arg = argv[i];
      if (arg == "-C") {
        src = argv[++i];
      } else if (arg.rfind("-j", 0) == 0) {
        continue;
      } else if (arg.find('=') != std::string::npos) {
        vars[arg.substr(0, arg.find('='))] = arg.substr(arg.find('=') + 1);
      } else {
        targets.push_back(arg);
      }
    }
    out = vars.count("O") ? vars["O"] : src;
    std::string joined;
    for (const auto& target : targets) joined += (joined.empty() ? "" : " ") + target;
    make_calls.push_back(joined);
    ProcessResult result;
    result.exit_code = 0;
    std::string text;
    for (const auto& target : targets) {
      if (target == fail_target) {
        AppendLog(log, "make: *** [Makefile:1234: " + target + "] Error 2\n");
        result.exit_code = 2;
        return result;
      }
      if (target == "tinyconfig" || target == "defconfig" || target == "allnoconfig") {
        WriteTestFile(out + "/.config",
                      "CONFIG_64BIT=y\n# CONFIG_MODULES is not set\nCONFIG_LOG_BUF_SHIFT=17\n");
      } else if (target == "olddefconfig") {
        Resolve(src, out + "/.config");
      } else if (target == "oldconfig" || target == "dep" || target == "modules") {
        // 2.4's oldconfig keeps what it is given here; dep and modules make nothing we check.
      } else if (target == "bzImage") {
        AppendLog(log, "  CC      init/main.o\n  CC      init/version.o\n");
        std::string image =
            "bzImage\n" + ReadTestFile(out + "/.config") + ReadTestFile(src + "/init/main.c");
        bool legacy = !std::filesystem::exists(src + "/arch/x86");
        WriteTestFile(out + "/arch/" + (legacy ? "i386" : "x86") + "/boot/bzImage", image);
        WriteTestFile(out + "/System.map", "ffffffff81000000 T _text\n");
        if (!legacy) WriteTestFile(out + "/include/config/kernel.release", "6.1.176\n");
      } else if (target == "modules_install" && depmod) {
        std::string release = std::filesystem::exists(src + "/arch/x86") ? "6.1.176" : "2.4.26";
        WriteTestFile(vars["INSTALL_MOD_PATH"] + "/lib/modules/" + release + "/modules.dep", "");
      }
    }
    return result;
  }

  static void AppendLog(const std::string& log, const std::string& text) {
    WriteTestFile(log, ReadTestFile(log) + text);
  }

  // olddefconfig in miniature: drop unknown symbols and those whose
  // dependencies are unmet, hold tristates at m when a dependency is m.
  static void Resolve(const std::string& src, const std::string& config_path) {
    auto index = KconfigIndex::Load(src, "x86");
    if (!index.ok()) std::abort();
    DotConfig config = ParseDotConfig(ReadTestFile(config_path));
    for (bool changed = true; changed;) {
      changed = false;
      for (auto it = config.begin(); it != config.end();) {
        const auto& defs = index->Find(it->first.substr(7));
        int limit = defs.empty() ? 0 : 2;
        for (const auto& def : defs) {
          for (const auto& cond : def.conditions) {
            limit = std::min(limit, EvalKconfigExpr(cond.expr, config).value_or(2));
          }
        }
        if (limit == 0 && it->second != "n") {
          it = config.erase(it);
          changed = true;
          continue;
        }
        if (limit == 1 && it->second == "y") {
          it->second = "m";
          changed = true;
        }
        ++it;
      }
    }
    std::string text;
    for (const auto& [name, value] : config) {
      text += value == "n" ? "# " + name + " is not set\n" : name + "=" + value + "\n";
    }
    WriteTestFile(config_path, text);
  }
};

}  // namespace gc::testing
