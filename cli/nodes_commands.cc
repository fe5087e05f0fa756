// `goldcast nodes ...`: the registry as the admin sees and edits it.
#include <algorithm>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "cluster/drift.h"
#include "cluster/node_registry.h"
#include "common/text.h"
#include "profiles/cluster_profile.h"
#include "server/serve.h"  // ActiveProfilePath, RegistryPath

namespace gc {

namespace {

using nlohmann::json;

struct OpenedRegistry {
  ClusterProfile profile;
  std::unique_ptr<NodeRegistry> registry;
};

// The registry with the profile serve is running (or --profile).
Result<OpenedRegistry> OpenRegistry(const CliContext& context, const std::string& profile_flag) {
  std::string profile_path = profile_flag;
  if (profile_path.empty()) {
    profile_path = ActiveProfilePath(context.state_dir);
    if (!Env::Default()->Exists(profile_path)) {
      return NotFound("no cluster profile in " + context.state_dir +
                      ": start goldcast serve --profile FILE once, or pass --profile FILE");
    }
  }
  OpenedRegistry opened;
  GC_ASSIGN_OR_RETURN(opened.profile, LoadClusterProfile(profile_path));
  GC_ASSIGN_OR_RETURN(opened.registry,
                      NodeRegistry::Open(RegistryPath(context.state_dir), opened.profile));
  return opened;
}

std::string Ago(int64_t ns, const char* never) {
  if (ns == 0) return never;
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  int64_t seconds = std::max<int64_t>(0, now - ns / 1000000000);
  if (seconds < 120) return std::to_string(seconds) + " s ago";
  if (seconds < 7200) return std::to_string(seconds / 60) + " min ago";
  if (seconds < 172800) return std::to_string(seconds / 3600) + " h ago";
  return std::to_string(seconds / 86400) + " d ago";
}

std::string OrDash(const std::string& text) { return text.empty() ? "-" : text; }

json ProgressJson(const InstallProgress& progress) {
  if (progress.time_ns == 0) return nullptr;
  return {{"phase", progress.phase},
          {"done", progress.done},
          {"total", progress.total},
          {"message", progress.message},
          {"time_ns", progress.time_ns}};
}

json HeartbeatJson(const Heartbeat& beat) {
  if (beat.time_ns == 0) return nullptr;
  json out = {{"time_ns", beat.time_ns},
              {"boot", beat.boot},
              {"image", beat.image},
              {"kernel",
               {{"artifact", beat.kernel_artifact},
                {"release", beat.kernel_release},
                {"version", beat.kernel_version}}},
              {"cluster_files", beat.cluster_files}};
  // The whole report (load, memory, ...) as the node sent it.
  json report = json::parse(beat.json, nullptr, /*allow_exceptions=*/false);
  if (!report.is_discarded()) out["report"] = report;
  return out;
}

json NodeJson(const Node& node, const std::vector<std::string>& drift) {
  return {{"index", node.index},
          {"name", node.name},
          {"mac", node.mac},
          {"ip", node.ip},
          {"group", node.group},
          {"mode", BootModeName(node.mode)},
          {"state", NodeStateName(node.state)},
          {"declared", node.declared},
          {"uuid", node.uuid},
          {"arch", node.arch},
          {"platform", node.platform},
          {"first_seen_ns", node.first_seen_ns},
          {"last_seen_ns", node.last_seen_ns},
          {"progress", ProgressJson(node.progress)},
          {"heartbeat", HeartbeatJson(node.heartbeat)},
          {"drift", drift}};
}

std::string Dump(const json& value) {
  // What nodes reported is printed, never a reason to fail.
  return value.dump(2, ' ', false, json::error_handler_t::replace);
}

void PrintField(const char* key, const std::string& value) {
  std::printf("%-16s %s\n", (std::string(key) + ":").c_str(), value.c_str());
}

void PrintNode(const Node& node, const std::vector<std::string>& drift,
               const ExpectedState& expected) {
  PrintField("name", node.name);
  PrintField("index", std::to_string(node.index));
  PrintField("mac", node.mac);
  PrintField("ip", OrDash(node.ip));
  PrintField("group", node.group);
  PrintField("mode", BootModeName(node.mode));
  PrintField("state", NodeStateName(node.state));
  PrintField("declared", node.declared ? "yes" : "no");
  PrintField("uuid", OrDash(node.uuid));
  PrintField("arch", OrDash(node.arch) + " " + OrDash(node.platform));
  PrintField("first boot", node.first_seen_ns ? FormatUtcTime(node.first_seen_ns) : "never");
  PrintField("last boot", node.last_seen_ns ? FormatUtcTime(node.last_seen_ns) + " (" +
                                                  Ago(node.last_seen_ns, "never") + ")"
                                            : "never");
  const InstallProgress& progress = node.progress;
  if (progress.time_ns == 0) {
    PrintField("install", "no progress reported");
  } else {
    std::string counters =
        progress.total ? " " + std::to_string(progress.done) + "/" + std::to_string(progress.total)
                       : "";
    PrintField("install", progress.phase + counters + ", " + Ago(progress.time_ns, "never") +
                              (progress.message.empty() ? "" : ": " + progress.message));
  }
  const Heartbeat& beat = node.heartbeat;
  if (beat.time_ns == 0) {
    PrintField("heartbeat", "never");
  } else {
    PrintField("heartbeat", FormatUtcTime(beat.time_ns) + " (" + Ago(beat.time_ns, "never") + ")");
    PrintField("boot", beat.boot);
    PrintField("image", OrDash(beat.image));
    PrintField("kernel",
               OrDash(beat.kernel_artifact) + " (release " + OrDash(beat.kernel_release) + ")");
    json report = json::parse(beat.json, nullptr, /*allow_exceptions=*/false);
    if (report.is_object()) {
      for (const char* key :
           {"uptime_s", "load", "cpus", "cpu_mhz", "mem_total_kb", "mem_available_kb"}) {
        if (report.contains(key)) PrintField(key, report[key].dump());
      }
    }
    for (const auto& [path, hash] : beat.cluster_files) {
      auto server = expected.cluster_files.find(path);
      const char* verdict = server == expected.cluster_files.end() ? "not sent by the server"
                            : server->second == hash               ? "as sent"
                                                                   : "differs from the server's";
      PrintField("cluster file", path + " " + hash.substr(0, 12) + " (" + verdict + ")");
    }
    for (const auto& [path, hash] : expected.cluster_files) {
      if (!beat.cluster_files.count(path)) PrintField("cluster file", path + " missing");
    }
  }
  PrintField("drift", drift.empty() ? "-" : JoinStrings(drift, ", "));
  // What the comparison was made against, and why a part was not compared.
  auto group = expected.groups.find(node.group);
  if (group == expected.groups.end()) return;
  const GroupTarget& target = group->second;
  PrintField("group image",
             target.image ? target.image->ToString() : "? (" + target.image_error + ")");
  if (target.kernel_spec.empty()) {
    PrintField("group kernel", "the image's own");
  } else if (target.kernel) {
    PrintField("group kernel",
               target.kernel->ToString() + " (release " + OrDash(target.kernel_release) + ")");
  } else {
    PrintField("group kernel", "? (" + target.kernel_error + ")");
  }
}

}  // namespace

void AddNodesCommands(CLI::App* app, CliContext* context) {
  auto* nodes = app->add_subcommand("nodes", "List and manage the cluster's nodes");
  nodes->require_subcommand(1);
  auto profile = std::make_shared<std::string>();
  nodes->add_option("--profile", *profile,
                    "Cluster profile (default: the one goldcast serve runs with)");

  {
    auto json_out = std::make_shared<bool>(false);
    auto* cmd = nodes->add_subcommand(
        "list", "Every node: name, MAC, IP, group, mode, state, what it reports, drift");
    cmd->add_flag("--json", *json_out, "Print JSON");
    cmd->callback([=] {
      context->run = [=]() -> Status {
        GC_ASSIGN_OR_RETURN(OpenedRegistry opened, OpenRegistry(*context, *profile));
        GC_ASSIGN_OR_RETURN(auto list, opened.registry->List());
        TargetResolver resolver(context->state_dir);
        ExpectedState expected = ComputeExpected(opened.profile, list, &resolver);
        if (*json_out) {
          json out = json::array();
          for (const auto& node : list) out.push_back(NodeJson(node, DriftReasons(node, expected)));
          std::printf("%s\n", Dump(out).c_str());
          return Status::Ok();
        }
        const char* format = "%-5s %-16s %-17s %-15s %-10s %-8s %-10s %-11s %-11s %-20s %-14s %s\n";
        std::printf(format, "INDEX", "NAME", "MAC", "IP", "GROUP", "MODE", "STATE", "BOOTED",
                    "SEEN", "KERNEL", "IMAGE", "DRIFT");
        for (const auto& node : list) {
          const Heartbeat& beat = node.heartbeat;
          std::string kernel = beat.time_ns ? OrDash(beat.kernel_artifact) : "-";
          std::string image = beat.time_ns ? OrDash(beat.image) : "-";
          std::string drift = OrDash(JoinStrings(DriftReasons(node, expected), ","));
          std::printf(format, std::to_string(node.index).c_str(), node.name.c_str(),
                      node.mac.c_str(), OrDash(node.ip).c_str(), node.group.c_str(),
                      BootModeName(node.mode), NodeStateName(node.state),
                      Ago(node.last_seen_ns, "never").c_str(), Ago(beat.time_ns, "-").c_str(),
                      kernel.c_str(), image.c_str(), drift.c_str());
        }
        return Status::Ok();
      };
    });
  }
  {
    struct Flags {
      std::string name;
      bool json = false;
    };
    auto flags = std::make_shared<Flags>();
    auto* cmd = nodes->add_subcommand(
        "show", "One node in detail: install progress, last heartbeat, drift");
    cmd->add_option("NAME", flags->name, "Node name")->required();
    cmd->add_flag("--json", flags->json, "Print JSON");
    cmd->callback([=] {
      context->run = [=]() -> Status {
        GC_ASSIGN_OR_RETURN(OpenedRegistry opened, OpenRegistry(*context, *profile));
        GC_ASSIGN_OR_RETURN(auto node, opened.registry->FindByName(flags->name));
        if (!node) return NotFound("no node named '" + flags->name + "' (goldcast nodes list)");
        // The cluster files depend on every node's address.
        GC_ASSIGN_OR_RETURN(auto list, opened.registry->List());
        TargetResolver resolver(context->state_dir);
        ExpectedState expected = ComputeExpected(opened.profile, list, &resolver);
        std::vector<std::string> drift = DriftReasons(*node, expected);
        if (flags->json) {
          std::printf("%s\n", Dump(NodeJson(*node, drift)).c_str());
          return Status::Ok();
        }
        PrintNode(*node, drift, expected);
        return Status::Ok();
      };
    });
  }
  {
    struct Flags {
      std::string name, mode, group;
    };
    auto flags = std::make_shared<Flags>();
    auto* cmd = nodes->add_subcommand("set", "Change a node's boot mode or group");
    cmd->add_option("NAME", flags->name, "Node name")->required();
    cmd->add_option("--mode", flags->mode, "install, diskless or local");
    cmd->add_option("--group", flags->group, "Node group of the profile");
    cmd->callback([=] {
      context->run = [=]() -> Status {
        if (flags->mode.empty() && flags->group.empty()) {
          return InvalidArgument("nodes set needs --mode and/or --group");
        }
        GC_ASSIGN_OR_RETURN(OpenedRegistry opened, OpenRegistry(*context, *profile));
        NodeRegistry* registry = opened.registry.get();
        if (!flags->group.empty())
          GC_RETURN_IF_ERROR(registry->SetGroup(flags->name, flags->group));
        if (!flags->mode.empty()) {
          GC_ASSIGN_OR_RETURN(BootMode mode, ParseBootMode(flags->mode));
          GC_RETURN_IF_ERROR(registry->SetMode(flags->name, mode));
        }
        std::printf("%s updated\n", flags->name.c_str());
        return Status::Ok();
      };
    });
  }
  {
    auto name = std::make_shared<std::string>();
    auto* cmd = nodes->add_subcommand("reinstall", "Install the node again at its next boot");
    cmd->add_option("NAME", *name, "Node name")->required();
    cmd->callback([=] {
      context->run = [=]() -> Status {
        GC_ASSIGN_OR_RETURN(OpenedRegistry opened, OpenRegistry(*context, *profile));
        NodeRegistry* registry = opened.registry.get();
        GC_RETURN_IF_ERROR(registry->Reinstall(*name));
        std::printf("%s will be installed at its next network boot\n", name->c_str());
        return Status::Ok();
      };
    });
  }
  {
    auto name = std::make_shared<std::string>();
    auto* cmd = nodes->add_subcommand("rm", "Forget a node (its index becomes free)");
    cmd->add_option("NAME", *name, "Node name")->required();
    cmd->callback([=] {
      context->run = [=]() -> Status {
        GC_ASSIGN_OR_RETURN(OpenedRegistry opened, OpenRegistry(*context, *profile));
        NodeRegistry* registry = opened.registry.get();
        GC_RETURN_IF_ERROR(registry->Remove(*name));
        std::printf("removed %s\n", name->c_str());
        return Status::Ok();
      };
    });
  }
  {
    struct Flags {
      std::string mac, name;
    };
    auto flags = std::make_shared<Flags>();
    auto* cmd = nodes->add_subcommand("add", "Register a machine by MAC before it boots");
    cmd->add_option("--mac", flags->mac, "MAC address")->required();
    cmd->add_option("--name", flags->name, "Name (default: the next boot-order name)");
    cmd->callback([=] {
      context->run = [=]() -> Status {
        GC_ASSIGN_OR_RETURN(std::string mac, NormalizeMac(flags->mac));
        GC_ASSIGN_OR_RETURN(OpenedRegistry opened, OpenRegistry(*context, *profile));
        NodeRegistry* registry = opened.registry.get();
        GC_ASSIGN_OR_RETURN(Node node, registry->Add(mac, flags->name));
        std::printf("added %s (%s, %s)\n", node.name.c_str(), node.mac.c_str(), node.ip.c_str());
        return Status::Ok();
      };
    });
  }
}

}  // namespace gc
