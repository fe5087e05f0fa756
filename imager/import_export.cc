#include "imager/import_export.h"

#include <fcntl.h>

#include <map>
#include <set>
#include <unordered_map>

#include "common/fs_walk.h"
#include "common/log.h"
#include "common/progress.h"
#include "common/stopwatch.h"

namespace gc {

namespace {

constexpr uint64_t kMaxImportFileSize = uint64_t{1} << 40;

// Copies a file into the store, keeping its holes.
Result<std::string> StoreFile(ImageStore* store, int fd, const Entry& entry) {
  GC_ASSIGN_OR_RETURN(auto writer, store->NewObject());
  std::vector<Extent> extents = entry.data_extents;
  if (extents.empty()) extents.push_back({0, entry.size});
  constexpr size_t kBufferSize = 256 << 10;
  thread_local auto buffer = std::make_unique_for_overwrite<char[]>(kBufferSize);
  uint64_t position = 0;
  for (const Extent& extent : extents) {
    if (extent.offset > position) GC_RETURN_IF_ERROR(writer->Skip(extent.offset - position));
    position = extent.offset;
    uint64_t end = extent.offset + extent.length;
    while (position < end) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(kBufferSize, end - position));
      ssize_t n = ::pread(fd, buffer.get(), want, static_cast<off_t>(position));
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoError("read /" + entry.path);
      }
      if (n == 0) return Corrupt("/" + entry.path + " shrank while it was imported");
      GC_RETURN_IF_ERROR(writer->Append(std::string_view(buffer.get(), static_cast<size_t>(n))));
      position += static_cast<uint64_t>(n);
    }
  }
  if (entry.size > position) GC_RETURN_IF_ERROR(writer->Skip(entry.size - position));
  return writer->Commit("");
}

Result<ImportResult> PublishImport(ImageStore* store, const std::string& image, Manifest manifest,
                                   const std::string& source, const std::string& message,
                                   uint64_t objects_added, double seconds) {
  CaptureRecord record;
  record.time_ns = store->env()->NowNanos();
  record.source = source;
  record.message = message;
  ImportResult result;
  result.totals = ComputeTotals(manifest);
  record.files = result.totals.files;
  record.bytes_total = result.totals.file_bytes;
  record.seconds = seconds;
  std::string layout = "{\"format\": 1, \"source\": \"import\", \"disks\": []}\n";
  GC_ASSIGN_OR_RETURN(result.ref, store->Publish(image, manifest, layout, record));
  result.objects_added = objects_added;
  return result;
}

// A tar's members by path, in manifest order.
using TarEntries = std::map<std::string, Entry, bool (*)(const std::string&, const std::string&)>;

// The manifest of a tar's members. Archives often leave out directories (and
// the root); they are added as root-owned 0755.
Manifest ManifestWithParents(TarEntries entries) {
  std::vector<std::string> missing;
  if (!entries.count(".")) missing.push_back(".");
  for (const auto& [entry_path, entry] : entries) {
    for (size_t slash = entry_path.find('/'); slash != std::string::npos;
         slash = entry_path.find('/', slash + 1)) {
      std::string parent = entry_path.substr(0, slash);
      if (!entries.count(parent)) missing.push_back(parent);
    }
  }
  for (const auto& dir : missing) {
    Entry entry;
    entry.path = dir;
    entry.type = EntryType::kDir;
    entry.mode = 0755;
    entries.emplace(dir, std::move(entry));
  }
  Manifest manifest;
  for (auto& [entry_path, entry] : entries) manifest.entries.push_back(std::move(entry));
  return manifest;
}

}  // namespace

Result<ImportResult> ImportDirectory(ImageStore* store, const std::string& dir,
                                     const std::string& image, const std::string& message) {
  GC_RETURN_IF_ERROR(ValidateImageName(image));
  Stopwatch stopwatch;
  GC_RETURN_IF_ERROR(store->BeginWrite());
  Manifest manifest;
  std::map<std::pair<uint64_t, uint64_t>, std::string> hash_by_inode;
  uint64_t added = 0;
  Progress progress("import " + dir);
  Status status = WalkTree(dir, WalkOptions{}, [&](WalkedEntry&& walked) -> Status {
    Entry& entry = walked.entry;
    auto inode =
        std::make_pair(static_cast<uint64_t>(walked.dev), static_cast<uint64_t>(walked.ino));
    if (entry.type == EntryType::kFile) {
      std::string path = JoinPath(dir, entry.path);
      UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
      if (!fd.valid()) {
        if (errno == ENOENT) return Status::Ok();  // vanished during the walk
        return ErrnoError(path);
      }
      GC_ASSIGN_OR_RETURN(entry.hash, StoreFile(store, fd.get(), entry));
      ++added;
      hash_by_inode[inode] = entry.hash;
      progress.Add(1, entry.size);
    } else if (entry.type == EntryType::kHardlink) {
      auto it = hash_by_inode.find(inode);
      if (it == hash_by_inode.end()) return Status::Ok();
      entry.hash = it->second;
    }
    manifest.entries.push_back(std::move(entry));
    return Status::Ok();
  });
  GC_RETURN_IF_ERROR(status);
  progress.Finish();
  return PublishImport(store, image, std::move(manifest), "dir " + dir, message, added,
                       stopwatch.Seconds());
}

Result<ImportResult> ImportTar(ImageStore* store, const std::string& path, const std::string& image,
                               const std::string& message) {
  GC_RETURN_IF_ERROR(ValidateImageName(image));
  Stopwatch stopwatch;
  GC_RETURN_IF_ERROR(store->BeginWrite());
  GC_ASSIGN_OR_RETURN(auto reader, TarReader::Open(path));
  // Later members replace earlier ones of the same path, as tar extraction does.
  TarEntries entries(
      [](const std::string& a, const std::string& b) { return ComparePaths(a, b) < 0; });
  uint64_t added = 0;
  Progress progress("import " + path);
  for (;;) {
    Entry entry;
    auto more = reader->Next(&entry);
    if (!more.ok()) return more.status().WithContext(path);
    if (!*more) break;
    if (entry.type == EntryType::kFile) {
      // A sparse member can claim any size in a few bytes of archive; without
      // a bound, import would hash petabytes of zeros.
      if (entry.size > kMaxImportFileSize) {
        return InvalidArgument(path + ": member '" + entry.path + "' claims " +
                               std::to_string(entry.size) +
                               " bytes, more than the 1 TiB goldcast accepts for one file");
      }
      GC_ASSIGN_OR_RETURN(auto writer, store->NewObject());
      GC_RETURN_IF_ERROR(
          reader->ReadContent([&](std::string_view chunk) { return writer->Append(chunk); }));
      GC_ASSIGN_OR_RETURN(entry.hash, writer->Commit(""));
      ++added;
      progress.Add(1, entry.size);
    } else if (entry.type == EntryType::kHardlink) {
      auto target = entries.find(entry.target);
      if (target == entries.end() || target->second.type != EntryType::kFile) {
        return InvalidArgument(path + ": member '" + entry.path + "' is a hard link to '" +
                               entry.target + "', which is not an earlier regular file");
      }
      entry.hash = target->second.hash;
      entry.size = target->second.size;
    }
    entries[entry.path] = std::move(entry);
  }
  progress.Finish();
  Manifest manifest = ManifestWithParents(std::move(entries));
  // The manifest rules (parents are directories, hardlinks point at files)
  // refuse members that would reach through a symlink.
  Status valid = ValidateManifest(manifest);
  if (!valid.ok()) return valid.WithContext(path + " cannot be imported");
  return PublishImport(store, image, std::move(manifest), "tar " + path, message, added,
                       stopwatch.Seconds());
}

Result<ExportResult> ExportImage(ImageStore* store, const ImageRef& ref, const std::string& output,
                                 Compression compression) {
  GC_ASSIGN_OR_RETURN(Manifest manifest, store->LoadManifest(ref));
  GC_ASSIGN_OR_RETURN(auto writer, TarWriter::Create(output, compression));
  ExportResult result;
  Progress progress("export " + ref.ToString());
  ManifestTotals totals = ComputeTotals(manifest);
  progress.SetTotals(totals.files, totals.file_bytes);
  for (const auto& entry : manifest.entries) {
    if (entry.type == EntryType::kSocket) {
      GC_LOG(Warning) << "/" << entry.path << " is a socket; tar cannot hold sockets, skipped";
      ++result.skipped_sockets;
      continue;
    }
    UniqueFd content;
    if (entry.type == EntryType::kFile) {
      GC_ASSIGN_OR_RETURN(content, store->OpenObject(entry.hash));
    }
    GC_RETURN_IF_ERROR(writer->Add(entry, content.get()));
    ++result.entries;
    if (entry.type == EntryType::kFile) progress.Add(1, entry.size);
  }
  GC_RETURN_IF_ERROR(writer->Finish());
  return result;
}

std::vector<DiffLine> DiffManifests(const Manifest& a, const Manifest& b) {
  std::vector<DiffLine> out;
  size_t i = 0, j = 0;
  while (i < a.entries.size() || j < b.entries.size()) {
    int order = i == a.entries.size()   ? 1
                : j == b.entries.size() ? -1
                                        : ComparePaths(a.entries[i].path, b.entries[j].path);
    if (order < 0) {
      out.push_back({'-', a.entries[i++].path, ""});
      continue;
    }
    if (order > 0) {
      out.push_back({'+', b.entries[j++].path, ""});
      continue;
    }
    const Entry& x = a.entries[i++];
    const Entry& y = b.entries[j++];
    if (x == y) continue;
    std::string detail;
    auto note = [&](bool changed, const char* what) {
      if (!changed) return;
      if (!detail.empty()) detail.push_back(',');
      detail.append(what);
    };
    note(x.type != y.type, "type");
    note(x.hash != y.hash || x.size != y.size, "content");
    note(x.target != y.target, "target");
    note(x.mode != y.mode, "mode");
    note(x.uid != y.uid || x.gid != y.gid, "owner");
    note(x.mtime_ns != y.mtime_ns, "mtime");
    note(x.xattrs != y.xattrs, "xattrs");
    note(x.rdev_major != y.rdev_major || x.rdev_minor != y.rdev_minor, "rdev");
    note(x.data_extents != y.data_extents, "sparse");
    bool content = x.type != y.type || x.hash != y.hash || x.target != y.target;
    out.push_back({content ? 'M' : 'm', x.path, detail});
  }
  return out;
}

}  // namespace gc
