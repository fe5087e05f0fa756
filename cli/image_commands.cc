// `goldcast image ...`: list, show, diff, export, import, verify, gc, rm, tag.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "cli/cli.h"
#include "common/progress.h"
#include "common/text.h"
#include "imager/import_export.h"

namespace gc {

namespace {

using nlohmann::json;

json InfoJson(const VersionInfo& info) {
  return {{"name", info.ref.name},
          {"version", info.ref.version},
          {"tags", info.tags},
          {"time", FormatUtcTime(info.record.time_ns)},
          {"source", info.record.source},
          {"message", info.record.message},
          {"files", info.record.files},
          {"bytes_total", info.record.bytes_total},
          {"bytes_transferred", info.record.bytes_transferred},
          {"seconds", info.record.seconds}};
}

std::string ModeString(const Entry& entry) {
  char text[16];
  std::snprintf(text, sizeof text, "%c%04o", static_cast<char>(entry.type), entry.mode);
  return text;
}

json EntryJson(const Entry& entry) {
  json out = {{"path", entry.path}, {"type", EntryTypeName(entry.type)},
              {"mode", entry.mode}, {"uid", entry.uid},
              {"gid", entry.gid},   {"mtime_ns", entry.mtime_ns}};
  if (entry.type == EntryType::kFile || entry.type == EntryType::kHardlink) {
    out["size"] = entry.size;
    out["hash"] = entry.hash;
  }
  if (!entry.target.empty()) out["target"] = entry.target;
  if (entry.type == EntryType::kCharDevice || entry.type == EntryType::kBlockDevice) {
    out["rdev"] = std::to_string(entry.rdev_major) + ":" + std::to_string(entry.rdev_minor);
  }
  if (!entry.xattrs.empty()) {
    json names = json::array();
    for (const auto& xattr : entry.xattrs) names.push_back(xattr.name);
    out["xattrs"] = names;
  }
  if (!entry.data_extents.empty()) out["sparse"] = true;
  return out;
}

Result<Compression> ParseCompression(const std::string& name) {
  if (name == "none") return Compression::kNone;
  if (name == "gzip") return Compression::kGzip;
  if (name == "xz") return Compression::kXz;
  if (name == "zstd") return Compression::kZstd;
  return InvalidArgument("--compress '" + name + "': expected none, gzip, xz or zstd");
}

// Each subcommand: a small function that declares its flags, and the
// command it runs once parsing is done.

Status RunList(const CliContext& context, bool json_out) {
  GC_ASSIGN_OR_RETURN(auto store, context.OpenStore(false));
  GC_ASSIGN_OR_RETURN(auto versions, store->List());
  if (json_out) {
    json out = json::array();
    for (const auto& info : versions) out.push_back(InfoJson(info));
    std::printf("%s\n", out.dump(2).c_str());
    return Status::Ok();
  }
  std::printf("%-24s %8s %10s  %-21s %s\n", "IMAGE", "FILES", "SIZE", "CAPTURED", "SOURCE [TAGS]");
  for (const auto& info : versions) {
    std::string tags;
    for (const auto& tag : info.tags) tags += " [" + tag + "]";
    std::printf("%-24s %8llu %10s  %-21s %s%s\n", info.ref.ToString().c_str(),
                static_cast<unsigned long long>(info.record.files),
                FormatBytes(info.record.bytes_total).c_str(),
                FormatUtcTime(info.record.time_ns).c_str(), info.record.source.c_str(),
                tags.c_str());
  }
  return Status::Ok();
}

void AddList(CLI::App* image, CliContext* context) {
  auto json_out = std::make_shared<bool>(false);
  auto* cmd = image->add_subcommand("list", "List images and their versions");
  cmd->add_flag("--json", *json_out, "Print JSON");
  cmd->callback([=] { context->run = [=] { return RunList(*context, *json_out); }; });
}

struct ShowFlags {
  std::string spec;
  bool json = false, files = false;
};

// One version, with what `show` prints of it.
struct ShownVersion {
  ImageRef ref;
  VersionInfo info;
  Manifest manifest;
  std::string layout;
  ManifestTotals totals;
};

void PrintShowJson(const ShownVersion& shown, bool files) {
  json out = InfoJson(shown.info);
  out["entries"] = shown.totals.entries;
  try {
    out["layout"] = json::parse(shown.layout);
  } catch (const std::exception&) {
    out["layout"] = nullptr;
  }
  if (files) {
    json entries = json::array();
    for (const auto& entry : shown.manifest.entries) entries.push_back(EntryJson(entry));
    out["manifest"] = entries;
  }
  std::printf("%s\n", out.dump(2).c_str());
}

// `ls -l`-like: type and mode, owner, size, path and link target.
void PrintEntryLine(const Entry& entry) {
  std::string line = ModeString(entry) + " " + std::to_string(entry.uid) + ":" +
                     std::to_string(entry.gid) + " " + std::to_string(entry.size) + " /" +
                     (entry.path == "." ? "" : entry.path);
  if (!entry.target.empty()) {
    line += (entry.type == EntryType::kHardlink ? " => /" : " -> ") + entry.target;
  }
  std::printf("%s\n", line.c_str());
}

void PrintShowText(const ShownVersion& shown, bool files) {
  const VersionInfo& info = shown.info;
  std::printf("image:       %s\n", shown.ref.ToString().c_str());
  if (!info.tags.empty()) {
    std::string tags;
    for (const auto& tag : info.tags) tags += (tags.empty() ? "" : ", ") + tag;
    std::printf("tags:        %s\n", tags.c_str());
  }
  std::printf("captured:    %s from %s\n", FormatUtcTime(info.record.time_ns).c_str(),
              info.record.source.c_str());
  if (!info.record.message.empty()) {
    std::printf("message:     %s\n", info.record.message.c_str());
  }
  std::printf("entries:     %llu (%llu files, %s)\n",
              static_cast<unsigned long long>(shown.totals.entries),
              static_cast<unsigned long long>(shown.totals.files),
              FormatBytes(shown.totals.file_bytes).c_str());
  if (files) {
    for (const auto& entry : shown.manifest.entries) PrintEntryLine(entry);
  }
}

Status RunShow(const CliContext& context, const ShowFlags& flags) {
  GC_ASSIGN_OR_RETURN(auto store, context.OpenStore(false));
  ShownVersion shown;
  GC_ASSIGN_OR_RETURN(shown.ref, store->Resolve(flags.spec));
  GC_ASSIGN_OR_RETURN(shown.info, store->Info(shown.ref));
  GC_ASSIGN_OR_RETURN(shown.manifest, store->LoadManifest(shown.ref));
  GC_ASSIGN_OR_RETURN(shown.layout, store->LoadLayout(shown.ref));
  shown.totals = ComputeTotals(shown.manifest);
  if (flags.json) {
    PrintShowJson(shown, flags.files);
  } else {
    PrintShowText(shown, flags.files);
  }
  return Status::Ok();
}

void AddShow(CLI::App* image, CliContext* context) {
  auto flags = std::make_shared<ShowFlags>();
  auto* cmd = image->add_subcommand("show", "Show one version (default: the newest)");
  cmd->add_option("IMAGE", flags->spec, "NAME, NAME@VERSION or NAME:TAG")->required();
  cmd->add_flag("--json", flags->json, "Print JSON");
  cmd->add_flag("--files", flags->files, "List every entry of the manifest");
  cmd->callback([=] { context->run = [=] { return RunShow(*context, *flags); }; });
}

struct DiffFlags {
  std::string a, b;
  bool json = false;
};

Status RunDiff(const CliContext& context, const DiffFlags& flags) {
  GC_ASSIGN_OR_RETURN(auto store, context.OpenStore(false));
  GC_ASSIGN_OR_RETURN(ImageRef a, store->Resolve(flags.a));
  GC_ASSIGN_OR_RETURN(ImageRef b, store->Resolve(flags.b));
  GC_ASSIGN_OR_RETURN(Manifest ma, store->LoadManifest(a));
  GC_ASSIGN_OR_RETURN(Manifest mb, store->LoadManifest(b));
  auto lines = DiffManifests(ma, mb);
  if (flags.json) {
    json out = json::array();
    for (const auto& line : lines) {
      out.push_back({{"change", std::string(1, line.kind)},
                     {"path", "/" + line.path},
                     {"detail", line.detail}});
    }
    std::printf("%s\n", out.dump(2).c_str());
    return Status::Ok();
  }
  for (const auto& line : lines) {
    std::printf("%c /%s%s\n", line.kind, line.path == "." ? "" : line.path.c_str(),
                line.detail.empty() ? "" : ("  (" + line.detail + ")").c_str());
  }
  return Status::Ok();
}

void AddDiff(CLI::App* image, CliContext* context) {
  auto flags = std::make_shared<DiffFlags>();
  auto* cmd = image->add_subcommand("diff", "Show what changed between two versions");
  cmd->add_option("A", flags->a, "Older version")->required();
  cmd->add_option("B", flags->b, "Newer version")->required();
  cmd->add_flag("--json", flags->json, "Print JSON");
  cmd->callback([=] { context->run = [=] { return RunDiff(*context, *flags); }; });
}

struct ExportFlags {
  std::string spec, output, compress = "none";
  bool zstd = false;
};

Status RunExport(const CliContext& context, const ExportFlags& flags) {
  GC_ASSIGN_OR_RETURN(Compression compression,
                      ParseCompression(flags.zstd ? "zstd" : flags.compress));
  GC_ASSIGN_OR_RETURN(auto store, context.OpenStore(false));
  GC_ASSIGN_OR_RETURN(ImageRef ref, store->Resolve(flags.spec));
  GC_ASSIGN_OR_RETURN(ExportResult result,
                      ExportImage(store.get(), ref, flags.output, compression));
  std::fprintf(stderr, "export: %s: %llu entries written to %s%s\n", ref.ToString().c_str(),
               static_cast<unsigned long long>(result.entries), flags.output.c_str(),
               result.skipped_sockets
                   ? (" (" + std::to_string(result.skipped_sockets) + " sockets skipped)").c_str()
                   : "");
  return Status::Ok();
}

void AddExport(CLI::App* image, CliContext* context) {
  auto flags = std::make_shared<ExportFlags>();
  auto* cmd = image->add_subcommand(
      "export",
      "Write a version as a pax tar (restore: tar --xattrs --xattrs-include='*' "
      "--acls --numeric-owner -xpf FILE)");
  cmd->add_option("IMAGE", flags->spec, "NAME, NAME@VERSION or NAME:TAG")->required();
  cmd->add_option("-o,--output", flags->output, "Output file ('-' for stdout)")->required();
  cmd->add_option("--compress", flags->compress, "none, gzip, xz or zstd")->capture_default_str();
  cmd->add_flag("--zstd", flags->zstd, "Same as --compress zstd");
  cmd->callback([=] { context->run = [=] { return RunExport(*context, *flags); }; });
}

struct ImportFlags {
  std::string dir, tar, image, message;
};

Status RunImport(const CliContext& context, const ImportFlags& flags) {
  if (flags.dir.empty() == flags.tar.empty()) {
    return InvalidArgument("image import needs exactly one of --dir DIR or --tar FILE");
  }
  GC_ASSIGN_OR_RETURN(auto store, context.OpenStore(true));
  Result<ImportResult> result =
      flags.dir.empty() ? ImportTar(store.get(), flags.tar, flags.image, flags.message)
                        : ImportDirectory(store.get(), flags.dir, flags.image, flags.message);
  if (!result.ok()) return result.status();
  std::printf("import: %s: %llu entries, %llu files, %s\n", result->ref.ToString().c_str(),
              static_cast<unsigned long long>(result->totals.entries),
              static_cast<unsigned long long>(result->totals.files),
              FormatBytes(result->totals.file_bytes).c_str());
  return Status::Ok();
}

void AddImport(CLI::App* image, CliContext* context) {
  auto flags = std::make_shared<ImportFlags>();
  auto* cmd = image->add_subcommand("import", "Make an image version from a directory or a tar");
  auto* dir = cmd->add_option("--dir", flags->dir, "Directory tree (e.g. a debootstrap root)");
  auto* tar = cmd->add_option("--tar", flags->tar, "tar, tar.gz, tar.xz or tar.zst archive");
  dir->excludes(tar);
  cmd->add_option("--image", flags->image, "Image name")->required();
  cmd->add_option("--message,-m", flags->message, "Note stored with the version");
  cmd->callback([=] { context->run = [=] { return RunImport(*context, *flags); }; });
}

Status RunVerify(const CliContext& context, const std::string& spec) {
  GC_ASSIGN_OR_RETURN(auto store, context.OpenStore(false));
  std::optional<ImageRef> only;
  if (!spec.empty()) {
    GC_ASSIGN_OR_RETURN(ImageRef ref, store->Resolve(spec));
    only = ref;
  }
  GC_ASSIGN_OR_RETURN(auto report, store->Verify(only));
  for (const auto& problem : report.problems) std::printf("%s\n", problem.c_str());
  if (!report.problems.empty()) {
    return Corrupt(std::to_string(report.problems.size()) +
                   " problem(s) found; re-capture the image or remove the damaged "
                   "versions with goldcast image rm");
  }
  std::printf("verify: ok: %llu versions, %llu objects re-hashed\n",
              static_cast<unsigned long long>(report.versions),
              static_cast<unsigned long long>(report.objects_checked));
  return Status::Ok();
}

void AddVerify(CLI::App* image, CliContext* context) {
  auto spec = std::make_shared<std::string>();
  auto* cmd = image->add_subcommand(
      "verify", "Re-hash every object of every version (or of IMAGE) and check the manifests");
  cmd->add_option("IMAGE", *spec, "Only this version");
  cmd->callback([=] { context->run = [=] { return RunVerify(*context, *spec); }; });
}

Status RunGc(const CliContext& context) {
  GC_ASSIGN_OR_RETURN(auto store, context.OpenStore(false));
  GC_ASSIGN_OR_RETURN(auto stats, store->CollectGarbage());
  std::printf("gc: removed %llu objects (%s), kept %llu\n",
              static_cast<unsigned long long>(stats.objects_removed),
              FormatBytes(stats.bytes_freed).c_str(),
              static_cast<unsigned long long>(stats.objects_kept));
  return Status::Ok();
}

void AddGc(CLI::App* image, CliContext* context) {
  auto* cmd = image->add_subcommand("gc", "Remove objects no image version uses");
  cmd->callback([=] { context->run = [=] { return RunGc(*context); }; });
}

Status RunRm(const CliContext& context, const std::string& spec) {
  GC_ASSIGN_OR_RETURN(ImageSpec parsed, ParseImageSpec(spec));
  if (!parsed.version && parsed.tag.empty()) {
    return InvalidArgument("image rm needs an explicit version: NAME@VERSION or NAME:TAG");
  }
  GC_ASSIGN_OR_RETURN(auto store, context.OpenStore(false));
  GC_ASSIGN_OR_RETURN(ImageRef ref, store->Resolve(parsed));
  GC_RETURN_IF_ERROR(store->Remove(ref));
  std::printf("removed %s\n", ref.ToString().c_str());
  return Status::Ok();
}

void AddRm(CLI::App* image, CliContext* context) {
  auto spec = std::make_shared<std::string>();
  auto* cmd = image->add_subcommand("rm", "Remove one version (objects go at the next gc)");
  cmd->add_option("IMAGE", *spec, "NAME@VERSION or NAME:TAG")->required();
  cmd->callback([=] { context->run = [=] { return RunRm(*context, *spec); }; });
}

struct TagFlags {
  std::string spec, tag;
  bool remove = false;
};

Status RunTag(const CliContext& context, const TagFlags& flags) {
  GC_ASSIGN_OR_RETURN(auto store, context.OpenStore(false));
  if (flags.remove) {
    GC_ASSIGN_OR_RETURN(ImageSpec parsed, ParseImageSpec(flags.spec));
    return store->Untag(parsed.name, flags.tag);
  }
  GC_ASSIGN_OR_RETURN(ImageRef ref, store->Resolve(flags.spec));
  GC_RETURN_IF_ERROR(store->Tag(ref, flags.tag));
  std::printf("%s:%s -> %s\n", ref.name.c_str(), flags.tag.c_str(), ref.ToString().c_str());
  return Status::Ok();
}

void AddTag(CLI::App* image, CliContext* context) {
  auto flags = std::make_shared<TagFlags>();
  auto* cmd = image->add_subcommand("tag", "Point TAG at a version (or --delete it)");
  cmd->add_option("IMAGE", flags->spec, "NAME@VERSION (or NAME with --delete)")->required();
  cmd->add_option("TAG", flags->tag, "Tag name, e.g. stable")->required();
  cmd->add_flag("--delete", flags->remove, "Remove the tag");
  cmd->callback([=] { context->run = [=] { return RunTag(*context, *flags); }; });
}

}  // namespace

void AddImageCommands(CLI::App* app, CliContext* context) {
  auto* image = app->add_subcommand("image", "Manage the image store");
  image->require_subcommand(1);
  AddList(image, context);
  AddShow(image, context);
  AddDiff(image, context);
  AddExport(image, context);
  AddImport(image, context);
  AddVerify(image, context);
  AddGc(image, context);
  AddRm(image, context);
  AddTag(image, context);
}

}  // namespace gc
