#include "moe/distributed.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <stdexcept>
#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "common/errors.h"

#if MOESCALE_WITH_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#if MOESCALE_TORCH_CUDA
#include <c10/cuda/CUDAFunctions.h>

#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace moe {

namespace {

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : nullptr;
}

int env_int(const char* name, int fallback, int low, int high) {
  const char* v = env(name);
  if (v == nullptr) return fallback;
  char* end = nullptr;
  const long n = std::strtol(v, &end, 10);
  if (end == v || *end != '\0' || n < low || n > high) {
    throw InputError(
        fmt::format("the environment's {}='{}' must be an integer in {}..{}", name, v, low, high));
  }
  return static_cast<int>(n);
}

}  // namespace

std::string first_slurm_host(const std::string& nodelist) {
  // The first entry before a comma outside brackets; a bracket's first number or range start.
  std::string host;
  size_t i = 0;
  for (; i < nodelist.size() && nodelist[i] != ',' && nodelist[i] != '['; ++i) host += nodelist[i];
  if (i < nodelist.size() && nodelist[i] == '[') {
    ++i;
    while (i < nodelist.size() && nodelist[i] != '-' && nodelist[i] != ',' && nodelist[i] != ']') {
      host += nodelist[i++];
    }
  }
  return host;
}

RankInfo rank_from_environment() {
  RankInfo me;
  if (env("MOESCALE_WORLD_SIZE") != nullptr) {
    me.source = "launcher";
    me.world = env_int("MOESCALE_WORLD_SIZE", 1, 1, 65536);
    me.rank = env_int("MOESCALE_RANK", 0, 0, me.world - 1);
    me.local_rank = env_int("MOESCALE_LOCAL_RANK", me.rank, 0, me.world - 1);
    me.local_world = env_int("MOESCALE_LOCAL_WORLD_SIZE", me.world, 1, me.world);
    if (const char* a = env("MOESCALE_MASTER_ADDR")) me.master_addr = a;
    me.master_port = env_int("MOESCALE_MASTER_PORT", 0, 1, 65535);
    return me;
  }
  // srun: one task per rank (SLURM_STEP_ID marks a job step, not the batch script itself).
  if (env("SLURM_STEP_ID") != nullptr && env_int("SLURM_NTASKS", 1, 1, 65536) > 1) {
    me.source = "srun";
    me.world = env_int("SLURM_NTASKS", 1, 1, 65536);
    me.rank = env_int("SLURM_PROCID", 0, 0, me.world - 1);
    me.local_rank = env_int("SLURM_LOCALID", 0, 0, me.world - 1);
    // "4" or "4(x2)": the tasks on each node.
    if (const char* per_node = env("SLURM_NTASKS_PER_NODE")) {
      me.local_world = std::max(1, std::atoi(per_node));
    } else {
      me.local_world = me.world;
    }
    if (const char* a = env("MASTER_ADDR")) {
      me.master_addr = a;
    } else if (const char* list = env("SLURM_JOB_NODELIST")) {
      me.master_addr = first_slurm_host(list);
    }
    const int job = env_int("SLURM_JOB_ID", 0, 0, 2147483647);
    me.master_port = env_int("MASTER_PORT", 20000 + job % 20000, 1, 65535);
  }
  return me;
}

std::string collectives_unavailable(const c10::Device& device) {
  if (device.is_cuda()) {
#if MOESCALE_TORCH_CUDA
    return "";
#else
    return "this LibTorch is a CPU build: no NCCL";
#endif
  }
#if MOESCALE_WITH_GLOO
  return "";
#else
  return "moescale was built without Gloo's headers: install libgloo-dev (scripts/setup.sh) and "
         "build again";
#endif
}

struct Collectives::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::Backend> backend;
  std::chrono::milliseconds timeout;
  c10::Device device = c10::kCPU;

  void wait(const c10::intrusive_ptr<c10d::Work>& work, const char* what) const {
    try {
      work->wait(timeout);
    } catch (const std::exception& e) {
      const std::string msg = e.what();
      throw std::runtime_error(
          fmt::format("{} across the ranks failed (a rank stopped or is "
                      "unreachable): {}",
                      what, msg.substr(0, msg.find('\n'))));
    }
  }
};

Collectives::Collectives(const RankInfo& me, const c10::Device& device,
                         std::chrono::milliseconds timeout)
    : me_(me), impl_(std::make_unique<Impl>()) {
  if (const std::string why = collectives_unavailable(device); !why.empty()) {
    throw InputError("several ranks on " + device.str() + ": " + why);
  }
  impl_->timeout = timeout;
  impl_->device = device;
  c10d::TCPStoreOptions store;
  store.port = static_cast<uint16_t>(me.master_port);
  store.isServer = me.rank == 0;
  store.numWorkers = static_cast<size_t>(me.world);
  store.waitWorkers = true;
  store.timeout = timeout;
  try {
    impl_->store = c10::make_intrusive<c10d::TCPStore>(me.master_addr, store);
  } catch (const std::exception& e) {
    const std::string msg = e.what();
    throw std::runtime_error(
        fmt::format("rank {} of {} could not meet the others at {}:{} ({}): "
                    "{}",
                    me.rank, me.world, me.master_addr, me.master_port, me.source,
                    msg.substr(0, msg.find('\n'))));
  }
  if (device.is_cuda()) {
#if MOESCALE_TORCH_CUDA
    c10::cuda::set_device(device.index());
    auto options = c10d::ProcessGroupNCCL::Options::create();
    options->timeout = timeout;
    impl_->backend =
        c10::make_intrusive<c10d::ProcessGroupNCCL>(impl_->store, me.rank, me.world, options);
#endif
  } else {
#if MOESCALE_WITH_GLOO
    auto options = c10d::ProcessGroupGloo::Options::create(timeout);
    const bool local = me.master_addr == "127.0.0.1" || me.master_addr == "localhost";
    if (const char* ifname = env("GLOO_SOCKET_IFNAME")) {
      options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
    } else if (local) {
      options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    } else {
      options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    }
    options->threads = 1;
    impl_->backend =
        c10::make_intrusive<c10d::ProcessGroupGloo>(impl_->store, me.rank, me.world, options);
#endif
  }
}

Collectives::~Collectives() = default;

namespace {

// One flat buffer for several tensors of one dtype: c10d's list collectives want equal shapes.
at::Tensor flatten(const std::vector<at::Tensor>& tensors) {
  std::vector<at::Tensor> flat;
  flat.reserve(tensors.size());
  for (const auto& t : tensors) flat.push_back(t.reshape({-1}));
  return at::cat(flat);
}

void unflatten(const at::Tensor& flat, std::vector<at::Tensor>& tensors) {
  int64_t offset = 0;
  for (auto& t : tensors) {
    t.copy_(flat.narrow(0, offset, t.numel()).view_as(t));
    offset += t.numel();
  }
}

}  // namespace

void Collectives::all_reduce_sum(std::vector<at::Tensor>& tensors) {
  if (tensors.empty()) return;
  std::vector<at::Tensor> flat = {
      tensors.size() == 1 && tensors[0].is_contiguous() ? tensors[0] : flatten(tensors)};
  c10d::AllreduceOptions o;
  o.reduceOp = c10d::ReduceOp::SUM;
  impl_->wait(impl_->backend->allreduce(flat, o), "a sum");
  if (flat[0].data_ptr() != tensors[0].data_ptr()) unflatten(flat[0], tensors);
}

struct Collectives::PendingSum::State {
  const Impl* impl = nullptr;
  std::vector<at::Tensor> tensors, flat;
  c10::intrusive_ptr<c10d::Work> work;
};

Collectives::PendingSum::~PendingSum() = default;

void Collectives::PendingSum::wait() {
  if (!state_->work) return;
  state_->impl->wait(state_->work, "a sum");
  state_->work.reset();
  unflatten(state_->flat[0], state_->tensors);
}

std::unique_ptr<Collectives::PendingSum> Collectives::start_sum(std::vector<at::Tensor> tensors) {
  auto pending = std::unique_ptr<PendingSum>(new PendingSum());
  pending->state_ = std::make_unique<PendingSum::State>();
  PendingSum::State& st = *pending->state_;
  st.impl = impl_.get();
  st.tensors = std::move(tensors);
  if (st.tensors.empty()) return pending;
  st.flat = {flatten(st.tensors)};
  c10d::AllreduceOptions o;
  o.reduceOp = c10d::ReduceOp::SUM;
  st.work = impl_->backend->allreduce(st.flat, o);
  return pending;
}

void Collectives::all_reduce_max(std::vector<at::Tensor>& tensors) {
  if (tensors.empty()) return;
  std::vector<at::Tensor> flat = {flatten(tensors)};
  c10d::AllreduceOptions o;
  o.reduceOp = c10d::ReduceOp::MAX;
  impl_->wait(impl_->backend->allreduce(flat, o), "a maximum");
  unflatten(flat[0], tensors);
}

void Collectives::broadcast(std::vector<at::Tensor>& tensors, int root) {
  if (tensors.empty()) return;
  std::vector<at::Tensor> flat = {flatten(tensors)};
  c10d::BroadcastOptions o;
  o.rootRank = root;
  impl_->wait(impl_->backend->broadcast(flat, o), "a broadcast");
  unflatten(flat[0], tensors);
}

void Collectives::barrier() {
  // A one-element sum: a barrier every backend takes the same way (NCCL's barrier guesses a
  // device).
  at::Tensor one = at::ones({1}, at::TensorOptions().dtype(at::kFloat).device(impl_->device));
  std::vector<at::Tensor> list = {one};
  c10d::AllreduceOptions o;
  impl_->wait(impl_->backend->allreduce(list, o), "a barrier");
}

}  // namespace moe
