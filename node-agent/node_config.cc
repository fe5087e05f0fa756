#include "node-agent/node_config.h"

#include <nlohmann/json.hpp>

#include "common/manifest.h"
#include "common/tls.h"

namespace gc {

namespace {

using nlohmann::json;

bool IsNodeNameChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

bool IsHexChar(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// "name@N" with a positive N; the server names images and kernels this way.
bool IsArtifactRef(std::string_view ref) {
  size_t at = ref.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == ref.size()) return false;
  for (char c : ref.substr(0, at)) {
    if (!IsNodeNameChar(c)) return false;
  }
  for (char c : ref.substr(at + 1)) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// `field(name)` turns a field name into how this source spells it, so JSON
// and the kernel command line report the same mistake in their own words.
template <typename FieldName>
Status ValidateConfig(const NodeConfig& config, std::string_view source, FieldName field) {
  auto bad = [&](std::string_view name, std::string problem) {
    return InvalidArgument(std::string(source) + ": " + field(name) + ": " + problem);
  };
  const std::string& server = config.server;
  bool http = server.rfind("http://", 0) == 0;
  bool https = server.rfind("https://", 0) == 0;
  if (!http && !https) {
    return bad("server",
               "'" + server + "' is not an http:// or https:// URL (e.g. http://10.77.0.1:8470)");
  }
  size_t host_start = http ? 7 : 8;
  if (server.size() == host_start || server[host_start] == '/') {
    return bad("server", "'" + server + "' names no host");
  }
  for (char c : server) {
    if (c <= ' ' || c == 0x7f) return bad("server", "'" + server + "' contains a space or control");
  }
  if (!config.pin.empty()) {
    if (!https) {
      return bad("pin",
                 "is set, but server '" + server + "' is not https:// (a pinned key needs TLS)");
    }
    if (!IsPinList(config.pin)) {
      return bad("pin", "'" + config.pin.substr(0, 80) +
                            "' is not sha256//<44 base64 characters> (';' between several)");
    }
  }
  if (config.node.empty()) return bad("node", "is empty");
  for (char c : config.node) {
    if (!IsNodeNameChar(c)) {
      return bad("node", "'" + config.node + "' may only hold letters, digits, '.', '_' and '-'");
    }
  }
  // A node booting from its boot script has a token to redeem instead.
  if (config.secret.empty() && config.token.empty()) return bad("secret", "is empty");
  for (char c : config.secret) {
    if (!IsHexChar(c)) return bad("secret", "is not hexadecimal");
  }
  for (char c : config.token) {
    if (!IsHexChar(c)) return bad("token", "is not hexadecimal");
  }
  if (!config.image.empty() && !IsArtifactRef(config.image)) {
    return bad("image", "'" + config.image + "' is not NAME@N (e.g. compute@2)");
  }
  if (!config.kernel.empty() && !IsArtifactRef(config.kernel)) {
    return bad("kernel", "'" + config.kernel + "' is not NAME@N (e.g. migration-6.1@1)");
  }
  for (const std::string& path : config.cluster_files) {
    Status valid = ValidateRelativePath(path);
    if (!valid.ok()) {
      return bad("cluster_files", "'" + path + "' " + valid.message() +
                                      " (paths are relative to /, e.g. etc/openmosix.map)");
    }
  }
  return Status::Ok();
}

std::string JsonTypeName(const json& value) { return value.type_name(); }

}  // namespace

Result<NodeConfig> ParseNodeConfig(std::string_view text, std::string_view source_name) {
  std::string source(source_name);
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::exception& e) {
    return InvalidArgument(source + ": not valid JSON (" + e.what() +
                           "); rewrite it or reinstall the node");
  }
  if (!doc.is_object()) {
    return InvalidArgument(source + ": expected a JSON object, found " + JsonTypeName(doc));
  }
  auto bad = [&](std::string_view field, std::string problem) {
    return InvalidArgument(source + ": field '" + std::string(field) + "': " + problem);
  };

  auto format = doc.find("format");
  if (format == doc.end()) return bad("format", "missing (expected 1)");
  if (!format->is_number_integer() || format->get<int64_t>() != 1) {
    // Only a number is quoted: anything else may be as long as the file, and
    // dumping a deeply nested value recurses once per level.
    std::string found = format->is_number() ? format->dump() : "of type " + JsonTypeName(*format);
    return bad("format",
               "is " + found + ", this agent reads format 1 only (upgrade goldcast-agent?)");
  }

  NodeConfig config;
  // Required strings first, then optional ones: absent or null is "".
  struct StringField {
    const char* name;
    std::string* out;
    bool required;
  };
  const StringField fields[] = {
      {"server", &config.server, true}, {"node", &config.node, true},
      {"secret", &config.secret, true}, {"pin", &config.pin, false},
      {"image", &config.image, false},  {"kernel", &config.kernel, false},
  };
  for (const StringField& field : fields) {
    auto it = doc.find(field.name);
    if (it == doc.end() || (!field.required && it->is_null())) {
      if (field.required) return bad(field.name, "missing");
      continue;
    }
    if (!it->is_string()) return bad(field.name, "expected a string, found " + JsonTypeName(*it));
    *field.out = it->get<std::string>();
  }

  auto files = doc.find("cluster_files");
  if (files != doc.end() && !files->is_null()) {
    if (!files->is_array()) {
      return bad("cluster_files", "expected an array of paths, found " + JsonTypeName(*files));
    }
    for (size_t i = 0; i < files->size(); ++i) {
      const json& item = (*files)[i];
      if (!item.is_string()) {
        return bad("cluster_files", "item " + std::to_string(i) + " is " + JsonTypeName(item) +
                                        ", expected a path string");
      }
      config.cluster_files.push_back(item.get<std::string>());
    }
  }

  GC_RETURN_IF_ERROR(ValidateConfig(
      config, source, [](std::string_view name) { return "field '" + std::string(name) + "'"; }));
  return config;
}

std::string SerializeNodeConfig(const NodeConfig& config) {
  // Ordered so the file reads like the documentation.
  nlohmann::ordered_json doc;
  doc["format"] = 1;
  doc["server"] = config.server;
  doc["node"] = config.node;
  doc["secret"] = config.secret;
  if (!config.pin.empty()) doc["pin"] = config.pin;
  doc["image"] = config.image;
  doc["kernel"] = config.kernel;
  doc["cluster_files"] = config.cluster_files;
  return doc.dump(2) + "\n";
}

Result<NodeConfig> NodeConfigFromCmdline(std::string_view cmdline) {
  NodeConfig config;
  bool seen_server = false, seen_node = false, seen_token = false;
  size_t pos = 0;
  while (pos < cmdline.size()) {
    size_t start = cmdline.find_first_not_of(" \t\n\r", pos);
    if (start == std::string_view::npos) break;
    size_t end = cmdline.find_first_of(" \t\n\r", start);
    if (end == std::string_view::npos) end = cmdline.size();
    std::string_view word = cmdline.substr(start, end - start);
    pos = end;
    size_t eq = word.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view key = word.substr(0, eq);
    std::string value(word.substr(eq + 1));
    // A boot loader may quote a value; the values we read never hold quotes.
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    // The kernel lets the last of repeated parameters win; so do we.
    if (key == "goldcast.server") {
      config.server = value;
      seen_server = true;
    } else if (key == "goldcast.node") {
      config.node = value;
      seen_node = true;
    } else if (key == "goldcast.token") {
      config.token = value;
      seen_token = !value.empty();
    } else if (key == "goldcast.pin") {
      config.pin = value;
    } else if (key == "goldcast.image") {
      config.image = value;
    } else if (key == "goldcast.kernel") {
      config.kernel = value;
    }
  }
  const char* missing = !seen_server  ? "goldcast.server="
                        : !seen_node  ? "goldcast.node="
                        : !seen_token ? "goldcast.token="
                                      : nullptr;
  if (missing != nullptr) {
    return InvalidArgument(std::string("kernel command line: no ") + missing +
                           " (this node was not booted by goldcast serve, or its boot entry is "
                           "incomplete; pass --config with a node.json instead)");
  }
  GC_RETURN_IF_ERROR(ValidateConfig(config, "kernel command line", [](std::string_view name) {
    return "goldcast." + std::string(name) + "=";
  }));
  return config;
}

}  // namespace gc
