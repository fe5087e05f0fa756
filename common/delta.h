// librsync wrappers: signature of a basis file, delta of new content against
// a signature, and patch of a basis with a delta. Used by getimage and
// updateclient for large files that changed a little.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace gc {

using ChunkSink = std::function<Status(std::string_view chunk)>;

// Signature (RabinKarp + BLAKE2) of the file open on `basis_fd`.
Result<std::string> ComputeSignature(int basis_fd);

// Delta that turns the signature's basis into the content of `new_fd`.
Status ComputeDelta(std::string_view signature, int new_fd, const ChunkSink& sink);

// Applies `delta` to the basis open on `basis_fd` (read with pread, so the fd
// position does not matter); the new content goes to `sink`.
Status ApplyDelta(int basis_fd, std::string_view delta, const ChunkSink& sink);

}  // namespace gc
