#include "grade_histogram_delegate.h"

#include <QApplication>
#include <QPainter>

#include "block_colors.h"
#include "tensor_quality_model.h"

void GradeHistogramDelegate::paint(QPainter* p, const QStyleOptionViewItem& option, const QModelIndex& index) const {
  const QVariant v = index.data(TensorQualityModel::GradeCountsRole);
  if (!v.canConvert<QList<int>>()) return QStyledItemDelegate::paint(p, option, index);
  const QList<int> counts = v.value<QList<int>>();
  int total = 0;
  for (int c : counts) total += c;
  // Background and selection as the style draws them, without the text.
  QStyleOptionViewItem opt = option;
  initStyleOption(&opt, index);
  opt.text.clear();
  const QWidget* w = option.widget;
  (w ? w->style() : QApplication::style())->drawControl(QStyle::CE_ItemViewItem, &opt, p, w);
  if (total == 0) return;
  const QRectF bar = QRectF(option.rect).adjusted(3, 4, -3, -4);
  double x = bar.left();
  for (int g = 0; g < counts.size(); ++g) {
    if (counts[g] == 0) continue;
    const double width = bar.width() * counts[g] / total;
    p->fillRect(QRectF(x, bar.top(), width, bar.height()), block_colors::gradeColor(rbe::codec::QualityGrade(g)));
    x += width;
  }
}

QSize GradeHistogramDelegate::sizeHint(const QStyleOptionViewItem& option, const QModelIndex& index) const {
  QSize s = QStyledItemDelegate::sizeHint(option, index);
  return {std::max(s.width(), 120), s.height()};
}
