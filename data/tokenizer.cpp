#include "data/tokenizer.h"

#include <stdexcept>

namespace moe::data {
namespace {

class ByteTokenizer final : public Tokenizer {
 public:
  std::string name() const override { return "byte"; }
  int64_t vocab_size() const override { return kByteVocab; }
  uint32_t eot_id() const override { return kByteEot; }
  void encode(std::string_view text, std::vector<uint32_t>* out) const override {
    out->insert(out->end(), reinterpret_cast<const unsigned char*>(text.data()),
                reinterpret_cast<const unsigned char*>(text.data()) + text.size());
  }
  std::string decode(const std::vector<uint32_t>& ids) const override {
    std::string text;
    text.reserve(ids.size());
    for (uint32_t id : ids) {
      if (id < 256) text.push_back(static_cast<char>(id));
    }
    return text;
  }
};

}  // namespace

std::unique_ptr<Tokenizer> make_byte_tokenizer() { return std::make_unique<ByteTokenizer>(); }

#ifndef MOESCALE_HAVE_SENTENCEPIECE
bool bpe_available() { return false; }

namespace {
[[noreturn]] void no_sentencepiece() {
  throw std::invalid_argument(
      "--tokenizer bpe: this build has no SentencePiece; reconfigure with "
      "-DMOESCALE_WITH_SENTENCEPIECE=ON, or use --tokenizer byte");
}
}  // namespace

std::string train_bpe(const std::vector<std::string_view>&, const BpeTrainOptions&) {
  no_sentencepiece();
}
std::unique_ptr<Tokenizer> load_bpe(const std::string&, const std::string&) { no_sentencepiece(); }
#endif

}  // namespace moe::data
