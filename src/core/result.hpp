// Result<T>: a value or an Error.  Errors carry an errno value (the code that
// finally crosses the FUSE boundary as -errno) and a sentence for the log.
// The success case carries no string, so the hot path never allocates.
#pragma once

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <variant>

namespace mpathfs {

struct Error {
  int code = EIO;   // an errno value, never 0
  std::string msg;  // why, for the log line and the CLI; may be empty

  static Error from_errno(int code, std::string msg) { return Error{code, std::move(msg)}; }
  // Human words for the code ("No such file or directory").
  std::string code_text() const { return std::strerror(code); }
  // "msg: code words" — what a log line or a CLI prints.
  std::string describe() const { return msg.empty() ? code_text() : msg + ": " + code_text(); }
};

// Short constructors for the codes SPEC.md names.
inline Error err_inval(std::string msg) { return {EINVAL, std::move(msg)}; }
inline Error err_noent(std::string msg) { return {ENOENT, std::move(msg)}; }
inline Error err_exist(std::string msg) { return {EEXIST, std::move(msg)}; }
inline Error err_busy(std::string msg) { return {EBUSY, std::move(msg)}; }
inline Error err_io(std::string msg) { return {EIO, std::move(msg)}; }

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Error e) : v_(std::move(e)) {}      // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const T& value() const& { return std::get<0>(v_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// Result<void>: success is an empty optional-like state.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error e) : err_(std::move(e)), failed_(true) {}  // NOLINT
  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return err_; }

 private:
  Error err_{};
  bool failed_ = false;
};

// A result with no value: success, or an Error (named apart from VolumeStatus).
using VoidResult = Result<void>;

inline VoidResult ok_void() { return {}; }

}  // namespace mpathfs
