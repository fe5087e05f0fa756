// `goldcast getimage`: capture a golden client into the image store.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "common/env.h"
#include "common/progress.h"
#include "common/text.h"
#include "imager/getimage.h"

namespace gc {

namespace {

struct GetImageFlags {
  GetImageOptions options;
  std::string token_file;
  bool json = false;
  bool no_delta = false;
};

void PrintSummary(const GetImageSummary& summary, bool json_out) {
  if (json_out) {
    nlohmann::json out = {{"image", summary.ref.name},
                          {"version", summary.ref.version},
                          {"files", summary.files},
                          {"bytes_total", summary.bytes_total},
                          {"bytes_transferred", summary.bytes_transferred},
                          {"objects_fetched", summary.objects_fetched},
                          {"deltas", summary.deltas},
                          {"seconds", summary.seconds}};
    std::printf("%s\n", out.dump().c_str());
    return;
  }
  std::printf(
      "getimage: %s: %llu files, %s total, %s transferred (%llu objects, %llu "
      "deltas) in %s\n",
      summary.ref.ToString().c_str(), static_cast<unsigned long long>(summary.files),
      FormatBytes(summary.bytes_total).c_str(), FormatBytes(summary.bytes_transferred).c_str(),
      static_cast<unsigned long long>(summary.objects_fetched),
      static_cast<unsigned long long>(summary.deltas), FormatSeconds(summary.seconds).c_str());
}

// The token from --token-file: its first line ("-" reads standard input).
// A token on the command line shows in every user's `ps`.
Result<std::string> ReadToken(const std::string& file) {
  std::string text;
  if (file == "-") {
    char buffer[256];
    size_t n = std::fread(buffer, 1, sizeof buffer, stdin);
    text.assign(buffer, n);
  } else {
    GC_ASSIGN_OR_RETURN(text, Env::Default()->ReadFile(file));
  }
  std::string token = Trim(text.substr(0, text.find('\n')));
  if (token.empty()) {
    return InvalidArgument("--token-file " + file +
                           ": no token in its first line (prepareclient --token-file writes one)");
  }
  return token;
}

Status RunGetImage(const CliContext& context, GetImageFlags* flags) {
  flags->options.use_deltas = !flags->no_delta;
  if (!flags->token_file.empty()) {
    GC_ASSIGN_OR_RETURN(flags->options.token, ReadToken(flags->token_file));
  }
  if (flags->options.token.empty()) return InvalidArgument("--token: the token is empty");
  GC_ASSIGN_OR_RETURN(auto store, context.OpenStore(/*create=*/true));
  GC_ASSIGN_OR_RETURN(GetImageSummary summary, GetImage(store.get(), flags->options));
  PrintSummary(summary, flags->json);
  return Status::Ok();
}

}  // namespace

void AddGetImageCommand(CLI::App* app, CliContext* context) {
  auto flags = std::make_shared<GetImageFlags>();
  auto* cmd = app->add_subcommand(
      "getimage", "Capture a golden client (running goldcast-agent prepareclient) into an image");
  cmd->add_option("--golden-client", flags->options.golden_client,
                  "HOST:PORT printed by prepareclient")
      ->required();
  // Exactly one of the two (a usage error otherwise, exit 2).
  auto* token = cmd->add_option_group("token", "The token prepareclient printed");
  token->add_option("--token", flags->options.token,
                    "The token itself (other users see it in ps: prefer --token-file)");
  token->add_option("--token-file", flags->token_file,
                    "Read the token from the first line of FILE ('-': standard input)");
  token->require_option(1);
  cmd->add_option("--pin", flags->options.pin,
                  "The pin of the golden client's TLS key (sha256//..., printed by prepareclient)")
      ->required();
  cmd->add_option("--image", flags->options.image, "Image name; the capture becomes NAME@N+1")
      ->required();
  cmd->add_option("--message,-m", flags->options.message, "Note stored with the version");
  cmd->add_option("--parallel", flags->options.parallel, "Transfers in flight")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  cmd->add_flag("--no-delta", flags->no_delta, "Send changed large files whole");
  cmd->add_flag("--json", flags->json, "Print the summary as JSON");
  cmd->callback([=] { context->run = [=] { return RunGetImage(*context, flags.get()); }; });
}

}  // namespace gc
