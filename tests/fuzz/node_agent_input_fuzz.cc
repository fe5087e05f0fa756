// Fuzzes what goldcast-agent reads before it trusts anything: the install
// plan the server sends (DecodeInstallPlan), the answer to its heartbeats
// (DecodeHeartbeatAnswer), the answer that trades its install token for its
// secret (DecodeRedeemAnswer), its own /etc/goldcast/node.json
// (ParseNodeConfig) and the kernel command line of a diskless or installer
// boot (NodeConfigFromCmdline). Every input goes to all five. Never crash
// or throw; invariants:
// - an accepted plan keeps the promises of protocol/plan.h (host name,
//   NAME@N refs, a safe kernel release, relative cluster file paths, modes
//   up to 0777, kernel_args without control characters), encodes to a plan
//   that decodes the same, and the node.json the installer writes from it
//   (image, kernel, cluster file paths) is one ParseNodeConfig accepts:
//   else an installed node could never start `goldcast-agent run`;
// - the cluster files of an answer are at most 64, with relative paths and
//   modes up to 0777;
// - an accepted redeem answer's secret is 32 lowercase hex digits (it goes
//   into node.json and every later request's header);
// - an accepted config, from JSON or from a command line, survives
//   SerializeNodeConfig -> ParseNodeConfig, and written as a command line
//   (as the boot script does) it reads back the same;
// - errors are kInvalidArgument and name their source.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "common/manifest.h"
#include "node-agent/node_config.h"
#include "protocol/heartbeat.h"
#include "protocol/plan.h"
#include "protocol/redeem.h"

namespace {

[[noreturn]] void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "node_agent_input_fuzz: %s\n%s\n", what, detail.c_str());
  std::abort();
}

bool OnlyChars(std::string_view text, std::string_view extra) {
  for (char c : text) {
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && extra.find(c) == std::string_view::npos) return false;
  }
  return true;
}

bool IsRef(std::string_view ref) {
  size_t at = ref.rfind('@');
  return at != std::string_view::npos && at > 0 && at + 1 < ref.size() &&
         OnlyChars(ref.substr(0, at), "._-") &&
         ref.substr(at + 1).find_first_not_of("0123456789") == std::string_view::npos;
}

bool SameConfig(const gc::NodeConfig& a, const gc::NodeConfig& b) {
  return a.server == b.server && a.pin == b.pin && a.node == b.node && a.secret == b.secret &&
         a.image == b.image && a.kernel == b.kernel && a.cluster_files == b.cluster_files;
}

void CheckError(const gc::Status& status, std::string_view source) {
  if (status.code() != gc::Code::kInvalidArgument) Fail("wrong code", status.message());
  if (status.message().rfind(source, 0) != 0)
    Fail("error does not name its source", status.message());
}

// What every accepted config, whatever its source, must survive.
void CheckConfig(const gc::NodeConfig& config, const char* source) {
  std::string text = gc::SerializeNodeConfig(config);
  gc::Result<gc::NodeConfig> again = gc::ParseNodeConfig(text, "node.json");
  if (!again.ok()) {
    Fail(source, "accepted config, serialised, does not parse: " + again.status().message());
  }
  if (!SameConfig(config, *again)) Fail(source, "config changed on the JSON round trip: " + text);
  if (gc::SerializeNodeConfig(*again) != text) Fail(source, "serialisation is not stable");

  std::string cmdline = "BOOT_IMAGE=vmlinuz goldcast.server=" + config.server +
                        " goldcast.node=" + config.node + " goldcast.token=" + config.secret;
  if (!config.pin.empty()) cmdline += " goldcast.pin=" + config.pin;
  if (!config.image.empty()) cmdline += " goldcast.image=" + config.image;
  if (!config.kernel.empty()) cmdline += " goldcast.kernel=" + config.kernel;
  gc::Result<gc::NodeConfig> booted = gc::NodeConfigFromCmdline(cmdline + " quiet\n");
  if (!booted.ok()) {
    Fail(source, "config as a command line does not parse: " + booted.status().message());
  }
  gc::NodeConfig expected = config;
  expected.cluster_files.clear();  // not on the command line
  // A command line carries a token to redeem, never the secret.
  if (booted->token != config.secret) Fail(source, "token lost on the cmdline round trip");
  expected.secret.clear();
  if (!SameConfig(expected, *booted)) Fail(source, "config changed on the cmdline round trip");
}

void CheckClusterFiles(const std::vector<gc::ClusterFile>& files) {
  if (files.size() > 64) Fail("more than 64 cluster files accepted", "");
  for (const gc::ClusterFile& file : files) {
    if (!gc::ValidateRelativePath(file.path).ok() || file.path == ".") {
      Fail("bad cluster file path accepted", file.path);
    }
    if (file.mode > 0777) Fail("cluster file mode above 0777", file.path);
  }
}

void CheckPlan(std::string_view input) {
  gc::Result<gc::InstallPlan> parsed = gc::DecodeInstallPlan(input);
  if (!parsed.ok()) {
    CheckError(parsed.status(), "plan: ");
    return;
  }
  const gc::InstallPlan& plan = *parsed;
  if (plan.node_name.empty() || !OnlyChars(plan.node_name, "-_.")) {
    Fail("bad node name accepted", plan.node_name);
  }
  if (!OnlyChars(plan.domain, "-.")) Fail("bad domain accepted", plan.domain);
  if (!OnlyChars(plan.ip, ".:")) Fail("bad ip accepted", plan.ip);
  if (!IsRef(plan.image_ref)) Fail("bad image ref accepted", plan.image_ref);
  if (plan.has_kernel) {
    if (!IsRef(plan.kernel_ref)) Fail("bad kernel ref accepted", plan.kernel_ref);
    const std::string& release = plan.kernel_release;
    if (release.empty() || release == "." || release == ".." || !OnlyChars(release, "-_.+~")) {
      Fail("unsafe kernel release accepted", release);
    }
  } else if (!plan.kernel_ref.empty() || !plan.kernel_release.empty() || plan.kernel_has_modules) {
    Fail("kernel fields without a kernel", plan.kernel_ref);
  }
  for (char c : plan.kernel_args) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) Fail("control in kernel_args", "");
  }
  CheckClusterFiles(plan.cluster_files);
  std::string encoded = gc::EncodeInstallPlan(plan);
  gc::Result<gc::InstallPlan> again = gc::DecodeInstallPlan(encoded);
  if (!again.ok()) Fail("accepted plan, encoded, does not decode", again.status().message());
  if (!(*again == plan)) Fail("plan changed on the round trip", encoded);

  // The installer's node.json: the plan's facts with the installer's own.
  gc::NodeConfig config;
  config.server = "http://10.77.0.1:8470";
  config.node = plan.node_name;
  config.secret = "00112233445566778899aabbccddeeff";
  config.image = plan.image_ref;
  config.kernel = plan.has_kernel ? plan.kernel_ref : "";
  for (const gc::ClusterFile& file : plan.cluster_files) config.cluster_files.push_back(file.path);
  CheckConfig(config, "node.json written from an accepted plan");
}

void CheckAnswer(std::string_view input) {
  gc::Result<gc::HeartbeatAnswer> answer = gc::DecodeHeartbeatAnswer(input);
  if (!answer.ok()) {
    CheckError(answer.status(), "heartbeat answer: ");
    return;
  }
  if (!answer->cluster_files_status.ok()) {
    CheckError(answer->cluster_files_status, "heartbeat answer: ");
    if (!answer->cluster_files.empty()) Fail("files kept from a malformed list", "");
  }
  CheckClusterFiles(answer->cluster_files);
}

void CheckRedeem(std::string_view input) {
  gc::Result<gc::RedeemAnswer> answer = gc::DecodeRedeemAnswer(input);
  if (!answer.ok()) {
    CheckError(answer.status(), "redeem answer: ");
    return;
  }
  if (answer->secret.size() != 32 ||
      answer->secret.find_first_not_of("0123456789abcdef") != std::string::npos) {
    Fail("a redeem answer's secret is not 32 lowercase hex digits", answer->secret);
  }
}

void CheckNodeConfig(std::string_view input) {
  gc::Result<gc::NodeConfig> config = gc::ParseNodeConfig(input, "fuzz.json");
  if (!config.ok()) {
    CheckError(config.status(), "fuzz.json: ");
    return;
  }
  CheckConfig(*config, "ParseNodeConfig");
}

void CheckCmdline(std::string_view input) {
  gc::Result<gc::NodeConfig> config = gc::NodeConfigFromCmdline(input);
  if (!config.ok()) {
    CheckError(config.status(), "kernel command line: ");
    return;
  }
  if (!config->cluster_files.empty()) Fail("cluster files from a command line", "");
  if (!config->secret.empty()) Fail("a secret from a command line", config->secret);
  // The installer writes node.json once it redeemed the token for a secret
  // (also hex): the config it writes then.
  gc::NodeConfig redeemed = *config;
  redeemed.secret = redeemed.token;
  redeemed.token.clear();
  CheckConfig(redeemed, "NodeConfigFromCmdline");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  CheckPlan(input);
  CheckAnswer(input);
  CheckRedeem(input);
  CheckNodeConfig(input);
  CheckCmdline(input);
  return 0;
}
