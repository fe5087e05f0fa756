#include "kernel-build/work_tree.h"

#include <sys/mount.h>

#include <cerrno>

#include "common/log.h"
#include "common/temp_dirs.h"
#include "common/text.h"

namespace gc {

namespace {

// overlayfs option values cannot hold these without escaping.
bool MountablePath(const std::string& path) {
  return path.find_first_of(",:\\") == std::string::npos;
}

Status MountOverlay(const std::string& pristine, const std::string& work, Env* env) {
  if (!MountablePath(pristine) || !MountablePath(work)) {
    return InvalidArgument("paths with ',', ':' or '\\' cannot be overlay layers");
  }
  GC_RETURN_IF_ERROR(env->CreateDirs(work + "/upper"));
  GC_RETURN_IF_ERROR(env->CreateDirs(work + "/overlay-work"));
  std::string options =
      "lowerdir=" + pristine + ",upperdir=" + work + "/upper,workdir=" + work + "/overlay-work";
  if (::mount("overlay", (work + "/src").c_str(), "overlay", 0, options.c_str()) != 0) {
    return ErrnoError("mount overlay on " + work + "/src");
  }
  return Status::Ok();
}

}  // namespace

Result<std::string> MakeWorkTree(const std::string& pristine, const std::string& work,
                                 WorkTreeMode mode, ProcessRunner* runner) {
  Env* env = Env::Default();
  GC_RETURN_IF_ERROR(env->CreateDirs(work + "/src"));
  if (mode != WorkTreeMode::kCopy) {
    Status mounted = MountOverlay(pristine, work, env);
    if (mounted.ok()) return std::string("overlay");
    if (mode == WorkTreeMode::kOverlay) return mounted;
    GC_LOG(Debug) << "no overlay work tree (" << mounted.message() << "); copying the source";
  }
  auto copied = runner->Run({"cp", "-a", "--reflink=auto", pristine + "/.", work + "/src"});
  if (!copied.ok()) return copied.status();
  if (copied->exit_code != 0) {
    return IoError("copying " + pristine + " to " + work +
                   "/src failed: " + Trim(copied->stderr_text));
  }
  return std::string("copy");
}

void ReleaseWorkTree(const std::string& work) {
  // EINVAL: not a mount point (a copy, or already released).
  if (::umount2((work + "/src").c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
    GC_LOG(Warning) << "cannot unmount " << work << "/src: " << ErrnoError("umount").message();
  }
}

Status RemoveDeadWorkDirs(const std::string& root, Env* env) {
  GC_ASSIGN_OR_RETURN(auto names, env->ListDir(root));
  for (const auto& name : names) {
    if (!TempOwnerIsDead(name)) continue;
    std::string dir = JoinPath(root, name);
    // A killed build leaves its overlay mounted. Even if unmounting failed,
    // deleting through an overlay only writes whiteouts to its upper layer:
    // the pristine lower layer is never touched.
    ReleaseWorkTree(dir);
    GC_RETURN_IF_ERROR(env->RemoveTree(dir));
  }
  return Status::Ok();
}

}  // namespace gc
