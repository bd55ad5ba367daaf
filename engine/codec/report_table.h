#pragma once
// CompressedModel::report() as a plain-text table for terminals and logs.
#include <string>

#include <nlohmann/json.hpp>

namespace rbe::codec {

// One line per tensor (name, shape, codec, bits/weight, relative RMSE, SNR,
// grade histogram, bytes) and the totals.
std::string report_table(const nlohmann::json& report);

}  // namespace rbe::codec
