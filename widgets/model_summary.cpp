#include "model_summary.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <map>
#include <set>

#include "nn/layers.h"

namespace workbench {
namespace {

int64_t diskBytes(const QString& path) {
  const QFileInfo info(path);
  if (info.isFile()) return info.size();
  int64_t total = 0;
  for (const QFileInfo& f : QDir(path).entryInfoList(QDir::Files)) total += f.size();
  return total;
}

struct WeightStorage {
  int64_t bytes = 0;  // a packed matrix counts its packed size (its dense `weight` is never touched)
  QString types;      // "F32" or "rbe-f4 (packed), F32"
};

WeightStorage weightStorage(const rbe::GPT2Model& model) {
  WeightStorage out;
  std::set<std::string> packed;
  std::map<std::string, int> formats;  // packed formats, then dense dtypes
  for (const auto& [name, module] : model.named_modules()) {
    std::shared_ptr<const rbe::nn::PackedMatrix> p;
    if (auto* l = dynamic_cast<rbe::nn::Linear*>(module.get())) p = l->packed();
    if (auto* e = dynamic_cast<rbe::nn::Embedding*>(module.get())) p = e->packed();
    if (p) {
      out.bytes += p->bytes();
      packed.insert(name + ".weight");
      formats[p->format()] = 0;
    }
  }
  std::set<std::string> dense;
  for (const auto& [name, t] : model.named_parameters()) {
    if (packed.count(name)) continue;
    out.bytes += t.numel() * int64_t(rbe::dtype_size(t.dtype()));
    dense.insert(rbe::dtype_name(t.dtype()));
  }
  QStringList parts;
  for (const auto& [f, unused] : formats)
    parts << QCoreApplication::translate("ModelSummary", "%1 (packed)").arg(QString::fromStdString(f));
  for (const std::string& d : dense) parts << QString::fromStdString(d);
  out.types = parts.join(QStringLiteral(", "));
  return out;
}

QString architecture(const rbe::ModelConfig& c) {
  return QCoreApplication::translate("ModelSummary", "GPT-2: %1 layers, %2 wide, %3 heads, context %4, %5, %6, %7")
      .arg(c.n_layer)
      .arg(c.n_embd)
      .arg(c.n_head)
      .arg(c.n_positions)
      .arg(QString::fromStdString(c.activation_function))
      .arg(c.pre_ln ? QStringLiteral("pre-LN") : QStringLiteral("post-LN"))
      .arg(c.tie_word_embeddings ? QCoreApplication::translate("ModelSummary", "tied head")
                                 : QCoreApplication::translate("ModelSummary", "separate head"));
}

QString tokenizerText(const rbe::LoadedModel& m) {
  if (!m.tokenizer) return QCoreApplication::translate("ModelSummary", "none (the folder has no tokenizer files)");
  if (m.tokenizer->type() == "char")
    return QCoreApplication::translate("ModelSummary", "characters, %1 symbols").arg(m.tokenizer->vocab_size());
  return QCoreApplication::translate("ModelSummary", "GPT-2 byte-level BPE, %1 tokens").arg(m.tokenizer->vocab_size());
}

}  // namespace

QString formatBytes(int64_t bytes) {
  const double b = double(bytes);
  if (b >= 1e9) return QStringLiteral("%1 GB").arg(b / 1e9, 0, 'f', 2);
  if (b >= 1e6) return QStringLiteral("%1 MB").arg(b / 1e6, 0, 'f', 2);
  if (b >= 1e3) return QStringLiteral("%1 KB").arg(b / 1e3, 0, 'f', 1);
  return QStringLiteral("%1 B").arg(bytes);
}

QString formatCount(int64_t n) {
  const double v = double(n);
  if (v >= 1e9) return QStringLiteral("%1 B").arg(v / 1e9, 0, 'f', 2);
  if (v >= 1e6) return QStringLiteral("%1 M").arg(v / 1e6, 0, 'f', 2);
  if (v >= 1e3) return QStringLiteral("%1 K").arg(v / 1e3, 0, 'f', 1);
  return QString::number(n);
}

ModelSummary summarize(const rbe::LoadedModel& m, const QString& path, const rbe::codec::CompressedModel* compression) {
  ModelSummary s;
  s.format = QString::fromStdString(m.format);
  s.architecture = architecture(m.config);
  s.parameters = m.model ? m.model->parameter_count() : 0;
  s.diskBytes = diskBytes(path);
  if (m.model) {
    const WeightStorage w = weightStorage(*m.model);
    s.memoryBytes = w.bytes;
    s.dtypes = w.types;
  }
  s.tokenizer = tokenizerText(m);
  if (compression) {
    int64_t bytes = 0, weights = 0;
    for (const auto& [name, e] : compression->encoded) {
      bytes += e->meta.bytes;
      weights += e->meta.weights;
    }
    s.bitsPerWeight = weights ? 8.0 * double(bytes) / double(weights) : 0.0;
  }
  return s;
}

}  // namespace workbench
