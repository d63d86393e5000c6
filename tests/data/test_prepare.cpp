#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "common/errors.h"
#include "common/hashing.h"
#include "common/io.h"
#include "data/prepare.h"
#include "data/shards.h"
#include "data/tokenizer.h"
#include "tests/data/sample_text.h"
#include "tests/temp_dir.h"

using Catch::Contains;
using moe::testing::TempDir;
namespace fs = std::filesystem;

namespace {

// The documents of a shard: its tokens cut at end-of-text, each piece decoded.
std::vector<std::string> shard_documents(const std::string& path, const moe::data::Tokenizer& tok) {
  moe::TokenShard shard(path);
  std::vector<int64_t> all(shard.size());
  shard.copy(0, shard.size(), all.data());
  std::vector<std::string> docs;
  if (all.empty()) return docs;
  REQUIRE(all[0] == tok.eot_id());  // every document is preceded by end-of-text
  std::vector<uint32_t> current;
  for (size_t i = 1; i <= all.size(); ++i) {
    if (i == all.size() || all[i] == tok.eot_id()) {
      docs.push_back(tok.decode(current));
      current.clear();
    } else {
      current.push_back(static_cast<uint32_t>(all[i]));
    }
  }
  return docs;
}

moe::data::DataOptions byte_options(const TempDir& dir, const std::string& out) {
  moe::data::DataOptions o;
  o.inputs = {dir / "a.txt", dir / "b.txt"};
  o.out_dir = dir / out;
  o.tokenizer = "byte";
  o.val_fraction = 0.1;
  o.seed = 7;
  o.threads = 2;
  return o;
}

// 240 documents in two files.
std::vector<std::string> write_corpus(const TempDir& dir) {
  const auto docs = moe::testing::sample_documents(240, 5);
  dir.write("a.txt", moe::testing::join_documents({docs.begin(), docs.begin() + 150}));
  dir.write("b.txt", moe::testing::join_documents({docs.begin() + 150, docs.end()}));
  return docs;
}

}  // namespace

TEST_CASE("the split holds out whole documents: val and train partition the input documents",
          "[data][prepare]") {
  TempDir dir;
  const auto docs = write_corpus(dir);
  const auto summary = moe::data::prepare_data(byte_options(dir, "out"), true);
  CHECK_FALSE(summary.up_to_date);
  const auto tok = moe::data::make_byte_tokenizer();
  const auto train = shard_documents(dir / "out/train.bin", *tok);
  const auto val = shard_documents(dir / "out/val.bin", *tok);

  std::multiset<std::string> all(docs.begin(), docs.end()), got(train.begin(), train.end());
  got.insert(val.begin(), val.end());
  CHECK(got == all);  // every document exactly once, whole, in one split or the other
  for (const auto& v : val) CHECK(std::find(train.begin(), train.end(), v) == train.end());
  // Binomial(240, 0.1): mean 24, standard deviation 4.6.
  CHECK(val.size() >= 8);
  CHECK(val.size() <= 40);
  // Training documents keep the input order.
  std::vector<std::string> expected_train;
  for (const auto& d : docs) {
    if (std::find(val.begin(), val.end(), d) == val.end()) expected_train.push_back(d);
  }
  CHECK(train == expected_train);
  // Validation documents are shuffled: b.txt's (documents 150..239) do not all come after
  // a.txt's, so a prefix of val.bin samples both inputs.
  std::vector<int> source;
  for (const auto& v : val) {
    source.push_back(std::find(docs.begin(), docs.end(), v) - docs.begin() >= 150);
  }
  CHECK_FALSE(std::is_sorted(source.begin(), source.end()));
  CHECK(std::count(source.begin(), source.end(), 1) > 0);

  const nlohmann::json& meta = summary.meta;
  CHECK(meta == moe::read_json(dir / "out/meta.json"));
  CHECK(meta["vocab_size"] == 257);
  CHECK(meta["eot_id"] == 256);
  CHECK(meta["shard_version"] == 1);
  CHECK(meta["train"]["documents"] == train.size());
  CHECK(meta["val"]["documents"] == val.size());
  size_t text = 0;
  for (const auto& d : docs) text += d.size();
  // Byte tokens: one per byte plus one end-of-text per document.
  CHECK(meta["train"]["tokens"].get<size_t>() + meta["val"]["tokens"].get<size_t>() ==
        text + docs.size());
  REQUIRE(meta["inputs"].size() == 2);
  CHECK(meta["inputs"][0]["sha256"] == moe::sha256_hex(moe::read_file(dir / "a.txt")));
  CHECK(meta["inputs"][0]["documents"] == 150);
  CHECK(meta["inputs"][1]["documents"] == 90);
  CHECK_FALSE(fs::exists(dir / "out/tokenizer.model"));
}

TEST_CASE("the same seed gives the same shards; another seed another split", "[data][prepare]") {
  TempDir dir;
  write_corpus(dir);
  auto o = byte_options(dir, "one");
  moe::data::prepare_data(o, true);
  o.out_dir = dir / "two";
  o.threads = 1;  // the thread count does not change the output
  moe::data::prepare_data(o, true);
  CHECK(moe::read_file(dir / "one/train.bin") == moe::read_file(dir / "two/train.bin"));
  CHECK(moe::read_file(dir / "one/val.bin") == moe::read_file(dir / "two/val.bin"));
  o.out_dir = dir / "three";
  o.seed = 8;
  moe::data::prepare_data(o, true);
  CHECK(moe::read_file(dir / "one/val.bin") != moe::read_file(dir / "three/val.bin"));
}

TEST_CASE("a second run with the same inputs and settings does nothing", "[data][prepare]") {
  TempDir dir;
  write_corpus(dir);
  auto o = byte_options(dir, "out");
  moe::data::prepare_data(o, true);
  const auto stamp = fs::last_write_time(dir / "out/train.bin");
  CHECK(moe::data::prepare_data(o, true).up_to_date);
  CHECK(fs::last_write_time(dir / "out/train.bin") == stamp);

  o.val_fraction = 0.2;  // another setting
  CHECK_FALSE(moe::data::prepare_data(o, true).up_to_date);
  CHECK(moe::data::prepare_data(o, true).up_to_date);
  dir.write("b.txt", "changed content\n\f\nand a second document\n");  // another input
  CHECK_FALSE(moe::data::prepare_data(o, true).up_to_date);
  fs::remove(dir / "out/val.bin");  // a damaged output directory
  CHECK_FALSE(moe::data::prepare_data(o, true).up_to_date);
  CHECK(fs::exists(dir / "out/val.bin"));
}

TEST_CASE("bad input fails before touching the outputs of an earlier run", "[data][prepare]") {
  TempDir dir;
  write_corpus(dir);
  auto o = byte_options(dir, "out");
  moe::data::prepare_data(o, true);
  const std::string meta = moe::read_file(dir / "out/meta.json");
  dir.write("bad.txt", "ok line\nlatin-1 caf\xe9\n");
  o.inputs.push_back(dir / "bad.txt");
  CHECK_THROWS_WITH(moe::data::prepare_data(o, true),
                    Contains(dir / "bad.txt") && Contains("not UTF-8") && Contains("line 2"));
  CHECK(moe::read_file(dir / "out/meta.json") == meta);

  o.inputs = {dir / "a.txt", dir / "missing.txt"};
  CHECK_THROWS_AS(moe::data::prepare_data(o, true), moe::InputError);
  o.inputs = {dir / "a.txt"};
  o.val_fraction = 0.7;
  CHECK_THROWS_WITH(moe::data::prepare_data(o, true), Contains("--val-fraction 0.7"));
}

TEST_CASE("the BPE pipeline: shards decode to the input documents with tokenizer.model",
          "[data][prepare]") {
  if (!moe::data::bpe_available()) {
    WARN("built without SentencePiece: BPE not tested");
    return;
  }
  TempDir dir;
  const auto docs = write_corpus(dir);
  auto o = byte_options(dir, "out");
  o.tokenizer = "bpe";
  o.vocab_size = 512;
  const auto summary = moe::data::prepare_data(o, true);
  const auto tok = moe::data::load_bpe(moe::read_file(dir / "out/tokenizer.model"), "model");
  CHECK(tok->vocab_size() == 512);
  CHECK(summary.meta["eot_id"] == 2);
  auto train = shard_documents(dir / "out/train.bin", *tok);
  const auto val = shard_documents(dir / "out/val.bin", *tok);
  std::multiset<std::string> all(docs.begin(), docs.end()), got(train.begin(), train.end());
  got.insert(val.begin(), val.end());
  CHECK(got == all);
  moe::TokenDataset data({dir / "out/train.bin", dir / "out/val.bin"});
  CHECK_NOTHROW(data.check_vocab(512));
  CHECK(data.n_tokens() == summary.meta["train"]["tokens"].get<int64_t>() +
                               summary.meta["val"]["tokens"].get<int64_t>());
  CHECK(summary.meta["bytes_per_token"].get<double>() > 2.0);
}
