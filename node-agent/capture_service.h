// CaptureService: what the golden client serves to `goldcast getimage`.
// Every request must carry the one-time token; the manifest is built by
// walking the tree (hash cache makes a re-walk cheap), and objects are
// served by hash from the paths that walk found. See docs/capture-protocol.md.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "common/fs_walk.h"
#include "common/http_server.h"
#include "common/manifest.h"
#include "node-agent/hash_cache.h"

namespace gc {

constexpr char kCaptureApiPrefix[] = "/v1/capture/";

struct CaptureServiceOptions {
  std::string root;
  WalkOptions walk;
  std::string token;
  std::string layout_json;
};

class CaptureService {
 public:
  CaptureService(CaptureServiceOptions options, HashCache* cache);

  HttpResponse Handle(const HttpRequest& request);
  // Before its body: a request without the token is answered 401 at once,
  // so nobody but the image server makes the golden client buffer a byte;
  // POST objects may send kMaxObjectsBody, POST delta/ kMaxDeltaBody
  // (a librsync signature: ~0.6% of a large file), others nothing.
  HttpAdmission Admit(const HttpRequest& head) const;
  static constexpr size_t kMaxObjectsBody = 16 << 20;
  static constexpr size_t kMaxDeltaBody = 256 << 20;

  // Walks and hashes the tree; the result is what GET manifest returns.
  Result<Manifest> BuildManifest();

  // Walks the tree now and keeps the result for the first GET manifest, so a
  // capture right after prepareclient starts walks the tree once, not twice.
  // Later requests (--keep-serving) walk again. Returns the totals.
  Result<ManifestTotals> WalkAtStart();

  // Set once a getimage has said it is done.
  bool done() const { return done_.load(); }

 private:
  struct ObjectSource {
    std::string path;  // relative to root
    uint64_t size = 0;
    uint64_t dev = 0;  // the file the walk found there
    uint64_t ino = 0;
  };

  bool Authorized(const HttpRequest& request) const;
  // The 401 for a request without the token (logged).
  static HttpResponse Unauthorized(const HttpRequest& request);
  HttpResponse ServeManifest();
  HttpResponse ServeObject(const std::string& hash);
  HttpResponse ServeObjects(const std::string& body);
  HttpResponse ServeDelta(const std::string& hash, const std::string& signature);
  Result<ObjectSource> Find(const std::string& hash);
  Result<UniqueFd> OpenSource(const ObjectSource& source) const;

  CaptureServiceOptions options_;
  HashCache* cache_;
  std::mutex mutex_;  // guards sources_ and serialises walks
  std::unordered_map<std::string, ObjectSource> sources_;
  std::optional<std::string> startup_manifest_;  // serialised, served once
  std::atomic<bool> done_{false};
};

}  // namespace gc
