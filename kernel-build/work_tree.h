// The writable tree one build patches and compiles: a view of the pristine
// tree that can never change it. Preferably an overlayfs mount (the pristine
// tree is the read-only lower layer, every write lands in WORK/upper), which
// costs nothing; where mounting is not allowed (no root, no overlay support,
// odd characters in the paths) a real copy (`cp -a --reflink=auto`).
#pragma once

#include <string>

#include "common/env.h"
#include "common/status.h"
#include "common/subprocess.h"

namespace gc {

enum class WorkTreeMode {
  kAuto,     // overlay if it mounts, else copy
  kOverlay,  // overlay or fail
  kCopy,     // always copy
};

// Makes WORK/src from `pristine`. Returns "overlay" or "copy".
Result<std::string> MakeWorkTree(const std::string& pristine, const std::string& work,
                                 WorkTreeMode mode, ProcessRunner* runner);

// Unmounts WORK/src if it is mounted (lazily, so a busy mount cannot block).
void ReleaseWorkTree(const std::string& work);

// Removes the work directories of dead builds under `root`, unmounting first.
Status RemoveDeadWorkDirs(const std::string& root, Env* env);

}  // namespace gc
