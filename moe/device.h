// Device selection, bf16 autocast, what the LibTorch build offers, and the peak FLOP/s for MFU.
#pragma once

#include <c10/core/Device.h>

#include <cstdint>
#include <string>
#include <vector>

namespace moe {

// "cpu", "cuda" or "cuda:i". Throws moe::InputError when CUDA is asked for and not available
// (a CPU-only LibTorch, no driver, or i out of range), saying what to use instead.
c10::Device parse_device(const std::string& spec);

// Enables bf16 autocast on `device` (CUDA or CPU) for its lifetime (no-op when enabled is
// false): matmuls run in bf16, weights stay fp32. Casts of weights made inside it are cached
// until the outermost AutocastCache (or AutocastScope) ends.
class AutocastScope {
 public:
  explicit AutocastScope(bool enabled, c10::DeviceType device = c10::DeviceType::CUDA);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool enabled_;
  c10::DeviceType device_;
};

// Keeps autocast's cast cache alive across several AutocastScopes, e.g. the micro-batches of
// one optimizer step: the fp32 weights are then cast to bf16 once per step, not per forward.
// The weights must not change while it lives (open it after the optimizer step, not across).
class AutocastCache {
 public:
  explicit AutocastCache(bool enabled);
  ~AutocastCache();
  AutocastCache(const AutocastCache&) = delete;
  AutocastCache& operator=(const AutocastCache&) = delete;

 private:
  bool enabled_;
};

// True inside an enabled AutocastScope for that device type.
bool bf16_autocast_enabled(c10::DeviceType device = c10::DeviceType::CUDA);

// Whether at::_grouped_mm is known good on this device: CUDA compute capability 9.x (H100,
// H200) with LibTorch >= 2.9. Elsewhere it fails (2.8: capability != 9.x), can hang in its
// backward (2.8 + H100 with an expert that gets no tokens) or gives zero-token experts non-zero
// weight gradients (capability 10.x, pytorch#172439); moescale then loops over the experts.
bool grouped_gemm_known_good(const c10::Device& device);

struct CudaDeviceInfo {
  int index = 0;
  std::string name;
  int major = 0, minor = 0;  // compute capability
  int64_t total_memory = 0;  // bytes
};
// The CUDA devices this process sees (empty without CUDA or without a GPU).
std::vector<CudaDeviceInfo> cuda_devices();

// What this build runs on, a line each: LibTorch version, whether CUDA is compiled in (and the
// CUDA runtime and cuDNN versions LibTorch was built with), the CUDA devices it sees, threads.
std::vector<std::string> build_info();

// The device's peak dense FLOP/s for MFU:
//   CUDA: a table of dense peaks by device name from the vendors' data sheets: bf16 tensor-core
//         peaks for bf16 runs (H100 SXM 989e12, H200 989e12, A100 312e12, ...) and plain fp32
//         peaks for fp32 runs (TF32 stays off, so fp32 runs do not use tensor cores); 0 when
//         the name is unknown (MFU is then not reported).
//   CPU:  measured at start-up: the best of several GEMMs (1024^3, bf16 for bf16 runs, else
//         fp32) on the threads torch uses, so MFU is relative to what this machine can reach.
//         Measured on a busy machine it comes out low; the trainer measures again when a window
//         beats it.
struct PeakFlops {
  double flops_per_second = 0;
  std::string source;  // e.g. "table: NVIDIA H100 80GB HBM3 (bf16 dense)" or "measured GEMM"
};
PeakFlops device_peak_flops(const c10::Device& device, bool bf16);

// Waits for the device's queued work (no-op on CPU). Used only at logging points.
void synchronize(const c10::Device& device);
// The most bytes the CUDA caching allocator has had allocated on `device` so far (what
// torch.cuda.max_memory_allocated reports); 0 on the CPU.
double peak_device_memory(const c10::Device& device);

}  // namespace moe
