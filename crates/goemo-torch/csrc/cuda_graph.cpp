// CUDA graphs for goemo: a step's kernels recorded once (at::cuda::CUDAGraph, what
// torch.cuda.graph records) and replayed with one launch, and the side streams recording needs.
// Built as a shared library of its own that links libtorch_cuda (CPU binaries never load it):
// goemo-torch opens it when a CUDA graph is first asked for.
#include <ATen/autocast_mode.h>
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAStream.h>

#include <cstdint>
#include <map>
#include <mutex>

#include "shim_common.hpp"

namespace {

struct Graph {
  at::cuda::CUDAGraph graph;
  // Autocast's cache of cast weights must be off while recording (a cached cast made during the
  // recording would be freed with the recording's memory): the setting to restore after it.
  bool autocast_cache = true;
};

struct SideStream {
  c10::cuda::CUDAStream previous;
  c10::cuda::CUDAStream side;
};

// One side stream per device for the whole process: a shape's eager warm-up, its recording and
// its replays then share one stream, and with it the cuBLAS workspace libtorch keeps per
// stream (a workspace first allocated inside a recording would belong to the recording).
c10::cuda::CUDAStream side_stream(c10::DeviceIndex device) {
  static std::mutex lock;
  static std::map<c10::DeviceIndex, c10::cuda::CUDAStream> streams;
  std::lock_guard<std::mutex> guard(lock);
  auto found = streams.find(device);
  if (found == streams.end()) {
    found = streams.emplace(device, c10::cuda::getStreamFromPool(/*isHighPriority=*/false, device)).first;
  }
  return found->second;
}

}  // namespace

extern "C" {

// Makes goemo's side stream (one of libtorch's pool) the current stream of CUDA device `device`,
// after it waits for the work already queued on the current one. Recording needs a stream other
// than the default one, and the eager steps before a recording run on the same stream, as
// torch.cuda.graph's warm-up does. Returns the guard, or nullptr with the message.
void* goemo_side_stream_enter(int64_t device, char* error, size_t error_len) {
  SideStream* out = nullptr;
  goemo::guarded(error, error_len, [&] {
    auto count = static_cast<int64_t>(c10::cuda::device_count());
    TORCH_CHECK(device >= 0 && device < count, "no CUDA device ", device, " (this machine has ", count, ")");
    auto index = static_cast<c10::DeviceIndex>(device);
    auto previous = c10::cuda::getCurrentCUDAStream(index);
    auto side = side_stream(index);
    at::cuda::CUDAEvent ready;
    ready.record(previous);
    ready.block(side);
    c10::cuda::setCurrentCUDAStream(side);
    out = new SideStream{previous, side};
  });
  return out;
}

// Makes the stream that was current before `goemo_side_stream_enter` current again, after it
// waits for the side stream's work; frees the guard. Returns 0, or -1 with the message.
int goemo_side_stream_exit(void* guard, char* error, size_t error_len) {
  auto* s = static_cast<SideStream*>(guard);
  int status = goemo::guarded(error, error_len, [&] {
    at::cuda::CUDAEvent done;
    done.record(s->side);
    done.block(s->previous);
    c10::cuda::setCurrentCUDAStream(s->previous);
  });
  delete s;
  return status;
}

void* goemo_graph_new(char* error, size_t error_len) {
  Graph* out = nullptr;
  goemo::guarded(error, error_len, [&] { out = new Graph(); });
  return out;
}

void goemo_graph_free(void* graph) { delete static_cast<Graph*>(graph); }

// Starts recording the work queued on the current stream; (pool_a, pool_b) is the memory pool of
// another graph to share (0, 0: a pool of its own). Until `goemo_graph_end`, kernels are
// recorded, not run.
int goemo_graph_begin(void* graph, uint64_t pool_a, uint64_t pool_b, char* error, size_t error_len) {
  auto* g = static_cast<Graph*>(graph);
  return goemo::guarded(error, error_len, [&] {
    g->autocast_cache = at::autocast::is_autocast_cache_enabled();
    at::autocast::set_autocast_cache_enabled(false);
    try {
      g->graph.capture_begin({pool_a, pool_b});
    } catch (...) {
      at::autocast::set_autocast_cache_enabled(g->autocast_cache);
      throw;
    }
  });
}

// Ends the recording and instantiates the graph. Returns 0, or -1 with the message (an operation
// that may not be recorded, such as a copy to the host, fails here or at its call).
int goemo_graph_end(void* graph, char* error, size_t error_len) {
  auto* g = static_cast<Graph*>(graph);
  return goemo::guarded(error, error_len, [&] {
    at::autocast::set_autocast_cache_enabled(g->autocast_cache);
    g->graph.capture_end();
  });
}

// Runs the recorded kernels again on the current stream, reading and writing the same memory.
int goemo_graph_replay(void* graph, char* error, size_t error_len) {
  auto* g = static_cast<Graph*>(graph);
  return goemo::guarded(error, error_len, [&] { g->graph.replay(); });
}

// The graph's memory pool, for other recordings to share.
void goemo_graph_pool(void* graph, uint64_t* pool_a, uint64_t* pool_b) {
  auto pool = static_cast<Graph*>(graph)->graph.pool();
  *pool_a = pool.first;
  *pool_b = pool.second;
}
}
