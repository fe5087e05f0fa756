// getimage: pulls a golden client's tree (served by goldcast-agent
// prepareclient) into the image store as the next version of an image.
// Only objects the store lacks are fetched; large files that changed since
// the previous version travel as librsync deltas; every object is verified
// against its hash; the version is published atomically at the end.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "imager/store.h"

namespace gc {

struct GetImageOptions {
  std::string golden_client;  // HOST:PORT
  std::string token;
  // The pin of prepareclient's TLS key (it prints it): the only key this
  // capture trusts, so the tree and the token go to no one else.
  std::string pin;
  std::string image;
  std::string message;
  int parallel = 4;  // HTTP transfers in flight
  bool use_deltas = true;
  uint64_t delta_min_size = 1 << 20;  // smaller files are sent whole
};

struct GetImageSummary {
  ImageRef ref;
  uint64_t files = 0;
  uint64_t bytes_total = 0;        // sum of file sizes in the image
  uint64_t bytes_transferred = 0;  // HTTP body bytes received
  uint64_t objects_fetched = 0;    // objects the store did not have
  uint64_t deltas = 0;             // of which came as deltas
  double seconds = 0;
};

Result<GetImageSummary> GetImage(ImageStore* store, const GetImageOptions& options);

}  // namespace gc
