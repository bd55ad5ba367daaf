// TrainPanel: a short run of a tiny model draws one loss point per step and
// a validation point per evaluation, saves a checkpoint that loads again and
// can be opened in the workbench; Pause holds the steps, Stop ends the run;
// bad settings fail with a message instead of a crash.
#include <QFileInfo>
#include <QPushButton>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QLineSeries>

#include "gui_test_util.h"
#include "io/model_loader.h"
#include "loss_chart.h"
#include "train_panel.h"
#include "workbench_context.h"


namespace {

const QString kText = guitest::shakespearePath();
constexpr int kTimeoutMs = 60000;

TrainJob tinyJob(const QString& outDir, int steps) {
  TrainJob j;
  j.textPath = kText;
  j.preset = QStringLiteral("custom");
  j.nLayer = 1;
  j.nEmbd = 32;
  j.nHead = 2;
  j.context = 32;
  j.steps = steps;
  j.batch = 4;
  j.ctx = 32;
  j.lr = 3e-3;
  j.evalEvery = 10;
  j.outDir = outDir;
  return j;
}

}  // namespace

class TestTrainPanel : public QObject {
  Q_OBJECT
 private slots:
  void initTestCase() {
    guitest::isolateSettings("tst_train_panel");
    QVERIFY2(QFileInfo(kText).isFile(), qPrintable(kText + QStringLiteral(" is missing")));
    WorkbenchContext ctx;
    ctx.settings().remove(QStringLiteral("train"));
  }

  void shortRunDrawsLossAndSavesACheckpoint() {
    QTemporaryDir dir;
    WorkbenchContext ctx;
    TrainPanel panel(&ctx);
    panel.resize(1000, 700);
    panel.show();
    const QString out = dir.filePath(QStringLiteral("ckpt"));
    panel.setJob(tinyJob(out, 30));
    QSignalSpy points(&panel, &TrainPanel::lossPointAdded);
    QSignalSpy finished(&panel, &TrainPanel::trainingFinished);
    panel.start();
    QVERIFY(panel.isRunning());
    QVERIFY(!panel.startButton()->isEnabled());
    QVERIFY(finished.wait(kTimeoutMs));
    QCOMPARE(finished.at(0).at(0).toBool(), true);
    QVERIFY2(panel.lastError().isEmpty(), qPrintable(panel.lastError()));

    LossChart* chart = panel.lossChart();
    QCOMPARE(chart->trainPointCount(), 30);       // one per step
    QCOMPARE(chart->validationPointCount(), 3);   // steps 10, 20, 30
    QCOMPARE(points.count(), 33);
    QCOMPARE(chart->trainSeries()->at(29).x(), 30.0);
    // Training lowers the loss: the last steps are below the first (ln 65 = 4.17 at the start).
    const double first = chart->trainSeries()->at(0).y(), last = chart->trainSeries()->at(29).y();
    QVERIFY2(first > 3.5 && last < first, qPrintable(QStringLiteral("%1 -> %2").arg(first).arg(last)));

    // The checkpoint opens with the engine's loader: the custom size came through.
    QCOMPARE(panel.checkpointDir(), out);
    QVERIFY(QFileInfo(out + QStringLiteral("/model.safetensors")).isFile());
    const rbe::LoadedModel m = rbe::load_model(out.toStdString());
    QCOMPARE(m.config.n_layer, int64_t(1));
    QCOMPARE(m.config.n_embd, int64_t(32));
    QCOMPARE(m.config.tokenizer, std::string("char"));

    QVERIFY(panel.openButton()->isEnabled());
    QSignalSpy open(&ctx, &WorkbenchContext::openModelRequested);
    QTest::mouseClick(panel.openButton(), Qt::LeftButton);
    QCOMPARE(open.count(), 1);
    QCOMPARE(open.at(0).at(0).toString(), out);
  }

  void pauseHoldsAndStopEnds() {
    QTemporaryDir dir;
    WorkbenchContext ctx;
    TrainPanel panel(&ctx);
    panel.setJob(tinyJob(dir.filePath(QStringLiteral("ckpt")), 1000000));
    QSignalSpy points(&panel, &TrainPanel::lossPointAdded);
    QSignalSpy finished(&panel, &TrainPanel::trainingFinished);
    panel.start();
    QTRY_VERIFY_WITH_TIMEOUT(points.count() >= 3, kTimeoutMs);

    panel.pause();
    QVERIFY(panel.isPaused());
    // Reports already on their way still arrive (drain them); then nothing while paused.
    while (points.wait(300)) {
    }
    const int held = panel.lossChart()->trainPointCount();
    QVERIFY(!points.wait(700));
    QCOMPARE(panel.lossChart()->trainPointCount(), held);

    panel.resume();
    QVERIFY(points.wait(kTimeoutMs));
    QVERIFY(panel.lossChart()->trainPointCount() > held);

    panel.stop();
    QVERIFY(finished.wait(kTimeoutMs));
    QCOMPARE(finished.at(0).at(0).toBool(), false);  // stopped, not completed
    QVERIFY(panel.lastError().isEmpty());
    QVERIFY(!panel.isRunning());
    QVERIFY(panel.stepsDone() < 1000000);
    QCOMPARE(qint64(panel.lossChart()->trainPointCount()), panel.stepsDone());  // every step drawn, none after
    // A stopped run still saves its checkpoint.
    QVERIFY(QFileInfo(dir.filePath(QStringLiteral("ckpt/model.safetensors"))).isFile());
    QVERIFY(panel.startButton()->isEnabled());
  }

  void stopWhilePausedEnds() {
    WorkbenchContext ctx;
    TrainPanel panel(&ctx);
    panel.setJob(tinyJob(QString(), 1000000));
    QSignalSpy points(&panel, &TrainPanel::lossPointAdded);
    QSignalSpy finished(&panel, &TrainPanel::trainingFinished);
    panel.start();
    QVERIFY(points.wait(kTimeoutMs));
    panel.pause();
    panel.stop();
    QVERIFY(finished.wait(kTimeoutMs));
    QCOMPARE(finished.at(0).at(0).toBool(), false);
    QVERIFY(panel.checkpointDir().isEmpty());  // no folder chosen: nothing saved
  }

  void longRunsAreDrawnAsBucketMeans() {
    LossChart chart;
    for (int step = 1; step <= 5000; ++step) chart.addTrainLoss(step, step);  // loss = step
    chart.flush();
    QCOMPARE(chart.trainPointCount(), 5000);
    QLineSeries* s = chart.trainSeries();
    QVERIFY(s->count() <= LossChart::kMaxDrawn);
    QCOMPARE(s->count(), 1667);  // buckets of 3 steps
    // Bucket k holds steps 3k+1 .. 3k+3: drawn at its last step with the mean loss.
    QCOMPARE(s->at(0), QPointF(3, 2));
    QCOMPARE(s->at(100), QPointF(303, 302));
    QCOMPARE(s->at(1666), QPointF(5000, 4999.5));  // the last bucket holds steps 4999 and 5000
  }

  void badSettingsFailWithAMessage() {
    WorkbenchContext ctx;
    TrainPanel panel(&ctx);
    QSignalSpy finished(&panel, &TrainPanel::trainingFinished);

    TrainJob j = tinyJob(QString(), 10);
    j.textPath = QStringLiteral("/nonexistent/input.txt");
    panel.setJob(j);
    panel.start();
    QCOMPARE(finished.count(), 1);
    QVERIFY(panel.lastError().contains(QStringLiteral("/nonexistent/input.txt")));

    j = tinyJob(QString(), 10);
    j.nEmbd = 30;  // not divisible by 4 heads
    j.nHead = 4;
    panel.setJob(j);
    panel.start();
    QVERIFY(finished.wait(kTimeoutMs));
    QCOMPARE(finished.at(1).at(0).toBool(), false);
    QVERIFY2(panel.lastError().contains(QStringLiteral("n_embd")), qPrintable(panel.lastError()));
    QVERIFY(!panel.isRunning());
    QVERIFY(panel.startButton()->isEnabled());
  }
};

QTEST_MAIN(TestTrainPanel)
#include "tst_train_panel.moc"
