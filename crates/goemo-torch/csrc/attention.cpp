// The float shim over the short-sequence attention kernel (attention_kernel.hpp): one task per
// (text, head), fetching the next task's rows while one computes.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/GradMode.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "attention_kernel.hpp"
#include "shim_common.hpp"

extern "C" {

// Whether goemo_short_attention runs here for `tokens` keys and heads of `head_dim`: AVX-512,
// heads a multiple of 16 wide and at most 128, at most 128 tokens.
int goemo_short_attention_fits(int64_t tokens, int64_t head_dim) {
  return goemo::short_attention_fits(tokens, head_dim);
}

// softmax(q kᵀ / √d) v per head over (B, T, heads × d) float32 CPU tensors (last dimension
// contiguous; views of one fused projection are fine), keys masked by `key_mask` (B, T), true
// where a key may be attended to. Returns a new contiguous (B, T, heads × d) tensor, or nullptr
// with the message.
at::Tensor* goemo_short_attention(at::Tensor* q, at::Tensor* k, at::Tensor* v, at::Tensor* key_mask, int64_t heads,
                                  char* error, size_t error_len) {
  at::Tensor* result = nullptr;
  goemo::guarded(error, error_len, [&] {
    c10::NoGradGuard no_grad;
    TORCH_CHECK(q->dim() == 3, "attention queries are (batch, tokens, width), got ", q->sizes());
    const int64_t batch = q->size(0), tokens = q->size(1), width = q->size(2);
    TORCH_CHECK(heads > 0 && width % heads == 0, "width ", width, " is not a multiple of ", heads, " heads");
    const int64_t dim = width / heads;
    TORCH_CHECK(goemo_short_attention_fits(tokens, dim), "short attention does not fit ", tokens, " tokens of ",
                heads, " heads of ", dim, " (AVX-512, at most ", goemo::kMaxTokens, " tokens, heads of 16 to ",
                goemo::kMaxHeadDim, ")");
    for (auto* t : {q, k, v}) {
      TORCH_CHECK(t->sizes() == q->sizes(), "queries, keys and values differ in shape: ", q->sizes(), " vs ",
                  t->sizes());
      TORCH_CHECK(t->scalar_type() == at::kFloat && t->device().is_cpu() && t->stride(2) == 1,
                  "short attention takes float32 CPU tensors with contiguous rows");
    }
    auto mask = key_mask->reshape({batch, tokens}).to(at::kBool).contiguous();
    auto out = at::empty({batch, tokens, width}, q->options().memory_format(at::MemoryFormat::Contiguous));
    auto rows = [](const at::Tensor& t) {
      return goemo::Rows<const float>{t.data_ptr<float>(), t.stride(0), t.stride(1)};
    };
    const auto qs = rows(*q), ks = rows(*k), vs = rows(*v);
    const goemo::Rows<float> os{out.data_ptr<float>(), tokens * width, width};
    const bool* keys = mask.data_ptr<bool>();
    const float scale = 1.f / std::sqrt(static_cast<float>(dim));
    at::parallel_for(0, batch * heads, 4, [&](int64_t begin, int64_t end) {
      std::vector<float> key_columns(goemo::key_buffer_floats(tokens, dim));
      for (int64_t task = begin; task < end; ++task) {
        const int64_t b = task / heads, column = (task % heads) * dim;
        // The projections were written a whole batch ago and have left the cache: fetch the next
        // task's rows while this one computes.
        if (task + 1 < end) goemo::prefetch_head(qs, ks, vs, (task + 1) / heads, ((task + 1) % heads) * dim, tokens, dim);
        const bool* text_keys = keys + b * tokens;
        float* buffer = key_columns.data();
        goemo::attend_one_head(qs, ks, vs, os, text_keys, b, column, tokens, dim, scale, buffer);
      }
    });
    result = new at::Tensor(out);
  });
  return result;
}
}
