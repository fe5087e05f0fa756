#include "kernel-build/kconfig.h"

#include <fnmatch.h>
#include <glob.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include "common/text.h"

namespace gc {

namespace {

int Indent(std::string_view line) {
  int width = 0;
  for (char c : line) {
    if (c == ' ') {
      ++width;
    } else if (c == '\t') {
      width = (width / 8 + 1) * 8;
    } else {
      break;
    }
  }
  return width;
}

// Cuts a '#' comment that is not inside quotes.
// Kconfig lines ending in '\\' continue on the next line: returns lines[*i]
// joined with its continuations and leaves *i on the last line used.
std::string JoinContinuedLine(const std::vector<std::string>& lines, size_t* i) {
  std::string line = lines[*i];
  while (!line.empty() && line.back() == '\\' && *i + 1 < lines.size()) {
    line.pop_back();
    line += " " + lines[++*i];
  }
  return line;
}

std::string StripComment(const std::string& line) {
  char quote = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quote) {
      if (c == '\\') {
        ++i;
      } else if (c == quote) {
        quote = 0;
      }
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '#') {
      return line.substr(0, i);
    }
  }
  return line;
}

std::pair<std::string, std::string> SplitKeyword(const std::string& line) {
  std::string trimmed = Trim(line);
  size_t space = trimmed.find_first_of(" \t");
  if (space == std::string::npos) return {trimmed, ""};
  return {trimmed.substr(0, space), Trim(trimmed.substr(space))};
}

std::string Unquote(std::string text) {
  text = Trim(text);
  if (text.size() >= 2 && (text[0] == '"' || text[0] == '\'') && text.back() == text[0]) {
    return text.substr(1, text.size() - 2);
  }
  return text;
}

// "EXPR if COND" -> EXPR (the condition of a select or range is ignored).
std::string BeforeIf(const std::string& text) {
  size_t pos = text.find(" if ");
  return Trim(pos == std::string::npos ? text : text.substr(0, pos));
}

// Shell-ish words of a 2.4 Config.in line: quotes group, backslashes escape.
std::vector<std::string> ShellWords(const std::string& line) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  char quote = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quote) {
      if (c == quote) {
        quote = 0;
      } else {
        word += c;
      }
    } else if (c == '"' || c == '\'') {
      quote = c;
      in_word = true;
    } else if (c == ' ' || c == '\t') {
      if (in_word) words.push_back(word);
      word.clear();
      in_word = false;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (in_word) words.push_back(word);
  return words;
}

}  // namespace

DotConfig ParseDotConfig(std::string_view text) {
  DotConfig config;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind("CONFIG_", 0) == 0) {
      size_t eq = line.find('=');
      if (eq != std::string::npos) config[line.substr(0, eq)] = line.substr(eq + 1);
    } else if (line.rfind("# CONFIG_", 0) == 0 && line.size() > 13 &&
               line.compare(line.size() - 11, 11, " is not set") == 0) {
      config[line.substr(2, line.size() - 13)] = "n";
    }
  }
  return config;
}

// Skips the help text that starts after lines[i] (`line`, the "help" line
// joined); returns the index of its last line. The text runs while lines are
// blank or indented at least as deep as its first line; its words must not
// be read as keywords.
size_t SkipHelpText(const std::vector<std::string>& lines, size_t i, const std::string& line) {
  int base = -1;
  while (i + 1 < lines.size()) {
    const std::string& next = lines[i + 1];
    if (Trim(next).empty()) {
      ++i;
      continue;
    }
    int indent = Indent(next);
    if (base < 0) {
      if (indent <= Indent(line)) break;
      base = indent;
    }
    if (indent < base) break;
    ++i;
  }
  return i;
}

bool IsSourceKeyword(const std::string& keyword) {
  return keyword == "source" || keyword == "rsource" || keyword == "osource" ||
         keyword == "orsource";
}

// Walks Kconfig (or 2.4 Config.in) files, reading them through `read_`.
class KconfigParser {
 public:
  using Reader = std::function<std::optional<std::string>(const std::string&)>;
  using Globber = std::function<std::vector<std::string>(const std::string&)>;

  KconfigParser(KconfigIndex* index, Reader read, Globber glob, std::string srcarch)
      : index_(index),
        read_(std::move(read)),
        glob_(std::move(glob)),
        srcarch_(std::move(srcarch)) {}

  void ParseKconfig(const std::string& path, const std::vector<KconfigCondition>& inherited,
                    int depth);
  void ParseLegacy(const std::string& path, const std::vector<KconfigCondition>& inherited,
                   int depth);

 private:
  // The files a source line in `path` names; nothing when the name holds a
  // macro this parser does not expand.
  std::optional<std::vector<std::string>> SourceTargets(const std::string& keyword,
                                                        const std::string& rest,
                                                        const std::string& path) {
    std::string target = Substitute(Unquote(rest));
    if (target.find("$(") != std::string::npos) return std::nullopt;
    if (keyword[0] == 'r' || (keyword.size() > 1 && keyword[1] == 'r')) {
      std::string dir = std::filesystem::path(path).parent_path().string();
      if (!dir.empty()) target = dir + "/" + target;
    }
    if (target.find_first_of("*?[") != std::string::npos) return glob_(target);
    return std::vector<std::string>{target};
  }

  // An attribute line (select, type, prompt, range) of the symbol `def`.
  void ReadSymbolAttribute(const std::string& keyword, const std::string& rest,
                           const std::string& def_name, const std::string& where,
                           KconfigDefinition* def) {
    if (keyword == "select") {
      index_->selects_[BeforeIf(rest)].push_back({def_name, where});
    } else if (keyword == "bool" || keyword == "tristate" || keyword == "int" || keyword == "hex" ||
               keyword == "string") {
      def->type = keyword;
      if (!rest.empty() && rest[0] == '"') def->has_prompt = true;
    } else if (keyword == "def_bool" || keyword == "def_tristate") {
      def->type = keyword.substr(4);
    } else if (keyword == "prompt") {
      def->has_prompt = true;
    } else if (keyword == "range") {
      def->ranges.push_back(BeforeIf(rest));
    }
  }

  std::vector<std::string> Lines(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) lines.push_back(line);
    return lines;
  }

  std::string Substitute(std::string path) {
    for (const std::string token : {"$(SRCARCH)", "$SRCARCH", "$(ARCH)", "$ARCH"}) {
      for (size_t pos; (pos = path.find(token)) != std::string::npos;) {
        path.replace(pos, token.size(), srcarch_);
      }
    }
    return path;
  }

  KconfigIndex* index_;
  Reader read_;
  Globber glob_;
  std::string srcarch_;
  std::set<std::string> seen_;
};

void KconfigParser::ParseKconfig(const std::string& path,
                                 const std::vector<KconfigCondition>& inherited, int depth) {
  if (depth > 64 || !seen_.insert(path).second) return;
  auto text = read_(path);
  if (!text) return;
  std::vector<std::string> lines = Lines(*text);
  struct Frame {
    std::string kind;
    std::vector<KconfigCondition> conditions;
  };
  std::vector<Frame> frames;
  enum class Entry { kNone, kSymbol, kMenu, kChoice, kOther } entry = Entry::kNone;
  KconfigDefinition* def = nullptr;
  std::string def_name;

  auto conditions_here = [&] {
    std::vector<KconfigCondition> out = inherited;
    for (const auto& frame : frames) {
      out.insert(out.end(), frame.conditions.begin(), frame.conditions.end());
    }
    return out;
  };

  for (size_t i = 0; i < lines.size(); ++i) {
    size_t first = i;
    std::string line = JoinContinuedLine(lines, &i);
    std::string where = path + ":" + std::to_string(first + 1);
    auto [keyword, rest] = SplitKeyword(StripComment(line));
    if (keyword.empty()) continue;
    if (keyword == "help" || keyword == "---help---") {
      i = SkipHelpText(lines, i, line);
      continue;
    }
    if (keyword == "config" || keyword == "menuconfig") {
      def_name = Trim(rest);
      auto& defs = index_->symbols_[def_name];
      defs.push_back(KconfigDefinition{});
      def = &defs.back();
      def->where = where;
      def->conditions = conditions_here();
      entry = Entry::kSymbol;
    } else if (keyword == "choice") {
      frames.push_back({"choice", {}});
      entry = Entry::kChoice;
    } else if (keyword == "menu") {
      frames.push_back({"menu", {}});
      entry = Entry::kMenu;
    } else if (keyword == "if") {
      frames.push_back({"if", {KconfigCondition{"if", rest, where}}});
      entry = Entry::kNone;
    } else if (keyword == "endchoice" || keyword == "endmenu" || keyword == "endif") {
      if (!frames.empty()) frames.pop_back();
      entry = Entry::kNone;
    } else if (IsSourceKeyword(keyword)) {
      auto targets = SourceTargets(keyword, rest, path);
      if (!targets) continue;
      for (const auto& file : *targets) ParseKconfig(file, conditions_here(), depth + 1);
      entry = Entry::kNone;
    } else if (keyword == "comment" || keyword == "mainmenu") {
      entry = Entry::kOther;
    } else if (keyword == "depends") {
      std::string expr = rest.rfind("on", 0) == 0 ? Trim(rest.substr(2)) : rest;
      if (entry == Entry::kSymbol && def) {
        def->conditions.push_back({"depends on", expr, where});
      } else if ((entry == Entry::kMenu || entry == Entry::kChoice) && !frames.empty()) {
        frames.back().conditions.push_back({frames.back().kind + " depends on", expr, where});
      }
    } else if (entry == Entry::kSymbol && def) {
      ReadSymbolAttribute(keyword, rest, def_name, where, def);
    }
  }
}

void KconfigParser::ParseLegacy(const std::string& path,
                                const std::vector<KconfigCondition>& inherited, int depth) {
  if (depth > 64 || !seen_.insert(path).second) return;
  auto text = read_(path);
  if (!text) return;
  std::vector<std::string> lines = Lines(*text);
  std::vector<KconfigCondition> frames;
  auto conditions_here = [&] {
    std::vector<KconfigCondition> out = inherited;
    out.insert(out.end(), frames.begin(), frames.end());
    return out;
  };
  auto define = [&](const std::string& symbol, const std::string& type, bool prompt,
                    const std::string& where, std::vector<KconfigCondition> extra) {
    if (symbol.rfind("CONFIG_", 0) != 0) return;
    KconfigDefinition def;
    def.where = where;
    def.type = type;
    def.has_prompt = prompt;
    def.conditions = conditions_here();
    def.conditions.insert(def.conditions.end(), extra.begin(), extra.end());
    index_->symbols_[symbol.substr(7)].push_back(std::move(def));
  };
  for (size_t i = 0; i < lines.size(); ++i) {
    size_t first = i;
    std::string line = JoinContinuedLine(lines, &i);
    std::string where = path + ":" + std::to_string(first + 1);
    std::vector<std::string> words = ShellWords(StripComment(line));
    if (words.empty()) continue;
    const std::string& kw = words[0];
    if (kw == "if") {
      std::string cond = Trim(StripComment(line));
      cond = Trim(cond.substr(2));
      size_t then = cond.rfind("; then");
      if (then != std::string::npos) cond = Trim(cond.substr(0, then));
      frames.push_back({"if", cond, where});
    } else if (kw == "else" && !frames.empty()) {
      frames.back() = {"else of if", frames.back().expr, where};
    } else if (kw == "fi") {
      if (!frames.empty()) frames.pop_back();
    } else if (kw == "source" && words.size() > 1) {
      ParseLegacy(Substitute(words[1]), conditions_here(), depth + 1);
    } else if ((kw == "bool" || kw == "tristate" || kw == "int" || kw == "hex" || kw == "string") &&
               words.size() > 2) {
      define(words[2], kw, true, where, {});
    } else if (kw.rfind("dep_", 0) == 0 && words.size() > 2) {
      std::string deps;
      for (size_t k = 3; k < words.size(); ++k) deps += (deps.empty() ? "" : " ") + words[k];
      std::vector<KconfigCondition> extra;
      if (!deps.empty()) extra.push_back({kw, deps, where});
      define(words[2], kw.substr(4), true, where, extra);
    } else if (kw.rfind("define_", 0) == 0 && words.size() > 1) {
      define(words[1], kw.substr(7), false, where, {});
    } else if (kw == "choice" && words.size() > 2) {
      for (const auto& word : ShellWords(words[2])) {
        if (word.rfind("CONFIG_", 0) == 0) define(word, "bool", true, where, {});
      }
    }
  }
}

Result<KconfigIndex> KconfigIndex::Load(const std::string& src, const std::string& srcarch) {
  KconfigIndex index;
  auto read = [&](const std::string& rel) -> std::optional<std::string> {
    std::ifstream in(src + "/" + rel, std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
  };
  auto globber = [&](const std::string& pattern) {
    std::vector<std::string> out;
    glob_t matches{};
    std::string full = src + "/" + pattern;
    if (::glob(full.c_str(), 0, nullptr, &matches) == 0) {
      for (size_t k = 0; k < matches.gl_pathc; ++k) {
        out.push_back(std::string(matches.gl_pathv[k]).substr(src.size() + 1));
      }
    }
    ::globfree(&matches);
    return out;
  };
  KconfigParser parser(&index, read, globber, srcarch);
  if (std::filesystem::exists(src + "/Kconfig")) {
    parser.ParseKconfig("Kconfig", {}, 0);
  } else {
    index.legacy_ = true;
    std::string top = "arch/" + srcarch + "/config.in";
    if (!std::filesystem::exists(src + "/" + top)) {
      return NotFound("neither " + src + "/Kconfig nor " + src + "/" + top +
                      " exists: is this a kernel tree, and is build.toolchain.arch right?");
    }
    parser.ParseLegacy(top, {}, 0);
  }
  return index;
}

KconfigIndex KconfigIndex::FromFiles(const std::map<std::string, std::string>& files,
                                     const std::string& top, const std::string& srcarch) {
  KconfigIndex index;
  auto read = [&](const std::string& rel) -> std::optional<std::string> {
    auto it = files.find(rel);
    if (it == files.end()) return std::nullopt;
    return it->second;
  };
  auto globber = [&](const std::string& pattern) {
    std::vector<std::string> out;
    for (const auto& [name, text] : files) {
      if (::fnmatch(pattern.c_str(), name.c_str(), FNM_PATHNAME) == 0) out.push_back(name);
    }
    return out;
  };
  KconfigParser parser(&index, read, globber, srcarch);
  if (top.find("config.in") != std::string::npos) {
    index.legacy_ = true;
    parser.ParseLegacy(top, {}, 0);
  } else {
    parser.ParseKconfig(top, {}, 0);
  }
  return index;
}

const std::vector<KconfigDefinition>& KconfigIndex::Find(const std::string& symbol) const {
  static const std::vector<KconfigDefinition> kNone;
  auto it = symbols_.find(symbol);
  return it == symbols_.end() ? kNone : it->second;
}

const std::vector<KconfigSelect>& KconfigIndex::SelectedBy(const std::string& symbol) const {
  static const std::vector<KconfigSelect> kNone;
  auto it = selects_.find(symbol);
  return it == selects_.end() ? kNone : it->second;
}

}  // namespace gc
