#include "tensor_quality_model.h"

#include <QLocale>
#include <cmath>

using rbe::codec::EncodedTensor;

TensorQualityModel::TensorQualityModel(QObject* parent) : QAbstractTableModel(parent) {}

void TensorQualityModel::setCompression(std::shared_ptr<const rbe::codec::CompressedModel> cm) {
  beginResetModel();
  cm_ = std::move(cm);
  endResetModel();
}

std::shared_ptr<const EncodedTensor> TensorQualityModel::tensorAt(int row) const {
  if (!cm_ || row < 0 || row >= int(cm_->encoded.size())) return nullptr;
  return cm_->encoded[size_t(row)].second;
}

QString TensorQualityModel::nameAt(int row) const {
  if (!cm_ || row < 0 || row >= int(cm_->encoded.size())) return {};
  return QString::fromStdString(cm_->encoded[size_t(row)].first);
}

int TensorQualityModel::rowOf(const QString& name) const {
  if (!cm_) return -1;
  const std::string n = name.toStdString();
  for (size_t i = 0; i < cm_->encoded.size(); ++i)
    if (cm_->encoded[i].first == n) return int(i);
  return -1;
}

int TensorQualityModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() || !cm_ ? 0 : int(cm_->encoded.size());
}

int TensorQualityModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QList<int> TensorQualityModel::gradeCounts(const EncodedTensor& e) {
  QList<int> counts(rbe::codec::kGradeCount, 0);
  for (const auto& b : e.blocks) {
    const int g = int(b.grade);
    if (g >= 0 && g < rbe::codec::kGradeCount) counts[g]++;
  }
  return counts;
}

QString TensorQualityModel::codecLabel(const EncodedTensor& e) {
  QString label = QString::fromStdString(e.codec);
  if (e.codec == "rbe") label += e.storage == rbe::codec::Storage::Entropy ? QStringLiteral(" entropy") : QStringLiteral(" fixed");
  return label;
}

static QString gradeSummary(const QList<int>& counts) {
  QStringList parts;
  for (int g = 0; g < counts.size(); ++g)
    if (counts[g] > 0)
      parts << QStringLiteral("%1 %2").arg(QString::fromUtf8(rbe::codec::grade_name(rbe::codec::QualityGrade(g)))).arg(counts[g]);
  return parts.join(QStringLiteral(" · "));
}

QVariant TensorQualityModel::data(const QModelIndex& index, int role) const {
  const auto e = tensorAt(index.row());
  if (!e || !index.isValid()) return {};
  const auto& m = e->meta;
  const QLocale loc;
  if (role == Qt::DisplayRole || role == Qt::ToolTipRole) {
    switch (index.column()) {
      case Name: return nameAt(index.row());
      case Shape: return QStringLiteral("%1 × %2").arg(e->rows).arg(e->cols);
      case Codec: return codecLabel(*e);
      case BitsPerWeight: return loc.toString(m.bits_per_weight, 'f', 3);
      case Rmse: return loc.toString(m.rmse, 'g', 4);
      case RelRmse: return loc.toString(m.rel_rmse, 'g', 4);
      case Snr: return std::isfinite(m.snr_db) ? loc.toString(m.snr_db, 'f', 2) : QStringLiteral("∞");
      case Grades: return gradeSummary(gradeCounts(*e));
    }
  } else if (role == SortRole) {
    switch (index.column()) {
      case Name: return index.row();  // model order
      case Shape: return double(e->rows) * double(e->cols);
      case Codec: return codecLabel(*e);
      case BitsPerWeight: return m.bits_per_weight;
      case Rmse: return m.rmse;
      case RelRmse: return m.rel_rmse;
      case Snr: return m.snr_db;
      case Grades: {
        // Mean grade index: lower is better.
        const auto counts = gradeCounts(*e);
        double sum = 0, n = 0;
        for (int g = 0; g < counts.size(); ++g) sum += double(g) * counts[g], n += counts[g];
        return n > 0 ? sum / n : 0.0;
      }
    }
  } else if (role == GradeCountsRole && index.column() == Grades) {
    return QVariant::fromValue(gradeCounts(*e));
  } else if (role == Qt::TextAlignmentRole && index.column() >= BitsPerWeight && index.column() <= Snr) {
    return int(Qt::AlignRight | Qt::AlignVCenter);
  }
  return {};
}

QVariant TensorQualityModel::headerData(int section, Qt::Orientation o, int role) const {
  if (o != Qt::Horizontal || role != Qt::DisplayRole) return QAbstractTableModel::headerData(section, o, role);
  switch (section) {
    case Name: return tr("Tensor");
    case Shape: return tr("Shape");
    case Codec: return tr("Codec");
    case BitsPerWeight: return tr("Bits/weight");
    case Rmse: return tr("RMSE");
    case RelRmse: return tr("Rel. RMSE");
    case Snr: return tr("SNR (dB)");
    case Grades: return tr("Grades");
  }
  return {};
}
