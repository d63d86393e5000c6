// Hashes used across the programs: none of them is a security boundary.
//
// - sha256_hex: which input files a token shard was made from (data/prepare.cpp records it in
//   meta.json); Nettle's SHA-256.
// - fnv1a64: checkpoint integrity and stable run ids (a run id is part of every run directory's
//   name, so its value must never change).
// - mix64: splitmix64's finaliser, the bit mixer behind seeded document hashing and the shard
//   sampler's permutation.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace moe {

// The SHA-256 digest of `data` as 64 lowercase hex digits.
std::string sha256_hex(std::string_view data);

constexpr uint64_t kFnvOffset = 1469598103934665603ull;
uint64_t fnv1a64(std::string_view bytes, uint64_t seed = kFnvOffset);
// FNV-1a of a file's contents; throws moe::InputError naming the file when it cannot be read.
uint64_t checksum_file(const std::string& path);

constexpr uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace moe
