#include <algorithm>
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "data/tokenizer.h"
#include "tests/data/sample_text.h"

#ifdef MOESCALE_HAVE_SENTENCEPIECE
#include <sentencepiece_processor.h>
#endif

using Catch::Contains;

namespace {

// Whitespace runs, tabs, CRLF, blank lines, characters never seen in training (emoji, CJK).
const std::string kTricky =
    "  Indented line\twith a tab\r\nand   three spaces, trailing space \n\n\n"
    "\xf0\x9f\x99\x82 emoji, \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e, na\xc3\xafve caf\xc3\xa9 1913\n"
    "last line without newline";

std::vector<std::string> lines_of(const std::vector<std::string>& docs) {
  std::vector<std::string> lines;
  for (const auto& d : docs) {
    size_t pos = 0;
    while (pos < d.size()) {
      size_t end = d.find('\n', pos);
      if (end == std::string::npos) end = d.size();
      if (end > pos) lines.push_back(d.substr(pos, end - pos));
      pos = end + 1;
    }
  }
  return lines;
}

std::string train_small_bpe(int64_t vocab, uint64_t seed = 1) {
  static const std::vector<std::string> lines = lines_of(moe::testing::sample_documents(300));
  std::vector<std::string_view> views(lines.begin(), lines.end());
  moe::data::BpeTrainOptions o;
  o.vocab_size = vocab;
  o.seed = seed;
  return moe::data::train_bpe(views, o);
}

}  // namespace

TEST_CASE("the byte tokenizer round-trips text and has vocabulary 257", "[data][tokenizer]") {
  const auto tok = moe::data::make_byte_tokenizer();
  CHECK(tok->vocab_size() == 257);
  CHECK(tok->eot_id() == 256);
  std::vector<uint32_t> ids;
  tok->encode("A\xc3\xa9\n", &ids);
  CHECK(ids == std::vector<uint32_t>{65, 0xC3, 0xA9, 10});
  ids.clear();
  tok->encode(kTricky, &ids);
  CHECK(ids.size() == kTricky.size());
  CHECK(tok->decode(ids) == kTricky);
  CHECK(tok->decode({72, 256, 105}) == "Hi");  // end-of-text decodes to nothing
}

TEST_CASE("BPE round-trips text -> tokens -> text, unseen characters included",
          "[data][tokenizer]") {
  if (!moe::data::bpe_available()) {
    WARN("built without SentencePiece: BPE not tested");
    return;
  }
  const auto tok = moe::data::load_bpe(train_small_bpe(400), "test");
  CHECK(tok->name() == "bpe");
  CHECK(tok->vocab_size() == 400);
  CHECK(tok->eot_id() == 2);

  std::vector<uint32_t> ids;
  tok->encode(kTricky, &ids);
  CHECK(tok->decode(ids) == kTricky);
  for (uint32_t id : ids) CHECK(id < 400);
  CHECK(std::find(ids.begin(), ids.end(), 0u) == ids.end());  // no <unk>: byte fallback

  // Newline is the byte piece <0x0A>: 3 special ids, then bytes 0x00.. from id 3.
  ids.clear();
  tok->encode("a\nb", &ids);
  REQUIRE(ids.size() == 3);
  CHECK(ids[1] == 3 + 0x0A);

  // Merges compress: ~140 merges already take the text to ~1.9 bytes per token (bytes: 1.0).
  const auto docs = moe::testing::sample_documents(20, 99);
  size_t bytes = 0;
  ids.clear();
  for (const auto& d : docs) {
    bytes += d.size();
    const size_t before = ids.size();
    tok->encode(d, &ids);
    CHECK(tok->decode({ids.begin() + before, ids.end()}) == d);
  }
  CHECK(static_cast<double>(bytes) / ids.size() > 1.6);
}

#ifdef MOESCALE_HAVE_SENTENCEPIECE
TEST_CASE("word-by-word encoding gives SentencePiece's tokens for the whole line",
          "[data][tokenizer]") {
  const std::string model = train_small_bpe(500);
  const auto tok = moe::data::load_bpe(model, "test");
  sentencepiece::SentencePieceProcessor sp;
  REQUIRE(sp.LoadFromSerializedProto(model).ok());
  auto lines = lines_of(moe::testing::sample_documents(50, 7));
  lines.push_back("  two  spaces   three    four\tand a tab, then   trailing   ");
  lines.push_back(std::string(300, 'x') + " " + std::string(100, ' ') + "long words");
  for (const auto& line : lines) {
    std::vector<int> expected;
    REQUIRE(sp.Encode(line, &expected).ok());
    std::vector<uint32_t> ours;
    tok->encode(line, &ours);
    INFO(line);
    CHECK(ours == std::vector<uint32_t>(expected.begin(), expected.end()));
  }
}

TEST_CASE("a tokenizer never reads the word cache of an earlier one", "[data][tokenizer]") {
  const std::string text = "the kernel schedules a task when its timer expires";
  const std::string small = train_small_bpe(320), large = train_small_bpe(600);
  auto first = moe::data::load_bpe(small, "small");
  const void* first_address = first.get();
  std::vector<uint32_t> first_ids;
  first->encode(text, &first_ids);
  first.reset();
  // glibc's allocator hands the freed block to the next object of the same size, so the second
  // tokenizer lives where the first one did (sanitizer allocators quarantine it instead).
  const auto second = moe::data::load_bpe(large, "large");
  if (static_cast<const void*>(second.get()) != first_address) {
    WARN("the second tokenizer got a new address: this run does not exercise address reuse");
  }
  std::vector<uint32_t> ours;
  second->encode(text, &ours);
  sentencepiece::SentencePieceProcessor sp;
  REQUIRE(sp.LoadFromSerializedProto(large).ok());
  std::vector<int> expected;
  REQUIRE(sp.Encode(text, &expected).ok());
  CHECK(ours == std::vector<uint32_t>(expected.begin(), expected.end()));
  CHECK(ours != first_ids);
}
#endif

TEST_CASE("BPE training is deterministic and rejects vocabulary sizes that cannot work",
          "[data][tokenizer]") {
  if (!moe::data::bpe_available()) {
    WARN("built without SentencePiece: BPE not tested");
    return;
  }
  CHECK(train_small_bpe(400, 3) == train_small_bpe(400, 3));
  CHECK_THROWS_WITH(train_small_bpe(100),
                    Contains("--vocab-size 100 is too small") && Contains("259"));
  // 259 fixed pieces + about 70 distinct characters do not fit in 280.
  CHECK_THROWS_WITH(train_small_bpe(280),
                    Contains("--vocab-size 280 is too small for BPE on these inputs"));
  CHECK_THROWS_WITH(train_small_bpe(60000), Contains("--vocab-size 60000 is too large"));
}
