// The kernel recipe loader (docs/kernel-build.md): the document's top level
// and its source, patches, config and build sections, read with the strict
// YAML reader the cluster profile uses too (profiles/yaml_reader.h), so both
// files report errors the same way; plus the kernel version helpers.
#include "profiles/kernel_recipe.h"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <filesystem>

#include "common/hash.h"
#include "profiles/yaml_reader.h"

namespace gc {

namespace {

constexpr size_t kMaxRecipeBytes = 1 << 20;

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
std::string Lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
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

// The boot image `make` builds by default for `arch`; empty when unknown.
std::vector<std::string> DefaultTargets(const std::string& arch) {
  if (arch == "x86_64" || arch == "x86" || arch == "i386") return {"bzImage"};
  if (arch == "arm64") return {"Image"};
  return {};
}

// Reads one recipe; each Parse* method fills one section and returns the
// first problem as FILE:LINE:COL: FIELD: message.
class Parser {
 public:
  explicit Parser(std::string path) : yaml_(std::move(path)) {
    dir_ = std::filesystem::path(yaml_.file()).parent_path().string();
    if (dir_.empty()) dir_ = ".";
  }

  Result<KernelRecipe> Parse(std::string_view text) {
    return yaml_.Guard<KernelRecipe>("recipe", [&] { return ParseDocument(text); });
  }

 private:
  using Field = YamlField;
  using Section = YamlSection;
  Status Error(const Field& field, std::string_view problem) const {
    return yaml_.Error(field, problem);
  }

  Result<std::string> Word(const Field& field, const std::string& what) const;
  Result<std::vector<std::string>> WordList(const Field& field, std::string_view plural,
                                            const std::string& what) const;
  Result<std::string> Sha256(const Field& field) const;
  Result<std::string> Path(const Field& field, std::string_view what) const;

  Result<KernelRecipe> ParseDocument(std::string_view text);
  Status ParseNameAndVersion(const Section& s, KernelRecipe* recipe);
  Status ParseSource(const Field& field, RecipeSource* source);
  Status ParsePatches(const Field& field, std::vector<RecipePatch>* patches);
  Result<RecipePatch> ParsePatch(const Field& field);
  Status ParseConfig(const Field& field, KernelRecipe* recipe);
  Status ParseBase(const Field& field, BaseConfig* base);
  Result<RequiredOption> ParseRequired(const Field& entry);
  Status ParseBuild(const Field& field, BuildSettings* build);
  Status ParseToolchain(const Field& field, Toolchain* toolchain);
  Status ParseReproducible(const Field& field, ReproducibleSettings* out);

  YamlReader yaml_;
  std::string dir_;
};

Result<std::string> Parser::Word(const Field& field, const std::string& what) const {
  GC_ASSIGN_OR_RETURN(std::string text, yaml_.Text(field, what));
  if (!AllOf(text, IsWordChar) || text[0] == '-') {
    return Error(field, "expected " + what +
                            " (letters, digits, '.', '_', '-', '+', '/'; no spaces), got " +
                            QuoteValue(text));
  }
  return text;
}

Result<std::vector<std::string>> Parser::WordList(const Field& field, std::string_view plural,
                                                  const std::string& what) const {
  GC_ASSIGN_OR_RETURN(std::vector<Field> items, yaml_.Items(field, plural));
  std::vector<std::string> out;
  for (const Field& item : items) {
    GC_ASSIGN_OR_RETURN(std::string word, Word(item, what));
    out.push_back(std::move(word));
  }
  return out;
}

Result<std::string> Parser::Sha256(const Field& field) const {
  GC_ASSIGN_OR_RETURN(std::string text, yaml_.Text(field, "a SHA-256 of 64 hex digits"));
  std::string lower = Lower(text);  // sha256sum prints lower case, some sites upper
  if (!IsValidHashHex(lower)) {
    return Error(field, "expected a SHA-256 of 64 hex digits (as printed by sha256sum), got " +
                            QuoteValue(text));
  }
  return lower;
}

// Relative paths start at the recipe's directory.
Result<std::string> Parser::Path(const Field& field, std::string_view what) const {
  GC_ASSIGN_OR_RETURN(std::string text, yaml_.Text(field, what));
  if (text.empty()) return Error(field, "expected a file path, got an empty string");
  if (text[0] == '/') return text;
  return dir_ + "/" + text;
}

Status Parser::ParseSource(const Field& field, RecipeSource* source) {
  GC_ASSIGN_OR_RETURN(Section s,
                      yaml_.Map(field, {"tarball", "url", "sha256", "signature", "keyring"}));
  source->line = YamlReader::MarkOf(field).line + 1;
  const Field* tarball = s.Get("tarball");
  const Field* url = s.Get("url");
  if (!tarball == !url) {
    return Error(field,
                 "give exactly one of 'tarball' (a local file) or 'url' (downloaded into the "
                 "build cache)");
  }
  if (tarball) {
    GC_ASSIGN_OR_RETURN(source->tarball, Path(*tarball, "the path of the vanilla tarball"));
  } else {
    GC_ASSIGN_OR_RETURN(source->url, yaml_.Text(*url, "an http:// or https:// URL"));
    if (source->url.rfind("http://", 0) != 0 && source->url.rfind("https://", 0) != 0) {
      return Error(*url, "expected an http:// or https:// URL, got " + QuoteValue(source->url));
    }
  }
  GC_ASSIGN_OR_RETURN(const Field* f,
                      yaml_.Require(s, "sha256",
                                    "the SHA-256 of the vanilla tarball (sha256sum of a copy "
                                    "whose signature you verified)"));
  GC_ASSIGN_OR_RETURN(source->sha256, Sha256(*f));
  const Field* signature = s.Get("signature");
  const Field* keyring = s.Get("keyring");
  if (!signature != !keyring) {
    return Error(field,
                 "'signature' and 'keyring' go together (gpgv --keyring KEYRING SIGNATURE "
                 "TARBALL)");
  }
  if (signature) {
    GC_ASSIGN_OR_RETURN(source->signature, Path(*signature, "the path of a detached signature"));
    GC_ASSIGN_OR_RETURN(source->keyring, Path(*keyring, "the path of a gpgv keyring"));
  }
  return Status::Ok();
}

Status Parser::ParsePatches(const Field& field, std::vector<RecipePatch>* patches) {
  if (field.value.IsNull()) return Status::Ok();  // "patches:" with nothing: no series
  GC_ASSIGN_OR_RETURN(std::vector<Field> items,
                      yaml_.Items(field, "patches (- file: ..., sha256: ..., for: ...)"));
  for (const Field& item : items) {
    GC_ASSIGN_OR_RETURN(RecipePatch patch, ParsePatch(item));
    patches->push_back(std::move(patch));
  }
  return Status::Ok();
}

Result<RecipePatch> Parser::ParsePatch(const Field& field) {
  GC_ASSIGN_OR_RETURN(Section s, yaml_.Map(field, {"file", "sha256", "for"}));
  RecipePatch patch;
  patch.line = YamlReader::MarkOf(field).line + 1;
  GC_ASSIGN_OR_RETURN(const Field* file, yaml_.Require(s, "file", "the patch file"));
  GC_ASSIGN_OR_RETURN(const Field* sha256,
                      yaml_.Require(s, "sha256", "the patch's SHA-256 (sha256sum FILE)"));
  GC_ASSIGN_OR_RETURN(
      const Field* version,
      yaml_.Require(s, "for", "the kernel version the patch is for, e.g. \"2.4.26\" or \"6.1\""));
  GC_ASSIGN_OR_RETURN(patch.path, Path(*file, "the path of the patch file"));
  patch.file = file->value.Scalar();
  GC_ASSIGN_OR_RETURN(patch.sha256, Sha256(*sha256));
  GC_ASSIGN_OR_RETURN(patch.for_version, yaml_.Text(*version, "a kernel version like \"6.1\""));
  KernelVersion ignored;
  std::string_view v = patch.for_version;
  int dots = static_cast<int>(std::count(v.begin(), v.end(), '.'));
  if (!(dots == 1 || dots == 2) ||
      !ParseKernelVersion(dots == 1 ? std::string(v) + ".0" : std::string(v), &ignored)) {
    return Error(*version,
                 "expected a kernel version like \"2.4.26\" (exactly that release) or \"6.1\" "
                 "(any 6.1.x), got " +
                     QuoteValue(patch.for_version));
  }
  return patch;
}

Result<RequiredOption> Parser::ParseRequired(const Field& entry) {
  RequiredOption option;
  option.name = entry.key.Scalar();
  option.line = entry.key.Mark().line + 1;
  if (option.name.rfind("CONFIG_", 0) != 0 || option.name.size() == 7 ||
      !AllOf(option.name, IsSymbolChar)) {
    return yaml_.At(entry.key.Mark(), entry.path,
                    "expected an option name like CONFIG_MOSIX (CONFIG_ then capitals, digits, "
                    "_), got " +
                        QuoteValue(option.name));
  }
  const YAML::Node& value = entry.value;
  if (value.IsNull()) {
    return Error(entry, "missing value: expected y, n, m, a number, or a quoted string");
  }
  if (!value.IsScalar()) {
    return Error(entry, std::string("expected y, n, m, a number, or a quoted string, got ") +
                            YamlKind(value));
  }
  const std::string& text = value.Scalar();
  option.value = text;
  if (value.Tag() == "!") {  // quoted: always a string, even "y"
    if (text.find('\n') != std::string::npos) {
      return Error(entry, "a string option cannot hold a newline");
    }
    option.kind = RequiredKind::kString;
  } else if (text == "y") {
    option.kind = RequiredKind::kBuiltIn;
  } else if (text == "n") {
    option.kind = RequiredKind::kOff;
  } else if (text == "m") {
    option.kind = RequiredKind::kModule;
  } else if ((text[0] == '-' && AllOf(text.substr(1), IsDigit)) || AllOf(text, IsDigit) ||
             (text.size() > 2 && text.rfind("0x", 0) == 0 && AllOf(text.substr(2), IsHex))) {
    option.kind = RequiredKind::kNumber;
  } else {
    std::string lower = Lower(text);
    std::string hint;
    if (lower == "yes" || lower == "true" || lower == "on") hint = " (write y)";
    if (lower == "no" || lower == "false" || lower == "off") hint = " (write n)";
    return Error(entry,
                 "expected y (built in), n (off), m (module), a number, or a quoted string, got " +
                     QuoteValue(text) + hint);
  }
  return option;
}

Status Parser::ParseBase(const Field& field, BaseConfig* base) {
  if (field.value.IsMap()) {
    GC_ASSIGN_OR_RETURN(Section s, yaml_.Map(field, {"file"}));
    GC_ASSIGN_OR_RETURN(const Field* f, yaml_.Require(s, "file", "a .config file"));
    base->kind = BaseConfigKind::kFile;
    GC_ASSIGN_OR_RETURN(base->file, Path(*f, "the path of a .config file"));
    return Status::Ok();
  }
  const char* expected = "defconfig, tinyconfig, allnoconfig or {file: PATH}";
  GC_ASSIGN_OR_RETURN(std::string text, yaml_.Text(field, expected));
  if (text == "defconfig") {
    base->kind = BaseConfigKind::kDefconfig;
  } else if (text == "tinyconfig") {
    base->kind = BaseConfigKind::kTinyconfig;
  } else if (text == "allnoconfig") {
    base->kind = BaseConfigKind::kAllnoconfig;
  } else {
    return Error(field, std::string("expected ") + expected + ", got " + QuoteValue(text));
  }
  return Status::Ok();
}

Status Parser::ParseConfig(const Field& field, KernelRecipe* recipe) {
  GC_ASSIGN_OR_RETURN(Section s, yaml_.Map(field, {"base", "required"}));
  GC_ASSIGN_OR_RETURN(
      const Field* f,
      yaml_.Require(s, "base", "defconfig, tinyconfig, allnoconfig or {file: PATH}"));
  GC_RETURN_IF_ERROR(ParseBase(*f, &recipe->base));
  f = s.Get("required");
  if (!f || f->value.IsNull()) return Status::Ok();
  GC_ASSIGN_OR_RETURN(std::vector<Field> entries, yaml_.Entries(*f, "options (CONFIG_X: value)"));
  for (const Field& entry : entries) {
    GC_ASSIGN_OR_RETURN(RequiredOption option, ParseRequired(entry));
    recipe->required.push_back(std::move(option));
  }
  return Status::Ok();
}

Status Parser::ParseToolchain(const Field& field, Toolchain* toolchain) {
  GC_ASSIGN_OR_RETURN(Section s, yaml_.Map(field, {"cc", "make", "arch"}));
  const Field* f;
  if ((f = s.Get("cc"))) {
    GC_ASSIGN_OR_RETURN(toolchain->cc, Word(*f, "a compiler command"));
  }
  if ((f = s.Get("make"))) {
    GC_ASSIGN_OR_RETURN(toolchain->make, Word(*f, "a make command"));
  }
  if ((f = s.Get("arch"))) {
    GC_ASSIGN_OR_RETURN(toolchain->arch, Word(*f, "a kernel ARCH like x86_64"));
  }
  return Status::Ok();
}

Status Parser::ParseReproducible(const Field& field, ReproducibleSettings* out) {
  GC_ASSIGN_OR_RETURN(Section s, yaml_.Map(field, {"timestamp", "user", "host", "build_version"}));
  const Field* f;
  if ((f = s.Get("timestamp"))) {
    GC_ASSIGN_OR_RETURN(out->timestamp, yaml_.Text(*f, "\"YYYY-MM-DD HH:MM:SS UTC\""));
    if (!ParseUtcTimestamp(out->timestamp, &out->source_date_epoch)) {
      return Error(*f, "expected \"YYYY-MM-DD HH:MM:SS UTC\", got " + QuoteValue(out->timestamp));
    }
  }
  for (auto [key, target] : {std::pair{"user", &out->user}, std::pair{"host", &out->host}}) {
    if (!(f = s.Get(key))) continue;
    GC_ASSIGN_OR_RETURN(*target, yaml_.Text(*f, "letters, digits, '.', '_' or '-'"));
    if (!AllOf(*target, IsNameChar)) {
      return Error(*f, "expected letters, digits, '.', '_' or '-', got " + QuoteValue(*target));
    }
  }
  if ((f = s.Get("build_version"))) {
    GC_ASSIGN_OR_RETURN(out->build_version, yaml_.Text(*f, "a number"));
    if (!AllOf(out->build_version, IsDigit)) {
      return Error(*f,
                   "expected a number (the #N in uname -v), got " + QuoteValue(out->build_version));
    }
  }
  return Status::Ok();
}

Status Parser::ParseBuild(const Field& field, BuildSettings* build) {
  GC_ASSIGN_OR_RETURN(Section s,
                      yaml_.Map(field, {"targets", "pre_steps", "toolchain", "reproducible"}));
  const Field* f;
  if ((f = s.Get("targets"))) {
    GC_ASSIGN_OR_RETURN(build->targets, WordList(*f, "make targets", "a make target"));
    if (build->targets.empty()) return Error(*f, "expected at least one make target");
  }
  if ((f = s.Get("pre_steps"))) {
    GC_ASSIGN_OR_RETURN(build->pre_steps, WordList(*f, "make targets", "a make target"));
  }
  if ((f = s.Get("toolchain"))) GC_RETURN_IF_ERROR(ParseToolchain(*f, &build->toolchain));
  if ((f = s.Get("reproducible"))) GC_RETURN_IF_ERROR(ParseReproducible(*f, &build->reproducible));
  return Status::Ok();
}

Status Parser::ParseNameAndVersion(const Section& s, KernelRecipe* recipe) {
  const Field* f = s.Get("name");
  GC_ASSIGN_OR_RETURN(recipe->name, yaml_.Text(*f, "a name like openmosix"));
  const std::string& name = recipe->name;
  if (name.empty() || name.size() > 64 || !AllOf(name, IsNameChar) ||
      !std::isalnum(static_cast<unsigned char>(name[0]))) {
    return Error(*f,
                 "expected 1 to 64 letters, digits, '.', '_' or '-' starting with a letter or "
                 "digit, got " +
                     QuoteValue(name));
  }
  f = s.Get("version");
  GC_ASSIGN_OR_RETURN(recipe->version, yaml_.Text(*f, "a kernel version like \"6.1.176\""));
  KernelVersion version;
  if (!ParseKernelVersion(recipe->version, &version)) {
    return Error(*f,
                 "expected VERSION.PATCHLEVEL.SUBLEVEL of the vanilla tree, e.g. \"6.1.176\" or "
                 "\"2.4.26\" (\"6.1.0\" for the 6.1 release), got " +
                     QuoteValue(recipe->version));
  }
  if ((f = s.Get("extraversion"))) {
    GC_ASSIGN_OR_RETURN(recipe->extraversion,
                        yaml_.Text(*f, "the tree's EXTRAVERSION (\"\" for releases)"));
  }
  return Status::Ok();
}

Result<KernelRecipe> Parser::ParseDocument(std::string_view text) {
  GC_ASSIGN_OR_RETURN(Section s, yaml_.LoadDocument(text, kMaxRecipeBytes,
                                                    "a kernel recipe: a map with name, version, "
                                                    "source and config, see profiles/kernels/",
                                                    {"name", "version", "extraversion", "source",
                                                     "patches", "config", "build"}));
  // Every required key before any value: a skeleton learns what it lacks first.
  for (auto [key, expected] :
       {std::pair{"name", "the kernel's name, e.g. openmosix"},
        std::pair{"version", "the vanilla tree's version, e.g. \"6.1.176\""},
        std::pair{"source", "the vanilla tarball: tarball or url, and sha256"},
        std::pair{"config", "base, e.g. base: defconfig"}}) {
    GC_RETURN_IF_ERROR(yaml_.Require(s, key, expected).status());
  }
  KernelRecipe recipe;
  recipe.path = yaml_.file();
  recipe.dir = dir_;
  GC_RETURN_IF_ERROR(ParseNameAndVersion(s, &recipe));
  GC_RETURN_IF_ERROR(ParseSource(*s.Get("source"), &recipe.source));
  const Field* f;
  if ((f = s.Get("patches"))) GC_RETURN_IF_ERROR(ParsePatches(*f, &recipe.patches));
  GC_RETURN_IF_ERROR(ParseConfig(*s.Get("config"), &recipe));
  const Field* build = s.Get("build");
  if (build) GC_RETURN_IF_ERROR(ParseBuild(*build, &recipe.build));
  if (recipe.build.targets.empty()) {
    const std::string& arch = recipe.build.toolchain.arch;
    recipe.build.targets = DefaultTargets(arch);
    if (recipe.build.targets.empty()) {  // only a recipe's own toolchain.arch gets here
      return yaml_.At(
          YamlReader::MarkOf(build ? *build : s.self), "build.targets",
          "no default boot image for arch " + QuoteValue(arch) + ": list the make targets");
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
  Parser parser(path);
  return parser.Parse(text);
}

Result<KernelRecipe> LoadKernelRecipe(const std::string& path, Env* env) {
  auto text = env->ReadFile(path);
  if (!text.ok()) {
    return text.status().WithContext("kernel recipe " + path);
  }
  return ParseKernelRecipe(*text, path);
}

}  // namespace gc
