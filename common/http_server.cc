#include "common/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cctype>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "common/log.h"

namespace gc {

HttpResponse HttpResponse::Text(int status, std::string body, std::string content_type) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  response.content_type = std::move(content_type);
  return response;
}

HttpResponse HttpResponse::Json(int status, std::string body) {
  return Text(status, std::move(body), "application/json");
}

HttpResponse HttpResponse::File(UniqueFd fd, uint64_t size, std::string content_type) {
  HttpResponse response;
  response.file = std::make_shared<UniqueFd>(std::move(fd));
  response.file_size = size;
  response.content_type = std::move(content_type);
  return response;
}

HttpResponse HttpResponse::Stream(StreamFn producer, std::string content_type) {
  HttpResponse response;
  response.stream = std::move(producer);
  response.content_type = std::move(content_type);
  return response;
}

HttpResponse& HttpResponse::AddHeader(std::string name, std::string value) {
  headers.emplace_back(std::move(name), std::move(value));
  return *this;
}

namespace {

// Each connection's pool: the request head and what MHD keeps to answer
// it (bodies and streamed answers have buffers of their own). MHD maps and
// clears it for every connection: at 128 KiB that was a fifth of serve's
// time in a boot storm of short requests (page faults and memset).
constexpr size_t kConnectionMemory = 32 << 10;
// libmicrohttpd's default (~1,000, split over the thread pool) left a boot
// storm of more clients waiting for the 120 s timeout; poll has no fd cap,
// the process's open-file limit is the real bound.
constexpr unsigned kConnectionLimit = 16384;
constexpr size_t kStreamBlock = 64 << 10;

// What MHD keeps for one request between the calls of the access handler.
struct RequestContext {
  HttpRequest request;  // the head from the first call; the body gathers here
  size_t max_body = 0;  // from the admission
  bool too_large = false;
};

// A byte range [first, last] of a file, inclusive as in Content-Range.
struct ByteRange {
  uint64_t first;
  uint64_t last;
};

enum class RangeKind { kWhole, kPartial, kUnsatisfiable };

std::optional<uint64_t> ParseDecimal(std::string_view text) {
  if (text.empty() || text.size() > 19) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  return value;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// A single-range "bytes=" header. Malformed headers and multiple ranges are
// answered with the whole file, which RFC 9110 allows (a server may ignore
// Range).
RangeKind ParseRange(std::string_view header, uint64_t size, ByteRange* range) {
  header = Trim(header);
  constexpr std::string_view kPrefix = "bytes=";
  if (header.substr(0, kPrefix.size()) != kPrefix) return RangeKind::kWhole;
  std::string_view spec = Trim(header.substr(kPrefix.size()));
  if (spec.find(',') != std::string_view::npos) return RangeKind::kWhole;
  size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return RangeKind::kWhole;
  std::string_view first_text = Trim(spec.substr(0, dash));
  std::string_view last_text = Trim(spec.substr(dash + 1));
  if (first_text.empty()) {
    std::optional<uint64_t> suffix = ParseDecimal(last_text);
    if (!suffix) return RangeKind::kWhole;
    if (*suffix == 0 || size == 0) return RangeKind::kUnsatisfiable;
    range->first = *suffix >= size ? 0 : size - *suffix;
    range->last = size - 1;
    return RangeKind::kPartial;
  }
  std::optional<uint64_t> first = ParseDecimal(first_text);
  if (!first) return RangeKind::kWhole;
  uint64_t last = UINT64_MAX;
  if (!last_text.empty()) {
    std::optional<uint64_t> parsed = ParseDecimal(last_text);
    if (!parsed || *parsed < *first) return RangeKind::kWhole;
    last = *parsed;
  }
  if (*first >= size) return RangeKind::kUnsatisfiable;
  range->first = *first;
  range->last = last >= size ? size - 1 : last;
  return RangeKind::kPartial;
}

enum MHD_Result CollectHeader(void* cls, enum MHD_ValueKind, const char* key, const char* value) {
  auto* headers = static_cast<std::map<std::string, std::string>*>(cls);
  std::string name(key ? key : "");
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string text(value ? value : "");
  auto [it, inserted] = headers->emplace(std::move(name), text);
  // Repeated headers combine into one comma-separated list (RFC 9110 5.3).
  if (!inserted) it->second += ", " + text;
  return MHD_YES;
}

struct QueryCollector {
  std::map<std::string, std::string>* query;
  std::string bad_argument;  // set if a key or value held a NUL byte
};

// With lengths: libmicrohttpd decodes "%00" into a NUL, and a C-string view
// of the value would silently cut it there ("mac=52:54:...%00junk").
enum MHD_Result CollectQuery(void* cls, enum MHD_ValueKind, const char* key, size_t key_size,
                             const char* value, size_t value_size) {
  auto* collector = static_cast<QueryCollector*>(cls);
  std::string name(key ? key : "", key ? key_size : 0);
  std::string text(value ? value : "", value ? value_size : 0);
  if (name.find('\0') != std::string::npos || text.find('\0') != std::string::npos) {
    if (collector->bad_argument.empty()) collector->bad_argument = name.substr(0, name.find('\0'));
    return MHD_YES;
  }
  // The first occurrence wins; a bare "?flag" has an empty value.
  collector->query->emplace(std::move(name), std::move(text));
  return MHD_YES;
}

std::string RemoteAddress(struct MHD_Connection* connection) {
  const union MHD_ConnectionInfo* info =
      MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  if (info == nullptr || info->client_addr == nullptr) return "";
  char text[INET6_ADDRSTRLEN] = {};
  const struct sockaddr* addr = info->client_addr;
  if (addr->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const struct sockaddr_in*>(addr);
    if (inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text)) == nullptr) return "";
  } else if (addr->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const struct sockaddr_in6*>(addr);
    if (inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text)) == nullptr) return "";
  }
  return text;
}

void FreeString(void* cls) { std::unique_ptr<std::string>(static_cast<std::string*>(cls)); }

// MHD copies nothing: it sends from the string we hand over and frees it
// with the response, so a large JSON body is not duplicated.
struct MHD_Response* BufferResponse(std::string body) {
  auto owned = std::make_unique<std::string>(std::move(body));
  struct MHD_Response* response = MHD_create_response_from_buffer_with_free_callback_cls(
      owned->size(), owned->data(), &FreeString, owned.get());
  if (response != nullptr) owned.release();
  return response;
}

ssize_t ReadStream(void* cls, uint64_t, char* buffer, size_t max) {
  auto* producer = static_cast<HttpResponse::StreamFn*>(cls);
  try {
    Result<size_t> produced = (*producer)(buffer, max);
    if (!produced.ok()) {
      GC_LOG(Warning) << "HTTP stream aborted: " << produced.status().message();
      return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    if (*produced == 0) return MHD_CONTENT_READER_END_OF_STREAM;
    if (*produced > max) {
      GC_LOG(Warning) << "HTTP stream producer claimed " << *produced << " bytes of a " << max
                      << "-byte buffer; dropping the connection";
      return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    return static_cast<ssize_t>(*produced);
  } catch (const std::exception& e) {
    GC_LOG(Warning) << "HTTP stream producer threw: " << e.what();
  } catch (...) {
    GC_LOG(Warning) << "HTTP stream producer threw a non-standard exception";
  }
  return MHD_CONTENT_READER_END_WITH_ERROR;
}

void FreeStream(void* cls) {
  std::unique_ptr<HttpResponse::StreamFn>(static_cast<HttpResponse::StreamFn*>(cls));
}

bool AddHeader(struct MHD_Response* response, const std::string& name, const std::string& value) {
  if (MHD_add_response_header(response, name.c_str(), value.c_str()) == MHD_YES) return true;
  GC_LOG(Warning) << "HTTP server: dropped invalid response header '" << name << "'";
  return false;
}

enum MHD_Result QueueText(struct MHD_Connection* connection, int status, std::string body) {
  struct MHD_Response* response = BufferResponse(std::move(body));
  if (response == nullptr) return MHD_NO;
  AddHeader(response, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
  enum MHD_Result result = MHD_queue_response(connection, static_cast<unsigned>(status), response);
  MHD_destroy_response(response);
  return result;
}

// Builds the MHD response for a File response, applying the Range header.
struct MHD_Response* FileResponse(const HttpResponse& reply, const char* range_header,
                                  int* status) {
  struct MHD_Response* response = nullptr;
  uint64_t size = reply.file_size;
  ByteRange range{0, 0};
  RangeKind kind = RangeKind::kWhole;
  if (range_header != nullptr && *status == 200) kind = ParseRange(range_header, size, &range);
  if (kind == RangeKind::kUnsatisfiable) {
    response = BufferResponse("requested range not satisfiable\n");
    if (response == nullptr) return nullptr;
    *status = 416;
    AddHeader(response, MHD_HTTP_HEADER_CONTENT_RANGE, "bytes */" + std::to_string(size));
    AddHeader(response, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
    return response;
  }
  // MHD closes the descriptor it is given; the HttpResponse keeps its own.
  int fd = fcntl(reply.file->get(), F_DUPFD_CLOEXEC, 0);
  if (fd < 0) {
    GC_LOG(Warning) << "HTTP server: cannot duplicate file descriptor: " << std::strerror(errno);
    return nullptr;
  }
  if (kind == RangeKind::kPartial) {
    response =
        MHD_create_response_from_fd_at_offset64(range.last - range.first + 1, fd, range.first);
  } else {
    response = MHD_create_response_from_fd_at_offset64(size, fd, 0);
  }
  if (response == nullptr) {
    ::close(fd);
    return nullptr;
  }
  if (kind == RangeKind::kPartial) {
    *status = 206;
    AddHeader(response, MHD_HTTP_HEADER_CONTENT_RANGE,
              "bytes " + std::to_string(range.first) + "-" + std::to_string(range.last) + "/" +
                  std::to_string(size));
  }
  AddHeader(response, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
  return response;
}

enum MHD_Result QueueReply(struct MHD_Connection* connection, HttpResponse reply) {
  int status = reply.status;
  struct MHD_Response* response = nullptr;
  if (reply.file) {
    if (!reply.file->valid()) {
      GC_LOG(Warning) << "HTTP server: handler returned a File response without a file";
      return QueueText(connection, 500, "internal error: no file to send\n");
    }
    response = FileResponse(
        reply, MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_RANGE),
        &status);
  } else if (reply.stream) {
    auto producer = std::make_unique<HttpResponse::StreamFn>(std::move(reply.stream));
    response = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, kStreamBlock, &ReadStream,
                                                 producer.get(), &FreeStream);
    if (response != nullptr) producer.release();
  } else {
    response = BufferResponse(std::move(reply.body));
  }
  if (response == nullptr) return MHD_NO;
  if (!reply.content_type.empty()) {
    AddHeader(response, MHD_HTTP_HEADER_CONTENT_TYPE, reply.content_type);
  }
  for (const auto& [name, value] : reply.headers) AddHeader(response, name, value);
  enum MHD_Result result = MHD_queue_response(connection, static_cast<unsigned>(status), response);
  MHD_destroy_response(response);
  return result;
}

class MhdServer final : public HttpServer {
 public:
  MhdServer(HttpHandler handler, HttpAdmitter admit)
      : handler_(std::move(handler)), admit_(std::move(admit)) {}
  ~MhdServer() override { Stop(); }

  uint16_t port() const override { return port_; }

  void Stop() override {
    std::lock_guard<std::mutex> lock(stop_mutex_);
    if (daemon_ == nullptr) return;
    // Waits for the worker threads, so no handler runs after Stop returns.
    MHD_stop_daemon(daemon_);
    daemon_ = nullptr;
  }

  Status Run(const HttpServerOptions& options);

 private:
  static enum MHD_Result Access(void* cls, struct MHD_Connection* connection, const char* url,
                                const char* method, const char* version, const char* upload_data,
                                size_t* upload_data_size, void** con_cls);
  enum MHD_Result Receive(struct MHD_Connection* connection, const char* url, const char* method,
                          const char* upload_data, size_t* upload_data_size, void** con_cls);
  static void Completed(void* cls, struct MHD_Connection* connection, void** con_cls,
                        enum MHD_RequestTerminationCode toe);

  // The handler's answer to the request gathered in `context`.
  enum MHD_Result Serve(struct MHD_Connection* connection, RequestContext* context);

  // The request as far as it is known before its body.
  static Result<HttpRequest> Head(struct MHD_Connection* connection, const char* url,
                                  const char* method);

  HttpHandler handler_;
  HttpAdmitter admit_;
  std::string tls_cert_pem_;
  std::string tls_key_pem_;
  uint16_t port_ = 0;
  std::mutex stop_mutex_;
  struct MHD_Daemon* daemon_ = nullptr;
};

void LogFromMhd(void*, const char* format, va_list args) {
  char text[1024];
  std::vsnprintf(text, sizeof(text), format, args);
  std::string_view message(text);
  while (!message.empty() && message.back() == '\n') message.remove_suffix(1);
  GC_LOG(Debug) << "libmicrohttpd: " << message;
}

enum MHD_Result MhdServer::Access(void* cls, struct MHD_Connection* connection, const char* url,
                                  const char* method, const char*, const char* upload_data,
                                  size_t* upload_data_size, void** con_cls) {
  // Nothing may unwind through libmicrohttpd's C frames (bad_alloc here);
  // MHD_NO drops the connection instead.
  try {
    return static_cast<MhdServer*>(cls)->Receive(connection, url, method, upload_data,
                                                 upload_data_size, con_cls);
  } catch (const std::exception& e) {
    GC_LOG(Warning) << "HTTP server dropped a connection: " << e.what();
  } catch (...) {
    GC_LOG(Warning) << "HTTP server dropped a connection after a non-standard exception";
  }
  return MHD_NO;
}

enum MHD_Result MhdServer::Receive(struct MHD_Connection* connection, const char* url,
                                   const char* method, const char* upload_data,
                                   size_t* upload_data_size, void** con_cls) {
  auto* context = static_cast<RequestContext*>(*con_cls);
  if (context == nullptr) {
    // First call: only the head is known. Refusing here answers before
    // "100 Continue", so the client never sends its body.
    auto owned = std::make_unique<RequestContext>();
    *con_cls = owned.get();
    context = owned.release();
    Result<HttpRequest> head = Head(connection, url, method);
    if (!head.ok()) return QueueReply(connection, HttpResponse::Text(400, head.status().message()));
    context->request = std::move(head).value();
    HttpAdmission admission = admit_(context->request);
    if (admission.refusal) return QueueReply(connection, std::move(*admission.refusal));
    context->max_body = admission.max_body_bytes;
    const char* length =
        MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (length != nullptr) {
      std::optional<uint64_t> bytes = ParseDecimal(Trim(length));
      if (bytes && *bytes > context->max_body) {
        return QueueText(connection, 413,
                         "request body of " + std::to_string(*bytes) +
                             " bytes exceeds the limit of " + std::to_string(context->max_body) +
                             " bytes for " + context->request.method + " " +
                             context->request.path.substr(0, 128) + "\n");
      }
    }
    return MHD_YES;
  }
  if (*upload_data_size > 0) {
    // Chunked bodies have no Content-Length: count them and drop the data
    // once past the limit rather than buffer it.
    if (!context->too_large) {
      std::string& body = context->request.body;
      if (body.size() + *upload_data_size > context->max_body) {
        context->too_large = true;
        std::string().swap(body);
      } else {
        body.append(upload_data, *upload_data_size);
      }
    }
    *upload_data_size = 0;
    return MHD_YES;
  }
  if (context->too_large) {
    return QueueText(
        connection, 413,
        "request body exceeds the limit of " + std::to_string(context->max_body) + " bytes\n");
  }
  return Serve(connection, context);
}

Result<HttpRequest> MhdServer::Head(struct MHD_Connection* connection, const char* url,
                                    const char* method) {
  HttpRequest request;
  request.method = method ? method : "";
  request.path = url ? url : "";
  request.remote_address = RemoteAddress(connection);
  QueryCollector query{&request.query, ""};
  MHD_get_connection_values_n(connection, MHD_GET_ARGUMENT_KIND, &CollectQuery, &query);
  MHD_get_connection_values(connection, MHD_HEADER_KIND, &CollectHeader, &request.headers);
  if (!query.bad_argument.empty()) {
    return InvalidArgument("query argument '" + query.bad_argument.substr(0, 64) +
                           "' contains a NUL byte\n");
  }
  return request;
}

enum MHD_Result MhdServer::Serve(struct MHD_Connection* connection, RequestContext* context) {
  HttpRequest request = std::move(context->request);
  try {
    return QueueReply(connection, handler_(request));
  } catch (const std::exception& e) {
    GC_LOG(Warning) << "HTTP handler for " << request.method << " " << request.path
                    << " threw: " << e.what();
  } catch (...) {
    GC_LOG(Warning) << "HTTP handler for " << request.method << " " << request.path
                    << " threw a non-standard exception";
  }
  return QueueText(connection, 500, "internal server error\n");
}

void MhdServer::Completed(void*, struct MHD_Connection*, void** con_cls,
                          enum MHD_RequestTerminationCode) {
  std::unique_ptr<RequestContext>(static_cast<RequestContext*>(*con_cls));
  *con_cls = nullptr;
}

// Binds `where` ourselves: that gives the precise errno, which MHD would
// only log. Sets `port` to the port bound (options.port may be 0).
Result<UniqueFd> Listen(const HttpServerOptions& options, const std::string& where,
                        uint16_t* port) {
  struct sockaddr_in addr {};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(options.port);
  if (inet_pton(AF_INET, options.address.c_str(), &addr.sin_addr) != 1) {
    return InvalidArgument("HTTP server cannot listen on " + where + ": '" + options.address +
                           "' is not an IPv4 address (use e.g. 0.0.0.0 or 10.0.0.1)");
  }
  UniqueFd sock(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!sock.valid()) return ErrnoError("HTTP server cannot create a socket for " + where);
  int on = 1;
  if (setsockopt(sock.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0) {
    return ErrnoError("HTTP server cannot set SO_REUSEADDR for " + where);
  }
  if (::bind(sock.get(), reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)) != 0) {
    int err = errno;
    std::string message = "HTTP server cannot listen on " + where + ": " + std::strerror(err);
    if (err == EADDRINUSE) {
      return Status(Code::kBusy, message +
                                     " (another process listens there: find it with "
                                     "'ss -ltnp' or choose another port)");
    }
    if (err == EADDRNOTAVAIL) {
      return InvalidArgument(message + " (the address is not configured on this host)");
    }
    return ErrnoError("HTTP server cannot listen on " + where, err);
  }
  if (::listen(sock.get(), SOMAXCONN) != 0) {
    return ErrnoError("HTTP server cannot listen on " + where);
  }
  struct sockaddr_in bound {};
  socklen_t bound_len = sizeof(bound);
  if (getsockname(sock.get(), reinterpret_cast<struct sockaddr*>(&bound), &bound_len) != 0) {
    return ErrnoError("HTTP server cannot read the port bound for " + where);
  }
  *port = ntohs(bound.sin_port);
  return sock;
}

// GnuTLS's defaults without the protocol versions before TLS 1.2.
constexpr char kTlsPriorities[] = "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2";

// The MHD options for HTTPS with `cert` and `key` (both empty: plain HTTP,
// no options), ended by MHD_OPTION_END. They point into the strings.
Result<std::vector<MHD_OptionItem>> TlsOptions(const std::string& cert, const std::string& key,
                                               const std::string& where) {
  std::vector<MHD_OptionItem> items;
  if (cert.empty() != key.empty()) {
    return InvalidArgument("HTTPS server on " + where + " needs both a certificate and its key, " +
                           "got only the " + (cert.empty() ? "key" : "certificate"));
  }
  if (!cert.empty()) {
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
      return Status(Code::kUnsupported,
                    "HTTPS server on " + where +
                        ": this libmicrohttpd was built without TLS (GnuTLS); install "
                        "Debian's libmicrohttpd12, which has it");
    }
    // MHD takes `char*` for read-only strings.
    items.push_back({MHD_OPTION_HTTPS_MEM_CERT, 0, const_cast<char*>(cert.c_str())});
    items.push_back({MHD_OPTION_HTTPS_MEM_KEY, 0, const_cast<char*>(key.c_str())});
    items.push_back({MHD_OPTION_HTTPS_PRIORITIES, 0, const_cast<char*>(kTlsPriorities)});
  }
  items.push_back({MHD_OPTION_END, 0, nullptr});
  return items;
}

Status MhdServer::Run(const HttpServerOptions& options) {
  const std::string where = options.address + ":" + std::to_string(options.port);
  // Kept for the daemon's lifetime: MHD is not documented to copy them.
  tls_cert_pem_ = options.tls_cert_pem;
  tls_key_pem_ = options.tls_key_pem;
  GC_ASSIGN_OR_RETURN(std::vector<MHD_OptionItem> tls,
                      TlsOptions(tls_cert_pem_, tls_key_pem_, where));
  const bool https = tls.size() > 1;
  uint16_t bound_port = 0;
  GC_ASSIGN_OR_RETURN(UniqueFd sock, Listen(options, where, &bound_port));

  // poll, not (edge-triggered) epoll: in boot storms epoll mode now and then
  // left hundreds of requests unread until the 30 s timeout, threads idle.
  // Level-triggered poll cannot miss a ready socket, each thread polls its
  // own connections, and bench/boot measured it faster (3,198 vs 2,665 req/s).
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
  if (https) flags |= MHD_USE_TLS;
  if (LogEnabled(LogLevel::kDebug)) flags |= MHD_USE_ERROR_LOG;
  unsigned threads = options.threads == 0 ? 1 : options.threads;
  // MHD owns the listening socket from here on (closed by MHD_stop_daemon).
  // Should MHD fail to start, whether it closed it is unspecified, so it is
  // not closed again here: a leaked descriptor beats closing a reused one.
  int listen_fd = sock.Release();
  // MHD blocks SIGPIPE in its own threads, so sendfile to a closed peer
  // cannot kill the process and no process-wide signal disposition changes.
  daemon_ = MHD_start_daemon(
      flags, 0, nullptr, nullptr, &MhdServer::Access, this, MHD_OPTION_EXTERNAL_LOGGER, &LogFromMhd,
      nullptr, MHD_OPTION_LISTEN_SOCKET, listen_fd, MHD_OPTION_NOTIFY_COMPLETED,
      &MhdServer::Completed, this, MHD_OPTION_CONNECTION_TIMEOUT, options.idle_timeout_s,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, kConnectionMemory, MHD_OPTION_CONNECTION_LIMIT,
      kConnectionLimit, MHD_OPTION_PER_IP_CONNECTION_LIMIT, options.max_connections_per_address,
      MHD_OPTION_THREAD_POOL_SIZE, threads > 1 ? threads : 0u, MHD_OPTION_ARRAY, tls.data(),
      MHD_OPTION_END);
  if (daemon_ == nullptr) {
    return Status(Code::kInternal, std::string(https ? "HTTPS" : "HTTP") + " server on " + where +
                                       " failed to start (libmicrohttpd refused" +
                                       (https ? ", maybe the certificate or key" : "") +
                                       "; run with GOLDCAST_LOG=debug for its reason)");
  }
  port_ = bound_port;
  const union MHD_DaemonInfo* info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
  if (info != nullptr && info->port != 0) port_ = info->port;
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options,
                                                      HttpHandler handler) {
  if (!handler) return InvalidArgument("HTTP server started without a request handler");
  HttpAdmitter admit = options.admit;
  if (!admit) {
    admit = [max = options.max_body_bytes](const HttpRequest&) {
      HttpAdmission admission;
      admission.max_body_bytes = max;
      return admission;
    };
  }
  auto server = std::make_unique<MhdServer>(std::move(handler), std::move(admit));
  GC_RETURN_IF_ERROR(server->Run(options));
  return std::unique_ptr<HttpServer>(std::move(server));
}

}  // namespace gc
