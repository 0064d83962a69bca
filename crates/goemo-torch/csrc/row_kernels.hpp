// Per-row float kernels the CPU inference shims share: e^x, GELU and ReLU, and
// (x + residual) → LayerNorm, on AVX-512 lanes with a scalar path for CPUs without it. One row
// (a token: hundreds to a few thousand floats) stays in L1 across a kernel's passes.
#pragma once

#include <ATen/ATen.h>

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace goemo {

constexpr int64_t kLanes = 16;

inline bool has_avx512() {
  static const bool avx512 = __builtin_cpu_supports("avx512f");
  return avx512;
}

// The activations an encoder's feed-forward block applies (codes shared with Rust).
enum class Activation : int32_t { kGeluErf = 0, kGeluTanh = 1, kRelu = 2 };

inline bool valid_activation(int32_t code) { return code >= 0 && code <= 2; }

// e^x for float lanes: Cephes' expf (2^n · e^r with |r| ≤ ln2 / 2, a degree-6 polynomial),
// within 2 ulp; arguments below -87.3 give about 1e-38, and masked lanes are zeroed by callers.
__attribute__((target("avx512f"))) inline __m512 exp_lanes(__m512 x) {
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.3f)), _mm512_set1_ps(88.7f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.f)));
  return _mm512_scalef_ps(p, n);
}

// 1/x on lanes: the 14-bit estimate and one Newton step (about 2^-27 relative, under float
// rounding for the activations' arguments), at a fraction of a division's cost.
__attribute__((target("avx512f"))) inline __m512 reciprocal_lanes(__m512 x) {
  const __m512 estimate = _mm512_rcp14_ps(x);
  return _mm512_mul_ps(estimate, _mm512_fnmadd_ps(x, estimate, _mm512_set1_ps(2.f)));
}

// GELU(x) = x/2 · (1 + erf(x / √2)) on lanes, erf by the rational approximation Eigen and XLA
// use for float (z·P(z²)/Q(z²) on z clamped to ±4, where erf is ±1 to float precision): within
// 2.4e-7 · max(1, |x|) of the exact GELU (Activation::apply's test), in about half the operations
// of an exp-based erf.
__attribute__((target("avx512f"))) inline __m512 gelu_erf_lanes(__m512 x) {
  const __m512 z = _mm512_min_ps(
      _mm512_max_ps(_mm512_mul_ps(x, _mm512_set1_ps(0.70710678118654752f)), _mm512_set1_ps(-4.f)),
      _mm512_set1_ps(4.f));
  const __m512 s = _mm512_mul_ps(z, z);
  __m512 p = _mm512_fmadd_ps(s, _mm512_set1_ps(-2.72614225801306e-10f), _mm512_set1_ps(2.77068142495902e-08f));
  p = _mm512_fmadd_ps(s, p, _mm512_set1_ps(-2.10102402082508e-06f));
  p = _mm512_fmadd_ps(s, p, _mm512_set1_ps(-5.69250639462346e-05f));
  p = _mm512_fmadd_ps(s, p, _mm512_set1_ps(-7.34990630326855e-04f));
  p = _mm512_fmadd_ps(s, p, _mm512_set1_ps(-2.95459980854025e-03f));
  p = _mm512_fmadd_ps(s, p, _mm512_set1_ps(-1.60960333262415e-02f));
  __m512 q = _mm512_fmadd_ps(s, _mm512_set1_ps(-1.45660718464996e-05f), _mm512_set1_ps(-2.13374055278905e-04f));
  q = _mm512_fmadd_ps(s, q, _mm512_set1_ps(-1.68282697438203e-03f));
  q = _mm512_fmadd_ps(s, q, _mm512_set1_ps(-7.37332916720468e-03f));
  q = _mm512_fmadd_ps(s, q, _mm512_set1_ps(-1.42647390514189e-02f));
  const __m512 erf = _mm512_div_ps(_mm512_mul_ps(z, p), q);
  const __m512 half_x = _mm512_mul_ps(x, _mm512_set1_ps(0.5f));
  return _mm512_fmadd_ps(half_x, erf, half_x);
}

__attribute__((target("avx512f"))) inline __m512 activate_lanes(__m512 x, Activation activation) {
  switch (activation) {
    case Activation::kGeluErf:
      return gelu_erf_lanes(x);
    case Activation::kGeluTanh: {
      // x/2 · (1 + tanh(u)), u = √(2/π)(x + 0.044715 x³); 1 + tanh(u) = 2 − 2 / (e^{2u} + 1).
      const __m512 cube = _mm512_mul_ps(_mm512_mul_ps(x, x), x);
      const __m512 u = _mm512_mul_ps(_mm512_set1_ps(0.7978845608028654f),
                                     _mm512_fmadd_ps(_mm512_set1_ps(0.044715f), cube, x));
      const __m512 e = exp_lanes(_mm512_add_ps(u, u));
      const __m512 two = _mm512_set1_ps(2.f);
      const __m512 one_plus_tanh =
          _mm512_fnmadd_ps(two, reciprocal_lanes(_mm512_add_ps(e, _mm512_set1_ps(1.f))), two);
      return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x), one_plus_tanh);
    }
    case Activation::kRelu:
    default:
      return _mm512_max_ps(x, _mm512_setzero_ps());
  }
}

inline float activate_scalar(float x, Activation activation) {
  switch (activation) {
    case Activation::kGeluErf:
      return 0.5f * x * (1.f + std::erf(x * 0.70710678118654752f));
    case Activation::kGeluTanh:
      return 0.5f * x * (1.f + std::tanh(0.7978845608028654f * (x + 0.044715f * x * x * x)));
    case Activation::kRelu:
    default:
      return std::max(x, 0.f);
  }
}

// A LayerNorm's γ and β as the row kernels read them: contiguous float32 vectors of `width`.
inline void check_layer_norm_params(const at::Tensor& gamma, const at::Tensor& beta, int64_t width) {
  for (const auto* t : {&gamma, &beta}) {
    TORCH_CHECK(t->dim() == 1 && t->size(0) == width && t->scalar_type() == at::kFloat && t->is_contiguous(),
                "layer norm parameters are contiguous float32 vectors of ", width, ", got ", t->sizes(), " ",
                t->scalar_type());
  }
}

inline __mmask16 tail_mask(int64_t remaining) {
  return remaining >= kLanes ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << remaining) - 1);
}

// row ← LayerNorm(row + residual) · gamma + beta, in place; mean first, then the variance about
// it (two passes over a row in L1, as exact as libtorch's Welford form).
__attribute__((target("avx512f"))) inline void add_layer_norm_row_avx512(float* row, const float* residual,
                                                                        const float* gamma, const float* beta,
                                                                        float eps, int64_t n) {
  __m512 sum = _mm512_setzero_ps();
  for (int64_t j = 0; j < n; j += kLanes) {
    const __mmask16 m = tail_mask(n - j);
    const __m512 v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, row + j), _mm512_maskz_loadu_ps(m, residual + j));
    _mm512_mask_storeu_ps(row + j, m, v);
    sum = _mm512_add_ps(sum, v);
  }
  const float mean = _mm512_reduce_add_ps(sum) / static_cast<float>(n);
  const __m512 centre = _mm512_set1_ps(mean);
  __m512 squares = _mm512_setzero_ps();
  for (int64_t j = 0; j < n; j += kLanes) {
    const __mmask16 m = tail_mask(n - j);
    const __m512 d = _mm512_maskz_sub_ps(m, _mm512_maskz_loadu_ps(m, row + j), centre);
    squares = _mm512_fmadd_ps(d, d, squares);
  }
  const float rstd = 1.f / std::sqrt(_mm512_reduce_add_ps(squares) / static_cast<float>(n) + eps);
  const __m512 scale = _mm512_set1_ps(rstd);
  for (int64_t j = 0; j < n; j += kLanes) {
    const __mmask16 m = tail_mask(n - j);
    const __m512 normal = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, row + j), centre), scale);
    _mm512_mask_storeu_ps(row + j, m,
                          _mm512_fmadd_ps(normal, _mm512_maskz_loadu_ps(m, gamma + j), _mm512_maskz_loadu_ps(m, beta + j)));
  }
}

inline void add_layer_norm_row_scalar(float* row, const float* residual, const float* gamma, const float* beta,
                                      float eps, int64_t n) {
  double sum = 0.0;
  for (int64_t j = 0; j < n; ++j) {
    row[j] += residual[j];
    sum += row[j];
  }
  const float mean = static_cast<float>(sum / static_cast<double>(n));
  double squares = 0.0;
  for (int64_t j = 0; j < n; ++j) squares += static_cast<double>(row[j] - mean) * (row[j] - mean);
  const float rstd = 1.f / std::sqrt(static_cast<float>(squares / static_cast<double>(n)) + eps);
  for (int64_t j = 0; j < n; ++j) row[j] = (row[j] - mean) * rstd * gamma[j] + beta[j];
}

inline void add_layer_norm_row(float* row, const float* residual, const float* gamma, const float* beta, float eps,
                               int64_t n) {
  if (has_avx512()) {
    add_layer_norm_row_avx512(row, residual, gamma, beta, eps, n);
  } else {
    add_layer_norm_row_scalar(row, residual, gamma, beta, eps, n);
  }
}

__attribute__((target("avx512f"))) inline void activate_row_avx512(float* row, Activation activation, int64_t n) {
  for (int64_t j = 0; j < n; j += kLanes) {
    const __mmask16 m = tail_mask(n - j);
    _mm512_mask_storeu_ps(row + j, m, activate_lanes(_mm512_maskz_loadu_ps(m, row + j), activation));
  }
}

// row ← activation(row), in place: the lanes the int8 feed-forward block applies in its
// dequantizing pass, or the scalar function on CPUs without AVX-512.
inline void activate_row(float* row, Activation activation, int64_t n) {
  if (has_avx512()) {
    activate_row_avx512(row, activation, n);
  } else {
    for (int64_t j = 0; j < n; ++j) row[j] = activate_scalar(row[j], activation);
  }
}

}  // namespace goemo
