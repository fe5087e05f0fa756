// HttpServer against HttpClient on 127.0.0.1, plus a raw socket client where
// the exact response headers matter: request parsing, bodies and their
// limit, files and ranges, streaming, handler failures, binding and Stop.
// Client-side behaviour (retries, sinks, CallAll, load) is in
// http_client_test.cc.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <cctype>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/http_client.h"
#include "common/http_server.h"
#include "common/unique_fd.h"
#include "tests/testing/http_test_support.h"
#include "tests/testing/temp_dir.h"

namespace gc {
namespace {

using http_testing::Get;
using http_testing::Pattern;
using http_testing::PatternStream;
using http_testing::StartOrDie;
using http_testing::Url;
using ::testing::HasSubstr;

struct RawResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;                            // as sent (chunked stays chunked)
};

// Sends `request` verbatim and reads until the server closes.
RawResponse RawRequest(uint16_t port, const std::string& request) {
  RawResponse response;
  UniqueFd sock(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  EXPECT_TRUE(sock.valid());
  struct sockaddr_in addr {};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (::connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ADD_FAILURE() << "connect to port " << port << " failed";
    return response;
  }
  EXPECT_EQ(::send(sock.get(), request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));
  std::string raw;
  char buffer[65536];
  ssize_t got;
  while ((got = ::recv(sock.get(), buffer, sizeof(buffer), 0)) > 0) raw.append(buffer, got);
  size_t end = raw.find("\r\n\r\n");
  if (end == std::string::npos) {
    ADD_FAILURE() << "no header end in response: " << raw.substr(0, 200);
    return response;
  }
  std::string head = raw.substr(0, end);
  response.body = raw.substr(end + 4);
  size_t line_end = head.find("\r\n");
  std::string status_line = head.substr(0, line_end);
  response.status = std::atoi(status_line.substr(status_line.find(' ') + 1).c_str());
  size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    size_t next = head.find("\r\n", pos);
    if (next == std::string::npos) next = head.size();
    std::string line = head.substr(pos, next - pos);
    size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      size_t value = line.find_first_not_of(' ', colon + 1);
      response.headers[name] = value == std::string::npos ? "" : line.substr(value);
    }
    pos = next + 2;
  }
  return response;
}

RawResponse RawGet(uint16_t port, const std::string& path, const std::string& extra = "") {
  return RawRequest(port, "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra +
                              "Connection: close\r\n\r\n");
}

TEST(HttpServerTest, GetText) {
  auto server = StartOrDie(
      [](const HttpRequest& request) { return HttpResponse::Text(200, "hello " + request.path); });
  HttpClient client;
  Result<HttpResult> result = client.Call(Get(Url(*server, "/greeting")));
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_EQ(result->status, 200);
  EXPECT_EQ(result->body, "hello /greeting");
  EXPECT_EQ(result->bytes_received, result->body.size());

  RawResponse raw = RawGet(server->port(), "/x");
  EXPECT_EQ(raw.status, 200);
  EXPECT_EQ(raw.headers["content-type"], "text/plain; charset=utf-8");
  EXPECT_EQ(raw.body, "hello /x");
}

TEST(HttpServerTest, QueryValueWithNulByteIs400AndNeverReachesTheHandler) {
  std::atomic<int> calls{0};
  auto server = StartOrDie([&](const HttpRequest&) {
    ++calls;
    return HttpResponse::Text(200, "handled");
  });
  HttpClient client;
  auto result = client.Call(Get(Url(*server, "/boot/ipxe?mac=52:54:00:77:64:03%00junk")));
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_EQ(result->status, 400);
  EXPECT_NE(result->body.find("'mac'"), std::string::npos);
  EXPECT_EQ(calls.load(), 0);
  auto plain = client.Call(Get(Url(*server, "/boot/ipxe?mac=52%3A54%3A00%3A77%3A64%3A03")));
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->status, 200);
  EXPECT_EQ(calls.load(), 1);
}

TEST(HttpServerTest, JsonAndExtraHeadersOnASingleThread) {
  HttpServerOptions options;
  options.threads = 1;  // no thread pool
  auto server = StartOrDie(
      [](const HttpRequest&) {
        return HttpResponse::Json(201, R"({"ok":true})").AddHeader("X-Goldcast", "yes");
      },
      options);
  RawResponse raw = RawGet(server->port(), "/");
  EXPECT_EQ(raw.status, 201);
  EXPECT_EQ(raw.headers["content-type"], "application/json");
  EXPECT_EQ(raw.headers["x-goldcast"], "yes");
  EXPECT_EQ(raw.body, R"({"ok":true})");
}

TEST(HttpServerTest, ParsesPathQueryHeadersAndRemoteAddress) {
  std::mutex mutex;
  HttpRequest seen;
  auto server = StartOrDie([&](const HttpRequest& request) {
    std::lock_guard<std::mutex> lock(mutex);
    seen = request;
    return HttpResponse::Text(200, "ok");
  });
  HttpClient client;
  HttpCall call = Get(Url(*server, "/a%20b/c?mac=" + UrlEncode("aa:bb cc&d") + "&flag&n=1"));
  call.headers = {"X-Custom-Thing: Some Value", "Authorization: Bearer t0k"};
  Result<HttpResult> result = client.Call(call);
  ASSERT_TRUE(result.ok()) << result.status().message();
  std::lock_guard<std::mutex> lock(mutex);
  EXPECT_EQ(seen.method, "GET");
  EXPECT_EQ(seen.path, "/a b/c");
  EXPECT_EQ(seen.query["mac"], "aa:bb cc&d");
  EXPECT_EQ(seen.query["n"], "1");
  ASSERT_TRUE(seen.query.count("flag"));
  EXPECT_EQ(seen.query["flag"], "");
  EXPECT_EQ(seen.headers["x-custom-thing"], "Some Value");
  EXPECT_EQ(seen.headers["authorization"], "Bearer t0k");
  EXPECT_EQ(seen.headers.count("X-Custom-Thing"), 0u);
  EXPECT_EQ(seen.remote_address, "127.0.0.1");
  EXPECT_TRUE(seen.body.empty());
}

TEST(HttpServerTest, PostAndPutBodiesAreEchoed) {
  auto server = StartOrDie([](const HttpRequest& request) {
    return HttpResponse::Text(200, request.method + ":" + request.body);
  });
  HttpClient client;
  std::string payload = Pattern(300 << 10);  // binary, includes NUL bytes
  for (const char* method : {"POST", "PUT"}) {
    HttpCall call = Get(Url(*server, "/echo"));
    call.method = method;
    call.body = payload;
    Result<HttpResult> result = client.Call(call);
    ASSERT_TRUE(result.ok()) << result.status().message();
    EXPECT_EQ(result->status, 200);
    EXPECT_EQ(result->body, std::string(method) + ":" + payload);
  }
}

// A handler that counts its calls and answers the body's size.
HttpHandler CountBodySizes(std::atomic<int>* calls) {
  return [calls](const HttpRequest& request) {
    ++*calls;
    return HttpResponse::Text(200, std::to_string(request.body.size()));
  };
}

TEST(HttpServerTest, TooLargeBodyIs413AndNeverReachesTheHandler) {
  std::atomic<int> calls{0};
  HttpServerOptions options;
  options.max_body_bytes = 4096;
  auto server = StartOrDie(CountBodySizes(&calls), options);
  HttpClient client;
  HttpCall call = Get(Url(*server, "/upload"));
  call.method = "POST";
  call.body = std::string(4096, 'x');
  Result<HttpResult> at_limit = client.Call(call);
  ASSERT_TRUE(at_limit.ok()) << at_limit.status().message();
  EXPECT_EQ(at_limit->status, 200);
  EXPECT_EQ(at_limit->body, "4096");
  EXPECT_EQ(calls.load(), 1);

  for (size_t size : {size_t{4097}, size_t{2} << 20}) {
    call.body = std::string(size, 'y');
    Result<HttpResult> too_large = client.Call(call);
    ASSERT_TRUE(too_large.ok()) << too_large.status().message();
    EXPECT_EQ(too_large->status, 413) << size;
    EXPECT_THAT(too_large->body, HasSubstr("4096"));
  }
  // Chunked: no Content-Length, so the limit is found while reading.
  call.headers = {"Transfer-Encoding: chunked"};
  call.body = std::string(64 << 10, 'z');
  Result<HttpResult> chunked = client.Call(call);
  ASSERT_TRUE(chunked.ok()) << chunked.status().message();
  EXPECT_EQ(chunked->status, 413);
  EXPECT_EQ(calls.load(), 1);

  // The server is still fine afterwards.
  call.headers.clear();
  call.body = "small";
  Result<HttpResult> after = client.Call(call);
  ASSERT_TRUE(after.ok()) << after.status().message();
  EXPECT_EQ(after->body, "5");
}

// Admission decides from the head alone: a refused request is answered at
// once, its body never buffered, and the handler never sees it; an
// admitted one may send what its admission says, per request.
TEST(HttpServerTest, AdmissionRefusesOrLimitsBeforeTheBody) {
  std::atomic<int> calls{0};
  std::atomic<int> admissions{0};
  HttpServerOptions options;
  options.admit = [&](const HttpRequest& head) {
    ++admissions;
    EXPECT_TRUE(head.body.empty());
    HttpAdmission admission;
    auto auth = head.headers.find("authorization");
    if (auth == head.headers.end() || auth->second != "Bearer ok") {
      admission.refusal = HttpResponse::Text(401, "who are you\n");
    } else {
      admission.max_body_bytes = head.path == "/big" ? 1 << 20 : 16;
    }
    return admission;
  };
  auto server = StartOrDie(CountBodySizes(&calls), options);
  HttpClient client;
  HttpCall call = Get(Url(*server, "/big"));
  call.method = "POST";
  call.body = std::string(8 << 20, 'x');
  Result<HttpResult> refused = client.Call(call);
  ASSERT_TRUE(refused.ok()) << refused.status().message();
  EXPECT_EQ(refused->status, 401);
  EXPECT_EQ(refused->body, "who are you\n");
  EXPECT_EQ(calls.load(), 0);

  call.headers = {"Authorization: Bearer ok"};
  call.body = std::string(1 << 20, 'x');
  Result<HttpResult> big = client.Call(call);
  ASSERT_TRUE(big.ok()) << big.status().message();
  EXPECT_EQ(big->body, "1048576");
  call.url = Url(*server, "/small");
  Result<HttpResult> small = client.Call(call);
  ASSERT_TRUE(small.ok()) << small.status().message();
  EXPECT_EQ(small->status, 413);
  EXPECT_THAT(small->body, HasSubstr("exceeds the limit of 16 bytes for POST /small"));
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(admissions.load(), 3);
}

class HttpFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.Sub("object");
    data_ = Pattern(100000);
    testing::WriteTestFile(path_, data_);
    server_ = StartOrDie([this](const HttpRequest&) {
      UniqueFd fd(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
      if (!fd.valid()) return HttpResponse::Text(500, "open failed");
      return HttpResponse::File(std::move(fd), data_.size());
    });
  }

  testing::TempDir dir_;
  std::string path_;
  std::string data_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpFileTest, WholeFile) {
  HttpClient client;
  std::string received;
  HttpCall call = Get(Url(*server_, "/o"));
  call.sink = [&](std::string_view chunk) {
    received.append(chunk);
    return Status::Ok();
  };
  Result<HttpResult> result = client.Call(call);
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_EQ(result->status, 200);
  EXPECT_TRUE(result->body.empty());
  EXPECT_EQ(result->bytes_received, data_.size());
  EXPECT_TRUE(received == data_);

  RawResponse raw = RawGet(server_->port(), "/o");
  EXPECT_EQ(raw.status, 200);
  EXPECT_EQ(raw.headers["accept-ranges"], "bytes");
  EXPECT_EQ(raw.headers["content-length"], "100000");
  EXPECT_EQ(raw.headers["content-type"], "application/octet-stream");
  EXPECT_TRUE(raw.body == data_);
}

TEST_F(HttpFileTest, Ranges) {
  struct Case {
    const char* range;
    int status;
    size_t first;
    size_t length;
    const char* content_range;
  };
  const Case cases[] = {
      {"bytes=0-99", 206, 0, 100, "bytes 0-99/100000"},
      {"bytes=1000-1999", 206, 1000, 1000, "bytes 1000-1999/100000"},
      {"bytes=-100", 206, 99900, 100, "bytes 99900-99999/100000"},
      {"bytes=99990-", 206, 99990, 10, "bytes 99990-99999/100000"},
      {"bytes=99990-500000", 206, 99990, 10, "bytes 99990-99999/100000"},
      {"bytes=-200000", 206, 0, 100000, "bytes 0-99999/100000"},
      {"bytes=0-1,5-6", 200, 0, 100000, nullptr},  // multiple: whole file
      {"pages=1-2", 200, 0, 100000, nullptr},      // unknown unit: ignored
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.range);
    RawResponse raw = RawGet(server_->port(), "/o", std::string("Range: ") + c.range + "\r\n");
    EXPECT_EQ(raw.status, c.status);
    EXPECT_EQ(raw.headers["accept-ranges"], "bytes");
    EXPECT_EQ(raw.headers["content-length"], std::to_string(c.length));
    EXPECT_TRUE(raw.body == data_.substr(c.first, c.length));
    if (c.content_range) {
      EXPECT_EQ(raw.headers["content-range"], c.content_range);
    } else {
      EXPECT_EQ(raw.headers.count("content-range"), 0u);
    }
  }
  for (const char* range : {"bytes=100000-", "bytes=200000-300000", "bytes=-0"}) {
    SCOPED_TRACE(range);
    RawResponse raw = RawGet(server_->port(), "/o", std::string("Range: ") + range + "\r\n");
    EXPECT_EQ(raw.status, 416);
    EXPECT_EQ(raw.headers["content-range"], "bytes */100000");
  }
}

TEST_F(HttpFileTest, RangeThroughClient) {
  HttpClient client;
  HttpCall call = Get(Url(*server_, "/o"));
  call.headers = {"Range: bytes=50000-"};
  Result<HttpResult> result = client.Call(call);
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_EQ(result->status, 206);
  EXPECT_TRUE(result->body == data_.substr(50000));
}

TEST(HttpServerTest, StreamsOneMebibyteChunked) {
  constexpr size_t kTotal = 1 << 20;
  auto server = StartOrDie([](const HttpRequest&) { return PatternStream(kTotal, 7777); });
  HttpClient client;
  Result<HttpResult> collected = client.Call(Get(Url(*server, "/tar")));
  ASSERT_TRUE(collected.ok()) << collected.status().message();
  EXPECT_EQ(collected->status, 200);
  EXPECT_EQ(collected->body.size(), kTotal);
  EXPECT_TRUE(collected->body == Pattern(kTotal));

  std::string sunk;
  HttpCall call = Get(Url(*server, "/tar"));
  call.sink = [&](std::string_view chunk) {
    sunk.append(chunk);
    return Status::Ok();
  };
  Result<HttpResult> streamed = client.Call(call);
  ASSERT_TRUE(streamed.ok()) << streamed.status().message();
  EXPECT_EQ(streamed->bytes_received, kTotal);
  EXPECT_TRUE(sunk == Pattern(kTotal));

  RawResponse raw = RawGet(server->port(), "/tar");
  EXPECT_EQ(raw.headers["transfer-encoding"], "chunked");
  EXPECT_EQ(raw.headers.count("content-length"), 0u);
}

TEST(HttpServerTest, HandlerExceptionIs500) {
  auto server = StartOrDie([](const HttpRequest& request) -> HttpResponse {
    if (request.path == "/boom") throw std::runtime_error("handler bug");
    return HttpResponse::Text(200, "fine");
  });
  HttpClient client;
  HttpCall call = Get(Url(*server, "/boom"));
  call.retries = 0;
  Result<HttpResult> result = client.Call(call);
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_EQ(result->status, 500);
  Result<HttpResult> after = client.Call(Get(Url(*server, "/ok")));
  ASSERT_TRUE(after.ok()) << after.status().message();
  EXPECT_EQ(after->body, "fine");
}

TEST(HttpServerTest, PortInUseNamesAddressAndPort) {
  auto first = StartOrDie([](const HttpRequest&) { return HttpResponse::Text(200, ""); });
  HttpServerOptions options;
  options.address = "127.0.0.1";
  options.port = first->port();
  Result<std::unique_ptr<HttpServer>> second =
      HttpServer::Start(options, [](const HttpRequest&) { return HttpResponse::Text(200, ""); });
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Code::kBusy);
  EXPECT_THAT(second.status().message(), HasSubstr("127.0.0.1:" + std::to_string(first->port())));
  EXPECT_THAT(second.status().message(), HasSubstr("in use"));
}

TEST(HttpServerTest, BadAddressIsAnError) {
  for (const char* address : {"not-an-ip", "256.1.1.1", ""}) {
    HttpServerOptions options;
    options.address = address;
    options.port = 8123;
    Result<std::unique_ptr<HttpServer>> server =
        HttpServer::Start(options, [](const HttpRequest&) { return HttpResponse::Text(200, ""); });
    ASSERT_FALSE(server.ok()) << address;
    EXPECT_EQ(server.status().code(), Code::kInvalidArgument);
    EXPECT_THAT(server.status().message(), HasSubstr(std::string(address) + ":8123"));
  }
}

TEST(HttpServerTest, StopIsIdempotentAndRefusesAfterwards) {
  auto server = StartOrDie([](const HttpRequest&) { return HttpResponse::Text(200, "up"); });
  std::string url = Url(*server, "/");
  HttpClient client;
  ASSERT_TRUE(client.Call(Get(url)).ok());
  server->Stop();
  server->Stop();
  HttpCall call = Get(url);
  call.retries = 0;
  Result<HttpResult> result = client.Call(call);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), Code::kNetwork);
}

}  // namespace
}  // namespace gc
