// NodeClient against a fake node API served by HttpServer on 127.0.0.1.
#include "node-agent/node_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/hash.h"
#include "common/http_server.h"
#include "common/object_stream.h"
#include "tests/testing/http_test_support.h"

namespace gc {
namespace {

using ::testing::HasSubstr;

constexpr char kNode[] = "mosix3";
constexpr char kSecret[] = "c0ffee";

// The objects the fake server knows, by hash.
std::map<std::string, std::string> MakeObjects() {
  std::map<std::string, std::string> objects;
  for (std::string data : {std::string("hello\n"), std::string(), std::string(200000, 'z')}) {
    objects[Sha256Hex(data)] = data;
  }
  return objects;
}

std::string ValidManifestText() {
  Manifest manifest;
  Entry root;
  root.path = ".";
  root.type = EntryType::kDir;
  root.mode = 0755;
  manifest.entries.push_back(root);
  Entry file;
  file.path = "hello";
  file.type = EntryType::kFile;
  file.mode = 0644;
  file.size = 6;
  file.hash = Sha256Hex("hello\n");
  manifest.entries.push_back(file);
  return SerializeManifest(manifest);
}

class NodeClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    objects_ = MakeObjects();
    server_ =
        http_testing::StartOrDie([this](const HttpRequest& request) { return Handle(request); });
    base_ = http_testing::Url(*server_, "");
  }

  NodeConfig Config(const std::string& secret = kSecret) const {
    NodeConfig config;
    config.server = base_ + "/";  // a trailing slash must not double up
    config.node = kNode;
    config.secret = secret;
    return config;
  }

  // Fakes the server side of docs/node-api.md, with knobs for failures.
  HttpResponse Handle(const HttpRequest& request) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      requests_.push_back(request);
    }
    auto node = request.headers.find("x-goldcast-node");
    auto auth = request.headers.find("authorization");
    if (node == request.headers.end() || node->second != kNode || auth == request.headers.end() ||
        auth->second != std::string("Bearer ") + kSecret) {
      return HttpResponse::Text(401, "unknown node or wrong secret\nsecond line never shown\n");
    }
    if (request.method == "GET" && request.path == "/v1/node/plan") {
      return HttpResponse::Json(200, R"({"format":1})");
    }
    if (request.method == "GET" && request.path == "/v1/node/images/compute@2/manifest") {
      return HttpResponse::Text(200, ValidManifestText());
    }
    if (request.method == "GET" && request.path == "/v1/node/images/broken@1/manifest") {
      return HttpResponse::Text(200, "not a manifest\n");
    }
    if (request.method == "GET" && request.path == "/v1/node/kernels/tiny@1/modules.manifest") {
      return HttpResponse::Text(200, ValidManifestText());
    }
    if (request.method == "GET" && request.path == "/v1/node/kernels/tiny@1/vmlinuz") {
      return HttpResponse::Text(200, std::string(300000, 'k'), "application/octet-stream");
    }
    if (request.method == "POST" && request.path == "/v1/node/progress") {
      auto type = request.headers.find("content-type");
      if (type == request.headers.end() || type->second != "application/json") {
        return HttpResponse::Text(400, "want JSON");
      }
      return HttpResponse::Json(200, "{\"ok\":true,\"echo\":" + request.body + "}");
    }
    if (request.method == "POST" && request.path == "/v1/node/objects") return Objects(request);
    return HttpResponse::Text(404, "no such endpoint: " + request.path);
  }

  HttpResponse Objects(const HttpRequest& request) {
    std::string out;
    size_t pos = 0;
    while (pos < request.body.size()) {
      size_t end = request.body.find('\n', pos);
      if (end == std::string::npos) end = request.body.size();
      std::string hash = request.body.substr(pos, end - pos);
      pos = end + 1;
      auto it = objects_.find(hash);
      if (it == objects_.end()) return HttpResponse::Text(404, "object " + hash + " not found");
      out += EncodeFrameHeader(hash, it->second.size()) + it->second;
    }
    if (truncate_by_ > 0) out.resize(out.size() - truncate_by_);
    if (drop_last_frame_) out.resize(out.rfind(EncodeFrameHeader(last_hash_, 6)));
    if (cut_after_ == 0) return HttpResponse::Text(200, out, "application/octet-stream");
    // A stream that dies after `cut_after_` bytes: the connection drops.
    auto sent = std::make_shared<size_t>(0);
    size_t cut = cut_after_;
    return HttpResponse::Stream([out, sent, cut](char* buffer, size_t max) -> Result<size_t> {
      if (*sent >= cut) return IoError("simulated disk error on the server");
      size_t n = std::min({max, cut - *sent, out.size() - *sent});
      out.copy(buffer, n, *sent);
      *sent += n;
      return n;
    });
  }

  size_t CountRequests(const std::string& path) {
    std::lock_guard<std::mutex> lock(mutex_);
    size_t n = 0;
    for (const HttpRequest& request : requests_) n += request.path == path;
    return n;
  }

  // Collects what Fetch delivers: hash -> bytes, and the order of begins.
  struct Collected {
    std::vector<std::string> order;
    std::map<std::string, std::string> data;
    std::string current;
    int ends = 0;
  };
  static ObjectStreamDecoder::Callbacks Collect(Collected* collected) {
    ObjectStreamDecoder::Callbacks callbacks;
    callbacks.begin = [collected](const std::string& hash, uint64_t) {
      collected->order.push_back(hash);
      collected->current = hash;
      collected->data[hash];
      return Status::Ok();
    };
    callbacks.data = [collected](std::string_view data) {
      collected->data[collected->current].append(data);
      return Status::Ok();
    };
    callbacks.end = [collected]() {
      ++collected->ends;
      return Status::Ok();
    };
    return callbacks;
  }

  std::vector<std::string> AllHashes() const {
    std::vector<std::string> hashes;
    // Reverse order of the map: the answer must follow the request, not a sort.
    for (auto it = objects_.rbegin(); it != objects_.rend(); ++it) hashes.push_back(it->first);
    return hashes;
  }

  std::map<std::string, std::string> objects_;
  std::unique_ptr<HttpServer> server_;
  std::string base_;
  std::mutex mutex_;
  std::vector<HttpRequest> requests_;
  size_t truncate_by_ = 0;
  size_t cut_after_ = 0;
  bool drop_last_frame_ = false;
  std::string last_hash_;
};

TEST_F(NodeClientTest, GetSendsNodeAndSecret) {
  NodeClient client(Config());
  Result<std::string> plan = client.Get("/v1/node/plan");
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ(*plan, R"({"format":1})");
  std::lock_guard<std::mutex> lock(mutex_);
  ASSERT_EQ(requests_.size(), 1u);
  EXPECT_EQ(requests_[0].headers["x-goldcast-node"], kNode);
  EXPECT_EQ(requests_[0].headers["authorization"], std::string("Bearer ") + kSecret);
}

TEST_F(NodeClientTest, UnauthorizedNamesUrlStatusAndFirstLine) {
  NodeClient client(Config("bad0"));
  Result<std::string> plan = client.Get("/v1/node/plan");
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), Code::kUnauthorized);
  EXPECT_THAT(plan.status().message(),
              HasSubstr("GET " + base_ + "/v1/node/plan: 401 unknown node or wrong secret"));
  EXPECT_THAT(plan.status().message(), ::testing::Not(HasSubstr("second line")));
  EXPECT_EQ(CountRequests("/v1/node/plan"), 1u) << "a 4xx is never retried";
}

TEST_F(NodeClientTest, NotFoundIsNotFound) {
  NodeClient client(Config());
  Result<std::string> body = client.Get("/v1/node/nothing");
  ASSERT_FALSE(body.ok());
  EXPECT_EQ(body.status().code(), Code::kNotFound);
  EXPECT_THAT(body.status().message(), HasSubstr(": 404 no such endpoint: /v1/node/nothing"));
}

TEST_F(NodeClientTest, PostJsonSendsBodyAndContentType) {
  NodeClient client(Config());
  Result<std::string> answer = client.PostJson("/v1/node/progress", R"({"phase":"image"})");
  ASSERT_TRUE(answer.ok()) << answer.status().message();
  EXPECT_EQ(*answer, R"({"ok":true,"echo":{"phase":"image"}})");
}

TEST_F(NodeClientTest, DownloadStreamsToSink) {
  NodeClient client(Config());
  std::string received;
  int chunks = 0;
  Status status = client.Download("/v1/node/kernels/tiny@1/vmlinuz", [&](std::string_view data) {
    received.append(data);
    ++chunks;
    return Status::Ok();
  });
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_EQ(received, std::string(300000, 'k'));
  EXPECT_GT(chunks, 0);

  status = client.Download("/v1/node/kernels/tiny@1/nothing",
                           [](std::string_view) { return Status::Ok(); });
  EXPECT_EQ(status.code(), Code::kNotFound);
}

TEST_F(NodeClientTest, GetManifestParses) {
  NodeClient client(Config());
  Result<Manifest> manifest = client.GetManifest("compute@2");
  ASSERT_TRUE(manifest.ok()) << manifest.status().message();
  ASSERT_EQ(manifest->entries.size(), 2u);
  EXPECT_EQ(manifest->entries[1].path, "hello");
  Result<Manifest> modules = client.GetKernelModulesManifest("tiny@1");
  ASSERT_TRUE(modules.ok()) << modules.status().message();
  EXPECT_EQ(modules->entries.size(), 2u);
}

TEST_F(NodeClientTest, BadManifestNamesTheUrl) {
  NodeClient client(Config());
  Result<Manifest> manifest = client.GetManifest("broken@1");
  ASSERT_FALSE(manifest.ok());
  EXPECT_THAT(manifest.status().message(), HasSubstr(base_ + "/v1/node/images/broken@1/manifest"));
}

TEST_F(NodeClientTest, RefusesRefsThatAreNotNameAtN) {
  NodeClient client(Config());
  EXPECT_EQ(client.GetManifest("../../plan").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(client.GetManifest("a b@1").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(client.GetKernelModulesManifest("x?y@1").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(CountRequests("/v1/node/plan"), 0u);
}

TEST_F(NodeClientTest, ObjectsDeliversEveryObjectInOrder) {
  NodeClient client(Config());
  Collected collected;
  std::vector<std::string> hashes = AllHashes();
  Status status = client.objects()->Fetch(hashes, Collect(&collected));
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_EQ(collected.order, hashes);
  EXPECT_EQ(collected.ends, 3);
  EXPECT_EQ(collected.data, objects_);
  std::lock_guard<std::mutex> lock(mutex_);
  ASSERT_EQ(requests_.size(), 1u);
  EXPECT_EQ(requests_[0].body, hashes[0] + "\n" + hashes[1] + "\n" + hashes[2] + "\n");
  EXPECT_EQ(requests_[0].headers["authorization"], std::string("Bearer ") + kSecret);
}

TEST_F(NodeClientTest, ObjectsEmptyRequestIsNoRequest) {
  NodeClient client(Config());
  Collected collected;
  ASSERT_TRUE(client.objects()->Fetch({}, Collect(&collected)).ok());
  EXPECT_EQ(CountRequests("/v1/node/objects"), 0u);
}

TEST_F(NodeClientTest, ObjectsTruncatedStreamIsAnError) {
  truncate_by_ = 1000;  // inside the big object
  NodeClient client(Config());
  Collected collected;
  Status status = client.objects()->Fetch(AllHashes(), Collect(&collected));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), Code::kCorrupt);
  EXPECT_THAT(status.message(), HasSubstr("middle of an object"));
  EXPECT_THAT(status.message(), HasSubstr("POST " + base_ + "/v1/node/objects"));
}

TEST_F(NodeClientTest, ObjectsMissingFrameNamesTheHash) {
  NodeClient client(Config());
  std::vector<std::string> hashes = AllHashes();
  // Put the small "hello" object last and have the server forget it.
  last_hash_ = Sha256Hex("hello\n");
  std::erase(hashes, last_hash_);
  hashes.push_back(last_hash_);
  drop_last_frame_ = true;
  Collected collected;
  Status status = client.objects()->Fetch(hashes, Collect(&collected));
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("after 2 of 3 objects; first missing: " + last_hash_));
}

TEST_F(NodeClientTest, ObjectsCutConnectionFailsWithoutBlindRetry) {
  cut_after_ = 100000;  // after the small objects and part of the big one
  NodeClient client(Config());
  Collected collected;
  Status status = client.objects()->Fetch(AllHashes(), Collect(&collected));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), Code::kNetwork) << status.message();
  EXPECT_THAT(status.message(), HasSubstr("not retried"));
  EXPECT_FALSE(collected.order.empty()) << "data reached the callbacks before the cut";
  EXPECT_EQ(CountRequests("/v1/node/objects"), 1u)
      << "a retry would feed the callbacks the same objects twice";
}

TEST_F(NodeClientTest, ObjectsUnknownHashIs404NamingIt) {
  NodeClient client(Config());
  std::string unknown = Sha256Hex("nobody has this");
  Collected collected;
  Status status = client.objects()->Fetch({unknown}, Collect(&collected));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), Code::kNotFound);
  EXPECT_THAT(status.message(), HasSubstr("404 object " + unknown));
  EXPECT_TRUE(collected.order.empty());
}

TEST_F(NodeClientTest, ObjectsCallbackErrorPassesThroughUnchanged) {
  NodeClient client(Config());
  ObjectStreamDecoder::Callbacks callbacks;
  callbacks.begin = [](const std::string&, uint64_t) {
    return Status(Code::kNoSpace, "disk full");
  };
  callbacks.data = [](std::string_view) { return Status::Ok(); };
  callbacks.end = []() { return Status::Ok(); };
  Status status = client.objects()->Fetch(AllHashes(), callbacks);
  EXPECT_EQ(status.code(), Code::kNoSpace);
  EXPECT_EQ(status.message(), "disk full");
  EXPECT_EQ(CountRequests("/v1/node/objects"), 1u);
}

}  // namespace
}  // namespace gc
