#include "moe/step_graph.h"

#include <ATen/ATen.h>

#include <cstring>
#include <optional>
#include <stdexcept>

#if MOESCALE_TORCH_CUDA
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>
#endif

namespace moe {

bool cuda_graphs_available() { return MOESCALE_TORCH_CUDA != 0; }

#if MOESCALE_TORCH_CUDA

struct SideStream::Impl {
  std::optional<c10::cuda::CUDAStreamGuard> guard;
};

SideStream::SideStream(const c10::Device& device, bool enabled) : impl_(std::make_unique<Impl>()) {
  if (!enabled || !device.is_cuda()) return;
  // The side stream starts after everything queued so far (the model's initialisation, a
  // loaded checkpoint): once per session, not per step.
  c10::cuda::getCurrentCUDAStream(device.index()).synchronize();
  impl_->guard.emplace(c10::cuda::getStreamFromPool(/*isHighPriority=*/false, device.index()));
}

SideStream::~SideStream() {
  if (impl_->guard) impl_->guard->current_stream().synchronize();
}

struct StepGraph::Impl {
  at::cuda::CUDAGraph graph;
};

StepGraph::StepGraph(const c10::Device& device) : impl_(std::make_unique<Impl>()) {
  if (!device.is_cuda()) throw std::invalid_argument("a CUDA graph needs a CUDA device");
}

StepGraph::~StepGraph() = default;

std::string StepGraph::capture(const std::function<void()>& body) {
  std::string why;
  impl_->graph.capture_begin();
  try {
    body();
  } catch (const std::exception& e) {
    why = e.what();
  }
  try {
    impl_->graph.capture_end();  // ends the capture even when it was invalidated (then throws)
  } catch (const std::exception& e) {
    if (why.empty()) why = e.what();
  }
  if (!why.empty()) {
    (void)cudaGetLastError();  // the capture's error is not the next call's
    impl_->graph.reset();
    return why.substr(0, why.find('\n'));
  }
  captured_ = true;
  return "";
}

void StepGraph::replay() { impl_->graph.replay(); }

struct BatchUpload::Impl {
  at::Tensor pinned, device;
  std::optional<at::cuda::CUDAEvent> copied;  // recorded after the last copy out of pinned
};

#else  // a CPU-only LibTorch: no CUDA device can be asked for (parse_device refuses it)

struct SideStream::Impl {};
SideStream::SideStream(const c10::Device&, bool) : impl_(std::make_unique<Impl>()) {}
SideStream::~SideStream() = default;

struct StepGraph::Impl {};
StepGraph::StepGraph(const c10::Device&) {
  throw std::invalid_argument("this LibTorch is a CPU build: no CUDA graphs");
}
StepGraph::~StepGraph() = default;
std::string StepGraph::capture(const std::function<void()>&) { return "no CUDA"; }
void StepGraph::replay() {}

struct BatchUpload::Impl {
  at::Tensor pinned, device;
};

#endif

BatchUpload::BatchUpload(const c10::Device& device, int64_t n_micro, int64_t micro, int64_t width)
    : impl_(std::make_unique<Impl>()) {
  const auto longs = at::TensorOptions().dtype(at::kLong);
  if (device.is_cpu()) {
    impl_->pinned = at::empty({n_micro, micro, width}, longs);
    impl_->device = impl_->pinned;
    return;
  }
  impl_->pinned = at::empty({n_micro, micro, width}, longs.pinned_memory(true));
  impl_->device = at::empty({n_micro, micro, width}, longs.device(device));
}

BatchUpload::~BatchUpload() = default;

at::Tensor BatchUpload::upload(const std::function<void(int64_t* rows)>& fill) {
  if (impl_->device.is_cpu()) {
    fill(impl_->pinned.data_ptr<int64_t>());
    return impl_->device;
  }
#if MOESCALE_TORCH_CUDA
  if (impl_->copied) impl_->copied->synchronize();  // the previous copy has left the buffer
  fill(impl_->pinned.data_ptr<int64_t>());
  impl_->device.copy_(impl_->pinned, /*non_blocking=*/true);
  if (!impl_->copied) impl_->copied.emplace();
  impl_->copied->record(c10::cuda::getCurrentCUDAStream(impl_->device.device().index()));
#endif
  return impl_->device;
}

}  // namespace moe
