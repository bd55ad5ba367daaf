#pragma once
// The default codec settings of a compression: codec, storage, target (a
// quality grade or a bits/weight budget), block size and transform. Controls
// that do not apply to the chosen codec are disabled.
#include <QWidget>

#include "codec/codec.h"

class QComboBox;
class QDoubleSpinBox;
class QSettings;
class QSpinBox;

class CodecSettingsForm : public QWidget {
  Q_OBJECT
 public:
  explicit CodecSettingsForm(QWidget* parent = nullptr);

  rbe::codec::CodecSettings settings() const;
  void setSettings(const rbe::codec::CodecSettings& s);
  // One line for reports and chart tooltips: "rbe fixed, 4.00 bits/weight, block 64, adaptive".
  static QString describe(const rbe::codec::CodecSettings& s);

  void save(QSettings& settings, const QString& group) const;
  void restore(QSettings& settings, const QString& group);

  QComboBox* codecBox() const { return codec_; }

 signals:
  void changed();

 private:
  void updateEnabled();
  QComboBox* codec_;
  QComboBox* storage_;
  QComboBox* targetKind_;
  QComboBox* grade_;
  QDoubleSpinBox* bpw_;
  QSpinBox* blockSize_;
  QComboBox* transform_;
};
