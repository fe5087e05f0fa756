// `goldcast nodes ...`: the registry as the admin sees and edits it. What a
// node reported and how it drifted come from the cluster view
// (cluster/cluster_view.h); this file only prints it.
#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "cluster/cluster_state.h"
#include "cluster/cluster_view.h"
#include "cluster/node_registry.h"
#include "common/env.h"
#include "common/text.h"
#include "profiles/cluster_profile.h"

namespace gc {

namespace {

// --profile of `goldcast nodes`, shared by its subcommands.
using ProfileFlag = std::shared_ptr<std::string>;

// Every node, now.
Result<ClusterView> LoadClusterView(const CliContext& context, const std::string& profile_flag) {
  GC_ASSIGN_OR_RETURN(ClusterState opened, OpenClusterState(context.state_dir, profile_flag));
  GC_ASSIGN_OR_RETURN(std::vector<Node> nodes, opened.registry->List());
  TargetResolver resolver(opened.profile, context.state_dir);
  ClusterView view =
      BuildClusterView(opened.profile, std::move(nodes), &resolver, Env::Default()->NowNanos());
  GC_ASSIGN_OR_RETURN(view.pending, opened.registry->ListPending());
  return view;
}

std::string Ago(int64_t ns, int64_t now_ns, const char* never) {
  if (ns == 0) return never;
  int64_t seconds = std::max<int64_t>(0, now_ns / 1000000000 - ns / 1000000000);
  if (seconds < 120) return std::to_string(seconds) + " s ago";
  if (seconds < 7200) return std::to_string(seconds / 60) + " min ago";
  if (seconds < 172800) return std::to_string(seconds / 3600) + " h ago";
  return std::to_string(seconds / 86400) + " d ago";
}

std::string OrDash(const std::string& text) { return text.empty() ? "-" : text; }

void PrintField(const char* key, const std::string& value) {
  std::printf("%-16s %s\n", (std::string(key) + ":").c_str(), value.c_str());
}

void PrintNodeTable(const ClusterView& cluster) {
  const char* format = "%-5s %-16s %-17s %-15s %-10s %-8s %-10s %-11s %-11s %-20s %-14s %s\n";
  std::printf(format, "INDEX", "NAME", "MAC", "IP", "GROUP", "MODE", "STATE", "BOOTED", "SEEN",
              "KERNEL", "IMAGE", "DRIFT");
  for (const NodeView& view : cluster.nodes) {
    const Node& node = view.node;
    const Heartbeat& beat = node.heartbeat;
    std::string kernel = beat.time_ns ? OrDash(beat.kernel_artifact) : "-";
    std::string image = beat.time_ns ? OrDash(beat.image) : "-";
    std::printf(format, std::to_string(node.index).c_str(), node.name.c_str(), node.mac.c_str(),
                OrDash(node.ip).c_str(), node.group.c_str(), BootModeName(node.mode),
                NodeStateName(node.state), Ago(node.last_seen_ns, cluster.now_ns, "never").c_str(),
                Ago(beat.time_ns, cluster.now_ns, "-").c_str(), kernel.c_str(), image.c_str(),
                OrDash(JoinStrings(view.drift, ",")).c_str());
  }
}

void PrintPendingTable(const std::vector<PendingMachine>& pending, int64_t now_ns) {
  const char* format = "%-17s %-15s %-16s %-13s %s\n";
  std::printf(format, "MAC", "ADDRESS", "FIRMWARE", "FIRST BOOT", "LAST REQUEST");
  for (const PendingMachine& m : pending) {
    std::printf(format, m.mac.c_str(), OrDash(m.address).c_str(),
                (OrDash(m.arch) + " " + OrDash(m.platform)).c_str(),
                Ago(m.first_seen_ns, now_ns, "never").c_str(),
                Ago(m.last_seen_ns, now_ns, "never").c_str());
  }
}

std::string PendingJson(const std::vector<PendingMachine>& pending) {
  nlohmann::json list = nlohmann::json::array();
  for (const PendingMachine& m : pending) {
    list.push_back({{"mac", m.mac},
                    {"state", "pending"},
                    {"address", m.address},
                    {"uuid", m.uuid},
                    {"arch", m.arch},
                    {"platform", m.platform},
                    {"first_seen_ns", m.first_seen_ns},
                    {"last_seen_ns", m.last_seen_ns}});
  }
  return list.dump(2);
}

void PrintProgress(const InstallProgress& progress, int64_t now_ns) {
  if (progress.time_ns == 0) {
    PrintField("install", "no progress reported");
    return;
  }
  std::string counters =
      progress.total ? " " + std::to_string(progress.done) + "/" + std::to_string(progress.total)
                     : "";
  PrintField("install", progress.phase + counters + ", " + Ago(progress.time_ns, now_ns, "never") +
                            (progress.message.empty() ? "" : ": " + progress.message));
}

void PrintHeartbeat(const NodeView& view, int64_t now_ns) {
  const Heartbeat& beat = view.node.heartbeat;
  if (beat.time_ns == 0) {
    PrintField("heartbeat", "never");
    return;
  }
  PrintField("heartbeat",
             FormatUtcTime(beat.time_ns) + " (" + Ago(beat.time_ns, now_ns, "never") + ")");
  PrintField("boot", beat.boot);
  PrintField("image", OrDash(beat.image));
  PrintField("kernel",
             OrDash(beat.kernel_artifact) + " (release " + OrDash(beat.kernel_release) + ")");
  for (const auto& [key, value] : view.vitals) PrintField(key.c_str(), value);
  for (const ClusterFileCheck& file : view.files) {
    if (file.verdict == ClusterFileCheck::Verdict::kMissing) {
      PrintField("cluster file", file.path + " missing");
    } else {
      PrintField("cluster file", file.path + " " + file.hash.substr(0, 12) + " (" +
                                     VerdictText(file.verdict) + ")");
    }
  }
}

// What the drift was computed against, and why a part was not compared.
void PrintGroupTarget(const GroupTarget& target) {
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

void PrintNode(const NodeView& view, int64_t now_ns) {
  const Node& node = view.node;
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
                                                  Ago(node.last_seen_ns, now_ns, "never") + ")"
                                            : "never");
  PrintProgress(node.progress, now_ns);
  PrintHeartbeat(view, now_ns);
  PrintField("drift", view.drift.empty() ? "-" : JoinStrings(view.drift, ", "));
  if (view.target) PrintGroupTarget(*view.target);
}

void AddListCommand(CLI::App* nodes, CliContext* context, ProfileFlag profile) {
  auto json_out = std::make_shared<bool>(false);
  auto* cmd = nodes->add_subcommand(
      "list", "Every node: name, MAC, IP, group, mode, state, what it reports, drift");
  cmd->add_flag("--json", *json_out, "Print JSON");
  cmd->callback([=] {
    context->run = [=]() -> Status {
      GC_ASSIGN_OR_RETURN(ClusterView cluster, LoadClusterView(*context, *profile));
      if (*json_out) {
        std::printf("%s\n", ClusterViewJson(cluster, 2).c_str());
      } else {
        PrintNodeTable(cluster);
        if (!cluster.pending.empty()) {
          std::printf(
              "\n%zu machine(s) pending: waiting for goldcast nodes accept MAC... | --all\n",
              cluster.pending.size());
          PrintPendingTable(cluster.pending, cluster.now_ns);
        }
      }
      return Status::Ok();
    };
  });
}

void AddShowCommand(CLI::App* nodes, CliContext* context, ProfileFlag profile) {
  struct Flags {
    std::string name;
    bool json = false;
  };
  auto flags = std::make_shared<Flags>();
  auto* cmd =
      nodes->add_subcommand("show", "One node in detail: install progress, last heartbeat, drift");
  cmd->add_option("NAME", flags->name, "Node name")->required();
  cmd->add_flag("--json", flags->json, "Print JSON");
  cmd->callback([=] {
    context->run = [=]() -> Status {
      // The whole cluster: its files depend on every node's address.
      GC_ASSIGN_OR_RETURN(ClusterView cluster, LoadClusterView(*context, *profile));
      const NodeView* view = cluster.Find(flags->name);
      if (!view) return NotFound("no node named '" + flags->name + "' (goldcast nodes list)");
      if (flags->json) {
        std::printf("%s\n", NodeViewJson(*view, 2).c_str());
      } else {
        PrintNode(*view, cluster.now_ns);
      }
      return Status::Ok();
    };
  });
}

void AddSetCommand(CLI::App* nodes, CliContext* context, ProfileFlag profile) {
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
      GC_ASSIGN_OR_RETURN(ClusterState opened, OpenClusterState(context->state_dir, *profile));
      NodeRegistry* registry = opened.registry.get();
      if (!flags->group.empty()) GC_RETURN_IF_ERROR(registry->SetGroup(flags->name, flags->group));
      if (!flags->mode.empty()) {
        GC_ASSIGN_OR_RETURN(BootMode mode, ParseBootMode(flags->mode));
        GC_RETURN_IF_ERROR(registry->SetMode(flags->name, mode));
      }
      std::printf("%s updated\n", flags->name.c_str());
      return Status::Ok();
    };
  });
}

// A subcommand NAME that makes one edit of the registry and says it is done.
void AddEditCommand(CLI::App* nodes, CliContext* context, ProfileFlag profile, const char* command,
                    const char* description, Status (NodeRegistry::*edit)(const std::string&),
                    const char* done_format) {
  auto name = std::make_shared<std::string>();
  auto* cmd = nodes->add_subcommand(command, description);
  cmd->add_option("NAME", *name, "Node name")->required();
  cmd->callback([=] {
    context->run = [=]() -> Status {
      GC_ASSIGN_OR_RETURN(ClusterState opened, OpenClusterState(context->state_dir, *profile));
      GC_RETURN_IF_ERROR((opened.registry.get()->*edit)(*name));
      std::printf(done_format, name->c_str());
      return Status::Ok();
    };
  });
}

void AddReinstallCommand(CLI::App* nodes, CliContext* context, ProfileFlag profile) {
  AddEditCommand(nodes, context, profile, "reinstall", "Install the node again at its next boot",
                 &NodeRegistry::Reinstall, "%s will be installed at its next network boot\n");
}

void AddRemoveCommand(CLI::App* nodes, CliContext* context, ProfileFlag profile) {
  AddEditCommand(nodes, context, profile, "rm", "Forget a node (its index becomes free)",
                 &NodeRegistry::Remove, "removed %s\n");
}

void AddAddCommand(CLI::App* nodes, CliContext* context, ProfileFlag profile) {
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
      GC_ASSIGN_OR_RETURN(ClusterState opened, OpenClusterState(context->state_dir, *profile));
      GC_ASSIGN_OR_RETURN(Node node, opened.registry->Add(mac, flags->name));
      std::printf("added %s (%s, %s)\n", node.name.c_str(), node.mac.c_str(), node.ip.c_str());
      return Status::Ok();
    };
  });
}

void AddPendingCommand(CLI::App* nodes, CliContext* context, ProfileFlag profile) {
  auto json_out = std::make_shared<bool>(false);
  auto* cmd = nodes->add_subcommand(
      "pending", "Machines waiting for approval (naming.enroll: manual), in first-boot order");
  cmd->add_flag("--json", *json_out, "Print JSON");
  cmd->callback([=] {
    context->run = [=]() -> Status {
      GC_ASSIGN_OR_RETURN(ClusterState opened, OpenClusterState(context->state_dir, *profile));
      GC_ASSIGN_OR_RETURN(std::vector<PendingMachine> pending, opened.registry->ListPending());
      if (*json_out) {
        std::printf("%s\n", PendingJson(pending).c_str());
      } else if (pending.empty()) {
        std::printf("no machine is waiting for approval\n");
      } else {
        PrintPendingTable(pending, Env::Default()->NowNanos());
      }
      return Status::Ok();
    };
  });
}

void AddAcceptCommand(CLI::App* nodes, CliContext* context, ProfileFlag profile) {
  struct Flags {
    std::vector<std::string> macs;
    bool all = false;
  };
  auto flags = std::make_shared<Flags>();
  auto* cmd = nodes->add_subcommand(
      "accept", "Make pending machines nodes, named in the order they first booted");
  auto* macs = cmd->add_option("MAC", flags->macs, "MAC addresses of pending machines");
  auto* all = cmd->add_flag("--all", flags->all, "Every pending machine");
  macs->excludes(all);
  all->excludes(macs);
  cmd->callback([=] {
    context->run = [=]() -> Status {
      if (flags->macs.empty() && !flags->all) {
        return InvalidArgument(
            "nodes accept needs MAC addresses or --all (goldcast nodes pending)");
      }
      GC_ASSIGN_OR_RETURN(ClusterState opened, OpenClusterState(context->state_dir, *profile));
      GC_ASSIGN_OR_RETURN(std::vector<Node> accepted, opened.registry->Accept(flags->macs));
      if (accepted.empty()) std::printf("no machine was waiting for approval\n");
      for (const Node& node : accepted) {
        std::printf("accepted %s as %s (%s); it installs at its next boot request\n",
                    node.mac.c_str(), node.name.c_str(), OrDash(node.ip).c_str());
      }
      return Status::Ok();
    };
  });
}

}  // namespace

void AddNodesCommands(CLI::App* app, CliContext* context) {
  auto* nodes = app->add_subcommand("nodes", "List and manage the cluster's nodes");
  nodes->require_subcommand(1);
  auto profile = std::make_shared<std::string>();
  nodes->add_option("--profile", *profile,
                    "Cluster profile (default: the one goldcast serve runs with)");
  AddListCommand(nodes, context, profile);
  AddShowCommand(nodes, context, profile);
  AddSetCommand(nodes, context, profile);
  AddReinstallCommand(nodes, context, profile);
  AddRemoveCommand(nodes, context, profile);
  AddAddCommand(nodes, context, profile);
  AddPendingCommand(nodes, context, profile);
  AddAcceptCommand(nodes, context, profile);
}

}  // namespace gc
