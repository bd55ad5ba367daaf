#pragma once
// A zoomable map of one encoded tensor's blocks: every block a cell at its
// place in the matrix, coloured by quality grade or by RMSE, with a legend,
// a tooltip per block and click-to-select. The cells are painted into a QImage
// (one pixel per grid cell) once per data or mode change and scaled on paint,
// so 10^5 blocks stay cheap. Wheel, + / - keys or zoomIn()/zoomOut() zoom,
// dragging pans.
#include <QImage>
#include <QPointF>
#include <QWidget>
#include <cstdint>
#include <vector>

#include "codec/codec.h"

class BlockHeatmap : public QWidget {
  Q_OBJECT
 public:
  enum class ColorMode { Grade, Rmse };
  Q_ENUM(ColorMode)

  explicit BlockHeatmap(QWidget* parent = nullptr);

  // The blocks of a rows x cols matrix (BlockStats row0/col0/rows/cols in weights).
  void setBlocks(std::vector<rbe::codec::BlockStats> blocks, int64_t rows, int64_t cols);
  void clear();

  int blockCount() const { return int(blocks_.size()); }
  const std::vector<rbe::codec::BlockStats>& blocks() const { return blocks_; }
  ColorMode colorMode() const { return mode_; }
  double zoom() const { return zoom_; }
  double maxZoom() const;
  int selectedBlock() const { return selected_; }

  // The block under a point in widget coordinates, or -1.
  int blockAt(const QPoint& pos) const;
  // Where block `index` is drawn now (widget coordinates; empty when unknown).
  QRectF blockRect(int index) const;
  QString toolTipText(int index) const;
  // The colour block `index` is painted with in the current mode.
  QColor blockColor(int index) const;
  // The painted cells, one pixel per grid cell (for tests and exports).
  const QImage& image() const { return image_; }
  QSize sizeHint() const override { return {420, 360}; }
  QSize minimumSizeHint() const override { return {160, 120}; }

 public slots:
  void setColorMode(BlockHeatmap::ColorMode mode);
  void zoomIn();
  void zoomOut();
  void resetZoom();
  void selectBlock(int index);  // -1 clears the selection

 signals:
  void blockSelected(int index);
  void zoomChanged(double zoom);

 protected:
  bool event(QEvent* e) override;
  void paintEvent(QPaintEvent*) override;
  void wheelEvent(QWheelEvent* e) override;
  void keyPressEvent(QKeyEvent* e) override;  // + / - zoom, 0 fits
  void mousePressEvent(QMouseEvent* e) override;
  void mouseMoveEvent(QMouseEvent* e) override;
  void mouseReleaseEvent(QMouseEvent* e) override;

 private:
  void buildGrid();
  void rebuildImage();
  void setZoomAround(double zoom, QPointF anchor);
  void clampPan();
  QRect areaRect() const;      // the widget minus the legend strip
  QRectF fitRect() const;      // the data at zoom 1: centred, matrix aspect (bounded)
  QRectF dataRect() const;     // the data at the current zoom and pan
  int legendHeight() const;
  void paintLegend(QPainter& p, const QRect& r) const;

  std::vector<rbe::codec::BlockStats> blocks_;
  int64_t rows_ = 0, cols_ = 0;
  std::vector<int32_t> rowStarts_, colStarts_;  // grid lines in weights (sorted block starts)
  std::vector<int32_t> cellBlock_;              // grid cell (r * ncols + c) -> block index, -1 if none
  std::vector<int> gradeCounts_;
  float rmseMax_ = 0;
  QImage image_;
  ColorMode mode_ = ColorMode::Grade;
  double zoom_ = 1.0;
  QPointF pan_;  // offset of the data's centre from the fitted centre, in pixels
  int selected_ = -1;
  QPoint pressPos_;
  QPointF panAtPress_;
  bool dragging_ = false;
};
