#include "common/status.h"

#include <cstring>

namespace gc {

const char* CodeName(Code code) {
  switch (code) {
    case Code::kOk:
      return "ok";
    case Code::kInvalidArgument:
      return "invalid argument";
    case Code::kNotFound:
      return "not found";
    case Code::kAlreadyExists:
      return "already exists";
    case Code::kCorrupt:
      return "corrupt";
    case Code::kIoError:
      return "I/O error";
    case Code::kNoSpace:
      return "no space left";
    case Code::kUnauthorized:
      return "unauthorized";
    case Code::kBusy:
      return "busy";
    case Code::kNetwork:
      return "network error";
    case Code::kUnsupported:
      return "unsupported";
    case Code::kFailedPrecondition:
      return "failed precondition";
    case Code::kInternal:
      return "internal error";
  }
  return "unknown";
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  return Status(code_, std::string(context) + ": " + message_);
}

Status InvalidArgument(std::string message) {
  return Status(Code::kInvalidArgument, std::move(message));
}
Status NotFound(std::string message) { return Status(Code::kNotFound, std::move(message)); }
Status Corrupt(std::string message) { return Status(Code::kCorrupt, std::move(message)); }
Status IoError(std::string message) { return Status(Code::kIoError, std::move(message)); }
Status FailedPrecondition(std::string message) {
  return Status(Code::kFailedPrecondition, std::move(message));
}
Status Internal(std::string message) { return Status(Code::kInternal, std::move(message)); }

Status ErrnoError(std::string_view context, int err) {
  std::string message = std::string(context) + ": " + std::strerror(err);
  switch (err) {
    case ENOSPC:
    case EDQUOT:
      return Status(Code::kNoSpace, message + " (free some space and run the command again)");
    case ENOENT:
      return Status(Code::kNotFound, message);
    case EEXIST:
      return Status(Code::kAlreadyExists, message);
    case EACCES:
    case EPERM:
      return Status(Code::kIoError, message + " (goldcast needs root for this)");
    default:
      return Status(Code::kIoError, message);
  }
}

}  // namespace gc
