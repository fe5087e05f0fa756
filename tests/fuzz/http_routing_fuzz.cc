// Fuzzes what serve does with a request before and after authentication:
// the router's admission (server/router.h: who may send a body, decided
// from the head alone) and the boot service and node API behind it, wired
// as `goldcast serve` wires them, over a registry holding one node, mosix1,
// and manual enrollment. The input is a request: a method line, a path
// line (with ?query), "name: value" header lines, an empty line, the body.
// Never crash or throw; invariants:
// - a node API request without mosix1's secret is refused at admission
//   with 401, before its body (except POST /v1/node/redeem, which carries
//   an install token and no body); an admitted one gets no more body than
//   its admission allows (the HTTP server answers 413 beyond);
// - no install token is ever redeemed (none can be guessed);
// - mosix1's secret is in no answer to a request that did not carry it,
//   its own boot script included (that carries a one-time token);
// - no answer is a 5xx for a request the registry can serve.
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "cluster/node_registry.h"
#include "cluster/target_resolver.h"
#include "common/log.h"
#include "protocol/redeem.h"
#include "pxe/boot_service.h"
#include "server/node_api.h"
#include "server/router.h"
#include "tests/testing/lab_profile.h"

namespace {

[[noreturn]] void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "http_routing_fuzz: %s\n%s\n", what, detail.c_str());
  std::abort();
}

constexpr char kMac[] = "52:54:00:00:00:01";

struct Serve {
  gc::ClusterProfile profile;
  std::string state;
  std::unique_ptr<gc::NodeRegistry> registry;
  std::unique_ptr<gc::TargetResolver> resolver;
  gc::InstallTokens tokens;
  std::unique_ptr<gc::BootService> boot;
  std::unique_ptr<gc::NodeApi> node_api;
  gc::Router router;
  std::string secret;

  // At exit: no temp directory is left behind by a replay or a fuzz run.
  ~Serve() {
    node_api.reset();
    boot.reset();
    resolver.reset();
    registry.reset();
    std::error_code ec;
    std::filesystem::remove_all(state, ec);
  }

  Serve() {
    gc::SetLogLevel(gc::LogLevel::kError);  // every refusal is a warning
    profile = gc::testing::LabProfile();
    profile.naming.enroll = gc::Enrollment::kManual;
    gc::DeclaredNode declared;
    declared.mac = kMac;
    profile.nodes.push_back(declared);
    // tmpfs when there is one: every boot request is a registry write.
    char dir[] = "/dev/shm/http_routing_fuzz.XXXXXX";
    char fallback[] = "/tmp/http_routing_fuzz.XXXXXX";
    const char* made = ::mkdtemp(dir);
    if (made == nullptr) made = ::mkdtemp(fallback);
    if (made == nullptr) Fail("mkdtemp", "");
    state = made;
    auto opened = gc::NodeRegistry::Open(state + "/registry.db", profile);
    if (!opened.ok()) Fail("registry", opened.status().message());
    registry = std::move(opened).value();
    secret = registry->FindByMac(kMac).value()->install_secret;
    resolver = std::make_unique<gc::TargetResolver>(profile, state);
    boot = std::make_unique<gc::BootService>(profile, registry.get(), resolver.get(), &tokens,
                                             state + "/boot");
    node_api = std::make_unique<gc::NodeApi>(profile, registry.get(), resolver.get(), &tokens);
    router.Add(
        "node API", gc::NodeApi::Handles,
        [this](const gc::HttpRequest& r) { return node_api->Handle(r); },
        [this](const gc::HttpRequest& head) { return node_api->Admit(head); });
    router.Add("boot", gc::BootService::Handles,
               [this](const gc::HttpRequest& r) { return boot->Handle(r); });
  }
};

// Splits the input into a request as the HTTP server would hand it over.
gc::HttpRequest Parse(std::string_view input) {
  gc::HttpRequest request;
  auto line = [&]() {
    size_t end = input.find('\n');
    std::string_view out = input.substr(0, end);
    input = end == std::string_view::npos ? std::string_view() : input.substr(end + 1);
    return std::string(out);
  };
  request.method = line();
  std::string target = line();
  size_t question = target.find('?');
  request.path = target.substr(0, question);
  if (question != std::string::npos) {
    std::string_view query = std::string_view(target).substr(question + 1);
    while (!query.empty()) {
      size_t amp = query.find('&');
      std::string_view pair = query.substr(0, amp);
      size_t eq = pair.find('=');
      request.query[std::string(pair.substr(0, eq))] =
          eq == std::string_view::npos ? "" : std::string(pair.substr(eq + 1));
      query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    }
  }
  for (std::string header = line(); !header.empty() && !input.empty(); header = line()) {
    size_t colon = header.find(':');
    if (colon == std::string::npos) continue;
    std::string name = header.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    size_t value = header.find_first_not_of(' ', colon + 1);
    request.headers[name] = value == std::string::npos ? "" : header.substr(value);
  }
  request.body = std::string(input);
  request.remote_address = "10.77.3.9";
  return request;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Serve serve;
  gc::HttpRequest request = Parse(std::string_view(reinterpret_cast<const char*>(data), size));
  gc::HttpRequest head = request;
  head.body.clear();
  gc::HttpAdmission admission = serve.router.Admit(head);
  auto auth = request.headers.find("authorization");
  bool authenticates =
      auth != request.headers.end() && auth->second.find(serve.secret) != std::string::npos;
  // Anywhere in the request: an answer that echoes it back leaks nothing.
  bool has_secret =
      std::string_view(reinterpret_cast<const char*>(data), size).find(serve.secret) !=
      std::string_view::npos;
  bool node_api = gc::NodeApi::Handles(request.path);
  if (admission.refusal) {
    if (!has_secret && admission.refusal->body.find(serve.secret) != std::string::npos) {
      Fail("a refusal carries the secret", admission.refusal->body);
    }
    return 0;
  }
  bool redeem = request.path == gc::kRedeemPath;
  if (node_api && !authenticates && !redeem) {
    Fail("node API admitted without the secret", request.path);
  }
  if (request.body.size() > admission.max_body_bytes) return 0;  // 413 from the server
  gc::HttpResponse response = serve.router.Handle(request);
  if (response.status >= 500) Fail("5xx", std::to_string(response.status) + " " + response.body);
  if (redeem && response.status == 200) Fail("an install token redeemed", response.body);
  if (!has_secret && response.body.find(serve.secret) != std::string::npos) {
    Fail("the secret in an answer to a request without it", request.path);
  }
  return 0;
}
