// Text inputs of `moescale data`: files, documents, UTF-8 checks and the train/val split.
//
// Documents. An input is a UTF-8 text file; a directory stands for the *.txt files under it,
// at any depth, sorted (names starting with '.' skipped). A file is split into documents at
//   formfeed   (default) every form feed character U+000C; scripts/prepare_corpus.py writes
//              one per line between documents. A file without one is a single document.
//   blank-line every run of one or more blank (whitespace-only) lines: one paragraph per
//              document, for plain prose files that carry no separators.
// Each document is trimmed of surrounding whitespace; documents left empty are dropped.
//
// Split. A document goes to the validation split when hash(seed, its bytes) / 2^64 is below the
// validation fraction: whole documents only, chosen by content, so identical documents land on
// the same side and the choice does not depend on input order. Whenever the fraction is > 0,
// at least one document is held out and at least one kept for training (or InputError when the
// inputs hold a single document).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace moe::data {

enum class DocSeparator { kFormFeed, kBlankLine };
DocSeparator parse_doc_separator(const std::string& name);  // throws std::invalid_argument
const char* doc_separator_name(DocSeparator s);

// Expands --input arguments into files. Throws moe::InputError naming an argument that does
// not exist or a directory that holds no file.
std::vector<std::string> resolve_inputs(const std::vector<std::string>& specs);

// A text file mapped read-only. Throws moe::InputError naming the file when it is missing,
// unreadable or empty.
class TextFile {
 public:
  explicit TextFile(const std::string& path);
  ~TextFile();
  TextFile(const TextFile&) = delete;
  TextFile& operator=(const TextFile&) = delete;

  const std::string& path() const { return path_; }
  std::string_view text() const { return {data_, size_}; }

 private:
  std::string path_;
  const char* data_ = nullptr;
  size_t size_ = 0;
};

// Offset of the first byte that is not part of well-formed UTF-8 (RFC 3629: no overlong forms,
// no surrogates, nothing above U+10FFFF), or std::string_view::npos.
size_t find_invalid_utf8(std::string_view text);

// Throws moe::InputError "PATH: not UTF-8 text: byte 0xff at line L, column C ..." when the
// text is not well-formed UTF-8.
void check_utf8(const std::string& path, std::string_view text);

std::vector<std::string_view> split_documents(std::string_view text, DocSeparator separator);

// 64-bit content hash of a document under a seed (the split's coin).
uint64_t document_hash(std::string_view doc, uint64_t seed);

// One flag per document, true = validation; see "Split" above. Throws moe::InputError (naming
// `what`, the inputs) when the fraction is > 0 and there is a single document.
std::vector<bool> assign_validation(const std::vector<uint64_t>& hashes, double val_fraction,
                                    const std::string& what);

}  // namespace moe::data
