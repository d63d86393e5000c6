#include "tests/fuzz/fuzz_inputs.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "common/errors.h"
#include "common/io.h"
#include "data/shards.h"
#include "experiments/grid.h"
#include "moe/train_config.h"
#include "scaling/csv.h"

namespace moe::fuzz {

std::string to_string(Verdict::Kind kind) {
  switch (kind) {
    case Verdict::kAccepted:
      return "accepted";
    case Verdict::kInputError:
      return "moe::InputError";
    case Verdict::kInvalidArgument:
      return "std::invalid_argument";
  }
  return "?";
}

namespace {

void require(bool ok, const std::string& what) {
  if (!ok) throw FuzzDefect(what);
}

bool one_line(const std::string& s) { return !s.empty() && s.find('\n') == std::string::npos; }

template <typename T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

void write_bytes(const std::string& path, const uint8_t* p, size_t n) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(p), static_cast<std::streamsize>(n));
  out.close();
  if (!out) throw std::runtime_error("fuzz harness: cannot write " + path);
}

// ---- shards ---------------------------------------------------------------------------------

// What a shard file holds, decoded independently of data/shards.cpp from the layout in shards.h.
struct ReferenceShard {
  std::string path;
  bool valid = false;
  std::vector<uint32_t> tokens;
};

ReferenceShard decode(const std::string& path, const uint8_t* p, size_t n) {
  ReferenceShard s;
  s.path = path;
  if (n < 1024) return s;
  const int32_t magic = load<int32_t>(p), version = load<int32_t>(p + 4);
  const int32_t count = load<int32_t>(p + 8);
  const bool layout_ok =
      (magic == 20240520 && (version == 1 || version == 7)) || (magic == 20240801 && version == 7);
  if (!layout_ok || count < 0) return s;
  const size_t bpt = version == 7 ? 4 : 2;
  if (n != 1024 + static_cast<size_t>(count) * bpt) return s;
  s.valid = true;
  s.tokens.resize(static_cast<size_t>(count));
  for (size_t i = 0; i < s.tokens.size(); ++i) {
    s.tokens[i] = bpt == 4 ? load<uint32_t>(p + 1024 + 4 * i) : load<uint16_t>(p + 1024 + 2 * i);
  }
  return s;
}

// Checks a rejection from the shard reader: an InputError whose one-line message names `path`.
void require_names(const InputError& e, const std::string& path, const char* stage) {
  const std::string m = e.what();
  require(one_line(m), std::string(stage) + ": message is not one line: " + m);
  require(m.find(path) != std::string::npos,
          std::string(stage) + ": message does not name " + path + ": " + m);
}

int64_t windows_in(const ReferenceShard& s, int64_t context) {
  const auto n = static_cast<int64_t>(s.tokens.size());
  return n < 1 ? 0 : (n - 1) / context;
}

// Checks one window of context + 1 tokens against the reference shard it claims to come from.
void require_window(const int64_t* row, const ReferenceShard& s, int64_t offset, int64_t context,
                    const char* stage) {
  for (int64_t t = 0; t <= context; ++t) {
    require(row[t] == static_cast<int64_t>(s.tokens[static_cast<size_t>(offset + t)]),
            std::string(stage) + ": window at " + std::to_string(offset) + " of " + s.path +
                " differs from the file at token " + std::to_string(offset + t));
  }
}

void record(Verdict& v, Verdict::Kind kind, const std::string& message) {
  if (v.kind == Verdict::kAccepted) v = Verdict{kind, message};
}

}  // namespace

Verdict check_shard_input(const uint8_t* data, size_t size, const std::string& dir) {
  uint8_t params[kShardParamBytes] = {};
  std::memcpy(params, data, std::min(size, kShardParamBytes));
  const auto context = load<int64_t>(params);
  const auto vocab = load<int64_t>(params + 8);
  const auto seed = load<uint64_t>(params + 16);
  const auto position = load<uint64_t>(params + 24);
  const int64_t rank = static_cast<int8_t>(params[32]);
  const int64_t world = static_cast<int8_t>(params[33]);
  const int64_t batch = params[34];
  const int64_t n_sequential = params[35];
  const uint8_t flags = params[36];
  const uint8_t* body = data + std::min(size, kShardParamBytes);
  const size_t body_size = size - std::min(size, kShardParamBytes);
  const size_t split =
      std::min<size_t>(body_size, params[37] | (params[38] << 8) | (params[39] << 16));

  std::vector<ReferenceShard> files;
  const std::string a = dir + "/a.bin", b = dir + "/b.bin";
  if (flags & 1) {
    write_bytes(a, body, split);
    write_bytes(b, body + split, body_size - split);
    files.push_back(decode(a, body, split));
    files.push_back(decode(b, body + split, body_size - split));
  } else {
    write_bytes(a, body, body_size);
    files.push_back(decode(a, body, body_size));
  }
  std::vector<const ReferenceShard*> list = {&files[0]};
  if (flags & 2) list.push_back(&files[0]);
  if (flags & 1) list.push_back(&files[1]);

  for (const auto& f : files) {
    try {
      const ShardHeader h = read_shard_header(f.path);
      require(f.valid, "read_shard_header accepted an invalid shard " + f.path);
      require(h.n_tokens == static_cast<int64_t>(f.tokens.size()),
              "read_shard_header: wrong token count for " + f.path);
    } catch (const InputError& e) {
      require(!f.valid, "read_shard_header rejected a valid shard: " + std::string(e.what()));
      require_names(e, f.path, "read_shard_header");
    }
  }

  Verdict verdict;
  std::vector<std::string> paths;
  for (const auto* f : list) paths.push_back(f->path);
  std::unique_ptr<TokenDataset> dataset;
  const auto first_bad =
      std::find_if(list.begin(), list.end(), [](const ReferenceShard* f) { return !f->valid; });
  try {
    dataset = std::make_unique<TokenDataset>(paths);
    require(first_bad == list.end(), "TokenDataset accepted an invalid shard");
  } catch (const InputError& e) {
    require(first_bad != list.end(),
            "TokenDataset rejected valid shards: " + std::string(e.what()));
    require_names(e, (*first_bad)->path, "TokenDataset");
    return Verdict{Verdict::kInputError, e.what()};
  }
  for (size_t i = 0; i < list.size(); ++i) {
    const TokenShard& s = *dataset->shards()[i];
    require(s.size() == static_cast<int64_t>(list[i]->tokens.size()), "TokenShard: wrong size");
    for (size_t t = 0; t < list[i]->tokens.size(); ++t) {
      require(s[static_cast<int64_t>(t)] == list[i]->tokens[t], "TokenShard: wrong token");
    }
  }

  // The vocabulary check: the first shard holding an id >= vocab is named, with its largest id
  // and the position of its first offending id.
  try {
    dataset->check_vocab(vocab);
    require(vocab >= 1, "check_vocab accepted vocabulary size " + std::to_string(vocab));
    for (const auto* f : list) {
      for (uint32_t t : f->tokens) {
        require(static_cast<int64_t>(t) < vocab, "check_vocab passed " + f->path + " holding id " +
                                                     std::to_string(t) +
                                                     " >= " + std::to_string(vocab));
      }
    }
  } catch (const std::invalid_argument& e) {
    require(vocab < 1, "check_vocab: std::invalid_argument for vocabulary size " +
                           std::to_string(vocab) + ": " + e.what());
    require(one_line(e.what()), "check_vocab: message is not one line");
    record(verdict, Verdict::kInvalidArgument, e.what());
  } catch (const InputError& e) {
    require(vocab >= 1, "check_vocab: InputError for vocabulary size " + std::to_string(vocab));
    const auto culprit = std::find_if(list.begin(), list.end(), [&](const ReferenceShard* f) {
      return std::any_of(f->tokens.begin(), f->tokens.end(),
                         [&](uint32_t t) { return static_cast<int64_t>(t) >= vocab; });
    });
    require(culprit != list.end(),
            "check_vocab rejected in-range shards: " + std::string(e.what()));
    const auto& tokens = (*culprit)->tokens;
    const auto first = std::find_if(tokens.begin(), tokens.end(),
                                    [&](uint32_t t) { return static_cast<int64_t>(t) >= vocab; });
    const uint32_t top = *std::max_element(tokens.begin(), tokens.end());
    const std::string m = e.what();
    require_names(e, (*culprit)->path, "check_vocab");
    require(m.find("token id " + std::to_string(top) + " ") != std::string::npos,
            "check_vocab does not give the largest id " + std::to_string(top) + ": " + m);
    require(
        m.find("at position " + std::to_string(first - tokens.begin()) + ")") != std::string::npos,
        "check_vocab does not give the first offending position: " + m);
    record(verdict, Verdict::kInputError, m);
  }

  const bool bad_context = context < 1;
  const bool bad_rank = world < 1 || rank < 0 || rank >= world;
  int64_t expected_windows = 0;
  std::vector<int64_t> first_window;
  for (const auto* f : list) {
    first_window.push_back(expected_windows);
    if (!bad_context) expected_windows += windows_in(*f, context);
  }

  try {
    WindowSampler sampler(*dataset, context, seed, rank, world);
    require(!bad_context && !bad_rank && expected_windows > 0,
            "WindowSampler accepted context " + std::to_string(context) + ", rank " +
                std::to_string(rank) + " / world " + std::to_string(world));
    require(sampler.windows_per_epoch() == expected_windows, "WindowSampler: wrong window count");
    // The first epoch (or its first 4096 windows) must be distinct windows inside the shards.
    const int64_t probe = std::min<int64_t>(expected_windows, 4096);
    std::vector<bool> seen(static_cast<size_t>(expected_windows), false);
    // Checks window_start(g) and returns (shard index in the list, start token).
    auto locate = [&](uint64_t g) {
      const auto [shard, offset] = sampler.window_start(g);
      require(shard >= 0 && shard < static_cast<int64_t>(list.size()),
              "window_start: shard index " + std::to_string(shard) + " out of range");
      const auto* f = list[static_cast<size_t>(shard)];
      require(offset >= 0 && offset % context == 0 && offset / context < windows_in(*f, context),
              "window_start: offset " + std::to_string(offset) + " is not a window of " + f->path);
      return std::make_pair(static_cast<size_t>(shard), offset);
    };
    for (int64_t g = 0; g < probe; ++g) {
      const auto [shard, offset] = locate(static_cast<uint64_t>(g));
      const auto w = static_cast<size_t>(first_window[shard] + offset / context);
      require(!seen[w],
              "window_start: window " + std::to_string(w) + " visited twice in one epoch");
      seen[w] = true;
    }

    const int64_t width = context + 1;
    std::vector<int64_t> out(static_cast<size_t>(batch * width), -1);
    const uint64_t before = sampler.position();
    sampler.next_batch(batch, out.data());
    require(sampler.position() == before + static_cast<uint64_t>(batch),
            "next_batch: the position did not advance by the batch");
    for (int64_t r = 0; r < batch; ++r) {
      const uint64_t g = (before + static_cast<uint64_t>(r)) * static_cast<uint64_t>(world) +
                         static_cast<uint64_t>(rank);
      const auto [shard, offset] = locate(g);
      require_window(out.data() + r * width, *list[shard], offset, context, "next_batch");
    }
    sampler.set_position(position);
    (void)sampler.epoch();
    std::vector<int64_t> last(static_cast<size_t>(width), -1);
    sampler.next_batch(1, last.data());
    const auto [shard, offset] =
        locate(position * static_cast<uint64_t>(world) + static_cast<uint64_t>(rank));
    require_window(last.data(), *list[shard], offset, context, "next_batch after set_position");
  } catch (const std::invalid_argument& e) {
    require(bad_context || bad_rank,
            "WindowSampler: std::invalid_argument for valid arguments: " + std::string(e.what()));
    require(one_line(e.what()), "WindowSampler: message is not one line");
    record(verdict, Verdict::kInvalidArgument, e.what());
  } catch (const InputError& e) {
    require(!bad_context && !bad_rank && expected_windows == 0,
            "WindowSampler: InputError although windows exist: " + std::string(e.what()));
    const std::string m = e.what();
    require(one_line(m), "WindowSampler: message is not one line");
    require(
        std::any_of(list.begin(), list.end(),
                    [&](const ReferenceShard* f) { return m.find(f->path) != std::string::npos; }),
        "WindowSampler: message names no shard: " + m);
    record(verdict, Verdict::kInputError, m);
  }

  try {
    const std::vector<int64_t> seq = sequential_windows(*dataset, context, n_sequential);
    require(!bad_context, "sequential_windows accepted context " + std::to_string(context));
    const int64_t n = std::min(n_sequential, expected_windows);
    // n > 0 only when a shard holds a window, so context < 2^31 and context + 1 fits.
    const int64_t width = n > 0 ? context + 1 : 0;
    require(static_cast<int64_t>(seq.size()) == n * width, "sequential_windows: wrong size");
    int64_t row = 0;
    for (const auto* f : list) {
      for (int64_t w = 0; w < windows_in(*f, context) && row < n; ++w, ++row) {
        require_window(seq.data() + row * width, *f, w * context, context, "sequential_windows");
      }
    }
  } catch (const std::invalid_argument& e) {
    require(bad_context, "sequential_windows: std::invalid_argument for context " +
                             std::to_string(context) + ": " + e.what());
    require(one_line(e.what()), "sequential_windows: message is not one line");
    record(verdict, Verdict::kInvalidArgument, e.what());
  }
  return verdict;
}

// ---- grids ----------------------------------------------------------------------------------

Verdict check_grid_input(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<experiments::RunSpec> runs;
  try {
    runs = experiments::expand(experiments::parse_grid(text, "fuzz.grid"));
  } catch (const InputError& e) {
    const std::string m = e.what();
    require(one_line(m), "grid: message is not one line: " + m);
    require(m.rfind("grid fuzz.grid", 0) == 0, "grid: message does not name the grid: " + m);
    return Verdict{Verdict::kInputError, m};
  }
  require(!runs.empty(), "grid: an accepted grid expanded into no runs");
  std::set<std::string> ids;
  for (auto& run : runs) {
    require(ids.insert(run.id).second, "grid: two runs share id " + run.id);
    require(run.id == run_id(run.config), "grid: a run's id is not run_id of its config");
    run.config.data = "shards";
    try {
      run.config.validate();
    } catch (const std::invalid_argument& e) {
      throw FuzzDefect("grid: expand produced an invalid config: " + std::string(e.what()));
    }
    require(!experiments::describe(run).empty(), "grid: empty run description");
  }
  return Verdict{};
}

// ---- train configs ----------------------------------------------------------------------------

Verdict check_train_config_input(const uint8_t* data, size_t size, const std::string& dir) {
  const std::string path = dir + "/config.json";
  write_bytes(path, data, size);
  TrainConfig c;
  try {
    c = read_train_config(path);
    if (c.data.empty()) c.data = "shards";
    c.validate();
  } catch (const InputError& e) {
    const std::string m = e.what();
    require(one_line(m), "train config: message is not one line: " + m);
    require(m.find(path) != std::string::npos,
            "train config: message does not name the file: " + m);
    return Verdict{Verdict::kInputError, m};
  } catch (const std::invalid_argument& e) {
    require(one_line(e.what()), "train config: message is not one line: " + std::string(e.what()));
    return Verdict{Verdict::kInvalidArgument, e.what()};
  }

  const int64_t steps = c.steps();
  const int64_t warmup = c.resolved_warmup();
  require(steps >= 1, "train config: a valid config has " + std::to_string(steps) + " steps");
  require(warmup >= 0, "train config: warmup resolves to " + std::to_string(warmup) + " steps");
  require(c.resolved_eval_every() >= 1, "train config: eval_every resolves to < 1");
  for (int64_t step : {int64_t{0}, std::min(warmup, steps - 1), steps / 2, steps - 1}) {
    const double lr = c.lr_at(step);
    require(std::isfinite(lr) && lr >= 0 && lr <= c.lr * (1 + 1e-12),
            "train config: lr_at(" + std::to_string(step) + ") = " + std::to_string(lr) +
                " outside [0, lr = " + std::to_string(c.lr) + "]");
  }

  // What the trainer writes into the run directory must read back as the same config.
  const nlohmann::json written = c;
  TrainConfig back;
  try {
    from_json(nlohmann::json::parse(written.dump(2)), back);
    back.validate();
  } catch (const std::exception& e) {
    throw FuzzDefect("train config: the written config does not read back: " +
                     std::string(e.what()));
  }
  require(nlohmann::json(back) == written, "train config: the written config reads back changed");
  require(run_id(back) == run_id(c), "train config: the run id changes on a round trip");
  return Verdict{};
}

// ---- loss tables ------------------------------------------------------------------------------

namespace {

// The table as CSV text with every field quoted: must parse back to the same cells.
std::string quoted_csv(const scaling::Table& t) {
  auto quote = [](const std::string& cell) {
    std::string q = "\"";
    for (char ch : cell) q += ch == '"' ? std::string("\"\"") : std::string(1, ch);
    return q + "\"";
  };
  std::string out;
  auto row = [&](const std::vector<std::string>& cells) {
    for (size_t c = 0; c < cells.size(); ++c) out += (c ? "," : "") + quote(cells[c]);
    out += "\n";
  };
  row(t.columns());
  for (size_t r = 0; r < t.n_rows(); ++r) {
    std::vector<std::string> cells;
    for (size_t c = 0; c < t.columns().size(); ++c) cells.push_back(t.cell(r, c));
    row(cells);
  }
  return out;
}

void require_csv_rejection(const InputError& e, const std::string& path, const char* stage) {
  const std::string m = e.what();
  require(one_line(m), std::string(stage) + ": message is not one line: " + m);
  require(m.find(path) != std::string::npos,
          std::string(stage) + ": message does not name " + path + ": " + m);
}

}  // namespace

Verdict check_csv_input(const uint8_t* data, size_t size, const std::string& dir) {
  const std::string path = dir + "/results.csv";
  write_bytes(path, data, size);
  scaling::Table raw;
  try {
    raw = scaling::Table::read(path);
  } catch (const InputError& e) {
    require_csv_rejection(e, path, "Table::read");
    return Verdict{Verdict::kInputError, e.what()};
  }
  const size_t n_columns = raw.columns().size();
  require(n_columns >= 1, "Table::read: a table without columns");
  for (size_t r = 0; r < raw.n_rows(); ++r) {
    require(r == 0 || raw.line(r) > raw.line(r - 1), "Table::read: rows out of line order");
    require(raw.line(r) >= 2, "Table::read: a data row on line 1");
  }
  try {
    const scaling::Table back = scaling::Table::parse(quoted_csv(raw), path);
    require(back.columns() == raw.columns() && back.n_rows() == raw.n_rows(),
            "Table: the quoted copy has another shape");
    for (size_t r = 0; r < raw.n_rows(); ++r) {
      for (size_t c = 0; c < n_columns; ++c) {
        require(back.cell(r, c) == raw.cell(r, c), "Table: the quoted copy changes a cell");
      }
    }
  } catch (const InputError& e) {
    throw FuzzDefect("Table: the quoted copy does not parse: " + std::string(e.what()));
  }

  Verdict verdict;
  std::string note;
  const scaling::Table done = scaling::drop_unfinished(raw, &note);
  if (raw.has_column("status")) {
    size_t n_done = 0;
    for (size_t r = 0; r < raw.n_rows(); ++r) n_done += raw.cell(r, "status") == "done";
    require(done.n_rows() == n_done, "drop_unfinished: wrong number of rows kept");
    require(note.empty() == (n_done == raw.n_rows()), "drop_unfinished: wrong note: " + note);
  } else {
    require(done.n_rows() == raw.n_rows() && note.empty(), "drop_unfinished without status");
  }
  if (done.n_rows() > 0) {
    // --where COL=VALUE with the first row's first cell: must keep at least that row.
    const std::string filter = done.columns()[0] + "=" + done.cell(0, size_t{0});
    try {
      const scaling::Table kept = scaling::apply_where(done, {filter});
      require(kept.n_rows() >= 1, "apply_where kept no row although the first matches");
    } catch (const InputError& e) {
      // split_assignment refuses a filter with an empty side or a column with '=' in its name.
      const std::string m = e.what();
      require(one_line(m), "apply_where: message is not one line: " + m);
      record(verdict, Verdict::kInputError, m);
    }
  }
  for (size_t c = 0; c < n_columns; ++c) {
    const std::string& column = done.columns()[c];
    for (bool positive : {false, true}) {
      try {
        const std::vector<double> v = done.numbers(column, positive);
        require(v.size() == done.n_rows(), "numbers: wrong count");
        for (double x : v) require(std::isfinite(x) && (!positive || x > 0), "numbers: bad value");
      } catch (const InputError& e) {
        // A text column is not numeric: checked, but not the table's verdict.
        require_csv_rejection(e, path, "numbers");
      }
    }
    require(done.distinct(column).size() <= done.n_rows(), "distinct: more values than rows");
    if (done.n_rows() > 0) {
      const scaling::Table kept = done.where(column, done.cell(0, c));
      require(kept.n_rows() >= 1, "where: the first row does not match its own value");
    }
  }
  return verdict;
}

}  // namespace moe::fuzz
