#include "codec_override_table.h"

#include <QComboBox>
#include <QHeaderView>
#include <QSettings>
#include <QStyledItemDelegate>

namespace {

// Offers a fixed list of choices (plus "inherit", stored as empty text).
class ChoiceDelegate : public QStyledItemDelegate {
 public:
  ChoiceDelegate(QStringList choices, QObject* parent) : QStyledItemDelegate(parent), choices_(std::move(choices)) {}
  QWidget* createEditor(QWidget* parent, const QStyleOptionViewItem&, const QModelIndex&) const override {
    auto* box = new QComboBox(parent);
    box->addItem(QString());
    box->addItems(choices_);
    return box;
  }
  void setEditorData(QWidget* editor, const QModelIndex& index) const override {
    auto* box = static_cast<QComboBox*>(editor);
    box->setCurrentIndex(std::max(0, box->findText(index.data().toString())));
  }
  void setModelData(QWidget* editor, QAbstractItemModel* model, const QModelIndex& index) const override {
    model->setData(index, static_cast<QComboBox*>(editor)->currentText());
  }

 private:
  QStringList choices_;
};

}  // namespace

CodecOverrideTable::CodecOverrideTable(QWidget* parent) : QTableWidget(0, ColumnCount, parent) {
  setHorizontalHeaderLabels({tr("Tensor pattern"), tr("Codec"), tr("Storage"), tr("Target"), tr("Block size")});
  horizontalHeaderItem(Pattern)->setToolTip(tr("A glob on tensor names, e.g. h.*.mlp.* or wte.weight; the first matching row wins"));
  horizontalHeaderItem(Target)->setToolTip(tr("A quality grade (S+, S, A+, A, B+, B, C+, C) or bits per weight (e.g. 3.5); empty: the default"));
  horizontalHeader()->setSectionResizeMode(Pattern, QHeaderView::Stretch);
  verticalHeader()->setVisible(false);
  setItemDelegateForColumn(Codec, new ChoiceDelegate({QStringLiteral("rbe"), QStringLiteral("q8_0"), QStringLiteral("q4_0"),
                                                      QStringLiteral("f16"), QStringLiteral("f32")},
                                                     this));
  setItemDelegateForColumn(Storage, new ChoiceDelegate({QStringLiteral("fixed"), QStringLiteral("entropy")}, this));
  setSelectionBehavior(QAbstractItemView::SelectRows);
}

void CodecOverrideTable::addOverride(const QString& pattern, const QString& codec, const QString& storage,
                                     const QString& target, const QString& blockSize) {
  const int row = rowCount();
  insertRow(row);
  const QString p = pattern.isEmpty() ? QStringLiteral("h.*.mlp.*") : pattern;
  const QStringList cells = {p, codec, storage, target, blockSize};
  for (int c = 0; c < ColumnCount; ++c) setItem(row, c, new QTableWidgetItem(cells[c]));
  setCurrentCell(row, Pattern);
}

void CodecOverrideTable::removeSelected() {
  QList<int> rows;
  for (const auto& r : selectionModel()->selectedRows()) rows << r.row();
  if (rows.isEmpty() && currentRow() >= 0) rows << currentRow();
  std::sort(rows.begin(), rows.end(), std::greater<int>());
  for (int r : rows) removeRow(r);
}

QString CodecOverrideTable::cellText(int row, int column) const {
  const QTableWidgetItem* it = item(row, column);
  return it ? it->text().trimmed() : QString();
}

std::optional<std::vector<rbe::codec::TensorOverride>> CodecOverrideTable::overrides(
    const rbe::codec::CodecSettings& defaults, QString* error) const {
  std::vector<rbe::codec::TensorOverride> out;
  auto fail = [&](int row, const QString& what) {
    if (error) *error = tr("Override row %1: %2").arg(row + 1).arg(what);
    return std::nullopt;
  };
  for (int r = 0; r < rowCount(); ++r) {
    rbe::codec::TensorOverride o;
    o.pattern = cellText(r, Pattern).toStdString();
    if (o.pattern.empty()) return fail(r, tr("the tensor pattern is empty"));
    o.settings = defaults;
    if (const QString codec = cellText(r, Codec); !codec.isEmpty()) {
      static const QStringList known = {QStringLiteral("rbe"), QStringLiteral("q8_0"), QStringLiteral("q4_0"),
                                        QStringLiteral("f16"), QStringLiteral("f32")};
      if (!known.contains(codec)) return fail(r, tr("unknown codec \"%1\" (use rbe, q8_0, q4_0, f16 or f32)").arg(codec));
      o.settings.codec = codec.toStdString();
      if (o.settings.codec != "rbe") o.settings.block_size = 32;
    }
    if (const QString storage = cellText(r, Storage); !storage.isEmpty()) {
      if (storage == QLatin1String("fixed")) o.settings.storage = rbe::codec::Storage::Fixed;
      else if (storage == QLatin1String("entropy")) o.settings.storage = rbe::codec::Storage::Entropy;
      else return fail(r, tr("unknown storage \"%1\" (use fixed or entropy)").arg(storage));
    }
    if (const QString target = cellText(r, Target); !target.isEmpty()) {
      bool isNumber = false;
      const double bpw = target.toDouble(&isNumber);
      if (isNumber) {
        if (!(bpw > 0 && bpw <= 32)) return fail(r, tr("bits per weight %1 is out of range (0, 32]").arg(target));
        o.settings.bpw = bpw;
        o.settings.grade.reset();
      } else if (auto g = rbe::codec::parse_grade(target.toStdString())) {
        o.settings.grade = *g;
        o.settings.bpw.reset();
      } else {
        return fail(r, tr("the target \"%1\" is neither a grade (S+ … C) nor a number of bits per weight").arg(target));
      }
    }
    if (const QString block = cellText(r, BlockSize); !block.isEmpty()) {
      bool ok = false;
      const int b = block.toInt(&ok);
      if (!ok || b < 4 || b > 1024) return fail(r, tr("block size \"%1\" is not a whole number in [4, 1024]").arg(block));
      o.settings.block_size = b;
    }
    out.push_back(std::move(o));
  }
  return out;
}

void CodecOverrideTable::save(QSettings& settings, const QString& group) const {
  QStringList rows;
  for (int r = 0; r < rowCount(); ++r) {
    QStringList cells;
    for (int c = 0; c < ColumnCount; ++c) cells << cellText(r, c);
    rows << cells.join(QLatin1Char('\t'));
  }
  settings.setValue(group + QStringLiteral("/overrides"), rows);
}

void CodecOverrideTable::restore(QSettings& settings, const QString& group) {
  setRowCount(0);
  for (const QString& line : settings.value(group + QStringLiteral("/overrides")).toStringList()) {
    QStringList cells = line.split(QLatin1Char('\t'));
    while (cells.size() < ColumnCount) cells << QString();
    addOverride(cells[0], cells[1], cells[2], cells[3], cells[4]);
  }
}
