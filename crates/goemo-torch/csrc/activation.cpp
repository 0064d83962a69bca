// The feed-forward activations as the int8 feed-forward block applies them, on a whole tensor:
// what tests measure their accuracy through.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/GradMode.h>

#include "row_kernels.hpp"
#include "shim_common.hpp"

extern "C" {

// A new float32 tensor: activation(input), element by element. Returns nullptr with the message
// on error.
at::Tensor* goemo_activate(int32_t activation, at::Tensor* input, char* error, size_t error_len) {
  at::Tensor* result = nullptr;
  goemo::guarded(error, error_len, [&] {
    c10::NoGradGuard no_grad;
    TORCH_CHECK(goemo::valid_activation(activation), "unknown activation code ", activation);
    TORCH_CHECK(input->device().is_cpu(), "the activation runs on the CPU; this input is on ", input->device());
    auto out = input->to(at::kFloat).contiguous().clone();
    float* xs = out.data_ptr<float>();
    const auto act = static_cast<goemo::Activation>(activation);
    constexpr int64_t kBlock = 4096;
    at::parallel_for(0, out.numel(), kBlock, [&](int64_t begin, int64_t end) {
      goemo::activate_row(xs + begin, act, end - begin);
    });
    result = new at::Tensor(out);
  });
  return result;
}
}
