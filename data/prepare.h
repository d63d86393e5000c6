// The `moescale data` pipeline: text files -> tokenizer -> train/val token shards.
//
//   1. Resolve the inputs (corpus.h), map them, hash them (SHA-256) and check they are UTF-8.
//   2. If OUT/meta.json records the same inputs (by content) and settings, and the shards it
//      lists are intact, stop: the outputs are up to date.
//   3. Split every input into documents and assign whole documents to val by seeded hash.
//   4. bpe: train SentencePiece on a seeded sample of lines (about sample_mb MB) from the
//      training documents only, and write OUT/tokenizer.model. byte: nothing to train.
//   5. Encode the documents on `threads` threads, in input order, each preceded by
//      end-of-text, streaming into OUT/train.bin and OUT/val.bin (data/shards.h: uint16 tokens
//      when the vocabulary fits, else uint32).
//   6. Write OUT/meta.json (vocabulary, token and document counts, inputs with sizes and
//      SHA-256, settings, timings).
// Every file is written to a temporary name and renamed; meta.json is removed first and written
// last, so an interrupted run leaves a directory without meta.json: never one that looks done.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/corpus.h"

namespace moe::data {

struct DataOptions {
  std::vector<std::string> inputs;
  std::string out_dir;
  std::string tokenizer = "bpe";  // "bpe" or "byte"
  int64_t vocab_size = 8192;      // bpe only
  double val_fraction = 0.02;     // of documents, in [0, 0.5]
  uint64_t seed = 1337;           // the split, the BPE sample and SentencePiece
  DocSeparator separator = DocSeparator::kFormFeed;
  double sample_mb = 12;  // text sampled to train BPE
  int threads = 0;        // 0: every core
  bool force = false;     // redo even when up to date
  bool verbose = false;
};

// Throws std::invalid_argument naming the flag for a bad value.
void validate(const DataOptions& options);

struct DataSummary {
  bool up_to_date = false;  // nothing was done
  nlohmann::json meta;      // the contents of OUT/meta.json
};

// Runs the pipeline above; prints progress to stdout unless quiet. Throws moe::InputError for
// bad inputs, std::invalid_argument for bad options.
DataSummary prepare_data(const DataOptions& options, bool quiet = false);

}  // namespace moe::data
