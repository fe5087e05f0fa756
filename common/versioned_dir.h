// Versioned directories, the way the image store (STATE/store/images/NAME)
// and the kernel store (STATE/kernels/NAME) keep the versions of a name:
// DIR/1, DIR/2, ... each complete from the moment it appears, and DIR/last,
// the highest number ever handed out. A number is never handed out twice,
// even after removals: a node that installed compute@3 must never meet a
// different compute@3.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/env.h"
#include "common/status.h"

namespace gc {

// ROOT/meta.lock, taken exclusively (waiting for it): it orders a store's
// publishing, removing and tagging between processes.
Result<FileLock> LockMetadata(const std::string& root);

// DIR/N.
std::string VersionDirPath(const std::string& dir, uint64_t version);

// The versions in `dir` (its entries named by a decimal number), sorted. A
// missing `dir` has none.
Result<std::vector<uint64_t>> ListVersions(Env* env, const std::string& dir);

// kNotFound "NAME@N does not exist; its versions are 1, 2" unless `version`
// is one of `versions` (sorted, as ListVersions returns them).
Status CheckVersionExists(const std::string& name, uint64_t version,
                          const std::vector<uint64_t>& versions);

// Makes the filled directory `staging` (on the file system of `dir`, its
// files written without fsync) the next version of `dir` and returns its
// number. Under ROOT/meta.lock it picks the number and records it in
// DIR/last; one syncfs then makes the staged files and DIR/last durable;
// only then does a rename make the version visible, and a fsync of `dir`
// keep it. A crash never leaves a half version visible; between DIR/last
// and the rename it leaves a gap in the numbers, never a reused number.
// On failure `staging` stays where it is, the caller's to remove.
Result<uint64_t> PublishVersionDir(Env* env, const std::string& root, const std::string& dir,
                                   const std::string& staging);

// Removes DIR/N: renamed to `doomed` (a temp path on the same file system)
// first so the version vanishes at once, then deleted at leisure. Call it
// under LockMetadata.
Status RemoveVersionDir(Env* env, const std::string& dir, uint64_t version,
                        const std::string& doomed);

}  // namespace gc
