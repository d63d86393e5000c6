// Reading a config struct back from JSON with one-line errors naming the object and the key.
//
// The keys a struct accepts are those its own to_json writes for a default value, so the list of
// known keys cannot drift from the writer. Unknown keys are an error (a config from another
// version, or a typo); absent keys keep the struct's defaults. Values are read strictly (see
// get): a config file is input, and a value of the wrong type or range is an error.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace moe {

class JsonFields {
 public:
  // `Struct` has to_json; throws std::invalid_argument when j is not an object or has a key
  // that Struct's to_json does not write.
  template <typename Struct>
  static JsonFields of(const nlohmann::json& j, const std::string& what) {
    return JsonFields(j, what, nlohmann::json(Struct{}));
  }

  // Copies j[key] into field when present. The JSON type must match the field: an integer
  // field takes only a JSON integer within its range (not 16.5, not 1e300, not true, not -1 for
  // an unsigned field); a floating-point field any JSON number; a bool field only true or false;
  // a string field only a string. (nlohmann's get_to converts between them silently, and a
  // double outside an integer's range is undefined behaviour there.) Throws
  // std::invalid_argument "<what>: '<key>' must be <kind> (found <value>)".
  template <typename T>
  void get(const char* key, T& field) const {
    const auto it = j_.find(key);
    if (it == j_.end()) return;
    const nlohmann::json& v = *it;
    const char* kind = "a string";
    bool ok = false;
    if constexpr (std::is_same_v<T, bool>) {
      kind = "true or false";
      ok = v.is_boolean();
    } else if constexpr (std::is_integral_v<T>) {
      kind = std::is_signed_v<T> ? "an integer" : "a non-negative integer";
      using Limits = std::numeric_limits<T>;
      if (v.is_number_unsigned()) {
        ok = v.get<uint64_t>() <= static_cast<uint64_t>(Limits::max());
      } else if (v.is_number_integer()) {
        const int64_t i = v.get<int64_t>();
        ok = std::is_signed_v<T> ? i >= static_cast<int64_t>(Limits::min()) &&
                                       i <= static_cast<int64_t>(Limits::max())
                                 : i >= 0;
      }
    } else if constexpr (std::is_floating_point_v<T>) {
      kind = "a number";
      ok = v.is_number();
    } else {
      ok = v.is_string();
    }
    if (!ok) {
      std::string found = v.dump();
      if (found.size() > 60) found = found.substr(0, 57) + "...";
      throw std::invalid_argument(
          fmt::format("{}: '{}' must be {} (found {})", what_, key, kind, found));
    }
    field = v.get<T>();
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
