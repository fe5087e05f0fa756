#include "imager/getimage.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>

#include "common/delta.h"
#include "common/http_client.h"
#include "common/log.h"
#include "common/object_stream.h"
#include "common/progress.h"
#include "common/stopwatch.h"
#include "common/tls.h"

namespace gc {

namespace {

constexpr uint64_t kBatchBytes = 32 << 20;
constexpr size_t kBatchObjects = 4000;
constexpr size_t kSparseBlock = 4096;

struct Wanted {
  std::string hash;
  uint64_t size = 0;
  bool sparse = false;
  std::string path;        // one path using it, for messages
  std::string basis_hash;  // same path in the previous version, if any
};

class Fetcher {
 public:
  Fetcher(ImageStore* store, const GetImageOptions& options, HttpClient* client)
      : store_(store),
        options_(options),
        client_(client),
        base_("https://" + options.golden_client + "/v1/capture/") {}

  // GET/POST an endpoint; non-2xx becomes a Status naming the golden client.
  Result<std::string> Fetch(const std::string& method, const std::string& endpoint,
                            std::string body = "") {
    HttpCall call = MakeCall(method, endpoint, std::move(body));
    GC_ASSIGN_OR_RETURN(HttpResult result, client_->Call(std::move(call)));
    transferred_ += result.bytes_received;
    GC_RETURN_IF_ERROR(CheckStatus(result, endpoint));
    return std::move(result.body);
  }

  // Fetches whole objects in batches over parallel connections.
  Status FetchObjects(const std::vector<const Wanted*>& wanted, Progress* progress) {
    std::vector<std::vector<const Wanted*>> batches;
    uint64_t batch_bytes = 0;
    for (const Wanted* item : wanted) {
      if (batches.empty() || batch_bytes >= kBatchBytes || batches.back().size() >= kBatchObjects) {
        batches.emplace_back();
        batch_bytes = 0;
      }
      batches.back().push_back(item);
      batch_bytes += item->size + 100;
    }
    // One thread per connection, each decoding, hashing and writing its own
    // batches: on a fast link the receiving side is bound by SHA-256 and
    // writes, so the work has to spread over the cores.
    std::atomic<size_t> next{0};
    std::mutex mutex;
    Status first_error;
    auto worker = [&] {
      for (size_t i = next++; i < batches.size(); i = next++) {
        {
          std::lock_guard<std::mutex> guard(mutex);
          if (!first_error.ok()) return;
        }
        Status status = FetchBatch(batches[i], progress);
        if (!status.ok()) {
          std::lock_guard<std::mutex> guard(mutex);
          if (first_error.ok()) first_error = status;
          return;
        }
      }
    };
    std::vector<std::thread> pool;
    int threads = std::min<int>(options_.parallel, static_cast<int>(batches.size()));
    for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
    worker();
    for (auto& thread : pool) thread.join();
    return first_error;
  }

  Status FetchBatch(const std::vector<const Wanted*>& batch, Progress* progress) {
    BatchState state(this, progress);
    std::string body;
    for (const Wanted* item : batch) {
      body += item->hash + "\n";
      state.expected[item->hash] = item;
    }
    HttpCall call = MakeCall("POST", "objects", std::move(body));
    call.sink = [&state](std::string_view chunk) { return state.decoder.Feed(chunk); };
    call.retries = 0;  // a half-consumed stream cannot be replayed
    GC_ASSIGN_OR_RETURN(HttpResult result, client_->Call(std::move(call)));
    transferred_ += result.bytes_received;
    GC_RETURN_IF_ERROR(CheckStatus(result, "objects"));
    GC_RETURN_IF_ERROR(state.decoder.Finish());
    if (state.received != state.expected.size()) {
      return Corrupt("golden client sent " + std::to_string(state.received) + " of " +
                     std::to_string(state.expected.size()) + " objects requested");
    }
    return Status::Ok();
  }

  // Fetches one object as a delta against the store's copy of its basis.
  Status FetchDelta(const Wanted& item) {
    GC_ASSIGN_OR_RETURN(UniqueFd basis, store_->OpenObject(item.basis_hash));
    GC_ASSIGN_OR_RETURN(std::string signature, ComputeSignature(basis.get()));
    GC_ASSIGN_OR_RETURN(std::string delta, Fetch("POST", "delta/" + item.hash, signature));
    GC_ASSIGN_OR_RETURN(auto writer, store_->NewObject());
    GC_RETURN_IF_ERROR(ApplyDelta(basis.get(), delta,
                                  [&](std::string_view chunk) { return writer->Append(chunk); }));
    auto hash = writer->Commit(item.hash);
    if (!hash.ok()) return hash.status().WithContext("'/" + item.path + "' (delta)");
    return Status::Ok();
  }

  uint64_t transferred() const { return transferred_.load(); }

 private:
  struct BatchState {
    BatchState(Fetcher* fetcher, Progress* progress)
        : decoder({[this](const std::string& hash, uint64_t size) { return Begin(hash, size); },
                   [this](std::string_view data) { return Data(data); },
                   [this]() { return End(); }}),
          fetcher(fetcher),
          progress(progress) {}

    Status Begin(const std::string& hash, uint64_t size) {
      auto it = expected.find(hash);
      if (it == expected.end())
        return Corrupt("golden client sent an object not asked for: " + hash);
      current = it->second;
      if (size != current->size) {
        return Corrupt("'/" + current->path + "' changed size during capture; run getimage again");
      }
      GC_ASSIGN_OR_RETURN(writer, fetcher->store_->NewObject());
      offset = 0;
      return Status::Ok();
    }

    Status Data(std::string_view data) {
      if (!current->sparse) return writer->Append(data);
      // Keep holes: all-zero blocks of a sparse file become holes in the store.
      while (!data.empty()) {
        size_t in_block = kSparseBlock - static_cast<size_t>(offset % kSparseBlock);
        size_t n = std::min(in_block, data.size());
        std::string_view piece = data.substr(0, n);
        bool zero = piece.find_first_not_of('\0') == std::string_view::npos;
        GC_RETURN_IF_ERROR(zero ? writer->Skip(n) : writer->Append(piece));
        offset += n;
        data.remove_prefix(n);
      }
      return Status::Ok();
    }

    Status End() {
      auto hash = writer->Commit(current->hash);
      if (!hash.ok()) {
        return hash.status().WithContext("'/" + current->path +
                                         "' changed during capture; run getimage again");
      }
      ++received;
      progress->Add(1, current->size);
      writer.reset();
      return Status::Ok();
    }

    ObjectStreamDecoder decoder;
    Fetcher* fetcher;
    Progress* progress;
    std::unordered_map<std::string, const Wanted*> expected;
    const Wanted* current = nullptr;
    std::unique_ptr<ObjectWriter> writer;
    uint64_t offset = 0;
    size_t received = 0;
  };

  HttpCall MakeCall(const std::string& method, const std::string& endpoint, std::string body) {
    HttpCall call;
    call.method = method;
    call.url = base_ + endpoint;
    call.headers.push_back("Authorization: Bearer " + options_.token);
    call.body = std::move(body);
    return call;
  }

  Status CheckStatus(const HttpResult& result, const std::string& endpoint) const {
    if (result.status >= 200 && result.status < 300) return Status::Ok();
    std::string detail = result.body.substr(0, result.body.find('\n'));
    if (result.status == 401) {
      return Status(Code::kUnauthorized,
                    "golden client " + options_.golden_client +
                        " refused the token (401): use the --token that its prepareclient "
                        "printed; a token is valid only while that prepareclient runs");
    }
    return Status(Code::kNetwork, "golden client " + options_.golden_client + " answered " +
                                      std::to_string(result.status) + " to " + endpoint + ": " +
                                      detail);
  }

  ImageStore* store_;
  const GetImageOptions& options_;
  HttpClient* client_;
  std::string base_;
  std::atomic<uint64_t> transferred_{0};
};

struct Capture {
  Manifest manifest;
  std::string layout;
};

Status CheckOptions(const GetImageOptions& options) {
  GC_RETURN_IF_ERROR(ValidateImageName(options.image));
  if (options.golden_client.find(':') == std::string::npos) {
    return InvalidArgument("--golden-client '" + options.golden_client +
                           "': expected HOST:PORT as prepareclient printed it");
  }
  if (!IsPinList(options.pin)) {
    return InvalidArgument("--pin '" + options.pin.substr(0, 80) +
                           "': expected sha256//... as prepareclient printed it (also in its "
                           "STATE/tls/pin)");
  }
  return Status::Ok();
}

Result<Capture> FetchManifestAndLayout(Fetcher* fetcher, const GetImageOptions& options) {
  auto manifest_text = fetcher->Fetch("GET", "manifest");
  if (!manifest_text.ok()) {
    return manifest_text.status().WithContext(
        "cannot fetch the manifest (is prepareclient running on " + options.golden_client + "?)");
  }
  Capture capture;
  GC_ASSIGN_OR_RETURN(capture.manifest,
                      ParseManifest(*manifest_text, "manifest from " + options.golden_client));
  GC_ASSIGN_OR_RETURN(capture.layout, fetcher->Fetch("GET", "layout"));
  return capture;
}

// The file objects of `manifest` the store lacks, by hash (deterministic order).
std::map<std::string, Wanted> MissingObjects(ImageStore* store, const Manifest& manifest) {
  std::map<std::string, Wanted> wanted;
  for (const auto& entry : manifest.entries) {
    if (entry.type != EntryType::kFile || wanted.count(entry.hash) ||
        store->HasObject(entry.hash)) {
      continue;
    }
    wanted.emplace(entry.hash,
                   Wanted{entry.hash, entry.size, !entry.data_extents.empty(), entry.path, ""});
  }
  return wanted;
}

// Large files that changed come as deltas against the same path's content
// in the previous version (read only when there is such a file).
Status FindDeltaBases(ImageStore* store, const GetImageOptions& options,
                      std::map<std::string, Wanted>* wanted) {
  bool any_large = std::any_of(wanted->begin(), wanted->end(), [&](const auto& item) {
    return item.second.size >= options.delta_min_size;
  });
  GC_ASSIGN_OR_RETURN(auto latest, store->Latest(options.image));
  if (!latest || !options.use_deltas || !any_large) return Status::Ok();
  GC_ASSIGN_OR_RETURN(Manifest old, store->LoadManifest(*latest));
  std::unordered_map<std::string, std::string> previous;
  for (auto& entry : old.entries) {
    if (entry.type == EntryType::kFile && entry.size >= options.delta_min_size) {
      previous.emplace(std::move(entry.path), std::move(entry.hash));
    }
  }
  for (auto& [hash, item] : *wanted) {
    auto basis = previous.find(item.path);
    if (item.size >= options.delta_min_size && basis != previous.end() &&
        store->HasObject(basis->second)) {
      item.basis_hash = basis->second;
    }
  }
  return Status::Ok();
}

// Fetches every wanted object: those with a basis as deltas (whole if the
// delta fails), the others whole in batches. Returns how many came as deltas.
Result<uint64_t> FetchWanted(Fetcher* fetcher, const std::map<std::string, Wanted>& wanted,
                             const std::string& image) {
  Progress progress("getimage " + image);
  uint64_t want_bytes = 0;
  std::vector<const Wanted*> whole;
  for (const auto& [hash, item] : wanted) {
    want_bytes += item.size;
    if (item.basis_hash.empty()) whole.push_back(&item);
  }
  progress.SetTotals(wanted.size(), want_bytes);
  uint64_t deltas = 0;
  for (const auto& [hash, item] : wanted) {
    if (item.basis_hash.empty()) continue;
    Status status = fetcher->FetchDelta(item);
    if (status.ok()) {
      ++deltas;
      progress.Add(1, item.size);
    } else {
      GC_LOG(Warning) << "delta for '/" << item.path << "' failed (" << status.message()
                      << "); fetching it whole";
      whole.push_back(&item);
    }
  }
  GC_RETURN_IF_ERROR(fetcher->FetchObjects(whole, &progress));
  progress.Finish();
  return deltas;
}

CaptureRecord MakeRecord(Env* env, const GetImageOptions& options, const GetImageSummary& summary,
                         uint64_t transferred, double seconds) {
  CaptureRecord record;
  record.time_ns = env->NowNanos();
  record.source = "golden-client " + options.golden_client;
  record.message = options.message;
  record.files = summary.files;
  record.bytes_total = summary.bytes_total;
  record.bytes_transferred = transferred;
  record.seconds = seconds;
  return record;
}

}  // namespace

Result<GetImageSummary> GetImage(ImageStore* store, const GetImageOptions& options) {
  GC_RETURN_IF_ERROR(CheckOptions(options));
  Stopwatch stopwatch;
  auto phase = [&stopwatch](const char* what) {
    GC_LOG(Debug) << "getimage: " << what << " at " << stopwatch.Seconds() << " s";
  };
  GC_RETURN_IF_ERROR(store->BeginWrite());
  HttpClientOptions client_options;
  client_options.pinned_public_key = options.pin;
  HttpClient client(std::move(client_options));
  Fetcher fetcher(store, options, &client);
  GC_ASSIGN_OR_RETURN(Capture capture, FetchManifestAndLayout(&fetcher, options));
  phase("manifest and layout fetched");
  std::map<std::string, Wanted> wanted = MissingObjects(store, capture.manifest);
  GC_RETURN_IF_ERROR(FindDeltaBases(store, options, &wanted));
  phase("wanted objects known");

  GetImageSummary summary;
  ManifestTotals totals = ComputeTotals(capture.manifest);
  summary.files = totals.files;
  summary.bytes_total = totals.file_bytes;
  summary.objects_fetched = wanted.size();
  GC_ASSIGN_OR_RETURN(summary.deltas, FetchWanted(&fetcher, wanted, options.image));
  phase("objects fetched");

  CaptureRecord record =
      MakeRecord(store->env(), options, summary, fetcher.transferred(), stopwatch.Seconds());
  GC_ASSIGN_OR_RETURN(summary.ref,
                      store->Publish(options.image, capture.manifest, capture.layout, record));
  phase("published");

  // Tell prepareclient it may stop; the image is safe whatever it answers.
  auto done = fetcher.Fetch("POST", "done");
  if (!done.ok()) GC_LOG(Debug) << "done: " << done.status().message();
  summary.bytes_transferred = fetcher.transferred();
  summary.seconds = stopwatch.Seconds();
  return summary;
}

}  // namespace gc
