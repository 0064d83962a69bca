// What the Gloo shim (distributed.cpp) and the NCCL shim (distributed_nccl.cpp) share: the
// group handle and the TCPStore rendezvous.
#pragma once

#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "shim_common.hpp"

#include <chrono>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

namespace goemo {

// A process group: the store it met through (kept alive as long as the group) and the backend.
struct Group {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::Backend> backend;
  std::chrono::milliseconds timeout;
};

// The TCPStore at host:port, served by this process when `serve`, as torch.distributed's env://
// rendezvous makes it; keys live under `prefix` so that a restarted group never reads the keys
// of the attempt before it.
inline c10::intrusive_ptr<c10d::Store> rendezvous(const char* host, int port, int world, bool serve,
                                                  std::chrono::milliseconds timeout, const char* prefix) {
  c10d::TCPStoreOptions options;
  options.port = static_cast<std::uint16_t>(port);
  options.isServer = serve;
  options.numWorkers = world;
  options.waitWorkers = true;
  options.timeout = timeout;
  options.multiTenant = true;
  auto store = c10::make_intrusive<c10d::TCPStore>(std::string(host), options);
  return c10::make_intrusive<c10d::PrefixStore>(std::string(prefix), store);
}

// Runs `make`; its group, or nullptr with the exception's message in `error`.
template <typename F>
Group* guarded_new(char* error, size_t error_len, F&& make) {
  Group* group = nullptr;
  guarded(error, error_len, [&] { group = make(); });
  return group;
}

// Waits for every work; the first failure (a peer gone, a timeout) throws.
inline void wait_all(std::vector<c10::intrusive_ptr<c10d::Work>>& works, std::chrono::milliseconds timeout) {
  for (auto& work : works) {
    work->wait(timeout);
  }
}

}  // namespace goemo
