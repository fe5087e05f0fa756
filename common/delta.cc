#include "common/delta.h"

#include <librsync.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "common/log.h"

namespace gc {
namespace {

// Large enough that a 64 MiB file takes a few hundred iterations, small
// enough to stay cheap on an initramfs agent.
constexpr size_t kInputBufferSize = 256 * 1024;
constexpr size_t kOutputBufferSize = 256 * 1024;

struct JobDeleter {
  void operator()(rs_job_t* job) const { rs_job_free(job); }
};
using JobPtr = std::unique_ptr<rs_job_t, JobDeleter>;

struct SignatureDeleter {
  void operator()(rs_signature_t* signature) const { rs_free_sumset(signature); }
};
using SignaturePtr = std::unique_ptr<rs_signature_t, SignatureDeleter>;

// librsync prints its own errors to stderr by default. They are often more
// specific than rs_strerror ("bogus command 0x5a"), so the last one of this
// thread is kept for the Status; the rest is only worth a debug line.
thread_local std::string last_librsync_error;

void TraceToLog(rs_loglevel level, const char* message) {
  std::string_view text(message);
  while (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  if (level <= RS_LOG_ERR) {
    // Keeps the first error of a job: later ones only restate it
    // ("patch job failed: stream corrupt").
    if (last_librsync_error.empty()) last_librsync_error = text;
    GC_LOG(Debug) << text;
  }
}

void InstallTrace() {
  static std::once_flag once;
  std::call_once(once, [] {
    rs_trace_to(TraceToLog);
    rs_trace_set_level(RS_LOG_ERR);
  });
}

// Where a job's input comes from: a buffer in memory or a file read with
// pread from offset 0 (so the caller's fd position never matters).
class JobInput {
 public:
  explicit JobInput(std::string_view data) : data_(data) {}
  explicit JobInput(int fd) : fd_(fd), buffer_(kInputBufferSize) {}

  // Makes the next piece of input available. Returns an empty view once the
  // input is exhausted.
  Result<std::string_view> Next() {
    if (fd_ < 0) {
      return std::exchange(data_, std::string_view());
    }
    for (;;) {
      ssize_t n = ::pread(fd_, buffer_.data(), buffer_.size(), offset_);
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoError("reading input file at offset " + std::to_string(offset_));
      }
      offset_ += n;
      return std::string_view(buffer_.data(), static_cast<size_t>(n));
    }
  }

 private:
  std::string_view data_;
  int fd_ = -1;
  off_t offset_ = 0;
  std::vector<char> buffer_;
};

// Why a job failed when librsync's own code is not specific enough (our
// callbacks set it before returning an error code to librsync).
struct JobContext {
  std::optional<Status> callback_error;
};

Status JobError(std::string_view what, rs_result result, const JobContext* context) {
  if (context != nullptr && context->callback_error.has_value()) {
    return context->callback_error->WithContext(what);
  }
  std::string message = std::string(what) + ": " + rs_strerror(result);
  if (!last_librsync_error.empty()) message += " [" + last_librsync_error + "]";
  switch (result) {
    case RS_BAD_MAGIC:
    case RS_CORRUPT:
    case RS_INPUT_ENDED:
    case RS_SYNTAX_ERROR:
    case RS_UNIMPLEMENTED:
      return Corrupt(message + " (the data is damaged or not from librsync; fetch it again)");
    case RS_MEM_ERROR:
      return Status(Code::kInternal, message);
    default:
      return Status(Code::kIoError, message);
  }
}

// Runs `job` to completion, feeding it `input` and passing every piece of
// output to `sink` (may be null for jobs without output, like loadsig).
Status DriveJob(rs_job_t* job, std::string_view what, JobInput& input, const ChunkSink* sink,
                const JobContext* context) {
  last_librsync_error.clear();
  std::vector<char> out(kOutputBufferSize);
  rs_buffers_t buffers{};
  bool eof = false;
  int idle_rounds = 0;
  for (;;) {
    bool refilled = false;
    if (buffers.avail_in == 0 && !eof) {
      GC_ASSIGN_OR_RETURN(std::string_view piece, input.Next());
      // librsync's buffer type is not const-correct; it never writes input.
      buffers.next_in = const_cast<char*>(piece.data());
      buffers.avail_in = piece.size();
      eof = piece.empty();
      buffers.eof_in = eof ? 1 : 0;
      refilled = true;
    }
    const size_t in_before = buffers.avail_in;
    buffers.next_out = out.data();
    buffers.avail_out = out.size();
    rs_result result = rs_job_iter(job, &buffers);
    const size_t produced = out.size() - buffers.avail_out;
    if (produced > 0 && sink != nullptr) {
      GC_RETURN_IF_ERROR((*sink)(std::string_view(out.data(), produced)));
    }
    if (result == RS_DONE) return Status::Ok();
    if (result != RS_BLOCKED) return JobError(what, result, context);
    // A job that neither reads nor writes would spin forever; librsync
    // reports truncated input itself, this is a last-resort guard.
    bool progressed = refilled || produced > 0 || buffers.avail_in != in_before;
    idle_rounds = progressed ? 0 : idle_rounds + 1;
    if (idle_rounds > 2) {
      return Corrupt(std::string(what) + ": librsync stopped making progress (truncated input?)");
    }
  }
}

Result<uint64_t> FdSize(int fd, std::string_view what) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return ErrnoError(what);
  return static_cast<uint64_t>(st.st_size);
}

struct PatchSource {
  int fd;
  JobContext context;
};

// rs_copy_cb: reads basis bytes with pread into librsync's buffer.
rs_result CopyFromBasis(void* opaque, rs_long_t pos, size_t* len, void** buf) {
  auto* source = static_cast<PatchSource*>(opaque);
  for (;;) {
    ssize_t n = ::pread(source->fd, *buf, *len, pos);
    if (n < 0) {
      if (errno == EINTR) continue;
      source->context.callback_error =
          ErrnoError("reading basis file at offset " + std::to_string(pos));
      return RS_IO_ERROR;
    }
    if (n == 0 && *len > 0) {
      source->context.callback_error =
          Corrupt("delta refers to basis offset " + std::to_string(pos) +
                  " past the end of the basis file (the basis changed since its signature was "
                  "made; fetch the whole file instead)");
      return RS_INPUT_ENDED;
    }
    *len = static_cast<size_t>(n);
    return RS_DONE;
  }
}

}  // namespace

Result<std::string> ComputeSignature(int basis_fd) {
  InstallTrace();
  GC_ASSIGN_OR_RETURN(uint64_t size, FdSize(basis_fd, "signature: stat basis file"));
  rs_magic_number magic = RS_RK_BLAKE2_SIG_MAGIC;
  size_t block_len = 0;   // recommended for this size
  size_t strong_len = 0;  // maximum: best protection against crafted collisions
  rs_result args = rs_sig_args(static_cast<rs_long_t>(size), &magic, &block_len, &strong_len);
  if (args != RS_DONE) {
    return Internal(std::string("signature: rs_sig_args: ") + rs_strerror(args));
  }
  JobPtr job(rs_sig_begin(block_len, strong_len, magic));
  if (!job) return Internal("signature: rs_sig_begin failed (out of memory?)");
  std::string signature;
  ChunkSink append = [&signature](std::string_view chunk) {
    signature.append(chunk);
    return Status::Ok();
  };
  JobInput input(basis_fd);
  GC_RETURN_IF_ERROR(DriveJob(job.get(), "signature", input, &append, nullptr));
  return signature;
}

Status ComputeDelta(std::string_view signature, int new_fd, const ChunkSink& sink) {
  InstallTrace();
  rs_signature_t* raw_signature = nullptr;
  JobPtr load(rs_loadsig_begin(&raw_signature));
  // The loadsig job does not own the signature it allocates: we do.
  SignaturePtr sums(raw_signature);
  if (!load || !sums) return Internal("delta: rs_loadsig_begin failed (out of memory?)");
  JobInput sig_input(signature);
  GC_RETURN_IF_ERROR(DriveJob(load.get(), "delta: loading signature", sig_input, nullptr, nullptr));
  load.reset();
  rs_result indexed = rs_build_hash_table(sums.get());
  if (indexed != RS_DONE) return JobError("delta: indexing signature", indexed, nullptr);

  JobPtr job(rs_delta_begin(sums.get()));
  if (!job) return Internal("delta: rs_delta_begin failed (out of memory?)");
  JobInput input(new_fd);
  return DriveJob(job.get(), "delta", input, &sink, nullptr);
}

Status ApplyDelta(int basis_fd, std::string_view delta, const ChunkSink& sink) {
  InstallTrace();
  PatchSource source{basis_fd, {}};
  JobPtr job(rs_patch_begin(CopyFromBasis, &source));
  if (!job) return Internal("patch: rs_patch_begin failed (out of memory?)");
  JobInput input(delta);
  return DriveJob(job.get(), "patch", input, &sink, &source.context);
}

}  // namespace gc
