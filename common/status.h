// Status and Result<T>: goldcast's error values. Every fallible function
// returns one of them; the message is written for the cluster admin who reads
// it, so it names the file, field or host involved and what to do.
#pragma once

#include <cerrno>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace gc {

enum class Code {
  kOk = 0,
  kInvalidArgument,  // bad user input: flags, profiles, manifests, archives
  kNotFound,
  kAlreadyExists,
  kCorrupt,  // stored data does not match its hash or format
  kIoError,
  kNoSpace,       // ENOSPC / EDQUOT: the disk is full
  kUnauthorized,  // wrong or missing token
  kBusy,          // a lock is held by another process
  kNetwork,
  kUnsupported,
  // The request is fine but the setup does not allow it yet (an image not
  // captured, a kernel not built): fix the setup, then the same request works.
  kFailedPrecondition,
  kInternal,
};

const char* CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // "context: message"; keeps the code. Used to add the file or host name
  // as an error travels up.
  Status WithContext(std::string_view context) const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

Status InvalidArgument(std::string message);
Status NotFound(std::string message);
Status Corrupt(std::string message);
Status IoError(std::string message);
Status FailedPrecondition(std::string message);
Status Internal(std::string message);

// An error from errno: "context: strerror(err)", with ENOSPC mapped to
// kNoSpace, ENOENT to kNotFound, EACCES/EPERM to kIoError with a hint.
Status ErrnoError(std::string_view context, int err = errno);

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : value_(std::move(status)) {}  // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(value_); }
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(value_); }

  T& value() & { return std::get<T>(value_); }
  const T& value() const& { return std::get<T>(value_); }
  T&& value() && { return std::get<T>(std::move(value_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> value_;
};

}  // namespace gc

#define GC_CONCAT_INNER(a, b) a##b
#define GC_CONCAT(a, b) GC_CONCAT_INNER(a, b)

#define GC_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::gc::Status gc_status_ = (expr);        \
    if (!gc_status_.ok()) return gc_status_; \
  } while (0)

#define GC_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(tmp).value()

// GC_ASSIGN_OR_RETURN(auto x, Foo()); returns Foo()'s status on error.
#define GC_ASSIGN_OR_RETURN(lhs, expr) \
  GC_ASSIGN_OR_RETURN_IMPL(GC_CONCAT(gc_result_, __LINE__), lhs, expr)
