#include "moe/device.h"

#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>
#include <fmt/format.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>

#include "moe/errors.h"

namespace moe {

c10::Device parse_device(const std::string& spec) {
  if (spec == "cpu") return c10::Device(c10::kCPU);
  int index = 0;
  if (spec == "cuda") {
    index = 0;
  } else if (spec.rfind("cuda:", 0) == 0 && spec.size() > 5 &&
             std::all_of(spec.begin() + 5, spec.end(), ::isdigit)) {
    index = std::stoi(spec.substr(5));
  } else {
    throw InputError("--device " + spec + " is not a device: use cpu, cuda or cuda:<index>");
  }
  if (!torch::cuda::is_available()) {
    throw InputError("--device " + spec +
                     ": CUDA is not available (CPU-only LibTorch or no GPU driver); use --device "
                     "cpu, or build against a CUDA LibTorch with -DCMAKE_PREFIX_PATH");
  }
  const int count = static_cast<int>(torch::cuda::device_count());
  if (index >= count) {
    throw InputError(fmt::format("--device {}: this machine has {} CUDA device(s); use cuda:0..{}",
                                 spec, count, count - 1));
  }
  return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
}

AutocastScope::AutocastScope(bool enabled) : enabled_(enabled) {
  if (!enabled_) return;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  at::autocast::set_autocast_enabled(at::kCUDA, true);
  at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
#else
  at::autocast::set_enabled(true);
  at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
#endif
  at::autocast::increment_nesting();
}

AutocastScope::~AutocastScope() {
  if (!enabled_) return;
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  at::autocast::set_autocast_enabled(at::kCUDA, false);
#else
  at::autocast::set_enabled(false);
#endif
}

std::string cuda_device_name(int index) {
  const std::string cmd =
      fmt::format("nvidia-smi --query-gpu=name --format=csv,noheader -i {} 2>/dev/null", index);
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(cmd.c_str(), "r"), ::pclose);
  if (!pipe) return "";
  char buf[256] = {0};
  if (!std::fgets(buf, sizeof buf, pipe.get())) return "";
  std::string name(buf);
  while (!name.empty() && (name.back() == '\n' || name.back() == '\r')) name.pop_back();
  return name;
}

namespace {

double measured_cpu_gemm_flops() {
  at::NoGradGuard no_grad;
  const int64_t n = 1024;
  // Fixed values, not randn: measuring must not draw from the generator training uses.
  const at::Tensor a = at::linspace(-1.0, 1.0, n * n).reshape({n, n}), b = a.t().contiguous();
  at::Tensor c = at::mm(a, b);  // warm-up
  double best = 0;
  for (int i = 0; i < 5; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    c = at::mm(a, b);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, 2.0 * n * n * n / s);
  }
  return best;
}

}  // namespace

PeakFlops device_peak_flops(const c10::Device& device, bool bf16) {
  if (device.is_cpu()) return {measured_cpu_gemm_flops(), "measured fp32 GEMM 1024^3"};
  const std::string name = cuda_device_name(device.index() < 0 ? 0 : device.index());
  // Dense (no sparsity) tensor-core peaks from the vendors' data sheets; fp32 peaks use TF32.
  struct Entry {
    const char* pattern;
    double bf16, tf32;
  };
  static const Entry table[] = {
      {"H200", 989e12, 495e12},     {"H100 PCIe", 756e12, 378e12}, {"H100", 989e12, 495e12},
      {"A100", 312e12, 156e12},     {"L40S", 362e12, 183e12},      {"A10", 125e12, 62.5e12},
      {"L4", 121e12, 60e12},        {"V100", 125e12, 15.7e12},     {"RTX 4090", 165e12, 82.6e12},
      {"RTX 3090", 71e12, 35.6e12},
  };
  for (const auto& e : table) {
    if (name.find(e.pattern) != std::string::npos) {
      return {bf16 ? e.bf16 : e.tf32,
              fmt::format("table: {} ({} dense)", name, bf16 ? "bf16" : "tf32")};
    }
  }
  return {0, name.empty() ? "unknown CUDA device" : "unknown CUDA device " + name};
}

void synchronize(const c10::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index() < 0 ? 0 : device.index());
}

}  // namespace moe
