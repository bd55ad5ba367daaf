#pragma once
// Tensor-name patterns for per-tensor codec overrides ("h.*.mlp.*", "wte.weight").
#include <string_view>

namespace rbe::codec {

// Shell-style match of the whole name: '*' matches any run of characters
// (dots included), '?' any one character; everything else matches itself.
bool glob_match(std::string_view pattern, std::string_view name);

}  // namespace rbe::codec
