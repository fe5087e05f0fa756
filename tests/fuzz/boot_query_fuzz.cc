// Fuzzes ParseBootQuery, the first code that sees what a booting machine
// (or anyone on the boot network) sends to GET /boot/ipxe. The input is
// split like a query string: pairs at '&', key and value at the first '='.
// Never crash; invariants: an accepted request holds a normalised MAC and
// only the allowed characters, and an error message is bounded and free of
// raw control characters (it goes to the log).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include "pxe/boot_script.h"

namespace {

[[noreturn]] void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "boot_query_fuzz: %s\n%s\n", what, detail.c_str());
  std::abort();
}

bool AllOf(const std::string& text, size_t max, bool (*allowed)(char)) {
  if (text.size() > max) return false;
  for (char c : text) {
    if (!allowed(c)) return false;
  }
  return true;
}

bool HexOrColon(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == ':'; }
bool UuidChar(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == '-'; }
bool WordChar(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::map<std::string, std::string> query;
  while (true) {
    size_t amp = input.find('&');
    std::string_view pair = input.substr(0, amp);
    size_t eq = pair.find('=');
    std::string key(pair.substr(0, eq));
    std::string value(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    query[key] = value;  // the last one wins, as in most query parsers
    if (amp == std::string_view::npos) break;
    input.remove_prefix(amp + 1);
  }

  gc::Result<gc::BootRequest> request = gc::ParseBootQuery(query, "10.77.0.9");
  if (request.ok()) {
    const gc::BootRequest& r = *request;
    if (r.mac.size() != 17 || !AllOf(r.mac, 17, HexOrColon)) Fail("bad mac accepted", r.mac);
    if (!AllOf(r.uuid, 36, UuidChar)) Fail("bad uuid accepted", r.uuid);
    if (!AllOf(r.arch, 16, WordChar)) Fail("bad arch accepted", r.arch);
    if (!AllOf(r.platform, 16, WordChar)) Fail("bad platform accepted", r.platform);
    if (r.remote_address != "10.77.0.9") Fail("remote address lost", r.remote_address);
    // What iPXE gets back is built from these: it must never break a script.
    gc::Node node;
    node.name = "mosix1";
    node.mac = r.mac;
    node.platform = r.platform;
    node.install_secret = "00";
    gc::BootFiles files;
    files.server_url = "http://10.77.0.1:8470";
    files.install_token = "11";
    std::string script = gc::NodeScript(node, gc::NodeGroup(), files);
    if (script.rfind("#!ipxe\n", 0) != 0) Fail("script without #!ipxe", script);
    return 0;
  }
  std::string message = request.status().message();
  if (request.status().code() != gc::Code::kInvalidArgument) Fail("wrong code", message);
  if (message.rfind("argument ", 0) != 0) Fail("message does not name the argument", message);
  if (message.size() > 300) Fail("message too long", message);
  for (char c : message) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) Fail("raw control character", message);
  }
  return 0;
}
