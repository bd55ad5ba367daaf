#include "codec_settings_form.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QSettings>
#include <QSpinBox>

#include <nlohmann/json.hpp>

using rbe::codec::CodecSettings;

namespace {
enum TargetKind { kBitsPerWeight = 0, kGrade = 1 };
}

CodecSettingsForm::CodecSettingsForm(QWidget* parent) : QWidget(parent) {
  codec_ = new QComboBox(this);
  codec_->addItem(tr("RBE"), QStringLiteral("rbe"));
  codec_->addItem(tr("Q8_0 (8.5 bits/weight)"), QStringLiteral("q8_0"));
  codec_->addItem(tr("Q4_0 (4.5 bits/weight)"), QStringLiteral("q4_0"));
  storage_ = new QComboBox(this);
  storage_->addItem(tr("Fixed rate (runs packed)"), int(rbe::codec::Storage::Fixed));
  storage_->addItem(tr("Entropy coded (smallest, decoded on load)"), int(rbe::codec::Storage::Entropy));
  targetKind_ = new QComboBox(this);
  targetKind_->addItem(tr("Bits per weight"), kBitsPerWeight);
  targetKind_->addItem(tr("Quality grade"), kGrade);
  bpw_ = new QDoubleSpinBox(this);
  bpw_->setRange(1.0, 16.0);
  bpw_->setSingleStep(0.25);
  bpw_->setDecimals(2);
  bpw_->setValue(4.0);
  bpw_->setSuffix(tr(" bits/weight"));
  grade_ = new QComboBox(this);
  for (int g = 0; g < rbe::codec::kGradeCount; ++g) {
    const auto grade = rbe::codec::QualityGrade(g);
    grade_->addItem(tr("%1 (relative RMSE ≤ %2)")
                        .arg(QString::fromUtf8(rbe::codec::grade_name(grade)))
                        .arg(rbe::codec::grade_bound(grade), 0, 'g', 3),
                    g);
  }
  grade_->setCurrentIndex(int(rbe::codec::QualityGrade::A));
  blockSize_ = new QSpinBox(this);
  blockSize_->setRange(8, 256);
  blockSize_->setSingleStep(8);
  blockSize_->setValue(64);
  transform_ = new QComboBox(this);
  for (auto t : {rbe::codec::Transform::Adaptive, rbe::codec::Transform::DCT, rbe::codec::Transform::Haar,
                 rbe::codec::Transform::CDF97})
    transform_->addItem(QString::fromUtf8(rbe::codec::transform_name(t)), int(t));

  auto* target = new QHBoxLayout();
  target->setContentsMargins(0, 0, 0, 0);
  target->addWidget(targetKind_);
  target->addWidget(bpw_, 1);
  target->addWidget(grade_, 1);
  auto* form = new QFormLayout(this);
  form->setContentsMargins(0, 0, 0, 0);
  form->addRow(tr("&Codec:"), codec_);
  form->addRow(tr("&Storage:"), storage_);
  auto* targetLabel = new QLabel(tr("&Target:"), this);
  targetLabel->setBuddy(targetKind_);
  form->addRow(targetLabel, target);
  form->addRow(tr("&Block size:"), blockSize_);
  form->addRow(tr("T&ransform:"), transform_);

  for (QComboBox* box : {codec_, storage_, targetKind_, grade_, transform_})
    connect(box, &QComboBox::currentIndexChanged, this, [this] {
      updateEnabled();
      emit changed();
    });
  connect(bpw_, &QDoubleSpinBox::valueChanged, this, &CodecSettingsForm::changed);
  connect(blockSize_, &QSpinBox::valueChanged, this, &CodecSettingsForm::changed);
  updateEnabled();
}

void CodecSettingsForm::updateEnabled() {
  const bool rbe = codec_->currentData().toString() == QLatin1String("rbe");
  const bool byGrade = targetKind_->currentData().toInt() == kGrade;
  storage_->setEnabled(rbe);
  targetKind_->setEnabled(rbe);
  bpw_->setVisible(!byGrade);
  grade_->setVisible(byGrade);
  bpw_->setEnabled(rbe);
  grade_->setEnabled(rbe);
  blockSize_->setEnabled(rbe);
  transform_->setEnabled(rbe);
}

CodecSettings CodecSettingsForm::settings() const {
  CodecSettings s;
  s.codec = codec_->currentData().toString().toStdString();
  if (s.codec == "rbe") {
    s.storage = rbe::codec::Storage(storage_->currentData().toInt());
    if (targetKind_->currentData().toInt() == kGrade)
      s.grade = rbe::codec::QualityGrade(grade_->currentData().toInt());
    else
      s.bpw = bpw_->value();
    s.block_size = blockSize_->value();
    s.transform = rbe::codec::Transform(transform_->currentData().toInt());
  } else {
    s.block_size = 32;  // the q formats' fixed group
  }
  return s;
}

void CodecSettingsForm::setSettings(const CodecSettings& s) {
  const int ci = codec_->findData(QString::fromStdString(s.codec));
  codec_->setCurrentIndex(ci >= 0 ? ci : 0);
  storage_->setCurrentIndex(storage_->findData(int(s.storage)));
  if (s.grade) {
    targetKind_->setCurrentIndex(targetKind_->findData(kGrade));
    grade_->setCurrentIndex(grade_->findData(int(*s.grade)));
  } else {
    targetKind_->setCurrentIndex(targetKind_->findData(kBitsPerWeight));
    if (s.bpw) bpw_->setValue(*s.bpw);
  }
  if (s.codec == "rbe") blockSize_->setValue(s.block_size);
  transform_->setCurrentIndex(std::max(0, transform_->findData(int(s.transform))));
  updateEnabled();
}

QString CodecSettingsForm::describe(const CodecSettings& s) {
  QString text = QString::fromStdString(s.codec);
  if (s.codec != "rbe") return text;
  text += s.storage == rbe::codec::Storage::Entropy ? QStringLiteral(" entropy") : QStringLiteral(" fixed");
  if (s.grade) text += tr(", grade %1").arg(QString::fromUtf8(rbe::codec::grade_name(*s.grade)));
  if (s.bpw) text += tr(", %1 bits/weight").arg(*s.bpw, 0, 'f', 2);
  text += tr(", block %1, %2").arg(s.block_size).arg(QString::fromUtf8(rbe::codec::transform_name(s.transform)));
  return text;
}

void CodecSettingsForm::save(QSettings& settings, const QString& group) const {
  settings.setValue(group + QStringLiteral("/defaults"), QString::fromStdString(this->settings().to_json().dump()));
}

void CodecSettingsForm::restore(QSettings& settings, const QString& group) {
  const QString text = settings.value(group + QStringLiteral("/defaults")).toString();
  if (text.isEmpty()) return;
  try {
    setSettings(CodecSettings::from_json(nlohmann::json::parse(text.toStdString())));
  } catch (const std::exception&) {
    // A stale or hand-edited value: keep the built-in defaults.
  }
}
