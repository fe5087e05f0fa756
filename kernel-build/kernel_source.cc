#include "kernel-build/kernel_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <sstream>

#include "common/hash.h"
#include "common/http_client.h"
#include "common/log.h"
#include "common/temp_dirs.h"
#include "common/text.h"

namespace gc {

namespace fs = std::filesystem;

namespace {

bool EndsWith(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Every path under `tree`, relative and sorted, so hashes do not depend on
// readdir order.
Result<std::vector<std::string>> SortedPaths(const std::string& tree) {
  std::vector<std::string> paths;
  std::error_code ec;
  fs::recursive_directory_iterator it(tree, fs::directory_options::none, ec), end;
  if (ec) return ErrnoError("read tree " + tree, ec.value());
  for (; it != end; it.increment(ec)) {
    if (ec) return ErrnoError("read tree " + tree, ec.value());
    paths.push_back(it->path().string().substr(tree.size() + 1));
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

Result<std::string> HashTree(const std::string& tree, bool contents) {
  GC_ASSIGN_OR_RETURN(auto paths, SortedPaths(tree));
  Sha256 hasher;
  for (const auto& rel : paths) {
    std::string path = tree + "/" + rel;
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) return ErrnoError("stat " + path);
    std::ostringstream line;
    line << rel << '\0' << std::oct << st.st_mode << std::dec;
    if (S_ISLNK(st.st_mode)) {
      std::error_code ec;
      line << " -> " << fs::read_symlink(path, ec).string();
    } else if (S_ISREG(st.st_mode)) {
      line << ' ' << st.st_size;
      if (contents) {
        GC_ASSIGN_OR_RETURN(std::string digest, Sha256File(path));
        line << ' ' << digest;
      } else {
        line << ' ' << st.st_mtim.tv_sec << '.' << st.st_mtim.tv_nsec;
      }
    }
    line << '\n';
    hasher.Update(line.str());
  }
  return hasher.FinishHex();
}

bool FileContains(Env* env, const std::string& path, const std::string& needle) {
  auto text = env->ReadFile(path);
  return text.ok() && text->find(needle) != std::string::npos;
}

}  // namespace

Result<TreeVersion> ReadTreeVersion(const std::string& tree, Env* env) {
  std::string path = tree + "/Makefile";
  auto text = env->ReadFile(path);
  if (!text.ok()) {
    return NotFound(path + " cannot be read (" + text.status().message() + "): is " + tree +
                    " a kernel source tree?");
  }
  std::map<std::string, std::string> vars;
  std::istringstream in(*text);
  std::string line;
  for (int n = 0; n < 40 && std::getline(in, line); ++n) {
    size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string key = Trim(line.substr(0, eq));
    if (key == "VERSION" || key == "PATCHLEVEL" || key == "SUBLEVEL" || key == "EXTRAVERSION") {
      if (!vars.count(key)) vars[key] = Trim(line.substr(eq + 1));
    }
  }
  TreeVersion version;
  std::string text_version = vars["VERSION"] + "." + vars["PATCHLEVEL"] + "." + vars["SUBLEVEL"];
  if (!ParseKernelVersion(text_version, &version.version)) {
    return InvalidArgument(path + ": cannot read VERSION, PATCHLEVEL and SUBLEVEL (got '" +
                           text_version + "'): is " + tree + " a kernel source tree?");
  }
  version.extraversion = vars["EXTRAVERSION"];
  return version;
}

std::vector<std::string> FindNonVanillaSigns(const std::string& tree, const TreeVersion& version,
                                             const std::string& declared_extraversion, Env* env) {
  std::vector<std::string> signs;
  struct Dir {
    const char* name;
    const char* meaning;
  };
  for (const Dir& dir :
       {Dir{"debian", "Debian packaging; distro trees carry the distro's patches"},
        Dir{"debian.master", "Ubuntu packaging"}, Dir{"ubuntu", "Ubuntu's additions"},
        Dir{"redhat", "Red Hat/Fedora packaging"},
        Dir{".pc", "quilt state: a patch series was applied with quilt"}}) {
    if (env->Exists(tree + "/" + dir.name)) {
      signs.push_back(tree + "/" + dir.name + "/ exists (" + dir.meaning + ")");
    }
  }
  for (const char* series : {"series", "patches/series"}) {
    if (env->Exists(tree + "/" + series)) {
      signs.push_back(tree + "/" + series + " exists (a quilt patch series)");
    }
  }
  auto names = env->ListDir(tree);
  if (names.ok()) {
    for (const auto& name : *names) {
      if (name.rfind("localversion", 0) == 0) {
        signs.push_back(tree + "/" + name +
                        " exists (a patch set appends it to the kernel release, e.g. -rt)");
      }
    }
  }
  if (version.extraversion != declared_extraversion) {
    signs.push_back("the top Makefile sets EXTRAVERSION = " + version.extraversion +
                    " but the recipe declares " +
                    (declared_extraversion.empty() ? std::string("none (a release)")
                                                   : "'" + declared_extraversion + "'"));
  }
  if (FileContains(env, tree + "/Makefile", "LINUX_PACKAGE_ID")) {
    signs.push_back(tree + "/Makefile defines LINUX_PACKAGE_ID (Debian's debian/version.patch)");
  }
  if (FileContains(env, tree + "/include/linux/perf_event.h", "perf_paranoid_any")) {
    signs.push_back(tree +
                    "/include/linux/perf_event.h has perf_paranoid_any() (Debian's "
                    "perf_event_paranoid level 3 patch)");
  }
  return signs;
}

Status VerifyTarballHash(const std::string& path, const std::string& expected_sha256) {
  if (IsPlaceholderHash(expected_sha256)) {
    return InvalidArgument(
        "source.sha256 is the all-zero placeholder: replace it with the "
        "sha256sum of your verified copy of " +
        path);
  }
  auto digest = Sha256File(path);
  if (!digest.ok()) {
    if (digest.status().code() == Code::kNotFound) {
      return NotFound("source tarball " + path + " not found (download it, or fix source.tarball)");
    }
    return digest.status().WithContext("hashing source tarball " + path);
  }
  if (*digest != expected_sha256) {
    return Corrupt(path + " is not the vanilla source you declared: its sha256 is " + *digest +
                   " but the recipe declares " + expected_sha256 +
                   " (get the right tarball, or fix source.sha256 only if you verified this one)");
  }
  return Status::Ok();
}

Status VerifySignature(ProcessRunner* runner, const std::string& tarball,
                       const std::string& signature, const std::string& keyring) {
  std::vector<std::string> argv;
  std::string decompress;
  if (EndsWith(signature, ".tar.sign") || EndsWith(signature, ".tar.asc")) {
    if (EndsWith(tarball, ".xz")) decompress = "xz";
    if (EndsWith(tarball, ".gz")) decompress = "gzip";
    if (EndsWith(tarball, ".bz2")) decompress = "bzip2";
  }
  if (decompress.empty()) {
    argv = {"gpgv", "--keyring", keyring, signature, tarball};
  } else {
    // The positional parameters keep the paths out of the shell's parsing.
    // A failed decompression truncates the stream, which gpgv then rejects.
    argv = {"sh",    "-c",       "\"$1\" -dc \"$2\" | gpgv --keyring \"$3\" \"$4\" -",
            "sh",    decompress, tarball,
            keyring, signature};
  }
  GC_ASSIGN_OR_RETURN(ProcessResult result, runner->Run(argv));
  if (result.exit_code != 0) {
    return Corrupt("the signature " + signature + " does not verify " + tarball + " with keyring " +
                   keyring + " (gpgv exit " + std::to_string(result.exit_code) +
                   "): " + Trim(result.stderr_text));
  }
  return Status::Ok();
}

Result<std::string> FetchTarball(const std::string& url, const std::string& sha256,
                                 const std::string& cache_dir, Env* env) {
  std::string name = url.substr(url.find_last_of('/') + 1);
  if (name.empty() || name.find('?') != std::string::npos) name = "source.tar";
  std::string dir = cache_dir + "/downloads/" + sha256;
  std::string path = dir + "/" + name;
  if (env->Exists(path) && VerifyTarballHash(path, sha256).ok()) return path;
  GC_RETURN_IF_ERROR(env->CreateDirs(dir));
  GC_RETURN_IF_ERROR(env->CreateDirs(cache_dir + "/downloads/tmp"));
  GC_RETURN_IF_ERROR(RemoveDeadTemps(cache_dir + "/downloads/tmp", env));
  std::string temp = cache_dir + "/downloads/tmp/" + PidTempName("download");
  GC_ASSIGN_OR_RETURN(auto file, env->NewWritableFile(temp));
  HttpClient client;
  HttpCall call;
  call.url = url;
  call.sink = [&](std::string_view chunk) { return file->Append(chunk); };
  auto result = client.Call(std::move(call));
  Status closed = file->Close();
  if (!result.ok() || result->status / 100 != 2 || !closed.ok()) {
    (void)env->RemoveFile(temp);
    if (!result.ok()) return result.status().WithContext("downloading the kernel source");
    if (!closed.ok()) return closed;
    return Status(Code::kNetwork,
                  "downloading " + url + ": HTTP " + std::to_string(result->status));
  }
  Status verified = VerifyTarballHash(temp, sha256);
  if (!verified.ok()) {
    (void)env->RemoveFile(temp);
    return Corrupt("downloaded " + url + ": " + verified.message());
  }
  GC_RETURN_IF_ERROR(env->Rename(temp, path));
  return path;
}

Result<std::string> TreeFingerprint(const std::string& tree) { return HashTree(tree, false); }

Result<std::string> TreeContentHash(const std::string& tree) { return HashTree(tree, true); }

SourceCache::SourceCache(std::string cache_dir, Env* env, ProcessRunner* runner)
    : root_(cache_dir + "/sources"), env_(env), runner_(runner) {}

std::string SourceCache::EntryDir(const std::string& sha256) const { return root_ + "/" + sha256; }

Result<std::string> SourceCache::Pristine(const std::string& tarball, const std::string& sha256) {
  std::string entry = EntryDir(sha256);
  std::string tree = entry + "/tree";
  if (env_->Exists(entry)) {
    auto marker = env_->ReadFile(MarkerPath(sha256));
    std::string want;
    if (marker.ok() && marker->rfind("fingerprint ", 0) == 0) want = Trim(marker->substr(12));
    if (!want.empty()) {
      GC_ASSIGN_OR_RETURN(std::string got, TreeFingerprint(tree));
      if (got == want) return tree;
      GC_LOG(Warning) << "the cached pristine source " << tree
                      << " was modified since it was unpacked; unpacking it again";
    } else {
      GC_LOG(Warning) << "the cached source " << entry
                      << " is incomplete (an interrupted unpack); unpacking it again";
    }
    // Rename first so a concurrent reader never sees a half-deleted tree.
    GC_RETURN_IF_ERROR(env_->CreateDirs(root_ + "/tmp"));
    std::string doomed = root_ + "/tmp/" + PidTempName("damaged");
    GC_RETURN_IF_ERROR(env_->Rename(entry, doomed));
    GC_RETURN_IF_ERROR(env_->RemoveTree(doomed));
  }
  return Unpack(tarball, sha256);
}

Result<std::string> SourceCache::Unpack(const std::string& tarball, const std::string& sha256) {
  std::string tmp_root = root_ + "/tmp";
  GC_RETURN_IF_ERROR(env_->CreateDirs(tmp_root));
  GC_RETURN_IF_ERROR(RemoveDeadTemps(tmp_root, env_));
  std::string staging = tmp_root + "/" + PidTempName("unpack");
  std::string extract = staging + "/x";
  GC_RETURN_IF_ERROR(env_->CreateDirs(extract));
  auto cleanup = [&](Status status) {
    (void)env_->RemoveTree(staging);
    return status;
  };
  GC_LOG(Info) << "unpacking " << tarball << " into the source cache (once per tarball)";
  auto result = runner_->Run({"tar", "-xf", tarball, "-C", extract, "--no-same-owner"});
  if (!result.ok()) return cleanup(result.status());
  if (result->exit_code != 0) {
    return cleanup(
        InvalidArgument("tar could not unpack " + tarball + ": " + Trim(result->stderr_text)));
  }
  // Kernel tarballs hold one top directory (linux-6.1.176/); use its content.
  GC_ASSIGN_OR_RETURN(auto top, env_->ListDir(extract));
  std::string tree = extract;
  if (top.size() == 1 && fs::is_directory(extract + "/" + top[0])) tree = extract + "/" + top[0];
  Status moved = env_->Rename(tree, staging + "/tree");
  if (!moved.ok()) return cleanup(moved);
  (void)env_->RemoveTree(extract);
  auto fingerprint = TreeFingerprint(staging + "/tree");
  if (!fingerprint.ok()) return cleanup(fingerprint.status());
  Status marked =
      env_->WriteFileAtomic(staging + "/COMPLETE", "fingerprint " + *fingerprint + "\n");
  if (!marked.ok()) return cleanup(marked);
  std::string entry = EntryDir(sha256);
  if (env_->Exists(entry)) {
    // Another run unpacked the same tarball meanwhile: keep its copy.
    (void)env_->RemoveTree(staging);
  } else if (Status status = env_->Rename(staging, entry); !status.ok()) {
    return cleanup(status);
  }
  return entry + "/tree";
}

}  // namespace gc
