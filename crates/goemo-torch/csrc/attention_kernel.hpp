// Attention over short sequences on AVX-512, shared by the float shim (attention.cpp) and the
// int8 attention block (quantized_linear.cpp): one task per (text, head) computes
// softmax(q kᵀ / √d) v in registers, reading queries, keys and values where the projections
// wrote them ((B, T, heads × d), any row stride) and writing the context into (B, T, heads × d).
// At GoEmotions' lengths (20 tokens) libtorch's flash kernel spends its time in two small sgemm
// calls per head and block, and the layout copies around it; here the whole head is a few
// thousand fused multiply-adds.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "row_kernels.hpp"

namespace goemo {

// Longest sequence and widest head the kernel keeps in registers and its per-task buffers.
constexpr int64_t kMaxTokens = 128;
constexpr int64_t kMaxHeadDim = 128;

// Whether the kernel runs here for `tokens` keys and heads of `dim`: AVX-512, heads a multiple of
// 16 wide and at most kMaxHeadDim, 1 to kMaxTokens tokens.
inline bool short_attention_fits(int64_t tokens, int64_t dim) {
  return has_avx512() && tokens >= 1 && tokens <= kMaxTokens && dim % kLanes == 0 && dim > 0 && dim <= kMaxHeadDim;
}

// A (B, T, width) float matrix with unit column stride.
template <typename T>
struct Rows {
  T* data;
  int64_t batch_stride, row_stride;
  T* row(int64_t b, int64_t t, int64_t column) const { return data + b * batch_stride + t * row_stride + column; }
};

// out + i × stride ← column i of the 16 × 16 block whose row r is rows[r] + offset (16 floats),
// for r < count; rows from count on are zeros. Four rounds of shuffles within and across the
// 128-bit lanes, as a 16 × 16 transpose is usually done on AVX-512.
__attribute__((target("avx512f"))) inline void transpose_16x16(const float* const* rows, int count, int64_t offset,
                                                               float* out, int64_t stride) {
  __m512 r[kLanes], t[kLanes];
  for (int i = 0; i < kLanes; ++i) r[i] = i < count ? _mm512_loadu_ps(rows[i] + offset) : _mm512_setzero_ps();
  for (int i = 0; i < kLanes; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < kLanes; i += 4) {
    const __m512d a = _mm512_castps_pd(t[i]), b = _mm512_castps_pd(t[i + 1]);
    const __m512d c = _mm512_castps_pd(t[i + 2]), d = _mm512_castps_pd(t[i + 3]);
    r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
    r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
  }
  for (int i = 0; i < kLanes; i += 8) {
    for (int j = 0; j < 4; ++j) {
      t[i + j] = _mm512_shuffle_f32x4(r[i + j], r[i + j + 4], 0x88);
      t[i + j + 4] = _mm512_shuffle_f32x4(r[i + j], r[i + j + 4], 0xdd);
    }
  }
  for (int j = 0; j < 8; ++j) {
    _mm512_storeu_ps(out + j * stride, _mm512_shuffle_f32x4(t[j], t[j + 8], 0x88));
    _mm512_storeu_ps(out + (j + 8) * stride, _mm512_shuffle_f32x4(t[j], t[j + 8], 0xdd));
  }
}

// Queries first .. first + rows (rows ≤ GROUP) of one (text, head) against its transposed keys
// (CHUNKS blocks of 16, `valid` marking the keys to attend to). A group's multiply-adds
// interleave instead of waiting on one accumulator's latency, and each key or value vector is
// loaded once a group.
template <int CHUNKS, int GROUP>
__attribute__((target("avx512f"))) inline void attend_queries(const Rows<const float>& q, const Rows<const float>& v,
                                                              const Rows<float>& out, int64_t b, int64_t column,
                                                              int64_t first, int64_t rows, int64_t tokens,
                                                              int64_t dim, float scale, const float* key_columns,
                                                              const __mmask16* valid) {
  constexpr int64_t padded = CHUNKS * kLanes;
  constexpr int kWidth = 8 / GROUP;
  alignas(64) float weights[GROUP][padded];
  float inverses[GROUP];
  const __m512 scaling = _mm512_set1_ps(scale);
  const int64_t vectors = dim / kLanes;
  const float* query[GROUP];
  // A short group repeats its last query; only real rows are written.
  for (int g = 0; g < GROUP; ++g) query[g] = q.row(b, first + std::min<int64_t>(g, rows - 1), column);
  __m512 scores[GROUP][CHUNKS];
  for (int g = 0; g < GROUP; ++g) {
    for (int c = 0; c < CHUNKS; ++c) scores[g][c] = _mm512_setzero_ps();
  }
  for (int64_t d = 0; d < dim; ++d) {
    __m512 key[CHUNKS];
    for (int c = 0; c < CHUNKS; ++c) key[c] = _mm512_loadu_ps(key_columns + d * padded + c * kLanes);
    for (int g = 0; g < GROUP; ++g) {
      const __m512 qd = _mm512_set1_ps(query[g][d]);
      for (int c = 0; c < CHUNKS; ++c) scores[g][c] = _mm512_fmadd_ps(qd, key[c], scores[g][c]);
    }
  }
  for (int g = 0; g < GROUP; ++g) {
    __m512 most = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
    for (int c = 0; c < CHUNKS; ++c) {
      scores[g][c] = _mm512_mul_ps(scores[g][c], scaling);
      most = _mm512_mask_max_ps(most, valid[c], most, scores[g][c]);
    }
    const __m512 top = _mm512_set1_ps(_mm512_reduce_max_ps(most));
    __m512 sum = _mm512_setzero_ps();
    for (int c = 0; c < CHUNKS; ++c) {
      const __m512 e = _mm512_maskz_mov_ps(valid[c], exp_lanes(_mm512_sub_ps(scores[g][c], top)));
      sum = _mm512_add_ps(sum, e);
      _mm512_store_ps(weights[g] + c * kLanes, e);
    }
    const float total = _mm512_reduce_add_ps(sum);
    // A query with no key to attend to gets zeros (libtorch's kernels differ among themselves).
    inverses[g] = total > 0.f ? 1.f / total : 0.f;
  }
  for (int64_t o = 0; o < vectors; o += kWidth) {
    const int64_t width = std::min<int64_t>(kWidth, vectors - o);
    __m512 acc[GROUP][kWidth];
    for (int g = 0; g < GROUP; ++g) {
      for (int x = 0; x < kWidth; ++x) acc[g][x] = _mm512_setzero_ps();
    }
    for (int64_t j = 0; j < tokens; ++j) {
      const float* value = v.row(b, j, column + o * kLanes);
      __m512 values[kWidth];
      for (int x = 0; x < kWidth; ++x) values[x] = x < width ? _mm512_loadu_ps(value + x * kLanes) : _mm512_setzero_ps();
      for (int g = 0; g < GROUP; ++g) {
        const __m512 w = _mm512_set1_ps(weights[g][j]);
        for (int x = 0; x < kWidth; ++x) acc[g][x] = _mm512_fmadd_ps(w, values[x], acc[g][x]);
      }
    }
    for (int64_t g = 0; g < rows; ++g) {
      float* context = out.row(b, first + g, column + o * kLanes);
      const __m512 inverse = _mm512_set1_ps(inverses[g]);
      for (int64_t x = 0; x < width; ++x) _mm512_storeu_ps(context + x * kLanes, _mm512_mul_ps(acc[g][x], inverse));
    }
  }
}

// One (text, head): CHUNKS blocks of 16 keys.
template <int CHUNKS>
__attribute__((target("avx512f"))) void attend_head(const Rows<const float>& q, const Rows<const float>& k,
                                                     const Rows<const float>& v, const Rows<float>& out,
                                                     const bool* keys, int64_t b, int64_t column, int64_t tokens,
                                                     int64_t dim, float scale, float* key_columns) {
  constexpr int64_t padded = CHUNKS * kLanes;
  // Keys transposed (dim × padded), so that one query's scores over 16 keys are one vector;
  // 16 × 16 blocks in registers, keys past `tokens` written as zeros.
  for (int c = 0; c < CHUNKS; ++c) {
    const int rows = static_cast<int>(std::min<int64_t>(kLanes, tokens - c * kLanes));
    const float* key_rows[kLanes];
    for (int r = 0; r < rows; ++r) key_rows[r] = k.row(b, c * kLanes + r, column);
    for (int64_t d = 0; d < dim; d += kLanes) {
      transpose_16x16(key_rows, rows, d, key_columns + d * padded + c * kLanes, padded);
    }
  }
  __mmask16 valid[CHUNKS];
  for (int c = 0; c < CHUNKS; ++c) {
    valid[c] = 0;
    for (int64_t l = 0; l < kLanes; ++l) {
      const int64_t j = c * kLanes + l;
      if (j < tokens && keys[j]) valid[c] |= static_cast<__mmask16>(1u << l);
    }
  }
  // Groups as large as 16 score vectors (of 32 registers) allow; the queries left over go in
  // the smallest group that holds them, so that few rows are computed only to be dropped.
  constexpr int kGroup = CHUNKS <= 2 ? 8 : (CHUNKS <= 4 ? 4 : 2);
  int64_t first = 0;
  for (; first + kGroup <= tokens; first += kGroup) {
    attend_queries<CHUNKS, kGroup>(q, v, out, b, column, first, kGroup, tokens, dim, scale, key_columns, valid);
  }
  // Fewer than kGroup are left: more than 4 only when kGroup is 8, more than 2 only when it is 4
  // or 8.
  const int64_t left = tokens - first;
  if (left == 0) return;
  if (left > 4) {
    attend_queries<CHUNKS, kGroup>(q, v, out, b, column, first, left, tokens, dim, scale, key_columns, valid);
  } else if (left > 2) {
    attend_queries<CHUNKS, (kGroup < 4 ? kGroup : 4)>(q, v, out, b, column, first, left, tokens, dim, scale,
                                                      key_columns, valid);
  } else if (left == 2) {
    attend_queries<CHUNKS, 2>(q, v, out, b, column, first, left, tokens, dim, scale, key_columns, valid);
  } else {
    attend_queries<CHUNKS, 1>(q, v, out, b, column, first, left, tokens, dim, scale, key_columns, valid);
  }
}

// Asks for the cache lines of one (text, head)'s queries, keys and values.
inline void prefetch_head(const Rows<const float>& q, const Rows<const float>& k, const Rows<const float>& v, int64_t b,
                   int64_t column, int64_t tokens, int64_t dim) {
  constexpr int64_t kLineFloats = 16;
  for (int64_t t = 0; t < tokens; ++t) {
    for (const auto* rows : {&q, &k, &v}) {
      const float* row = rows->row(b, t, column);
      for (int64_t d = 0; d < dim; d += kLineFloats) _mm_prefetch(reinterpret_cast<const char*>(row + d), _MM_HINT_T0);
    }
  }
}

// The buffer attend_text needs: keys transposed for the longest text a call sees.
inline int64_t key_buffer_floats(int64_t tokens, int64_t dim) {
  return dim * ((tokens + kLanes - 1) / kLanes) * kLanes;
}

// One (text, head) of any length that short_attention_fits; `buffer` has
// key_buffer_floats(tokens, dim) floats.
inline void attend_one_head(const Rows<const float>& q, const Rows<const float>& k, const Rows<const float>& v,
                            const Rows<float>& out, const bool* keys, int64_t b, int64_t column, int64_t tokens,
                            int64_t dim, float scale, float* buffer) {
  switch ((tokens + kLanes - 1) / kLanes) {
#define GOEMO_CHUNKS(n)                                                            \
  case n:                                                                         \
    attend_head<n>(q, k, v, out, keys, b, column, tokens, dim, scale, buffer);    \
    break;
    GOEMO_CHUNKS(1) GOEMO_CHUNKS(2) GOEMO_CHUNKS(3) GOEMO_CHUNKS(4)
    GOEMO_CHUNKS(5) GOEMO_CHUNKS(6) GOEMO_CHUNKS(7) GOEMO_CHUNKS(8)
#undef GOEMO_CHUNKS
    default:
      break;
  }
}

// Every head of text b, one after another, from data the caller has just written (in cache).
inline void attend_text(const Rows<const float>& q, const Rows<const float>& k, const Rows<const float>& v,
                        const Rows<float>& out, const bool* keys, int64_t b, int64_t tokens, int64_t heads,
                        int64_t dim, float* buffer) {
  const float scale = 1.f / std::sqrt(static_cast<float>(dim));
  for (int64_t head = 0; head < heads; ++head) attend_one_head(q, k, v, out, keys, b, head * dim, tokens, dim, scale, buffer);
}

}  // namespace goemo
