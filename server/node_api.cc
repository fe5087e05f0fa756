#include "server/node_api.h"

#include <fcntl.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <unordered_map>
#include <unordered_set>

#include "cluster/cluster_files.h"
#include "cluster/install_plan.h"
#include "common/fs_walk.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/manifest.h"
#include "common/object_stream.h"
#include "common/text.h"
#include "imager/image_kernel.h"
#include "protocol/heartbeat.h"
#include "protocol/plan.h"
#include "protocol/progress.h"
#include "protocol/redeem.h"
#include "pxe/boot_service.h"

namespace gc {

namespace {

// Cached image indexes and module trees; a handful of groups at most.
constexpr size_t kMaxCached = 8;

// A value from the network as it may appear in a message: bounded, with
// anything unprintable escaped.
std::string Quote(std::string_view value) {
  std::string out = "'";
  for (unsigned char c : value.substr(0, 64)) {
    if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      static const char kHex[] = "0123456789abcdef";
      out += {'\\', 'x', kHex[c >> 4], kHex[c & 15]};
    }
  }
  return out + (value.size() > 64 ? "...'" : "'");
}

HttpResponse Fail(int status, const std::string& message) {
  return HttpResponse::Text(status, message + "\n");
}

HttpResponse FromStatus(const Status& status) {
  switch (status.code()) {
    case Code::kInvalidArgument:
      return Fail(400, status.message());
    case Code::kNotFound:
      return Fail(404, status.message());
    case Code::kUnauthorized:
      return Fail(401, status.message());
    case Code::kFailedPrecondition:  // the node may ask again once the admin fixed it
      return Fail(409, status.message());
    default:
      return Fail(500, status.message());
  }
}

// Produces the frames of POST /v1/node/objects, one open file at a time.
class FrameProducer {
 public:
  struct Item {
    std::string hash;
    std::string path;
  };
  explicit FrameProducer(std::vector<Item> items) : items_(std::move(items)) {}

  Result<size_t> Produce(char* buffer, size_t max) {
    size_t written = 0;
    while (written < max) {
      if (header_used_ < header_.size()) {
        size_t n = std::min(max - written, header_.size() - header_used_);
        std::memcpy(buffer + written, header_.data() + header_used_, n);
        header_used_ += n;
        written += n;
        continue;
      }
      if (remaining_ > 0) {
        GC_ASSIGN_OR_RETURN(size_t n, ReadBody(buffer + written, max - written));
        written += n;
        continue;
      }
      if (next_ == items_.size()) break;
      GC_RETURN_IF_ERROR(OpenNext());
    }
    return written;
  }

 private:
  Status OpenNext() {
    const Item& item = items_[next_++];
    fd_.Reset(::open(item.path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    struct stat st;
    if (!fd_.valid() || ::fstat(fd_.get(), &st) != 0) {
      return ErrnoError("node API: open object " + item.hash + " (" + item.path + ")");
    }
    header_ = EncodeFrameHeader(item.hash, static_cast<uint64_t>(st.st_size));
    header_used_ = 0;
    remaining_ = static_cast<uint64_t>(st.st_size);
    current_ = &item;
    return Status::Ok();
  }

  Result<size_t> ReadBody(char* buffer, size_t max) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(max, remaining_));
    ssize_t n;
    do {
      n = ::read(fd_.get(), buffer, want);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return ErrnoError("node API: read " + current_->path);
    if (n == 0) {
      // The file shrank after its size was announced: keep the framing
      // valid with zeros; the node's hash check refuses the object.
      GC_LOG(Warning) << "node API: " << current_->path << " shrank while being sent";
      std::memset(buffer, 0, want);
      n = static_cast<ssize_t>(want);
    }
    remaining_ -= static_cast<uint64_t>(n);
    if (remaining_ == 0) fd_.Reset();
    return static_cast<size_t>(n);
  }

  std::vector<Item> items_;
  size_t next_ = 0;
  const Item* current_ = nullptr;
  std::string header_;
  size_t header_used_ = 0;
  UniqueFd fd_;
  uint64_t remaining_ = 0;
};

}  // namespace

struct NodeApi::ImageIndex {
  std::string manifest;  // serialised
  std::unordered_set<std::string> hashes;
  uint64_t bytes = 0;
  std::string kernel;  // NewestImageKernel: the release of its own kernel, "" = none
};

struct NodeApi::ModulesTree {
  std::string manifest;                                // serialised
  std::unordered_map<std::string, std::string> paths;  // hash -> a file with that content
};

NodeApi::NodeApi(const ClusterProfile& profile, NodeRegistry* registry, TargetResolver* resolver,
                 InstallTokens* tokens, Env* env)
    : profile_(profile),
      registry_(registry),
      resolver_(resolver),
      tokens_(tokens),
      env_(env),
      images_(kMaxCached),
      modules_(kMaxCached) {}

NodeApi::~NodeApi() = default;

HttpResponse NodeApi::Handle(const HttpRequest& request) {
  if (request.path == kRedeemPath) return Redeem(request);
  Result<Node> node = Authenticate(request);
  if (!node.ok()) return Refusal(request, node.status());
  return Route(*node, request);
}

HttpAdmission NodeApi::Admit(const HttpRequest& head) {
  HttpAdmission admission;
  // Redeeming takes no body; the token is checked once, by Handle, which
  // spends it.
  if (head.path == kRedeemPath) return admission;
  Result<Node> node = Authenticate(head);
  if (!node.ok()) {
    admission.refusal = Refusal(head, node.status());
    return admission;
  }
  std::string_view rest = std::string_view(head.path).substr(std::strlen(kNodeApiPrefix));
  if (head.method == "POST") {
    admission.max_body_bytes = rest == "objects" ? kNodeApiMaxBodyBytes : kNodeApiMaxJsonBytes;
  }
  return admission;
}

// A request that did not authenticate (401), or whose check failed (500).
HttpResponse NodeApi::Refusal(const HttpRequest& request, const Status& status) {
  if (status.code() == Code::kUnauthorized) {
    GC_LOG(Warning) << "node API: " << request.remote_address << " " << request.path.substr(0, 128)
                    << ": " << status.message();
    return Fail(401, status.message());
  }
  GC_LOG(Error) << "node API: " << status.message();
  return Fail(500, status.message());
}

Result<NodeApi::Credentials> NodeApi::ReadCredentials(const HttpRequest& request) {
  auto name = request.headers.find("x-goldcast-node");
  if (name == request.headers.end() || name->second.empty()) {
    return Status(Code::kUnauthorized, "missing header X-Goldcast-Node (the node's name)");
  }
  auto auth = request.headers.find("authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (auth == request.headers.end() || auth->second.size() <= kBearer.size() ||
      ::strncasecmp(auth->second.c_str(), kBearer.data(), kBearer.size()) != 0) {
    return Status(Code::kUnauthorized,
                  "missing header Authorization: Bearer <secret> (the node's secret, from its "
                  "node.json; or, for " +
                      std::string(kRedeemPath) + ", the install token of its boot script)");
  }
  return Credentials{name->second, Trim(std::string_view(auth->second).substr(kBearer.size()))};
}

Result<Node> NodeApi::Authenticate(const HttpRequest& request) {
  GC_ASSIGN_OR_RETURN(Credentials credentials, ReadCredentials(request));
  std::optional<Node> found;
  if (credentials.node.size() <= 64) {
    GC_ASSIGN_OR_RETURN(found, registry_->FindByName(credentials.node));
  }
  if (!found) return Status(Code::kUnauthorized, "unknown node " + Quote(credentials.node));
  if (!SecretEquals(found->install_secret, credentials.bearer)) {
    return Status(Code::kUnauthorized,
                  "wrong secret for node " + found->name +
                      " (`goldcast nodes reinstall` gave it a new one; reboot it to install)");
  }
  return std::move(*found);
}

// The token is spent whether or not the rest succeeds: a node that got no
// secret reboots for a fresh token, and a token seen twice is refused.
HttpResponse NodeApi::Redeem(const HttpRequest& request) {
  if (request.method != "POST") return Fail(405, "use POST").AddHeader("Allow", "POST");
  Result<Credentials> credentials = ReadCredentials(request);
  if (!credentials.ok()) return Refusal(request, credentials.status());
  // No node name needs quoting: one that does goes nowhere near the log.
  if (Quote(credentials->node) != "'" + credentials->node + "'") {
    return Refusal(request,
                   Status(Code::kUnauthorized, "unknown node " + Quote(credentials->node)));
  }
  Status redeemed = tokens_->Redeem(credentials->node, credentials->bearer, env_->NowNanos());
  if (!redeemed.ok()) return Refusal(request, redeemed);
  Result<std::string> secret = registry_->RotateSecret(credentials->node);
  if (!secret.ok()) return Refusal(request, secret.status());
  GC_LOG(Info) << "node " << credentials->node << " redeemed its install token from "
               << request.remote_address;
  return HttpResponse::Text(200, EncodeRedeemAnswer({*secret}) + "\n", "application/json");
}

HttpResponse NodeApi::Route(const Node& node, const HttpRequest& request) {
  std::string rest = request.path.substr(std::strlen(kNodeApiPrefix));
  bool get = request.method == "GET" || request.method == "HEAD";
  bool post = request.method == "POST";
  auto only = [&](const char* method) {
    return Fail(405,
                request.method + " is not allowed on " + request.path + " (use " + method + ")")
        .AddHeader("Allow", method);
  };
  auto json_body = [&](auto handle) {
    if (!post) return only("POST");
    if (request.body.size() > kNodeApiMaxJsonBytes) {
      return Fail(413, "body larger than " + std::to_string(kNodeApiMaxJsonBytes) + " bytes");
    }
    return handle();
  };
  if (rest == "plan") return get ? Plan(node) : only("GET");
  if (rest == "objects") return post ? Objects(node, request.body) : only("POST");
  if (rest == "progress") return json_body([&] { return Progress(node, request.body); });
  if (rest == "heartbeat") {
    return json_body([&] { return Beat(node, request.body, request.remote_address); });
  }
  if (rest.rfind("images/", 0) == 0) return get ? Image(node, rest.substr(7)) : only("GET");
  if (rest.rfind("kernels/", 0) == 0) return get ? Kernel(node, rest.substr(8)) : only("GET");
  return Fail(404, "no such node API path " + Quote(request.path) + " (see docs/node-api.md)");
}

std::vector<NodeApi::PlanRefs> NodeApi::Allowed(const Node& node) {
  std::vector<PlanRefs> allowed;
  Result<GroupTarget> target = resolver_->ResolveNode(node);
  if (target.ok()) allowed.push_back({target->image, target->kernel});
  std::lock_guard<std::mutex> lock(mu_);
  auto served = served_.find(node.name);
  if (served != served_.end()) allowed.push_back(served->second);
  return allowed;
}

HttpResponse NodeApi::Plan(const Node& node) {
  Result<GroupTarget> target = resolver_->ResolveNode(node);
  if (!target.ok()) return FromStatus(target.status());
  if (Status installable = CheckInstallable(*target); !installable.ok()) {
    GC_LOG(Error) << "plan for " << node.name << ": " << installable.message();
    return FromStatus(installable);
  }
  auto image = LoadImage(*target->image);
  if (!image.ok()) return Fail(500, image.status().message());
  if (Status bootable = CheckImageKernel(profile_, *target, (*image)->kernel); !bootable.ok()) {
    GC_LOG(Error) << "plan for " << node.name << ": " << bootable.message();
    return FromStatus(bootable);
  }
  auto nodes = registry_->List();
  if (!nodes.ok()) return Fail(500, nodes.status().message());
  InstallPlan plan = MakeInstallPlan(profile_, node, *target, *nodes, (*image)->bytes);
  {
    std::lock_guard<std::mutex> lock(mu_);
    served_[node.name] = PlanRefs{target->image, target->kernel};
  }
  GC_LOG(Info) << "plan for " << node.name << ": image " << plan.image_ref << ", kernel "
               << (target->kernel ? plan.kernel_ref : "of the image");
  return HttpResponse::Json(200, EncodeInstallPlan(plan));
}

HttpResponse NodeApi::Image(const Node& node, const std::string& rest) {
  size_t slash = rest.rfind('/');
  std::string ref = rest.substr(0, slash),
              what = slash == std::string::npos ? "" : rest.substr(slash + 1);
  if (slash == std::string::npos || (what != "manifest" && what != "layout")) {
    return Fail(404, "no such image path " + Quote(rest) + " (NAME@N/manifest or NAME@N/layout)");
  }
  for (const PlanRefs& refs : Allowed(node)) {
    if (!refs.image || refs.image->ToString() != ref) continue;
    if (what == "manifest") {
      auto index = LoadImage(*refs.image);
      if (!index.ok()) return Fail(500, index.status().message());
      return HttpResponse::Text(200, (*index)->manifest);
    }
    auto store = resolver_->images();
    if (!store.ok()) return Fail(500, store.status().message());
    auto layout = (*store)->LoadLayout(*refs.image);
    if (!layout.ok()) return FromStatus(layout.status());
    return HttpResponse::Json(200, *layout);
  }
  return Fail(404, "image " + Quote(ref) + " is not in the plan of node " + node.name);
}

HttpResponse NodeApi::Kernel(const Node& node, const std::string& rest) {
  size_t slash = rest.find('/');
  if (slash == std::string::npos) return Fail(404, "no such kernel path " + Quote(rest));
  std::string ref = rest.substr(0, slash), file = rest.substr(slash + 1);
  for (const PlanRefs& refs : Allowed(node)) {
    if (!refs.kernel || refs.kernel->ToString() != ref) continue;
    if (file == "modules.manifest") {
      auto tree = LoadModules(*refs.kernel);
      if (!tree.ok()) return Fail(500, tree.status().message());
      return HttpResponse::Text(200, (*tree)->manifest);
    }
    auto store = resolver_->kernels();
    if (!store.ok()) return Fail(500, store.status().message());
    return KernelFileResponse(*store, *refs.kernel, file);
  }
  return Fail(404, "kernel " + Quote(ref) + " is not in the plan of node " + node.name);
}

HttpResponse NodeApi::Objects(const Node& node, const std::string& body) {
  if (body.size() > kNodeApiMaxBodyBytes) {
    return Fail(413, "body larger than " + std::to_string(kNodeApiMaxBodyBytes) + " bytes");
  }
  std::vector<std::string> hashes;
  size_t line_number = 0;
  for (size_t start = 0; start < body.size();) {
    size_t end = body.find('\n', start);
    if (end == std::string::npos) end = body.size();
    std::string_view line(body.data() + start, end - start);
    start = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    if (!IsValidHashHex(line)) {
      return Fail(400, "objects: line " + std::to_string(line_number) + ": " + Quote(line) +
                           " is not an object hash (64 lowercase hex digits)");
    }
    if (hashes.size() == kNodeApiMaxObjects) {
      return Fail(413, "objects: more than " + std::to_string(kNodeApiMaxObjects) +
                           " hashes in one request (ask in batches)");
    }
    hashes.emplace_back(line);
  }
  if (hashes.empty()) return Fail(400, "objects: the body names no object hash (one per line)");

  std::vector<std::shared_ptr<const ImageIndex>> images;
  std::vector<std::shared_ptr<const ModulesTree>> trees;
  std::string scope;
  for (const PlanRefs& refs : Allowed(node)) {
    if (refs.image) {
      auto index = LoadImage(*refs.image);
      if (!index.ok()) return Fail(500, index.status().message());
      images.push_back(*index);
      scope += (scope.empty() ? "image " : ", image ") + refs.image->ToString();
    }
    if (refs.kernel) {
      auto tree = LoadModules(*refs.kernel);
      if (!tree.ok()) return Fail(500, tree.status().message());
      trees.push_back(*tree);
      scope += ", the modules of kernel " + refs.kernel->ToString();
    }
  }
  auto store = resolver_->images();
  std::vector<FrameProducer::Item> items;
  items.reserve(hashes.size());
  for (std::string& hash : hashes) {
    bool in_image = std::any_of(images.begin(), images.end(),
                                [&](const auto& index) { return index->hashes.count(hash) > 0; });
    if (in_image && store.ok()) {
      if (!(*store)->HasObject(hash)) {
        GC_LOG(Error) << "node API: object " << hash << " is missing from the store";
        return Fail(
            500, "object " + hash + " is missing from the image store (run goldcast image verify)");
      }
      std::string path = (*store)->ObjectPath(hash);
      items.push_back({std::move(hash), std::move(path)});
      continue;
    }
    const std::string* path = nullptr;
    for (const auto& tree : trees) {
      auto it = tree->paths.find(hash);
      if (it != tree->paths.end()) path = &it->second;
    }
    if (!path) {
      return Fail(404, "object " + hash + " is not in the plan of node " + node.name + " (" +
                           (scope.empty() ? std::string("no image resolvable") : scope) + ")");
    }
    items.push_back({std::move(hash), *path});
  }
  auto producer = std::make_shared<FrameProducer>(std::move(items));
  return HttpResponse::Stream(
      [producer](char* buffer, size_t max) { return producer->Produce(buffer, max); });
}

HttpResponse NodeApi::Progress(const Node& node, const std::string& body) {
  Result<ProgressReport> report = DecodeProgress(body);
  if (!report.ok()) return Fail(400, report.status().message());
  const InstallProgress progress{*report, /*time_ns=*/0};  // the registry sets the time
  Result<Node> updated = registry_->RecordProgress(node.name, progress, env_->NowNanos());
  if (!updated.ok()) return FromStatus(updated.status());
  if (progress.phase == "done") {
    GC_LOG(Info) << node.name << ": installed; its next boot boots the disk";
  } else if (progress.phase == "failed") {
    GC_LOG(Warning) << node.name << ": install failed: " << progress.message;
  } else {
    GC_LOG(Debug) << node.name << ": install " << progress.phase << " " << progress.done << "/"
                  << progress.total << " " << progress.message;
  }
  return HttpResponse::Json(200, "{\"ok\":true}");
}

HttpResponse NodeApi::Beat(const Node& node, const std::string& body, const std::string& address) {
  Result<HeartbeatReport> report = DecodeHeartbeat(body);
  if (!report.ok()) return Fail(400, report.status().message());
  // The registry sets the time; the stored report holds the known fields only.
  const Heartbeat beat{*report, /*time_ns=*/0, EncodeHeartbeat(*report), address};
  int64_t now = env_->NowNanos();
  Result<Node> updated = registry_->RecordHeartbeat(node.name, beat, now);
  if (!updated.ok()) return FromStatus(updated.status());
  if (node.heartbeat.time_ns == 0) {
    GC_LOG(Info) << node.name << ": first heartbeat (" << beat.boot << ", image "
                 << (beat.image.empty() ? "?" : beat.image) << ")";
  }
  HeartbeatAnswer answer;
  answer.ok = true;
  answer.time_ns = now;
  // Cluster files follow the registry (a new node changes the openMosix
  // map): an installed node gets the server's copy of each file it reports
  // with another hash, writes it and reports the new hash next beat, so the
  // drift clears. A diskless node's root is RAM, rebuilt from the plan at
  // every boot: nothing to converge. Files the node does not report are not
  // in its node.json and it would refuse them anyway.
  if (beat.boot == "installed" && !beat.cluster_files.empty()) {
    Result<std::vector<Node>> nodes = registry_->List();
    if (!nodes.ok()) {
      GC_LOG(Warning) << node.name << ": heartbeat recorded, but no cluster files sent: "
                      << nodes.status().message();
    } else {
      for (const ClusterFile& file : ClusterFiles(profile_, *nodes)) {
        auto reported = beat.cluster_files.find(file.path);
        if (reported == beat.cluster_files.end() || reported->second == Sha256Hex(file.content)) {
          continue;
        }
        GC_LOG(Info) << node.name << ": sending " << file.path << " (its copy differs)";
        answer.cluster_files.push_back(file);
      }
    }
  }
  return HttpResponse::Json(200, EncodeHeartbeatAnswer(answer));
}

Result<std::shared_ptr<const NodeApi::ImageIndex>> NodeApi::LoadImage(const ImageRef& ref) {
  return images_.Get(ref.ToString(), [&]() -> Result<std::shared_ptr<ImageIndex>> {
    GC_ASSIGN_OR_RETURN(ImageStore * store, resolver_->images());
    GC_ASSIGN_OR_RETURN(Manifest manifest, store->LoadManifest(ref));
    auto index = std::make_shared<ImageIndex>();
    for (const Entry& entry : manifest.entries) {
      if (entry.type == EntryType::kFile) index->hashes.insert(entry.hash);
    }
    ManifestTotals totals = ComputeTotals(manifest);
    index->bytes = totals.file_bytes;
    index->kernel = NewestImageKernel(manifest);
    index->manifest = SerializeManifest(manifest);
    return index;
  });
}

Result<std::shared_ptr<const NodeApi::ModulesTree>> NodeApi::LoadModules(const KernelRef& ref) {
  return modules_.Get(ref.ToString(), [&]() -> Result<std::shared_ptr<ModulesTree>> {
    const std::string key = ref.ToString();
    GC_ASSIGN_OR_RETURN(KernelStore * store, resolver_->kernels());
    const std::string root = JoinPath(store->ArtifactDir(ref), "modules");
    auto tree = std::make_shared<ModulesTree>();
    Manifest manifest;
    std::unordered_map<std::string, std::string> hash_of;  // file path -> hash, for hardlinks
    Status walked = WalkTree(root, WalkOptions{}, [&](WalkedEntry&& walked_entry) -> Status {
      Entry entry = std::move(walked_entry.entry);
      if (entry.type == EntryType::kFile) {
        std::string path = JoinPath(root, entry.path);
        GC_ASSIGN_OR_RETURN(entry.hash, Sha256File(path));
        hash_of[entry.path] = entry.hash;
        tree->paths.emplace(entry.hash, std::move(path));
      } else if (entry.type == EntryType::kHardlink) {
        auto it = hash_of.find(entry.target);
        if (it == hash_of.end()) return Status::Ok();
        entry.hash = it->second;
      }
      manifest.entries.push_back(std::move(entry));
      return Status::Ok();
    });
    if (!walked.ok()) return walked.WithContext("modules of kernel " + key);
    GC_RETURN_IF_ERROR(
        ValidateManifest(manifest).WithContext("modules of kernel " + key + " in " + root));
    tree->manifest = SerializeManifest(manifest);
    return tree;
  });
}

}  // namespace gc
