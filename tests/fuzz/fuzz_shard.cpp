// libFuzzer target for the token shard reader (data/shards.h): the input format and the checks are
// in tests/fuzz/fuzz_inputs.h. A broken contract prints the defect and aborts, so libFuzzer keeps
// the input; crashes and undefined behaviour are caught by ASan and UBSan.
#include <cstdio>
#include <cstdlib>

#include "tests/fuzz/fuzz_inputs.h"
#include "tests/temp_dir.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const moe::testing::TempDir dir;
  try {
    moe::fuzz::check_shard_input(data, size, dir.path());
  } catch (const moe::fuzz::FuzzDefect& e) {
    std::fprintf(stderr, "fuzz_shard: defect: %s\n", e.what());
    std::abort();
  }
  return 0;
}
