// Gradients beyond tch: where a parameter's gradient lives (set_grad), and
// torch.nn.utils.clip_grad_norm_(foreach=True) as libtorch runs it: one _foreach_norm over the
// gradients, the norm of those norms, and one _foreach_mul_ by the clamped coefficient, with no
// copy to the host (on CUDA a handful of launches and no synchronisation). tch wraps no
// _foreach_ operation.
#include <ATen/ATen.h>
#include <ATen/ops/_foreach_mul.h>
#include <ATen/ops/_foreach_norm.h>

#include <vector>

#include "shim_common.hpp"

extern "C" {

// grads: n pointers to the gradients (one device, one dtype). Scales them in place so that their
// global L2 norm is at most max_norm and returns the norm before clipping as a new 0-d tensor
// (owned by the caller), or nullptr with libtorch's message in `error`.
at::Tensor* goemo_clip_grad_norm(at::Tensor** grads, int64_t n, double max_norm, char* error, size_t error_len) {
  at::Tensor* result = nullptr;
  goemo::guarded(error, error_len, [&] {
    std::vector<at::Tensor> g;
    g.reserve(n);
    for (int64_t i = 0; i < n; ++i) g.push_back(*grads[i]);
    auto norms = at::_foreach_norm(g, 2);
    auto total = at::linalg_vector_norm(at::stack(norms), 2);
    auto coefficient = at::clamp_max(max_norm / (total + 1e-6), 1.0);
    at::_foreach_mul_(g, coefficient);
    result = new at::Tensor(total);
  });
  return result;
}

// Makes `grad` the gradient of `param` (autograd then accumulates into it in place): data-parallel
// training keeps gradients as views of its flat all-reduce buckets, as DDP's
// gradient_as_bucket_view does. Returns 0, or -1 with the message.
int goemo_set_grad(at::Tensor* param, at::Tensor* grad, char* error, size_t error_len) {
  return goemo::guarded(error, error_len, [&] {
    TORCH_CHECK(param->sizes() == grad->sizes(), "a gradient of shape ", grad->sizes(), " for a parameter of shape ",
                param->sizes());
    TORCH_CHECK(param->dtype() == grad->dtype() && param->device() == grad->device(),
                "a gradient's dtype and device must be its parameter's");
    param->mutable_grad() = *grad;
  });
}
}
