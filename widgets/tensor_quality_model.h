#pragma once
// The per-tensor table of a compression: name, shape, codec, bits/weight,
// RMSE, relative RMSE, SNR and the blocks' grade histogram, one row per
// encoded tensor in model order. Sorting: the UserRole of every column is a
// number (or the name), so a QSortFilterProxyModel sorts it properly.
#include <QAbstractTableModel>
#include <memory>

#include "codec/model_codec.h"

class TensorQualityModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  enum Column { Name = 0, Shape, Codec, BitsPerWeight, Rmse, RelRmse, Snr, Grades, ColumnCount };
  // Grades column: a QList<int> of kGradeCount block counts, best grade first.
  static constexpr int GradeCountsRole = Qt::UserRole + 1;
  static constexpr int SortRole = Qt::UserRole;

  explicit TensorQualityModel(QObject* parent = nullptr);

  void setCompression(std::shared_ptr<const rbe::codec::CompressedModel> cm);
  std::shared_ptr<const rbe::codec::CompressedModel> compression() const { return cm_; }
  // The encoded tensor of a row (null when out of range).
  std::shared_ptr<const rbe::codec::EncodedTensor> tensorAt(int row) const;
  QString nameAt(int row) const;
  int rowOf(const QString& name) const;  // -1 if absent

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation o, int role = Qt::DisplayRole) const override;

  static QList<int> gradeCounts(const rbe::codec::EncodedTensor& e);
  static QString codecLabel(const rbe::codec::EncodedTensor& e);

 private:
  std::shared_ptr<const rbe::codec::CompressedModel> cm_;
};
