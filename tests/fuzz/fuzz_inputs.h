// The checks behind the fuzz harnesses, shared with the regression tests: each function takes
// one input (arbitrary bytes), drives a reader with it exactly as a program would, and reports
// whether the input was accepted or rejected with a documented error. Everything else is a
// defect and throws FuzzDefect: an undocumented exception type, a message that does not name
// the input or spans several lines, or an accepted input whose results break the reader's
// contract (a window that is not the tokens it claims, a token past a vocabulary check, ...).
// Crashes, out-of-bounds reads and undefined behaviour are left to the sanitizers.
//
// The libFuzzer targets (fuzz_*.cpp) abort on FuzzDefect; tests/fuzz/test_fuzz_regressions.cpp
// feeds the kept inputs through the same functions and asserts their verdicts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace moe::fuzz {

class FuzzDefect : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

struct Verdict {
  enum Kind { kAccepted, kInputError, kInvalidArgument };
  Kind kind = kAccepted;
  std::string message;  // the rejection's what(); empty when accepted
};

std::string to_string(Verdict::Kind kind);

// Shard reader. The input is a parameter block, then the bytes of the shard file(s):
//   [0, 8)   context T (int64, little-endian; windows are T + 1 tokens)
//   [8, 16)  vocabulary size for check_vocab (int64)
//   [16, 24) sampler seed (uint64)
//   [24, 32) sampler position set before the last batch (uint64)
//   [32]     rank (int8)    [33] world (int8)
//   [34]     batch (uint8)  [35] windows asked of sequential_windows (uint8)
//   [36]     flags: bit 0 splits the file bytes into two shards at the offset [37, 40)
//            (uint24, clamped to the byte count); bit 1 lists the first shard twice
//   [40, ..) file bytes
// A shorter input reads as if padded with zero bytes. Shard files are written under `dir`.
// Drives read_shard_header, TokenDataset (+ check_vocab), WindowSampler (next_batch,
// window_start, set_position) and sequential_windows. Rejections: moe::InputError whose message
// names the offending shard file; std::invalid_argument for a bad context, rank/world or
// vocabulary size, and only then.
constexpr size_t kShardParamBytes = 40;
Verdict check_shard_input(const uint8_t* data, size_t size, const std::string& dir);

// Sweep grid: the bytes are the grid file's text. parse_grid (as "fuzz.grid") then expand.
// Rejections: moe::InputError whose message starts "grid fuzz.grid". Accepted grids must
// expand into runs whose configs validate and whose ids are distinct.
Verdict check_grid_input(const uint8_t* data, size_t size);

// Train config: the bytes are written to `dir`/config.json and read back as `moescale train
// --config` does (read_train_config); an empty "data" is filled in as the --data flag would,
// then validate(). Rejections: moe::InputError naming the file (not JSON, unknown key, value of
// the wrong type or range); std::invalid_argument from validate() (a bad value). Accepted configs
// must give a finite learning rate in [0, lr] at every step and survive a to_json/from_json round
// trip with the same run id.
Verdict check_train_config_input(const uint8_t* data, size_t size, const std::string& dir);

// Loss table (scaling/csv.h): the bytes are written to `dir`/results.csv and read as `moescale
// fit` does: Table::read, drop_unfinished, apply_where with a filter built from the first row,
// then every column's numbers() (plain and positive), distinct() and where(). The verdict is
// Table::read's or apply_where's rejection; every rejection must be a one-line moe::InputError,
// naming the file unless it is apply_where's for a filter it cannot split (numbers() of a text
// column is checked so, but is not the verdict). Accepted tables must have as many cells in
// every row as the header, keep exactly the "done" rows, and read back cell for cell when
// written out again with every field quoted.
Verdict check_csv_input(const uint8_t* data, size_t size, const std::string& dir);

}  // namespace moe::fuzz
