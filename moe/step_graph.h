// A training step captured once in a CUDA graph and replayed (--cuda-graph), and the upload of
// a step's token batches to the device without a host synchronisation.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace moe {

// Whether this LibTorch can capture CUDA graphs (a CUDA build).
bool cuda_graphs_available();

// Makes one side stream of `device` the current stream for its lifetime (CUDA graphs are
// captured on a non-default stream, and the eager warm-up steps must run on the stream the
// capture uses). On a CPU device, or with enabled false, it does nothing.
class SideStream {
 public:
  SideStream(const c10::Device& device, bool enabled);
  ~SideStream();
  SideStream(const SideStream&) = delete;
  SideStream& operator=(const SideStream&) = delete;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One captured step. capture() runs `body` once under capture (its kernels are recorded, not
// run); replay() runs them. When capture fails (a host synchronisation, a shape read back to
// the host, a kernel that cannot be captured) capture() ends the capture, frees what it
// allocated and returns the reason; the caller then runs the step eagerly.
class StepGraph {
 public:
  explicit StepGraph(const c10::Device& device);
  ~StepGraph();
  StepGraph(const StepGraph&) = delete;
  StepGraph& operator=(const StepGraph&) = delete;

  std::string capture(const std::function<void()>& body);  // "" when captured
  void replay();
  bool captured() const { return captured_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  bool captured_ = false;
};

// A step's token rows (n_micro, micro, T + 1) on the device. On CUDA the rows go through a
// pinned host buffer with an asynchronous copy into one device buffer that stays at the same
// address (what a captured graph reads); the host waits only for the previous step's copy out
// of the pinned buffer before refilling it. On the CPU the host rows are the tensor.
class BatchUpload {
 public:
  BatchUpload(const c10::Device& device, int64_t n_micro, int64_t micro, int64_t width);
  ~BatchUpload();
  BatchUpload(const BatchUpload&) = delete;
  BatchUpload& operator=(const BatchUpload&) = delete;

  // fill(rows) writes n_micro * micro * width token ids; returns the device tensor.
  at::Tensor upload(const std::function<void(int64_t* rows)>& fill);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace moe
