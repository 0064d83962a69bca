// int8 Linear layers for CPU inference with one activation scale per row, so that a text's
// output does not depend on the other texts of its batch.
//
// - Weight: quantized once, symmetric int8 per output channel (scale = max|w| / 127).
// - Input: each row (one token) quantized symmetric int8 with its own scale (max|x| / 127),
//   in one vectorised pass.
// - Product: at::_int_mm (int8 × int8 → int32; oneDNN's VNNI kernels on x86).
// - Output: int32 → float times the row's and the channel's scales plus the bias, in place in
//   the int32 buffer (same width), in one pass.
// Per-batch dynamic quantization (fbgemm's, ONNX Runtime's) shares one activation range across
// the batch: a text's scores then move with the texts batched beside it.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/GradMode.h>

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "attention_kernel.hpp"
#include "row_kernels.hpp"
#include "shim_common.hpp"

namespace goemo {
struct RowwiseInt8Linear {
  at::Tensor weight;   // (out, in) int8, contiguous
  at::Tensor scales;   // (out) float32
  at::Tensor bias;     // (out) float32, zeros when the layer has none
};

namespace {

// Rows per parallel task: enough work to outweigh a task's start on short inputs.
constexpr int64_t kRowGrain = 16;

bool has_avx2() {
  static const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return avx2;
}

float quantize_row_scalar(const float* x, int8_t* q, int64_t n) {
  float largest = 0.f;
  for (int64_t k = 0; k < n; ++k) largest = std::max(largest, std::fabs(x[k]));
  const float inverse = largest > 0.f ? 127.f / largest : 0.f;
  for (int64_t k = 0; k < n; ++k) q[k] = static_cast<int8_t>(std::nearbyint(x[k] * inverse));
  return largest / 127.f;
}

__attribute__((target("avx2,fma"))) float quantize_row_avx2(const float* x, int8_t* q, int64_t n) {
  const __m256 magnitude = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  __m256 most = _mm256_setzero_ps();
  int64_t k = 0;
  for (; k + 8 <= n; k += 8) most = _mm256_max_ps(most, _mm256_and_ps(_mm256_loadu_ps(x + k), magnitude));
  __m128 half = _mm_max_ps(_mm256_castps256_ps128(most), _mm256_extractf128_ps(most, 1));
  half = _mm_max_ps(half, _mm_movehl_ps(half, half));
  half = _mm_max_ss(half, _mm_shuffle_ps(half, half, 1));
  float largest = _mm_cvtss_f32(half);
  for (int64_t t = k; t < n; ++t) largest = std::max(largest, std::fabs(x[t]));
  const float inverse = largest > 0.f ? 127.f / largest : 0.f;
  const __m256 times = _mm256_set1_ps(inverse);
  for (k = 0; k + 8 <= n; k += 8) {
    // Rounds to nearest even (the default MXCSR mode), as std::nearbyint in the tail.
    __m256i whole = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + k), times));
    __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(whole), _mm256_extracti128_si256(whole, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(q + k), _mm_packs_epi16(words, words));
  }
  for (; k < n; ++k) q[k] = static_cast<int8_t>(std::nearbyint(x[k] * inverse));
  return largest / 127.f;
}

void dequantize_row_scalar(int32_t* acc, float row_scale, const float* scales, const float* bias, int64_t n) {
  float* out = reinterpret_cast<float*>(acc);
  for (int64_t j = 0; j < n; ++j) out[j] = static_cast<float>(acc[j]) * (row_scale * scales[j]) + bias[j];
}

__attribute__((target("avx2,fma"))) void dequantize_row_avx2(int32_t* acc, float row_scale, const float* scales,
                                                             const float* bias, int64_t n) {
  float* out = reinterpret_cast<float*>(acc);
  const __m256 row = _mm256_set1_ps(row_scale);
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    __m256 whole = _mm256_cvtepi32_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(acc + j)));
    __m256 scale = _mm256_mul_ps(row, _mm256_loadu_ps(scales + j));
    _mm256_storeu_ps(out + j, _mm256_fmadd_ps(whole, scale, _mm256_loadu_ps(bias + j)));
  }
  for (; j < n; ++j) out[j] = static_cast<float>(acc[j]) * (row_scale * scales[j]) + bias[j];
}

// AVX-512 forms of the row passes: masked tails instead of scalar loops, 16 lanes.
__attribute__((target("avx512f"))) float max_abs_avx512(const float* x, int64_t n) {
  __m512 most = _mm512_setzero_ps();
  for (int64_t k = 0; k < n; k += kLanes) {
    const __mmask16 m = tail_mask(n - k);
    most = _mm512_max_ps(most, _mm512_abs_ps(_mm512_maskz_loadu_ps(m, x + k)));
  }
  return _mm512_reduce_max_ps(most);
}

// q[0, 16) ← whole's lanes saturated to int8, those under m. Full vectors narrow in a register
// and store plainly: the masked narrowing store to memory (vpmovsdb m128{k}) is the slowest step
// of a quantizing pass on Zen 4.
__attribute__((target("avx512f"))) inline void store_int8(int8_t* q, __mmask16 m, __m512i whole) {
  if (m == static_cast<__mmask16>(0xffff)) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q), _mm512_cvtsepi32_epi8(whole));
  } else {
    _mm512_mask_cvtsepi32_storeu_epi8(q, m, whole);
  }
}

// Quantizes a row whose largest magnitude is `largest`; returns its scale.
__attribute__((target("avx512f"))) float quantize_row_with_max_avx512(const float* x, int8_t* q, int64_t n,
                                                                     float largest) {
  const __m512 times = _mm512_set1_ps(largest > 0.f ? 127.f / largest : 0.f);
  for (int64_t k = 0; k < n; k += kLanes) {
    const __mmask16 m = tail_mask(n - k);
    // Rounds to nearest even (the default MXCSR mode), as the scalar path's std::nearbyint.
    const __m512i whole = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + k), times));
    store_int8(q + k, m, whole);
  }
  return largest / 127.f;
}

__attribute__((target("avx512f"))) void dequantize_row_avx512(int32_t* acc, float row_scale, const float* scales,
                                                               const float* bias, int64_t n) {
  float* out = reinterpret_cast<float*>(acc);
  const __m512 row = _mm512_set1_ps(row_scale);
  for (int64_t j = 0; j < n; j += kLanes) {
    const __mmask16 m = tail_mask(n - j);
    const __m512 whole = _mm512_cvtepi32_ps(_mm512_maskz_loadu_epi32(m, acc + j));
    const __m512 scale = _mm512_mul_ps(row, _mm512_maskz_loadu_ps(m, scales + j));
    _mm512_mask_storeu_ps(out + j, m, _mm512_fmadd_ps(whole, scale, _mm512_maskz_loadu_ps(m, bias + j)));
  }
}

// dequantize_row_avx512 and the activation in one pass; returns the row's largest magnitude.
// One instance per activation, so that the loop carries no switch.
template <Activation kActivation>
__attribute__((target("avx512f"))) float dequantize_activate_row_avx512(const int32_t* acc, float* out,
                                                                        float row_scale, const float* scales,
                                                                        const float* bias, int64_t n) {
  const __m512 row = _mm512_set1_ps(row_scale);
  __m512 most = _mm512_setzero_ps();
  for (int64_t j = 0; j < n; j += kLanes) {
    const __mmask16 m = tail_mask(n - j);
    const __m512 whole = _mm512_cvtepi32_ps(_mm512_maskz_loadu_epi32(m, acc + j));
    const __m512 scale = _mm512_mul_ps(row, _mm512_maskz_loadu_ps(m, scales + j));
    const __m512 y =
        activate_lanes(_mm512_fmadd_ps(whole, scale, _mm512_maskz_loadu_ps(m, bias + j)), kActivation);
    _mm512_mask_storeu_ps(out + j, m, y);
    most = _mm512_mask_max_ps(most, m, most, _mm512_abs_ps(y));
  }
  return _mm512_reduce_max_ps(most);
}

float dequantize_activate_row_avx512(const int32_t* acc, float* out, float row_scale, const float* scales,
                                     const float* bias, Activation activation, int64_t n) {
  switch (activation) {
    case Activation::kGeluErf:
      return dequantize_activate_row_avx512<Activation::kGeluErf>(acc, out, row_scale, scales, bias, n);
    case Activation::kGeluTanh:
      return dequantize_activate_row_avx512<Activation::kGeluTanh>(acc, out, row_scale, scales, bias, n);
    case Activation::kRelu:
    default:
      return dequantize_activate_row_avx512<Activation::kRelu>(acc, out, row_scale, scales, bias, n);
  }
}

// q = clamp(round(w / scale), ±127) over one weight row, rounding half to even, as libtorch's
// (w / scale).round().clamp(-127, 127) gives.
void quantize_weight_row_scalar(const float* w, int8_t* q, int64_t n, float scale) {
  for (int64_t k = 0; k < n; ++k) q[k] = static_cast<int8_t>(std::clamp(std::nearbyint(w[k] / scale), -127.f, 127.f));
}

__attribute__((target("avx512f"))) void quantize_weight_row_avx512(const float* w, int8_t* q, int64_t n,
                                                                  float scale) {
  const __m512 divisor = _mm512_set1_ps(scale);
  const __m512 low = _mm512_set1_ps(-127.f), high = _mm512_set1_ps(127.f);
  for (int64_t k = 0; k < n; k += kLanes) {
    const __mmask16 m = tail_mask(n - k);
    const __m512 steps = _mm512_roundscale_ps(_mm512_div_ps(_mm512_maskz_loadu_ps(m, w + k), divisor),
                                              _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    store_int8(q + k, m, _mm512_cvtps_epi32(_mm512_min_ps(_mm512_max_ps(steps, low), high)));
  }
}

float max_abs(const float* x, int64_t n) {
  if (has_avx512()) return max_abs_avx512(x, n);
  float largest = 0.f;
  for (int64_t k = 0; k < n; ++k) largest = std::max(largest, std::fabs(x[k]));
  return largest;
}

// One output channel of a weight: scale = max(max|w| / 127, float epsilon), then the row
// quantized with it. Returns the scale.
float quantize_weight_row(const float* w, int8_t* q, int64_t n) {
  const float scale = std::max(max_abs(w, n) / 127.f, 1.1920928955078125e-07f);
  if (has_avx512()) {
    quantize_weight_row_avx512(w, q, n, scale);
  } else {
    quantize_weight_row_scalar(w, q, n, scale);
  }
  return scale;
}

// Quantizes one row of n floats into q; returns its scale.
float quantize_row(const float* x, int8_t* q, int64_t n) {
  if (has_avx512()) return quantize_row_with_max_avx512(x, q, n, max_abs_avx512(x, n));
  return has_avx2() ? quantize_row_avx2(x, q, n) : quantize_row_scalar(x, q, n);
}

// Quantizes `rows` rows of `in` floats (row stride `in`) into q, one scale per row in `scales`.
void quantize_rows(const float* xs, int64_t rows, int64_t in, int8_t* q, float* scales) {
  at::parallel_for(0, rows, kRowGrain, [&](int64_t begin, int64_t end) {
    for (int64_t m = begin; m < end; ++m) scales[m] = quantize_row(xs + m * in, q + m * in, in);
  });
}

// Row m of the int32 product → float (row scale × channel scales, plus the bias), in place.
void dequantize_row(int32_t* acc, float row_scale, const RowwiseInt8Linear& layer, int64_t n) {
  if (has_avx512()) {
    dequantize_row_avx512(acc, row_scale, layer.scales.data_ptr<float>(), layer.bias.data_ptr<float>(), n);
  } else if (has_avx2()) {
    dequantize_row_avx2(acc, row_scale, layer.scales.data_ptr<float>(), layer.bias.data_ptr<float>(), n);
  } else {
    dequantize_row_scalar(acc, row_scale, layer.scales.data_ptr<float>(), layer.bias.data_ptr<float>(), n);
  }
}

// The float input as (rows, in), contiguous, after checking it against the layer.
at::Tensor input_rows(const RowwiseInt8Linear& layer, const at::Tensor& input) {
  const int64_t in = layer.weight.size(1);
  TORCH_CHECK(input.device().is_cpu(), "int8 linear runs on the CPU; this input is on ", input.device());
  TORCH_CHECK(input.dim() >= 1 && input.size(-1) == in, "int8 linear expects a last dimension of ", in,
              ", got an input of shape ", input.sizes());
  return input.to(at::kFloat).reshape({-1, in}).contiguous();
}

// A float (rows, width) matrix quantized row by row: int8 values and one scale per row.
struct QuantizedRows {
  at::Tensor values;  // (rows, width) int8
  at::Tensor scales;  // (rows) float32
};

QuantizedRows quantize_input(const at::Tensor& x) {
  const int64_t rows = x.size(0), width = x.size(1);
  QuantizedRows q{at::empty({rows, width}, x.options().dtype(at::kChar)), at::empty({rows}, x.options())};
  quantize_rows(x.data_ptr<float>(), rows, width, q.values.data_ptr<int8_t>(), q.scales.data_ptr<float>());
  return q;
}

// The input's shape with the last dimension the layer's output width.
std::vector<int64_t> output_shape(const RowwiseInt8Linear& layer, const at::Tensor& input) {
  auto shape = input.sizes().vec();
  shape.back() = layer.weight.size(0);
  return shape;
}

// q (rows, in) int8 times the layer's weight: (rows, out) int32, contiguous.
at::Tensor int_product(const at::Tensor& q, const RowwiseInt8Linear& layer) {
  auto acc = at::_int_mm(q, layer.weight.t());
  TORCH_CHECK(acc.is_contiguous() && acc.scalar_type() == at::kInt, "int8 product is not a contiguous int32 matrix");
  return acc;
}

// acc (rows, out) int32 → LayerNorm(acc · scales + bias + residual) in place, as float.
void dequantize_add_norm(at::Tensor& acc, const float* row_scales, const RowwiseInt8Linear& layer,
                         const float* residual, const at::Tensor& gamma, const at::Tensor& beta, float eps) {
  const int64_t rows = acc.size(0), out = acc.size(1);
  int32_t* as = acc.data_ptr<int32_t>();
  const float* g = gamma.data_ptr<float>();
  const float* b = beta.data_ptr<float>();
  at::parallel_for(0, rows, kRowGrain, [&](int64_t begin, int64_t end) {
    for (int64_t m = begin; m < end; ++m) {
      dequantize_row(as + m * out, row_scales[m], layer, out);
      add_layer_norm_row(reinterpret_cast<float*>(as + m * out), residual + m * out, g, b, eps, out);
    }
  });
}

}  // namespace
}  // namespace goemo

extern "C" {

// Quantizes a float weight (out, in) per output channel and keeps the bias (out, optional) in
// float32. Returns the layer (owned by the caller, freed by goemo_int8_linear_free), or nullptr
// with the message.
goemo::RowwiseInt8Linear* goemo_int8_linear_pack(at::Tensor* weight, at::Tensor* bias, char* error,
                                                 size_t error_len) {
  goemo::RowwiseInt8Linear* result = nullptr;
  goemo::guarded(error, error_len, [&] {
    c10::NoGradGuard no_grad;
    TORCH_CHECK(weight->device().is_cpu(), "int8 quantization runs on the CPU; this weight is on ",
                weight->device());
    TORCH_CHECK(weight->dim() == 2, "a Linear weight has 2 dimensions, this one has ", weight->dim());
    auto w = weight->detach().to(at::kFloat).contiguous();
    const int64_t out = w.size(0), in = w.size(1);
    auto scales = at::empty({out}, w.options());
    auto q = at::empty({out, in}, w.options().dtype(at::kChar));
    const float* ws = w.data_ptr<float>();
    float* ss = scales.data_ptr<float>();
    int8_t* qs = q.data_ptr<int8_t>();
    at::parallel_for(0, out, goemo::kRowGrain, [&](int64_t begin, int64_t end) {
      for (int64_t o = begin; o < end; ++o) ss[o] = goemo::quantize_weight_row(ws + o * in, qs + o * in, in);
    });
    at::Tensor b;
    if (bias != nullptr) {
      TORCH_CHECK(bias->dim() == 1 && bias->size(0) == w.size(0), "a Linear bias has shape [", w.size(0),
                  "], this one has ", bias->sizes());
      b = bias->detach().to(at::kFloat).contiguous();
    } else {
      b = at::zeros({w.size(0)}, w.options());
    }
    result = new goemo::RowwiseInt8Linear{q, scales, b};
  });
  return result;
}

// y = x Wᵀ + b over the last dimension of a float tensor, each row of x quantized with its own
// scale. Returns a new float32 tensor, or nullptr with the message.
at::Tensor* goemo_int8_linear_forward(goemo::RowwiseInt8Linear* layer, at::Tensor* input, char* error,
                                      size_t error_len) {
  at::Tensor* result = nullptr;
  goemo::guarded(error, error_len, [&] {
    c10::NoGradGuard no_grad;
    auto x = goemo::input_rows(*layer, *input);
    const int64_t rows = x.size(0), out = layer->weight.size(0);
    const auto shape = goemo::output_shape(*layer, *input);
    if (rows == 0) {
      result = new at::Tensor(at::empty(shape, x.options()));
      return;
    }
    const auto q = goemo::quantize_input(x);
    const float* rs = q.scales.data_ptr<float>();
    auto acc = goemo::int_product(q.values, *layer);
    int32_t* as = acc.data_ptr<int32_t>();
    at::parallel_for(0, rows, goemo::kRowGrain, [&](int64_t begin, int64_t end) {
      for (int64_t m = begin; m < end; ++m) goemo::dequantize_row(as + m * out, rs[m], *layer, out);
    });
    result = new at::Tensor(acc.view(at::kFloat).view(shape));
  });
  return result;
}

// LayerNorm(x Wᵀ + b + residual) over the last dimension (the attention block's output
// projection, residual and norm), the norm applied in the pass that turns the int32 product into
// floats. `residual` has the output's shape. Returns a new float32 tensor, or nullptr with the
// message.
at::Tensor* goemo_int8_linear_add_norm(goemo::RowwiseInt8Linear* layer, at::Tensor* input, at::Tensor* residual,
                                       at::Tensor* gamma, at::Tensor* beta, double eps, char* error,
                                       size_t error_len) {
  at::Tensor* result = nullptr;
  goemo::guarded(error, error_len, [&] {
    c10::NoGradGuard no_grad;
    auto x = goemo::input_rows(*layer, *input);
    const int64_t rows = x.size(0), out = layer->weight.size(0);
    const auto shape = goemo::output_shape(*layer, *input);
    TORCH_CHECK(residual->sizes().vec() == shape, "the residual has shape ", residual->sizes(),
                ", the layer's output ", at::IntArrayRef(shape));
    goemo::check_layer_norm_params(*gamma, *beta, out);
    auto r = residual->to(at::kFloat).contiguous();
    if (rows == 0) {
      result = new at::Tensor(at::empty(shape, x.options()));
      return;
    }
    const auto q = goemo::quantize_input(x);
    auto acc = goemo::int_product(q.values, *layer);
    goemo::dequantize_add_norm(acc, q.scales.data_ptr<float>(), *layer, r.data_ptr<float>(), *gamma, *beta,
                               static_cast<float>(eps));
    result = new at::Tensor(acc.view(at::kFloat).view(shape));
  });
  return result;
}

// The feed-forward block: LayerNorm(x + W₂ act(W₁ x + b₁) + b₂). The activation runs in the
// pass that turns the first product into floats and quantizes its rows for the second; with
// AVX-512 the activated floats live only in an L1 row buffer, so the wide intermediate goes
// through memory as int32 and int8 only. Returns a new float32 tensor, or nullptr with the
// message.
at::Tensor* goemo_int8_feed_forward(goemo::RowwiseInt8Linear* first, goemo::RowwiseInt8Linear* second,
                                    int32_t activation, at::Tensor* input, at::Tensor* gamma, at::Tensor* beta,
                                    double eps, char* error, size_t error_len) {
  at::Tensor* result = nullptr;
  goemo::guarded(error, error_len, [&] {
    c10::NoGradGuard no_grad;
    TORCH_CHECK(goemo::valid_activation(activation), "unknown activation code ", activation);
    const int64_t width = first->weight.size(1), inner = first->weight.size(0);
    TORCH_CHECK(second->weight.size(1) == inner && second->weight.size(0) == width,
                "a feed-forward block maps ", width, " → ", inner, " → ", width, "; the second layer is ",
                second->weight.size(1), " → ", second->weight.size(0));
    auto x = goemo::input_rows(*first, *input);
    const int64_t rows = x.size(0);
    goemo::check_layer_norm_params(*gamma, *beta, width);
    if (rows == 0) {
      result = new at::Tensor(at::empty(input->sizes(), x.options()));
      return;
    }
    const auto act = static_cast<goemo::Activation>(activation);
    const auto q = goemo::quantize_input(x);
    const float* rs = q.scales.data_ptr<float>();
    auto hidden = goemo::int_product(q.values, *first);
    auto hidden_q = at::empty({rows, inner}, x.options().dtype(at::kChar));
    auto hidden_scales = at::empty({rows}, x.options());
    int32_t* hs = hidden.data_ptr<int32_t>();
    int8_t* hq = hidden_q.data_ptr<int8_t>();
    float* hr = hidden_scales.data_ptr<float>();
    at::parallel_for(0, rows, goemo::kRowGrain, [&](int64_t begin, int64_t end) {
      // The activated row goes to a buffer that stays in L1, not back over the product.
      std::vector<float> activated(static_cast<size_t>(inner));
      for (int64_t m = begin; m < end; ++m) {
        if (goemo::has_avx512()) {
          const float largest =
              goemo::dequantize_activate_row_avx512(hs + m * inner, activated.data(), rs[m], first->scales.data_ptr<float>(),
                                                    first->bias.data_ptr<float>(), act, inner);
          hr[m] = goemo::quantize_row_with_max_avx512(activated.data(), hq + m * inner, inner, largest);
        } else {
          goemo::dequantize_row(hs + m * inner, rs[m], *first, inner);
          float* row = reinterpret_cast<float*>(hs + m * inner);
          goemo::activate_row(row, act, inner);
          hr[m] = goemo::quantize_row(row, hq + m * inner, inner);
        }
      }
    });
    auto acc = goemo::int_product(hidden_q, *second);
    goemo::dequantize_add_norm(acc, hr, *second, x.data_ptr<float>(), *gamma, *beta, static_cast<float>(eps));
    result = new at::Tensor(acc.view(at::kFloat).view(input->sizes()));
  });
  return result;
}

// The attention block: LayerNorm(x + W_o attention(W_qkv x + b_qkv) + b_o), with the query,
// key and value projections as one layer of 3 × width outputs. Text by text, the pass that turns
// the text's projections into floats is followed at once by its attention (the rows are still in
// cache) and by the quantization of its context for the output projection, from a per-task
// buffer: the context never goes through memory as floats. `key_mask` (B, T, or any shape of
// B × T elements) is true where a key may be attended to. Needs short_attention_fits(T, width /
// heads). Returns a new float32 tensor, or nullptr with the message.
at::Tensor* goemo_int8_attention_block(goemo::RowwiseInt8Linear* projections, goemo::RowwiseInt8Linear* output,
                                       int64_t heads, at::Tensor* input, at::Tensor* key_mask, at::Tensor* gamma,
                                       at::Tensor* beta, double eps, char* error, size_t error_len) {
  at::Tensor* result = nullptr;
  goemo::guarded(error, error_len, [&] {
    c10::NoGradGuard no_grad;
    TORCH_CHECK(input->dim() == 3, "the attention block's input is (batch, tokens, width), got ", input->sizes());
    const int64_t batch = input->size(0), tokens = input->size(1), width = input->size(2);
    TORCH_CHECK(projections->weight.size(1) == width && projections->weight.size(0) == 3 * width,
                "the query/key/value projection maps ", width, " → ", 3 * width, "; this one maps ",
                projections->weight.size(1), " → ", projections->weight.size(0));
    TORCH_CHECK(output->weight.size(1) == width && output->weight.size(0) == width, "the output projection maps ",
                width, " → ", width, "; this one maps ", output->weight.size(1), " → ", output->weight.size(0));
    TORCH_CHECK(heads > 0 && width % heads == 0, "width ", width, " is not a multiple of ", heads, " heads");
    const int64_t dim = width / heads;
    TORCH_CHECK(goemo::short_attention_fits(tokens, dim), "the int8 attention block does not fit ", tokens,
                " tokens of ", heads, " heads of ", dim, " (AVX-512, at most ", goemo::kMaxTokens,
                " tokens, heads of 16 to ", goemo::kMaxHeadDim, ")");
    TORCH_CHECK(key_mask->numel() == batch * tokens, "the key mask has ", key_mask->numel(), " elements for ",
                batch, " texts of ", tokens, " tokens");
    goemo::check_layer_norm_params(*gamma, *beta, width);
    auto x = goemo::input_rows(*projections, *input);
    const int64_t rows = x.size(0);
    if (rows == 0) {
      result = new at::Tensor(at::empty(input->sizes(), x.options()));
      return;
    }
    const auto mask = key_mask->reshape({batch, tokens}).to(at::kBool).contiguous();
    const bool* keys = mask.data_ptr<bool>();
    const auto q = goemo::quantize_input(x);
    const float* rs = q.scales.data_ptr<float>();
    auto qkv = goemo::int_product(q.values, *projections);
    int32_t* acc = qkv.data_ptr<int32_t>();
    const float* projected = reinterpret_cast<const float*>(acc);
    auto context_q = at::empty({rows, width}, x.options().dtype(at::kChar));
    auto context_scales = at::empty({rows}, x.options());
    int8_t* cq = context_q.data_ptr<int8_t>();
    float* cr = context_scales.data_ptr<float>();
    const int64_t wide = 3 * width;
    const goemo::Rows<const float> qs{projected, tokens * wide, wide}, ks{projected + width, tokens * wide, wide},
        vs{projected + 2 * width, tokens * wide, wide};
    at::parallel_for(0, batch, 1, [&](int64_t begin, int64_t end) {
      std::vector<float> keys_buffer(goemo::key_buffer_floats(tokens, dim));
      // One text's float context, reused text after text (batch stride 0), so it stays in cache.
      std::vector<float> context(static_cast<size_t>(tokens * width));
      const goemo::Rows<float> os{context.data(), 0, width};
      for (int64_t b = begin; b < end; ++b) {
        for (int64_t m = b * tokens; m < (b + 1) * tokens; ++m) goemo::dequantize_row(acc + m * wide, rs[m], *projections, wide);
        goemo::attend_text(qs, ks, vs, os, keys + b * tokens, b, tokens, heads, dim, keys_buffer.data());
        for (int64_t t = 0; t < tokens; ++t) {
          const int64_t m = b * tokens + t;
          cr[m] = goemo::quantize_row(context.data() + t * width, cq + m * width, width);
        }
      }
    });
    auto out = goemo::int_product(context_q, *output);
    goemo::dequantize_add_norm(out, cr, *output, x.data_ptr<float>(), *gamma, *beta, static_cast<float>(eps));
    result = new at::Tensor(out.view(at::kFloat).view(input->sizes()));
  });
  return result;
}

void goemo_int8_linear_free(goemo::RowwiseInt8Linear* layer) {
  delete layer;
}
}
