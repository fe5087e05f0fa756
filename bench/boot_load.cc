// boot_load: the HTTP load generator of bench/boot.sh. One thread drives
// libcurl's multi interface, so a thousand requests can really be in flight
// at once without a thousand threads competing with the server for the two
// cores. Every request's latency is measured from the moment it is handed
// to curl until its last byte arrived.
//
//   boot_load ipxe BASE_URL --macs N [--concurrency C] [--mac-offset K]
//       GET BASE_URL/boot/ipxe?mac=52:54:01:xx:xx:xx&... for N distinct MACs
//       (K..K+N-1), at most C in flight (default: all N at once, as when a
//       cluster powers on). A 200 must carry an iPXE script.
//   boot_load file URL --clients C [--rounds R] [--expect-size BYTES]
//       C clients each download URL R times; every transfer must deliver
//       BYTES (when given); short= counts those that did not.
//
// Prints one line of key=value pairs on stdout (bench/boot.sh parses it);
// exits 1 when any request failed.
#include <curl/curl.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct CurlMultiDeleter {
  void operator()(CURLM* m) const { curl_multi_cleanup(m); }
};
struct CurlEasyDeleter {
  void operator()(CURL* e) const { curl_easy_cleanup(e); }
};
using CurlMulti = std::unique_ptr<CURLM, CurlMultiDeleter>;
using CurlEasy = std::unique_ptr<CURL, CurlEasyDeleter>;

// One in-flight slot: an easy handle reused for request after request so
// keep-alive connections are reused the way a real client would.
struct Slot {
  CurlEasy easy;
  std::string body;    // kept only in ipxe mode (small scripts)
  uint64_t bytes = 0;  // this transfer's body bytes
  bool keep_body = false;
  size_t request = 0;  // index of the request in flight
  Clock::time_point start;
};

size_t OnData(char* data, size_t size, size_t count, void* user) {
  auto* slot = static_cast<Slot*>(user);
  size_t n = size * count;
  slot->bytes += n;
  if (slot->keep_body && slot->body.size() < 64 * 1024) slot->body.append(data, n);
  return n;
}

struct Options {
  std::string mode;
  std::string url;
  size_t count = 0;        // ipxe: MACs; file: clients
  size_t concurrency = 0;  // ipxe only; 0 = all at once
  size_t mac_offset = 0;
  size_t rounds = 1;
  uint64_t expect_size = 0;
  bool has_expect_size = false;
};

bool ParseNumber(std::string_view text, uint64_t* out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size();
}

int Usage(const char* why) {
  std::fprintf(stderr,
               "boot_load: %s\n"
               "usage: boot_load ipxe BASE_URL --macs N [--concurrency C] [--mac-offset K]\n"
               "       boot_load file URL --clients C [--rounds R] [--expect-size BYTES]\n",
               why);
  return 2;
}

// Returns 0 on success, else the exit code (after printing why).
int ParseOptions(int argc, char** argv, Options* o) {
  if (argc < 3) return Usage("missing arguments");
  o->mode = argv[1];
  o->url = argv[2];
  if (o->mode != "ipxe" && o->mode != "file") return Usage("mode must be ipxe or file");
  for (int i = 3; i < argc; i += 2) {
    std::string_view flag = argv[i];
    if (i + 1 >= argc) return Usage("a flag lacks its value");
    uint64_t value = 0;
    if (!ParseNumber(argv[i + 1], &value)) return Usage("flag values must be numbers");
    if (flag == "--macs" || flag == "--clients") {
      o->count = value;
    } else if (flag == "--concurrency") {
      o->concurrency = value;
    } else if (flag == "--mac-offset") {
      o->mac_offset = value;
    } else if (flag == "--rounds") {
      o->rounds = value;
    } else if (flag == "--expect-size") {
      o->expect_size = value;
      o->has_expect_size = true;
    } else {
      return Usage("unknown flag");
    }
  }
  if (o->count == 0) return Usage("--macs / --clients must be at least 1");
  if (o->count > (1u << 24)) return Usage("at most 16777216 MACs");
  if (o->rounds == 0) return Usage("--rounds must be at least 1");
  return 0;
}

std::string MacFor(size_t i) {
  char mac[32];
  std::snprintf(mac, sizeof mac, "52:54:01:%02zx:%02zx:%02zx", (i >> 16) & 0xff, (i >> 8) & 0xff,
                i & 0xff);
  return mac;
}

double Percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

struct Run {
  std::vector<std::string> urls;  // one per request, in issue order
  size_t parallel = 0;
  bool keep_body = false;
};

struct Outcome {
  std::vector<double> latency_ms;  // per request
  std::vector<uint64_t> bytes;     // per request
  size_t ok = 0;
  size_t failed = 0;
  double seconds = 0;
  std::string first_error;
};

// Issues run.urls with at most run.parallel in flight. A request is good
// when curl succeeded with HTTP 200 and, in ipxe mode, the body is a script.
Outcome Drive(const Run& run) {
  Outcome out;
  out.latency_ms.assign(run.urls.size(), 0);
  out.bytes.assign(run.urls.size(), 0);
  CurlMulti multi(curl_multi_init());
  curl_multi_setopt(multi.get(), CURLMOPT_MAXCONNECTS, static_cast<long>(run.parallel));
  std::vector<Slot> slots(std::min(run.parallel, run.urls.size()));
  size_t next = 0;
  auto start_request = [&](Slot& slot) {
    slot.request = next++;
    slot.body.clear();
    slot.bytes = 0;
    curl_easy_setopt(slot.easy.get(), CURLOPT_URL, run.urls[slot.request].c_str());
    slot.start = Clock::now();
    curl_multi_add_handle(multi.get(), slot.easy.get());
  };
  auto t0 = Clock::now();
  for (Slot& slot : slots) {
    slot.easy.reset(curl_easy_init());
    slot.keep_body = run.keep_body;
    CURL* e = slot.easy.get();
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &OnData);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &slot);
    curl_easy_setopt(e, CURLOPT_PRIVATE, &slot);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, 300L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, 60L);
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 512L * 1024);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    start_request(slot);
  }
  size_t done = 0;
  while (done < run.urls.size()) {
    int running = 0;
    curl_multi_perform(multi.get(), &running);
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi.get(), &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      Slot* slot = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &slot);
      auto end = Clock::now();
      long status = 0;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
      CURLcode result = msg->data.result;
      curl_multi_remove_handle(multi.get(), msg->easy_handle);
      out.latency_ms[slot->request] =
          std::chrono::duration<double, std::milli>(end - slot->start).count();
      out.bytes[slot->request] = slot->bytes;
      bool good = result == CURLE_OK && status == 200;
      if (good && run.keep_body) good = slot->body.rfind("#!ipxe", 0) == 0;
      if (good) {
        ++out.ok;
      } else {
        ++out.failed;
        if (out.first_error.empty()) {
          out.first_error = run.urls[slot->request] + ": " +
                            (result != CURLE_OK ? curl_easy_strerror(result)
                                                : "HTTP " + std::to_string(status) + " " +
                                                      slot->body.substr(0, 200));
        }
      }
      ++done;
      if (next < run.urls.size()) start_request(*slot);
    }
    if (done < run.urls.size()) curl_multi_poll(multi.get(), nullptr, 0, 100, nullptr);
  }
  out.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return out;
}

int RunIpxe(const Options& o) {
  Run run;
  run.parallel = o.concurrency == 0 ? o.count : o.concurrency;
  run.keep_body = true;
  for (size_t i = 0; i < o.count; ++i) {
    run.urls.push_back(o.url + "/boot/ipxe?mac=" + MacFor(o.mac_offset + i) +
                       "&uuid=00000000-0000-0000-0000-000000000000&arch=x86_64&platform=pcbios");
  }
  Outcome out = Drive(run);
  std::vector<double> sorted = out.latency_ms;
  std::sort(sorted.begin(), sorted.end());
  std::printf(
      "requests=%zu concurrency=%zu ok=%zu failed=%zu seconds=%.3f rps=%.1f p50_ms=%.2f "
      "p90_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
      run.urls.size(), run.parallel, out.ok, out.failed, out.seconds,
      static_cast<double>(run.urls.size()) / out.seconds, Percentile(sorted, 0.5),
      Percentile(sorted, 0.9), Percentile(sorted, 0.99), sorted.back());
  if (out.failed > 0) {
    std::fprintf(stderr, "boot_load: %zu of %zu requests failed; first: %s\n", out.failed,
                 run.urls.size(), out.first_error.c_str());
    return 1;
  }
  return 0;
}

int RunFile(const Options& o) {
  Run run;
  run.parallel = o.count;
  run.urls.assign(o.count * o.rounds, o.url);
  Outcome out = Drive(run);
  uint64_t total = 0;
  size_t short_transfers = 0;
  for (uint64_t b : out.bytes) {
    total += b;
    if (o.has_expect_size && b != o.expect_size) ++short_transfers;
  }
  std::vector<double> sorted = out.latency_ms;
  std::sort(sorted.begin(), sorted.end());
  double mb = static_cast<double>(total) / 1e6;
  std::printf(
      "clients=%zu transfers=%zu ok=%zu failed=%zu short=%zu bytes=%llu seconds=%.3f "
      "mb_per_s=%.1f slowest_transfer_s=%.3f\n",
      o.count, run.urls.size(), out.ok, out.failed, short_transfers,
      static_cast<unsigned long long>(total), out.seconds, mb / out.seconds, sorted.back() / 1000);
  if (out.failed > 0 || short_transfers > 0) {
    std::fprintf(stderr, "boot_load: %zu failed, %zu with a size other than %llu; first: %s\n",
                 out.failed, short_transfers, static_cast<unsigned long long>(o.expect_size),
                 out.first_error.c_str());
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (int rc = ParseOptions(argc, argv, &options); rc != 0) return rc;
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    std::fprintf(stderr, "boot_load: curl_global_init failed\n");
    return 1;
  }
  int rc = options.mode == "ipxe" ? RunIpxe(options) : RunFile(options);
  curl_global_cleanup();
  return rc;
}
