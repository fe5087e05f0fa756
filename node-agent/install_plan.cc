#include "node-agent/install_plan.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <nlohmann/json.hpp>

#include "common/manifest.h"

namespace gc {

namespace {

using nlohmann::json;

// Keeps the first error (naming its field), so the parser can read field
// after field and check once.
class PlanReader {
 public:
  const json* Get(const json& object, const std::string& where, const std::string& key,
                  json::value_t type, bool required) {
    if (!status_.ok()) return nullptr;
    std::string field = where.empty() ? key : where + "." + key;
    auto it = object.find(key);
    if (it == object.end() || it->is_null()) {
      if (required) status_ = InvalidArgument("plan: " + field + ": missing");
      return nullptr;
    }
    bool number = type == json::value_t::number_unsigned;
    if (number ? !(it->is_number_integer() && *it >= 0) : it->type() != type) {
      const char* expected = number                           ? "a non-negative integer"
                             : type == json::value_t::string  ? "a string"
                             : type == json::value_t::boolean ? "true or false"
                             : type == json::value_t::array   ? "an array"
                                                              : "an object";
      status_ = InvalidArgument("plan: " + field + ": expected " + expected);
      return nullptr;
    }
    return &*it;
  }
  std::string String(const json& object, const std::string& where, const std::string& key,
                     bool required) {
    const json* value = Get(object, where, key, json::value_t::string, required);
    return value ? value->get<std::string>() : "";
  }
  uint64_t Number(const json& object, const std::string& where, const std::string& key,
                  bool required) {
    const json* value = Get(object, where, key, json::value_t::number_unsigned, required);
    return value ? value->get<uint64_t>() : 0;
  }
  void Fail(const std::string& field, const std::string& problem) {
    if (status_.ok()) status_ = InvalidArgument("plan: " + field + ": " + problem);
  }
  const Status& status() const { return status_; }

 private:
  Status status_;
};

bool OnlyChars(std::string_view text, const char* extra) {
  return std::all_of(text.begin(), text.end(), [&](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::strchr(extra, c) != nullptr;
  });
}

bool IsRef(std::string_view ref) {
  size_t at = ref.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == ref.size()) return false;
  return OnlyChars(ref.substr(0, at), "._-") &&
         std::all_of(ref.begin() + at + 1, ref.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

Result<InstallPlan> ParseInstallPlan(std::string_view text) {
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::exception& e) {
    return InvalidArgument(std::string("plan: not valid JSON: ") + e.what());
  }
  if (!doc.is_object()) return InvalidArgument("plan: expected a JSON object");
  PlanReader r;
  InstallPlan plan;
  if (r.Number(doc, "", "format", true) != 1 && r.status().ok()) {
    return InvalidArgument("plan: format: only format 1 is understood; update the agent");
  }
  plan.server = r.String(doc, "", "server", false);
  if (const json* node = r.Get(doc, "", "node", json::value_t::object, true)) {
    plan.node_name = r.String(*node, "node", "name", true);
    plan.node_index = static_cast<int64_t>(r.Number(*node, "node", "index", false));
    plan.mac = r.String(*node, "node", "mac", false);
    plan.ip = r.String(*node, "node", "ip", false);
    plan.prefix_length = static_cast<int64_t>(r.Number(*node, "node", "prefix_length", false));
    plan.gateway = r.String(*node, "node", "gateway", false);
    plan.domain = r.String(*node, "node", "domain", false);
    plan.group = r.String(*node, "node", "group", false);
  }
  if (const json* image = r.Get(doc, "", "image", json::value_t::object, true)) {
    plan.image_ref = r.String(*image, "image", "ref", true);
    plan.image_files = r.Number(*image, "image", "files", false);
    plan.image_bytes = r.Number(*image, "image", "bytes", false);
  }
  if (const json* kernel = r.Get(doc, "", "kernel", json::value_t::object, false)) {
    plan.has_kernel = true;
    plan.kernel_ref = r.String(*kernel, "kernel", "ref", true);
    plan.kernel_release = r.String(*kernel, "kernel", "release", true);
    if (const json* has = r.Get(*kernel, "kernel", "has_modules", json::value_t::boolean, false)) {
      plan.kernel_has_modules = has->get<bool>();
    }
  }
  plan.kernel_args = r.String(doc, "", "kernel_args", false);
  if (const json* files = r.Get(doc, "", "cluster_files", json::value_t::array, false)) {
    for (size_t k = 0; k < files->size() && r.status().ok(); ++k) {
      std::string at = "cluster_files[" + std::to_string(k) + "]";
      const json& item = (*files)[k];
      if (!item.is_object()) {
        r.Fail(at, "expected an object");
        break;
      }
      ClusterFile file;
      file.path = r.String(item, at, "path", true);
      file.mode = static_cast<uint32_t>(r.Number(item, at, "mode", true));
      file.content = r.String(item, at, "content", true);
      if (!r.status().ok()) break;
      Status valid = ValidateRelativePath(file.path);
      if (!valid.ok() || file.path == ".") {
        r.Fail(at + ".path",
               "'" + file.path + "' " + (valid.ok() ? "is the root" : valid.message()));
      }
      if (file.mode > 07777) r.Fail(at + ".mode", "more than 07777");
      plan.cluster_files.push_back(std::move(file));
    }
  }
  GC_RETURN_IF_ERROR(r.status());
  if (plan.node_name.empty() || !OnlyChars(plan.node_name, "-_.")) {
    r.Fail("node.name", "'" + plan.node_name + "' is not a host name");
  }
  if (!OnlyChars(plan.domain, "-.")) r.Fail("node.domain", "'" + plan.domain + "' is not a domain");
  if (!OnlyChars(plan.ip, ".:")) r.Fail("node.ip", "'" + plan.ip + "' is not an address");
  if (!IsRef(plan.image_ref)) r.Fail("image.ref", "'" + plan.image_ref + "' is not NAME@N");
  if (plan.has_kernel) {
    if (!IsRef(plan.kernel_ref)) r.Fail("kernel.ref", "'" + plan.kernel_ref + "' is not NAME@N");
    const std::string& release = plan.kernel_release;
    if (release.empty() || release == "." || release == ".." || !OnlyChars(release, "-_.+~")) {
      r.Fail("kernel.release", "'" + release + "' is not a kernel release");
    }
  }
  for (char c : plan.kernel_args) {
    if (static_cast<unsigned char>(c) < ' ' || c == 0x7f) {
      r.Fail("kernel_args", "holds a control character");
      break;
    }
  }
  GC_RETURN_IF_ERROR(r.status());
  return plan;
}

}  // namespace gc
