// c10d, PyTorch's collective communication library, for data-parallel training: a TCPStore
// rendezvous and a Gloo process group (libtorch_cpu), with the collectives goemo uses. This is
// the code behind torch.distributed.init_process_group("gloo") and dist.all_reduce; tch does
// not wrap it. NCCL lives in libtorch_cuda and is bound by distributed_nccl.cpp.
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>

#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include "distributed_common.hpp"

namespace {

c10::intrusive_ptr<c10d::Backend> gloo_backend(const c10::intrusive_ptr<c10d::Store>& store, int rank, int world,
                                               std::chrono::milliseconds timeout) {
  auto options = c10d::ProcessGroupGloo::Options::create(timeout);
  // As torch.distributed does: the interfaces named by GLOO_SOCKET_IFNAME (comma-separated),
  // else the address this host's name resolves to (loopback when it resolves to nothing).
  const char* interfaces = std::getenv("GLOO_SOCKET_IFNAME");
  if (interfaces != nullptr && *interfaces != '\0') {
    std::string list(interfaces);
    size_t start = 0;
    while (start <= list.size()) {
      size_t end = list.find(',', start);
      if (end == std::string::npos) end = list.size();
      if (end > start) {
        options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(list.substr(start, end - start)));
      }
      start = end + 1;
    }
  } else {
    options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  }
  return c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, world, options);
}

}  // namespace

extern "C" {

// A TCPStore rendezvous at host:port (served by this process when `serve_store`), namespaced
// by `prefix`, and a process group of `world` ranks over it. Returns nullptr with the message in
// `error` when the store or the group cannot be set up.
goemo::Group* goemo_dist_new_gloo(const char* host, int port, int rank, int world, int64_t timeout_ms,
                                  int serve_store, const char* prefix, char* error, size_t error_len) {
  return goemo::guarded_new(error, error_len, [&] {
    auto timeout = std::chrono::milliseconds(timeout_ms);
    auto store = goemo::rendezvous(host, port, world, serve_store != 0, timeout, prefix);
    return new goemo::Group{store, gloo_backend(store, rank, world, timeout), timeout};
  });
}

// Sums each of the n tensors over the ranks, in place (max when `op` is 1): every all-reduce is
// queued before the first is waited on, so the group's threads work through them in order.
int goemo_dist_all_reduce(goemo::Group* group, at::Tensor** tensors, int64_t n, int op, char* error,
                          size_t error_len) {
  return goemo::guarded(error, error_len, [&] {
    c10d::AllreduceOptions options;
    options.reduceOp = op == 1 ? c10d::ReduceOp::MAX : c10d::ReduceOp::SUM;
    options.timeout = group->timeout;
    std::vector<c10::intrusive_ptr<c10d::Work>> works;
    works.reserve(n);
    for (int64_t i = 0; i < n; ++i) {
      std::vector<at::Tensor> one{*tensors[i]};
      works.push_back(group->backend->allreduce(one, options));
    }
    goemo::wait_all(works, group->timeout);
  });
}

// Copies each of the n tensors from rank `root` to every rank, in place.
int goemo_dist_broadcast(goemo::Group* group, at::Tensor** tensors, int64_t n, int root, char* error,
                         size_t error_len) {
  return goemo::guarded(error, error_len, [&] {
    c10d::BroadcastOptions options;
    options.rootRank = root;
    options.timeout = group->timeout;
    std::vector<c10::intrusive_ptr<c10d::Work>> works;
    works.reserve(n);
    for (int64_t i = 0; i < n; ++i) {
      std::vector<at::Tensor> one{*tensors[i]};
      works.push_back(group->backend->broadcast(one, options));
    }
    goemo::wait_all(works, group->timeout);
  });
}

// Returns when every rank has called it.
int goemo_dist_barrier(goemo::Group* group, char* error, size_t error_len) {
  return goemo::guarded(error, error_len, [&] {
    c10d::BarrierOptions options;
    options.timeout = group->timeout;
    group->backend->barrier(options)->wait(group->timeout);
  });
}

// Shuts the backend down (NCCL frees its communicators; c10d warns when a group is destroyed
// without it), then frees the group.
void goemo_dist_free(goemo::Group* group) {
  try {
    group->backend->shutdown();
  } catch (...) {
    // A group whose peers are gone cannot shut down cleanly; it is freed all the same.
  }
  delete group;
}
}
