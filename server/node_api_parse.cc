// The JSON bodies nodes send (progress, heartbeat): network input from an
// authenticated but not trusted agent, so every field is type- and
// bounds-checked, and whatever reaches the registry (and from there a
// terminal) is printable.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>

#include "common/hash.h"
#include "common/manifest.h"
#include "server/node_api.h"

namespace gc {

namespace {

using nlohmann::json;

constexpr size_t kMaxMessageBytes = 4096;
// The JSON library's parse errors quote the token they stopped in ("last
// read: '...'"), which may be most of the body and hold a raw DEL: it is
// cut and cleaned like a message before it goes back in the 400 answer.
constexpr size_t kMaxParseErrorBytes = 300;
constexpr size_t kMaxNameBytes = 256;
constexpr size_t kMaxClusterFiles = 64;

// Reads the fields of one JSON object; errors read "<what>: field <path>:
// <problem>".
class Fields {
 public:
  Fields(const json& object, std::string what, std::string prefix = "")
      : object_(object), what_(std::move(what)), prefix_(std::move(prefix)) {}

  Status Bad(std::string_view key, std::string_view problem) const {
    return InvalidArgument(what_ + ": field " + prefix_ + std::string(key) + ": " +
                           std::string(problem));
  }

  const json* Find(std::string_view key, bool required, Status* status) const {
    auto it = object_.find(key);
    if (it == object_.end()) {
      if (required) *status = Bad(key, "missing");
      return nullptr;
    }
    return &*it;
  }

  Status WrongType(std::string_view key, const json& value, std::string_view expected) const {
    return Bad(key, "expected " + std::string(expected) + ", got " + value.type_name());
  }

  // A one-line printable string of at most max_bytes.
  Result<std::optional<std::string>> Text(std::string_view key, size_t max_bytes,
                                          bool required = false) const {
    Status status;
    const json* value = Find(key, required, &status);
    if (!value) return status.ok() ? Result<std::optional<std::string>>(std::nullopt) : status;
    if (!value->is_string()) return WrongType(key, *value, "a string");
    const std::string& text = value->get_ref<const std::string&>();
    if (text.size() > max_bytes) {
      return Bad(key, "longer than " + std::to_string(max_bytes) + " bytes");
    }
    for (unsigned char c : text) {
      if (c < 0x20 || c == 0x7f) return Bad(key, "contains a control character");
    }
    return std::optional<std::string>(text);
  }

  Result<std::optional<uint64_t>> Count(std::string_view key, bool required = false) const {
    Status status;
    const json* value = Find(key, required, &status);
    if (!value) return status.ok() ? Result<std::optional<uint64_t>>(std::nullopt) : status;
    if (!value->is_number_unsigned()) {
      return WrongType(key, *value, "a non-negative integer");
    }
    uint64_t number = value->get<uint64_t>();
    if (number > static_cast<uint64_t>(INT64_MAX)) return Bad(key, "too large");
    return std::optional<uint64_t>(number);
  }

  Result<std::optional<double>> Number(std::string_view key) const {
    Status status;
    const json* value = Find(key, false, &status);
    if (!value) return std::optional<double>();
    if (!value->is_number()) return WrongType(key, *value, "a number");
    double number = value->get<double>();
    if (!std::isfinite(number) || number < 0) return Bad(key, "expected a number >= 0");
    return std::optional<double>(number);
  }

  const json& object() const { return object_; }

 private:
  const json& object_;
  std::string what_;
  std::string prefix_;
};

// A failure message is the one thing an admin must be able to read, so it
// is kept (cut to size at a character boundary, controls blanked) rather
// than refused.
std::string CleanMessage(const std::string& text, size_t max_bytes = kMaxMessageBytes) {
  std::string out = text.substr(0, max_bytes);
  if (out.size() < text.size()) {
    while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xc0) == 0x80) out.pop_back();
    if (!out.empty() && static_cast<unsigned char>(out.back()) >= 0xc0) out.pop_back();
  }
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return out;
}

Result<json> ParseObject(std::string_view body, std::string_view what) {
  if (body.size() > kNodeApiMaxJsonBytes) {
    return InvalidArgument(std::string(what) + ": body larger than " +
                           std::to_string(kNodeApiMaxJsonBytes) + " bytes");
  }
  json parsed;
  try {
    parsed = json::parse(body);
  } catch (const json::exception& e) {
    return InvalidArgument(std::string(what) + ": body is not valid JSON (" +
                           CleanMessage(e.what(), kMaxParseErrorBytes) + ")");
  }
  if (!parsed.is_object()) {
    return InvalidArgument(std::string(what) + ": body: expected a JSON object, got " +
                           parsed.type_name());
  }
  return parsed;
}

Status CheckFormat(const Fields& fields) {
  GC_ASSIGN_OR_RETURN(std::optional<uint64_t> format, fields.Count("format", true));
  if (*format != static_cast<uint64_t>(kNodeApiFormat)) {
    return fields.Bad("format", std::to_string(*format) + " is not supported (this server speaks " +
                                    std::to_string(kNodeApiFormat) + ")");
  }
  return Status::Ok();
}

}  // namespace

Result<InstallProgress> ParseProgress(std::string_view body) {
  GC_ASSIGN_OR_RETURN(json parsed, ParseObject(body, "progress"));
  Fields fields(parsed, "progress");
  InstallProgress progress;
  GC_ASSIGN_OR_RETURN(std::optional<std::string> phase, fields.Text("phase", 32, true));
  if (!IsInstallPhase(*phase)) {
    return fields.Bad("phase", "'" + *phase +
                                   "' is not one of partition, format, image, kernel, identity, "
                                   "bootloader, done, failed");
  }
  progress.phase = *phase;
  GC_ASSIGN_OR_RETURN(std::optional<uint64_t> done, fields.Count("done"));
  GC_ASSIGN_OR_RETURN(std::optional<uint64_t> total, fields.Count("total"));
  progress.done = done.value_or(0);
  progress.total = total.value_or(0);
  if (auto it = parsed.find("message"); it != parsed.end()) {
    if (!it->is_string()) return fields.WrongType("message", *it, "a string");
    progress.message = CleanMessage(it->get<std::string>());
  }
  return progress;
}

Result<Heartbeat> ParseHeartbeat(std::string_view body) {
  GC_ASSIGN_OR_RETURN(json parsed, ParseObject(body, "heartbeat"));
  Fields fields(parsed, "heartbeat");
  GC_RETURN_IF_ERROR(CheckFormat(fields));
  Heartbeat beat;
  json known = {{"format", kNodeApiFormat}};

  GC_ASSIGN_OR_RETURN(std::optional<std::string> boot, fields.Text("boot", 16, true));
  if (*boot != "installed" && *boot != "diskless") {
    return fields.Bad("boot", "'" + *boot + "' is not installed or diskless");
  }
  beat.boot = *boot;
  known["boot"] = beat.boot;
  GC_ASSIGN_OR_RETURN(std::optional<std::string> image, fields.Text("image", kMaxNameBytes));
  beat.image = image.value_or("");
  known["image"] = beat.image;

  if (auto it = parsed.find("kernel"); it != parsed.end()) {
    if (!it->is_object()) return fields.WrongType("kernel", *it, "an object");
    Fields kernel(*it, "heartbeat", "kernel.");
    GC_ASSIGN_OR_RETURN(std::optional<std::string> release, kernel.Text("release", kMaxNameBytes));
    GC_ASSIGN_OR_RETURN(std::optional<std::string> version, kernel.Text("version", kMaxNameBytes));
    GC_ASSIGN_OR_RETURN(std::optional<std::string> artifact,
                        kernel.Text("artifact", kMaxNameBytes));
    beat.kernel_release = release.value_or("");
    beat.kernel_version = version.value_or("");
    beat.kernel_artifact = artifact.value_or("");
    known["kernel"] = {{"release", beat.kernel_release},
                       {"version", beat.kernel_version},
                       {"artifact", beat.kernel_artifact}};
  }

  for (const char* key : {"uptime_s", "cpu_mhz"}) {
    GC_ASSIGN_OR_RETURN(std::optional<double> number, fields.Number(key));
    if (number) known[key] = *number;
  }
  for (const char* key : {"cpus", "mem_total_kb", "mem_available_kb"}) {
    GC_ASSIGN_OR_RETURN(std::optional<uint64_t> count, fields.Count(key));
    if (count) known[key] = *count;
  }
  if (auto it = parsed.find("load"); it != parsed.end()) {
    if (!it->is_array()) return fields.WrongType("load", *it, "an array of 3 numbers");
    if (it->size() > 3) return fields.Bad("load", "more than 3 numbers");
    json load = json::array();
    for (size_t i = 0; i < it->size(); ++i) {
      const json& value = (*it)[i];
      if (!value.is_number() || !std::isfinite(value.get<double>()) || value.get<double>() < 0) {
        return fields.Bad("load[" + std::to_string(i) + "]", "expected a number >= 0");
      }
      load.push_back(value.get<double>());
    }
    known["load"] = load;
  }

  if (auto it = parsed.find("cluster_files"); it != parsed.end()) {
    if (!it->is_object()) return fields.WrongType("cluster_files", *it, "an object");
    if (it->size() > kMaxClusterFiles) {
      return fields.Bad("cluster_files",
                        "more than " + std::to_string(kMaxClusterFiles) + " files");
    }
    json files = json::object();
    for (const auto& [path, hash] : it->items()) {
      std::string field = "cluster_files[\"" + CleanMessage(path, 64) + "\"]";
      bool printable = std::none_of(path.begin(), path.end(), [](char c) {
        return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
      });
      if (path.size() > kMaxNameBytes || !printable || !ValidateRelativePath(path).ok() ||
          path == ".") {
        return fields.Bad(field, "not a relative path such as etc/openmosix.map");
      }
      if (!hash.is_string()) return fields.WrongType(field, hash, "a SHA-256 hex string");
      // "" is the agent's word for a file it could not read: kept, and
      // flagged as drift like any other wrong hash.
      const std::string& hex = hash.get_ref<const std::string&>();
      if (!hex.empty() && !IsValidHashHex(hex)) {
        return fields.Bad(field, "expected 64 lowercase hex digits (or \"\": unreadable)");
      }
      beat.cluster_files[path] = hash.get<std::string>();
      files[path] = hash;
    }
    known["cluster_files"] = files;
  }
  beat.json = known.dump();
  return beat;
}

}  // namespace gc
