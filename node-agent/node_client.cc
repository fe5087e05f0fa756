#include "node-agent/node_client.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "protocol/redeem.h"

namespace gc {

namespace {

// docs/node-api.md: the server refuses larger object requests.
constexpr size_t kMaxHashesPerRequest = 100'000;
constexpr size_t kMaxReasonChars = 300;

// The server's one-line reason, printable and bounded (it lands in logs).
std::string FirstLine(std::string_view body) {
  size_t start = body.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos) return "(no reason given)";
  body.remove_prefix(start);
  body = body.substr(0, body.find_first_of("\r\n"));
  std::string line;
  for (char c : body.substr(0, kMaxReasonChars)) {
    line.push_back(static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? '?' : c);
  }
  if (body.size() > kMaxReasonChars) line += "...";
  return line;
}

Code CodeForHttpStatus(long status) {
  if (status == 401 || status == 403) return Code::kUnauthorized;
  if (status == 404) return Code::kNotFound;
  // The server cannot serve this yet (image not captured, kernel not built):
  // the same request works once the admin fixed the setup.
  if (status == 409) return Code::kFailedPrecondition;
  if (status >= 500) return Code::kNetwork;
  // Any other refusal means this agent and the server disagree about the
  // protocol (a 400 names the field); retrying the same request cannot help.
  return Code::kUnsupported;
}

HttpCall MakeCall(const NodeConfig& config, const std::string& method, const std::string& url) {
  HttpCall call;
  call.method = method;
  call.url = url;
  call.headers.push_back("X-Goldcast-Node: " + config.node);
  call.headers.push_back("Authorization: Bearer " + config.secret);
  return call;
}

Status HttpError(const std::string& method, const std::string& url, const HttpResult& result) {
  std::string message =
      method + " " + url + ": " + std::to_string(result.status) + " " + FirstLine(result.body);
  if (result.status == 401) {
    message +=
        " (the server does not accept this node's name and secret: was the node removed or "
        "reinstalled? Check 'goldcast nodes show' on the server)";
  }
  return Status(CodeForHttpStatus(result.status), std::move(message));
}

// Refs come from the plan, i.e. from the network; they go into a URL path
// unencoded, so only NAME@N characters pass.
Status CheckRef(std::string_view what, const std::string& ref) {
  bool ok = !ref.empty() && ref.find('@') != std::string::npos;
  for (char c : ref) {
    bool allowed = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                   c == '.' || c == '_' || c == '-' || c == '@';
    if (!allowed) ok = false;
  }
  if (!ok) return InvalidArgument(std::string(what) + " '" + ref + "' is not NAME@N");
  return Status::Ok();
}

Result<Manifest> GetManifestAt(NodeClient& client, const std::string& path) {
  GC_ASSIGN_OR_RETURN(std::string text, client.Get(path, NodeClient::kMaxManifest));
  return ParseManifest(text, client.config().server + path);
}

}  // namespace

// ObjectSource over POST /v1/node/objects.
class NodeClient::Objects : public ObjectSource {
 public:
  explicit Objects(NodeClient* client) : client_(client) {}

  Status Fetch(const std::vector<std::string>& hashes,
               const ObjectStreamDecoder::Callbacks& callbacks) override {
    for (size_t first = 0; first < hashes.size(); first += kMaxHashesPerRequest) {
      size_t count = std::min(kMaxHashesPerRequest, hashes.size() - first);
      GC_RETURN_IF_ERROR(FetchBatch(hashes, first, count, callbacks));
    }
    return Status::Ok();
  }

 private:
  Status FetchBatch(const std::vector<std::string>& hashes, size_t first, size_t count,
                    const ObjectStreamDecoder::Callbacks& callbacks) {
    std::string body;
    body.reserve(count * 65);
    for (size_t i = first; i < first + count; ++i) {
      body += hashes[i];
      body.push_back('\n');
    }
    const std::string url = client_->config_.server + "/v1/node/objects";
    const std::string what = "POST " + url;

    // The server answers in the order asked; checking that catches a server
    // (or proxy) that answers for other objects, and tells which are missing.
    size_t next = first;
    const size_t end = first + count;
    // A caller's error (disk full, hash mismatch) travels up unchanged rather
    // than dressed as a network problem.
    Status callback_error;
    auto keep = [&](Status status) {
      if (!status.ok() && callback_error.ok()) callback_error = status;
      return status;
    };
    ObjectStreamDecoder::Callbacks checked;
    checked.begin = [&](const std::string& hash, uint64_t size) -> Status {
      if (next >= end) {
        return Corrupt(what + ": server sent object " + hash + " after all " +
                       std::to_string(count) + " objects asked for");
      }
      if (hash != hashes[next]) {
        return Corrupt(what + ": server sent object " + hash + " where " + hashes[next] +
                       " was expected (objects must come in the order asked)");
      }
      ++next;
      return keep(callbacks.begin(hash, size));
    };
    checked.data = [&](std::string_view data) { return keep(callbacks.data(data)); };
    checked.end = [&]() { return keep(callbacks.end()); };
    ObjectStreamDecoder decoder(std::move(checked));

    HttpCall call = MakeCall(client_->config_, "POST", url);
    call.body = std::move(body);
    call.headers.push_back("Content-Type: text/plain");
    call.sink = [&](std::string_view chunk) { return decoder.Feed(chunk); };
    // HttpClient retries only while nothing reached the sink; once objects
    // were handed to the callbacks a cut stream fails here and the caller
    // (WriteTree) decides, since it knows which files are already complete.
    Result<HttpResult> result = client_->http_.Call(std::move(call));
    if (!callback_error.ok()) return callback_error;
    if (!result.ok()) return result.status();
    if (result->status < 200 || result->status >= 300) {
      return HttpError("POST", url, *result);
    }
    Status finished = decoder.Finish();
    if (!finished.ok()) return finished.WithContext(what);
    if (next != end) {
      return Corrupt(what + ": the answer ended after " + std::to_string(next - first) + " of " +
                     std::to_string(count) + " objects; first missing: " + hashes[next] +
                     " (connection cut? run the command again)");
    }
    return Status::Ok();
  }

  NodeClient* client_;
};

// The only key the agent accepts from the server is the pinned one.
static HttpClientOptions ClientOptions(const NodeConfig& config) {
  HttpClientOptions options;
  options.pinned_public_key = config.pin;
  return options;
}

NodeClient::NodeClient(NodeConfig config)
    : config_(std::move(config)),
      http_(ClientOptions(config_)),
      objects_(std::make_unique<Objects>(this)) {
  while (!config_.server.empty() && config_.server.back() == '/') config_.server.pop_back();
}

NodeClient::~NodeClient() = default;

Result<std::string> NodeClient::Get(const std::string& path, uint64_t max_bytes) {
  std::string url = config_.server + path;
  HttpCall call = MakeCall(config_, "GET", url);
  call.max_body = max_bytes;
  GC_ASSIGN_OR_RETURN(HttpResult result, http_.Call(std::move(call)));
  if (result.status < 200 || result.status >= 300) return HttpError("GET", url, result);
  return std::move(result.body);
}

Result<std::string> NodeClient::PostJson(const std::string& path, const std::string& json) {
  std::string url = config_.server + path;
  HttpCall call = MakeCall(config_, "POST", url);
  call.body = json;
  call.max_body = kMaxJsonAnswer;
  call.headers.push_back("Content-Type: application/json");
  GC_ASSIGN_OR_RETURN(HttpResult result, http_.Call(std::move(call)));
  if (result.status < 200 || result.status >= 300) return HttpError("POST", url, result);
  return std::move(result.body);
}

Status NodeClient::Download(const std::string& path,
                            const std::function<Status(std::string_view)>& sink) {
  std::string url = config_.server + path;
  HttpCall call = MakeCall(config_, "GET", url);
  call.sink = sink;
  GC_ASSIGN_OR_RETURN(HttpResult result, http_.Call(std::move(call)));
  if (result.status < 200 || result.status >= 300) return HttpError("GET", url, result);
  return Status::Ok();
}

Result<Manifest> NodeClient::GetManifest(const std::string& image_ref) {
  GC_RETURN_IF_ERROR(CheckRef("image", image_ref));
  return GetManifestAt(*this, "/v1/node/images/" + image_ref + "/manifest");
}

Result<Manifest> NodeClient::GetKernelModulesManifest(const std::string& kernel_ref) {
  GC_RETURN_IF_ERROR(CheckRef("kernel", kernel_ref));
  return GetManifestAt(*this, "/v1/node/kernels/" + kernel_ref + "/modules.manifest");
}

Status NodeClient::Redeem() {
  if (!config_.secret.empty()) return Status::Ok();
  std::string url = config_.server + kRedeemPath;
  HttpCall call;
  call.method = "POST";
  call.url = url;
  call.headers.push_back("X-Goldcast-Node: " + config_.node);
  call.headers.push_back("Authorization: Bearer " + config_.token);
  call.max_body = kMaxJsonAnswer;
  GC_ASSIGN_OR_RETURN(HttpResult result, http_.Call(std::move(call)));
  if (result.status == 401) {
    return Status(Code::kUnauthorized,
                  "POST " + url + ": 401 " + FirstLine(result.body) +
                      " (this boot's install token is spent, expired or unknown to a restarted "
                      "server: reboot the node for a fresh one)");
  }
  if (result.status < 200 || result.status >= 300) return HttpError("POST", url, result);
  Result<RedeemAnswer> answer = DecodeRedeemAnswer(result.body);
  if (!answer.ok()) return answer.status().WithContext("POST " + url);
  config_.secret = std::move(answer->secret);
  config_.token.clear();
  return Status::Ok();
}

ObjectSource* NodeClient::objects() { return objects_.get(); }

}  // namespace gc
