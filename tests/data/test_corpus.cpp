#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "common/errors.h"
#include "common/hashing.h"
#include "data/corpus.h"
#include "tests/temp_dir.h"

using Catch::Contains;
using moe::data::DocSeparator;
using moe::testing::TempDir;

TEST_CASE("sha256_hex matches the FIPS 180-4 test vectors", "[data]") {
  using moe::sha256_hex;
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  const std::string million(1000000, 'a');
  CHECK(sha256_hex(million) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("UTF-8 validation finds the first malformed byte", "[data]") {
  using moe::data::find_invalid_utf8;
  const auto npos = std::string_view::npos;
  CHECK(find_invalid_utf8("plain ASCII text, long enough for the 8-byte path") == npos);
  CHECK(find_invalid_utf8("caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x99\x82") == npos);
  CHECK(find_invalid_utf8("abc\xff") == 3);                  // never valid
  CHECK(find_invalid_utf8("ab\xc0\x80") == 2);               // overlong NUL
  CHECK(find_invalid_utf8("0123456789\xed\xa0\x80") == 10);  // surrogate U+D800
  CHECK(find_invalid_utf8("x\xf4\x90\x80\x80") == 1);        // above U+10FFFF
  CHECK(find_invalid_utf8("euro \xe2\x82") == 5);            // cut short at the end
  CHECK(find_invalid_utf8("\xe2\x28\xa1") == 0);             // bad continuation
  CHECK(find_invalid_utf8("latin-1 na\xefve") == 10);

  CHECK_THROWS_WITH(moe::data::check_utf8("in.txt", "first line\nna\xefve\n"),
                    Contains("in.txt: not UTF-8 text: byte 0xef at line 2, column 3"));
  CHECK_NOTHROW(moe::data::check_utf8("in.txt", "fine\n"));
}

TEST_CASE("documents split at form feeds or at blank lines, trimmed, empty ones dropped",
          "[data]") {
  using V = std::vector<std::string_view>;
  const std::string ff = "first doc\nline two\n\f\n\nsecond\n\f\n   \n\f\nthird\n";
  CHECK(moe::data::split_documents(ff, DocSeparator::kFormFeed) ==
        V{"first doc\nline two", "second", "third"});
  CHECK(moe::data::split_documents("no separator\n\nat all", DocSeparator::kFormFeed) ==
        V{"no separator\n\nat all"});
  const std::string para = "\n\nPara one\ncontinues.\n \t\nPara two.\n\n\n\nPara three";
  CHECK(moe::data::split_documents(para, DocSeparator::kBlankLine) ==
        V{"Para one\ncontinues.", "Para two.", "Para three"});
  CHECK(moe::data::split_documents(" \n\f\n ", DocSeparator::kFormFeed).empty());
  CHECK(moe::data::parse_doc_separator("blank-line") == DocSeparator::kBlankLine);
  CHECK_THROWS_WITH(moe::data::parse_doc_separator("tab"), Contains("--doc-separator tab"));
}

TEST_CASE("the split holds out about the requested fraction, and never all or nothing", "[data]") {
  std::vector<uint64_t> hashes;
  for (int i = 0; i < 10000; ++i) {
    hashes.push_back(moe::data::document_hash("document number " + std::to_string(i), 42));
  }
  auto count = [](const std::vector<bool>& v) { return std::count(v.begin(), v.end(), true); };
  // Binomial(10000, 0.05): mean 500, standard deviation 21.8.
  const auto val = moe::data::assign_validation(hashes, 0.05, "x");
  CHECK(count(val) > 430);
  CHECK(count(val) < 570);
  CHECK(count(moe::data::assign_validation(hashes, 0.0, "x")) == 0);

  const std::vector<uint64_t> three = {hashes[0], hashes[1], hashes[2]};
  CHECK(count(moe::data::assign_validation(three, 1e-9, "x")) == 1);  // at least one held out
  CHECK(count(moe::data::assign_validation(three, 0.5, "x")) <= 2);   // at least one kept
  CHECK_THROWS_WITH(moe::data::assign_validation({hashes[0]}, 0.1, "book.txt"),
                    Contains("book.txt: a single document") && Contains("--val-fraction 0"));

  // The coin depends on the seed and the content only.
  CHECK(moe::data::document_hash("same text", 1) == moe::data::document_hash("same text", 1));
  CHECK(moe::data::document_hash("same text", 1) != moe::data::document_hash("same text", 2));
  CHECK(moe::data::document_hash("same text", 1) != moe::data::document_hash("same texT", 1));
}

TEST_CASE("inputs resolve to files, directories to their *.txt files, sorted", "[data]") {
  TempDir dir;
  std::filesystem::create_directories(dir / "corpus/sub");
  dir.write("corpus/b.txt", "b");
  dir.write("corpus/sub/a.txt", "a");
  dir.write("corpus/corpus.json", "{}");
  dir.write("corpus/.hidden.txt", "h");
  dir.write("single.md", "s");
  using V = std::vector<std::string>;
  CHECK(moe::data::resolve_inputs({dir / "single.md", dir / "corpus"}) ==
        V{dir / "single.md", dir / "corpus/b.txt", dir / "corpus/sub/a.txt"});
  CHECK_THROWS_WITH(moe::data::resolve_inputs({dir / "absent.txt"}),
                    Contains(dir / "absent.txt") && Contains("no such file"));
  std::filesystem::create_directories(dir / "empty");
  CHECK_THROWS_WITH(moe::data::resolve_inputs({dir / "empty"}), Contains("no *.txt file"));
  dir.write("zero.txt", "");
  CHECK_THROWS_WITH(moe::data::TextFile(dir / "zero.txt"),
                    Contains(dir / "zero.txt") && Contains("empty file"));
  CHECK(moe::data::TextFile(dir / "corpus/b.txt").text() == "b");
}
