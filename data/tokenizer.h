// The tokenizers of `moescale data`: raw bytes, or a SentencePiece BPE model trained on the
// corpus. Only the program moescale-data links this (SentencePiece and LibTorch cannot share a
// process: toolchain notes, trap 2); the trainer reads the token shards it writes.
//
// byte  ids 0..255 are the bytes of the UTF-8 text, 256 is end-of-text: vocabulary 257.
// bpe   a SentencePiece BPE model (tokenizer.model) with identity normalisation (the text is
//       kept byte for byte: no NFKC, whitespace runs kept), no dummy prefix, digits split, and
//       byte fallback (a character outside the vocabulary becomes its UTF-8 bytes, so <unk>
//       never occurs and any UTF-8 text round-trips). Ids: 0 <unk>, 1 <s> (unused), 2 </s> =
//       end-of-text, 3..258 the byte pieces <0x00>..<0xFF>, then the learned merges. Lines are
//       encoded one at a time and joined by the byte piece <0x0A>, so the model's own decoder
//       restores newlines. Text holding U+2581 (SentencePiece's space symbol) decodes with a
//       space in its place; nothing else changes in a round trip.
//
// In token shards every document is preceded by end-of-text, as in llm.c's GPT-2 shards.
// Decoding drops end-of-text.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace moe::data {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  virtual std::string name() const = 0;  // "byte" or "bpe"
  virtual int64_t vocab_size() const = 0;
  virtual uint32_t eot_id() const = 0;
  // Appends the tokens of one document (without end-of-text) to out. Thread-safe.
  virtual void encode(std::string_view text, std::vector<uint32_t>* out) const = 0;
  virtual std::string decode(const std::vector<uint32_t>& ids) const = 0;
};

constexpr int64_t kByteVocab = 257;
constexpr uint32_t kByteEot = 256;
std::unique_ptr<Tokenizer> make_byte_tokenizer();

// Whether this build has SentencePiece (-DMOESCALE_WITH_SENTENCEPIECE=ON).
bool bpe_available();

// SentencePiece's fixed ids: 3 special pieces and 256 byte pieces come before any merge.
constexpr int64_t kBpeMinVocab = 3 + 256 + 1;

struct BpeTrainOptions {
  int64_t vocab_size = 8192;
  uint64_t seed = 1337;
  int threads = 1;
  bool verbose = false;  // SentencePiece's own log on stderr
};

// Trains a BPE model on `sentences` (lines of text, no newlines; SentencePiece skips lines
// over 16384 bytes) and returns the serialized model (the bytes of tokenizer.model). Throws
// std::invalid_argument naming --vocab-size when it is too small or too large for the text
// (SentencePiece's limits: 259 fixed pieces plus the characters that cover 99.95% of the text,
// and at most the number of distinct merges available), and std::invalid_argument when this
// build has no SentencePiece.
std::string train_bpe(const std::vector<std::string_view>& sentences,
                      const BpeTrainOptions& options);

// Loads a serialized BPE model; throws moe::InputError naming `what` when it is not one.
std::unique_ptr<Tokenizer> load_bpe(const std::string& model_proto, const std::string& what);

}  // namespace moe::data
