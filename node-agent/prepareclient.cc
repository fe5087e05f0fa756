#include "node-agent/prepareclient.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/beneath.h"
#include "common/env.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/progress.h"
#include "common/random.h"
#include "common/tls.h"
#include "node-agent/capture_service.h"
#include "node-agent/layout.h"

namespace gc {

namespace {

volatile sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

Result<std::pair<std::string, uint16_t>> ParseListen(const std::string& listen) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return InvalidArgument("--listen '" + listen + "': expected ADDRESS:PORT, e.g. 0.0.0.0:8470");
  }
  std::string address = listen.substr(0, colon);
  std::string port_text = listen.substr(colon + 1);
  in_addr parsed;
  if (::inet_pton(AF_INET, address.c_str(), &parsed) != 1) {
    return InvalidArgument("--listen '" + listen + "': '" + address + "' is not an IPv4 address");
  }
  char* end = nullptr;
  long port = std::strtol(port_text.c_str(), &end, 10);
  if (port_text.empty() || *end != '\0' || port < 0 || port > 65535) {
    return InvalidArgument("--listen '" + listen + "': port must be 0..65535");
  }
  return std::make_pair(address, static_cast<uint16_t>(port));
}

// The address to print in the getimage command when listening on 0.0.0.0:
// the first non-loopback IPv4 address of this machine.
std::string ReachableAddress(const std::string& bound) {
  if (bound != "0.0.0.0") return bound;
  struct ifaddrs* list = nullptr;
  std::string found = "127.0.0.1";
  if (::getifaddrs(&list) != 0) return found;
  for (auto* item = list; item; item = item->ifa_next) {
    if (!item->ifa_addr || item->ifa_addr->sa_family != AF_INET) continue;
    auto* sin = reinterpret_cast<sockaddr_in*>(item->ifa_addr);
    char text[INET_ADDRSTRLEN];
    ::inet_ntop(AF_INET, &sin->sin_addr, text, sizeof text);
    if (std::string(text).rfind("127.", 0) == 0) continue;
    found = text;
    break;
  }
  ::freeifaddrs(list);
  return found;
}

// The golden client's TLS pair, made once in its state directory (left out
// of every capture) and its pin beside it (STATE/tls/pin): getimage trusts
// that key and no other, so the tree (/etc/shadow, ssh host keys) and the
// token cross the network encrypted, to the machine the admin named.
Result<TlsIdentity> CaptureIdentity(const std::filesystem::path& state, const std::string& address,
                                    std::string* pin) {
  std::string dir = (state / "tls").string();
  std::vector<std::string> addresses;
  if (address != "0.0.0.0") addresses.push_back(address);
  GC_ASSIGN_OR_RETURN(
      TlsIdentity identity,
      LoadOrCreateTlsIdentity(dir, address == "0.0.0.0" ? "golden-client" : address, addresses));
  GC_ASSIGN_OR_RETURN(*pin, PublishPin(dir, identity));
  return identity;
}

// Swap files named in the tree's fstab (or the running system's
// /proc/swaps) are excluded: they are large and meaningless on another node.
std::vector<std::string> SwapFileExcludes(const std::filesystem::path& root, bool real_root) {
  std::vector<std::string> out;
  auto add = [&](const std::string& device) {
    if (device.empty() || device[0] != '/' || device.rfind("/dev/", 0) == 0) return;
    out.push_back(device);
  };
  std::ifstream fstab(root / "etc/fstab");
  std::string line;
  while (std::getline(fstab, line)) {
    std::istringstream fields(line);
    std::string device, mount, type;
    if (!(fields >> device >> mount >> type) || device[0] == '#') continue;
    if (type == "swap") add(device);
  }
  if (real_root) {
    std::ifstream swaps("/proc/swaps");
    std::getline(swaps, line);  // header
    while (std::getline(swaps, line)) {
      std::istringstream fields(line);
      std::string device, type;
      if (fields >> device >> type && type == "file") add(device);
    }
  }
  return out;
}

}  // namespace

const std::vector<std::string>& DefaultExcludes() {
  static const std::vector<std::string> kExcludes = {"/proc/*", "/sys/*",   "/dev/*",
                                                     "/run/*",  "/tmp/*",   "/var/tmp/*",
                                                     "/mnt/*",  "/media/*", "*/lost+found"};
  return kExcludes;
}

Result<std::vector<std::string>> ReadExcludeFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return ErrnoError("--exclude-file " + path);
  std::vector<std::string> patterns;
  std::string line;
  while (std::getline(in, line)) {
    size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') continue;
    size_t end = line.find_last_not_of(" \t\r");
    patterns.push_back(line.substr(start, end - start + 1));
  }
  return patterns;
}

namespace {

// The --root checks, in the order an admin fixes them.
Status CheckRoot(const std::string& root) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(root, ec)) {
    return NotFound("--root " + root + ": no such directory");
  }
  if (!fs::is_directory(root, ec)) {
    return InvalidArgument("--root " + root + ": not a directory");
  }
  if (::access(root.c_str(), R_OK | X_OK) != 0) {
    return ErrnoError("--root " + root + " is not readable");
  }
  return Status::Ok();
}

// What a capture of `root` (canonical) leaves out: the defaults, swap files,
// each --exclude-file's patterns, then each --exclude.
Result<std::vector<std::string>> CaptureExcludes(const PrepareClientOptions& options,
                                                 const std::string& root, bool real_root) {
  std::vector<std::string> excludes = DefaultExcludes();
  for (const auto& path : SwapFileExcludes(root, real_root)) excludes.push_back(path);
  for (const auto& file : options.exclude_files) {
    GC_ASSIGN_OR_RETURN(auto patterns, ReadExcludeFile(file));
    excludes.insert(excludes.end(), patterns.begin(), patterns.end());
  }
  excludes.insert(excludes.end(), options.excludes.begin(), options.excludes.end());
  return excludes;
}

// Creates the state directory and returns its canonical path. goldcast's own
// state never goes into an image: when it is inside `root` it is excluded.
Result<std::filesystem::path> PrepareStateDir(Env* env, const std::string& state_dir,
                                              const std::string& root,
                                              std::vector<std::string>* excludes) {
  namespace fs = std::filesystem;
  GC_RETURN_IF_ERROR(env->CreateDirs(state_dir));
  fs::path state = fs::canonical(state_dir);
  fs::path relative = state.lexically_relative(root);
  if (!relative.empty() && *relative.begin() != "..") {
    excludes->push_back("/" + relative.string());
  }
  return state;
}

// Walk before listening: it reports the size of the capture, and the first
// getimage is served this walk (a capture that fails because a file changed
// since is retried with a fresh walk).
Status WalkBeforeListening(CaptureService& service, const std::string& root,
                           const HashCache& cache) {
  Progress progress("prepareclient: hashing " + root);
  GC_ASSIGN_OR_RETURN(ManifestTotals totals, service.WalkAtStart());
  progress.Finish();
  GC_LOG(Info) << "prepareclient: " << root << ": " << totals.entries << " entries, "
               << totals.files << " files, " << FormatBytes(totals.file_bytes) << " ("
               << cache.hits() << " hashes from cache)";
  return Status::Ok();
}

// Prints the getimage command to run on the image server and writes the
// --token-file, now that the server listens.
Status Announce(const PrepareClientOptions& options, const CaptureServiceOptions& service_options,
                const std::string& bound, uint16_t port, const std::string& pin) {
  std::string address = ReachableAddress(bound);
  std::printf("goldcast getimage --golden-client %s:%u --token %s --pin %s --image %s\n",
              address.c_str(), port, service_options.token.c_str(), pin.c_str(),
              options.image.c_str());
  std::fflush(stdout);
  if (!options.token_file.empty()) {
    // 0600 from its creation on: not readable by others for a moment.
    std::filesystem::path path(options.token_file);
    std::string dir = path.has_parent_path() ? path.parent_path().string() : ".";
    GC_RETURN_IF_ERROR(
        WriteFileBeneath(dir, path.filename().string(), 0600, service_options.token + "\n")
            .WithContext("--token-file " + options.token_file));
  }
  GC_LOG(Info) << "prepareclient: serving " << service_options.root << " on " << bound << ":"
               << port << "; anyone with the token can read every file of this tree until it stops";
  return Status::Ok();
}

// Serves until a getimage is done (all of them with --keep-serving) or
// SIGTERM/SIGINT, then stops the server.
void ServeUntilDone(const CaptureService& service, HttpServer& server, bool keep_serving) {
  struct sigaction action {};
  action.sa_handler = OnSignal;
  ::sigaction(SIGTERM, &action, nullptr);
  ::sigaction(SIGINT, &action, nullptr);
  while (!g_stop) {
    if (service.done() && !keep_serving) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  // Let the "done" response reach the server before the socket closes.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  server.Stop();
  GC_LOG(Info) << (g_stop ? "prepareclient: stopped" : "prepareclient: capture finished");
}

}  // namespace

Status RunPrepareClient(const PrepareClientOptions& options) {
  namespace fs = std::filesystem;
  GC_RETURN_IF_ERROR(CheckRoot(options.root));
  GC_ASSIGN_OR_RETURN(auto listen, ParseListen(options.listen));
  std::error_code ec;
  bool real_root = fs::equivalent(options.root, "/", ec);

  CaptureServiceOptions service_options;
  service_options.root = fs::canonical(options.root).string();
  GC_ASSIGN_OR_RETURN(service_options.walk.excludes,
                      CaptureExcludes(options, service_options.root, real_root));
  Env* env = Env::Default();
  GC_ASSIGN_OR_RETURN(fs::path state, PrepareStateDir(env, options.state_dir, service_options.root,
                                                      &service_options.walk.excludes));
  service_options.token = RandomHex(24);
  std::string pin;
  GC_ASSIGN_OR_RETURN(TlsIdentity identity, CaptureIdentity(state, listen.first, &pin));
  GC_ASSIGN_OR_RETURN(service_options.layout_json,
                      CollectLayout({service_options.root, "/sys"}, ProcessRunner::Default()));

  auto cache = HashCache::Load(env, (state / "hashcache").string());
  CaptureService service(service_options, cache.get());
  GC_RETURN_IF_ERROR(WalkBeforeListening(service, service_options.root, *cache));

  HttpServerOptions server_options;
  server_options.address = listen.first;
  server_options.port = listen.second;
  server_options.admit = [&service](const HttpRequest& head) { return service.Admit(head); };
  // getimage uses a few parallel transfers; nobody else should get more.
  server_options.max_connections_per_address = 32;
  server_options.idle_timeout_s = 30;
  server_options.tls_cert_pem = identity.cert_pem;
  server_options.tls_key_pem = identity.key_pem;
  GC_ASSIGN_OR_RETURN(auto server,
                      HttpServer::Start(server_options, [&service](const HttpRequest& request) {
                        return service.Handle(request);
                      }));
  GC_RETURN_IF_ERROR(Announce(options, service_options, listen.first, server->port(), pin));
  ServeUntilDone(service, *server, options.keep_serving);
  return Status::Ok();
}

}  // namespace gc
