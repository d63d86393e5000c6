#include "data/corpus.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <system_error>

#include "common/errors.h"
#include "common/hashing.h"

namespace moe::data {
namespace fs = std::filesystem;

namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

std::string_view trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && is_space(s[b])) ++b;
  while (e > b && is_space(s[e - 1])) --e;
  return s.substr(b, e - b);
}

}  // namespace

DocSeparator parse_doc_separator(const std::string& name) {
  if (name == "formfeed") return DocSeparator::kFormFeed;
  if (name == "blank-line") return DocSeparator::kBlankLine;
  throw std::invalid_argument("--doc-separator " + name + " must be formfeed or blank-line");
}

const char* doc_separator_name(DocSeparator s) {
  return s == DocSeparator::kFormFeed ? "formfeed" : "blank-line";
}

std::vector<std::string> resolve_inputs(const std::vector<std::string>& specs) {
  if (specs.empty()) throw std::invalid_argument("--input is required: text files or directories");
  std::vector<std::string> files;
  for (const auto& spec : specs) {
    std::error_code ec;
    if (fs::is_regular_file(spec, ec)) {
      files.push_back(spec);
    } else if (fs::is_directory(spec, ec)) {
      std::vector<std::string> found;
      auto it = fs::recursive_directory_iterator(spec, ec);
      for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (!name.empty() && name[0] == '.') {
          if (it->is_directory(ec)) it.disable_recursion_pending();
          continue;
        }
        if (it->is_regular_file(ec) && it->path().extension() == ".txt") {
          found.push_back(it->path().string());
        }
      }
      if (ec) throw InputError(spec + ": cannot list the directory (" + ec.message() + ")");
      if (found.empty()) throw InputError(spec + ": directory holds no *.txt file to tokenize");
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else {
      throw InputError(spec +
                       ": no such file or directory; --input takes UTF-8 text files or "
                       "directories of them");
    }
  }
  return files;
}

TextFile::TextFile(const std::string& path) : path_(path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw InputError(path + ": cannot open (" + std::generic_category().message(errno) +
                     "); check the path and its permissions");
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw InputError(path + ": not a regular file");
  }
  size_ = static_cast<size_t>(st.st_size);
  if (size_ == 0) {
    ::close(fd);
    throw InputError(path + ": empty file (0 bytes); nothing to tokenize");
  }
  void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (p == MAP_FAILED)
    throw InputError(path + ": cannot map (" + std::generic_category().message(errno) + ")");
  ::madvise(p, size_, MADV_SEQUENTIAL);
  data_ = static_cast<const char*>(p);
}

TextFile::~TextFile() {
  if (data_) ::munmap(const_cast<char*>(data_), size_);
}

size_t find_invalid_utf8(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    // Eight ASCII bytes at a time: most of an English corpus.
    if (i + 8 <= n) {
      uint64_t word;
      std::memcpy(&word, s + i, 8);
      if ((word & 0x8080808080808080ull) == 0) {
        i += 8;
        continue;
      }
    }
    const unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;  // no overlong forms
      if (c == 0xED) hi = 0x9F;  // no surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;  // no overlong forms
      if (c == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
    } else {
      return i;
    }
    if (i + len > n) return i;
    if (s[i + 1] < lo || s[i + 1] > hi) return i;
    for (size_t k = 2; k < len; ++k) {
      if (s[i + k] < 0x80 || s[i + k] > 0xBF) return i;
    }
    i += len;
  }
  return std::string_view::npos;
}

void check_utf8(const std::string& path, std::string_view text) {
  const size_t bad = find_invalid_utf8(text);
  if (bad == std::string_view::npos) return;
  const std::string_view before = text.substr(0, bad);
  const size_t line = 1 + static_cast<size_t>(std::count(before.begin(), before.end(), '\n'));
  const size_t line_start = before.rfind('\n');
  const size_t column = bad - (line_start == std::string_view::npos ? 0 : line_start + 1) + 1;
  char byte[8];
  std::snprintf(byte, sizeof(byte), "0x%02x", static_cast<unsigned char>(text[bad]));
  throw InputError(path + ": not UTF-8 text: byte " + byte + " at line " + std::to_string(line) +
                   ", column " + std::to_string(column) + " (offset " + std::to_string(bad) +
                   "); convert it, e.g. iconv -f latin1 -t utf-8");
}

std::vector<std::string_view> split_documents(std::string_view text, DocSeparator separator) {
  std::vector<std::string_view> docs;
  auto add = [&docs](std::string_view d) {
    d = trim(d);
    if (!d.empty()) docs.push_back(d);
  };
  if (separator == DocSeparator::kFormFeed) {
    size_t begin = 0;
    for (size_t ff; (ff = text.find('\f', begin)) != std::string_view::npos; begin = ff + 1) {
      add(text.substr(begin, ff - begin));
    }
    add(text.substr(begin));
    return docs;
  }
  // Blank-line mode: a document is a maximal run of lines holding a non-space character.
  size_t doc_begin = std::string_view::npos, pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    const bool blank = trim(text.substr(pos, end - pos)).empty();
    if (blank && doc_begin != std::string_view::npos) {
      add(text.substr(doc_begin, pos - doc_begin));
      doc_begin = std::string_view::npos;
    } else if (!blank && doc_begin == std::string_view::npos) {
      doc_begin = pos;
    }
    pos = end + 1;
  }
  if (doc_begin != std::string_view::npos) add(text.substr(doc_begin));
  return docs;
}

uint64_t document_hash(std::string_view doc, uint64_t seed) {
  uint64_t h = mix64(seed ^ 0x6A09E667F3BCC909ull) ^ doc.size();
  size_t i = 0;
  for (; i + 8 <= doc.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, doc.data() + i, 8);
    h = (h ^ mix64(w)) * 0x9E3779B97F4A7C15ull;
    h ^= h >> 29;
  }
  uint64_t tail = 0;
  std::memcpy(&tail, doc.data() + i, doc.size() - i);
  return mix64(h ^ mix64(tail ^ 0xA0761D6478BD642Full));
}

std::vector<bool> assign_validation(const std::vector<uint64_t>& hashes, double val_fraction,
                                    const std::string& what) {
  std::vector<bool> val(hashes.size(), false);
  if (val_fraction <= 0 || hashes.empty()) return val;
  if (hashes.size() == 1) {
    throw InputError(what +
                     ": a single document, so none can be held out for validation; "
                     "separate documents with form feeds, use --doc-separator "
                     "blank-line, or --val-fraction 0");
  }
  const double scale = std::ldexp(1.0, -64);
  size_t n_val = 0;
  for (size_t i = 0; i < hashes.size(); ++i) {
    val[i] = static_cast<double>(hashes[i]) * scale < val_fraction;
    n_val += val[i];
  }
  // Small inputs can draw no validation document, or (with a large fraction) no training one.
  if (n_val == 0) val[std::min_element(hashes.begin(), hashes.end()) - hashes.begin()] = true;
  if (n_val == hashes.size()) {
    val[std::max_element(hashes.begin(), hashes.end()) - hashes.begin()] = false;
  }
  return val;
}

}  // namespace moe::data
