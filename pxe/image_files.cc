#include "pxe/image_files.h"

#include <unistd.h>

#include <deque>

#include "common/text.h"
#include "common/unique_fd.h"

namespace gc {
namespace {

std::deque<std::string> Components(std::string_view path) {
  std::vector<std::string> parts = SplitPath(path);
  return {parts.begin(), parts.end()};
}

std::string Parent(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}

}  // namespace

ImageFiles::ImageFiles(ImageStore* store, Manifest manifest, std::string what)
    : store_(store), manifest_(std::move(manifest)), what_(std::move(what)) {
  for (size_t i = 0; i < manifest_.entries.size(); ++i) index_[manifest_.entries[i].path] = i;
}

const Entry* ImageFiles::Lookup(const std::string& path) const {
  auto it = index_.find(path.empty() ? "." : path);
  return it == index_.end() ? nullptr : &manifest_.entries[it->second];
}

Result<std::string> ImageFiles::Resolve(std::string_view path) const {
  std::deque<std::string> rest = Components(path);
  std::string current;  // resolved so far, "" = the image's root
  int links = 0;
  while (!rest.empty()) {
    std::string part = std::move(rest.front());
    rest.pop_front();
    if (part == "..") {
      current = Parent(current);
      continue;
    }
    std::string next = current.empty() ? part : current + "/" + part;
    const Entry* entry = Lookup(next);
    if (!entry) return NotFound(what_ + " has no /" + std::string(path));
    if (entry->type != EntryType::kSymlink) {
      current = std::move(next);
      continue;
    }
    // As the kernel does: give up on a loop after 40 links.
    if (++links > 40) return NotFound(what_ + ": too many symlinks in /" + std::string(path));
    std::deque<std::string> target = Components(entry->target);
    if (!entry->target.empty() && entry->target[0] == '/') current.clear();
    rest.insert(rest.begin(), target.begin(), target.end());
  }
  return current;
}

Result<const Entry*> ImageFiles::Find(std::string_view path) const {
  GC_ASSIGN_OR_RETURN(std::string resolved, Resolve(path));
  const Entry* entry = Lookup(resolved);
  if (entry && entry->type == EntryType::kHardlink) entry = Lookup(entry->target);
  if (!entry) return NotFound(what_ + " has no /" + std::string(path));
  return entry;
}

Result<std::string> ImageFiles::ReadFile(std::string_view path) const {
  GC_ASSIGN_OR_RETURN(const Entry* entry, Find(path));
  if (entry->type != EntryType::kFile) {
    return InvalidArgument(what_ + ": /" + std::string(path) + " is not a regular file");
  }
  GC_ASSIGN_OR_RETURN(UniqueFd fd, store_->OpenObject(entry->hash));
  std::string content(entry->size, '\0');
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n =
        ::pread(fd.get(), content.data() + done, content.size() - done, static_cast<off_t>(done));
    if (n < 0) return ErrnoError(store_->ObjectPath(entry->hash));
    if (n == 0) {
      return Corrupt(what_ + ": the object of /" + std::string(path) + " is shorter than " +
                     std::to_string(entry->size) + " bytes (goldcast image verify)");
    }
    done += static_cast<size_t>(n);
  }
  return content;
}

}  // namespace gc
