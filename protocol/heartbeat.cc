#include "protocol/heartbeat.h"

#include <cmath>

#include "common/hash.h"
#include "protocol/json_fields.h"

namespace gc {

namespace {

Status ReadKernel(const JsonFields& fields, HeartbeatReport* report) {
  GC_ASSIGN_OR_RETURN(std::optional<JsonFields> kernel, fields.Object("kernel"));
  if (!kernel) return Status::Ok();
  GC_RETURN_IF_ERROR(kernel->Text("release", kMaxHeartbeatTextBytes, &report->kernel_release));
  GC_RETURN_IF_ERROR(kernel->Text("version", kMaxHeartbeatTextBytes, &report->kernel_version));
  return kernel->Text("artifact", kMaxHeartbeatTextBytes, &report->kernel_artifact);
}

Status ReadLoad(const Json& doc, const JsonFields& fields, HeartbeatReport* report) {
  auto it = doc.find("load");
  if (it == doc.end()) return Status::Ok();
  if (!it->is_array()) return fields.WrongType("load", *it, "an array of 3 numbers");
  if (it->size() > 3) return fields.Bad("load", "more than 3 numbers");
  std::vector<double> load;
  for (size_t i = 0; i < it->size(); ++i) {
    const Json& value = (*it)[i];
    if (!value.is_number() || !std::isfinite(value.get<double>()) || value.get<double>() < 0) {
      return fields.Bad("load[" + std::to_string(i) + "]", "expected a number >= 0");
    }
    load.push_back(value.get<double>());
  }
  report->load = std::move(load);
  return Status::Ok();
}

Status ReadReportedFiles(const JsonFields& fields, HeartbeatReport* report) {
  GC_ASSIGN_OR_RETURN(const Json* files, fields.Member("cluster_files", Json::value_t::object));
  if (!files) return Status::Ok();
  if (files->size() > kMaxClusterFiles) {
    return fields.Bad("cluster_files", "more than " + std::to_string(kMaxClusterFiles) + " files");
  }
  for (const auto& [path, hash] : files->items()) {
    std::string field = "cluster_files[\"" + CleanText(path, 64) + "\"]";
    if (!IsClusterFilePath(path)) {
      return fields.Bad(field, "not a relative path such as etc/openmosix.map");
    }
    if (!hash.is_string()) return fields.WrongType(field, hash, "a SHA-256 hex string");
    // "" is the agent's word for a file it could not read: kept, and
    // flagged as drift like any other wrong hash.
    const std::string& hex = hash.get_ref<const std::string&>();
    if (!hex.empty() && !IsValidHashHex(hex)) {
      return fields.Bad(field, "expected 64 lowercase hex digits (or \"\": unreadable)");
    }
    report->cluster_files[path] = hex;
  }
  return Status::Ok();
}

}  // namespace

std::string EncodeHeartbeat(const HeartbeatReport& report) {
  OrderedJson doc;
  doc["format"] = kHeartbeatFormat;
  doc["boot"] = report.boot;
  doc["image"] = report.image;
  doc["kernel"] = {{"release", report.kernel_release},
                   {"version", report.kernel_version},
                   {"artifact", report.kernel_artifact}};
  if (report.uptime_s) doc["uptime_s"] = *report.uptime_s;
  if (report.load) doc["load"] = *report.load;
  if (report.cpus) doc["cpus"] = *report.cpus;
  if (report.cpu_mhz) doc["cpu_mhz"] = *report.cpu_mhz;
  if (report.mem_total_kb) doc["mem_total_kb"] = *report.mem_total_kb;
  if (report.mem_available_kb) doc["mem_available_kb"] = *report.mem_available_kb;
  doc["cluster_files"] = OrderedJson::object();
  for (const auto& [path, hash] : report.cluster_files) doc["cluster_files"][path] = hash;
  return DumpJson(doc);
}

Result<HeartbeatReport> DecodeHeartbeat(std::string_view body) {
  GC_ASSIGN_OR_RETURN(Json doc, ParseJsonObject(body, "heartbeat", kMaxReportBytes));
  JsonFields fields(doc, "heartbeat");
  uint64_t format = 0;
  GC_RETURN_IF_ERROR(fields.Count("format", &format, JsonFields::kRequired));
  if (format != static_cast<uint64_t>(kHeartbeatFormat)) {
    return fields.Bad("format", std::to_string(format) + " is not supported (this server speaks " +
                                    std::to_string(kHeartbeatFormat) + ")");
  }
  HeartbeatReport report;
  GC_RETURN_IF_ERROR(fields.Text("boot", 16, &report.boot, JsonFields::kRequired));
  if (report.boot != "installed" && report.boot != "diskless") {
    return fields.Bad("boot", "'" + report.boot + "' is not installed or diskless");
  }
  GC_RETURN_IF_ERROR(fields.Text("image", kMaxHeartbeatTextBytes, &report.image));
  GC_RETURN_IF_ERROR(ReadKernel(fields, &report));
  GC_RETURN_IF_ERROR(fields.Number("uptime_s", &report.uptime_s));
  GC_RETURN_IF_ERROR(fields.Number("cpu_mhz", &report.cpu_mhz));
  GC_RETURN_IF_ERROR(fields.Count("cpus", &report.cpus));
  GC_RETURN_IF_ERROR(fields.Count("mem_total_kb", &report.mem_total_kb));
  GC_RETURN_IF_ERROR(fields.Count("mem_available_kb", &report.mem_available_kb));
  GC_RETURN_IF_ERROR(ReadLoad(doc, fields, &report));
  GC_RETURN_IF_ERROR(ReadReportedFiles(fields, &report));
  return report;
}

std::string EncodeHeartbeatAnswer(const HeartbeatAnswer& answer) {
  OrderedJson doc;
  doc["ok"] = answer.ok;
  doc["time_ns"] = answer.time_ns;
  doc["cluster_files"] = ClusterFilesJson(answer.cluster_files);
  return DumpJson(doc);
}

Result<HeartbeatAnswer> DecodeHeartbeatAnswer(std::string_view body) {
  GC_ASSIGN_OR_RETURN(Json doc, ParseJsonObject(body, "heartbeat answer", kMaxReportBytes));
  JsonFields fields(doc, "heartbeat answer");
  HeartbeatAnswer answer;
  auto ok = doc.find("ok");
  answer.ok = ok != doc.end() && ok->is_boolean() && ok->get<bool>();
  // Informational (the agent keeps its own clock): read when well-formed.
  auto time = doc.find("time_ns");
  if (time != doc.end() && time->is_number_integer()) answer.time_ns = time->get<int64_t>();
  Result<std::vector<ClusterFile>> files = ReadClusterFiles(fields, "cluster_files");
  if (files.ok()) {
    answer.cluster_files = std::move(files).value();
  } else {
    answer.cluster_files_status = files.status();
  }
  return answer;
}

}  // namespace gc
