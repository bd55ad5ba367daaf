// Export from the window: an .rbe file and a HuggingFace folder that open
// again with the same weights, the compressed weights written decoded, and
// clear refusals (character tokenizer to HF / GGUF) that leave no file behind.
#include <QDir>
#include <QSignalSpy>
#include <QtTest>
#include <cstring>

#include "codec/model_codec.h"
#include "gui_test_util.h"
#include "io/safetensors.h"
#include "main_window.h"
#include "tensor/dtype.h"
#include "workbench_context.h"
#include "workers/model_open_job.h"

class TestExport : public QObject {
  Q_OBJECT
 private slots:
  void initTestCase();
  void rbeFileOpensAgain();
  void huggingFaceFolderOpensAgain();
  void compressedWeightsAreWrittenDecoded();
  void ggufFileOpensAgain();
  void characterModelIsRefusedForHfAndGguf();
  void weightPrecisionIsChosenAndKept();

 private:
  bool open(MainWindow& w, const QString& path);
  bool exportAndWait(MainWindow& w, workbench::ExportFormat f, const QString& path, QString* message);
  static rbe::Tensor param(const rbe::LoadedModel& m, const std::string& name);
  static QAction* precisionAction(MainWindow& w, const QString& key);

  QTemporaryDir tmp_;
  QString hfDir_;
};

void TestExport::initTestCase() {
  guitest::isolateSettings("tst_export");
  QVERIFY(tmp_.isValid());
  hfDir_ = tmp_.filePath(QStringLiteral("hf-small"));
  guitest::writeHfFolder(hfDir_, guitest::tinyGpt2Config(64, 2));
}

bool TestExport::open(MainWindow& w, const QString& path) {
  QSignalSpy done(&w, &MainWindow::modelLoadFinished);
  w.openModel(path);
  return done.wait(60000) && done.first().at(0).toBool();
}

bool TestExport::exportAndWait(MainWindow& w, workbench::ExportFormat f, const QString& path, QString* message) {
  QSignalSpy done(&w, &MainWindow::exportFinished);
  w.exportModel(f, path);
  if (!done.wait(120000)) return false;
  *message = done.first().at(1).toString();
  return done.first().at(0).toBool();
}

rbe::Tensor TestExport::param(const rbe::LoadedModel& m, const std::string& name) {
  for (const auto& [n, t] : m.model->named_parameters())
    if (n == name) return t;
  qFatal("no parameter %s", name.c_str());
}

QAction* TestExport::precisionAction(MainWindow& w, const QString& key) {
  for (QAction* a : w.findChildren<QAction*>())
    if (a->isCheckable() && a->actionGroup() && a->data().toString() == key) return a;
  return nullptr;
}

void TestExport::rbeFileOpensAgain() {
  MainWindow w;
  w.setInteractive(false);
  QVERIFY(open(w, guitest::defaultModelDir()));
  QVERIFY(!w.context()->compression());  // exports a compression at default settings
  const QString path = tmp_.filePath(QStringLiteral("mini.rbe"));
  QString message;
  QVERIFY2(exportAndWait(w, workbench::ExportFormat::Rbe, path, &message), qPrintable(message));
  QVERIFY(QFileInfo(path).size() > 0);
  // Nothing but the file itself (no temporary left behind).
  QCOMPARE(QDir(tmp_.path()).entryList({QStringLiteral("mini.rbe*")}, QDir::Files),
           QStringList{QStringLiteral("mini.rbe")});
  const workbench::OpenedModel again = workbench::openModel(path);
  QVERIFY2(again.model, qPrintable(again.error));
  QVERIFY(again.compression);
  QCOMPARE(again.model->config.n_layer, w.context()->model()->config.n_layer);
  QCOMPARE(again.model->tokenizer->type(), std::string("char"));
  // And the window opens it too, with the compression columns filled.
  QVERIFY(open(w, path));
  QVERIFY(w.context()->compression());
  QCOMPARE(w.context()->model()->format, std::string("rbe"));
}

void TestExport::huggingFaceFolderOpensAgain() {
  MainWindow w;
  w.setInteractive(false);
  QVERIFY(open(w, hfDir_));
  const QString out = tmp_.filePath(QStringLiteral("hf-out"));
  QString message;
  QVERIFY2(exportAndWait(w, workbench::ExportFormat::HfFolder, out, &message), qPrintable(message));
  for (const char* f : {"config.json", "model.safetensors", "vocab.json", "merges.txt"})
    QVERIFY2(QFileInfo::exists(out + QLatin1Char('/') + QLatin1String(f)), f);
  const auto again = guitest::loadShared(out);
  const auto& orig = *w.context()->model();
  QCOMPARE(again->format, std::string("hf"));
  QCOMPARE(again->tokenizer->encode("Hello world"), orig.tokenizer->encode("Hello world"));
  for (const auto& [name, t] : orig.model->named_parameters()) {
    const rbe::Tensor u = param(*again, name);
    QCOMPARE(u.shape(), t.shape());
    QVERIFY2(std::memcmp(u.data<float>(), t.data<float>(), size_t(t.numel()) * 4) == 0, name.c_str());
  }
}

void TestExport::compressedWeightsAreWrittenDecoded() {
  MainWindow w;
  w.setInteractive(false);
  QVERIFY(open(w, hfDir_));
  rbe::codec::ModelCodecOptions opt;
  opt.defaults.codec = "q4_0";
  auto cm = std::make_shared<rbe::codec::CompressedModel>(rbe::codec::compress_model(*w.context()->model(), opt));
  auto packed = std::make_shared<rbe::LoadedModel>(rbe::codec::instantiate(*cm));
  w.context()->setCompression(cm, packed);
  QAction* useCompressed = nullptr;
  for (QAction* a : w.findChildren<QAction*>())
    if (a->isCheckable() && a->text().contains(QStringLiteral("Compressed Weights"))) useCompressed = a;
  QVERIFY(useCompressed && useCompressed->isEnabled());
  useCompressed->setChecked(true);
  const QString out = tmp_.filePath(QStringLiteral("hf-q4"));
  QString message;
  QVERIFY2(exportAndWait(w, workbench::ExportFormat::HfFolder, out, &message), qPrintable(message));
  const auto again = guitest::loadShared(out);
  // Each encoded matrix comes back as the codec's own decode of it.
  for (const auto& [name, e] : cm->encoded) {
    const rbe::Tensor ref = rbe::codec::decode(*e);
    const rbe::Tensor got = param(*again, name);
    QCOMPARE(got.numel(), ref.numel());
    QVERIFY2(std::memcmp(got.data<float>(), ref.data<float>(), size_t(ref.numel()) * 4) == 0, name.c_str());
  }
  // At F16 precision: the decode rounded to f16, and the open model keeps
  // its packed layers (the export decoded a copy).
  QAction* f16 = precisionAction(w, QStringLiteral("f16"));
  QVERIFY(f16);
  f16->trigger();
  const QString out16 = tmp_.filePath(QStringLiteral("hf-q4-f16"));
  QVERIFY2(exportAndWait(w, workbench::ExportFormat::HfFolder, out16, &message), qPrintable(message));
  QVERIFY(!w.context()->compressedModel()->model->packed_weight_names().empty());
  const auto half = guitest::loadShared(out16);
  for (const auto& [name, e] : cm->encoded) {
    const rbe::Tensor ref = rbe::codec::decode(*e);
    const rbe::Tensor got = param(*half, name);
    QCOMPARE(got.numel(), ref.numel());
    for (int64_t i = 0; i < ref.numel(); ++i)
      if (got.data<float>()[i] != rbe::f16_to_f32(rbe::f32_to_f16(ref.data<float>()[i])))
        QFAIL(qPrintable(QStringLiteral("%1[%2]").arg(QString::fromStdString(name)).arg(i)));
  }
  precisionAction(w, QStringLiteral("default"))->trigger();
}

void TestExport::ggufFileOpensAgain() {
  MainWindow w;
  w.setInteractive(false);
  QVERIFY(open(w, hfDir_));
  const QString path = tmp_.filePath(QStringLiteral("small.gguf"));
  QString message;
  QVERIFY2(exportAndWait(w, workbench::ExportFormat::Gguf, path, &message), qPrintable(message));
  const workbench::OpenedModel again = workbench::openModel(path);
  QVERIFY2(again.model, qPrintable(again.error));
  QCOMPARE(again.model->format, std::string("gguf"));
  const auto& orig = *w.context()->model();
  QCOMPARE(again.model->config.n_embd, orig.config.n_embd);
  QCOMPARE(again.model->config.n_layer, orig.config.n_layer);
  QCOMPARE(again.model->tokenizer->encode("Hello world"), orig.tokenizer->encode("Hello world"));
  // Matrices went through F16: equal to f16 rounding.
  const rbe::Tensor a = param(orig, "h.0.mlp.c_fc.weight"), b = param(*again.model, "h.0.mlp.c_fc.weight");
  QCOMPARE(b.numel(), a.numel());
  for (int64_t i = 0; i < a.numel(); ++i)
    QCOMPARE(b.data<float>()[i], rbe::f16_to_f32(rbe::f32_to_f16(a.data<float>()[i])));
}

void TestExport::characterModelIsRefusedForHfAndGguf() {
  MainWindow w;
  w.setInteractive(false);
  QVERIFY(open(w, guitest::defaultModelDir()));
  QSignalSpy errors(&w, &MainWindow::errorOccurred);
  QString message;
  const QString hf = tmp_.filePath(QStringLiteral("char-hf"));
  QVERIFY(!exportAndWait(w, workbench::ExportFormat::HfFolder, hf, &message));
  QVERIFY2(message.contains(QStringLiteral("character tokenizer")), qPrintable(message));
  QVERIFY(!QFileInfo::exists(hf + QStringLiteral("/model.safetensors")));
  const QString gguf = tmp_.filePath(QStringLiteral("char.gguf"));
  QVERIFY(!exportAndWait(w, workbench::ExportFormat::Gguf, gguf, &message));
  QVERIFY2(message.startsWith(QStringLiteral("This model cannot be written as GGUF")), qPrintable(message));
  QVERIFY(!QFileInfo::exists(gguf));
  QCOMPARE(QDir(tmp_.path()).entryList({QStringLiteral("char.gguf*")}, QDir::Files), QStringList());
  QCOMPARE(errors.count(), 2);
}

// Export → Weight Precision: F16 and BF16 HuggingFace folders hold those
// dtypes and read back as the rounded weights; GGUF refuses BF16 with a clear
// message and no file; the choice is kept for the next window.
void TestExport::weightPrecisionIsChosenAndKept() {
  const QString hf16 = tmp_.filePath(QStringLiteral("hf-f16")), hfbf16 = tmp_.filePath(QStringLiteral("hf-bf16"));
  {
    MainWindow w;
    w.setInteractive(false);
    QCOMPARE(w.exportPrecision(), workbench::ExportPrecision::FormatDefault);
    QVERIFY(open(w, hfDir_));
    const auto& orig = *w.context()->model();
    QString message;

    QAction* f16 = precisionAction(w, QStringLiteral("f16"));
    QVERIFY(f16);
    f16->trigger();
    QCOMPARE(w.exportPrecision(), workbench::ExportPrecision::F16);
    QVERIFY2(exportAndWait(w, workbench::ExportFormat::HfFolder, hf16, &message), qPrintable(message));
    QVERIFY2(message.contains(QStringLiteral("F16")), qPrintable(message));

    QAction* bf16 = precisionAction(w, QStringLiteral("bf16"));
    QVERIFY(bf16);
    bf16->trigger();
    QVERIFY2(exportAndWait(w, workbench::ExportFormat::HfFolder, hfbf16, &message), qPrintable(message));
    const QString gguf = tmp_.filePath(QStringLiteral("bf16.gguf"));
    QVERIFY(!exportAndWait(w, workbench::ExportFormat::Gguf, gguf, &message));
    QVERIFY2(message.startsWith(QStringLiteral("GGUF export writes F32 or F16 weights, not BF16")), qPrintable(message));
    QVERIFY(!QFileInfo::exists(gguf));

    for (const auto& [dir, dtype] : {std::pair{hf16, rbe::DType::F16}, std::pair{hfbf16, rbe::DType::BF16}}) {
      const auto file = rbe::safetensors::File::open((dir + QStringLiteral("/model.safetensors")).toStdString());
      QCOMPARE(file.info("h.0.mlp.c_fc.weight").dtype, dtype);
      QCOMPARE(file.info("wte.weight").dtype, dtype);
      const auto again = guitest::loadShared(dir);
      for (const char* name : {"wte.weight", "h.0.mlp.c_fc.weight", "h.1.attn.c_proj.weight"}) {
        const rbe::Tensor a = param(orig, name), b = param(*again, name);
        QCOMPARE(b.numel(), a.numel());
        for (int64_t i = 0; i < a.numel(); ++i) {
          const float x = a.data<float>()[i];
          const float want = dtype == rbe::DType::F16 ? rbe::f16_to_f32(rbe::f32_to_f16(x))
                                                      : rbe::bf16_to_f32(rbe::f32_to_bf16(x));
          if (b.data<float>()[i] != want) QFAIL(qPrintable(QStringLiteral("%1[%2]").arg(name).arg(i)));
        }
      }
    }
  }
  // The next window starts on the last choice; put the default back after.
  MainWindow again;
  QCOMPARE(again.exportPrecision(), workbench::ExportPrecision::BF16);
  QAction* byFormat = precisionAction(again, QStringLiteral("default"));
  QVERIFY(byFormat);
  byFormat->trigger();
  QCOMPARE(again.exportPrecision(), workbench::ExportPrecision::FormatDefault);
}

QTEST_MAIN(TestExport)
#include "tst_export.moc"
