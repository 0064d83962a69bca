// AdamW as libtorch's fused kernel (at::_fused_adamw_, what torch.optim.AdamW(fused=True) runs):
// one pass over each parameter, its gradient and moments instead of five or six element-wise
// operations, and on CUDA one launch for all tensors. tch does not wrap it.
#include <ATen/ops/_fused_adamw.h>
#include <ATen/ops/scalar_tensor.h>

#include <vector>

#include "shim_common.hpp"

extern "C" {

// params, grads, exp_avgs, exp_avg_sqs: n pointers each to the at::Tensor behind a tch tensor,
// all on one device with one dtype. step: the step number of this update (bias corrections).
// Returns 0, or -1 with libtorch's message in `error` (NUL-terminated, at most error_len bytes).
int goemo_fused_adamw(at::Tensor** params, at::Tensor** grads, at::Tensor** exp_avgs,
                      at::Tensor** exp_avg_sqs, int64_t n, double lr, double beta1, double beta2,
                      double weight_decay, double eps, double step, char* error,
                      size_t error_len) {
  return goemo::guarded(error, error_len, [&] {
    if (n <= 0) return;
    std::vector<at::Tensor> p, g, m, v, steps;
    p.reserve(n), g.reserve(n), m.reserve(n), v.reserve(n), steps.reserve(n);
    // The kernel only reads the step counts (float32, on the parameters' device); one tensor
    // serves every parameter.
    auto step_count = at::scalar_tensor(step, at::TensorOptions().dtype(at::kFloat).device(params[0]->device()));
    for (int64_t i = 0; i < n; ++i) {
      p.push_back(*params[i]);
      g.push_back(*grads[i]);
      m.push_back(*exp_avgs[i]);
      v.push_back(*exp_avg_sqs[i]);
      steps.push_back(step_count);
    }
    at::_fused_adamw_(p, g, m, v, /*max_exp_avg_sqs=*/{}, steps, lr, beta1, beta2, weight_decay, eps,
                      /*amsgrad=*/false, /*maximize=*/false);
  });
}

// The same kernel with its schedule on the device, so that a recorded step (a CUDA graph) reads
// the values of each replay rather than those of the recording: `lr` a 0-d float32 tensor (the
// group's rate), `step` a 0-d float32 tensor (this update's number, bias corrections), and
// `skip` a 0-d float32 tensor or nullptr: where nonzero, the kernel leaves parameters and
// moments as they are (AMP's found_inf). All on the parameters' device.
int goemo_fused_adamw_on_device(at::Tensor** params, at::Tensor** grads, at::Tensor** exp_avgs,
                                at::Tensor** exp_avg_sqs, int64_t n, at::Tensor* lr, double beta1,
                                double beta2, double weight_decay, double eps, at::Tensor* step,
                                at::Tensor* skip, char* error, size_t error_len) {
  return goemo::guarded(error, error_len, [&] {
    if (n <= 0) return;
    std::vector<at::Tensor> p, g, m, v, steps;
    p.reserve(n), g.reserve(n), m.reserve(n), v.reserve(n), steps.reserve(n);
    for (int64_t i = 0; i < n; ++i) {
      p.push_back(*params[i]);
      g.push_back(*grads[i]);
      m.push_back(*exp_avgs[i]);
      v.push_back(*exp_avg_sqs[i]);
      steps.push_back(*step);
    }
    std::optional<at::Tensor> found_inf;
    if (skip != nullptr) found_inf = *skip;
    at::_fused_adamw_(p, g, m, v, /*max_exp_avg_sqs=*/{}, steps, *lr, beta1, beta2, weight_decay, eps,
                      /*amsgrad=*/false, /*maximize=*/false, /*grad_scale=*/std::nullopt, found_inf);
  });
}
}
