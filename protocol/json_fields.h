// How protocol/ reads and writes its JSON (internal to protocol/*.cc): every
// body is network input, so each field is type- and bounds-checked and an
// error names the body and the field ("heartbeat: field kernel.release:
// expected a string, got number") for the 400 answer or the agent's log.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "protocol/cluster_file.h"

namespace gc {

using Json = nlohmann::json;
// Encoders write fields in the order docs/node-api.md lists them.
using OrderedJson = nlohmann::ordered_json;

// Progress reports, heartbeats and heartbeat answers: at most this many
// bytes (docs/node-api.md).
constexpr size_t kMaxReportBytes = 1 << 20;

// One line; text that is not UTF-8 is replaced rather than thrown on.
std::string DumpJson(const OrderedJson& doc);

// Network text made printable and bounded: cut to `max_bytes` at a
// character boundary, control characters turned into spaces.
std::string CleanText(const std::string& text, size_t max_bytes);

// `body` as a JSON object. Errors read "<what>: body ..."; the parser's
// own message is cleaned (it quotes the input).
Result<Json> ParseJsonObject(std::string_view body, std::string_view what, size_t max_bytes);

// The fields of one JSON object. Readers leave `*out` alone when the field
// is absent; a missing required field, a wrong type or a value out of
// bounds is kInvalidArgument "<what>: field <prefix><key>: <problem>".
class JsonFields {
 public:
  static constexpr bool kRequired = true;

  // `null_is_absent`: a null value reads as a missing field (the plan's
  // `"kernel": null`); else null is a wrong type.
  JsonFields(const Json& object, std::string what, std::string prefix = "",
             bool null_is_absent = false);

  // The fields of the object or array element at `key`, named "<prefix><key>.".
  JsonFields Nested(const Json& object, std::string_view key) const;

  Status Bad(std::string_view key, std::string_view problem) const;
  Status WrongType(std::string_view key, const Json& value, std::string_view expected) const;

  // Any string.
  Status String(std::string_view key, std::string* out, bool required = false) const;
  // A one-line printable string of at most `max_bytes`.
  Status Text(std::string_view key, size_t max_bytes, std::string* out,
              bool required = false) const;
  // An integer in [0, INT64_MAX].
  Status Count(std::string_view key, uint64_t* out, bool required = false) const;
  Status Count(std::string_view key, std::optional<uint64_t>* out) const;
  // A finite number >= 0.
  Status Number(std::string_view key, std::optional<double>* out) const;
  Status Bool(std::string_view key, bool* out) const;
  // The fields of the object at `key`, named "<prefix><key>."; nullopt when
  // absent.
  Result<std::optional<JsonFields>> Object(std::string_view key, bool required = false) const;
  // The object or array at `key` (`type`), or nullptr when absent.
  Result<const Json*> Member(std::string_view key, Json::value_t type, bool required = false) const;

 private:
  // The value at `key`, nullptr when absent (an error if required).
  Result<const Json*> Find(std::string_view key, bool required) const;

  const Json& object_;
  std::string what_;
  std::string prefix_;
  bool null_is_absent_;
};

// Cluster files as the plan and the heartbeat answer carry them: a list of
// {"path", "mode", "content"} (cluster_file.cc).
OrderedJson ClusterFilesJson(const std::vector<ClusterFile>& files);
// The list at `key` of `fields`; absent is empty.
Result<std::vector<ClusterFile>> ReadClusterFiles(const JsonFields& fields, std::string_view key);

}  // namespace gc
