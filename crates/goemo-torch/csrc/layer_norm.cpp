// x ← LayerNorm(x + residual) in place over the last dimension, for float inference on the CPU:
// one pass per row where libtorch's add and layer_norm make two, each with a new tensor.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/GradMode.h>

#include "row_kernels.hpp"
#include "shim_common.hpp"

extern "C" {

// Returns 0, or -1 with the message; `x` is left unchanged on error.
int goemo_add_layer_norm_(at::Tensor* x, at::Tensor* residual, at::Tensor* gamma, at::Tensor* beta, double eps,
                          char* error, size_t error_len) {
  return goemo::guarded(error, error_len, [&] {
    c10::NoGradGuard no_grad;
    TORCH_CHECK(x->dim() >= 1 && x->scalar_type() == at::kFloat && x->device().is_cpu() && x->is_contiguous(),
                "fused add + layer norm runs in place on a contiguous float32 CPU tensor, got ", x->sizes(), " ",
                x->scalar_type(), " on ", x->device());
    TORCH_CHECK(!x->requires_grad(), "fused add + layer norm runs in place, for inference only");
    TORCH_CHECK(residual->sizes() == x->sizes(), "the residual has shape ", residual->sizes(), ", the input ",
                x->sizes());
    const int64_t width = x->size(-1);
    goemo::check_layer_norm_params(*gamma, *beta, width);
    auto r = residual->to(at::kFloat).contiguous();
    const int64_t rows = width == 0 ? 0 : x->numel() / width;
    float* xs = x->data_ptr<float>();
    const float* rs = r.data_ptr<float>();
    const float* g = gamma->data_ptr<float>();
    const float* b = beta->data_ptr<float>();
    const float e = static_cast<float>(eps);
    at::parallel_for(0, rows, 16, [&](int64_t begin, int64_t end) {
      for (int64_t m = begin; m < end; ++m) goemo::add_layer_norm_row(xs + m * width, rs + m * width, g, b, e, width);
    });
  });
}
}
