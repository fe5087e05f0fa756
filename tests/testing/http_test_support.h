// A server on 127.0.0.1 with an ephemeral port, URLs and calls to it, and
// deterministic content: for the HttpServer/HttpClient tests and any test
// that puts a fake server in front of a client. Header-only so each test
// executable stays one source file.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <string>
#include <utility>

#include <gtest/gtest.h>
#include <unistd.h>

#include "common/http_client.h"
#include "common/http_server.h"

namespace gc::http_testing {

// Only ever 127.0.0.1: the unit tests run in a private network namespace.
inline std::unique_ptr<HttpServer> StartOrDie(HttpHandler handler, HttpServerOptions options = {}) {
  options.address = "127.0.0.1";
  Result<std::unique_ptr<HttpServer>> server = HttpServer::Start(options, std::move(handler));
  EXPECT_TRUE(server.ok()) << server.status().message();
  if (!server.ok()) std::abort();
  EXPECT_NE((*server)->port(), 0);
  return std::move(server).value();
}

inline std::string Url(const HttpServer& server, const std::string& path) {
  return "http://127.0.0.1:" + std::to_string(server.port()) + path;
}

inline HttpCall Get(std::string url) {
  HttpCall call;
  call.url = std::move(url);
  return call;
}

// Deterministic, non-repeating-looking bytes so an offset error shows.
inline std::string Pattern(size_t size, size_t start = 0) {
  std::string data(size, '\0');
  for (size_t i = 0; i < size; ++i) {
    size_t n = start + i;
    data[i] = static_cast<char>((n * 131 + n / 251) & 0xFF);
  }
  return data;
}

// A streamed response of `total` Pattern bytes, produced `chunk` at a time.
inline HttpResponse PatternStream(size_t total, size_t chunk) {
  auto sent = std::make_shared<size_t>(0);
  return HttpResponse::Stream([=](char* buffer, size_t max) -> Result<size_t> {
    size_t n = std::min({chunk, max, total - *sent});
    std::string part = Pattern(n, *sent);
    std::copy(part.begin(), part.end(), buffer);
    *sent += n;
    return n;
  });
}

// The content of a File response (a handler's answer, without a server);
// "" and a test failure for any other response.
inline std::string FileBody(const HttpResponse& response) {
  EXPECT_TRUE(response.file) << response.status << " " << response.body;
  if (!response.file) return "";
  std::string content(response.file_size, '\0');
  EXPECT_EQ(::pread(response.file->get(), content.data(), content.size(), 0),
            static_cast<ssize_t>(content.size()));
  return content;
}

}  // namespace gc::http_testing
