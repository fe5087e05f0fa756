// Reading a kernel tree's configuration language, just enough to explain
// why a required option did not come out as asked: olddefconfig silently
// drops an option whose dependencies are unmet, so goldcast looks up the
// option's `depends on`, enclosing `if`/`menu` conditions and `select`ers in
// the tree's own Kconfig files and evaluates them against the resolved
// .config. 2.4 trees (Config.in) are indexed too, without evaluation.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace gc {

// A resolved .config: "CONFIG_X" -> "y", "m", "17", "\"text\"" (as written),
// and "n" for "# CONFIG_X is not set". Symbols not in the file are absent.
using DotConfig = std::map<std::string, std::string>;
DotConfig ParseDotConfig(std::string_view text);

struct KconfigCondition {
  std::string kind;   // "depends on", "if", "menu", "choice", "dep_bool"
  std::string expr;   // as written, e.g. "PCI && HAS_IOPORT"
  std::string where;  // "drivers/net/ethernet/intel/Kconfig:60"
};

struct KconfigDefinition {
  std::string where;  // file:line of the `config X` line
  std::string type;   // bool, tristate, int, hex, string (may be empty)
  bool has_prompt = false;
  std::vector<KconfigCondition> conditions;  // enclosing first, own last
  std::vector<std::string> ranges;           // "12 25", as written
};

struct KconfigSelect {
  std::string by;     // the selecting symbol, without CONFIG_
  std::string where;  // file:line of the select line
};

class KconfigIndex {
 public:
  // Indexes the tree at `src` from its top-level Kconfig, following
  // `source` statements with $(SRCARCH) = `srcarch` (x86 for x86_64). For a
  // 2.4 tree (no top-level Kconfig) reads arch/<arch>/config.in instead.
  static Result<KconfigIndex> Load(const std::string& src, const std::string& srcarch);
  // Builds an index from in-memory files (path -> content), for tests.
  static KconfigIndex FromFiles(const std::map<std::string, std::string>& files,
                                const std::string& top, const std::string& srcarch);

  // Definitions of a symbol (name without CONFIG_); empty if it does not exist.
  const std::vector<KconfigDefinition>& Find(const std::string& symbol) const;
  const std::vector<KconfigSelect>& SelectedBy(const std::string& symbol) const;
  size_t size() const { return symbols_.size(); }
  bool legacy() const { return legacy_; }

 private:
  friend class KconfigParser;
  std::map<std::string, std::vector<KconfigDefinition>> symbols_;
  std::map<std::string, std::vector<KconfigSelect>> selects_;
  bool legacy_ = false;
};

// Evaluates a Kconfig expression against a resolved .config as a tristate:
// 0 (n), 1 (m), 2 (y). nullopt when it cannot be evaluated (macros, syntax).
std::optional<int> EvalKconfigExpr(std::string_view expr, const DotConfig& config);

// The symbols an expression mentions, each with its resolved value, e.g.
// "PCI=n, HAS_IOPORT=y" (absent symbols show as "n (absent)").
std::string DescribeSymbols(std::string_view expr, const DotConfig& config);

}  // namespace gc
