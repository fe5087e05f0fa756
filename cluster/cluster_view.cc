#include "cluster/cluster_view.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace gc {

namespace {

using nlohmann::json;

// The parts of a heartbeat report worth a line of `goldcast nodes show`.
constexpr const char* kVitals[] = {"uptime_s", "load",         "cpus",
                                   "cpu_mhz",  "mem_total_kb", "mem_available_kb"};

std::vector<std::pair<std::string, std::string>> Vitals(const Heartbeat& beat) {
  std::vector<std::pair<std::string, std::string>> vitals;
  if (beat.time_ns == 0) return vitals;
  json report = json::parse(beat.json, nullptr, /*allow_exceptions=*/false);
  if (!report.is_object()) return vitals;
  for (const char* key : kVitals) {
    if (report.contains(key)) vitals.emplace_back(key, report[key].dump());
  }
  return vitals;
}

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

json NodeJson(const NodeView& view) {
  const Node& node = view.node;
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
          {"drift", view.drift}};
}

std::string Dump(const json& value, int indent) {
  return value.dump(indent, ' ', false, json::error_handler_t::replace);
}

}  // namespace

const NodeView* ClusterView::Find(std::string_view name) const {
  for (const NodeView& view : nodes) {
    if (view.node.name == name) return &view;
  }
  return nullptr;
}

ClusterView BuildClusterView(const ClusterProfile& profile, std::vector<Node> nodes,
                             TargetResolver* resolver, int64_t now_ns) {
  ExpectedState expected = ComputeExpected(profile, nodes, resolver);
  ClusterView cluster;
  cluster.now_ns = now_ns;
  cluster.nodes.reserve(nodes.size());
  for (Node& node : nodes) {
    NodeView view;
    view.drift = DriftReasons(node, expected);
    view.files = CheckClusterFiles(node.heartbeat, expected);
    view.vitals = Vitals(node.heartbeat);
    auto group = expected.groups.find(node.group);
    if (group != expected.groups.end()) view.target = group->second;
    if (node.heartbeat.time_ns != 0) {
      // Another process's clock may run a little behind the server's.
      view.heartbeat_age_ns = std::max<int64_t>(0, now_ns - node.heartbeat.time_ns);
    }
    view.node = std::move(node);
    cluster.nodes.push_back(std::move(view));
  }
  return cluster;
}

std::string NodeViewJson(const NodeView& view, int indent) { return Dump(NodeJson(view), indent); }

std::string ClusterViewJson(const ClusterView& view, int indent) {
  json out = json::array();
  for (const NodeView& node : view.nodes) out.push_back(NodeJson(node));
  return Dump(out, indent);
}

}  // namespace gc
