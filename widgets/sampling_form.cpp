#include "sampling_form.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QSettings>
#include <QSpinBox>

namespace {

QDoubleSpinBox* doubleBox(QWidget* parent, double lo, double hi, double step, int decimals) {
  auto* b = new QDoubleSpinBox(parent);
  b->setRange(lo, hi);
  b->setSingleStep(step);
  b->setDecimals(decimals);
  return b;
}

QSpinBox* intBox(QWidget* parent, int lo, int hi) {
  auto* b = new QSpinBox(parent);
  b->setRange(lo, hi);
  return b;
}

// "f16" or anything else (f32), as the combo boxes' item data and the settings spell it.
rbe::DType dtypeNamed(const QString& name) { return name == QStringLiteral("f16") ? rbe::DType::F16 : rbe::DType::F32; }

// A combo box's choice between f32 and f16 (item data "f32" / "f16").
rbe::DType comboDtype(const QComboBox* box) { return dtypeNamed(box->currentData().toString()); }

void setComboDtype(QComboBox* box, rbe::DType dtype) {
  box->setCurrentIndex(box->findData(dtype == rbe::DType::F16 ? QStringLiteral("f16") : QStringLiteral("f32")));
}

}  // namespace

SamplingForm::SamplingForm(QWidget* parent)
    : QGroupBox(tr("Sampling"), parent),
      temperature_(doubleBox(this, 0.0, 3.0, 0.05, 2)),
      topK_(intBox(this, 0, 100000)),
      topP_(doubleBox(this, 0.0, 1.0, 0.05, 2)),
      repetition_(doubleBox(this, 1.0, 3.0, 0.05, 2)),
      maxTokens_(intBox(this, 1, 100000)),
      seed_(intBox(this, 0, 2147483647)),
      weights_(new QComboBox(this)),
      kvCache_(new QComboBox(this)) {
  temperature_->setToolTip(tr("0 picks the most likely token every time (greedy)."));
  topK_->setSpecialValueText(tr("off"));
  topK_->setToolTip(tr("Sample only from the k most likely tokens (0 = off)."));
  topP_->setToolTip(tr("Sample from the smallest set of tokens whose probabilities add up to p (1 = off)."));
  repetition_->setToolTip(tr("Penalise tokens that already appeared (1 = off)."));
  seed_->setToolTip(tr("The same seed, prompt and settings give the same text."));
  weights_->addItem(tr("f32 (as opened)"), QStringLiteral("f32"));
  weights_->addItem(tr("f16 copy (half the memory)"), QStringLiteral("f16"));
  weights_->setToolTip(
      tr("The original model's matrices for the chat. f16 runs a copy of the model with its matrices rounded to f16, "
         "made at the first run: they take half the memory and generate faster, and the text can differ slightly. "
         "The compressed model runs as compressed."));
  kvCache_->addItem(tr("as the weights"), QStringLiteral("auto"));
  kvCache_->addItem(tr("f32 (exact)"), QStringLiteral("f32"));
  kvCache_->addItem(tr("f16 (half the memory)"), QStringLiteral("f16"));
  kvCache_->setToolTip(
      tr("How the keys and values of the text so far are stored. f16 halves their memory and is faster at long "
         "contexts; the text can differ slightly. \"As the weights\": f32 for a model with f32 matrices, f16 for "
         "an f16 copy or a compressed model."));

  auto* form = new QFormLayout(this);
  form->addRow(tr("Temperature:"), temperature_);
  form->addRow(tr("Top-k:"), topK_);
  form->addRow(tr("Top-p:"), topP_);
  form->addRow(tr("Repetition penalty:"), repetition_);
  form->addRow(tr("Max tokens:"), maxTokens_);
  form->addRow(tr("Seed:"), seed_);
  form->addRow(tr("Weights:"), weights_);
  form->addRow(tr("KV cache:"), kvCache_);

  rbe::SamplingParams defaults;
  defaults.temperature = 0.8f;
  defaults.top_k = 40;
  defaults.max_tokens = 200;
  defaults.seed = 42;
  setParams(defaults);

  for (QDoubleSpinBox* b : {temperature_, topP_, repetition_})
    connect(b, &QDoubleSpinBox::valueChanged, this, &SamplingForm::changed);
  for (QSpinBox* b : {topK_, maxTokens_, seed_}) connect(b, &QSpinBox::valueChanged, this, &SamplingForm::changed);
  for (QComboBox* b : {weights_, kvCache_}) connect(b, &QComboBox::currentIndexChanged, this, &SamplingForm::changed);
}

rbe::DType SamplingForm::weights() const { return comboDtype(weights_); }

void SamplingForm::setWeights(rbe::DType dtype) { setComboDtype(weights_, dtype); }

std::optional<rbe::DType> SamplingForm::kvCache() const {
  if (kvCache_->currentData().toString() == QStringLiteral("auto")) return std::nullopt;
  return comboDtype(kvCache_);
}

void SamplingForm::setKvCache(std::optional<rbe::DType> dtype) {
  if (dtype) setComboDtype(kvCache_, *dtype);
  else kvCache_->setCurrentIndex(kvCache_->findData(QStringLiteral("auto")));
}

rbe::SamplingParams SamplingForm::params() const {
  rbe::SamplingParams p;
  p.temperature = float(temperature_->value());
  p.top_k = topK_->value();
  p.top_p = float(topP_->value());
  p.repetition_penalty = float(repetition_->value());
  p.max_tokens = maxTokens_->value();
  p.seed = uint64_t(seed_->value());
  return p;
}

void SamplingForm::setParams(const rbe::SamplingParams& p) {
  temperature_->setValue(p.temperature);
  topK_->setValue(p.top_k);
  topP_->setValue(p.top_p);
  repetition_->setValue(p.repetition_penalty);
  maxTokens_->setValue(p.max_tokens);
  seed_->setValue(int(p.seed));
}

void SamplingForm::load(QSettings& s) {
  rbe::SamplingParams p = params();
  p.temperature = s.value(QStringLiteral("chat/temperature"), p.temperature).toFloat();
  p.top_k = s.value(QStringLiteral("chat/topK"), p.top_k).toInt();
  p.top_p = s.value(QStringLiteral("chat/topP"), p.top_p).toFloat();
  p.repetition_penalty = s.value(QStringLiteral("chat/repetitionPenalty"), p.repetition_penalty).toFloat();
  p.max_tokens = s.value(QStringLiteral("chat/maxTokens"), p.max_tokens).toInt();
  p.seed = s.value(QStringLiteral("chat/seed"), qulonglong(p.seed)).toULongLong();
  setParams(p);
  setWeights(dtypeNamed(s.value(QStringLiteral("chat/weights")).toString()));
  const QString kv = s.value(QStringLiteral("chat/kvCache"), QStringLiteral("auto")).toString();
  setKvCache(kv == QStringLiteral("auto") ? std::nullopt : std::optional(dtypeNamed(kv)));
}

void SamplingForm::save(QSettings& s) const {
  const rbe::SamplingParams p = params();
  s.setValue(QStringLiteral("chat/temperature"), p.temperature);
  s.setValue(QStringLiteral("chat/topK"), p.top_k);
  s.setValue(QStringLiteral("chat/topP"), p.top_p);
  s.setValue(QStringLiteral("chat/repetitionPenalty"), p.repetition_penalty);
  s.setValue(QStringLiteral("chat/maxTokens"), p.max_tokens);
  s.setValue(QStringLiteral("chat/seed"), qulonglong(p.seed));
  s.setValue(QStringLiteral("chat/weights"), weights_->currentData().toString());
  s.setValue(QStringLiteral("chat/kvCache"), kvCache_->currentData().toString());
}
