#include "profiles/kernel_recipe.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <filesystem>
#include <map>
#include <set>

namespace gc {

namespace {

bool AllOf(std::string_view text, bool (*pred)(char)) {
  return !text.empty() && std::all_of(text.begin(), text.end(), pred);
}
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsHex(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool IsSymbolChar(char c) { return (c >= 'A' && c <= 'Z') || IsDigit(c) || c == '_'; }
bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
}
// Make targets and commands: no spaces, no shell metacharacters, no leading '-'.
bool IsWordChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' ||
         c == '+' || c == '/';
}

const char* NodeKind(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a scalar";
    case YAML::NodeType::Null:
      return "nothing (null)";
    default:
      return "an undefined value";
  }
}

// Parses one recipe, keeping the file name and the last good position so an
// error on a node without a mark (a null value) still names a line.
class Parser {
 public:
  explicit Parser(std::string path) : path_(std::move(path)) {
    dir_ = std::filesystem::path(path_).parent_path().string();
    if (dir_.empty()) dir_ = ".";
  }

  Result<KernelRecipe> Parse(std::string_view text);

 private:
  Status Error(const YAML::Node& node, const std::string& field, const std::string& what) {
    YAML::Mark mark = node.IsDefined() ? node.Mark() : YAML::Mark::null_mark();
    if (mark.is_null()) mark = last_mark_;
    return InvalidArgument(path_ + ":" + std::to_string(mark.line + 1) + ":" +
                           std::to_string(mark.column + 1) + ": field '" + field + "': " + what);
  }

  void Remember(const YAML::Node& node) {
    if (node.IsDefined() && !node.Mark().is_null()) last_mark_ = node.Mark();
  }

  // The keys of a mapping, refusing unknown and duplicate ones.
  Result<std::map<std::string, YAML::Node>> Fields(const YAML::Node& node, const std::string& field,
                                                   const std::vector<std::string>& allowed) {
    Remember(node);
    if (!node.IsMap()) {
      return Error(node, field, std::string("expected a mapping, got ") + NodeKind(node));
    }
    std::map<std::string, YAML::Node> out;
    for (const auto& item : node) {
      Remember(item.first);
      std::string key = item.first.IsScalar() ? item.first.Scalar() : "";
      std::string where = field.empty() ? key : field + "." + key;
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        std::string list;
        for (const auto& name : allowed) list += (list.empty() ? "" : ", ") + name;
        return Error(item.first, where, "unknown field (expected one of: " + list + ")");
      }
      if (out.count(key)) return Error(item.first, where, "appears twice");
      out.emplace(key, item.second);
    }
    return out;
  }

  Status Missing(const YAML::Node& parent, const std::string& field, const std::string& what) {
    return Error(parent, field, "missing: " + what);
  }

  Result<std::string> Scalar(const YAML::Node& node, const std::string& field) {
    Remember(node);
    if (!node.IsScalar()) {
      return Error(node, field, std::string("expected a scalar, got ") + NodeKind(node));
    }
    return node.Scalar();
  }

  Result<std::string> Word(const YAML::Node& node, const std::string& field,
                           const std::string& what) {
    GC_ASSIGN_OR_RETURN(std::string text, Scalar(node, field));
    if (!AllOf(text, IsWordChar) || text[0] == '-') {
      return Error(node, field,
                   "expected " + what +
                       " (letters, digits, '.', '_', '-', '+', '/'; "
                       "no spaces), got '" +
                       text + "'");
    }
    return text;
  }

  Result<std::string> Sha256(const YAML::Node& node, const std::string& field) {
    GC_ASSIGN_OR_RETURN(std::string text, Scalar(node, field));
    if (text.size() != 64 || !AllOf(text, IsHex)) {
      return Error(
          node, field,
          "expected a SHA-256 of 64 hex digits (as printed by sha256sum), got '" + text + "'");
    }
    std::transform(text.begin(), text.end(), text.begin(),
                   [](char c) { return static_cast<char>(std::tolower(c)); });
    return text;
  }

  Result<std::string> Path(const YAML::Node& node, const std::string& field) {
    GC_ASSIGN_OR_RETURN(std::string text, Scalar(node, field));
    if (text.empty()) return Error(node, field, "expected a file path, got an empty string");
    if (text[0] == '/') return text;
    return dir_ + "/" + text;
  }

  Result<std::vector<std::string>> WordList(const YAML::Node& node, const std::string& field,
                                            const std::string& what) {
    Remember(node);
    if (!node.IsSequence()) {
      return Error(node, field, std::string("expected a list, got ") + NodeKind(node));
    }
    std::vector<std::string> out;
    for (size_t i = 0; i < node.size(); ++i) {
      GC_ASSIGN_OR_RETURN(std::string word,
                          Word(node[i], field + "[" + std::to_string(i) + "]", what));
      out.push_back(word);
    }
    return out;
  }

  Status ParseSource(const YAML::Node& node, RecipeSource* source);
  Status ParsePatches(const YAML::Node& node, std::vector<RecipePatch>* patches);
  Status ParseConfig(const YAML::Node& node, KernelRecipe* recipe);
  Result<RequiredOption> ParseRequired(const YAML::Node& key, const YAML::Node& value);
  Status ParseBuild(const YAML::Node& node, BuildSettings* build);

  std::string path_;
  std::string dir_;
  YAML::Mark last_mark_;
};

Status Parser::ParseSource(const YAML::Node& node, RecipeSource* source) {
  GC_ASSIGN_OR_RETURN(auto fields,
                      Fields(node, "source", {"tarball", "url", "sha256", "signature", "keyring"}));
  source->line = node.Mark().line + 1;
  bool has_tarball = fields.count("tarball"), has_url = fields.count("url");
  if (has_tarball == has_url) {
    return Error(node, "source",
                 "give exactly one of 'tarball' (a local file) or 'url' (downloaded into the "
                 "build cache)");
  }
  if (has_tarball) {
    GC_ASSIGN_OR_RETURN(source->tarball, Path(fields["tarball"], "source.tarball"));
  } else {
    GC_ASSIGN_OR_RETURN(source->url, Scalar(fields["url"], "source.url"));
    if (source->url.rfind("http://", 0) != 0 && source->url.rfind("https://", 0) != 0) {
      return Error(fields["url"], "source.url",
                   "expected an http:// or https:// URL, got '" + source->url + "'");
    }
  }
  if (!fields.count("sha256")) {
    return Missing(node, "source.sha256",
                   "the SHA-256 of the vanilla tarball (sha256sum of a copy whose signature "
                   "you verified)");
  }
  GC_ASSIGN_OR_RETURN(source->sha256, Sha256(fields["sha256"], "source.sha256"));
  if (fields.count("signature") != fields.count("keyring")) {
    return Error(node, "source",
                 "'signature' and 'keyring' go together (gpgv --keyring KEYRING SIGNATURE "
                 "TARBALL)");
  }
  if (fields.count("signature")) {
    GC_ASSIGN_OR_RETURN(source->signature, Path(fields["signature"], "source.signature"));
    GC_ASSIGN_OR_RETURN(source->keyring, Path(fields["keyring"], "source.keyring"));
  }
  return Status::Ok();
}

Status Parser::ParsePatches(const YAML::Node& node, std::vector<RecipePatch>* patches) {
  Remember(node);
  if (node.IsNull()) return Status::Ok();  // "patches:" with nothing: no series
  if (!node.IsSequence()) {
    return Error(node, "patches", std::string("expected a list, got ") + NodeKind(node));
  }
  for (size_t i = 0; i < node.size(); ++i) {
    std::string field = "patches[" + std::to_string(i) + "]";
    GC_ASSIGN_OR_RETURN(auto fields, Fields(node[i], field, {"file", "sha256", "for"}));
    RecipePatch patch;
    patch.line = node[i].Mark().line + 1;
    if (!fields.count("file")) return Missing(node[i], field + ".file", "the patch file");
    if (!fields.count("sha256")) {
      return Missing(node[i], field + ".sha256", "the patch's SHA-256 (sha256sum FILE)");
    }
    if (!fields.count("for")) {
      return Missing(node[i], field + ".for",
                     "the kernel version the patch is for, e.g. \"2.4.26\" or \"6.1\"");
    }
    GC_ASSIGN_OR_RETURN(patch.file, Scalar(fields["file"], field + ".file"));
    GC_ASSIGN_OR_RETURN(patch.path, Path(fields["file"], field + ".file"));
    GC_ASSIGN_OR_RETURN(patch.sha256, Sha256(fields["sha256"], field + ".sha256"));
    GC_ASSIGN_OR_RETURN(patch.for_version, Scalar(fields["for"], field + ".for"));
    KernelVersion ignored;
    std::string_view v = patch.for_version;
    int dots = static_cast<int>(std::count(v.begin(), v.end(), '.'));
    if (!(dots == 1 || dots == 2) ||
        !ParseKernelVersion(dots == 1 ? std::string(v) + ".0" : std::string(v), &ignored)) {
      return Error(fields["for"], field + ".for",
                   "expected a kernel version like \"2.4.26\" (exactly that release) or \"6.1\" "
                   "(any 6.1.x), got '" +
                       patch.for_version + "'");
    }
    patches->push_back(std::move(patch));
  }
  return Status::Ok();
}

Result<RequiredOption> Parser::ParseRequired(const YAML::Node& key, const YAML::Node& value) {
  RequiredOption option;
  option.name = key.IsScalar() ? key.Scalar() : "";
  option.line = key.Mark().line + 1;
  std::string field = "config.required." + option.name;
  if (option.name.rfind("CONFIG_", 0) != 0 || option.name.size() == 7 ||
      !AllOf(option.name, IsSymbolChar)) {
    return Error(key, field,
                 "expected an option name like CONFIG_MOSIX (CONFIG_ then capitals, digits, _)");
  }
  Remember(value);
  if (value.IsNull() || !value.IsDefined()) {
    return Error(key, field, "missing value: expected y, n, m, a number, or a quoted string");
  }
  if (!value.IsScalar()) {
    return Error(
        value, field,
        std::string("expected y, n, m, a number, or a quoted string, got ") + NodeKind(value));
  }
  const std::string& text = value.Scalar();
  if (value.Tag() == "!") {  // quoted: always a string, even "y"
    if (text.find('\n') != std::string::npos) {
      return Error(value, field, "a string option cannot hold a newline");
    }
    option.kind = RequiredKind::kString;
    option.value = text;
    return option;
  }
  option.value = text;
  if (text == "y") {
    option.kind = RequiredKind::kBuiltIn;
  } else if (text == "n") {
    option.kind = RequiredKind::kOff;
  } else if (text == "m") {
    option.kind = RequiredKind::kModule;
  } else if ((text[0] == '-' && AllOf(text.substr(1), IsDigit)) || AllOf(text, IsDigit) ||
             (text.size() > 2 && text.rfind("0x", 0) == 0 && AllOf(text.substr(2), IsHex))) {
    option.kind = RequiredKind::kNumber;
  } else {
    std::string lower = text;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](char c) { return static_cast<char>(std::tolower(c)); });
    std::string hint;
    if (lower == "yes" || lower == "true" || lower == "on") hint = " (write y)";
    if (lower == "no" || lower == "false" || lower == "off") hint = " (write n)";
    return Error(value, field,
                 "expected y (built in), n (off), m (module), a number, or a quoted string, got '" +
                     text + "'" + hint);
  }
  return option;
}

Status Parser::ParseConfig(const YAML::Node& node, KernelRecipe* recipe) {
  GC_ASSIGN_OR_RETURN(auto fields, Fields(node, "config", {"base", "required"}));
  if (!fields.count("base")) {
    return Missing(node, "config.base", "defconfig, tinyconfig, allnoconfig or {file: PATH}");
  }
  const YAML::Node& base = fields["base"];
  Remember(base);
  if (base.IsMap()) {
    GC_ASSIGN_OR_RETURN(auto file, Fields(base, "config.base", {"file"}));
    if (!file.count("file")) return Missing(base, "config.base.file", "a .config file");
    recipe->base.kind = BaseConfigKind::kFile;
    GC_ASSIGN_OR_RETURN(recipe->base.file, Path(file["file"], "config.base.file"));
  } else {
    GC_ASSIGN_OR_RETURN(std::string text, Scalar(base, "config.base"));
    if (text == "defconfig") {
      recipe->base.kind = BaseConfigKind::kDefconfig;
    } else if (text == "tinyconfig") {
      recipe->base.kind = BaseConfigKind::kTinyconfig;
    } else if (text == "allnoconfig") {
      recipe->base.kind = BaseConfigKind::kAllnoconfig;
    } else {
      return Error(
          base, "config.base",
          "expected defconfig, tinyconfig, allnoconfig or {file: PATH}, got '" + text + "'");
    }
  }
  if (fields.count("required")) {
    const YAML::Node& required = fields["required"];
    Remember(required);
    if (!required.IsNull()) {
      if (!required.IsMap()) {
        return Error(required, "config.required",
                     std::string("expected a mapping CONFIG_X: value, got ") + NodeKind(required));
      }
      std::set<std::string> seen;
      for (const auto& item : required) {
        Remember(item.first);
        GC_ASSIGN_OR_RETURN(RequiredOption option, ParseRequired(item.first, item.second));
        if (!seen.insert(option.name).second) {
          return Error(item.first, "config.required." + option.name, "appears twice");
        }
        recipe->required.push_back(std::move(option));
      }
    }
  }
  return Status::Ok();
}

// "YYYY-MM-DD HH:MM:SS UTC": a fixed form so SOURCE_DATE_EPOCH follows from it.
bool ParseUtcTimestamp(const std::string& text, int64_t* epoch) {
  std::tm tm{};
  char rest[8] = {0};
  if (std::sscanf(text.c_str(), "%4d-%2d-%2d %2d:%2d:%2d %7s", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, rest) != 7 ||
      std::string(rest) != "UTC" || text.size() != 23) {
    return false;
  }
  if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
      tm.tm_min > 59 || tm.tm_sec > 60 || tm.tm_year < 1970) {
    return false;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  *epoch = static_cast<int64_t>(::timegm(&tm));
  return true;
}

Status Parser::ParseBuild(const YAML::Node& node, BuildSettings* build) {
  GC_ASSIGN_OR_RETURN(auto fields,
                      Fields(node, "build", {"targets", "pre_steps", "toolchain", "reproducible"}));
  if (fields.count("targets")) {
    GC_ASSIGN_OR_RETURN(build->targets,
                        WordList(fields["targets"], "build.targets", "a make target"));
    if (build->targets.empty()) {
      return Error(fields["targets"], "build.targets", "expected at least one make target");
    }
  }
  if (fields.count("pre_steps")) {
    GC_ASSIGN_OR_RETURN(build->pre_steps,
                        WordList(fields["pre_steps"], "build.pre_steps", "a make target"));
  }
  if (fields.count("toolchain")) {
    GC_ASSIGN_OR_RETURN(auto tool,
                        Fields(fields["toolchain"], "build.toolchain", {"cc", "make", "arch"}));
    if (tool.count("cc")) {
      GC_ASSIGN_OR_RETURN(build->toolchain.cc,
                          Word(tool["cc"], "build.toolchain.cc", "a compiler command"));
    }
    if (tool.count("make")) {
      GC_ASSIGN_OR_RETURN(build->toolchain.make,
                          Word(tool["make"], "build.toolchain.make", "a make command"));
    }
    if (tool.count("arch")) {
      GC_ASSIGN_OR_RETURN(build->toolchain.arch,
                          Word(tool["arch"], "build.toolchain.arch", "a kernel ARCH like x86_64"));
    }
  }
  if (fields.count("reproducible")) {
    const YAML::Node& node_r = fields["reproducible"];
    GC_ASSIGN_OR_RETURN(auto r, Fields(node_r, "build.reproducible",
                                       {"timestamp", "user", "host", "build_version"}));
    ReproducibleSettings& out = build->reproducible;
    if (r.count("timestamp")) {
      GC_ASSIGN_OR_RETURN(out.timestamp, Scalar(r["timestamp"], "build.reproducible.timestamp"));
      if (!ParseUtcTimestamp(out.timestamp, &out.source_date_epoch)) {
        return Error(r["timestamp"], "build.reproducible.timestamp",
                     "expected \"YYYY-MM-DD HH:MM:SS UTC\", got '" + out.timestamp + "'");
      }
    }
    for (auto [key, target] : {std::pair{"user", &out.user}, std::pair{"host", &out.host}}) {
      if (!r.count(key)) continue;
      std::string field = std::string("build.reproducible.") + key;
      GC_ASSIGN_OR_RETURN(*target, Scalar(r[key], field));
      if (!AllOf(*target, IsNameChar)) {
        return Error(r[key], field,
                     "expected letters, digits, '.', '_' or '-', got '" + *target + "'");
      }
    }
    if (r.count("build_version")) {
      GC_ASSIGN_OR_RETURN(out.build_version,
                          Scalar(r["build_version"], "build.reproducible.build_version"));
      if (!AllOf(out.build_version, IsDigit)) {
        return Error(r["build_version"], "build.reproducible.build_version",
                     "expected a number (the #N in uname -v), got '" + out.build_version + "'");
      }
    }
  }
  return Status::Ok();
}

Result<KernelRecipe> Parser::Parse(std::string_view text) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return InvalidArgument(path_ + ":" + std::to_string(e.mark.line + 1) + ":" +
                           std::to_string(e.mark.column + 1) + ": not valid YAML: " + e.msg);
  }
  KernelRecipe recipe;
  recipe.path = path_;
  recipe.dir = dir_;
  last_mark_ = YAML::Mark();  // line 1, column 1 for an empty document
  if (root.IsNull()) {
    return InvalidArgument(path_ +
                           ":1:1: the recipe is empty (expected a mapping with name, "
                           "version, source, config)");
  }
  GC_ASSIGN_OR_RETURN(auto fields, Fields(root, "",
                                          {"name", "version", "extraversion", "source", "patches",
                                           "config", "build"}));
  for (const char* key : {"name", "version", "source", "config"}) {
    if (!fields.count(key)) {
      return Missing(root, key, "every recipe needs name, version, source and config");
    }
  }
  GC_ASSIGN_OR_RETURN(recipe.name, Scalar(fields["name"], "name"));
  if (recipe.name.empty() || recipe.name.size() > 64 || !AllOf(recipe.name, IsNameChar) ||
      !std::isalnum(static_cast<unsigned char>(recipe.name[0]))) {
    return Error(fields["name"], "name",
                 "expected 1 to 64 letters, digits, '.', '_' or '-' starting with a letter or "
                 "digit, got '" +
                     recipe.name + "'");
  }
  GC_ASSIGN_OR_RETURN(recipe.version, Scalar(fields["version"], "version"));
  KernelVersion version;
  if (!ParseKernelVersion(recipe.version, &version)) {
    return Error(fields["version"], "version",
                 "expected VERSION.PATCHLEVEL.SUBLEVEL of the vanilla tree, e.g. \"6.1.176\" or "
                 "\"2.4.26\" (\"6.1.0\" for the 6.1 release), got '" +
                     recipe.version + "'");
  }
  if (fields.count("extraversion")) {
    GC_ASSIGN_OR_RETURN(recipe.extraversion, Scalar(fields["extraversion"], "extraversion"));
  }
  GC_RETURN_IF_ERROR(ParseSource(fields["source"], &recipe.source));
  if (fields.count("patches")) GC_RETURN_IF_ERROR(ParsePatches(fields["patches"], &recipe.patches));
  GC_RETURN_IF_ERROR(ParseConfig(fields["config"], &recipe));
  if (fields.count("build")) GC_RETURN_IF_ERROR(ParseBuild(fields["build"], &recipe.build));
  if (recipe.build.targets.empty()) {
    const std::string& arch = recipe.build.toolchain.arch;
    if (arch == "x86_64" || arch == "x86" || arch == "i386") {
      recipe.build.targets = {"bzImage"};
    } else if (arch == "arm64") {
      recipe.build.targets = {"Image"};
    } else {
      return Error(fields.count("build") ? fields["build"] : root, "build.targets",
                   "no default boot image for arch '" + arch + "': list the make targets");
    }
  }
  return recipe;
}

}  // namespace

std::string RequiredOption::ConfigLine() const {
  switch (kind) {
    case RequiredKind::kOff:
      return "# " + name + " is not set";
    case RequiredKind::kString: {
      std::string escaped;
      for (char c : value) {
        if (c == '"' || c == '\\') escaped += '\\';
        escaped += c;
      }
      return name + "=\"" + escaped + "\"";
    }
    default:
      return name + "=" + value;
  }
}

std::string RequiredOption::Describe() const {
  if (kind == RequiredKind::kString) return "=\"" + value + "\"";
  return "=" + value;
}

std::string BaseConfig::ToString() const {
  switch (kind) {
    case BaseConfigKind::kDefconfig:
      return "defconfig";
    case BaseConfigKind::kTinyconfig:
      return "tinyconfig";
    case BaseConfigKind::kAllnoconfig:
      return "allnoconfig";
    case BaseConfigKind::kFile:
      return "file:" + file;
  }
  return "?";
}

std::string KernelVersion::ToString() const {
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(sub);
}

bool ParseKernelVersion(std::string_view text, KernelVersion* out) {
  int parts[3];
  size_t start = 0;
  for (int i = 0; i < 3; ++i) {
    size_t dot = text.find('.', start);
    // Exactly three parts: the last one must run to the end.
    if ((i < 2) == (dot == std::string_view::npos)) return false;
    std::string_view part = text.substr(start, i < 2 ? dot - start : std::string_view::npos);
    if (part.empty() || part.size() > 4 || !AllOf(part, IsDigit)) return false;
    parts[i] = std::stoi(std::string(part));
    start = dot + 1;
  }
  *out = KernelVersion{parts[0], parts[1], parts[2]};
  return true;
}

bool PatchVersionMatches(std::string_view pattern, const KernelVersion& version) {
  KernelVersion want;
  if (ParseKernelVersion(pattern, &want)) return want == version;
  if (!ParseKernelVersion(std::string(pattern) + ".0", &want)) return false;
  return want.major == version.major && want.minor == version.minor;
}

bool IsLegacyKernel(const KernelVersion& version) {
  return version.major < 2 || (version.major == 2 && version.minor < 6);
}

bool IsPlaceholderHash(std::string_view sha256) {
  return sha256.size() == 64 && sha256.find_first_not_of('0') == std::string_view::npos;
}

Result<KernelRecipe> ParseKernelRecipe(std::string_view text, const std::string& path) {
  try {
    Parser parser(path);
    return parser.Parse(text);
  } catch (const std::exception& e) {
    // yaml-cpp throws on some malformed input even while walking nodes.
    return InvalidArgument(path + ": cannot read the recipe: " + e.what());
  }
}

Result<KernelRecipe> LoadKernelRecipe(const std::string& path, Env* env) {
  auto text = env->ReadFile(path);
  if (!text.ok()) {
    return text.status().WithContext("kernel recipe " + path);
  }
  return ParseKernelRecipe(*text, path);
}

}  // namespace gc
