// Strict reading of hand-written YAML configuration (yaml-cpp), shared by the
// cluster profile and the kernel recipe loaders. Every error is
// "FILE:LINE:COL: FIELD.PATH: problem (what is expected)" (the format
// docs/cluster-profile.md describes), unknown and repeated keys are errors,
// and nothing throws: Guard turns whatever yaml-cpp throws into the same
// format. Internal to profiles/.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace gc {

// A value from the document as messages show it: quoted, control bytes
// escaped (they would garble the admin's terminal), long values cut.
std::string QuoteValue(std::string_view text);

// Plain decimal up to 9 digits: no sign, no leading zeros (YAML 1.1 would
// read 010 as octal 8, so such a value is ambiguous and refused).
bool ParsePlainDecimal(std::string_view text, int64_t* out);

// "a map", "a list", "a single value" or "nothing", for "expected X, got Y".
const char* YamlKind(const YAML::Node& node);

// One value of the document, where it sits and how messages name it.
struct YamlField {
  YAML::Node key;  // default (no mark) for list items and the document
  YAML::Node value;
  std::string path;  // "network.dhcp.mode", "nodes[2].mac"; "" for the document
};

// `key` appended to a field path, quoted and escaped unless it is plain
// printable ASCII (a hostile key must not garble the terminal).
std::string ChildPath(const std::string& path, std::string_view key);

// The fields of a map whose keys were checked against a fixed set.
struct YamlSection {
  YamlField self;
  std::vector<YamlField> items;
  const YamlField* Get(std::string_view key) const;
};

class YamlReader {
 public:
  explicit YamlReader(std::string file) : file_(std::move(file)) {}
  const std::string& file() const { return file_; }

  // The one document of `text`, a map with the `allowed` keys; `expected`
  // says what the file should hold.
  Result<YamlSection> LoadDocument(std::string_view text, size_t max_bytes,
                                   std::string_view expected,
                                   const std::vector<std::string>& allowed) const;

  // The one error format. A field's position is its value's, or its key's
  // when the value is null (a null carries the mark of whatever follows it).
  Status At(const YAML::Mark& mark, std::string_view path, std::string_view problem) const;
  Status Error(const YamlField& field, std::string_view problem) const;
  static YAML::Mark MarkOf(const YamlField& field);

  // A required key absent from `section`: points at the section's own key.
  Status Missing(const YamlSection& section, std::string_view key, std::string_view expected) const;
  Result<const YamlField*> Require(const YamlSection& section, std::string_view key,
                                   std::string_view expected) const;

  // A map with a fixed set of keys: any other key is an error naming them.
  Result<YamlSection> Map(const YamlField& field, const std::vector<std::string>& allowed) const;
  // A map with keys the admin chooses (names): single-value keys, none twice.
  Result<std::vector<YamlField>> Entries(const YamlField& field, std::string_view what) const;
  // A list of `what`: its items, named FIELD[i].
  Result<std::vector<YamlField>> Items(const YamlField& field, std::string_view what) const;

  Result<std::string> Text(const YamlField& field, std::string_view expected) const;
  Result<int> Number(const YamlField& field, int min, int max) const;
  // Only true and false: YAML 1.1's yes/no/on/off read differently elsewhere.
  Result<bool> Bool(const YamlField& field) const;

  // Runs `parse` and turns an exception escaping it (yaml-cpp can throw while
  // walking nodes too, e.g. on a bad conversion) into an error at 1:1, so
  // none leaves profiles/.
  template <typename T, typename Parse>
  Result<T> Guard(std::string_view what, Parse&& parse) const {
    try {
      return parse();
    } catch (const std::exception& e) {
      return At(YAML::Mark(), "", "cannot read the " + std::string(what) + ": " + e.what());
    }
  }

 private:
  std::string file_;
};

}  // namespace gc
