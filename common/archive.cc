#include "common/archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <locale.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <limits>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "common/log.h"
#include "common/unique_fd.h"

namespace gc {
namespace {

constexpr size_t kBlockSize = 1 << 20;
constexpr int64_t kNanosPerSecond = 1'000'000'000;

// Holes are handed to libarchive (which skips them) and to sinks (which get
// dense content) from this block, so no hole is ever allocated.
const char* ZeroBlock() {
  static const std::vector<char> zeros(kBlockSize, 0);
  return zeros.data();
}

// Names in goldcast are bytes and, in practice, UTF-8. libarchive converts
// header strings from the locale's charset, so under the C locale every
// non-ASCII name would be stored as "hdrcharset=BINARY", which GNU tar warns
// about. Running libarchive calls under C.UTF-8 (per thread) stores UTF-8
// names as they are.
class ScopedUtf8Locale {
 public:
  ScopedUtf8Locale() {
    static const locale_t utf8 = ::newlocale(LC_ALL_MASK, "C.UTF-8", locale_t{});
    if (utf8 != locale_t{}) previous_ = ::uselocale(utf8);
  }
  ~ScopedUtf8Locale() {
    if (previous_ != locale_t{}) ::uselocale(previous_);
  }
  ScopedUtf8Locale(const ScopedUtf8Locale&) = delete;
  ScopedUtf8Locale& operator=(const ScopedUtf8Locale&) = delete;

 private:
  locale_t previous_{};
};

struct WriteFree {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct ReadFree {
  void operator()(archive* a) const { archive_read_free(a); }
};
struct EntryFree {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};
using WriteArchive = std::unique_ptr<archive, WriteFree>;
using ReadArchive = std::unique_ptr<archive, ReadFree>;
using ArchiveEntry = std::unique_ptr<archive_entry, EntryFree>;

std::string ArchiveError(archive* a) {
  const char* text = archive_error_string(a);
  return text != nullptr ? text : "unknown libarchive error";
}

// A libarchive failure while writing: a full disk keeps its own code so the
// caller can tell the admin to free space.
Status WriteError(archive* a, std::string_view context) {
  int err = archive_errno(a);
  if (err == ENOSPC || err == EDQUOT) return ErrnoError(context, err);
  return IoError(std::string(context) + ": " + ArchiveError(a));
}

// --- POSIX ACLs --------------------------------------------------------------
// The kernel's system.posix_acl_access/default value: a little-endian u32
// version (2), then {u16 tag, u16 perm, u32 id} per entry. Tar stores ACLs as
// text (SCHILY.acl.*), which is what GNU tar --acls and bsdtar restore.

constexpr char kAclAccessXattr[] = "system.posix_acl_access";
constexpr char kAclDefaultXattr[] = "system.posix_acl_default";
constexpr uint32_t kAclVersion = 2;
constexpr uint32_t kAclUndefinedId = 0xffffffff;
constexpr uint16_t kAclMaskTag = 0x10;

struct AclTag {
  uint16_t kernel;
  int libarchive;
  bool has_id;
};
constexpr AclTag kAclTags[] = {
    {0x01, ARCHIVE_ENTRY_ACL_USER_OBJ, false},    {0x02, ARCHIVE_ENTRY_ACL_USER, true},
    {0x04, ARCHIVE_ENTRY_ACL_GROUP_OBJ, false},   {0x08, ARCHIVE_ENTRY_ACL_GROUP, true},
    {kAclMaskTag, ARCHIVE_ENTRY_ACL_MASK, false}, {0x20, ARCHIVE_ENTRY_ACL_OTHER, false},
};
constexpr int kAclPerms =
    ARCHIVE_ENTRY_ACL_READ | ARCHIVE_ENTRY_ACL_WRITE | ARCHIVE_ENTRY_ACL_EXECUTE;

const AclTag* FindKernelTag(uint16_t tag) {
  for (const AclTag& t : kAclTags)
    if (t.kernel == tag) return &t;
  return nullptr;
}
const AclTag* FindArchiveTag(int tag) {
  for (const AclTag& t : kAclTags)
    if (t.libarchive == tag) return &t;
  return nullptr;
}

uint32_t LoadLe(const std::string& s, size_t pos, int bytes) {
  uint32_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[pos + i]);
  return v;
}
void StoreLe(std::string* s, uint32_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) s->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

struct AclEntry {
  uint16_t tag;
  uint16_t perm;
  uint32_t id;
};

Result<std::vector<AclEntry>> DecodeAclXattr(const std::string& value) {
  if (value.size() < 4 || (value.size() - 4) % 8 != 0 || LoadLe(value, 0, 4) != kAclVersion)
    return Corrupt("not a POSIX ACL in the kernel's format (version 2, 8-byte entries)");
  std::vector<AclEntry> entries;
  for (size_t pos = 4; pos < value.size(); pos += 8) {
    AclEntry e{static_cast<uint16_t>(LoadLe(value, pos, 2)),
               static_cast<uint16_t>(LoadLe(value, pos + 2, 2)), LoadLe(value, pos + 4, 4)};
    if (FindKernelTag(e.tag) == nullptr || (e.perm & ~kAclPerms) != 0)
      return Corrupt("POSIX ACL entry with unknown tag " + std::to_string(e.tag) + " or perm " +
                     std::to_string(e.perm));
    entries.push_back(e);
  }
  return entries;
}

std::string EncodeAclXattr(std::vector<AclEntry> entries) {
  // The kernel wants entries ordered by tag, then id.
  std::sort(entries.begin(), entries.end(), [](const AclEntry& a, const AclEntry& b) {
    return a.tag != b.tag ? a.tag < b.tag : a.id < b.id;
  });
  std::string out;
  StoreLe(&out, kAclVersion, 4);
  for (const AclEntry& e : entries) {
    StoreLe(&out, e.tag, 2);
    StoreLe(&out, e.perm, 2);
    StoreLe(&out, e.id, 4);
  }
  return out;
}

Status AddAclToEntry(const Xattr& xattr, int type, archive_entry* ae) {
  GC_ASSIGN_OR_RETURN(std::vector<AclEntry> entries, DecodeAclXattr(xattr.value));
  for (const AclEntry& e : entries) {
    const AclTag* tag = FindKernelTag(e.tag);
    int id = tag->has_id ? static_cast<int>(e.id) : -1;
    if (tag->has_id && (e.id > static_cast<uint32_t>(std::numeric_limits<int>::max())))
      return InvalidArgument("POSIX ACL id " + std::to_string(e.id) + " does not fit a tar ACL");
    if (archive_entry_acl_add_entry(ae, type, e.perm, tag->libarchive, id, nullptr) != ARCHIVE_OK)
      return InvalidArgument("libarchive refused POSIX ACL entry with tag " +
                             std::to_string(e.tag));
  }
  return Status::Ok();
}

// The kernel xattr for the ACL of `type` the archive records, or nothing when
// the access ACL is just the mode bits (the kernel stores no xattr then).
Result<std::optional<std::string>> AclFromEntry(archive_entry* ae, int type) {
  std::vector<AclEntry> entries;
  bool extended = false;
  archive_entry_acl_reset(ae, type);
  int entry_type, permset, tag, id;
  const char* name;
  while (archive_entry_acl_next(ae, type, &entry_type, &permset, &tag, &id, &name) == ARCHIVE_OK) {
    const AclTag* t = FindArchiveTag(tag);
    if (t == nullptr) return InvalidArgument("has an ACL entry that is not POSIX.1e");
    if (t->has_id && id < 0) {
      return InvalidArgument(std::string("ACL entry for ") +
                             (tag == ARCHIVE_ENTRY_ACL_USER ? "user '" : "group '") +
                             (name ? name : "") +
                             "' has no numeric id; goldcast stores numeric ids only (create "
                             "the archive with GNU tar --acls --xattrs, or with bsdtar)");
    }
    if (t->has_id || t->kernel == kAclMaskTag) extended = true;
    entries.push_back({t->kernel, static_cast<uint16_t>(permset & kAclPerms),
                       t->has_id ? static_cast<uint32_t>(id) : kAclUndefinedId});
  }
  if (entries.empty() || (type == ARCHIVE_ENTRY_ACL_TYPE_ACCESS && !extended))
    return std::optional<std::string>();
  return std::optional<std::string>(EncodeAclXattr(std::move(entries)));
}

// --- Writer -----------------------------------------------------------------

Status CheckExtents(const Entry& entry) {
  uint64_t end = 0;
  for (const Extent& e : entry.data_extents) {
    if (e.offset < end || e.length > entry.size || e.offset > entry.size - e.length)
      return InvalidArgument("data extents of " + entry.path +
                             " are unsorted, overlap or extend past its size " +
                             std::to_string(entry.size));
    end = e.offset + e.length;
  }
  return Status::Ok();
}

// The extents handed to libarchive: non-empty ones, plus a zero-length one at
// the end of a file that ends in a hole, which is how GNU tar records the size.
std::vector<Extent> TarExtents(const Entry& entry) {
  std::vector<Extent> out;
  for (const Extent& e : entry.data_extents)
    if (e.length > 0) out.push_back(e);
  if (out.empty() || out.back().offset + out.back().length < entry.size)
    out.push_back({entry.size, 0});
  return out;
}

Result<ArchiveEntry> ToArchiveEntry(const Entry& entry) {
  if (entry.path != ".") GC_RETURN_IF_ERROR(ValidateRelativePath(entry.path));
  if (entry.mode > 07777) return InvalidArgument("mode has bits beyond 07777");
  ArchiveEntry ae(archive_entry_new());
  if (!ae) return Internal("out of memory");
  std::string name = entry.path == "." ? "./" : "./" + entry.path;
  archive_entry_copy_pathname(ae.get(), name.c_str());
  archive_entry_set_uid(ae.get(), entry.uid);
  archive_entry_set_gid(ae.get(), entry.gid);
  int64_t sec = entry.mtime_ns / kNanosPerSecond;
  int64_t nsec = entry.mtime_ns % kNanosPerSecond;
  if (nsec < 0) {
    nsec += kNanosPerSecond;
    --sec;
  }
  archive_entry_set_mtime(ae.get(), sec, nsec);
  archive_entry_set_size(ae.get(), 0);
  switch (entry.type) {
    case EntryType::kFile:
      if (entry.size > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        return InvalidArgument("size " + std::to_string(entry.size) + " is too large");
      archive_entry_set_filetype(ae.get(), AE_IFREG);
      archive_entry_set_size(ae.get(), static_cast<int64_t>(entry.size));
      break;
    case EntryType::kDir:
      archive_entry_set_filetype(ae.get(), AE_IFDIR);
      break;
    case EntryType::kSymlink:
      archive_entry_set_filetype(ae.get(), AE_IFLNK);
      archive_entry_copy_symlink(ae.get(), entry.target.c_str());
      break;
    case EntryType::kHardlink: {
      GC_RETURN_IF_ERROR(ValidateRelativePath(entry.target).WithContext("hardlink target"));
      archive_entry_set_filetype(ae.get(), AE_IFREG);
      archive_entry_copy_hardlink(ae.get(), ("./" + entry.target).c_str());
      break;
    }
    case EntryType::kCharDevice:
    case EntryType::kBlockDevice:
      archive_entry_set_filetype(ae.get(),
                                 entry.type == EntryType::kCharDevice ? AE_IFCHR : AE_IFBLK);
      archive_entry_set_rdevmajor(ae.get(), entry.rdev_major);
      archive_entry_set_rdevminor(ae.get(), entry.rdev_minor);
      break;
    case EntryType::kFifo:
      archive_entry_set_filetype(ae.get(), AE_IFIFO);
      break;
    case EntryType::kSocket:
      return Status(Code::kUnsupported, "sockets cannot be stored in a tar archive");
  }
  // After the file type and before the ACLs: libarchive derives the ACL's
  // owner/group/other entries from the mode.
  archive_entry_set_perm(ae.get(), entry.mode);
  for (const Xattr& x : entry.xattrs) {
    if (x.name.empty() || x.name.find('\0') != std::string::npos)
      return InvalidArgument("xattr name is empty or contains NUL");
    Status s;
    if (x.name == kAclAccessXattr) {
      s = AddAclToEntry(x, ARCHIVE_ENTRY_ACL_TYPE_ACCESS, ae.get());
    } else if (x.name == kAclDefaultXattr) {
      s = AddAclToEntry(x, ARCHIVE_ENTRY_ACL_TYPE_DEFAULT, ae.get());
    } else {
      archive_entry_xattr_add_entry(ae.get(), x.name.c_str(), x.value.data(), x.value.size());
    }
    GC_RETURN_IF_ERROR(s.WithContext("xattr " + x.name));
  }
  if (entry.type == EntryType::kFile && !entry.data_extents.empty() && entry.size > 0) {
    GC_RETURN_IF_ERROR(CheckExtents(entry));
    // Must follow set_size: libarchive drops extents past the size.
    for (const Extent& e : TarExtents(entry))
      archive_entry_sparse_add_entry(ae.get(), static_cast<int64_t>(e.offset),
                                     static_cast<int64_t>(e.length));
  }
  return ae;
}

class LibarchiveTarWriter final : public TarWriter {
 public:
  LibarchiveTarWriter(std::string path, UniqueFd fd, WriteArchive archive)
      : path_(std::move(path)), fd_(std::move(fd)), archive_(std::move(archive)) {}

  Status Add(const Entry& entry, int content_fd) override {
    if (error_) return *error_;
    if (finished_) return Internal("TarWriter::Add after Finish for " + path_);
    if (entry.type == EntryType::kSocket)
      return Status(Code::kUnsupported, "sockets cannot be stored in a tar archive: " + entry.path);
    ScopedUtf8Locale utf8;
    auto ae = ToArchiveEntry(entry);
    if (!ae.ok()) return ae.status().WithContext("cannot add " + entry.path + " to " + path_);
    int r = archive_write_header(archive_.get(), ae->get());
    if (r == ARCHIVE_WARN) {
      GC_LOG(Warning) << path_ << ": " << entry.path << ": " << ArchiveError(archive_.get());
    } else if (r != ARCHIVE_OK) {
      return Fail(WriteError(archive_.get(), path_ + ": writing the header of " + entry.path));
    }
    if (entry.type == EntryType::kFile && entry.size > 0) {
      Status s = entry.data_extents.empty() ? CopyRange(entry, content_fd, 0, entry.size)
                                            : WriteSparse(entry, content_fd);
      // The header promised entry.size bytes: the archive is now unusable.
      if (!s.ok()) return Fail(s);
    }
    if (archive_write_finish_entry(archive_.get()) < ARCHIVE_WARN)
      return Fail(WriteError(archive_.get(), path_ + ": finishing " + entry.path));
    return Status::Ok();
  }

  Status Finish() override {
    if (error_) return *error_;
    if (finished_) return Status::Ok();
    finished_ = true;
    if (archive_write_close(archive_.get()) != ARCHIVE_OK)
      return Fail(WriteError(archive_.get(), path_ + ": finishing the archive"));
    if (fd_.valid()) {
      if (::fsync(fd_.get()) != 0) return Fail(ErrnoError("fsync " + path_));
      if (::close(fd_.Release()) != 0) return Fail(ErrnoError("closing " + path_));
    }
    return Status::Ok();
  }

 private:
  Status Fail(Status status) {
    error_ = status;
    return status;
  }

  Status WriteData(const Entry& entry, const char* data, size_t length) {
    la_ssize_t n = archive_write_data(archive_.get(), data, length);
    if (n < 0 || static_cast<size_t>(n) != length)
      return WriteError(archive_.get(), path_ + ": writing the content of " + entry.path);
    return Status::Ok();
  }

  Status CopyRange(const Entry& entry, int content_fd, uint64_t offset, uint64_t length) {
    buffer_.resize(kBlockSize);
    uint64_t end = offset + length;
    while (offset < end) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(kBlockSize, end - offset));
      ssize_t n = ::pread(content_fd, buffer_.data(), want, static_cast<off_t>(offset));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return ErrnoError("reading the content of " + entry.path);
      if (n == 0) {
        return Corrupt("content of " + entry.path + " ends at byte " + std::to_string(offset) +
                       " but the manifest records " + std::to_string(entry.size) +
                       " bytes; check the image store (goldcast fsck)");
      }
      GC_RETURN_IF_ERROR(WriteData(entry, buffer_.data(), static_cast<size_t>(n)));
      offset += static_cast<uint64_t>(n);
    }
    return Status::Ok();
  }

  // libarchive wants the dense stream and drops the holes itself. Each call
  // stays within one hole or one data range: its pax writer is only exact at
  // those boundaries.
  Status WriteSparse(const Entry& entry, int content_fd) {
    uint64_t pos = 0;
    for (const Extent& e : TarExtents(entry)) {
      while (pos < e.offset) {
        size_t n = static_cast<size_t>(std::min<uint64_t>(kBlockSize, e.offset - pos));
        GC_RETURN_IF_ERROR(WriteData(entry, ZeroBlock(), n));
        pos += n;
      }
      GC_RETURN_IF_ERROR(CopyRange(entry, content_fd, e.offset, e.length));
      pos = e.offset + e.length;
    }
    return Status::Ok();
  }

  std::string path_;
  UniqueFd fd_;  // invalid when writing to stdout
  WriteArchive archive_;
  std::vector<char> buffer_;
  std::optional<Status> error_;
  bool finished_ = false;
};

// --- Reader -----------------------------------------------------------------

Status ToEntry(archive_entry* ae, Entry* out) {
  Entry e;
  const char* name = archive_entry_pathname(ae);
  if (name == nullptr) return InvalidArgument("archive member without a name");
  std::string member = std::string("archive member '") + name + "'";
  auto fail = [&](const std::string& why) { return InvalidArgument(member + ": " + why); };
  auto path = NormalizeRelativePath(name);
  if (!path.ok()) return fail(path.status().message());
  e.path = *path;

  const char* hardlink = archive_entry_hardlink(ae);
  if (hardlink != nullptr) {
    auto target = NormalizeRelativePath(hardlink);
    if (!target.ok())
      return fail("hardlink target '" + std::string(hardlink) + "': " + target.status().message());
    e.type = EntryType::kHardlink;
    e.target = *target;
  } else {
    switch (archive_entry_filetype(ae)) {
      case AE_IFREG:
        e.type = EntryType::kFile;
        if (archive_entry_size(ae) < 0) return fail("negative size");
        e.size = static_cast<uint64_t>(archive_entry_size(ae));
        break;
      case AE_IFDIR:
        e.type = EntryType::kDir;
        break;
      case AE_IFLNK: {
        const char* target = archive_entry_symlink(ae);
        if (target == nullptr || *target == '\0') return fail("symlink without a target");
        e.type = EntryType::kSymlink;
        e.target = target;
        break;
      }
      case AE_IFCHR:
      case AE_IFBLK:
        e.type = archive_entry_filetype(ae) == AE_IFCHR ? EntryType::kCharDevice
                                                        : EntryType::kBlockDevice;
        if (archive_entry_rdevmajor(ae) > std::numeric_limits<uint32_t>::max() ||
            archive_entry_rdevminor(ae) > std::numeric_limits<uint32_t>::max())
          return fail("device number out of range");
        e.rdev_major = static_cast<uint32_t>(archive_entry_rdevmajor(ae));
        e.rdev_minor = static_cast<uint32_t>(archive_entry_rdevminor(ae));
        break;
      case AE_IFIFO:
        e.type = EntryType::kFifo;
        break;
      default:
        char type[16];
        std::snprintf(type, sizeof(type), "0%o", static_cast<unsigned>(archive_entry_filetype(ae)));
        return fail(std::string("has a file type goldcast cannot store (mode type ") + type + ")");
    }
  }
  e.mode = archive_entry_perm(ae) & 07777;
  int64_t uid = archive_entry_uid(ae), gid = archive_entry_gid(ae);
  if (uid < 0 || uid > std::numeric_limits<uint32_t>::max() || gid < 0 ||
      gid > std::numeric_limits<uint32_t>::max())
    return fail("uid or gid out of range");
  e.uid = static_cast<uint32_t>(uid);
  e.gid = static_cast<uint32_t>(gid);
  int64_t sec = archive_entry_mtime(ae);
  if (sec > std::numeric_limits<int64_t>::max() / kNanosPerSecond - 1 ||
      sec < std::numeric_limits<int64_t>::min() / kNanosPerSecond + 1)
    return fail("mtime out of range");
  e.mtime_ns = sec * kNanosPerSecond + archive_entry_mtime_nsec(ae);

  std::map<std::string, std::string> xattrs;  // later duplicates win, as in pax
  archive_entry_xattr_reset(ae);
  const char* xname;
  const void* xvalue;
  size_t xsize;
  while (archive_entry_xattr_next(ae, &xname, &xvalue, &xsize) == ARCHIVE_OK) {
    if (xname == nullptr || *xname == '\0') return fail("has an xattr with an empty name");
    xattrs[xname] = xsize > 0 ? std::string(static_cast<const char*>(xvalue), xsize) : "";
  }
  for (auto [type, xattr] : {std::pair{ARCHIVE_ENTRY_ACL_TYPE_ACCESS, kAclAccessXattr},
                             std::pair{ARCHIVE_ENTRY_ACL_TYPE_DEFAULT, kAclDefaultXattr}}) {
    auto raw = xattrs.find(xattr);
    if (raw != xattrs.end()) {
      // GNU tar --xattrs stores the kernel's value next to the ACL text; it
      // is exact (numeric ids) where the text may carry only user names.
      if (!DecodeAclXattr(raw->second).ok()) return fail(std::string(xattr) + " is malformed");
      continue;
    }
    auto acl = AclFromEntry(ae, type);
    if (!acl.ok()) return fail(acl.status().message());
    if (acl->has_value()) xattrs[xattr] = **acl;
  }
  // libarchive keeps the ACL's owning-group entry in the mode's group bits;
  // with a mask the kernel keeps the mask there, and so does the manifest.
  if (auto access = xattrs.find(kAclAccessXattr); access != xattrs.end()) {
    auto acl = DecodeAclXattr(access->second);
    if (!acl.ok()) return fail(std::string(kAclAccessXattr) + " is malformed");
    for (const AclEntry& a : *acl)
      if (a.tag == kAclMaskTag) e.mode = (e.mode & ~070u) | (static_cast<uint32_t>(a.perm) << 3);
  }
  for (auto& [n, v] : xattrs) e.xattrs.push_back({n, std::move(v)});

  if (e.type == EntryType::kFile && archive_entry_sparse_reset(ae) > 0) {
    la_int64_t offset, length;
    while (archive_entry_sparse_next(ae, &offset, &length) == ARCHIVE_OK) {
      if (length == 0) continue;
      if (offset < 0 || length < 0 || static_cast<uint64_t>(offset) > e.size ||
          static_cast<uint64_t>(length) > e.size - static_cast<uint64_t>(offset) ||
          (!e.data_extents.empty() &&
           static_cast<uint64_t>(offset) <
               e.data_extents.back().offset + e.data_extents.back().length))
        return fail("sparse map is unsorted or extends past the file size");
      e.data_extents.push_back({static_cast<uint64_t>(offset), static_cast<uint64_t>(length)});
    }
    // One extent covering the whole file is just a dense file.
    if (e.data_extents.size() == 1 && e.data_extents[0] == Extent{0, e.size})
      e.data_extents.clear();
  }
  *out = std::move(e);
  return Status::Ok();
}

class LibarchiveTarReader final : public TarReader {
 public:
  LibarchiveTarReader(std::string source, UniqueFd fd, std::string memory)
      : source_(std::move(source)), fd_(std::move(fd)), memory_(std::move(memory)) {}

  Status Init(int fd) {
    ScopedUtf8Locale utf8;
    archive_.reset(archive_read_new());
    if (!archive_) return Internal("out of memory creating a tar reader");
    archive_read_support_filter_all(archive_.get());
    archive_read_support_format_tar(archive_.get());
    int r = fd >= 0 ? archive_read_open_fd(archive_.get(), fd, 64 * 1024)
                    : archive_read_open_memory(archive_.get(), memory_.data(), memory_.size());
    if (r != ARCHIVE_OK)
      return InvalidArgument(source_ +
                             ": not a readable tar archive: " + ArchiveError(archive_.get()));
    return Status::Ok();
  }

  Result<bool> Next(Entry* entry) override {
    if (error_) return *error_;
    if (at_end_) return false;
    current_is_file_ = content_left_ = false;
    ScopedUtf8Locale utf8;
    archive_entry* ae = nullptr;
    int r = archive_read_next_header(archive_.get(), &ae);
    if (r == ARCHIVE_EOF) {
      at_end_ = true;
      return false;
    }
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
      return Fail(Corrupt(source_ + ": " + ArchiveError(archive_.get())));
    if (r == ARCHIVE_WARN) {
      const char* name = archive_entry_pathname(ae);
      GC_LOG(Warning) << source_ << ": archive member '" << (name ? name : "")
                      << "': " << ArchiveError(archive_.get());
    }
    Status s = ToEntry(ae, entry);
    if (!s.ok()) return Fail(s.WithContext(source_));
    current_ = entry->path;
    size_ = entry->type == EntryType::kFile ? entry->size : 0;
    current_is_file_ = content_left_ = entry->type == EntryType::kFile;
    return true;
  }

  Status ReadContent(const std::function<Status(std::string_view)>& sink) override {
    if (error_) return *error_;
    if (!current_is_file_) return Status::Ok();  // no content: nothing for the sink
    if (!content_left_) return Internal(source_ + ": content of '" + current_ + "' read twice");
    content_left_ = false;
    std::string context = source_ + ": archive member '" + current_ + "'";
    uint64_t pos = 0;
    for (;;) {
      const void* data;
      size_t length;
      la_int64_t offset;
      int r = archive_read_data_block(archive_.get(), &data, &length, &offset);
      if (r == ARCHIVE_EOF) break;
      if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
        return Fail(Corrupt(context + ": " + ArchiveError(archive_.get())));
      if (offset < 0 || static_cast<uint64_t>(offset) < pos ||
          static_cast<uint64_t>(offset) > size_ || length > size_ - static_cast<uint64_t>(offset))
        return Fail(Corrupt(context + ": data at offset " + std::to_string(offset) +
                            " lies outside the member's " + std::to_string(size_) + " bytes"));
      GC_RETURN_IF_ERROR(Zeros(static_cast<uint64_t>(offset) - pos, sink));
      if (length > 0) GC_RETURN_IF_ERROR(sink({static_cast<const char*>(data), length}));
      pos = static_cast<uint64_t>(offset) + length;
    }
    return Zeros(size_ - pos, sink);
  }

 private:
  Status Fail(Status status) {
    error_ = status;
    return status;
  }

  static Status Zeros(uint64_t length, const std::function<Status(std::string_view)>& sink) {
    while (length > 0) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(kBlockSize, length));
      GC_RETURN_IF_ERROR(sink({ZeroBlock(), n}));
      length -= n;
    }
    return Status::Ok();
  }

  std::string source_;
  UniqueFd fd_;         // invalid for stdin and memory
  std::string memory_;  // OpenMemory's data; outlives archive_
  ReadArchive archive_;
  std::optional<Status> error_;
  bool at_end_ = false;
  bool current_is_file_ = false;
  bool content_left_ = false;
  std::string current_;
  uint64_t size_ = 0;
};

}  // namespace

Result<std::unique_ptr<TarWriter>> TarWriter::Create(const std::string& path,
                                                     Compression compression) {
  ScopedUtf8Locale utf8;
  WriteArchive a(archive_write_new());
  if (!a) return Internal("out of memory creating a tar writer");
  std::string context = "creating tar archive " + path;
  // Full pax (not restricted) so every mtime keeps its nanoseconds; SCHILY
  // xattr records because GNU tar warns about LIBARCHIVE.xattr ones.
  if (archive_write_set_format_pax(a.get()) != ARCHIVE_OK ||
      archive_write_set_format_option(a.get(), "pax", "xattrheader", "SCHILY") != ARCHIVE_OK)
    return Internal(context + ": " + ArchiveError(a.get()));
  int r = ARCHIVE_OK;
  switch (compression) {
    case Compression::kNone:
      r = archive_write_add_filter_none(a.get());
      break;
    case Compression::kGzip:
      r = archive_write_add_filter_gzip(a.get());
      break;
    case Compression::kXz:
      r = archive_write_add_filter_xz(a.get());
      break;
    case Compression::kZstd:
      r = archive_write_add_filter_zstd(a.get());
      break;
  }
  if (r != ARCHIVE_OK) return Status(Code::kUnsupported, context + ": " + ArchiveError(a.get()));
  // Block padding after a compressed stream makes gzip/xz warn about
  // trailing garbage.
  if (compression != Compression::kNone) archive_write_set_bytes_in_last_block(a.get(), 1);
  UniqueFd fd;
  int out = STDOUT_FILENO;
  if (path != "-") {
    fd.Reset(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!fd.valid()) return ErrnoError(context);
    out = fd.get();
  }
  if (archive_write_open_fd(a.get(), out) != ARCHIVE_OK) return WriteError(a.get(), context);
  return std::unique_ptr<TarWriter>(
      std::make_unique<LibarchiveTarWriter>(path, std::move(fd), std::move(a)));
}

Result<std::unique_ptr<TarReader>> TarReader::Open(const std::string& path) {
  UniqueFd fd;
  int in = STDIN_FILENO;
  if (path != "-") {
    fd.Reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return ErrnoError("opening tar archive " + path);
    in = fd.get();
  }
  auto reader = std::make_unique<LibarchiveTarReader>(path, std::move(fd), std::string());
  GC_RETURN_IF_ERROR(reader->Init(in));
  return std::unique_ptr<TarReader>(std::move(reader));
}

Result<std::unique_ptr<TarReader>> TarReader::OpenMemory(std::string data) {
  auto reader =
      std::make_unique<LibarchiveTarReader>("in-memory archive", UniqueFd(), std::move(data));
  GC_RETURN_IF_ERROR(reader->Init(-1));
  return std::unique_ptr<TarReader>(std::move(reader));
}

}  // namespace gc
