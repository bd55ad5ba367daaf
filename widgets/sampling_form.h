#pragma once
// Sampling settings for the chat panel (temperature, top-k, top-p, repetition
// penalty, max tokens, seed), the original model's matrices for the chat (f32
// as opened, or an f16 copy) and the KV cache's storage (as the matrices, f32
// or f16), kept in QSettings under "chat/".
#include <QGroupBox>

#include <optional>

#include "generate/generate.h"

class QComboBox;
class QDoubleSpinBox;
class QSettings;
class QSpinBox;

class SamplingForm : public QGroupBox {
  Q_OBJECT
 public:
  explicit SamplingForm(QWidget* parent = nullptr);

  rbe::SamplingParams params() const;
  void setParams(const rbe::SamplingParams& p);
  rbe::DType weights() const;  // F32 (the model as opened) or F16 (an f16 copy)
  void setWeights(rbe::DType dtype);
  // F32 or F16; none: as the matrices of the model that runs
  // (GPT2Model::kv_cache_dtype_for_matrices, the default).
  std::optional<rbe::DType> kvCache() const;
  void setKvCache(std::optional<rbe::DType> dtype);

  void load(QSettings& s);
  void save(QSettings& s) const;

 signals:
  void changed();

 private:
  QDoubleSpinBox* temperature_;
  QSpinBox* topK_;
  QDoubleSpinBox* topP_;
  QDoubleSpinBox* repetition_;
  QSpinBox* maxTokens_;
  QSpinBox* seed_;
  QComboBox* weights_;
  QComboBox* kvCache_;
};
