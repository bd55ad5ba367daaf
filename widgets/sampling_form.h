#pragma once
// Sampling settings for the chat panel (temperature, top-k, top-p, repetition
// penalty, max tokens, seed), kept in QSettings under "chat/".
#include <QGroupBox>

#include "generate/generate.h"

class QDoubleSpinBox;
class QSettings;
class QSpinBox;

class SamplingForm : public QGroupBox {
  Q_OBJECT
 public:
  explicit SamplingForm(QWidget* parent = nullptr);

  rbe::SamplingParams params() const;
  void setParams(const rbe::SamplingParams& p);

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
};
