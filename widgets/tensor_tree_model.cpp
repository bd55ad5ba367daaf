#include "tensor_tree_model.h"

#include <QLocale>
#include <QRegularExpression>
#include <map>

#include "model_summary.h"

namespace {

// Internal ids: 0 for group rows, group index + 1 for tensor rows.
constexpr quintptr kGroupId = 0;

bool isNumberColumn(int column) {
  return column == TensorTreeModel::Parameters || column == TensorTreeModel::BitsPerWeight ||
         column == TensorTreeModel::Rmse;
}

QString groupTitleFor(const QString& name, QString* shortName) {
  static const QRegularExpression block(QStringLiteral("^h\\.(\\d+)\\.(.*)$"));
  const auto m = block.match(name);
  if (m.hasMatch()) {
    *shortName = m.captured(2);
    return TensorTreeModel::tr("Block %1").arg(m.captured(1).toInt());
  }
  *shortName = name;
  if (name.startsWith(QLatin1String("wte.")) || name.startsWith(QLatin1String("wpe.")))
    return TensorTreeModel::tr("Embeddings");
  if (name.startsWith(QLatin1String("ln_f."))) return TensorTreeModel::tr("Final layer norm");
  if (name.startsWith(QLatin1String("lm_head."))) return TensorTreeModel::tr("Output head");
  return TensorTreeModel::tr("Other");
}

QString shapeText(const rbe::Shape& s) {
  QStringList parts;
  for (int64_t d : s) parts << QString::number(d);
  return parts.join(QStringLiteral(" × "));
}

}  // namespace

TensorTreeModel::TensorTreeModel(QObject* parent) : QAbstractItemModel(parent) {}

void TensorTreeModel::rebuild(const rbe::LoadedModel* model, const rbe::codec::CompressedModel* compression) {
  beginResetModel();
  groups_.clear();
  compressed_ = compression != nullptr;
  if (model && model->model) {
    std::map<std::string, const rbe::codec::EncodedTensor*> encoded;
    if (compression)
      for (const auto& [name, e] : compression->encoded) encoded[name] = e.get();
    std::map<QString, size_t> groupIndex;
    for (const auto& [name, t] : model->model->named_parameters()) {
      TensorRow r;
      r.name = QString::fromStdString(name);
      const QString title = groupTitleFor(r.name, &r.shortName);
      r.shape = shapeText(t.shape());
      r.dtype = QString::fromLatin1(rbe::dtype_name(t.dtype()));
      r.count = t.numel();
      r.bits = 8.0 * double(rbe::dtype_size(t.dtype())) * double(r.count);
      if (auto it = encoded.find(name); it != encoded.end()) {
        const rbe::codec::EncodedTensor& e = *it->second;
        r.codec = QString::fromStdString(e.codec);
        if (e.codec == "rbe") r.codec += e.storage == rbe::codec::Storage::Fixed ? tr(" (fixed)") : tr(" (entropy)");
        r.bits = 8.0 * double(e.meta.bytes);
        r.rmse = e.meta.rmse;
        r.relRmse = e.meta.rel_rmse;
        r.grade = QString::fromLatin1(rbe::codec::grade_name(rbe::codec::grade_for(e.meta.rel_rmse)));
      } else if (compression) {
        r.codec = tr("raw");
      }
      auto [pos, added] = groupIndex.try_emplace(title, groups_.size());
      if (added) groups_.push_back(Group{title, {}, 0, 0});
      Group& g = groups_[pos->second];
      g.count += r.count;
      g.bits += r.bits;
      g.rows.push_back(std::move(r));
    }
  }
  endResetModel();
}

int TensorTreeModel::tensorCount() const {
  int n = 0;
  for (const Group& g : groups_) n += int(g.rows.size());
  return n;
}

QModelIndex TensorTreeModel::index(int row, int column, const QModelIndex& parent) const {
  if (row < 0 || column < 0 || column >= ColumnCount) return {};
  if (!parent.isValid()) return row < int(groups_.size()) ? createIndex(row, column, kGroupId) : QModelIndex();
  if (parent.internalId() != kGroupId) return {};
  const int g = parent.row();
  if (g >= int(groups_.size()) || row >= int(groups_[g].rows.size())) return {};
  return createIndex(row, column, quintptr(g) + 1);
}

QModelIndex TensorTreeModel::parent(const QModelIndex& child) const {
  if (!child.isValid() || child.internalId() == kGroupId) return {};
  return createIndex(int(child.internalId() - 1), 0, kGroupId);
}

int TensorTreeModel::rowCount(const QModelIndex& parent) const {
  if (!parent.isValid()) return int(groups_.size());
  if (parent.column() != 0 || parent.internalId() != kGroupId) return 0;
  return int(groups_[parent.row()].rows.size());
}

int TensorTreeModel::columnCount(const QModelIndex&) const { return ColumnCount; }

QVariant TensorTreeModel::data(const QModelIndex& index, int role) const {
  if (!index.isValid()) return {};
  if (index.internalId() == kGroupId) return groupData(groups_[index.row()], index.column(), role);
  return rowData(groups_[index.internalId() - 1].rows[index.row()], index.column(), role);
}

QVariant TensorTreeModel::groupData(const Group& g, int column, int role) const {
  if (role == Qt::TextAlignmentRole && isNumberColumn(column))
    return QVariant(Qt::AlignRight | Qt::AlignVCenter);
  if (role != Qt::DisplayRole) return {};
  switch (column) {
    case Name:
      return g.title;
    case Parameters:
      return workbench::formatCount(g.count);
    case BitsPerWeight:
      return g.count ? QString::number(g.bits / double(g.count), 'f', 2) : QString();
    default:
      return {};
  }
}

QVariant TensorTreeModel::rowData(const TensorRow& r, int column, int role) const {
  if (role == Qt::ToolTipRole) return r.name;
  if (role == Qt::TextAlignmentRole && isNumberColumn(column))
    return QVariant(Qt::AlignRight | Qt::AlignVCenter);
  if (role == Qt::UserRole) return r.name;  // the full parameter name, for callers
  if (role != Qt::DisplayRole) return {};
  switch (column) {
    case Name:
      return r.shortName;
    case Shape:
      return r.shape;
    case DType:
      return r.dtype;
    case Parameters:
      return QLocale().toString(qlonglong(r.count));
    case Codec:
      return r.codec;
    case BitsPerWeight:
      return r.count ? QString::number(r.bits / double(r.count), 'f', 2) : QString();
    case Rmse:
      return r.rmse >= 0 ? QString::number(r.rmse, 'g', 3) : QString();
    case Grade:
      return r.grade;
    default:
      return {};
  }
}

QVariant TensorTreeModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return {};
  switch (section) {
    case Name:
      return tr("Tensor");
    case Shape:
      return tr("Shape");
    case DType:
      return tr("Type");
    case Parameters:
      return tr("Parameters");
    case Codec:
      return tr("Codec");
    case BitsPerWeight:
      return tr("Bits/weight");
    case Rmse:
      return tr("RMSE");
    case Grade:
      return tr("Grade");
    default:
      return {};
  }
}
