#pragma once
// The model panel's tensor tree: layer groups ("Embeddings", "Block 0", ...)
// holding their tensors with shape, storage type and, once the model is
// compressed, the codec, bits/weight, RMSE and grade of each tensor.
#include <QAbstractItemModel>
#include <QString>
#include <vector>

#include "codec/model_codec.h"
#include "io/model_loader.h"

class TensorTreeModel : public QAbstractItemModel {
  Q_OBJECT
 public:
  enum Column { Name, Shape, DType, Parameters, Codec, BitsPerWeight, Rmse, Grade, ColumnCount };

  explicit TensorTreeModel(QObject* parent = nullptr);

  // Rebuilds the tree; either pointer may be null (empty tree / no compression
  // columns). Nothing is kept pointing into the model.
  void rebuild(const rbe::LoadedModel* model, const rbe::codec::CompressedModel* compression);

  int tensorCount() const;
  int groupCount() const { return int(groups_.size()); }

  QModelIndex index(int row, int column, const QModelIndex& parent = {}) const override;
  QModelIndex parent(const QModelIndex& child) const override;
  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

 private:
  struct TensorRow {
    QString name;       // full parameter name, "h.0.attn.c_attn.weight"
    QString shortName;  // within its group, "attn.c_attn.weight"
    QString shape, dtype, codec, grade;
    int64_t count = 0;
    double bits = 0;   // total bits as stored
    double rmse = -1;  // < 0: not compressed
    double relRmse = -1;
  };
  struct Group {
    QString title;
    std::vector<TensorRow> rows;
    int64_t count = 0;
    double bits = 0;
  };
  QVariant groupData(const Group& g, int column, int role) const;
  QVariant rowData(const TensorRow& r, int column, int role) const;

  std::vector<Group> groups_;
  bool compressed_ = false;
};
