// Reading a config struct back from JSON with one-line errors naming the object and the key.
//
// The keys a struct accepts are those its own to_json writes for a default value, so the list of
// known keys cannot drift from the writer. Unknown keys are an error (a config from another
// version, or a typo); absent keys keep the struct's defaults.
#pragma once

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

namespace moe {

class JsonFields {
 public:
  // `Struct` has to_json; throws std::invalid_argument when j is not an object or has a key
  // that Struct's to_json does not write.
  template <typename Struct>
  static JsonFields of(const nlohmann::json& j, const std::string& what) {
    return JsonFields(j, what, nlohmann::json(Struct{}));
  }

  // Copies j[key] into field when present; throws std::invalid_argument on a type mismatch.
  template <typename T>
  void get(const char* key, T& field) const {
    if (!j_.contains(key)) return;
    try {
      j_.at(key).get_to(field);
    } catch (const nlohmann::json::exception&) {
      throw std::invalid_argument(
          fmt::format("{}: '{}' has the wrong type ({})", what_, key, j_.at(key).dump()));
    }
  }
  bool has(const char* key) const { return j_.contains(key); }
  const nlohmann::json& at(const char* key) const { return j_.at(key); }

 private:
  JsonFields(const nlohmann::json& j, std::string what, const nlohmann::json& defaults)
      : j_(j), what_(std::move(what)) {
    if (!j_.is_object()) throw std::invalid_argument(what_ + ": expected a JSON object");
    for (const auto& item : j_.items()) {
      if (!defaults.contains(item.key())) {
        throw std::invalid_argument(what_ + ": unknown key '" + item.key() +
                                    "': remove it or check its spelling");
      }
    }
  }
  const nlohmann::json& j_;
  std::string what_;
};

}  // namespace moe
