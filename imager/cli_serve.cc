// `goldcast serve` and `goldcast nodes ...`.
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "imager/cli.h"
#include "imager/serve.h"
#include "profiles/cluster_profile.h"
#include "pxe/node_registry.h"

namespace gc {

namespace {

using nlohmann::json;

// The registry with the profile serve is running (or --profile).
Result<std::unique_ptr<NodeRegistry>> OpenRegistry(const CliContext& context,
                                                   const std::string& profile_flag) {
  std::string profile_path = profile_flag;
  if (profile_path.empty()) {
    profile_path = ActiveProfilePath(context.state_dir);
    if (!Env::Default()->Exists(profile_path)) {
      return NotFound("no cluster profile in " + context.state_dir +
                      ": start goldcast serve --profile FILE once, or pass --profile FILE");
    }
  }
  GC_ASSIGN_OR_RETURN(ClusterProfile profile, LoadClusterProfile(profile_path));
  return NodeRegistry::Open(RegistryPath(context.state_dir), profile);
}

std::string Ago(int64_t ns) {
  if (ns == 0) return "never";
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  int64_t seconds = now - ns / 1000000000;
  if (seconds < 120) return std::to_string(seconds) + " s ago";
  if (seconds < 7200) return std::to_string(seconds / 60) + " min ago";
  return std::to_string(seconds / 3600) + " h ago";
}

json NodeJson(const Node& node) {
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
          {"last_seen_ns", node.last_seen_ns}};
}

}  // namespace

void AddServeCommands(CLI::App* app, CliContext* context) {
  {
    auto options = std::make_shared<ServeOptions>();
    auto* cmd = app->add_subcommand(
        "serve", "Run the image server: HTTP boot service, node registry, dnsmasq (DHCP/TFTP)");
    cmd->add_option("--profile", options->profile_path, "Cluster profile (YAML)")->required();
    cmd->add_option("--ipxe-dir", options->ipxe_dir, "Where the iPXE binaries are")
        ->capture_default_str();
    cmd->add_option("--boot-files", options->boot_files,
                    "Directory served under /boot/files (default STATE/boot)");
    cmd->callback([=] {
      context->run = [=]() -> Status {
        options->state_dir = context->state_dir;
        return RunServe(*options);
      };
    });
  }

  auto* nodes = app->add_subcommand("nodes", "List and manage the cluster's nodes");
  nodes->require_subcommand(1);
  auto profile = std::make_shared<std::string>();
  nodes->add_option("--profile", *profile,
                    "Cluster profile (default: the one goldcast serve runs with)");

  {
    auto json_out = std::make_shared<bool>(false);
    auto* cmd = nodes->add_subcommand("list", "Every node: name, MAC, IP, group, mode, state");
    cmd->add_flag("--json", *json_out, "Print JSON");
    cmd->callback([=] {
      context->run = [=]() -> Status {
        GC_ASSIGN_OR_RETURN(auto registry, OpenRegistry(*context, *profile));
        GC_ASSIGN_OR_RETURN(auto list, registry->List());
        if (*json_out) {
          json out = json::array();
          for (const auto& node : list) out.push_back(NodeJson(node));
          std::printf("%s\n", out.dump(2).c_str());
          return Status::Ok();
        }
        std::printf("%-5s %-16s %-17s %-15s %-10s %-8s %-10s %s\n", "INDEX", "NAME", "MAC", "IP",
                    "GROUP", "MODE", "STATE", "LAST SEEN");
        for (const auto& node : list) {
          std::printf("%-5d %-16s %-17s %-15s %-10s %-8s %-10s %s\n", node.index, node.name.c_str(),
                      node.mac.c_str(), node.ip.c_str(), node.group.c_str(),
                      BootModeName(node.mode), NodeStateName(node.state),
                      Ago(node.last_seen_ns).c_str());
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
    auto* cmd = nodes->add_subcommand("show", "One node in detail");
    cmd->add_option("NAME", flags->name, "Node name")->required();
    cmd->add_flag("--json", flags->json, "Print JSON");
    cmd->callback([=] {
      context->run = [=]() -> Status {
        GC_ASSIGN_OR_RETURN(auto registry, OpenRegistry(*context, *profile));
        GC_ASSIGN_OR_RETURN(auto node, registry->FindByName(flags->name));
        if (!node) return NotFound("no node named '" + flags->name + "' (goldcast nodes list)");
        json out = NodeJson(*node);
        if (flags->json) {
          std::printf("%s\n", out.dump(2).c_str());
          return Status::Ok();
        }
        for (const auto& [key, value] : out.items()) {
          std::printf("%-14s %s\n", (key + ":").c_str(),
                      value.is_string() ? value.get<std::string>().c_str() : value.dump().c_str());
        }
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
        GC_ASSIGN_OR_RETURN(auto registry, OpenRegistry(*context, *profile));
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
        GC_ASSIGN_OR_RETURN(auto registry, OpenRegistry(*context, *profile));
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
        GC_ASSIGN_OR_RETURN(auto registry, OpenRegistry(*context, *profile));
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
        GC_ASSIGN_OR_RETURN(auto registry, OpenRegistry(*context, *profile));
        GC_ASSIGN_OR_RETURN(Node node, registry->Add(mac, flags->name));
        std::printf("added %s (%s, %s)\n", node.name.c_str(), node.mac.c_str(), node.ip.c_str());
        return Status::Ok();
      };
    });
  }
}

}  // namespace gc
