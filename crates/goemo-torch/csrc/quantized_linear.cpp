// int8 dynamic quantization of Linear layers, as torch.ao.quantization.quantize_dynamic makes
// them: the weight quantized once, symmetric int8 per output channel, and packed for fbgemm
// (quantized::linear_prepack); at run time each batch's activations are quantized to uint8 with
// their own range and multiplied in int8 (quantized::linear_dynamic), the result in float32.
// The ops are called through the dispatcher, boxed, so no quantized header is needed.
#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/stack.h>

#include <string>
#include <vector>

#include "shim_common.hpp"

namespace goemo {
struct PackedLinear {
  c10::IValue packed;
};
}  // namespace goemo

extern "C" {

// Writes the names of this libtorch's quantized engines, comma-separated, into `names`.
int goemo_quantized_engines(char* names, size_t names_len, char* error, size_t error_len) {
  return goemo::guarded(error, error_len, [&] {
    std::string list;
    for (auto engine : at::globalContext().supportedQEngines()) {
      list += (list.empty() ? "" : ",") + c10::toString(engine);
    }
    goemo::copy_message(list.c_str(), names, names_len);
  });
}

// Makes `name` (one of goemo_quantized_engines) the engine of quantized operators.
int goemo_set_quantized_engine(const char* name, char* error, size_t error_len) {
  return goemo::guarded(error, error_len, [&] {
    auto& context = at::globalContext();
    for (auto engine : context.supportedQEngines()) {
      if (c10::toString(engine) == name) {
        context.setQEngine(engine);
        return;
      }
    }
    throw std::runtime_error(std::string("no quantized engine ") + name);
  });
}

// Quantizes and packs a float weight (out, in) and optional bias (out). Returns the packed layer
// (owned by the caller, freed by goemo_int8_linear_free), or nullptr with the message.
goemo::PackedLinear* goemo_int8_linear_pack(at::Tensor* weight, at::Tensor* bias, char* error, size_t error_len) {
  goemo::PackedLinear* result = nullptr;
  goemo::guarded(error, error_len, [&] {
    auto w = weight->detach().to(at::kFloat).contiguous();
    TORCH_CHECK(w.dim() == 2, "a Linear weight has 2 dimensions, this one has ", w.dim());
    // Symmetric per output channel, as PerChannelMinMaxObserver(qint8, per_channel_symmetric):
    // scale = max|w| / 127.5, zero point 0.
    auto scales = (w.abs().amax({1}) / 127.5).clamp_min(1.1920928955078125e-07).to(at::kDouble);
    auto zero_points = at::zeros({w.size(0)}, at::TensorOptions().dtype(at::kLong));
    auto qweight = at::quantize_per_channel(w, scales, zero_points, 0, at::kQInt8);
    std::optional<at::Tensor> b;
    if (bias != nullptr) b = bias->detach().to(at::kFloat).contiguous();
    static auto prepack = c10::Dispatcher::singleton().findSchemaOrThrow("quantized::linear_prepack", "");
    torch::jit::Stack stack{qweight, b};
    prepack.callBoxed(&stack);
    result = new goemo::PackedLinear{stack.at(0)};
  });
  return result;
}

// y = x Wᵀ + b with x quantized per call (uint8, its own min and max; reduce_range as PyTorch's
// x86 dynamic qconfig, so that fbgemm's 16-bit accumulation never saturates). Returns a new
// float tensor, or nullptr with the message.
at::Tensor* goemo_int8_linear_forward(goemo::PackedLinear* layer, at::Tensor* input, char* error, size_t error_len) {
  at::Tensor* result = nullptr;
  goemo::guarded(error, error_len, [&] {
    static auto linear = c10::Dispatcher::singleton().findSchemaOrThrow("quantized::linear_dynamic", "");
    torch::jit::Stack stack{input->contiguous(), layer->packed, true};
    linear.callBoxed(&stack);
    result = new at::Tensor(stack.at(0).toTensor());
  });
  return result;
}

void goemo_int8_linear_free(goemo::PackedLinear* layer) {
  delete layer;
}
}
