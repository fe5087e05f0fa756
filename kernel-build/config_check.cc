#include "kernel-build/config_check.h"

#include <cstdlib>
#include <set>
#include <sstream>

namespace gc {

namespace {

std::string SymbolOf(const RequiredOption& option) { return option.name.substr(7); }

bool SameNumber(const std::string& a, const std::string& b) {
  char* end_a = nullptr;
  char* end_b = nullptr;
  long long na = std::strtoll(a.c_str(), &end_a, 0);
  long long nb = std::strtoll(b.c_str(), &end_b, 0);
  if (a.empty() || b.empty() || *end_a != '\0' || *end_b != '\0') return a == b;
  return na == nb;
}

// Why `symbol` is not (fully) on: the conditions of its definitions that
// evaluate to n (or to m when `want_y`), with the values of their symbols.
std::string ExplainDependencies(const std::string& symbol, const DotConfig& resolved,
                                const KconfigIndex& index, bool want_y) {
  const auto& defs = index.Find(symbol);
  std::string out;
  bool any_prompt = false;
  for (const auto& def : defs) {
    any_prompt = any_prompt || def.has_prompt;
    for (const auto& cond : def.conditions) {
      std::string symbols = DescribeSymbols(cond.expr, resolved);
      if (index.legacy()) {
        out += "; " + cond.kind + " " + cond.expr + " (" + cond.where + ")" +
               (symbols.empty() ? "" : ": " + symbols);
        continue;
      }
      auto value = EvalKconfigExpr(cond.expr, resolved);
      if (!value) {
        out += "; cannot evaluate '" + cond.kind + " " + cond.expr + "' (" + cond.where + ")";
      } else if (*value == 0) {
        out += "; unmet: '" + cond.kind + " " + cond.expr + "' (" + cond.where + ")" +
               (symbols.empty() ? "" : " with " + symbols);
      } else if (*value == 1 && want_y) {
        out += "; limited to m by '" + cond.kind + " " + cond.expr + "' (" + cond.where + ")" +
               (symbols.empty() ? "" : " with " + symbols);
      }
    }
  }
  if (out.empty()) {
    std::string where = defs.empty() ? "" : " (" + defs.front().where + ")";
    if (!defs.empty() && !any_prompt) {
      out = "; it has no prompt" + where +
            ", so only a 'select' from another option or its default can set it";
      for (const auto& sel : index.SelectedBy(symbol)) {
        out += "; selected by " + sel.by + " (" + sel.where + ")";
      }
    } else {
      out = "; its dependencies evaluate as met" + where +
            ": check the choice or 'visible if' around it";
    }
  }
  return out.substr(2);
}

std::string Selectors(const std::string& symbol, const DotConfig& resolved,
                      const KconfigIndex& index) {
  std::string out;
  for (const auto& sel : index.SelectedBy(symbol)) {
    auto it = resolved.find("CONFIG_" + sel.by);
    if (it == resolved.end() || (it->second != "y" && it->second != "m")) continue;
    out += (out.empty() ? "" : ", ") + sel.by + "=" + it->second + " (" + sel.where + ")";
  }
  return out;
}

}  // namespace

std::string MergeRequiredOptions(std::string_view config,
                                 const std::vector<RequiredOption>& required) {
  std::set<std::string> names;
  for (const auto& option : required) names.insert(option.name);
  std::istringstream in{std::string(config)};
  std::string line, out;
  while (std::getline(in, line)) {
    std::string symbol;
    if (line.rfind("CONFIG_", 0) == 0) {
      symbol = line.substr(0, line.find('='));
    } else if (line.rfind("# CONFIG_", 0) == 0) {
      size_t end = line.find(' ', 2);
      symbol = line.substr(2, end == std::string::npos ? std::string::npos : end - 2);
    }
    if (!symbol.empty() && names.count(symbol)) continue;
    out += line + "\n";
  }
  out += "# goldcast: required options of the recipe\n";
  for (const auto& option : required) out += option.ConfigLine() + "\n";
  return out;
}

std::vector<std::string> UnknownRequiredOptions(const std::vector<RequiredOption>& required,
                                                const KconfigIndex& index) {
  std::vector<std::string> problems;
  for (const auto& option : required) {
    if (!index.Find(SymbolOf(option)).empty()) continue;
    // Asking for an option to be off that does not exist is harmless.
    if (option.kind == RequiredKind::kOff) continue;
    problems.push_back(option.name + " (recipe line " + std::to_string(option.line) +
                       ") does not exist in this tree (is the patch that adds it in the "
                       "series?)");
  }
  return problems;
}

std::vector<std::string> VerifyRequiredOptions(const std::vector<RequiredOption>& required,
                                               const DotConfig& resolved,
                                               const KconfigIndex& index) {
  std::vector<std::string> problems;
  for (const auto& option : required) {
    std::string symbol = SymbolOf(option);
    auto it = resolved.find(option.name);
    bool absent = it == resolved.end();
    std::string got = absent ? "" : it->second;
    std::string head = option.name + " (required " + option.Describe() + ")";
    if (index.Find(symbol).empty() && option.kind != RequiredKind::kOff) {
      problems.push_back(option.name +
                         " does not exist in this tree (is the patch that adds it in the series?)");
      continue;
    }
    switch (option.kind) {
      case RequiredKind::kOff:
        if (!absent && got != "n") {
          std::string by = Selectors(symbol, resolved, index);
          problems.push_back(head + " must be off but resolved to " + got +
                             (by.empty() ? "" : ": it is selected by " + by));
        }
        continue;
      case RequiredKind::kBuiltIn:
        if (got == "y") continue;
        if (got == "m") {
          problems.push_back(option.name + " resolved to m (module); it must be built in (=y): " +
                             ExplainDependencies(symbol, resolved, index, true));
          continue;
        }
        break;
      case RequiredKind::kModule:
        if (got == "m") continue;
        if (got == "y") {
          problems.push_back(head +
                             " resolved to y: it is a bool or something selects it "
                             "built in");
          continue;
        }
        break;
      case RequiredKind::kNumber:
        if (!absent && SameNumber(got, option.value)) continue;
        break;
      case RequiredKind::kString:
        if (!absent && got == option.ConfigLine().substr(option.name.size() + 1)) continue;
        break;
    }
    if (absent || got == "n") {
      problems.push_back(
          head + " is " + (absent ? "absent from" : "off (n) in") +
          " the resolved .config: " + ExplainDependencies(symbol, resolved, index, false));
    } else {
      std::string ranges;
      for (const auto& def : index.Find(symbol)) {
        for (const auto& range : def.ranges) {
          ranges +=
              (ranges.empty() ? "" : ", ") + std::string("range ") + range + " (" + def.where + ")";
        }
      }
      problems.push_back(head + " resolved to " + got +
                         (ranges.empty() ? "" : "; its Kconfig allows " + ranges));
    }
  }
  return problems;
}

Status ProblemsToStatus(const std::vector<std::string>& problems, const std::string& what) {
  if (problems.empty()) return Status::Ok();
  std::string message = what + ":";
  for (const auto& problem : problems) message += "\n  - " + problem;
  return InvalidArgument(message);
}

}  // namespace gc
