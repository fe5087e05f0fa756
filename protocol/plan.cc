#include "protocol/plan.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <limits>

#include "protocol/json_fields.h"

namespace gc {

namespace {

bool OnlyChars(std::string_view text, const char* extra) {
  return std::all_of(text.begin(), text.end(), [&](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::strchr(extra, c) != nullptr;
  });
}

// "NAME@N": refs go into URL paths unencoded.
bool IsRef(std::string_view ref) {
  size_t at = ref.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == ref.size()) return false;
  return OnlyChars(ref.substr(0, at), "._-") &&
         std::all_of(ref.begin() + at + 1, ref.end(), [](char c) { return c >= '0' && c <= '9'; });
}

Status ReadNode(const JsonFields& fields, InstallPlan* plan) {
  GC_ASSIGN_OR_RETURN(std::optional<JsonFields> node, fields.Object("node", JsonFields::kRequired));
  GC_RETURN_IF_ERROR(node->String("name", &plan->node_name, JsonFields::kRequired));
  GC_RETURN_IF_ERROR(node->String("ip", &plan->ip));
  GC_RETURN_IF_ERROR(node->String("domain", &plan->domain));
  if (plan->node_name.empty() || !OnlyChars(plan->node_name, "-_.")) {
    return node->Bad("name", "'" + plan->node_name + "' is not a host name");
  }
  if (!OnlyChars(plan->domain, "-.")) {
    return node->Bad("domain", "'" + plan->domain + "' is not a domain");
  }
  if (!OnlyChars(plan->ip, ".:")) {
    return node->Bad("ip", "'" + plan->ip + "' is not an address");
  }
  return Status::Ok();
}

Status ReadImage(const JsonFields& fields, InstallPlan* plan) {
  GC_ASSIGN_OR_RETURN(std::optional<JsonFields> image,
                      fields.Object("image", JsonFields::kRequired));
  GC_RETURN_IF_ERROR(image->String("ref", &plan->image_ref, JsonFields::kRequired));
  GC_RETURN_IF_ERROR(image->Count("bytes", &plan->image_bytes));
  if (!IsRef(plan->image_ref)) return image->Bad("ref", "'" + plan->image_ref + "' is not NAME@N");
  return Status::Ok();
}

Status ReadKernel(const JsonFields& fields, InstallPlan* plan) {
  GC_ASSIGN_OR_RETURN(std::optional<JsonFields> kernel, fields.Object("kernel"));
  if (!kernel) return Status::Ok();
  plan->has_kernel = true;
  GC_RETURN_IF_ERROR(kernel->String("ref", &plan->kernel_ref, JsonFields::kRequired));
  GC_RETURN_IF_ERROR(kernel->String("release", &plan->kernel_release, JsonFields::kRequired));
  GC_RETURN_IF_ERROR(kernel->Bool("has_modules", &plan->kernel_has_modules));
  if (!IsRef(plan->kernel_ref)) {
    return kernel->Bad("ref", "'" + plan->kernel_ref + "' is not NAME@N");
  }
  // It names files (vmlinuz-RELEASE) and lib/modules/RELEASE on the node.
  const std::string& release = plan->kernel_release;
  if (release.empty() || release == "." || release == ".." || !OnlyChars(release, "-_.+~")) {
    return kernel->Bad("release", "'" + release + "' is not a kernel release");
  }
  return Status::Ok();
}

}  // namespace

std::string EncodeInstallPlan(const InstallPlan& plan) {
  OrderedJson doc;
  doc["format"] = kPlanFormat;
  doc["node"] = {{"name", plan.node_name}, {"ip", plan.ip}, {"domain", plan.domain}};
  doc["image"] = {{"ref", plan.image_ref}, {"bytes", plan.image_bytes}};
  doc["kernel"] = nullptr;
  if (plan.has_kernel) {
    doc["kernel"] = {{"ref", plan.kernel_ref},
                     {"release", plan.kernel_release},
                     {"has_modules", plan.kernel_has_modules}};
  }
  doc["kernel_args"] = plan.kernel_args;
  doc["cluster_files"] = ClusterFilesJson(plan.cluster_files);
  return DumpJson(doc);
}

Result<InstallPlan> DecodeInstallPlan(std::string_view text) {
  // Cluster files make a plan as large as they are: no bound beyond the
  // HTTP client's.
  GC_ASSIGN_OR_RETURN(Json doc, ParseJsonObject(text, "plan", std::numeric_limits<size_t>::max()));
  JsonFields fields(doc, "plan", "", /*null_is_absent=*/true);
  uint64_t format = 0;
  GC_RETURN_IF_ERROR(fields.Count("format", &format, JsonFields::kRequired));
  if (format != static_cast<uint64_t>(kPlanFormat)) {
    return fields.Bad("format", std::to_string(format) + " is not supported (this agent reads " +
                                    std::to_string(kPlanFormat) +
                                    "; use the goldcast-agent of the server's goldcast version)");
  }
  InstallPlan plan;
  GC_RETURN_IF_ERROR(ReadNode(fields, &plan));
  GC_RETURN_IF_ERROR(ReadImage(fields, &plan));
  GC_RETURN_IF_ERROR(ReadKernel(fields, &plan));
  GC_RETURN_IF_ERROR(fields.String("kernel_args", &plan.kernel_args));
  for (char c : plan.kernel_args) {
    if (static_cast<unsigned char>(c) < ' ' || c == 0x7f) {
      return fields.Bad("kernel_args", "holds a control character");
    }
  }
  GC_ASSIGN_OR_RETURN(plan.cluster_files, ReadClusterFiles(fields, "cluster_files"));
  return plan;
}

}  // namespace gc
