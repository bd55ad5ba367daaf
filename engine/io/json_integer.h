#pragma once
// Integers from JSON that a file supplies. nlohmann's get<int>() and
// value("key", 0) cast whatever number is there to the type: a float out of
// the type's range ("seed": 2e301) is undefined behaviour, a float in range
// is truncated, and an integer out of range wraps. These take a JSON integer
// within the type's range and throw Error (with `what` in the message)
// for anything else.
#include <limits>
#include <string>
#include <type_traits>
#include <utility>

#include <nlohmann/json.hpp>

namespace rbe {

template <class T, class Error>
T json_integer(const nlohmann::json& v, const std::string& what) {
  static_assert(std::is_integral_v<T> && !std::is_same_v<T, bool>);
  if (v.is_number_unsigned()) {
    const auto u = v.get<nlohmann::json::number_unsigned_t>();
    if (std::in_range<T>(u)) return T(u);
  } else if (v.is_number_integer()) {
    const auto i = v.get<nlohmann::json::number_integer_t>();
    if (std::in_range<T>(i)) return T(i);
  }
  // A number as written; anything else by its type (not dumped: it may be
  // a file's worth of array).
  const std::string shown = v.is_number() ? v.dump() : std::string("a JSON ") + v.type_name();
  throw Error(what + " must be an integer from " + std::to_string(std::numeric_limits<T>::min()) + " to " +
              std::to_string(std::numeric_limits<T>::max()) + ", got " + shown);
}

// obj[key] as above, or `fallback` when obj has no such key.
template <class T, class Error>
T json_integer_or(const nlohmann::json& obj, const char* key, T fallback, const std::string& what) {
  const auto it = obj.find(key);
  return it == obj.end() ? fallback : json_integer<T, Error>(*it, what);
}

}  // namespace rbe
