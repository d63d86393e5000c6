// moescale data: text -> tokenizer -> train/val token shards; or --check existing shards.
#include <fmt/format.h>

#include <iostream>

#include "data/prepare.h"
#include "data/shards.h"
#include "data/tokenizer.h"
#include "experiments/cli/cli.h"

namespace {

namespace po = boost::program_options;

// --check: validates shards made elsewhere (llm.c, modded-nanogpt) or here, and prints them.
int check_shards(const po::variables_map& vm) {
  const auto spec = vm["check"].as<std::string>();
  const moe::TokenDataset data(moe::resolve_shards(spec, ""));
  uint32_t top = 0;
  for (const auto& s : data.shards()) {
    const uint32_t m = s->max_token();
    top = std::max(top, m);
    fmt::print("{}  version {} ({}), {} tokens, largest id {}\n", s->path(), s->header().version,
               s->header().bytes_per_token() == 2 ? "uint16" : "uint32", s->size(), m);
  }
  if (!vm["vocab-size"].defaulted()) data.check_vocab(vm["vocab-size"].as<int64_t>());
  fmt::print("{} shard{}, {} tokens; a model needs --vocab >= {}\n", data.shards().size(),
             data.shards().size() == 1 ? "" : "s", data.n_tokens(), int64_t{top} + 1);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return moe::cli::run_main("data", [&] {
    moe::data::DataOptions o;
    std::string separator = "formfeed";
    po::options_description d("moescale data");
    d.add_options()("input", po::value(&o.inputs)->multitoken(),
                    "UTF-8 text files or directories of them")(
        "out", po::value(&o.out_dir),
        "output directory: train.bin, val.bin, tokenizer.model, "
        "meta.json")("tokenizer", po::value(&o.tokenizer)->default_value(o.tokenizer),
                     "bpe (SentencePiece, trained here) or byte (vocabulary 257)")(
        "vocab-size", po::value(&o.vocab_size)->default_value(o.vocab_size),
        "BPE vocabulary, special and byte pieces included (> 65536 gives uint32 shards)")(
        "val-fraction", po::value(&o.val_fraction)->default_value(o.val_fraction, "0.02"),
        "fraction of documents held out in val.bin, whole documents chosen by seeded hash")(
        "seed", po::value(&o.seed)->default_value(o.seed),
        "seed of the split and of the BPE training sample")(
        "doc-separator", po::value(&separator)->default_value(separator),
        "formfeed: documents end at a form feed (a file without one is one document); "
        "blank-line: every paragraph is a document")(
        "sample-mb", po::value(&o.sample_mb)->default_value(o.sample_mb, "12"),
        "MB of training text (whole lines, seeded) that BPE is trained on")(
        "threads", po::value(&o.threads)->default_value(0), "encoding threads; 0: every core")(
        "force", po::bool_switch(&o.force), "redo everything even when OUT is up to date")(
        "verbose", po::bool_switch(&o.verbose), "show SentencePiece's training log")(
        "check", po::value<std::string>(),
        "instead: validate shards (a file, a directory or a glob) and print their sizes; with "
        "--vocab-size, also that every id is below it");
    po::variables_map vm;
    if (!moe::cli::parse(
            argc, argv,
            "moescale data --input PATH... --out DIR [--tokenizer bpe|byte] [--vocab-size V]\n"
            "       moescale data --check SHARDS [--vocab-size V]",
            "Tokenizes text into llm.c-format token shards: DIR/train.bin and DIR/val.bin (val "
            "holds whole\ndocuments), DIR/tokenizer.model (bpe) and DIR/meta.json (vocabulary, "
            "token counts, inputs and\ntheir SHA-256). Runs again only when the inputs or the "
            "settings change.\nDefault corpus: scripts/prepare_corpus.py DIR, then --input DIR.",
            d, vm)) {
      return 0;
    }
    if (vm.count("check")) return check_shards(vm);
    moe::cli::require(vm, "input", "the text to tokenize (files or directories)");
    moe::cli::require(vm, "out", "the directory for the shards");
    o.separator = moe::data::parse_doc_separator(separator);
    if (o.tokenizer == "byte" && !vm["vocab-size"].defaulted() &&
        o.vocab_size != moe::data::kByteVocab) {
      throw std::invalid_argument(
          "--vocab-size applies to --tokenizer bpe; the byte tokenizer's "
          "vocabulary is 257 (256 bytes + end-of-text)");
    }
    moe::data::prepare_data(o);
    return 0;
  });
}
