// Renders each panel with real content, as `rbe-workbench --screenshot` does,
// into BUILD/tests/gui/screenshots/{model,compress,chat,train}.png. The docs'
// screenshots are these files:
//   cp BUILD/tests/gui/screenshots/*.png docs/screenshots/
#include <QDir>
#include <QImage>
#include <QSignalSpy>
#include <QtTest>
#include <set>

#include "compress_panel.h"
#include "gui_test_util.h"
#include "main_window.h"
#include "screenshot_runner.h"
#include "train_panel.h"
#include "workbench_context.h"

class TestScreenshots : public QObject {
  Q_OBJECT
 private slots:
  void initTestCase();
  void renders_data();
  void renders();
  void cleanupTestCase();

 private:
  QString outDir_;
  MainWindow* window_ = nullptr;  // one window: the chat shot reuses the compress shot's compression
};

void TestScreenshots::initTestCase() {
  guitest::isolateSettings("tst_screenshots");
  outDir_ = QStringLiteral(RBE_BINARY_DIR "/tests/gui/screenshots");
  QVERIFY(QDir().mkpath(outDir_));
  window_ = new MainWindow;
}

void TestScreenshots::cleanupTestCase() { delete window_; }

void TestScreenshots::renders_data() {
  QTest::addColumn<QString>("panel");
  // The model shot comes after the compression, so that its tree shows the codec columns.
  for (const char* p : {"compress", "chat", "model", "train"}) QTest::newRow(p) << QString::fromLatin1(p);
}

void TestScreenshots::renders() {
  QFETCH(QString, panel);
  ScreenshotRunner::Options opt;
  opt.panel = *MainWindow::panelFromName(panel);
  opt.outPath = outDir_ + QLatin1Char('/') + panel + QStringLiteral(".png");
  opt.trainTextPath = guitest::shakespearePath();
  QFile::remove(opt.outPath);
  ScreenshotRunner runner(window_, opt);
  QSignalSpy done(&runner, &ScreenshotRunner::finished);
  runner.start();
  QVERIFY(done.count() == 1 || done.wait(opt.timeoutMs));
  QVERIFY2(done.first().at(0).toBool(), qPrintable(done.first().at(1).toString()));

  const QImage image(opt.outPath);
  QVERIFY(!image.isNull());
  QCOMPARE(image.size(), window_->size() * window_->devicePixelRatio());
  // Real content, not a blank window: many distinct colours.
  std::set<QRgb> colours;
  for (int y = 0; y < image.height(); y += 4)
    for (int x = 0; x < image.width(); x += 4) colours.insert(image.pixel(x, y));
  QVERIFY2(colours.size() > 20, qPrintable(QString::number(colours.size())));
  QCOMPARE(window_->currentPanel(), opt.panel);
  if (panel == QLatin1String("compress")) QVERIFY(window_->context()->compression());
  if (panel == QLatin1String("train")) QVERIFY(window_->trainPanel()->stepsDone() > 0);
}

QTEST_MAIN(TestScreenshots)
#include "tst_screenshots.moc"
