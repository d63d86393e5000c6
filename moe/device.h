// Device selection, bf16 autocast and the peak FLOP/s used for MFU.
#pragma once

#include <c10/core/Device.h>

#include <string>

namespace moe {

// "cpu", "cuda" or "cuda:i". Throws moe::InputError when CUDA is asked for and not available
// (a CPU-only LibTorch, no driver, or i out of range), saying what to use instead.
c10::Device parse_device(const std::string& spec);

// Enables bf16 autocast on CUDA for its lifetime (no-op when enabled is false). LibTorch 1.13
// and 2.x spell the autocast switches differently; this is the one place that knows both.
class AutocastScope {
 public:
  explicit AutocastScope(bool enabled);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool enabled_;
};

// The device's peak dense FLOP/s for MFU:
//   CUDA: a table of bf16 dense tensor-core peaks by device name (A100 312e12, H100 SXM 989e12,
//         H100 PCIe 756e12, H200 989e12, L40S 362e12, A10 125e12...), name from nvidia-smi;
//         0 when unknown (MFU is then not reported).
//   CPU:  measured at start-up: the best of several fp32 GEMMs (1024^3) on the threads torch
//         uses, so MFU is relative to what this machine's BLAS can reach. Measured on a busy
//         machine it comes out low; the trainer measures again when a window beats it.
struct PeakFlops {
  double flops_per_second = 0;
  std::string source;  // e.g. "table: NVIDIA H100 80GB HBM3 (bf16 dense)" or "measured GEMM"
};
PeakFlops device_peak_flops(const c10::Device& device, bool bf16);

// The CUDA device's name ("" when none or unknown).
std::string cuda_device_name(int index);

// Waits for the device's queued work (no-op on CPU). Used only at logging points.
void synchronize(const c10::Device& device);

}  // namespace moe
