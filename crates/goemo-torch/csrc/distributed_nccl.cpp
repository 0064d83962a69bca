// c10d's NCCL process group (libtorch_cuda), what torch.distributed.init_process_group("nccl")
// makes. Built as a shared library of its own, loaded only by runs that ask for NCCL, so that
// goemo binaries never link libtorch_cuda; the collectives of distributed.cpp drive it.
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>

#include "distributed_common.hpp"

extern "C" {

// As goemo_dist_new_gloo; the caller has made `device` (its LOCAL_RANK's GPU) current.
goemo::Group* goemo_dist_new_nccl(const char* host, int port, int rank, int world, int64_t timeout_ms,
                                  int serve_store, const char* prefix, char* error, size_t error_len) {
  return goemo::guarded_new(error, error_len, [&] {
    auto timeout = std::chrono::milliseconds(timeout_ms);
    auto store = goemo::rendezvous(host, port, world, serve_store != 0, timeout, prefix);
    auto options = c10d::ProcessGroupNCCL::Options::create();
    options->timeout = timeout;
    auto backend = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, world, options);
    return new goemo::Group{store, backend, timeout};
  });
}
}
