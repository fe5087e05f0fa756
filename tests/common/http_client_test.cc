// HttpClient against HttpServer on 127.0.0.1: retries and when not to
// retry, sinks, connection failures, CallAll's order and error handling,
// concurrent use, load, and UrlEncode. Server-side behaviour is in
// http_server_test.cc.
#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/http_client.h"
#include "common/http_server.h"
#include "tests/testing/http_test_support.h"

namespace gc {
namespace {

using http_testing::Get;
using http_testing::PatternStream;
using http_testing::StartOrDie;
using http_testing::Url;
using ::testing::HasSubstr;

TEST(HttpClientTest, RetriesServerErrorsThenSucceeds) {
  std::atomic<int> calls{0};
  auto server = StartOrDie([&](const HttpRequest& request) {
    int n = ++calls;
    if (request.path == "/missing") return HttpResponse::Text(404, "no such thing");
    if (request.path == "/always") return HttpResponse::Text(503, "down");
    return n <= 2 ? HttpResponse::Text(500, "try later") : HttpResponse::Text(200, "finally");
  });
  HttpClient client;
  Result<HttpResult> result = client.Call(Get(Url(*server, "/flaky")));
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_EQ(result->status, 200);
  EXPECT_EQ(result->body, "finally");
  EXPECT_EQ(calls.load(), 3);

  calls = 0;
  Result<HttpResult> missing = client.Call(Get(Url(*server, "/missing")));
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(missing->body, "no such thing");
  EXPECT_EQ(calls.load(), 1);  // 4xx is never retried

  calls = 0;
  HttpCall always = Get(Url(*server, "/always"));
  always.retries = 2;
  Result<HttpResult> down = client.Call(always);
  ASSERT_TRUE(down.ok()) << down.status().message();  // a status, not an error
  EXPECT_EQ(down->status, 503);
  EXPECT_EQ(calls.load(), 3);
}

TEST(HttpClientTest, NoRetryAfterBytesReachedTheSink) {
  std::atomic<int> calls{0};
  auto server = StartOrDie([&](const HttpRequest&) {
    ++calls;
    auto produced = std::make_shared<int>(0);
    return HttpResponse::Stream([produced](char* buffer, size_t max) -> Result<size_t> {
      if ((*produced)++ == 4) return IoError("disk read failed");
      size_t n = std::min<size_t>(max, 64 << 10);
      std::fill(buffer, buffer + n, 'a');
      return n;
    });
  });
  HttpClient client;
  uint64_t sunk = 0;
  HttpCall call = Get(Url(*server, "/broken"));
  call.retries = 3;
  call.sink = [&](std::string_view chunk) {
    sunk += chunk.size();
    return Status::Ok();
  };
  Result<HttpResult> result = client.Call(call);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), Code::kNetwork);
  EXPECT_THAT(result.status().message(), HasSubstr(call.url));
  EXPECT_GT(sunk, 0u);
  EXPECT_EQ(calls.load(), 1);

  // Without a sink nothing was handed out, so the same failure is retried.
  calls = 0;
  call.sink = nullptr;
  call.retries = 2;
  Result<HttpResult> collected = client.Call(call);
  ASSERT_FALSE(collected.ok());
  EXPECT_EQ(collected.status().code(), Code::kNetwork);
  EXPECT_EQ(calls.load(), 3);
}

TEST(HttpClientTest, SinkErrorStopsTheTransfer) {
  auto server = StartOrDie([](const HttpRequest&) { return PatternStream(1 << 20, 65536); });
  HttpClient client;
  HttpCall call = Get(Url(*server, "/"));
  call.sink = [](std::string_view) { return Status(Code::kNoSpace, "disk full at /var/x"); };
  Result<HttpResult> result = client.Call(call);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), Code::kNoSpace);
  EXPECT_EQ(result.status().message(), "disk full at /var/x");
}

// A collected answer is cut off at max_body as it arrives: a server that
// sends 64 MiB cannot make the client hold more than the cap.
TEST(HttpClientTest, AnAnswerLongerThanMaxBodyIsRefusedWhileItArrives) {
  auto server = StartOrDie([](const HttpRequest&) { return PatternStream(64 << 20, 65536); });
  HttpClient client;
  HttpCall call = Get(Url(*server, "/big"));
  call.max_body = 1 << 20;
  Result<HttpResult> result = client.Call(call);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), Code::kInvalidArgument);
  EXPECT_THAT(result.status().message(), HasSubstr("/big is longer than 1048576 bytes"));
  // At the cap exactly, it arrives whole.
  auto exact = StartOrDie([](const HttpRequest&) { return PatternStream(1 << 20, 65536); });
  HttpCall fits = Get(Url(*exact, "/"));
  fits.max_body = 1 << 20;
  Result<HttpResult> whole = client.Call(fits);
  ASSERT_TRUE(whole.ok()) << whole.status().message();
  EXPECT_EQ(whole->body.size(), 1u << 20);
}

TEST(HttpClientTest, ConnectionRefusedNamesTheUrl) {
  uint16_t port;
  {
    auto server = StartOrDie([](const HttpRequest&) { return HttpResponse::Text(200, ""); });
    port = server->port();
  }
  HttpClient client;
  HttpCall call = Get("http://127.0.0.1:" + std::to_string(port) + "/objects/abc");
  call.retries = 1;
  Result<HttpResult> result = client.Call(call);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), Code::kNetwork);
  EXPECT_THAT(result.status().message(), HasSubstr("GET " + call.url + ": "));
}

std::vector<HttpCall> NumberedCalls(const HttpServer& server, int count) {
  std::vector<HttpCall> calls;
  for (int i = 0; i < count; ++i) calls.push_back(Get(Url(server, "/n/" + std::to_string(i))));
  return calls;
}

HttpHandler NumberHandler() {
  return [](const HttpRequest& request) {
    return HttpResponse::Text(200, "body of " + request.path.substr(3));
  };
}

TEST(HttpClientTest, CallAllKeepsOrder) {
  auto server = StartOrDie(NumberHandler());
  HttpClient client;
  Result<std::vector<HttpResult>> results = client.CallAll(NumberedCalls(*server, 200), 8);
  ASSERT_TRUE(results.ok()) << results.status().message();
  ASSERT_EQ(results->size(), 200u);
  for (int i = 0; i < 200; ++i) {
    EXPECT_EQ((*results)[i].status, 200);
    EXPECT_EQ((*results)[i].body, "body of " + std::to_string(i));
  }
  Result<std::vector<HttpResult>> none = client.CallAll({}, 8);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(HttpClientTest, CallAllRetriesPerTransfer) {
  std::mutex mutex;
  std::map<std::string, int> seen;
  auto server = StartOrDie([&](const HttpRequest& request) {
    std::lock_guard<std::mutex> lock(mutex);
    // Every third path fails once before it works.
    int n = ++seen[request.path];
    if (std::stoi(request.path.substr(3)) % 3 == 0 && n == 1) {
      return HttpResponse::Text(502, "bad gateway");
    }
    return HttpResponse::Text(200, "body of " + request.path.substr(3));
  });
  HttpClient client;
  Result<std::vector<HttpResult>> results = client.CallAll(NumberedCalls(*server, 30), 4);
  ASSERT_TRUE(results.ok()) << results.status().message();
  for (int i = 0; i < 30; ++i) {
    EXPECT_EQ((*results)[i].status, 200);
    EXPECT_EQ((*results)[i].body, "body of " + std::to_string(i));
    EXPECT_EQ(seen["/n/" + std::to_string(i)], i % 3 == 0 ? 2 : 1);
  }
}

TEST(HttpClientTest, CallAllStopsAtFirstFailure) {
  auto server = StartOrDie(NumberHandler());
  uint16_t dead_port;
  {
    auto dead = StartOrDie(NumberHandler());
    dead_port = dead->port();
  }
  HttpClient client;
  std::vector<HttpCall> calls = NumberedCalls(*server, 20);
  std::string dead_url = "http://127.0.0.1:" + std::to_string(dead_port) + "/gone";
  calls[10] = Get(dead_url);
  calls[10].retries = 0;
  Result<std::vector<HttpResult>> results = client.CallAll(std::move(calls), 4);
  ASSERT_FALSE(results.ok());
  EXPECT_EQ(results.status().code(), Code::kNetwork);
  EXPECT_THAT(results.status().message(), HasSubstr(dead_url));
  // The client is still usable after an aborted batch.
  Result<std::vector<HttpResult>> again = client.CallAll(NumberedCalls(*server, 10), 4);
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ((*again)[9].body, "body of 9");
}

TEST(HttpClientTest, EightThreadsHammerOneServer) {
  HttpServerOptions options;
  options.threads = 4;
  auto server = StartOrDie(NumberHandler(), options);
  HttpClient shared;
  std::atomic<int> good{0};
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      HttpClient own;
      // Even threads share one client, odd ones have their own.
      HttpClient& client = t % 2 == 0 ? shared : own;
      for (int i = 0; i < 150; ++i) {
        int n = t * 1000 + i;
        Result<HttpResult> result = client.Call(Get(Url(*server, "/n/" + std::to_string(n))));
        if (result.ok() && result->status == 200 &&
            result->body == "body of " + std::to_string(n)) {
          ++good;
        } else {
          ++bad;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(good.load(), 8 * 150);
}

TEST(HttpClientTest, LoadTwoThousandGets) {
  auto server = StartOrDie(NumberHandler());
  HttpClient client;
  Result<std::vector<HttpResult>> results = client.CallAll(NumberedCalls(*server, 2000), 16);
  ASSERT_TRUE(results.ok()) << results.status().message();
  ASSERT_EQ(results->size(), 2000u);
  int correct = 0;
  for (int i = 0; i < 2000; ++i) {
    if ((*results)[i].status == 200 && (*results)[i].body == "body of " + std::to_string(i)) {
      ++correct;
    }
  }
  EXPECT_EQ(correct, 2000);
}

TEST(HttpClientTest, UrlEncode) {
  EXPECT_EQ(UrlEncode("abcXYZ019-._~"), "abcXYZ019-._~");
  EXPECT_EQ(UrlEncode("a b&c=d/e:f"), "a%20b%26c%3Dd%2Fe%3Af");
  EXPECT_EQ(UrlEncode(std::string("\x00\xff", 2)), "%00%FF");
  EXPECT_EQ(UrlEncode(""), "");
}

}  // namespace
}  // namespace gc
