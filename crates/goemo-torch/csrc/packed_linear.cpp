// Float32 Linear layers for CPU inference through oneDNN with the weight packed once at load
// (mkldnn::_reorder_linear_weight, the blocked layout its AVX-512 kernels read) and the
// activation applied as a post-op of the product (mkldnn::_linear_pointwise): what PyTorch's
// inductor emits for a frozen model on the CPU. libtorch's at::linear repacks nothing and calls
// MKL's sgemm, which on this workload's shapes runs about a tenth slower.
#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <c10/core/GradMode.h>

#include "row_kernels.hpp"
#include "shim_common.hpp"

namespace goemo {
struct PackedLinear {
  at::Tensor weight;  // oneDNN's opaque blocked layout
  at::Tensor bias;    // (out) float32, zeros when the layer has none
  int64_t in, out;
};

namespace {

// A batch size the packing is tuned for: 64 texts of 20 tokens, this workload's typical batch.
constexpr int64_t kTypicalRows = 1280;

at::Tensor reorder_weight(const at::Tensor& weight) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("mkldnn::_reorder_linear_weight", "")
                       .typed<at::Tensor(const at::Tensor&, std::optional<int64_t>)>();
  return op.call(weight, kTypicalRows);
}

at::Tensor linear_pointwise(const at::Tensor& x, const PackedLinear& layer, c10::string_view attr,
                            std::optional<c10::string_view> algorithm) {
  static auto op =
      c10::Dispatcher::singleton()
          .findSchemaOrThrow("mkldnn::_linear_pointwise", "")
          .typed<at::Tensor(const at::Tensor&, const at::Tensor&, const std::optional<at::Tensor>&, c10::string_view,
                            c10::List<std::optional<at::Scalar>>, std::optional<c10::string_view>)>();
  return op.call(x, layer.weight, layer.bias, attr, c10::List<std::optional<at::Scalar>>(), algorithm);
}

}  // namespace
}  // namespace goemo

extern "C" {

// Whether libtorch was built with oneDNN (goemo_packed_linear_pack fails otherwise).
int goemo_packed_linear_available() { return at::hasMKLDNN() ? 1 : 0; }

// Packs a float weight (out, in) for oneDNN and keeps the bias (out, optional) in float32.
// Returns the layer (owned by the caller, freed by goemo_packed_linear_free), or nullptr with
// the message.
goemo::PackedLinear* goemo_packed_linear_pack(at::Tensor* weight, at::Tensor* bias, char* error, size_t error_len) {
  goemo::PackedLinear* result = nullptr;
  goemo::guarded(error, error_len, [&] {
    c10::NoGradGuard no_grad;
    TORCH_CHECK(at::hasMKLDNN(), "this libtorch was built without oneDNN (mkldnn)");
    TORCH_CHECK(weight->device().is_cpu(), "packed float linear runs on the CPU; this weight is on ",
                weight->device());
    TORCH_CHECK(weight->dim() == 2, "a Linear weight has 2 dimensions, this one has ", weight->dim());
    auto w = weight->detach().to(at::kFloat).contiguous();
    at::Tensor b;
    if (bias != nullptr) {
      TORCH_CHECK(bias->dim() == 1 && bias->size(0) == w.size(0), "a Linear bias has shape [", w.size(0),
                  "], this one has ", bias->sizes());
      b = bias->detach().to(at::kFloat).contiguous().clone();
    } else {
      b = at::zeros({w.size(0)}, w.options());
    }
    result = new goemo::PackedLinear{goemo::reorder_weight(w), b, w.size(1), w.size(0)};
  });
  return result;
}

// activation(x Wᵀ + b) over the last dimension of a float32 CPU tensor; `activation` is -1 for
// none, else a row_kernels.hpp Activation code. Returns a new tensor, or nullptr with the message.
at::Tensor* goemo_packed_linear_forward(goemo::PackedLinear* layer, at::Tensor* input, int32_t activation,
                                       char* error, size_t error_len) {
  at::Tensor* result = nullptr;
  goemo::guarded(error, error_len, [&] {
    c10::NoGradGuard no_grad;
    TORCH_CHECK(activation == -1 || goemo::valid_activation(activation), "unknown activation code ", activation);
    TORCH_CHECK(input->device().is_cpu() && input->scalar_type() == at::kFloat,
                "packed float linear takes a float32 CPU input, got ", input->scalar_type(), " on ",
                input->device());
    TORCH_CHECK(input->dim() >= 1 && input->size(-1) == layer->in, "packed float linear expects a last dimension of ",
                layer->in, ", got an input of shape ", input->sizes());
    auto x = input->contiguous();
    if (x.numel() == 0) {
      auto shape = x.sizes().vec();
      shape.back() = layer->out;
      result = new at::Tensor(at::empty(shape, x.options()));
      return;
    }
    switch (activation) {
      case -1:
        result = new at::Tensor(goemo::linear_pointwise(x, *layer, "none", std::nullopt));
        break;
      case static_cast<int32_t>(goemo::Activation::kGeluErf):
        result = new at::Tensor(goemo::linear_pointwise(x, *layer, "gelu", c10::string_view("none")));
        break;
      case static_cast<int32_t>(goemo::Activation::kGeluTanh):
        result = new at::Tensor(goemo::linear_pointwise(x, *layer, "gelu", c10::string_view("tanh")));
        break;
      default:
        result = new at::Tensor(goemo::linear_pointwise(x, *layer, "relu", std::nullopt));
        break;
    }
  });
  return result;
}

void goemo_packed_linear_free(goemo::PackedLinear* layer) { delete layer; }
}
