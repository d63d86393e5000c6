// bench_data: throughput of the data layer. One measurement per process, so that the peak
// resident set (VmHWM) it prints belongs to that measurement alone. bench/bench_data.sh runs
// them all and prints the table recorded in bench/RESULTS.md.
//
//   bench_data tokenize (--model tokenizer.model | --byte) --threads N FILE...
//       encode every document of the files (form-feed separated), nothing written: MB/s
//   bench_data compare-bpe --model tokenizer.model FILE...        (built with SentencePiece)
//       one thread, one pass over every line: SentencePiece's Encode per line against the
//       word-by-word cached encoder of tokenizer.h (same tokens, checked), MB/s each
//   bench_data make-shard PATH --gb G --vocab V
//       write a shard of random ids below V (uint16 when V <= 65536) of G GB: MB/s
//   bench_data read PATH --mode vocab|windows|mmap-all [--context T] [--batch B] [--windows N]
//       vocab:    TokenDataset::check_vocab, the trainer's one-pass check
//       windows:  WindowSampler::next_batch, N random windows of T+1 tokens in batches of B
//       mmap-all: every token read through the mapping, pages kept (a reference: what the
//                 resident set becomes when a reader keeps what it maps)
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#ifdef MOESCALE_HAVE_SENTENCEPIECE
#include <sentencepiece_processor.h>
#endif

#include "common/io.h"
#include "data/corpus.h"
#include "data/shards.h"
#include "data/tokenizer.h"

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// A field of /proc/self/status in MB (VmHWM: peak resident set; VmRSS: current).
double status_mb(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::string key = std::string(field) + ":";
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0) return std::atof(line.c_str() + key.size()) / 1024.0;
  }
  return -1;
}

std::string flag(int argc, char** argv, const std::string& name, const std::string& fallback) {
  for (int i = 0; i + 1 < argc; ++i) {
    if (argv[i] == "--" + name) return argv[i + 1];
  }
  return fallback;
}

bool has(int argc, char** argv, const std::string& name) {
  for (int i = 0; i < argc; ++i) {
    if (argv[i] == "--" + name) return true;
  }
  return false;
}

int tokenize(int argc, char** argv) {
  const int threads = std::stoi(flag(argc, argv, "threads", "1"));
  std::vector<std::string> files;
  for (int i = 2; i < argc; ++i) {
    if (std::strncmp(argv[i], "--", 2) == 0) {
      i += std::strcmp(argv[i], "--byte") != 0;  // skip the flag's value
      continue;
    }
    files.push_back(argv[i]);
  }
  std::unique_ptr<moe::data::Tokenizer> tok =
      has(argc, argv, "byte")
          ? moe::data::make_byte_tokenizer()
          : moe::data::load_bpe(moe::read_file(flag(argc, argv, "model", "")), "model");
  std::vector<std::unique_ptr<moe::data::TextFile>> texts;
  std::vector<std::string_view> docs;
  size_t bytes = 0;
  for (const auto& f : files) {
    texts.push_back(std::make_unique<moe::data::TextFile>(f));
    for (auto d :
         moe::data::split_documents(texts.back()->text(), moe::data::DocSeparator::kFormFeed)) {
      docs.push_back(d);
      bytes += d.size();
    }
  }
  std::vector<size_t> tokens(threads, 0);
  const auto t0 = Clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      std::vector<uint32_t> out;
      for (size_t d = t; d < docs.size(); d += threads) {
        out.clear();
        tok->encode(docs[d], &out);
        tokens[t] += out.size() + 1;
      }
    });
  }
  for (auto& th : pool) th.join();
  const double s = seconds_since(t0);
  size_t total = 0;
  for (size_t n : tokens) total += n;
  fmt::print(
      "tokenize {} threads={}: {:.1f} MB in {:.2f} s = {:.2f} MB/s, {} tokens ({:.2f} "
      "bytes/token), peak RSS {:.0f} MB\n",
      tok->name(), threads, bytes / 1e6, s, bytes / 1e6 / s, total,
      static_cast<double>(bytes) / total, status_mb("VmHWM"));
  return 0;
}

#ifdef MOESCALE_HAVE_SENTENCEPIECE
int compare_bpe(int argc, char** argv) {
  const std::string model = moe::read_file(flag(argc, argv, "model", ""));
  sentencepiece::SentencePieceProcessor sp;
  if (!sp.LoadFromSerializedProto(model).ok()) throw std::runtime_error("not a model");
  const auto tok = moe::data::load_bpe(model, "model");
  std::vector<std::string> texts;
  std::vector<std::string_view> lines;
  size_t bytes = 0;
  for (int i = 2; i < argc; ++i) {
    if (std::strncmp(argv[i], "--", 2) == 0) {
      ++i;
      continue;
    }
    texts.push_back(moe::read_file(argv[i]));
  }
  for (const auto& t : texts) {
    for (size_t pos = 0, end; pos < t.size(); pos = end + 1) {
      end = t.find('\n', pos);
      if (end == std::string::npos) end = t.size();
      lines.emplace_back(t.data() + pos, end - pos);
      bytes += end - pos + 1;
    }
  }
  auto t0 = Clock::now();
  size_t n_sp = 0;
  std::vector<int> ids;
  uint64_t hash_sp = 0, hash_ours = 0;  // a fold over the ids, to check they are the same
  for (auto line : lines) {
    sp.Encode(line, &ids);
    n_sp += ids.size();
    for (int id : ids) hash_sp = (hash_sp ^ static_cast<uint64_t>(id)) * 0x100000001B3ull;
  }
  const double s_sp = seconds_since(t0);
  t0 = Clock::now();
  size_t n_ours = 0;
  std::vector<uint32_t> ours;
  for (auto line : lines) {
    ours.clear();
    tok->encode(line, &ours);
    n_ours += ours.size();
    for (uint32_t id : ours) hash_ours = (hash_ours ^ id) * 0x100000001B3ull;
  }
  const double s_ours = seconds_since(t0);
  fmt::print(
      "compare-bpe {} lines, {:.1f} MB: SentencePiece per line {:.2f} MB/s ({} tokens); "
      "word cache, one pass {:.2f} MB/s ({} tokens): {:.1f}x; same ids: {}\n",
      lines.size(), bytes / 1e6, bytes / 1e6 / s_sp, n_sp, bytes / 1e6 / s_ours, n_ours,
      s_sp / s_ours, hash_sp == hash_ours ? "yes" : "NO");
  return hash_sp == hash_ours ? 0 : 1;
}
#endif

int make_shard(int argc, char** argv) {
  const std::string path = argv[2];
  const double gb = std::stod(flag(argc, argv, "gb", "1"));
  const uint32_t vocab = static_cast<uint32_t>(std::stoul(flag(argc, argv, "vocab", "8192")));
  const int32_t version = moe::shard_version_for_vocab(vocab);
  const int64_t n = static_cast<int64_t>(gb * 1e9) / (version == 1 ? 2 : 4);
  moe::ShardWriter w(path, version);
  std::vector<uint32_t> chunk(1 << 20);
  uint64_t state = 0x243F6A8885A308D3ull;
  const auto t0 = Clock::now();
  for (int64_t done = 0; done < n;) {
    const size_t k = static_cast<size_t>(std::min<int64_t>(chunk.size(), n - done));
    for (size_t i = 0; i < k; ++i) {
      state ^= state << 13;
      state ^= state >> 7;
      state ^= state << 17;
      chunk[i] = static_cast<uint32_t>(state % vocab);
    }
    w.append(chunk.data(), k);
    done += static_cast<int64_t>(k);
  }
  w.finish();
  const double s = seconds_since(t0);
  fmt::print("make-shard {}: {} tokens (version {}), {:.2f} GB in {:.1f} s = {:.0f} MB/s\n", path,
             n, version, (1024 + n * (version == 1 ? 2 : 4)) / 1e9, s,
             n * (version == 1 ? 2 : 4) / 1e6 / s);
  return 0;
}

int read(int argc, char** argv) {
  const std::string path = argv[2];
  const std::string mode = flag(argc, argv, "mode", "windows");
  const int64_t T = std::stoll(flag(argc, argv, "context", "1024"));
  const int64_t B = std::stoll(flag(argc, argv, "batch", "16"));
  const int64_t n_windows = std::stoll(flag(argc, argv, "windows", "200000"));
  const moe::TokenDataset data({path});
  const double mapped_mb = status_mb("VmHWM");
  const auto t0 = Clock::now();
  int64_t tokens = 0;
  if (mode == "vocab") {
    data.check_vocab(65536);
    tokens = data.n_tokens();
  } else if (mode == "windows") {
    moe::WindowSampler sampler(data, T, 1234);
    std::vector<int64_t> batch(B * (T + 1));
    for (int64_t w = 0; w < n_windows; w += B) {
      sampler.next_batch(B, batch.data());
      tokens += B * (T + 1);
    }
  } else if (mode == "mmap-all") {
    const moe::TokenShard& s = *data.shards()[0];
    uint64_t sum = 0;
    for (int64_t i = 0; i < s.size(); ++i) sum += s[i];
    volatile uint64_t sink = sum;  // keeps the reads
    (void)sink;
    tokens = s.size();
  } else {
    throw std::invalid_argument("--mode " + mode + " must be vocab, windows or mmap-all");
  }
  const double s = seconds_since(t0);
  fmt::print(
      "read {} ({:.2f} GB): {} tokens in {:.2f} s = {:.0f} M tokens/s; peak RSS {:.0f} MB "
      "(after mapping: {:.0f} MB)\n",
      mode, std::filesystem::file_size(path) / 1e9, tokens, s, tokens / 1e6 / s, status_mb("VmHWM"),
      mapped_mb);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string cmd = argc > 1 ? argv[1] : "";
    if (cmd == "tokenize") return tokenize(argc, argv);
#ifdef MOESCALE_HAVE_SENTENCEPIECE
    if (cmd == "compare-bpe") return compare_bpe(argc, argv);
#endif
    if (cmd == "make-shard" && argc > 2) return make_shard(argc, argv);
    if (cmd == "read" && argc > 2) return read(argc, argv);
    std::fprintf(
        stderr,
        "usage: bench_data tokenize|compare-bpe|make-shard PATH|read PATH ... (see source)\n");
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_data: error: %s\n", e.what());
    return 1;
  }
}
