// HttpClient: the one HTTP client wrapper (libcurl): keep-alive, parallel
// transfers, retries with backoff on connection errors and 5xx.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace gc {

constexpr uint64_t kDefaultMaxHttpBody = 64ull << 20;

struct HttpCall {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;                  // request body for POST/PUT
  // Receives the response body as it arrives (only for 2xx responses). If
  // unset, the body is collected into HttpResult::body.
  std::function<Status(std::string_view chunk)> sink;
  // Without a sink: the most bytes collected into HttpResult::body. A
  // longer answer is cut off as it arrives (kInvalidArgument naming the
  // URL), so a hostile or broken server cannot fill memory.
  uint64_t max_body = kDefaultMaxHttpBody;
  int retries = 3;  // on connection failures and 5xx; never on 4xx
};

struct HttpResult {
  long status = 0;
  std::string body;  // when no sink was given, or the error body of a non-2xx
  uint64_t bytes_received = 0;
};

struct HttpClientOptions {
  // "sha256//<base64>" (PublicKeyPin in common/tls.h of the server's
  // certificate): the server key this client trusts (several separated by
  // ';' while a server changes its key). The certificate is not otherwise
  // checked (goldcast's is self-signed, issued by no CA, for addresses a
  // node may reach by other routes): the pin is the trust. Only https://
  // URLs are accepted then; a mismatch is kUnauthorized, never retried.
  // Empty: http://, or https:// checked against the system's CAs.
  std::string pinned_public_key;
};

class HttpClient {
 public:
  HttpClient();
  // One client per server: its options hold for every call it makes.
  explicit HttpClient(HttpClientOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // One request. A transport failure after all retries is kNetwork naming the
  // URL; an HTTP error status is *not* an error here: check result.status.
  // With a pin, a URL that is not https:// is kInvalidArgument.
  Result<HttpResult> Call(HttpCall call);

  // Runs `calls` with at most `max_parallel` in flight over reused
  // connections. Returns one result per call, in order; the first transport
  // error or sink error stops the batch and is returned.
  Result<std::vector<HttpResult>> CallAll(std::vector<HttpCall> calls, int max_parallel);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Percent-encodes a query argument value.
std::string UrlEncode(std::string_view value);

}  // namespace gc
