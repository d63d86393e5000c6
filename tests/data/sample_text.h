// Deterministic English-like documents for the data tests: enough distinct words for a small
// BPE vocabulary to train in well under a second, with punctuation, indentation, blank lines
// and a few non-ASCII words.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace moe::testing {

inline std::vector<std::string> sample_documents(int n_docs, uint64_t seed = 1) {
  static const char* kWords[] = {
      "the",     "kernel", "schedules", "a",      "task",      "when",       "its",       "timer",
      "expires", "and",    "memory",    "is",     "mapped",    "into",       "process",   "address",
      "space",   "driver", "registers", "device", "with",      "bus",        "interrupt", "handler",
      "runs",    "on",     "one",       "CPU",    "lord",      "said",       "unto",      "them",
      "behold",  "light",  "earth",     "waters", "firmament", "dictionary", "word",      "meaning",
      "noun",    "verb",   "from",      "Latin",  "Greek",     "obsolete",   "usage",     "café",
      "naïve",   "über",   "1913",      "42",     "page",      "cache",      "writeback", "flush"};
  const size_t n_words = sizeof(kWords) / sizeof(kWords[0]);
  uint64_t state = seed * 0x9E3779B97F4A7C15ull + 1;
  auto next = [&state] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  std::vector<std::string> docs;
  for (int d = 0; d < n_docs; ++d) {
    std::string doc = "Document " + std::to_string(d) + ".\n";
    const int n_lines = 3 + static_cast<int>(next() % 6);
    for (int l = 0; l < n_lines; ++l) {
      if (next() % 5 == 0) doc += "    ";  // an indented (code-like) line
      const int n = 4 + static_cast<int>(next() % 12);
      for (int w = 0; w < n; ++w) {
        if (w) doc += next() % 9 == 0 ? ", " : " ";
        doc += kWords[next() % n_words];
      }
      doc += next() % 4 == 0 ? ".\n\n" : ".\n";
    }
    while (!doc.empty() && doc.back() == '\n') doc.pop_back();
    docs.push_back(doc);
  }
  return docs;
}

// Documents joined as scripts/prepare_corpus.py writes them: a form-feed line between them.
inline std::string join_documents(const std::vector<std::string>& docs) {
  std::string text;
  for (size_t i = 0; i < docs.size(); ++i) text += (i ? "\n\f\n" : "") + docs[i];
  return text + "\n";
}

}  // namespace moe::testing
