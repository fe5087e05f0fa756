// How both executables report command-line mistakes: "PROG: error: ...",
// a pointer to --help, and exit status 2 (1 is for failures of the work
// itself). Header-only because it is a few lines over CLI11.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

namespace gc {

// Returns the exit status for a CLI11 parse failure. --help and --version
// arrive here too and exit 0.
inline int ReportUsageError(const CLI::App& app, const CLI::ParseError& error,
                            const char* program) {
  if (error.get_exit_code() == 0) return app.exit(error);
  std::string message = error.what();
  // An unknown command shows up as "a subcommand is required" plus a leftover
  // word; name the word, which is what the admin mistyped.
  auto leftover = app.remaining();
  if (!leftover.empty() && leftover[0].rfind("-", 0) != 0) {
    message = "unknown command or argument '" + leftover[0] + "'";
  }
  std::fprintf(stderr, "%s: error: %s\nRun '%s --help' for the commands and options.\n", program,
               message.c_str(), program);
  return 2;
}

}  // namespace gc
