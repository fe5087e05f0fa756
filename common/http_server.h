// HttpServer: the one embedded HTTP server (libmicrohttpd), used by the
// golden client's capture endpoint and by `goldcast serve`. Handlers are
// plain functions from Request to Response; the server enforces body limits,
// answers Range requests for file responses and uses sendfile for them.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/unique_fd.h"

namespace gc {

struct HttpRequest {
  std::string method;                          // "GET", "POST", ...
  std::string path;                            // URL path, percent-decoded, without the query
  std::map<std::string, std::string> query;    // decoded query arguments
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;
  std::string remote_address;
};

class HttpResponse {
 public:
  // Produces the next bytes of a streamed body into `buffer`; returns the
  // number written, 0 at the end, or an error (the connection is dropped).
  using StreamFn = std::function<Result<size_t>(char* buffer, size_t max)>;

  static HttpResponse Text(int status, std::string body,
                           std::string content_type = "text/plain; charset=utf-8");
  static HttpResponse Json(int status, std::string body);
  // The whole file from `fd`, sent with sendfile; honours Range.
  static HttpResponse File(UniqueFd fd, uint64_t size,
                           std::string content_type = "application/octet-stream");
  // A body of unknown length, sent chunked.
  static HttpResponse Stream(StreamFn producer,
                             std::string content_type = "application/octet-stream");

  HttpResponse& AddHeader(std::string name, std::string value);

  int status = 200;
  std::string content_type;
  std::string body;
  std::shared_ptr<UniqueFd> file;  // set for File responses
  uint64_t file_size = 0;
  StreamFn stream;  // set for Stream responses
  std::vector<std::pair<std::string, std::string>> headers;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

// What a request may send, decided from its head alone (method, path,
// query, headers, remote address; the body still unread): a refusal,
// answered at once without reading a byte of the body (a 401 before an
// unauthenticated client can make the server buffer anything), or how many
// body bytes it may send (more gets 413, also as they arrive).
struct HttpAdmission {
  std::optional<HttpResponse> refusal;
  size_t max_body_bytes = 0;
};
using HttpAdmitter = std::function<HttpAdmission(const HttpRequest& head)>;

struct HttpServerOptions {
  std::string address = "0.0.0.0";   // IPv4 literal to bind
  uint16_t port = 0;                 // 0 = pick a free port
  size_t max_body_bytes = 64 << 20;  // without `admit`: larger request bodies get 413
  // Asked once per request before its body; unset admits every request
  // with max_body_bytes.
  HttpAdmitter admit;
  // Connections one client address may hold at once (0: no limit), so a
  // client holding many half-sent requests cannot starve the others; and
  // how long a connection may stay silent.
  unsigned max_connections_per_address = 0;
  unsigned idle_timeout_s = 120;
  unsigned threads = 8;
  // HTTPS: the PEM certificate (or chain, leaf first) and its unencrypted
  // private key (common/tls.h makes and loads them). Both set: TLS 1.2 or
  // 1.3 only, a plain HTTP request on the port fails its handshake; both
  // empty: plain HTTP.
  std::string tls_cert_pem;
  std::string tls_key_pem;
};

class HttpServer {
 public:
  // Binds and starts serving on background threads. A port in use or a bad
  // address is a clear error naming address:port, as is a certificate or
  // key libmicrohttpd refuses.
  static Result<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options,
                                                   HttpHandler handler);
  virtual ~HttpServer() = default;
  virtual uint16_t port() const = 0;
  virtual void Stop() = 0;
};

}  // namespace gc
