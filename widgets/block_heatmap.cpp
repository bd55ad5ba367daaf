#include "block_heatmap.h"

#include <QApplication>
#include <QHelpEvent>
#include <QKeyEvent>
#include <QMouseEvent>
#include <QPainter>
#include <QToolTip>
#include <QWheelEvent>
#include <algorithm>
#include <cmath>

#include "block_colors.h"

using rbe::codec::BlockStats;
using rbe::codec::QualityGrade;

namespace {
constexpr double kZoomStep = 1.25;
constexpr double kMaxAspect = 2.0;  // very tall or wide matrices are drawn at most 2:1
constexpr double kGridMinCell = 6.0;  // block borders are drawn once cells are this wide (px)
}  // namespace

BlockHeatmap::BlockHeatmap(QWidget* parent) : QWidget(parent) {
  setMouseTracking(false);
  setFocusPolicy(Qt::ClickFocus);
  setAttribute(Qt::WA_OpaquePaintEvent, false);
}

void BlockHeatmap::setBlocks(std::vector<BlockStats> blocks, int64_t rows, int64_t cols) {
  blocks_ = std::move(blocks);
  rows_ = rows;
  cols_ = cols;
  selected_ = -1;
  zoom_ = 1.0;
  pan_ = {};
  buildGrid();
  rebuildImage();
  emit zoomChanged(zoom_);
  update();
}

void BlockHeatmap::clear() { setBlocks({}, 0, 0); }

// Grid lines are the distinct block starts; a block covers every cell between
// its start and its end, so irregular edge blocks are drawn where they are.
void BlockHeatmap::buildGrid() {
  rowStarts_.clear();
  colStarts_.clear();
  gradeCounts_.assign(rbe::codec::kGradeCount, 0);
  rmseMax_ = 0;
  for (const BlockStats& b : blocks_) {
    rowStarts_.push_back(b.row0);
    colStarts_.push_back(b.col0);
    gradeCounts_[size_t(std::clamp(int(b.grade), 0, rbe::codec::kGradeCount - 1))]++;
    if (std::isfinite(b.rmse)) rmseMax_ = std::max(rmseMax_, b.rmse);
  }
  for (auto* v : {&rowStarts_, &colStarts_}) {
    std::sort(v->begin(), v->end());
    v->erase(std::unique(v->begin(), v->end()), v->end());
  }
  const size_t nr = rowStarts_.size(), nc = colStarts_.size();
  cellBlock_.assign(nr * nc, -1);
  auto index = [](const std::vector<int32_t>& starts, int64_t x) {
    return size_t(std::lower_bound(starts.begin(), starts.end(), x) - starts.begin());
  };
  for (size_t i = 0; i < blocks_.size(); ++i) {
    const BlockStats& b = blocks_[i];
    const size_t r0 = index(rowStarts_, b.row0), r1 = std::max(r0 + 1, index(rowStarts_, int64_t(b.row0) + b.rows));
    const size_t c0 = index(colStarts_, b.col0), c1 = std::max(c0 + 1, index(colStarts_, int64_t(b.col0) + b.cols));
    for (size_t r = r0; r < r1 && r < nr; ++r)
      for (size_t c = c0; c < c1 && c < nc; ++c) cellBlock_[r * nc + c] = int32_t(i);
  }
}

QColor BlockHeatmap::blockColor(int index) const {
  if (index < 0 || index >= blockCount()) return {};
  const BlockStats& b = blocks_[size_t(index)];
  if (mode_ == ColorMode::Grade) return block_colors::gradeColor(b.grade);
  return block_colors::sequentialColor(rmseMax_ > 0 ? double(b.rmse) / rmseMax_ : 0.0);
}

void BlockHeatmap::rebuildImage() {
  const int nr = int(rowStarts_.size()), nc = int(colStarts_.size());
  if (nr == 0 || nc == 0) {
    image_ = QImage();
    return;
  }
  image_ = QImage(nc, nr, QImage::Format_RGB32);
  image_.fill(palette().color(QPalette::Base));
  std::vector<QRgb> colorOf(blocks_.size());
  for (size_t i = 0; i < blocks_.size(); ++i) colorOf[i] = blockColor(int(i)).rgb();
  for (int r = 0; r < nr; ++r) {
    auto* line = reinterpret_cast<QRgb*>(image_.scanLine(r));
    for (int c = 0; c < nc; ++c) {
      const int32_t b = cellBlock_[size_t(r) * size_t(nc) + size_t(c)];
      if (b >= 0) line[c] = colorOf[size_t(b)];
    }
  }
}

void BlockHeatmap::setColorMode(ColorMode mode) {
  if (mode == mode_) return;
  mode_ = mode;
  rebuildImage();
  update();
}

int BlockHeatmap::legendHeight() const { return fontMetrics().height() + 14; }

QRect BlockHeatmap::areaRect() const {
  return rect().adjusted(4, 4, -4, -legendHeight() - 4);
}

QRectF BlockHeatmap::fitRect() const {
  const QRect area = areaRect();
  if (rows_ <= 0 || cols_ <= 0 || area.width() <= 0 || area.height() <= 0) return {};
  const double aspect = std::clamp(double(cols_) / double(rows_), 1.0 / kMaxAspect, kMaxAspect);  // width / height
  double w = area.width(), h = w / aspect;
  if (h > area.height()) {
    h = area.height();
    w = h * aspect;
  }
  return QRectF(area.center().x() + 0.5 - w / 2, area.center().y() + 0.5 - h / 2, w, h);
}

QRectF BlockHeatmap::dataRect() const {
  const QRectF fit = fitRect();
  if (fit.isEmpty()) return {};
  const QSizeF size = fit.size() * zoom_;
  const QPointF center = fit.center() + pan_;
  return QRectF(center.x() - size.width() / 2, center.y() - size.height() / 2, size.width(), size.height());
}

double BlockHeatmap::maxZoom() const {
  // Deep enough that the smallest grid cell becomes ~24 px.
  const QRectF fit = fitRect();
  if (fit.isEmpty() || image_.isNull()) return 1.0;
  const double cell = std::min(fit.width() / image_.width(), fit.height() / image_.height());
  return std::max(8.0, 24.0 / std::max(cell, 1e-6));
}

void BlockHeatmap::setZoomAround(double zoom, QPointF anchor) {
  zoom = std::clamp(zoom, 1.0, maxZoom());
  if (zoom == zoom_) return;
  // Keep the data point under `anchor` where it is.
  const QRectF before = dataRect();
  if (!before.isEmpty()) {
    const QPointF rel((anchor.x() - before.left()) / before.width(), (anchor.y() - before.top()) / before.height());
    zoom_ = zoom;
    const QRectF after = dataRect();
    pan_ += anchor - QPointF(after.left() + rel.x() * after.width(), after.top() + rel.y() * after.height());
  } else {
    zoom_ = zoom;
  }
  clampPan();
  emit zoomChanged(zoom_);
  update();
}

void BlockHeatmap::clampPan() {
  // The data may not leave the area: its edges stay at or beyond the area's.
  const QRectF fit = fitRect();
  const double mx = std::max(0.0, (fit.width() * zoom_ - fit.width()) / 2);
  const double my = std::max(0.0, (fit.height() * zoom_ - fit.height()) / 2);
  pan_.setX(std::clamp(pan_.x(), -mx, mx));
  pan_.setY(std::clamp(pan_.y(), -my, my));
}

void BlockHeatmap::zoomIn() { setZoomAround(zoom_ * kZoomStep, areaRect().center()); }
void BlockHeatmap::zoomOut() { setZoomAround(zoom_ / kZoomStep, areaRect().center()); }
void BlockHeatmap::resetZoom() {
  zoom_ = 1.0;
  pan_ = {};
  emit zoomChanged(zoom_);
  update();
}

int BlockHeatmap::blockAt(const QPoint& pos) const {
  const QRectF d = dataRect();
  if (image_.isNull() || d.isEmpty() || !d.contains(pos) || !areaRect().contains(pos)) return -1;
  const int c = std::clamp(int((pos.x() - d.left()) / d.width() * image_.width()), 0, image_.width() - 1);
  const int r = std::clamp(int((pos.y() - d.top()) / d.height() * image_.height()), 0, image_.height() - 1);
  return cellBlock_[size_t(r) * size_t(image_.width()) + size_t(c)];
}

QRectF BlockHeatmap::blockRect(int index) const {
  const QRectF d = dataRect();
  if (index < 0 || index >= blockCount() || d.isEmpty()) return {};
  const BlockStats& b = blocks_[size_t(index)];
  auto cell = [](const std::vector<int32_t>& starts, int64_t x) {
    return double(std::lower_bound(starts.begin(), starts.end(), x) - starts.begin());
  };
  const double cw = d.width() / image_.width(), ch = d.height() / image_.height();
  const double c0 = cell(colStarts_, b.col0), c1 = std::max(c0 + 1, cell(colStarts_, int64_t(b.col0) + b.cols));
  const double r0 = cell(rowStarts_, b.row0), r1 = std::max(r0 + 1, cell(rowStarts_, int64_t(b.row0) + b.rows));
  return QRectF(d.left() + c0 * cw, d.top() + r0 * ch, (c1 - c0) * cw, (r1 - r0) * ch);
}

QString BlockHeatmap::toolTipText(int index) const {
  if (index < 0 || index >= blockCount()) return {};
  const BlockStats& b = blocks_[size_t(index)];
  const double weights = double(b.rows) * double(b.cols);
  return tr("Block %1\nRows %2–%3, columns %4–%5 (%6 × %7)\nGrade %8\nRMSE %9 (relative %10)\nBits %11 (%12 bits/weight)")
      .arg(index)
      .arg(b.row0)
      .arg(int64_t(b.row0) + b.rows - 1)
      .arg(b.col0)
      .arg(int64_t(b.col0) + b.cols - 1)
      .arg(b.rows)
      .arg(b.cols)
      .arg(QString::fromUtf8(rbe::codec::grade_name(b.grade)))
      .arg(double(b.rmse), 0, 'g', 4)
      .arg(double(b.rel_rmse), 0, 'g', 4)
      .arg(double(b.bits), 0, 'f', 1)
      .arg(weights > 0 ? double(b.bits) / weights : 0.0, 0, 'f', 3);
}

void BlockHeatmap::selectBlock(int index) {
  if (index < -1 || index >= blockCount()) index = -1;
  if (index == selected_) return;
  selected_ = index;
  update();
  emit blockSelected(index);
}

bool BlockHeatmap::event(QEvent* e) {
  if (e->type() == QEvent::ToolTip) {
    auto* help = static_cast<QHelpEvent*>(e);
    const int i = blockAt(help->pos());
    if (i >= 0)
      QToolTip::showText(help->globalPos(), toolTipText(i), this, blockRect(i).toAlignedRect());
    else
      QToolTip::hideText();
    return true;
  }
  return QWidget::event(e);
}

void BlockHeatmap::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.fillRect(rect(), palette().color(QPalette::Window));
  const QRect area = areaRect();
  const QRectF d = dataRect();
  if (image_.isNull() || d.isEmpty()) {
    p.setPen(palette().color(QPalette::PlaceholderText));
    p.drawText(rect(), Qt::AlignCenter | Qt::TextWordWrap, tr("No blocks to show.\nCompress the model and select a tensor."));
    return;
  }
  p.save();
  p.setClipRect(area);
  // Draw only the visible part of the image: cheap at any zoom.
  const QRectF visible = d.intersected(QRectF(area));
  const double sx = image_.width() / d.width(), sy = image_.height() / d.height();
  const int ix0 = std::max(0, int(std::floor((visible.left() - d.left()) * sx)));
  const int iy0 = std::max(0, int(std::floor((visible.top() - d.top()) * sy)));
  const int ix1 = std::min(image_.width(), int(std::ceil((visible.right() - d.left()) * sx)));
  const int iy1 = std::min(image_.height(), int(std::ceil((visible.bottom() - d.top()) * sy)));
  if (ix1 > ix0 && iy1 > iy0) {
    const QRectF target(d.left() + ix0 / sx, d.top() + iy0 / sy, (ix1 - ix0) / sx, (iy1 - iy0) / sy);
    p.drawImage(target, image_, QRectF(ix0, iy0, ix1 - ix0, iy1 - iy0));
    // Block borders, once cells are big enough to tell apart.
    QColor line = palette().color(QPalette::Window);
    line.setAlpha(170);
    p.setPen(QPen(line, 0));
    if (1 / sx >= kGridMinCell)
      for (int x = ix0 + 1; x < ix1; ++x) p.drawLine(QPointF(d.left() + x / sx, target.top()), QPointF(d.left() + x / sx, target.bottom()));
    if (1 / sy >= kGridMinCell)
      for (int y = iy0 + 1; y < iy1; ++y) p.drawLine(QPointF(target.left(), d.top() + y / sy), QPointF(target.right(), d.top() + y / sy));
  }
  if (selected_ >= 0) {
    p.setPen(QPen(palette().color(QPalette::Highlight), 2));
    p.setBrush(Qt::NoBrush);
    p.drawRect(blockRect(selected_));
  }
  p.restore();
  paintLegend(p, QRect(area.left(), area.bottom() + 4, area.width(), legendHeight()));
}

void BlockHeatmap::paintLegend(QPainter& p, const QRect& r) const {
  const QFontMetrics fm = fontMetrics();
  const int sw = fm.height() - 2;  // swatch edge
  const int y = r.top() + (r.height() - sw) / 2;
  p.setPen(palette().color(QPalette::WindowText));
  if (mode_ == ColorMode::Grade) {
    int x = r.left();
    for (int g = 0; g < rbe::codec::kGradeCount; ++g) {
      const QString label =
          QStringLiteral("%1 (%2)").arg(QString::fromUtf8(rbe::codec::grade_name(QualityGrade(g)))).arg(gradeCounts_[size_t(g)]);
      p.fillRect(QRect(x, y, sw, sw), block_colors::gradeColor(QualityGrade(g)));
      p.drawText(QRect(x + sw + 3, r.top(), fm.horizontalAdvance(label) + 2, r.height()), Qt::AlignVCenter, label);
      x += sw + 3 + fm.horizontalAdvance(label) + 10;
    }
    return;
  }
  const QString lo = QStringLiteral("0"), hi = QString::number(double(rmseMax_), 'g', 3);
  const QString title = tr("RMSE");
  int x = r.left();
  p.drawText(QRect(x, r.top(), fm.horizontalAdvance(title) + 4, r.height()), Qt::AlignVCenter, title);
  x += fm.horizontalAdvance(title) + 8;
  p.drawText(QRect(x, r.top(), fm.horizontalAdvance(lo) + 2, r.height()), Qt::AlignVCenter, lo);
  x += fm.horizontalAdvance(lo) + 4;
  const int barW = std::max(40, std::min(240, r.right() - x - fm.horizontalAdvance(hi) - 8));
  QLinearGradient grad(x, 0, x + barW, 0);
  for (int i = 0; i <= 8; ++i) grad.setColorAt(i / 8.0, block_colors::sequentialColor(i / 8.0));
  p.fillRect(QRect(x, y, barW, sw), grad);
  p.drawText(QRect(x + barW + 4, r.top(), fm.horizontalAdvance(hi) + 2, r.height()), Qt::AlignVCenter, hi);
}

void BlockHeatmap::wheelEvent(QWheelEvent* e) {
  const double steps = e->angleDelta().y() / 120.0;
  if (steps == 0) return;
  setZoomAround(zoom_ * std::pow(kZoomStep, steps), e->position());
  e->accept();
}

void BlockHeatmap::keyPressEvent(QKeyEvent* e) {
  switch (e->key()) {
    case Qt::Key_Plus:
    case Qt::Key_Equal: return zoomIn();
    case Qt::Key_Minus: return zoomOut();
    case Qt::Key_0: return resetZoom();
    default: QWidget::keyPressEvent(e);
  }
}

void BlockHeatmap::mousePressEvent(QMouseEvent* e) {
  if (e->button() != Qt::LeftButton) return QWidget::mousePressEvent(e);
  pressPos_ = e->pos();
  panAtPress_ = pan_;
  dragging_ = false;
}

void BlockHeatmap::mouseMoveEvent(QMouseEvent* e) {
  if (!(e->buttons() & Qt::LeftButton)) return;
  if (!dragging_ && (e->pos() - pressPos_).manhattanLength() >= QApplication::startDragDistance()) dragging_ = true;
  if (dragging_) {
    pan_ = panAtPress_ + QPointF(e->pos() - pressPos_);
    clampPan();
    update();
  }
}

void BlockHeatmap::mouseReleaseEvent(QMouseEvent* e) {
  if (e->button() != Qt::LeftButton) return QWidget::mouseReleaseEvent(e);
  if (!dragging_) selectBlock(blockAt(e->pos()));
  dragging_ = false;
}
