#include "moe/device.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <fmt/format.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>

#include "common/errors.h"
#include "moe/config.h"

#if MOESCALE_TORCH_CUDA
#include <ATen/cuda/CUDAContextLight.h>
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace moe {

c10::Device parse_device(const std::string& spec) {
  const std::optional<int> parsed = parse_device_name(spec);
  if (!parsed) {
    throw InputError("--device " + spec + " is not a device: use cpu, cuda or cuda:<index>");
  }
  if (*parsed < 0) return c10::Device(c10::kCPU);
  const int index = *parsed;
  if (!torch::cuda::is_available()) {
    throw InputError("--device " + spec +
                     ": CUDA is not available (a CPU-only LibTorch, or no GPU driver); use "
                     "--device cpu, or build against a CUDA LibTorch (`moescale --version` says "
                     "which this build has)");
  }
  const int count = static_cast<int>(torch::cuda::device_count());
  if (index >= count) {
    throw InputError(fmt::format("--device {}: this machine has {} CUDA device(s); use cuda:0..{}",
                                 spec, count, count - 1));
  }
  return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
}

AutocastScope::AutocastScope(bool enabled, c10::DeviceType device)
    : enabled_(enabled), device_(device) {
  if (!enabled_) return;
  at::autocast::set_autocast_enabled(device_, true);
  at::autocast::set_autocast_dtype(device_, at::kBFloat16);
  at::autocast::increment_nesting();
}

AutocastScope::~AutocastScope() {
  if (!enabled_) return;
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  at::autocast::set_autocast_enabled(device_, false);
}

// Autocast clears its cache when the nesting count returns to 0; holding one level keeps it.
AutocastCache::AutocastCache(bool enabled) : enabled_(enabled) {
  if (enabled_) at::autocast::increment_nesting();
}

AutocastCache::~AutocastCache() {
  if (enabled_ && at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
}

bool bf16_autocast_enabled(c10::DeviceType device) {
  return at::autocast::is_autocast_enabled(device) &&
         at::autocast::get_autocast_dtype(device) == at::kBFloat16;
}

std::vector<CudaDeviceInfo> cuda_devices() {
  std::vector<CudaDeviceInfo> out;
#if MOESCALE_TORCH_CUDA
  if (!torch::cuda::is_available()) return out;
  const int n = static_cast<int>(torch::cuda::device_count());
  for (int i = 0; i < n; ++i) {
    const auto* prop = at::cuda::getDeviceProperties(static_cast<c10::DeviceIndex>(i));
    out.push_back(
        {i, prop->name, prop->major, prop->minor, static_cast<int64_t>(prop->totalGlobalMem)});
  }
#endif
  return out;
}

bool grouped_gemm_known_good(const c10::Device& device) {
  if (!device.is_cuda()) return false;
  // Every MoE layer asks on every forward: the answer is computed once per device and then read
  // without a lock (two threads computing it at once get the same answer). 0: not known yet,
  // 1: no, 2: yes.
  static std::array<std::atomic<int8_t>, 128> known{};
  const int index = device.index() < 0 ? 0 : device.index();
  auto compute = [index] {
    for (const auto& d : cuda_devices()) {
      if (d.index == index) return d.major == 9;
    }
    return false;
  };
  if (index >= static_cast<int>(known.size())) return compute();
  std::atomic<int8_t>& slot = known[static_cast<size_t>(index)];
  int8_t v = slot.load(std::memory_order_acquire);
  if (v == 0) {
    v = compute() ? 2 : 1;
    slot.store(v, std::memory_order_release);
  }
  return v == 2;
}

std::vector<std::string> build_info() {
  std::vector<std::string> lines;
  lines.push_back(fmt::format("LibTorch {} (C++ ABI {}, {} intra-op threads)", TORCH_VERSION,
                              _GLIBCXX_USE_CXX11_ABI ? "cxx11" : "pre-cxx11",
                              at::get_num_threads()));
#if MOESCALE_TORCH_CUDA
  const auto& hooks = at::detail::getCUDAHooks();
  const long rt = hooks.versionCUDART();
  std::string cuda = fmt::format("CUDA compiled in: runtime {}.{}", rt / 1000, (rt / 10) % 100);
  if (hooks.compiledWithCuDNN()) {
    const long dnn = hooks.versionCuDNN();
    cuda += fmt::format(", cuDNN {}.{}.{}", dnn / 10000, (dnn / 100) % 100, dnn % 100);
  }
  lines.push_back(cuda);
  const std::vector<CudaDeviceInfo> devices = cuda_devices();
  if (devices.empty()) lines.push_back("CUDA devices: none visible (no GPU or no driver)");
  for (const auto& d : devices) {
    lines.push_back(fmt::format(
        "cuda:{}: {}, compute capability {}.{}, {:.1f} GiB{}", d.index, d.name, d.major, d.minor,
        static_cast<double>(d.total_memory) / (1 << 30),
        grouped_gemm_known_good(c10::Device(c10::kCUDA, d.index)) ? ", grouped expert GEMM" : ""));
  }
#else
  lines.push_back("CUDA: not compiled in (a CPU-only LibTorch)");
#endif
  return lines;
}

namespace {

double measured_cpu_gemm_flops(at::ScalarType dtype) {
  at::NoGradGuard no_grad;
  const int64_t n = 1024;
  // Fixed values, not randn: measuring must not draw from the generator training uses.
  const at::Tensor a = at::linspace(-1.0, 1.0, n * n).reshape({n, n}).to(dtype),
                   b = a.t().contiguous();
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

std::string cuda_device_name(int index) {
  for (const auto& d : cuda_devices()) {
    if (d.index == index) return d.name;
  }
  return "";
}

}  // namespace

PeakFlops device_peak_flops(const c10::Device& device, bool bf16) {
  if (device.is_cpu()) {
    return {measured_cpu_gemm_flops(bf16 ? at::kBFloat16 : at::kFloat),
            bf16 ? "measured bf16 GEMM 1024^3" : "measured fp32 GEMM 1024^3"};
  }
  const std::string name = cuda_device_name(device.index() < 0 ? 0 : device.index());
  // Dense (no sparsity) peaks from the vendors' data sheets: bf16 on tensor cores, and fp32 on
  // the CUDA cores (TF32 is off, so fp32 matmuls do not reach the tensor cores).
  struct Entry {
    const char* pattern;
    double bf16, fp32;
  };
  static const Entry table[] = {
      {"B200", 2250e12, 80e12},      {"H200", 989e12, 67e12},      {"H100 PCIe", 756e12, 51e12},
      {"H100", 989e12, 67e12},       {"A100", 312e12, 19.5e12},    {"L40S", 362e12, 91.6e12},
      {"A10", 125e12, 31.2e12},      {"L4", 121e12, 30.3e12},      {"V100", 125e12, 15.7e12},
      {"RTX 4090", 165e12, 82.6e12}, {"RTX 3090", 71e12, 35.6e12},
  };
  for (const auto& e : table) {
    if (name.find(e.pattern) != std::string::npos) {
      return {bf16 ? e.bf16 : e.fp32,
              fmt::format("table: {} ({} dense)", name, bf16 ? "bf16" : "fp32")};
    }
  }
  return {0, name.empty() ? "unknown CUDA device" : "unknown CUDA device " + name};
}

void synchronize(const c10::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index() < 0 ? 0 : device.index());
}

double peak_device_memory(const c10::Device& device) {
#if MOESCALE_TORCH_CUDA
  if (device.is_cuda()) {
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(
        static_cast<c10::DeviceIndex>(device.index() < 0 ? 0 : device.index()));
    return static_cast<double>(
        stats.allocated_bytes[static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE)]
            .peak);
  }
#endif
  (void)device;
  return 0;
}

}  // namespace moe
