// libFuzzer target for the sweep grid parser (experiments/grid.h): the input format and the checks
// are in tests/fuzz/fuzz_inputs.h. A broken contract prints the defect and aborts, so libFuzzer
// keeps the input; crashes and undefined behaviour are caught by ASan and UBSan.
#include <cstdio>
#include <cstdlib>

#include "tests/fuzz/fuzz_inputs.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    moe::fuzz::check_grid_input(data, size);
  } catch (const moe::fuzz::FuzzDefect& e) {
    std::fprintf(stderr, "fuzz_grid: defect: %s\n", e.what());
    std::abort();
  }
  return 0;
}
