#include "data/prepare.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <exception>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "common/errors.h"
#include "common/hashing.h"
#include "common/io.h"
#include "common/parallel.h"
#include "data/shards.h"
#include "data/tokenizer.h"

namespace moe::data {
namespace fs = std::filesystem;

namespace {

constexpr int kMetaFormat = 1;
// Documents are encoded in batches of about this much text, a few batches per thread at a
// time, so that memory stays bounded and the output keeps the input order.
constexpr size_t kBatchBytes = 2 << 20;
constexpr size_t kMaxSentenceBytes = 16384;  // longer lines are left out of the BPE sample

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

struct Input {
  std::unique_ptr<TextFile> file;
  std::string sha256;
  std::vector<std::string_view> docs;
  std::vector<bool> val;
};

// Documents bound for one shard, in the order they are written.
struct Stream {
  const std::vector<std::string_view>* docs;
  ShardWriter* writer;
  size_t text_bytes = 0;  // filled in: bytes of text encoded
};

// Encodes every stream's documents, each preceded by end-of-text, on `threads` worker threads
// that live for the whole run (BPE's word cache is per thread and stays warm), while this
// thread appends the finished batches to their shards in order. Workers stay at most a few
// batches ahead of the writer, so memory is bounded by the batch size, not the corpus.
void encode_streams(std::vector<Stream>& streams, const Tokenizer& tokenizer, int threads) {
  struct Batch {
    Stream* stream;
    size_t begin, end;  // documents [begin, end) of the stream
    std::vector<uint32_t> tokens;
  };
  std::vector<Batch> batches;
  for (Stream& s : streams) {
    const auto& docs = *s.docs;
    for (size_t b = 0; b < docs.size();) {
      size_t e = b, bytes = 0;
      while (e < docs.size() && (e == b || bytes + docs[e].size() <= kBatchBytes)) {
        bytes += docs[e++].size();
      }
      batches.push_back({&s, b, e, {}});
      s.text_bytes += bytes;
      b = e;
    }
  }
  const size_t n_threads = static_cast<size_t>(std::max(1, threads));
  const size_t ahead = 4 * n_threads;
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<char> done(batches.size(), 0);
  size_t written = 0;
  std::exception_ptr error;
  auto fail = [&](std::exception_ptr e) {
    std::lock_guard<std::mutex> lock(mutex);
    if (!error) error = e;
    cv.notify_all();
  };
  auto worker = [&](size_t t) {
    try {
      for (size_t i = t; i < batches.size(); i += n_threads) {
        {
          std::unique_lock<std::mutex> lock(mutex);
          cv.wait(lock, [&] { return i < written + ahead || error; });
          if (error) return;
        }
        Batch& batch = batches[i];
        for (size_t d = batch.begin; d < batch.end; ++d) {
          batch.tokens.push_back(tokenizer.eot_id());
          tokenizer.encode((*batch.stream->docs)[d], &batch.tokens);
        }
        std::lock_guard<std::mutex> lock(mutex);
        done[i] = 1;
        cv.notify_all();
      }
    } catch (...) {
      fail(std::current_exception());
    }
  };
  std::vector<std::thread> pool;
  for (size_t t = 0; t < n_threads; ++t) pool.emplace_back(worker, t);
  try {
    for (size_t i = 0; i < batches.size(); ++i) {
      {
        std::unique_lock<std::mutex> lock(mutex);
        cv.wait(lock, [&] { return done[i] || error; });
        if (error) break;
      }
      batches[i].stream->writer->append(batches[i].tokens.data(), batches[i].tokens.size());
      batches[i].tokens = {};
      std::lock_guard<std::mutex> lock(mutex);
      ++written;
      cv.notify_all();
    }
  } catch (...) {
    fail(std::current_exception());
  }
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

nlohmann::json settings_json(const DataOptions& o) {
  nlohmann::json s = {{"tokenizer", o.tokenizer},
                      {"val_fraction", o.val_fraction},
                      {"seed", o.seed},
                      {"doc_separator", doc_separator_name(o.separator)}};
  if (o.tokenizer == "bpe") {
    s["vocab_size"] = o.vocab_size;
    s["sample_mb"] = o.sample_mb;
  } else {
    s["vocab_size"] = kByteVocab;
  }
  return s;
}

nlohmann::json content_key(const nlohmann::json& inputs) {
  nlohmann::json key = nlohmann::json::array();
  for (const auto& in : inputs) key.push_back({in.at("bytes"), in.at("sha256")});
  return key;
}

// The meta.json of an earlier run when it matches these inputs and settings and its shards are
// intact; null otherwise.
nlohmann::json previous_run(const fs::path& out, const nlohmann::json& settings,
                            const nlohmann::json& inputs) {
  std::error_code ec;
  if (!fs::exists(out / "meta.json", ec)) return nullptr;
  try {
    nlohmann::json meta = read_json((out / "meta.json").string());
    if (meta.value("format", 0) != kMetaFormat || meta.at("settings") != settings ||
        content_key(meta.at("inputs")) != content_key(inputs)) {
      return nullptr;
    }
    for (const char* split : {"train", "val"}) {
      const auto& s = meta.at(split);
      const auto header = read_shard_header((out / s.at("file").get<std::string>()).string());
      if (header.n_tokens != s.at("tokens").get<int64_t>()) return nullptr;
    }
    if (settings.at("tokenizer") == "bpe" && !fs::exists(out / "tokenizer.model", ec)) {
      return nullptr;
    }
    return meta;
  } catch (const std::exception&) {
    return nullptr;  // anything unreadable or inconsistent: make everything again
  }
}

// Creates OUT and clears what an earlier or interrupted run left: our temporaries, meta.json
// (the mark of a finished run), and a tokenizer.model that a byte run would not replace.
// Called only once the inputs have passed every check, so bad input never costs old outputs.
void prepare_out_dir(const fs::path& out, bool keep_model) {
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec || !fs::is_directory(out)) {
    throw InputError(out.string() + ": cannot create the output directory (" +
                     (ec ? ec.message() : std::string("not a directory")) + ")");
  }
  for (const auto& entry : fs::directory_iterator(out, ec)) {
    const std::string name = entry.path().filename().string();
    for (const char* ours :
         {".train.bin.tmp.", ".val.bin.tmp.", ".tokenizer.model.tmp.", ".meta.json.tmp."}) {
      if (name.rfind(ours, 0) == 0) fs::remove(entry.path(), ec);
    }
  }
  fs::remove(out / "meta.json", ec);
  if (!keep_model) fs::remove(out / "tokenizer.model", ec);
}

// A seeded sample of lines from the training documents, about `budget` bytes in all.
std::vector<std::string_view> bpe_sample(const std::vector<Input>& inputs, double budget,
                                         uint64_t seed, size_t* sample_bytes) {
  size_t train_bytes = 0;
  for (const auto& in : inputs) {
    for (size_t d = 0; d < in.docs.size(); ++d) train_bytes += in.val[d] ? 0 : in.docs[d].size();
  }
  const double p = std::min(1.0, budget / std::max<double>(1, static_cast<double>(train_bytes)));
  const uint64_t threshold = p >= 1.0 ? UINT64_MAX : static_cast<uint64_t>(std::ldexp(p, 64));
  std::vector<std::string_view> lines;
  *sample_bytes = 0;
  for (size_t f = 0; f < inputs.size(); ++f) {
    const auto& in = inputs[f];
    const char* base = in.file->text().data();
    for (size_t d = 0; d < in.docs.size(); ++d) {
      if (in.val[d]) continue;
      std::string_view doc = in.docs[d];
      size_t pos = 0;
      while (pos < doc.size()) {
        size_t end = doc.find('\n', pos);
        if (end == std::string_view::npos) end = doc.size();
        const std::string_view line = doc.substr(pos, end - pos);
        const uint64_t offset = static_cast<uint64_t>(line.data() - base);
        const uint64_t coin = mix64(mix64(seed ^ 0x5851F42D4C957F2Dull) ^ (f << 48) ^ offset);
        if (!line.empty() && line.size() <= kMaxSentenceBytes && coin <= threshold) {
          lines.push_back(line);
          *sample_bytes += line.size();
        }
        pos = end + 1;
      }
    }
  }
  return lines;
}

std::string mb(double bytes) { return fmt::format("{:.1f} MB", bytes / 1e6); }

}  // namespace

void validate(const DataOptions& o) {
  if (o.inputs.empty()) {
    throw std::invalid_argument("--input is required: text files or directories");
  }
  if (o.out_dir.empty()) throw std::invalid_argument("--out is required: the output directory");
  if (o.tokenizer != "bpe" && o.tokenizer != "byte") {
    throw std::invalid_argument("--tokenizer " + o.tokenizer + " must be bpe or byte");
  }
  if (o.tokenizer == "bpe" && o.vocab_size < kBpeMinVocab) {
    throw std::invalid_argument("--vocab-size " + std::to_string(o.vocab_size) +
                                " is too small for BPE: its 3 special and 256 byte pieces "
                                "alone take 259 ids; use --vocab-size >= 512, or --tokenizer byte");
  }
  if (o.tokenizer == "bpe" && o.vocab_size > (int64_t{1} << 31)) {
    throw std::invalid_argument("--vocab-size " + std::to_string(o.vocab_size) +
                                " is too large (at most 2^31)");
  }
  if (o.tokenizer == "bpe" && !bpe_available()) {
    throw std::invalid_argument(
        "--tokenizer bpe: this build has no SentencePiece; reconfigure with "
        "-DMOESCALE_WITH_SENTENCEPIECE=ON, or use --tokenizer byte");
  }
  if (!(o.val_fraction >= 0 && o.val_fraction <= 0.5)) {
    throw std::invalid_argument(
        fmt::format("--val-fraction {} must be in [0, 0.5]", o.val_fraction));
  }
  if (!(o.sample_mb > 0)) {
    throw std::invalid_argument(fmt::format("--sample-mb {} must be > 0", o.sample_mb));
  }
  if (o.threads < 0) throw std::invalid_argument("--threads must be >= 0 (0: every core)");
}

using Say = std::function<void(const std::string&)>;

// Inputs mapped and hashed; their entries of meta.json.
std::vector<Input> read_inputs(const std::vector<std::string>& paths, int threads,
                               nlohmann::json& inputs_json, size_t& total_bytes) {
  std::vector<Input> inputs(paths.size());
  for (size_t i = 0; i < paths.size(); ++i) inputs[i].file = std::make_unique<TextFile>(paths[i]);
  parallel_for(inputs.size(), threads,
               [&](size_t i) { inputs[i].sha256 = sha256_hex(inputs[i].file->text()); });
  inputs_json = nlohmann::json::array();
  total_bytes = 0;
  for (const auto& in : inputs) {
    inputs_json.push_back({{"path", fs::absolute(in.file->path()).lexically_normal().string()},
                           {"bytes", in.file->text().size()},
                           {"sha256", in.sha256}});
    total_bytes += in.file->text().size();
  }
  return inputs;
}

struct Split {
  std::vector<std::string_view> train_docs, val_docs;
};

// Documents, and which are held out for validation (by seeded hash, whole documents).
Split split_inputs(std::vector<Input>& inputs, const DataOptions& options,
                   const std::string& what) {
  std::vector<uint64_t> hashes;
  for (auto& in : inputs) {
    in.docs = split_documents(in.file->text(), options.separator);
    if (in.docs.empty()) throw InputError(in.file->path() + ": holds only whitespace");
    for (auto d : in.docs) hashes.push_back(document_hash(d, options.seed));
  }
  const std::vector<bool> val = assign_validation(hashes, options.val_fraction, what);
  // Training documents keep the input order (the sampler shuffles windows). Validation
  // documents are ordered by their hash, a seeded shuffle, so that any prefix of val.bin (the
  // trainer evaluates on its first windows) samples every input, not just the first.
  Split out;
  auto& train_docs = out.train_docs;
  auto& val_docs = out.val_docs;
  std::vector<std::pair<uint64_t, std::string_view>> val_order;
  for (size_t f = 0, k = 0; f < inputs.size(); ++f) {
    for (auto d : inputs[f].docs) {
      inputs[f].val.push_back(val[k]);
      if (val[k]) {
        val_order.emplace_back(hashes[k], d);
      } else {
        train_docs.push_back(d);
      }
      ++k;
    }
  }
  std::sort(val_order.begin(), val_order.end());
  for (const auto& [hash, d] : val_order) val_docs.push_back(d);
  return out;
}

struct TokenizerStep {
  std::unique_ptr<Tokenizer> tokenizer;
  size_t sample_bytes = 0;
  double seconds = 0;
};

// Trains the BPE tokenizer on a sample (or takes the byte tokenizer) and prepares OUT for it.
TokenizerStep make_tokenizer(const DataOptions& options, const std::vector<Input>& inputs,
                             const fs::path& out, int threads, const Say& say) {
  const auto t_tok = Clock::now();
  TokenizerStep step;
  auto& tokenizer = step.tokenizer;
  size_t& sample_bytes = step.sample_bytes;
  if (options.tokenizer == "bpe") {
    const auto sample = bpe_sample(inputs, options.sample_mb * 1e6, options.seed, &sample_bytes);
    BpeTrainOptions bpe;
    bpe.vocab_size = options.vocab_size;
    bpe.seed = options.seed;
    bpe.threads = threads;
    bpe.verbose = options.verbose;
    const std::string model = train_bpe(sample, bpe);
    tokenizer = load_bpe(model, (out / "tokenizer.model").string());
    prepare_out_dir(out, /*keep_model=*/true);
    write_file_atomic((out / "tokenizer.model").string(), model);
    say(fmt::format("  tokenizer  bpe, vocab {}, trained on {} lines ({}) in {:.1f} s",
                    tokenizer->vocab_size(), sample.size(), mb(static_cast<double>(sample_bytes)),
                    seconds_since(t_tok)));
  } else {
    tokenizer = make_byte_tokenizer();
    prepare_out_dir(out, /*keep_model=*/false);
    say(fmt::format("  tokenizer  byte, vocab {} (256 bytes + end-of-text {})",
                    tokenizer->vocab_size(), tokenizer->eot_id()));
  }
  step.seconds = seconds_since(t_tok);
  return step;
}

DataSummary prepare_data(const DataOptions& options, bool quiet) {
  validate(options);
  const auto t_start = Clock::now();
  const Say say = [quiet](const std::string& line) {
    if (!quiet) fmt::print("{}\n", line);
    std::fflush(stdout);
  };
  const int threads = options.threads > 0
                          ? options.threads
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));

  // 1. Inputs: map, hash.
  const std::vector<std::string> paths = resolve_inputs(options.inputs);
  nlohmann::json inputs_json;
  size_t total_bytes = 0;
  std::vector<Input> inputs = read_inputs(paths, threads, inputs_json, total_bytes);

  // 2. Up to date?
  const fs::path out(options.out_dir);
  const nlohmann::json settings = settings_json(options);
  if (!options.force) {
    nlohmann::json meta = previous_run(out, settings, inputs_json);
    if (!meta.is_null()) {
      say(
          fmt::format("moescale data: {} is up to date (same inputs by SHA-256, same settings: "
                      "{} train + {} val tokens); nothing to do",
                      options.out_dir, meta["train"]["tokens"].get<int64_t>(),
                      meta["val"]["tokens"].get<int64_t>()));
      return {true, meta};
    }
  }

  // 3. Documents and the split.
  parallel_for(inputs.size(), threads,
               [&](size_t i) { check_utf8(inputs[i].file->path(), inputs[i].file->text()); });
  const std::string what = paths.size() == 1 ? paths[0] : std::to_string(paths.size()) + " inputs";
  const Split split = split_inputs(inputs, options, what);
  const auto& train_docs = split.train_docs;
  const auto& val_docs = split.val_docs;
  const size_t n_docs = train_docs.size() + val_docs.size(), n_val = val_docs.size();
  say(fmt::format("moescale data: {} input{}, {}, {} documents ({} held out for validation)",
                  inputs.size(), inputs.size() == 1 ? "" : "s",
                  mb(static_cast<double>(total_bytes)), n_docs, n_val));

  // 4. Tokenizer.
  const TokenizerStep tok = make_tokenizer(options, inputs, out, threads, say);
  const Tokenizer* tokenizer = tok.tokenizer.get();
  const size_t sample_bytes = tok.sample_bytes;
  const double tokenizer_seconds = tok.seconds;

  // 5. Encode, streaming into the two shards.
  const auto t_enc = Clock::now();
  const int32_t version = shard_version_for_vocab(tokenizer->vocab_size());
  ShardWriter train_writer((out / "train.bin").string(), version);
  ShardWriter val_writer((out / "val.bin").string(), version);
  std::vector<Stream> streams = {{&train_docs, &train_writer}, {&val_docs, &val_writer}};
  encode_streams(streams, *tokenizer, threads);
  const size_t train_text = streams[0].text_bytes, val_text = streams[1].text_bytes;
  const int64_t train_tokens = train_writer.n_tokens(), val_tokens = val_writer.n_tokens();
  train_writer.finish();
  val_writer.finish();
  const double encode_seconds = seconds_since(t_enc);
  const double text_bytes = static_cast<double>(train_text + val_text);
  say(fmt::format("  train.bin  {:>12} tokens  {:>7} documents", train_tokens, train_docs.size()));
  say(fmt::format("  val.bin    {:>12} tokens  {:>7} documents", val_tokens, n_val));

  // 6. meta.json, last.
  for (size_t i = 0; i < inputs.size(); ++i) {
    size_t v = 0;
    for (bool b : inputs[i].val) v += b;
    inputs_json[i]["documents"] = inputs[i].docs.size();
    inputs_json[i]["val_documents"] = v;
  }
  nlohmann::json meta = {
      {"format", kMetaFormat},
      {"tokenizer", tokenizer->name()},
      {"vocab_size", tokenizer->vocab_size()},
      {"eot_id", tokenizer->eot_id()},
      {"shard_version", version},
      {"settings", settings},
      {"inputs", inputs_json},
      {"train",
       {{"file", "train.bin"},
        {"tokens", train_tokens},
        {"documents", train_docs.size()},
        {"text_bytes", train_text}}},
      {"val",
       {{"file", "val.bin"},
        {"tokens", val_tokens},
        {"documents", n_val},
        {"text_bytes", val_text}}},
      {"bytes_per_token",
       text_bytes / std::max<double>(1, static_cast<double>(train_tokens + val_tokens))},
      {"tokenizer_model",
       options.tokenizer == "bpe" ? nlohmann::json("tokenizer.model") : nlohmann::json(nullptr)},
      {"bpe_sample_bytes", sample_bytes},
      {"threads", threads},
      {"seconds",
       {{"tokenizer", tokenizer_seconds},
        {"encode", encode_seconds},
        {"total", seconds_since(t_start)}}},
  };
  write_json_atomic((out / "meta.json").string(), meta);
  say(
      fmt::format("  {:.2f} bytes/token; encoded {} in {:.1f} s ({:.1f} MB/s, {} threads); "
                  "total {:.1f} s -> {}",
                  meta["bytes_per_token"].get<double>(), mb(text_bytes), encode_seconds,
                  text_bytes / 1e6 / std::max(1e-9, encode_seconds), threads,
                  seconds_since(t_start), options.out_dir));
  return {false, meta};
}

}  // namespace moe::data
