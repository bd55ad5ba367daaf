// CompressPanel on the default model: a run fills the table and the heatmap
// with what the codec measured (checked against an independent decode), a
// cancelled run leaves the previous results intact, bad settings are refused
// with a message, and a run with a validation text adds a rate–distortion point.
#include <QComboBox>
#include <QFile>
#include <QLabel>
#include <QPushButton>
#include <QSignalSpy>
#include <QTableView>
#include <QTest>
#include <algorithm>
#include <cmath>

#include "block_colors.h"
#include "block_heatmap.h"
#include "codec/codec.h"
#include "codec_override_table.h"
#include "codec_settings_form.h"
#include "compress_panel.h"
#include "gui_test_util.h"
#include "io/model_loader.h"
#include "layer_error_chart.h"
#include "rd_chart.h"
#include "tensor_quality_model.h"
#include "train/evaluate.h"
#include "workers/validation_loss.h"
#include "workbench_context.h"


namespace {

const QString kModel = guitest::defaultModelDir();
const QString kText = guitest::shakespearePath();
constexpr int kTimeoutMs = 60000;

// The original weight of a parameter, [out, in] F32.
rbe::Tensor parameter(rbe::LoadedModel& m, const std::string& name) {
  for (auto& [n, t] : m.model->named_parameters())
    if (n == name) return t;
  return {};
}

}  // namespace

class TestCompressPanel : public QObject {
  Q_OBJECT

  WorkbenchContext* ctx_ = nullptr;
  CompressPanel* panel_ = nullptr;

  bool runAndWait(bool expectOk) {
    QSignalSpy finished(panel_, &CompressPanel::compressionFinished);
    panel_->startCompression();
    if (finished.isEmpty() && !finished.wait(kTimeoutMs)) return false;
    return finished.count() == 1 && finished.at(0).at(0).toBool() == expectOk;
  }

 private slots:
  void initTestCase() {
    guitest::isolateSettings("tst_compress_panel");
    ctx_ = new WorkbenchContext(this);
    ctx_->settings().remove(QStringLiteral("compress"));  // a clean start, whatever ran before
    auto model = std::make_shared<rbe::LoadedModel>(rbe::load_model(kModel.toStdString()));
    ctx_->setModel(model, kModel);
    panel_ = new CompressPanel(ctx_);
    panel_->resize(1100, 750);
    panel_->show();
    QVERIFY(QTest::qWaitForWindowExposed(panel_));
  }
  void cleanupTestCase() { delete panel_; }

  void refusesToRunWithoutAModel() {
    WorkbenchContext empty;
    CompressPanel p(&empty);
    QVERIFY(!p.compressButton()->isEnabled());
    QSignalSpy finished(&p, &CompressPanel::compressionFinished);
    p.startCompression();
    QCOMPARE(finished.count(), 1);
    QCOMPARE(finished.at(0).at(0).toBool(), false);
    QVERIFY(!p.lastError().isEmpty());
  }

  void compressionFillsTableAndHeatmap() {
    rbe::codec::CodecSettings s;  // rbe fixed, 4 bits/weight
    s.codec = "rbe";
    s.storage = rbe::codec::Storage::Fixed;
    s.bpw = 4.0;
    panel_->settingsForm()->setSettings(s);
    QSignalSpy progress(panel_, &CompressPanel::progressChanged);
    QVERIFY(runAndWait(true));
    QVERIFY(progress.count() >= 2);
    QVERIFY(!panel_->isRunning());
    QVERIFY(panel_->compressButton()->isEnabled());

    const auto cm = ctx_->compression();
    QVERIFY(cm);
    QVERIFY(ctx_->compressedModel());
    // Mini GPT-2: wte + 2 layers x (c_attn, attn.c_proj, c_fc, mlp.c_proj) = 9 matrices.
    TensorQualityModel* table = panel_->tableModel();
    QCOMPARE(table->rowCount(), int(cm->encoded.size()));
    QCOMPARE(table->rowCount(), 9);
    QCOMPARE(panel_->tableView()->model()->rowCount(), 9);

    // The RMSE column is the true RMSE of decode(encode(W)) - W, recomputed here.
    const int row = table->rowOf(QStringLiteral("h.0.mlp.c_fc.weight"));
    QVERIFY(row >= 0);
    const auto e = table->tensorAt(row);
    const rbe::Tensor W = parameter(*ctx_->model(), "h.0.mlp.c_fc.weight");
    QVERIFY(W.defined());
    QVERIFY(W.shape() == (rbe::Shape{e->rows, e->cols}));
    const std::vector<float> w = W.to_vector(), d = rbe::codec::decode(*e).to_vector();
    double se = 0;
    for (size_t i = 0; i < w.size(); ++i) se += double(w[i] - d[i]) * double(w[i] - d[i]);
    const double rmse = std::sqrt(se / double(w.size()));
    const double shown = table->index(row, TensorQualityModel::Rmse).data(TensorQualityModel::SortRole).toDouble();
    QVERIFY2(std::abs(shown - rmse) <= 1e-3 * rmse + 1e-9, qPrintable(QStringLiteral("%1 vs %2").arg(shown).arg(rmse)));
    QCOMPARE(table->index(row, TensorQualityModel::Shape).data().toString(), QStringLiteral("1024 × 256"));
    QVERIFY(table->index(row, TensorQualityModel::Codec).data().toString().startsWith(QStringLiteral("rbe")));
    // The grade histogram counts every block once.
    const auto counts = table->index(row, TensorQualityModel::Grades).data(TensorQualityModel::GradeCountsRole).value<QList<int>>();
    int total = 0;
    for (int c : counts) total += c;
    QCOMPARE(total, int(e->blocks.size()));

    // The heatmap shows a tensor's blocks, coloured by grade.
    BlockHeatmap* h = panel_->heatmap();
    QVERIFY(h->blockCount() > 0);
    QVERIFY(panel_->showTensor(QStringLiteral("h.0.mlp.c_fc.weight")));
    QCOMPARE(h->blockCount(), int(e->blocks.size()));
    QCOMPARE(h->colorMode(), BlockHeatmap::ColorMode::Grade);
    for (int i : {0, h->blockCount() / 2, h->blockCount() - 1})
      QCOMPARE(h->blockColor(i), block_colors::gradeColor(e->blocks[size_t(i)].grade));
    QVERIFY(h->toolTipText(0).contains(QString::fromUtf8(rbe::codec::grade_name(e->blocks[0].grade))));
    // Per-layer chart: one bar set per tensor kind (4 per layer + wte).
    QCOMPARE(panel_->layerChart()->barSetCount(), 5);
    QVERIFY(!panel_->grab().isNull());
  }

  void cancelledRunKeepsPreviousResults() {
    const auto before = ctx_->compression();
    QVERIFY(before);
    const int rows = panel_->tableModel()->rowCount();
    const int blocks = panel_->heatmap()->blockCount();
    // A long run (with validation on a text), cancelled at its first progress report.
    panel_->setValidationTextPath(kText);
    rbe::codec::CodecSettings s;
    s.codec = "q4_0";
    panel_->settingsForm()->setSettings(s);
    double cancelledAt = -1;
    QMetaObject::Connection c = connect(panel_, &CompressPanel::progressChanged, panel_, [&](double f) {
      if (f > 0 && cancelledAt < 0) {
        cancelledAt = f;
        panel_->cancelCompression();
      }
    });
    QVERIFY(runAndWait(false));
    disconnect(c);
    qInfo("cancelled at %.1f%% of the run", 100 * cancelledAt);
    QVERIFY(cancelledAt > 0 && cancelledAt < 1);
    QVERIFY(panel_->lastError().isEmpty());  // cancelled, not failed
    QCOMPARE(ctx_->compression(), before);
    QCOMPARE(panel_->tableModel()->compression(), before);
    QCOMPARE(panel_->tableModel()->rowCount(), rows);
    QCOMPARE(panel_->heatmap()->blockCount(), blocks);
    QCOMPARE(panel_->rdChart()->pointCount(), 0);
    QVERIFY(!panel_->isRunning());
    QVERIFY(panel_->compressButton()->isEnabled());
    QVERIFY(!panel_->cancelButton()->isEnabled());
  }

  void panelStaysUsableAndAddsRateDistortionPoints() {
    // After the cancel: q8_0 with the validation text runs to the end.
    panel_->setValidationTextPath(kText);
    rbe::codec::CodecSettings s;
    s.codec = "q8_0";
    panel_->settingsForm()->setSettings(s);
    QVERIFY(runAndWait(true));
    const auto cm = ctx_->compression();
    QCOMPARE(panel_->tableModel()->index(0, TensorQualityModel::Codec).data().toString(), QStringLiteral("q8_0"));
    for (const auto& [name, e] : cm->encoded) QCOMPARE(e->codec, std::string("q8_0"));
    QCOMPARE(panel_->rdChart()->pointCount(), 1);
    const auto run = panel_->rdChart()->runs().back();
    // q8_0 costs 8.5 bits per matrix weight; raw F32 tensors (norms, biases, wpe) push the model average up.
    QVERIFY2(run.bitsPerWeight > 8.5 && run.bitsPerWeight < 12, qPrintable(QString::number(run.bitsPerWeight)));
    // The default model's validation loss is 1.53 nats/char (docs/training.md); q8_0 barely changes it.
    QVERIFY2(run.validationLoss > 1.2 && run.validationLoss < 2.0, qPrintable(QString::number(run.validationLoss)));

    // A second run adds a second point.
    s.codec = "q4_0";
    panel_->settingsForm()->setSettings(s);
    QVERIFY(runAndWait(true));
    QCOMPARE(panel_->rdChart()->pointCount(), 2);
    // The summary gives both losses and their perplexities (exp of the loss;
    // q4_0 moves the loss enough to tell the two apart).
    const double original = *panel_->rdChart()->referenceLoss(), q4 = panel_->rdChart()->runs().back().validationLoss;
    QVERIFY2(std::exp(q4) - std::exp(original) > 0.002, qPrintable(QString::number(q4)));
    const QString summary = panel_->summaryLabel()->text();
    QVERIFY2(summary.contains(QString::number(q4, 'f', 4)), qPrintable(summary));
    QVERIFY2(summary.contains(QStringLiteral("perplexity %1 → %2")
                                  .arg(std::exp(original), 0, 'f', 3)
                                  .arg(std::exp(q4), 0, 'f', 3)),
             qPrintable(summary));
    panel_->setValidationTextPath({});
  }

  void validationLossReportsProgressAndCancels() {
    // The worker's loss is evaluate_tokens' over the held-out tail, with
    // progress after each batch of windows and a cancel honoured between them.
    rbe::LoadedModel m = rbe::load_model(kModel.toStdString());
    m.model->eval();
    QFile f(kText);
    QVERIFY(f.open(QIODevice::ReadOnly));
    const std::string text = f.readAll().toStdString();
    const std::vector<int32_t> tokens = workbench::heldOutTokens(*m.tokenizer, text, 20000);
    QCOMPARE(tokens.size(), size_t(20000));
    std::vector<double> fractions;
    const double loss = workbench::validationLoss(*m.model, tokens, nullptr, [&](double f) { fractions.push_back(f); });
    const rbe::EvalResult want = rbe::evaluate_tokens(*m.model, tokens, 256, 256, 4);
    QCOMPARE(loss, want.loss);
    QCOMPARE(fractions.size(), size_t((20000 - 1 + 4 * 256 - 1) / (4 * 256)));  // one call per batch of 4 windows
    QVERIFY(std::is_sorted(fractions.begin(), fractions.end()));
    QCOMPARE(fractions.back(), 1.0);
    int polls = 0;
    bool cancelled = false;
    try {
      workbench::validationLoss(*m.model, tokens, [&] { return ++polls > 3; }, nullptr);
    } catch (const rbe::codec::Cancelled&) {
      cancelled = true;
    }
    QVERIFY(cancelled);
    QCOMPARE(polls, 4);  // once before the run, then after each of three batches
    QVERIFY(!m.model->is_training());
  }

  void calibratedRunCompletes() {
    // Calibration on the text's first 90% (GPTQ-style rounding for q4_0), validation on the last 10%.
    panel_->setValidationTextPath(kText);
    panel_->setCalibrate(true);
    rbe::codec::CodecSettings s;
    s.codec = "q4_0";
    panel_->settingsForm()->setSettings(s);
    const int points = panel_->rdChart()->pointCount();
    QVERIFY(runAndWait(true));
    QCOMPARE(panel_->rdChart()->pointCount(), points + 1);
    panel_->setCalibrate(false);
    panel_->setValidationTextPath({});
  }

  void overrideCellsAreParsed() {
    CodecOverrideTable t;
    rbe::codec::CodecSettings d;  // rbe fixed
    d.bpw = 4.0;
    t.addOverride(QStringLiteral("wte.weight"), QStringLiteral("q8_0"));
    t.addOverride(QStringLiteral("h.*.attn.*"), QString(), QStringLiteral("entropy"), QStringLiteral("A+"), QStringLiteral("32"));
    t.addOverride(QStringLiteral("h.1.*"), QString(), QString(), QStringLiteral("2.5"));
    QString error;
    const auto o = t.overrides(d, &error);
    QVERIFY2(o.has_value(), qPrintable(error));
    QCOMPARE(o->size(), size_t(3));
    QCOMPARE((*o)[0].pattern, std::string("wte.weight"));
    QCOMPARE((*o)[0].settings.codec, std::string("q8_0"));
    QCOMPARE((*o)[1].settings.codec, std::string("rbe"));
    QVERIFY((*o)[1].settings.storage == rbe::codec::Storage::Entropy);
    QVERIFY((*o)[1].settings.grade == rbe::codec::QualityGrade::APlus);
    QVERIFY(!(*o)[1].settings.bpw);
    QCOMPARE((*o)[1].settings.block_size, 32);
    QCOMPARE(*(*o)[2].settings.bpw, 2.5);
    QCOMPARE((*o)[2].settings.block_size, d.block_size);  // inherited

    t.addOverride(QStringLiteral("h.0.*"), QString(), QString(), QString(), QStringLiteral("sixty"));
    QVERIFY(!t.overrides(d, &error));
    QVERIFY2(error.contains(QStringLiteral("row 4")) && error.contains(QStringLiteral("sixty")), qPrintable(error));
  }

  void tableSortsByNumbers() {
    // Sorting by bits/weight orders the rows by the number, not the text.
    QVERIFY(ctx_->compression());
    auto* view = panel_->tableView();
    view->sortByColumn(TensorQualityModel::RelRmse, Qt::AscendingOrder);
    double previous = -1;
    for (int r = 0; r < view->model()->rowCount(); ++r) {
      const double v = view->model()->index(r, TensorQualityModel::RelRmse).data(TensorQualityModel::SortRole).toDouble();
      QVERIFY(v >= previous);
      previous = v;
    }
    view->sortByColumn(TensorQualityModel::Name, Qt::AscendingOrder);
  }

  void overridesApplyToMatchingTensors() {
    rbe::codec::CodecSettings s;
    s.codec = "q8_0";
    panel_->settingsForm()->setSettings(s);
    panel_->overrideTable()->addOverride(QStringLiteral("h.*.mlp.*"), QStringLiteral("q4_0"));
    QVERIFY(runAndWait(true));
    for (const auto& [name, e] : ctx_->compression()->encoded) {
      const bool mlp = name.find(".mlp.") != std::string::npos;
      QCOMPARE(e->codec, std::string(mlp ? "q4_0" : "q8_0"));
    }
    panel_->overrideTable()->setRowCount(0);
  }

  void badOverrideIsRefusedWithAMessage() {
    const auto before = ctx_->compression();
    panel_->overrideTable()->addOverride(QStringLiteral("h.*"), QStringLiteral("q8_0"), QString(), QStringLiteral("Z+"));
    QSignalSpy finished(panel_, &CompressPanel::compressionFinished);
    panel_->startCompression();
    QCOMPARE(finished.count(), 1);
    QCOMPARE(finished.at(0).at(0).toBool(), false);
    QVERIFY2(panel_->lastError().contains(QStringLiteral("row 1")), qPrintable(panel_->lastError()));
    QVERIFY(!panel_->isRunning());
    QCOMPARE(ctx_->compression(), before);
    panel_->overrideTable()->setRowCount(0);
  }

  void missingValidationTextIsRefused() {
    panel_->setValidationTextPath(QStringLiteral("/nonexistent/text.txt"));
    QSignalSpy finished(panel_, &CompressPanel::compressionFinished);
    panel_->startCompression();
    QCOMPARE(finished.count(), 1);
    QCOMPARE(finished.at(0).at(0).toBool(), false);
    QVERIFY(panel_->lastError().contains(QStringLiteral("/nonexistent/text.txt")));
    panel_->setValidationTextPath({});
  }

  void newModelClearsTheResults() {
    auto model = std::make_shared<rbe::LoadedModel>(rbe::load_model(kModel.toStdString()));
    ctx_->setModel(model, kModel);
    QCOMPARE(panel_->tableModel()->rowCount(), 0);
    QCOMPARE(panel_->heatmap()->blockCount(), 0);
    QCOMPARE(panel_->rdChart()->pointCount(), 0);
    QVERIFY(panel_->compressButton()->isEnabled());
  }
};

QTEST_MAIN(TestCompressPanel)
#include "tst_compress_panel.moc"
