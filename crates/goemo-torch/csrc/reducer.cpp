// Gradients summed over the ranks while backward still runs, as PyTorch DDP's c10d::Reducer
// does: a post hook on each parameter's gradient accumulator marks it ready, and a bucket's
// all-reduce is launched as soon as all its parameters are, in bucket order (the same on every
// rank, so that the ranks' collectives pair up). The gradients are views of the buckets (the
// Rust side lays them out), so a hook only counts (it copies a gradient back into its bucket
// when other code replaced it); `finish` launches the buckets whose parameters got no gradient
// in this pass and waits for them all.
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/utils/lambda_post_hook.h>
#include <torch/csrc/autograd/variable.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "distributed_common.hpp"

namespace goemo {

// What the hooks and the owner share; the hooks hold it weakly, so that a hook left on an
// accumulator after the reducer is gone does nothing.
struct ReducerState {
  std::mutex mutex;
  c10::intrusive_ptr<c10d::Backend> backend;
  std::chrono::milliseconds timeout;
  std::vector<at::Tensor> buckets;         // flat buffers, in launch order
  std::vector<at::Tensor> params;          // the parameters the hooks watch
  std::vector<at::Tensor> views;           // each parameter's slice of its bucket
  std::vector<int64_t> bucket_of;          // each parameter's bucket
  std::vector<int64_t> members;            // parameters per bucket
  std::vector<int64_t> pending;            // parameters per bucket not yet ready in this pass
  std::vector<bool> ready;                 // per parameter, in this pass
  size_t next = 0;                         // the next bucket to launch
  bool armed = false;
  std::vector<c10::intrusive_ptr<c10d::Work>> works;

  // Launches every bucket from `next` on whose parameters are all ready (all of them when
  // `all`), stopping at the first that is not. Called with the mutex held.
  void launch(bool all) {
    c10d::AllreduceOptions options;
    options.reduceOp = c10d::ReduceOp::SUM;
    options.timeout = timeout;
    while (next < buckets.size() && (all || pending[next] == 0)) {
      std::vector<at::Tensor> one{buckets[next]};
      works.push_back(backend->allreduce(one, options));
      ++next;
    }
  }

  void reset() {
    armed = false;
    next = 0;
    pending = members;
    std::fill(ready.begin(), ready.end(), false);
    works.clear();
  }
};

struct Reducer {
  std::shared_ptr<ReducerState> state;
  // The accumulators are kept alive with their hooks: libtorch holds them only weakly between
  // backward passes and would otherwise make new ones without the hooks.
  std::vector<std::pair<c10::intrusive_ptr<torch::autograd::Node>, uintptr_t>> hooks;
};

}  // namespace goemo

extern "C" {

// A reducer over `n` parameters whose gradients are `views[i]`, slices of `buckets[bucket_of[i]]`
// (n_buckets flat buffers, launched in their order). Returns nullptr with the message in `error`.
goemo::Reducer* goemo_reducer_new(goemo::Group* group, at::Tensor** params, at::Tensor** views,
                                  const int64_t* bucket_of, int64_t n, at::Tensor** buckets, int64_t n_buckets,
                                  char* error, size_t error_len) {
  goemo::Reducer* made = nullptr;
  goemo::guarded(error, error_len, [&] {
    auto state = std::make_shared<goemo::ReducerState>();
    state->backend = group->backend;
    state->timeout = group->timeout;
    for (int64_t b = 0; b < n_buckets; ++b) state->buckets.push_back(*buckets[b]);
    state->members.assign(n_buckets, 0);
    for (int64_t i = 0; i < n; ++i) {
      TORCH_CHECK(bucket_of[i] >= 0 && bucket_of[i] < n_buckets, "parameter ", i, " names bucket ", bucket_of[i],
                  " of ", n_buckets);
      TORCH_CHECK(params[i]->requires_grad() && params[i]->is_leaf(), "parameter ", i,
                  " is not a leaf that requires a gradient");
      TORCH_CHECK(views[i]->is_alias_of(state->buckets[bucket_of[i]]), "parameter ", i,
                  "'s gradient view is not a slice of its bucket");
      state->params.push_back(*params[i]);
      state->views.push_back(*views[i]);
      state->bucket_of.push_back(bucket_of[i]);
      state->members[bucket_of[i]] += 1;
    }
    state->ready.assign(n, false);
    state->reset();
    auto reducer = std::make_unique<goemo::Reducer>();
    reducer->state = state;
    std::weak_ptr<goemo::ReducerState> weak = state;
    for (int64_t i = 0; i < n; ++i) {
      auto accumulator = torch::autograd::impl::grad_accumulator(state->params[i]);
      auto hook = [weak, i](const torch::autograd::variable_list& outputs, const torch::autograd::variable_list&) {
        auto s = weak.lock();
        if (!s) return outputs;
        std::lock_guard<std::mutex> lock(s->mutex);
        if (!s->armed || s->ready[i]) return outputs;
        at::Tensor& grad = s->params[i].mutable_grad();
        if (grad.defined() && !grad.is_alias_of(s->views[i])) {
          // Replaced since the layout was made (set to None, say): back into the bucket.
          s->views[i].copy_(grad);
          grad = s->views[i];
        }
        s->ready[i] = true;
        if (--s->pending[s->bucket_of[i]] == 0) s->launch(false);
        return outputs;
      };
      auto key = accumulator->add_post_hook(std::make_unique<torch::autograd::utils::LambdaPostHook>(hook));
      reducer->hooks.emplace_back(accumulator, key);
    }
    made = reducer.release();
  });
  return made;
}

// The next backward pass's gradients are the ones to sum: its hooks launch the buckets.
int goemo_reducer_arm(goemo::Reducer* reducer, char* error, size_t error_len) {
  return goemo::guarded(error, error_len, [&] {
    auto& s = *reducer->state;
    std::lock_guard<std::mutex> lock(s.mutex);
    s.reset();
    s.armed = true;
  });
}

// After the armed backward pass: launches the buckets not launched yet (parameters that got no
// gradient), waits for every bucket, and disarms. `launched` receives how many buckets the
// hooks had launched during the pass.
int goemo_reducer_finish(goemo::Reducer* reducer, int64_t* launched, char* error, size_t error_len) {
  return goemo::guarded(error, error_len, [&] {
    auto& s = *reducer->state;
    std::vector<c10::intrusive_ptr<c10d::Work>> works;
    {
      std::lock_guard<std::mutex> lock(s.mutex);
      TORCH_CHECK(s.armed, "the reducer was not armed before backward");
      *launched = static_cast<int64_t>(s.next);
      s.launch(true);
      works = s.works;
      s.reset();
    }
    goemo::wait_all(works, s.timeout);
  });
}

// Removes the hooks and frees the reducer; collectives in flight are waited for first.
void goemo_reducer_free(goemo::Reducer* reducer) {
  try {
    auto& s = *reducer->state;
    std::vector<c10::intrusive_ptr<c10d::Work>> works;
    {
      std::lock_guard<std::mutex> lock(s.mutex);
      works = s.works;
      s.armed = false;
    }
    goemo::wait_all(works, s.timeout);
  } catch (...) {
    // A group whose peers are gone: the reducer is freed all the same.
  }
  for (auto& [accumulator, key] : reducer->hooks) accumulator->del_post_hook(key);
  delete reducer;
}
}
