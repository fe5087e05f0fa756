#include "profiles/yaml_reader.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "common/text.h"

namespace gc {

namespace {

bool HasMark(const YAML::Node& node) { return node.IsDefined() && !node.Mark().is_null(); }

// Where a second document starts, or a null mark. Not YAML::LoadAll: in
// yaml-cpp 0.7 a stray ',' at block level ends a document without being
// consumed, so LoadAll returns empty documents forever; here the loop stops
// at two. (YAML::Load alone would silently ignore everything after it.)
YAML::Mark SecondDocument(std::string_view text) {
  struct Counter : YAML::EventHandler {
    int documents = 0;
    YAML::Mark second = YAML::Mark::null_mark();
    void OnDocumentStart(const YAML::Mark& mark) override {
      if (++documents == 2) second = mark;
    }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
    void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
    void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  const std::string&) override {}
    void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                         YAML::EmitterStyle::value) override {}
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                    YAML::EmitterStyle::value) override {}
    void OnMapEnd() override {}
  };
  std::istringstream in{std::string(text)};
  YAML::Parser parser(in);
  Counter counter;
  for (int i = 0; i < 2 && parser.HandleNextDocument(counter); ++i) {
  }
  return counter.second;
}

}  // namespace

std::string QuoteValue(std::string_view text) {
  std::string out = "'";
  for (size_t i = 0; i < text.size() && i < 80; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\x%02x", c);
      out += buffer;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > 80) out += "...";
  return out + "'";
}

bool ParsePlainDecimal(std::string_view text, int64_t* out) {
  if (text.empty() || text.size() > 9 || (text.size() > 1 && text[0] == '0') ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  int64_t value = 0;
  for (char c : text) value = value * 10 + (c - '0');
  *out = value;
  return true;
}

const char* YamlKind(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a single value";
    default:
      return "nothing";
  }
}

std::string ChildPath(const std::string& path, std::string_view key) {
  bool plain = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return c > 0x20 && c < 0x7f && c != '\'' && c != '"';
  });
  std::string part;
  if (plain) {
    part = std::string(key);
  } else {
    std::string ascii;
    for (char c : key.substr(0, 80)) {
      unsigned char byte = static_cast<unsigned char>(c);
      if (byte >= 0x80) {
        char buffer[8];
        std::snprintf(buffer, sizeof buffer, "\\x%02x", byte);
        ascii += buffer;
      } else {
        ascii += c;
      }
    }
    part = QuoteValue(ascii);  // escapes the control bytes
  }
  return path.empty() ? part : path + "." + part;
}

const YamlField* YamlSection::Get(std::string_view key) const {
  for (const auto& item : items) {
    if (item.key.Scalar() == key) return &item;
  }
  return nullptr;
}

// yaml-cpp's own depth guard stops hostile nesting before the stack runs out.
Result<YamlSection> YamlReader::LoadDocument(std::string_view text, size_t max_bytes,
                                             std::string_view expected,
                                             const std::vector<std::string>& allowed) const {
  if (text.size() > max_bytes) {
    return At(YAML::Mark(), "",
              "the file is " + std::to_string(text.size()) + " bytes (expected at most " +
                  std::to_string(max_bytes) + ": is this the right file?)");
  }
  YAML::Node document;
  YAML::Mark second = YAML::Mark::null_mark();
  try {
    second = SecondDocument(text);
    if (second.is_null()) document = YAML::Load(std::string(text));
  } catch (const YAML::DeepRecursion& e) {
    return At(e.mark, "", "nested too deeply (expected " + std::string(expected) + ")");
  } catch (const YAML::Exception& e) {
    return At(e.mark, "", "not valid YAML: " + e.msg + " (check indentation and quoting)");
  }
  if (!second.is_null()) {
    return At(second, "",
              "more than one YAML document (expected one per file: remove the extra '---' "
              "or the stray ',' here)");
  }
  if (document.IsNull()) {
    return At(YAML::Mark(), "", "the file is empty (expected " + std::string(expected) + ")");
  }
  return Map(YamlField{YAML::Node(), document, ""}, allowed);
}

Status YamlReader::At(const YAML::Mark& mark, std::string_view path,
                      std::string_view problem) const {
  std::string where = file_ + ":" + std::to_string(std::max(mark.line, 0) + 1) + ":" +
                      std::to_string(std::max(mark.column, 0) + 1) + ": ";
  if (!path.empty()) where += std::string(path) + ": ";
  return InvalidArgument(where + std::string(problem));
}

Status YamlReader::Error(const YamlField& field, std::string_view problem) const {
  return At(MarkOf(field), field.path, problem);
}

YAML::Mark YamlReader::MarkOf(const YamlField& field) {
  if (HasMark(field.value) && !field.value.IsNull()) return field.value.Mark();
  if (HasMark(field.key)) return field.key.Mark();
  if (HasMark(field.value)) return field.value.Mark();
  return YAML::Mark();
}

Status YamlReader::Missing(const YamlSection& section, std::string_view key,
                           std::string_view expected) const {
  YAML::Mark mark = HasMark(section.self.key) ? section.self.key.Mark() : MarkOf(section.self);
  return At(mark, ChildPath(section.self.path, key),
            "missing (required: " + std::string(expected) + ")");
}

Result<const YamlField*> YamlReader::Require(const YamlSection& section, std::string_view key,
                                             std::string_view expected) const {
  const YamlField* field = section.Get(key);
  if (!field) return Missing(section, key, expected);
  return field;
}

Result<std::vector<YamlField>> YamlReader::Entries(const YamlField& field,
                                                   std::string_view what) const {
  if (!field.value.IsMap()) {
    return Error(field,
                 "expected a map of " + std::string(what) + ", got " + YamlKind(field.value));
  }
  std::vector<YamlField> out;
  for (const auto& item : field.value) {
    if (!item.first.IsScalar()) {
      return At(MarkOf({item.first, item.first, field.path}), field.path,
                std::string("a key must be a single value, got ") + YamlKind(item.first));
    }
    YamlField entry{item.first, item.second, ChildPath(field.path, item.first.Scalar())};
    for (const auto& seen : out) {
      if (seen.key.Scalar() == item.first.Scalar()) {
        return At(item.first.Mark(), entry.path,
                  "duplicate key (first at line " + std::to_string(seen.key.Mark().line + 1) +
                      "; keep one)");
      }
    }
    out.push_back(std::move(entry));
  }
  return out;
}

Result<YamlSection> YamlReader::Map(const YamlField& field,
                                    const std::vector<std::string>& allowed) const {
  if (!field.value.IsMap()) {
    return Error(field, "expected a map (with keys " + JoinStrings(allowed, ", ") + "), got " +
                            YamlKind(field.value));
  }
  GC_ASSIGN_OR_RETURN(std::vector<YamlField> items, Entries(field, "settings"));
  for (const auto& item : items) {
    if (std::find(allowed.begin(), allowed.end(), item.key.Scalar()) == allowed.end()) {
      return At(item.key.Mark(), item.path,
                "unknown key (allowed: " + JoinStrings(allowed, ", ") + "; check the spelling)");
    }
  }
  return YamlSection{field, std::move(items)};
}

Result<std::vector<YamlField>> YamlReader::Items(const YamlField& field,
                                                 std::string_view what) const {
  if (!field.value.IsSequence()) {
    return Error(field,
                 "expected a list of " + std::string(what) + ", got " + YamlKind(field.value));
  }
  std::vector<YamlField> out;
  for (size_t i = 0; i < field.value.size(); ++i) {
    out.push_back({YAML::Node(), field.value[i], field.path + "[" + std::to_string(i) + "]"});
  }
  return out;
}

Result<std::string> YamlReader::Text(const YamlField& field, std::string_view expected) const {
  if (!field.value.IsScalar()) {
    return Error(field, "expected " + std::string(expected) + ", got " + YamlKind(field.value));
  }
  return field.value.Scalar();
}

Result<int> YamlReader::Number(const YamlField& field, int min, int max) const {
  std::string range =
      " (expected a number from " + std::to_string(min) + " to " + std::to_string(max) + ")";
  if (!field.value.IsScalar()) {
    return Error(field, std::string("expected a number, got ") + YamlKind(field.value) + range);
  }
  int64_t value = 0;
  if (!ParsePlainDecimal(field.value.Scalar(), &value)) {
    return Error(field, "expected a number, got " + QuoteValue(field.value.Scalar()) + range);
  }
  if (value < min || value > max) {
    return Error(field, std::to_string(value) + " is out of range" + range);
  }
  return static_cast<int>(value);
}

Result<bool> YamlReader::Bool(const YamlField& field) const {
  if (field.value.IsScalar() && field.value.Scalar() == "true") return true;
  if (field.value.IsScalar() && field.value.Scalar() == "false") return false;
  return Error(field, "expected true or false, got " + (field.value.IsScalar()
                                                            ? QuoteValue(field.value.Scalar())
                                                            : std::string(YamlKind(field.value))));
}

}  // namespace gc
