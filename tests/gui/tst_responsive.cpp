// No engine work on the GUI thread: while a model loads (in a worker, as the
// main window does) and the compression panel compresses it and measures
// validation losses -- and while a tiny model trains at hundreds of steps a
// second -- a QTimer on the GUI thread keeps firing; the longest gap between
// its ticks stays far below what a user would notice as a freeze.
#include <QElapsedTimer>
#include <QFutureWatcher>
#include <QSignalSpy>
#include <QTest>
#include <QLineSeries>
#include <QTimer>
#include <QtConcurrent/QtConcurrentRun>

#include "codec/model_codec.h"
#include "codec_settings_form.h"
#include "compress_panel.h"
#include "gui_test_util.h"
#include "loss_chart.h"
#include "train_panel.h"
#include "workbench_context.h"


class TestResponsive : public QObject {
  Q_OBJECT
 private slots:
  void initTestCase() { guitest::isolateSettings("tst_responsive"); }

  void eventLoopKeepsAnsweringDuringLoadAndCompression() {
    const QString modelPath = guitest::defaultModelDir();
    WorkbenchContext ctx;
    ctx.settings().remove(QStringLiteral("compress"));
    CompressPanel panel(&ctx);
    panel.resize(1000, 700);
    panel.show();
    QVERIFY(QTest::qWaitForWindowExposed(&panel));

    // The ticker: the longest time between two ticks is what a user would feel.
    QElapsedTimer clock;
    qint64 last = -1, maxGap = 0, ticks = 0;
    QTimer ticker;
    ticker.setInterval(10);
    connect(&ticker, &QTimer::timeout, this, [&] {
      const qint64 now = clock.elapsed();
      if (last >= 0) maxGap = std::max(maxGap, now - last);
      last = now;
      ++ticks;
    });
    clock.start();
    ticker.start();

    // Load in a worker thread.
    QFutureWatcher<std::shared_ptr<rbe::LoadedModel>> load;
    QSignalSpy loaded(&load, &QFutureWatcherBase::finished);
    load.setFuture(QtConcurrent::run([path = modelPath.toStdString()] {
      return std::make_shared<rbe::LoadedModel>(rbe::codec::load_any_model(path));
    }));
    QVERIFY(loaded.wait(60000));
    ctx.setModel(load.result(), modelPath);
    const qint64 loadMs = clock.elapsed();

    // Compress (RBE fixed) and score the original and compressed model on held-out text.
    rbe::codec::CodecSettings s;
    s.codec = "rbe";
    s.bpw = 3.0;
    panel.settingsForm()->setSettings(s);
    panel.setValidationTextPath(guitest::shakespearePath());
    QSignalSpy finished(&panel, &CompressPanel::compressionFinished);
    panel.startCompression();
    QVERIFY(finished.wait(60000));
    QCOMPARE(finished.at(0).at(0).toBool(), true);
    ticker.stop();
    const qint64 totalMs = clock.elapsed();

    qInfo("load %lld ms, load + compress + validation %lld ms, %lld ticks, longest gap between ticks %lld ms",
          loadMs, totalMs, ticks, maxGap);
    QVERIFY(ctx.compression());
    QVERIFY(ticks > totalMs / 100);  // the timer really ran throughout (10 ms interval; allow a slow machine)
    QVERIFY2(maxGap < 250, qPrintable(QStringLiteral("the GUI thread stalled for %1 ms").arg(maxGap)));
  }

  void eventLoopKeepsAnsweringWhileATinyModelTrains() {
    // A tiny model takes a step every few milliseconds: the panel must not
    // drown the GUI thread in per-step work.
    WorkbenchContext ctx;
    ctx.settings().remove(QStringLiteral("train"));
    TrainPanel panel(&ctx);
    panel.resize(1000, 700);
    panel.show();
    QVERIFY(QTest::qWaitForWindowExposed(&panel));
    TrainJob j;
    j.textPath = guitest::shakespearePath();
    j.preset = QStringLiteral("custom");
    j.nLayer = 1, j.nEmbd = 16, j.nHead = 2, j.context = 16, j.ctx = 16;
    j.steps = 10000;
    j.batch = 2;
    j.evalEvery = 100;
    j.evalBatches = 1;
    panel.setJob(j);

    QElapsedTimer clock;
    qint64 last = -1, maxGap = 0, gapEnd = 0;
    QTimer ticker;
    ticker.setInterval(10);
    connect(&ticker, &QTimer::timeout, this, [&] {
      const qint64 now = clock.elapsed();
      if (last >= 0 && now - last > maxGap) maxGap = now - last, gapEnd = now;
      last = now;
    });
    clock.start();
    ticker.start();
    QSignalSpy finished(&panel, &TrainPanel::trainingFinished);
    panel.start();
    QVERIFY(finished.wait(60000));
    ticker.stop();
    QCOMPARE(finished.at(0).at(0).toBool(), true);
    QCOMPARE(panel.lossChart()->trainPointCount(), 10000);
    QVERIFY(panel.lossChart()->trainSeries()->count() <= LossChart::kMaxDrawn);  // drawn as bucket means
    qInfo("10000 training steps in %lld ms, longest gap between ticks %lld ms (ending at %lld ms)", clock.elapsed(), maxGap,
          gapEnd);
    QVERIFY2(maxGap < 250, qPrintable(QStringLiteral("the GUI thread stalled for %1 ms").arg(maxGap)));
  }
};

QTEST_MAIN(TestResponsive)
#include "tst_responsive.moc"
