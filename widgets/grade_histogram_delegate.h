#pragma once
// Paints a table cell's grade histogram (TensorQualityModel::GradeCountsRole)
// as a stacked bar in the grade colours; the text stays in the tooltip.
#include <QStyledItemDelegate>

class GradeHistogramDelegate : public QStyledItemDelegate {
  Q_OBJECT
 public:
  using QStyledItemDelegate::QStyledItemDelegate;
  void paint(QPainter* p, const QStyleOptionViewItem& option, const QModelIndex& index) const override;
  QSize sizeHint(const QStyleOptionViewItem& option, const QModelIndex& index) const override;
};
