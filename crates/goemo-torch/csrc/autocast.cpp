// libtorch's autocast state per device type and its reduced dtype, which tch does not expose
// (tch's `autocast` only toggles CUDA autocast at its default dtype, float16). The functions
// are declared here rather than through <ATen/autocast_mode.h>, which pulls in all of ATen.
#include <c10/core/DeviceType.h>
#include <c10/core/ScalarType.h>
#include <c10/macros/Export.h>

namespace at::autocast {
TORCH_API bool is_autocast_enabled(c10::DeviceType device_type);
TORCH_API void set_autocast_enabled(c10::DeviceType device_type, bool enabled);
TORCH_API c10::ScalarType get_autocast_dtype(c10::DeviceType device_type);
TORCH_API void set_autocast_dtype(c10::DeviceType device_type, c10::ScalarType dtype);
TORCH_API void clear_cache();
TORCH_API int increment_nesting();
TORCH_API int decrement_nesting();
}  // namespace at::autocast

namespace {
c10::DeviceType device_type(int cuda) { return cuda ? c10::DeviceType::CUDA : c10::DeviceType::CPU; }
}  // namespace

extern "C" {

// Enables or disables autocast on the CPU (cuda = 0) or CUDA (cuda = 1) with `dtype` (a
// c10::ScalarType code; negative keeps the current one). Returns the previous state as
// enabled + 2 * previous dtype code, or -1 when libtorch threw.
int goemo_autocast_set(int cuda, int enabled, int dtype) {
  try {
    auto type = device_type(cuda);
    int previous = (at::autocast::is_autocast_enabled(type) ? 1 : 0) +
                   2 * static_cast<int>(at::autocast::get_autocast_dtype(type));
    if (dtype >= 0) at::autocast::set_autocast_dtype(type, static_cast<c10::ScalarType>(dtype));
    at::autocast::set_autocast_enabled(type, enabled != 0);
    return previous;
  } catch (...) {
    return -1;
  }
}

// Enters (enter = 1) or leaves an autocast region; leaving the outermost one frees the cache
// of casted weights, as torch.autocast's __exit__ does.
int goemo_autocast_nesting(int enter) {
  try {
    if (enter) return at::autocast::increment_nesting();
    int depth = at::autocast::decrement_nesting();
    if (depth == 0) at::autocast::clear_cache();
    return depth;
  } catch (...) {
    return -1;
  }
}
}
