// `goldcast-agent prepareclient`: records the golden client's layout, then
// serves its tree to the image server behind a fresh one-time token and
// prints the getimage command to run there.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace gc {

struct PrepareClientOptions {
  std::string root = "/";
  std::string listen = "0.0.0.0:8470";
  std::vector<std::string> excludes;
  std::vector<std::string> exclude_files;
  std::string state_dir = "/var/lib/goldcast-agent";
  std::string token_file;      // if set, the token is written here once listening
  std::string image = "NAME";  // only used in the printed command
  bool keep_serving = false;   // serve more than one getimage
};

// The patterns always left out of a capture (see docs/user-guide.md).
const std::vector<std::string>& DefaultExcludes();

// Parses an exclude file: one pattern per line, '#' comments, blank lines.
Result<std::vector<std::string>> ReadExcludeFile(const std::string& path);

// Runs until a getimage has finished (or SIGTERM/SIGINT).
Status RunPrepareClient(const PrepareClientOptions& options);

}  // namespace gc
