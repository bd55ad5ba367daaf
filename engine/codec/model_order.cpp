#include "codec/model_order.h"

#include <map>
#include <stdexcept>

#include "nn/layers.h"

namespace rbe::codec {

std::vector<std::string> parameter_names(const ModelConfig& c) {
  ModelConfig tiny = c;  // names depend only on depth and tying
  tiny.vocab_size = 1;
  tiny.n_positions = 1;
  tiny.n_embd = 1;
  tiny.n_head = 1;
  nn::SkipInitGuard no_init;
  GPT2Model m(tiny);
  std::vector<std::string> names;
  for (auto& [name, t] : m.named_parameters()) names.push_back(name);
  return names;
}

std::vector<TensorEntry> ordered_entries(const CompressedModel& cm) {
  std::map<std::string, TensorEntry> by_name;
  auto add = [&](const std::string& name, TensorEntry e) {
    if (!by_name.emplace(name, std::move(e)).second) throw std::runtime_error("tensor " + name + " is given twice");
  };
  for (auto& [name, e] : cm.encoded) {
    if (!e) throw std::runtime_error("tensor " + name + ": no encoding");
    add(name, TensorEntry{name, e.get(), nullptr});
  }
  for (auto& [name, t] : cm.raw) add(name, TensorEntry{name, nullptr, &t});
  std::vector<TensorEntry> out;
  for (const std::string& name : parameter_names(cm.config)) {
    auto it = by_name.find(name);
    if (it == by_name.end()) continue;
    out.push_back(std::move(it->second));
    by_name.erase(it);
  }
  for (auto& [name, e] : cm.encoded)
    if (by_name.count(name)) out.push_back(by_name.at(name)), by_name.erase(name);
  for (auto& [name, t] : cm.raw)
    if (by_name.count(name)) out.push_back(by_name.at(name)), by_name.erase(name);
  return out;
}

}  // namespace rbe::codec
