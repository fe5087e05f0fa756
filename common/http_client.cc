#include "common/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <exception>
#include <mutex>
#include <utility>

#include "common/log.h"
#include "common/tls.h"

namespace gc {

namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kMaxErrorBody = 64 << 10;
constexpr long kConnectTimeoutMs = 10'000;
constexpr long kLowSpeedBytesPerSecond = 1024;
constexpr long kLowSpeedSeconds = 60;
constexpr long kReceiveBuffer = 128 << 10;
constexpr auto kFirstBackoff = std::chrono::milliseconds(100);
constexpr auto kMaxBackoff = std::chrono::seconds(30);

// curl_global_init is not thread-safe; a function-local static is.
void EnsureCurlInitialized() {
  static const CURLcode init = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (init != CURLE_OK) {
    GC_LOG(Error) << "libcurl failed to initialise: " << curl_easy_strerror(init);
  }
}

struct EasyDeleter {
  void operator()(CURL* easy) const { curl_easy_cleanup(easy); }
};
struct MultiDeleter {
  void operator()(CURLM* multi) const { curl_multi_cleanup(multi); }
};
struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using EasyPtr = std::unique_ptr<CURL, EasyDeleter>;
using MultiPtr = std::unique_ptr<CURLM, MultiDeleter>;
using SlistPtr = std::unique_ptr<curl_slist, SlistDeleter>;

// A multi handle and its easy handles. The multi handle owns the connection
// cache, so a session reused for the next call keeps its connections alive.
struct HttpSession {
  MultiPtr multi;
  std::vector<EasyPtr> easies;  // all removed from `multi` between batches
};

}  // namespace

struct HttpClient::Impl {
  HttpClientOptions options;
  std::mutex mutex;
  std::vector<std::unique_ptr<HttpSession>> idle;

  Result<std::unique_ptr<HttpSession>> Acquire() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (!idle.empty()) {
        std::unique_ptr<HttpSession> session = std::move(idle.back());
        idle.pop_back();
        return session;
      }
    }
    auto session = std::make_unique<HttpSession>();
    session->multi.reset(curl_multi_init());
    if (!session->multi)
      return Internal("libcurl could not create a multi handle (out of memory?)");
    // HTTP/1.1 only: never wait for a connection to become multiplexable.
    curl_multi_setopt(session->multi.get(), CURLMOPT_PIPELINING, CURLPIPE_NOTHING);
    return session;
  }

  void Release(std::unique_ptr<HttpSession> session) {
    std::lock_guard<std::mutex> lock(mutex);
    idle.push_back(std::move(session));
  }
};

namespace {

// One call in progress on one easy handle, across its retries.
struct Slot {
  CURL* easy = nullptr;  // owned by the session
  bool busy = false;     // holds a call, running or waiting to retry
  bool in_multi = false;
  size_t index = 0;
  HttpCall* call = nullptr;
  const HttpClientOptions* options = nullptr;
  int attempt = 0;  // retries done so far
  Clock::time_point retry_at;
  HttpResult result;
  Status sink_error;
  uint64_t delivered = 0;  // bytes handed to the sink: they cannot be taken back
  SlistPtr headers;
  char error[CURL_ERROR_SIZE] = {};
};

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* slot = static_cast<Slot*>(user);
  size_t bytes = size * count;
  if (bytes == 0) return 0;
  long code = 0;
  curl_easy_getinfo(slot->easy, CURLINFO_RESPONSE_CODE, &code);
  slot->result.bytes_received += bytes;
  if (code >= 200 && code < 300) {
    if (!slot->call->sink) {
      if (slot->result.body.size() + bytes > slot->call->max_body) {
        slot->sink_error = InvalidArgument(
            "the answer from " + slot->call->url + " is longer than " +
            std::to_string(slot->call->max_body) + " bytes: refused (is this a goldcast server?)");
        return CURL_WRITEFUNC_ERROR;
      }
      slot->result.body.append(data, bytes);
      return bytes;
    }
    Status status;
    // Exceptions must not unwind through libcurl's C frames.
    try {
      status = slot->call->sink(std::string_view(data, bytes));
    } catch (const std::exception& e) {
      status = Internal(std::string("HTTP body sink threw: ") + e.what());
    } catch (...) {
      status = Internal("HTTP body sink threw a non-standard exception");
    }
    if (!status.ok()) {
      slot->sink_error = std::move(status);
      return CURL_WRITEFUNC_ERROR;
    }
    slot->delivered += bytes;
    return bytes;
  }
  // An error body is for the message shown to the admin; keep its start only.
  size_t room = kMaxErrorBody - std::min(kMaxErrorBody, slot->result.body.size());
  slot->result.body.append(data, std::min(room, bytes));
  return bytes;
}

bool IsRetriable(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    // Over TLS, a server that closes a connection it cannot take (its
    // connection limits) does so in the handshake: the same refusal as a
    // GOT_NOTHING over plain HTTP, so retried as that is.
    case CURLE_SSL_CONNECT_ERROR:
      return true;
    default:
      return false;
  }
}

Clock::duration Backoff(int retries_done) {
  Clock::duration delay = kFirstBackoff;
  for (int i = 0; i < retries_done && delay < kMaxBackoff; ++i) delay *= 2;
  return std::min<Clock::duration>(delay, kMaxBackoff);
}

std::string Describe(const HttpCall& call) { return call.method + " " + call.url; }

template <typename T>
bool Set(CURL* easy, CURLoption option, T value) {
  return curl_easy_setopt(easy, option, value) == CURLE_OK;
}

// The pin is the trust: goldcast's certificate is self-signed and names
// addresses a node may reach by other routes, so the CA and host name checks
// are off, and curl drops a connection with any other key before a byte of
// the request is sent.
bool SetPinning(CURL* easy, const std::string& pin) {
  return Set(easy, CURLOPT_PINNEDPUBLICKEY, pin.c_str()) && Set(easy, CURLOPT_SSL_VERIFYPEER, 0L) &&
         Set(easy, CURLOPT_SSL_VERIFYHOST, 0L) && Set(easy, CURLOPT_PROTOCOLS_STR, "https") &&
         Set(easy, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
}

// Configures the slot's easy handle for its call (from scratch: a reset
// keeps the handle's connections but clears every option) and adds it.
Status StartAttempt(CURLM* multi, Slot& slot) {
  CURL* easy = slot.easy;
  HttpCall& call = *slot.call;
  curl_easy_reset(easy);
  slot.result = HttpResult();
  slot.sink_error = Status::Ok();
  slot.error[0] = '\0';
  slot.headers.reset();
  for (const std::string& header : call.headers) {
    curl_slist* appended = curl_slist_append(slot.headers.get(), header.c_str());
    if (appended == nullptr)
      return Internal("out of memory building headers for " + Describe(call));
    slot.headers.release();
    slot.headers.reset(appended);
  }
  bool ok = Set(easy, CURLOPT_URL, call.url.c_str()) && Set(easy, CURLOPT_PRIVATE, &slot) &&
            Set(easy, CURLOPT_ERRORBUFFER, slot.error) && Set(easy, CURLOPT_NOSIGNAL, 1L) &&
            Set(easy, CURLOPT_TCP_NODELAY, 1L) && Set(easy, CURLOPT_TCP_KEEPALIVE, 1L) &&
            // Image traffic stays on the cluster network, whatever the
            // environment's http_proxy says.
            Set(easy, CURLOPT_NOPROXY, "*") && Set(easy, CURLOPT_PROXY, "") &&
            Set(easy, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1)) &&
            Set(easy, CURLOPT_CONNECTTIMEOUT_MS, kConnectTimeoutMs) &&
            Set(easy, CURLOPT_LOW_SPEED_LIMIT, kLowSpeedBytesPerSecond) &&
            Set(easy, CURLOPT_LOW_SPEED_TIME, kLowSpeedSeconds) &&
            Set(easy, CURLOPT_BUFFERSIZE, kReceiveBuffer) &&
            Set(easy, CURLOPT_WRITEFUNCTION, &OnBody) && Set(easy, CURLOPT_WRITEDATA, &slot) &&
            Set(easy, CURLOPT_HTTPHEADER, slot.headers.get());
  const std::string& pin = slot.options->pinned_public_key;
  if (ok && !pin.empty()) ok = SetPinning(easy, pin);
  if (ok) {
    const std::string& method = call.method;
    if (method == "GET" && call.body.empty()) {
      ok = Set(easy, CURLOPT_HTTPGET, 1L);
    } else if (method == "HEAD") {
      ok = Set(easy, CURLOPT_NOBODY, 1L);
    } else if (!call.body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
      // The call outlives the transfer, so curl may read the body in place.
      ok = Set(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(call.body.size())) &&
           Set(easy, CURLOPT_POSTFIELDS, call.body.data());
      if (ok && method != "POST") ok = Set(easy, CURLOPT_CUSTOMREQUEST, method.c_str());
    } else {
      ok = Set(easy, CURLOPT_CUSTOMREQUEST, method.c_str());
    }
  }
  if (!ok) return Internal("libcurl rejected an option for " + Describe(call));
  CURLMcode added = curl_multi_add_handle(multi, easy);
  if (added != CURLM_OK) {
    return Internal("libcurl could not start " + Describe(call) + ": " +
                    curl_multi_strerror(added));
  }
  slot.in_multi = true;
  return Status::Ok();
}

enum class Outcome { kDone, kRetry, kFail };

// Decides what a finished attempt means: a result, a retry, or an error.
Outcome Evaluate(Slot& slot, CURLcode code, Status* error) {
  const HttpCall& call = *slot.call;
  if (code == CURLE_OK) {
    curl_easy_getinfo(slot.easy, CURLINFO_RESPONSE_CODE, &slot.result.status);
    if (slot.result.status >= 500 && slot.attempt < call.retries) {
      GC_LOG(Debug) << Describe(call) << ": HTTP " << slot.result.status << ", retrying";
      return Outcome::kRetry;
    }
    return Outcome::kDone;
  }
  if (!slot.sink_error.ok()) {
    *error = slot.sink_error;
    return Outcome::kFail;
  }
  std::string what =
      Describe(call) + ": " + (slot.error[0] ? slot.error : curl_easy_strerror(code));
  if (code == CURLE_SSL_PINNEDPUBKEYNOTMATCH) {
    // Not retried: the same server answers with the same key.
    *error = Status(Code::kUnauthorized,
                    Describe(call) + ": the server's public key does not match the pinned one (" +
                        slot.options->pinned_public_key +
                        "): this is not the goldcast server this node was set up with, or that "
                        "server has a new TLS key (then give the node its new pin)");
    return Outcome::kFail;
  }
  if (code == CURLE_URL_MALFORMAT || code == CURLE_UNSUPPORTED_PROTOCOL) {
    *error = InvalidArgument(what + " (check the server URL)");
    return Outcome::kFail;
  }
  if (IsRetriable(code)) {
    if (slot.delivered > 0) {
      *error = Status(Code::kNetwork, what + " (after " + std::to_string(slot.delivered) +
                                          " bytes were consumed; not retried because the "
                                          "transfer cannot resume; run the command again)");
      return Outcome::kFail;
    }
    if (slot.attempt < call.retries) {
      GC_LOG(Debug) << what << ", retrying";
      return Outcome::kRetry;
    }
    if (slot.attempt > 0) what += " (after " + std::to_string(slot.attempt + 1) + " attempts)";
  }
  *error = Status(Code::kNetwork, std::move(what));
  return Outcome::kFail;
}

// Gives the session at least `width` easy handles.
Status GrowSession(HttpSession& session, size_t width) {
  while (session.easies.size() < width) {
    EasyPtr easy(curl_easy_init());
    if (!easy) return Internal("libcurl could not create a transfer handle (out of memory?)");
    session.easies.push_back(std::move(easy));
  }
  return Status::Ok();
}

// One batch of calls running on a session's first easy handles, a Slot each.
class Batch {
 public:
  Batch(HttpSession& session, std::vector<HttpCall>& calls, size_t width,
        const HttpClientOptions& options)
      : multi_(session.multi.get()), calls_(calls), results_(calls.size()) {
    for (size_t i = 0; i < width; ++i) {
      slots_.push_back(std::make_unique<Slot>());
      slots_.back()->easy = session.easies[i].get();
      slots_.back()->options = &options;
    }
  }
  // Leaves no handle in the multi, so the session can be reused.
  ~Batch() {
    for (auto& slot : slots_) {
      if (slot->in_multi) curl_multi_remove_handle(multi_, slot->easy);
      slot->in_multi = false;
    }
  }
  Batch(const Batch&) = delete;
  Batch& operator=(const Batch&) = delete;

  Result<std::vector<HttpResult>> Run() {
    while (done_ < calls_.size()) {
      GC_RETURN_IF_ERROR(StartDue());
      GC_RETURN_IF_ERROR(Perform());
      GC_RETURN_IF_ERROR(CollectFinished());
      if (done_ == calls_.size()) break;
      GC_RETURN_IF_ERROR(Wait());
    }
    return std::move(results_);
  }

 private:
  Status StartDue();
  Status Perform();
  Status CollectFinished();
  Status Wait();

  CURLM* multi_;
  std::vector<HttpCall>& calls_;
  std::vector<HttpResult> results_;
  std::vector<std::unique_ptr<Slot>> slots_;
  size_t next_ = 0;  // the first call not yet given a slot
  size_t done_ = 0;
};

// Gives each free slot the next call and starts it, and restarts the
// attempts whose backoff is over.
Status Batch::StartDue() {
  Clock::time_point now = Clock::now();
  for (auto& slot : slots_) {
    if (!slot->busy && next_ < calls_.size()) {
      slot->busy = true;
      slot->index = next_;
      slot->call = &calls_[next_++];
      slot->attempt = 0;
      slot->delivered = 0;
    } else if (!slot->busy || slot->in_multi || now < slot->retry_at) {
      continue;
    }
    GC_RETURN_IF_ERROR(StartAttempt(multi_, *slot));
  }
  return Status::Ok();
}

Status Batch::Perform() {
  int running = 0;
  CURLMcode performed = curl_multi_perform(multi_, &running);
  if (performed != CURLM_OK) {
    return Internal(std::string("libcurl transfer loop failed: ") + curl_multi_strerror(performed));
  }
  return Status::Ok();
}

// Takes the finished attempts out of the multi: a result, or a retry later.
Status Batch::CollectFinished() {
  int queued = 0;
  while (CURLMsg* message = curl_multi_info_read(multi_, &queued)) {
    if (message->msg != CURLMSG_DONE) continue;
    // The message is invalid once its handle is removed: copy it first.
    CURL* easy = message->easy_handle;
    CURLcode code = message->data.result;
    char* user = nullptr;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, &user);
    Slot& slot = *reinterpret_cast<Slot*>(user);
    curl_multi_remove_handle(multi_, easy);
    slot.in_multi = false;
    Status error;
    switch (Evaluate(slot, code, &error)) {
      case Outcome::kDone:
        results_[slot.index] = std::move(slot.result);
        slot.busy = false;
        ++done_;
        break;
      case Outcome::kRetry:
        slot.retry_at = Clock::now() + Backoff(slot.attempt);
        ++slot.attempt;
        break;
      case Outcome::kFail:
        return error;
    }
  }
  return Status::Ok();
}

// Sleeps until a transfer progresses or the next retry is due, at most a
// second; not at all when a free slot can take a call now.
Status Batch::Wait() {
  bool can_start = false;
  auto wait = std::chrono::milliseconds(1000);
  Clock::time_point now = Clock::now();
  for (const auto& slot : slots_) {
    if (!slot->busy && next_ < calls_.size()) can_start = true;
    if (slot->busy && !slot->in_multi) {
      auto until = std::chrono::ceil<std::chrono::milliseconds>(slot->retry_at - now);
      wait = std::clamp(until, std::chrono::milliseconds(0), wait);
    }
  }
  if (can_start) return Status::Ok();
  // Sleeps even with no transfer in the multi, which is the backoff wait.
  CURLMcode polled = curl_multi_poll(multi_, nullptr, 0, static_cast<int>(wait.count()), nullptr);
  if (polled != CURLM_OK) {
    return Internal(std::string("libcurl poll failed: ") + curl_multi_strerror(polled));
  }
  return Status::Ok();
}

// Runs `calls` on `session` with at most `width` transfers in flight.
Result<std::vector<HttpResult>> RunBatch(HttpSession& session, std::vector<HttpCall>& calls,
                                         size_t width, const HttpClientOptions& options) {
  if (calls.empty()) return std::vector<HttpResult>();
  width = std::clamp<size_t>(width, 1, calls.size());
  GC_RETURN_IF_ERROR(GrowSession(session, width));
  Batch batch(session, calls, width, options);
  return batch.Run();
}

bool StartsWithNoCase(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() &&
         std::equal(prefix.begin(), prefix.end(), text.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) ==
                  std::tolower(static_cast<unsigned char>(b));
         });
}

// A pin over plain HTTP would protect nothing while looking as if it did.
Status CheckPinnedCalls(const std::string& pin, const std::vector<HttpCall>& calls) {
  if (!IsPinList(pin)) {
    return InvalidArgument("HTTP client: '" + pin.substr(0, 100) +
                           "' is not a public key pin (sha256// and the 44 base64 characters "
                           "of the server certificate's key hash; ';' between several)");
  }
  for (const HttpCall& call : calls) {
    if (!StartsWithNoCase(call.url, "https://")) {
      return InvalidArgument(Describe(call) +
                             ": refused, the server's key is pinned but the URL is not "
                             "https:// (use the server's https:// URL)");
    }
  }
  return Status::Ok();
}

}  // namespace

HttpClient::HttpClient() : HttpClient(HttpClientOptions()) {}

HttpClient::HttpClient(HttpClientOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  EnsureCurlInitialized();
}

HttpClient::~HttpClient() = default;

Result<HttpResult> HttpClient::Call(HttpCall call) {
  std::vector<HttpCall> calls;
  calls.push_back(std::move(call));
  GC_ASSIGN_OR_RETURN(std::vector<HttpResult> results, CallAll(std::move(calls), 1));
  return std::move(results.front());
}

Result<std::vector<HttpResult>> HttpClient::CallAll(std::vector<HttpCall> calls, int max_parallel) {
  if (!impl_->options.pinned_public_key.empty()) {
    GC_RETURN_IF_ERROR(CheckPinnedCalls(impl_->options.pinned_public_key, calls));
  }
  GC_ASSIGN_OR_RETURN(std::unique_ptr<HttpSession> session, impl_->Acquire());
  Result<std::vector<HttpResult>> results =
      RunBatch(*session, calls, static_cast<size_t>(std::max(max_parallel, 1)), impl_->options);
  impl_->Release(std::move(session));
  return results;
}

std::string UrlEncode(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(value.size());
  for (unsigned char c : value) {
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

}  // namespace gc
