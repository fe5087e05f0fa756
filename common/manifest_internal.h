// Internals shared by the manifest's two source files: manifest.cc (path
// rules, ordering, and the validation every manifest passes) and
// manifest_text.cc (the text format: serializer and parser). Not part of the
// API: nothing outside common/manifest*.cc includes it.
#pragma once

#include <charconv>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/manifest.h"
#include "common/status.h"

namespace gc::manifest_internal {

// Appends `text` with every byte the format cannot hold literally (controls,
// space, '%', and for xattr names ',' and '=') written as %XX.
void AppendEscaped(std::string* out, std::string_view text, bool xattr_name);

// 'text' for an error message: escaped so control bytes cannot garble the
// admin's terminal, and cut short.
std::string Quote(std::string_view text);

template <typename T>
void AppendNumber(std::string* out, T value, int base = 10) {
  char buffer[24];
  auto end = std::to_chars(buffer, buffer + sizeof buffer, value, base).ptr;
  out->append(buffer, end);
}

// "a directory", "a symlink", ... for messages.
std::string Article(EntryType type);

// Where an entry came from, for error messages: a line of a manifest text
// (ParseManifest) or an index of an in-memory manifest (ValidateManifest).
struct Where {
  std::string_view source;
  size_t line = 0;
  size_t index = 0;
  const std::string* path = nullptr;  // set for ValidateManifest

  Status Error(std::string_view field, std::string_view problem,
               Code code = Code::kInvalidArgument) const;
};

// The rules ParseManifest and ValidateManifest share. Looks only at
// entries[0, i], which are already checked, so it runs while parsing.
// `parent_hint` is the index of the previous entry's parent (start at 0):
// siblings come in runs, so this spares most lookups.
Status CheckEntry(const std::vector<Entry>& entries, size_t i, const Where& where,
                  size_t* parent_hint);

}  // namespace gc::manifest_internal
