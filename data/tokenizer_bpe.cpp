// The SentencePiece half of tokenizer.h, compiled only with -DMOESCALE_WITH_SENTENCEPIECE=ON.
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <atomic>
#include <regex>
#include <stdexcept>
#include <unordered_map>

#include "common/errors.h"
#include "data/tokenizer.h"

// Exported by libsentencepiece (0.1.97) but missing from its public headers: silences the
// trainer's progress log, which would bury the program's own summary.
namespace sentencepiece::logging {
void SetMinLogLevel(int level);
}

namespace moe::data {
namespace {

// Lines are cut into words just before a space that follows a non-space: SentencePiece starts a
// new word there (pieces never cross it: a piece is "▁abc", "abc" or whitespace only), so
// encoding word by word gives exactly the tokens of encoding the whole line, and a word seen
// before costs one hash lookup instead of a BPE run. One cache per thread (no locks), tagged
// with the tokenizer instance it belongs to, cleared when it grows large.
constexpr size_t kMaxCachedWords = 1 << 20;
constexpr size_t kMaxCachedWordBytes = 64;

struct WordCache {
  uint64_t owner = 0;  // BpeTokenizer::instance_; 0: none
  std::unordered_map<std::string, std::vector<uint32_t>> ids;
};

std::atomic<uint64_t> next_instance{1};

class Sentences final : public sentencepiece::SentenceIterator {
 public:
  explicit Sentences(const std::vector<std::string_view>& s) : s_(s) { load(); }
  bool done() const override { return i_ >= s_.size(); }
  void Next() override {
    ++i_;
    load();
  }
  const std::string& value() const override { return current_; }
  sentencepiece::util::Status status() const override { return {}; }

 private:
  void load() {
    if (i_ < s_.size()) current_.assign(s_[i_]);
  }
  const std::vector<std::string_view>& s_;
  size_t i_ = 0;
  std::string current_;
};

class BpeTokenizer final : public Tokenizer {
 public:
  BpeTokenizer(const std::string& model_proto, const std::string& what) {
    const auto status = sp_.LoadFromSerializedProto(model_proto);
    if (!status.ok()) {
      throw InputError(what + ": not a SentencePiece model (" + status.ToString() + ")");
    }
    newline_id_ = sp_.PieceToId("<0x0A>");
    if (newline_id_ == sp_.unk_id() || sp_.eos_id() < 0) {
      throw InputError(what +
                       ": a SentencePiece model without byte fallback or </s>; "
                       "re-create it with 'moescale data'");
    }
  }
  std::string name() const override { return "bpe"; }
  int64_t vocab_size() const override { return sp_.GetPieceSize(); }
  uint32_t eot_id() const override { return static_cast<uint32_t>(sp_.eos_id()); }

  void encode(std::string_view text, std::vector<uint32_t>* out) const override {
    thread_local WordCache cache;
    if (cache.owner != instance_ || cache.ids.size() > kMaxCachedWords) {
      cache.ids.clear();
      cache.owner = instance_;
    }
    std::vector<int> ids;
    std::string key;
    size_t pos = 0;
    while (pos <= text.size()) {
      size_t end = text.find('\n', pos);
      if (end == std::string_view::npos) end = text.size();
      for (size_t w = pos; w < end;) {
        size_t next = w + 1;
        while (next < end && !(text[next] == ' ' && text[next - 1] != ' ')) ++next;
        const std::string_view word = text.substr(w, next - w);
        if (word.size() > kMaxCachedWordBytes) {
          sp_.Encode(word, &ids);
          out->insert(out->end(), ids.begin(), ids.end());
        } else {
          key.assign(word);
          auto it = cache.ids.find(key);
          if (it == cache.ids.end()) {
            sp_.Encode(word, &ids);
            it = cache.ids.emplace(key, std::vector<uint32_t>(ids.begin(), ids.end())).first;
          }
          out->insert(out->end(), it->second.begin(), it->second.end());
        }
        w = next;
      }
      if (end < text.size()) out->push_back(static_cast<uint32_t>(newline_id_));
      pos = end + 1;
    }
  }

  std::string decode(const std::vector<uint32_t>& ids) const override {
    std::vector<int> v(ids.begin(), ids.end());
    std::string text;
    sp_.Decode(v, &text);
    return text;
  }

 private:
  sentencepiece::SentencePieceProcessor sp_;
  int newline_id_ = -1;
  // Never reused, unlike an address: a cache filled for a destroyed tokenizer is never read.
  const uint64_t instance_ = next_instance++;
};

}  // namespace

bool bpe_available() { return true; }

std::string train_bpe(const std::vector<std::string_view>& sentences,
                      const BpeTrainOptions& options) {
  if (options.vocab_size < kBpeMinVocab) {
    throw std::invalid_argument("--vocab-size " + std::to_string(options.vocab_size) +
                                " is too small for BPE: its 3 special and 256 byte pieces "
                                "alone take 259 ids; use --vocab-size >= 512, or --tokenizer "
                                "byte");
  }
  if (sentences.empty()) throw InputError("no text to train the BPE tokenizer on");
  sentencepiece::logging::SetMinLogLevel(options.verbose ? 0 : 2);
  sentencepiece::SetRandomGeneratorSeed(static_cast<unsigned>(options.seed));
  const std::unordered_map<std::string, std::string> args = {
      {"model_type", "bpe"},
      {"vocab_size", std::to_string(options.vocab_size)},
      {"byte_fallback", "true"},
      {"character_coverage", "0.9995"},
      {"normalization_rule_name", "identity"},
      {"remove_extra_whitespaces", "false"},
      {"add_dummy_prefix", "false"},
      {"allow_whitespace_only_pieces", "true"},
      {"split_digits", "true"},
      {"max_sentence_length", "16384"},
      {"input_sentence_size", "0"},  // the caller already sampled
      {"num_threads", std::to_string(std::max(1, options.threads))},
      {"unk_id", "0"},
      {"bos_id", "1"},
      {"eos_id", "2"},
      {"pad_id", "-1"},
  };
  Sentences it(sentences);
  std::string model;
  const auto status = sentencepiece::SentencePieceTrainer::Train(args, &it, &model);
  if (status.ok()) return model;
  const std::string msg = status.ToString();
  std::smatch m;
  if (std::regex_search(msg, m, std::regex(R"(required_chars\. \d+ vs (\d+))"))) {
    throw std::invalid_argument("--vocab-size " + std::to_string(options.vocab_size) +
                                " is too small for BPE on these inputs: SentencePiece needs " +
                                m[1].str() +
                                " (259 fixed pieces + the characters of the text)"
                                "; use a larger --vocab-size or --tokenizer byte");
  }
  if (std::regex_search(msg, m, std::regex(R"(set it to a value <= (\d+))"))) {
    throw std::invalid_argument("--vocab-size " + std::to_string(options.vocab_size) +
                                " is too large for BPE on this much text (at most " + m[1].str() +
                                " pieces can be learned); use a smaller one or "
                                "more --sample-mb");
  }
  throw std::runtime_error("SentencePiece training failed: " + msg);
}

std::unique_ptr<Tokenizer> load_bpe(const std::string& model_proto, const std::string& what) {
  return std::make_unique<BpeTokenizer>(model_proto, what);
}

}  // namespace moe::data
