#include "kernel-build/patch_series.h"

#include "common/hash.h"

namespace gc {

namespace {

bool EndsWith(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The last lines of a tool's output, enough to see why it failed.
std::string Tail(const std::string& text, size_t max_lines = 20) {
  size_t pos = text.size();
  while (pos > 0 && (text[pos - 1] == '\n' || text[pos - 1] == ' ')) --pos;
  size_t end = pos;
  for (size_t lines = 0; pos > 0; --pos) {
    if (text[pos - 1] == '\n' && ++lines == max_lines) break;
  }
  return text.substr(pos, end - pos);
}

std::string Label(const RecipePatch& patch) {
  return patch.file + " (recipe line " + std::to_string(patch.line) + ")";
}

}  // namespace

std::vector<std::string> CheckPatchFiles(const std::vector<RecipePatch>& patches) {
  std::vector<std::string> problems;
  for (const auto& patch : patches) {
    bool placeholder = IsPlaceholderHash(patch.sha256);
    if (placeholder) {
      problems.push_back("patch " + Label(patch) +
                         ": sha256 is the all-zero placeholder; replace it with the sha256sum of "
                         "your verified copy");
    }
    auto digest = Sha256File(patch.path);
    if (!digest.ok()) {
      problems.push_back("patch " + Label(patch) + ": " +
                         (digest.status().code() == Code::kNotFound ? patch.path + " not found"
                                                                    : digest.status().message()));
    } else if (!placeholder && *digest != patch.sha256) {
      problems.push_back("patch " + Label(patch) +
                         " is not the patch you declared: its sha256 is " + *digest +
                         " but the recipe declares " + patch.sha256);
    }
  }
  return problems;
}

Status CheckPatchVersions(const std::vector<RecipePatch>& patches,
                          const KernelVersion& tree_version, const std::string& tree_description) {
  std::string message;
  for (const auto& patch : patches) {
    if (PatchVersionMatches(patch.for_version, tree_version)) continue;
    message += "\n  - " + Label(patch) + " is for linux " + patch.for_version + ", but " +
               tree_description + " is linux " + tree_version.ToString();
  }
  if (message.empty()) return Status::Ok();
  return InvalidArgument(
      "patches for another kernel version (use the patch made for this exact "
      "kernel, or the source it was made for):" +
      message);
}

Status ApplyPatchSeries(ProcessRunner* runner, const std::string& tree,
                        const std::vector<RecipePatch>& patches, const std::string& scratch_dir) {
  for (size_t i = 0; i < patches.size(); ++i) {
    const RecipePatch& patch = patches[i];
    std::string file = patch.path;
    std::string decompress;
    if (EndsWith(file, ".gz")) decompress = "gzip";
    if (EndsWith(file, ".bz2")) decompress = "bzip2";
    if (EndsWith(file, ".xz")) decompress = "xz";
    if (!decompress.empty()) {
      std::string plain = scratch_dir + "/patch-" + std::to_string(i) + ".diff";
      GC_ASSIGN_OR_RETURN(
          ProcessResult unpacked,
          runner->Run({"sh", "-c", "\"$1\" -dc \"$2\" > \"$3\"", "sh", decompress, file, plain}));
      if (unpacked.exit_code != 0) {
        return InvalidArgument("patch " + Label(patch) + " cannot be decompressed with " +
                               decompress + ": " + Tail(unpacked.stderr_text));
      }
      file = plain;
    }
    // --fuzz=0: a hunk must find its context exactly (offsets are fine). With
    // patch's default fuzz a hunk whose context is gone can still land, which
    // is how a patch made for another version "applies" and breaks later.
    std::vector<std::string> base = {
        "patch", "-Np1", "--batch", "--fuzz=0", "--no-backup-if-mismatch", "-d", tree, "-i", file};
    std::vector<std::string> dry = base;
    dry.push_back("--dry-run");
    GC_ASSIGN_OR_RETURN(ProcessResult check, runner->Run(dry));
    if (check.exit_code != 0) {
      std::string output = Tail(check.stdout_text + check.stderr_text);
      std::vector<std::string> reverse = {"patch", "-Rp1", "--batch", "--fuzz=0", "--dry-run",
                                          "-d",    tree,   "-i",      file};
      auto reversed = runner->Run(reverse);
      std::string position = "patch " + std::to_string(i + 1) + " of " +
                             std::to_string(patches.size()) + ", " + Label(patch);
      if (reversed.ok() && reversed->exit_code == 0) {
        return InvalidArgument(position +
                               " is already applied to the source (it reverses "
                               "cleanly): the source is not vanilla, or the series lists it "
                               "twice:\n" +
                               output);
      }
      return InvalidArgument(position +
                             " does not apply (nothing was changed; patch "
                             "--dry-run said):\n" +
                             output);
    }
    GC_ASSIGN_OR_RETURN(ProcessResult applied, runner->Run(base));
    if (applied.exit_code != 0) {
      return Internal("patch " + Label(patch) + " passed its dry run but failed to apply:\n" +
                      Tail(applied.stdout_text + applied.stderr_text));
    }
  }
  return Status::Ok();
}

}  // namespace gc
