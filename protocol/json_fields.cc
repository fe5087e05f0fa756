#include "protocol/json_fields.h"

#include <cmath>
#include <cstdint>

namespace gc {

namespace {

// The JSON library's parse errors quote the token they stopped in ("last
// read: '...'"), which may be most of the body and hold a raw DEL: cut and
// cleaned before it goes into an error.
constexpr size_t kMaxParseErrorBytes = 300;

}  // namespace

std::string DumpJson(const OrderedJson& doc) {
  return doc.dump(-1, ' ', false, OrderedJson::error_handler_t::replace);
}

std::string CleanText(const std::string& text, size_t max_bytes) {
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

Result<Json> ParseJsonObject(std::string_view body, std::string_view what, size_t max_bytes) {
  if (body.size() > max_bytes) {
    return InvalidArgument(std::string(what) + ": body larger than " + std::to_string(max_bytes) +
                           " bytes");
  }
  Json parsed;
  try {
    parsed = Json::parse(body);
  } catch (const Json::exception& e) {
    return InvalidArgument(std::string(what) + ": body is not valid JSON (" +
                           CleanText(e.what(), kMaxParseErrorBytes) + ")");
  }
  if (!parsed.is_object()) {
    return InvalidArgument(std::string(what) + ": body: expected a JSON object, got " +
                           parsed.type_name());
  }
  return parsed;
}

JsonFields::JsonFields(const Json& object, std::string what, std::string prefix,
                       bool null_is_absent)
    : object_(object),
      what_(std::move(what)),
      prefix_(std::move(prefix)),
      null_is_absent_(null_is_absent) {}

JsonFields JsonFields::Nested(const Json& object, std::string_view key) const {
  return JsonFields(object, what_, prefix_ + std::string(key) + ".", null_is_absent_);
}

Status JsonFields::Bad(std::string_view key, std::string_view problem) const {
  return InvalidArgument(what_ + ": field " + prefix_ + std::string(key) + ": " +
                         std::string(problem));
}

Status JsonFields::WrongType(std::string_view key, const Json& value,
                             std::string_view expected) const {
  return Bad(key, "expected " + std::string(expected) + ", got " + value.type_name());
}

Result<const Json*> JsonFields::Find(std::string_view key, bool required) const {
  auto it = object_.find(key);
  if (it == object_.end() || (null_is_absent_ && it->is_null())) {
    if (required) return Bad(key, "missing");
    return nullptr;
  }
  return &*it;
}

Status JsonFields::String(std::string_view key, std::string* out, bool required) const {
  GC_ASSIGN_OR_RETURN(const Json* value, Find(key, required));
  if (!value) return Status::Ok();
  if (!value->is_string()) return WrongType(key, *value, "a string");
  *out = value->get<std::string>();
  return Status::Ok();
}

Status JsonFields::Text(std::string_view key, size_t max_bytes, std::string* out,
                        bool required) const {
  GC_ASSIGN_OR_RETURN(const Json* value, Find(key, required));
  if (!value) return Status::Ok();
  if (!value->is_string()) return WrongType(key, *value, "a string");
  const std::string& text = value->get_ref<const std::string&>();
  if (text.size() > max_bytes) {
    return Bad(key, "longer than " + std::to_string(max_bytes) + " bytes");
  }
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f) return Bad(key, "contains a control character");
  }
  *out = text;
  return Status::Ok();
}

Status JsonFields::Count(std::string_view key, uint64_t* out, bool required) const {
  GC_ASSIGN_OR_RETURN(const Json* value, Find(key, required));
  if (!value) return Status::Ok();
  if (!value->is_number_unsigned()) return WrongType(key, *value, "a non-negative integer");
  uint64_t number = value->get<uint64_t>();
  if (number > static_cast<uint64_t>(INT64_MAX)) return Bad(key, "too large");
  *out = number;
  return Status::Ok();
}

Status JsonFields::Count(std::string_view key, std::optional<uint64_t>* out) const {
  uint64_t number = 0;
  GC_ASSIGN_OR_RETURN(const Json* value, Find(key, false));
  if (!value) return Status::Ok();
  GC_RETURN_IF_ERROR(Count(key, &number));
  *out = number;
  return Status::Ok();
}

Status JsonFields::Number(std::string_view key, std::optional<double>* out) const {
  GC_ASSIGN_OR_RETURN(const Json* value, Find(key, false));
  if (!value) return Status::Ok();
  if (!value->is_number()) return WrongType(key, *value, "a number");
  double number = value->get<double>();
  if (!std::isfinite(number) || number < 0) return Bad(key, "expected a number >= 0");
  *out = number;
  return Status::Ok();
}

Status JsonFields::Bool(std::string_view key, bool* out) const {
  GC_ASSIGN_OR_RETURN(const Json* value, Find(key, false));
  if (!value) return Status::Ok();
  if (!value->is_boolean()) return WrongType(key, *value, "true or false");
  *out = value->get<bool>();
  return Status::Ok();
}

Result<std::optional<JsonFields>> JsonFields::Object(std::string_view key, bool required) const {
  GC_ASSIGN_OR_RETURN(const Json* object, Member(key, Json::value_t::object, required));
  if (!object) return std::optional<JsonFields>();
  return std::optional<JsonFields>(Nested(*object, key));
}

Result<const Json*> JsonFields::Member(std::string_view key, Json::value_t type,
                                       bool required) const {
  GC_ASSIGN_OR_RETURN(const Json* value, Find(key, required));
  if (!value || value->type() == type) return value;
  return WrongType(key, *value, type == Json::value_t::array ? "an array" : "an object");
}

}  // namespace gc
