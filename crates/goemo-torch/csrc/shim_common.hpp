// What every shim shares: C++ exceptions turned into messages for Rust, never thrown across
// the C boundary.
#pragma once

#include <c10/util/Exception.h>

#include <cstring>
#include <exception>

namespace goemo {

inline void copy_message(const char* message, char* error, size_t error_len) {
  if (error_len == 0) return;
  std::strncpy(error, message, error_len - 1);
  error[error_len - 1] = '\0';
}

// Runs `body`; 0, or -1 with the exception's message in `error`.
template <typename F>
int guarded(char* error, size_t error_len, F&& body) {
  try {
    body();
    return 0;
  } catch (const c10::Error& e) {
    // Without the C++ backtrace, which says nothing to a user.
    copy_message(e.what_without_backtrace(), error, error_len);
    return -1;
  } catch (const std::exception& e) {
    copy_message(e.what(), error, error_len);
    return -1;
  } catch (...) {
    copy_message("unknown C++ exception", error, error_len);
    return -1;
  }
}

}  // namespace goemo
