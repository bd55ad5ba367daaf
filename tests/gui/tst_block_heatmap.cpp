// BlockHeatmap: hit testing, colours, tooltips, selection and zoom, checked
// against the block list itself (which block holds a given weight), not
// against the widget's own geometry helpers.
#include <QSignalSpy>
#include <QTest>
#include <QWheelEvent>

#include "block_colors.h"
#include "block_heatmap.h"

using rbe::codec::BlockStats;
using rbe::codec::QualityGrade;

namespace {

// A rows x cols matrix tiled by br x bc blocks (edge blocks cut), grades and RMSE varying per block.
std::vector<BlockStats> tile(int rows, int cols, int br, int bc) {
  std::vector<BlockStats> blocks;
  for (int r = 0; r < rows; r += br)
    for (int c = 0; c < cols; c += bc) {
      BlockStats b;
      b.row0 = r, b.col0 = c;
      b.rows = std::min(br, rows - r), b.cols = std::min(bc, cols - c);
      const int i = int(blocks.size());
      b.grade = QualityGrade(i % rbe::codec::kGradeCount);
      b.rmse = 0.001f * float(i + 1);
      b.rel_rmse = 0.01f * float(i + 1);
      b.bits = 4.0f * float(b.rows * b.cols);
      blocks.push_back(b);
    }
  return blocks;
}

// The block that holds weight (r, c), by scanning the list.
int owner(const std::vector<BlockStats>& blocks, double r, double c) {
  for (size_t i = 0; i < blocks.size(); ++i) {
    const auto& b = blocks[i];
    if (r >= b.row0 && r < b.row0 + b.rows && c >= b.col0 && c < b.col0 + b.cols) return int(i);
  }
  return -1;
}

}  // namespace

class TestBlockHeatmap : public QObject {
  Q_OBJECT
 private slots:
  void emptyHeatmapHasNoBlocks() {
    BlockHeatmap h;
    h.resize(300, 200);
    QCOMPARE(h.blockCount(), 0);
    QCOMPARE(h.blockAt(QPoint(150, 100)), -1);
    QVERIFY(h.toolTipText(0).isEmpty());
    QVERIFY(!h.grab().isNull());  // paints the empty state without crashing
  }

  void blockAtMatchesTheWeightUnderThePoint() {
    // 192 x 256 weights in 64 x 32 blocks: a 3 x 8 grid.
    const auto blocks = tile(192, 256, 64, 32);
    BlockHeatmap h;
    h.resize(500, 400);
    h.setBlocks(blocks, 192, 256);
    QCOMPARE(h.blockCount(), 24);
    QCOMPARE(h.image().size(), QSize(8, 3));
    for (double zoom : {1.0, 2.0}) {
      if (zoom > 1) h.zoomIn(), h.zoomIn(), h.zoomIn();
      // The data's extent on screen: from block 0's top-left to the last block's bottom-right.
      const QRectF first = h.blockRect(0), last = h.blockRect(int(blocks.size()) - 1);
      const QRectF data(first.topLeft(), last.bottomRight());
      // Matrix aspect (256 wide : 192 high) is kept.
      QVERIFY(std::abs(data.width() / data.height() - 256.0 / 192.0) < 0.02);
      int checked = 0;
      for (double fy = 0.03; fy < 1; fy += 0.0611)
        for (double fx = 0.03; fx < 1; fx += 0.047) {
          const QPoint p(int(data.left() + fx * data.width()), int(data.top() + fy * data.height()));
          if (!h.rect().adjusted(4, 4, -4, -40).contains(p)) continue;  // zoomed: off screen
          // The weight at the point.
          const double r = (p.y() - data.top()) / data.height() * 192;
          const double c = (p.x() - data.left()) / data.width() * 256;
          QCOMPARE(h.blockAt(p), owner(blocks, r, c));
          ++checked;
        }
      QVERIFY(checked > 50);
    }
    QCOMPARE(h.blockAt(QPoint(1, 1)), -1);  // the margin holds no block
  }

  void irregularEdgeBlocksAreFoundAtTheirCentres() {
    // 100 x 70 in 32 x 32 blocks: edge blocks 4 rows and 6 columns.
    const auto blocks = tile(100, 70, 32, 32);
    BlockHeatmap h;
    h.resize(400, 400);
    h.setBlocks(blocks, 100, 70);
    QCOMPARE(h.blockCount(), 12);
    for (int i = 0; i < h.blockCount(); ++i) QCOMPARE(h.blockAt(h.blockRect(i).center().toPoint()), i);
  }

  void gradeColoursAndRmseColours() {
    const auto blocks = tile(128, 256, 64, 64);  // 2 x 4 = 8 blocks, grades S+ .. C
    BlockHeatmap h;
    h.resize(400, 300);
    h.setBlocks(blocks, 128, 256);
    QCOMPARE(h.colorMode(), BlockHeatmap::ColorMode::Grade);
    QSet<QRgb> distinct;
    for (int i = 0; i < 8; ++i) {
      const QColor expected = block_colors::gradeColor(blocks[size_t(i)].grade);
      QCOMPARE(h.blockColor(i), expected);
      QCOMPARE(QColor(h.image().pixel(i % 4, i / 4)), expected);
      distinct.insert(expected.rgb());
    }
    QCOMPARE(distinct.size(), 8);  // eight grades, eight colours

    h.setColorMode(BlockHeatmap::ColorMode::Rmse);
    // RMSE grows with the index: the last block is the top of the scale, colours all differ.
    QCOMPARE(h.blockColor(7), block_colors::sequentialColor(1.0));
    QCOMPARE(QColor(h.image().pixel(3, 1)), block_colors::sequentialColor(1.0));
    QVERIFY(h.blockColor(0) != h.blockColor(7));
    // Both modes paint (legend included) without trouble.
    QVERIFY(!h.grab().isNull());
  }

  void tooltipDescribesTheBlock() {
    const auto blocks = tile(128, 128, 64, 64);
    BlockHeatmap h;
    h.setBlocks(blocks, 128, 128);
    const QString t = h.toolTipText(3);  // rows 64-127, cols 64-127, grade A (index 3)
    QVERIFY2(t.contains(QStringLiteral("Block 3")), qPrintable(t));
    QVERIFY2(t.contains(QStringLiteral("64–127")), qPrintable(t));
    QVERIFY2(t.contains(QStringLiteral("Grade A")), qPrintable(t));
    QVERIFY2(t.contains(QStringLiteral("0.004")), qPrintable(t));  // RMSE of block 3
    QVERIFY2(t.contains(QStringLiteral("4.000 bits/weight")), qPrintable(t));
    QVERIFY(h.toolTipText(4).isEmpty());
    QVERIFY(h.toolTipText(-1).isEmpty());
  }

  void clickSelectsAndWheelZooms() {
    const auto blocks = tile(256, 256, 32, 32);
    BlockHeatmap h;
    h.resize(400, 400);
    h.show();
    QVERIFY(QTest::qWaitForWindowExposed(&h));
    h.setBlocks(blocks, 256, 256);
    QSignalSpy selected(&h, &BlockHeatmap::blockSelected);
    const QPoint at = h.blockRect(10).center().toPoint();
    QTest::mouseClick(&h, Qt::LeftButton, {}, at);
    QCOMPARE(selected.count(), 1);
    QCOMPARE(selected.at(0).at(0).toInt(), 10);
    QCOMPARE(h.selectedBlock(), 10);

    // Wheel up zooms in around the cursor: the block under it stays under it.
    QSignalSpy zoomed(&h, &BlockHeatmap::zoomChanged);
    QWheelEvent wheel(QPointF(at), h.mapToGlobal(QPointF(at)), QPoint(), QPoint(0, 240), Qt::NoButton, Qt::NoModifier,
                      Qt::NoScrollPhase, false);
    QApplication::sendEvent(&h, &wheel);
    QCOMPARE(zoomed.count(), 1);
    QVERIFY(h.zoom() > 1.5);
    QCOMPARE(h.blockAt(at), 10);
    h.resetZoom();
    QCOMPARE(h.zoom(), 1.0);
    h.zoomOut();  // not below fit
    QCOMPARE(h.zoom(), 1.0);
  }

  void manyBlocks() {
    // 3072 x 768 in q8_0-like 1 x 32 blocks: 73 728 blocks.
    const auto blocks = tile(3072, 768, 1, 32);
    BlockHeatmap h;
    h.resize(600, 500);
    h.setBlocks(blocks, 3072, 768);
    QCOMPARE(h.blockCount(), 73728);
    QCOMPARE(h.image().size(), QSize(24, 3072));
    QVERIFY(h.maxZoom() > 100);  // deep enough to see single rows
    for (int i = 0; i < 60; ++i) h.zoomIn();
    QCOMPARE(h.zoom(), h.maxZoom());
    const QPoint centre(300, 240);
    const int i = h.blockAt(centre);
    QVERIFY(i >= 0);
    QVERIFY(h.blockRect(i).contains(centre));
    QVERIFY(h.blockRect(i).height() >= 20);  // a single row of weights is now ~24 px high
    QVERIFY(!h.grab().isNull());
  }
};

QTEST_MAIN(TestBlockHeatmap)
#include "tst_block_heatmap.moc"
