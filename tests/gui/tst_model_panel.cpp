// The model panel and its tensor tree, checked against the engine's own view
// of the model: names, shapes, counts, disk and memory sizes, and the
// compression columns after a q8_0 compression.
#include <QDirIterator>
#include <QLabel>
#include <QSignalSpy>
#include <QTreeView>
#include <QtTest>
#include <cmath>
#include <map>

#include "codec/model_codec.h"
#include "gui_test_util.h"
#include "model_panel.h"
#include "model_summary.h"
#include "tensor_tree_model.h"
#include "workbench_context.h"

class TestModelPanel : public QObject {
  Q_OBJECT
 private slots:
  void initTestCase();
  void treeListsEveryTensorWithItsShape();
  void summaryMatchesTheFiles();
  void compressionFillsTheQualityColumns();
  void panelFollowsTheContext();

 private:
  // Every (full name -> row index) under the tree.
  static std::map<QString, QModelIndex> rowsByName(const TensorTreeModel& tree);
  std::shared_ptr<rbe::LoadedModel> model_;
  std::shared_ptr<const rbe::codec::CompressedModel> q8_;
};

void TestModelPanel::initTestCase() {
  guitest::isolateSettings("tst_model_panel");
  model_ = guitest::loadShared(guitest::defaultModelDir());
  rbe::codec::ModelCodecOptions opt;
  opt.defaults.codec = "q8_0";
  q8_ = std::make_shared<rbe::codec::CompressedModel>(rbe::codec::compress_model(*model_, opt));
}

std::map<QString, QModelIndex> TestModelPanel::rowsByName(const TensorTreeModel& tree) {
  std::map<QString, QModelIndex> out;
  for (int g = 0; g < tree.rowCount(); ++g) {
    const QModelIndex group = tree.index(g, 0);
    for (int r = 0; r < tree.rowCount(group); ++r) {
      const QModelIndex i = tree.index(r, 0, group);
      out[i.data(Qt::UserRole).toString()] = i;
    }
  }
  return out;
}

void TestModelPanel::treeListsEveryTensorWithItsShape() {
  TensorTreeModel tree;
  tree.rebuild(model_.get(), nullptr);
  const auto rows = rowsByName(tree);
  const auto params = model_->model->named_parameters();
  QCOMPARE(rows.size(), params.size());
  int64_t total = 0;
  for (const auto& [name, t] : params) {
    const auto it = rows.find(QString::fromStdString(name));
    QVERIFY2(it != rows.end(), name.c_str());
    const QModelIndex i = it->second;
    QStringList dims;
    for (int64_t d : t.shape()) dims << QString::number(d);
    QCOMPARE(i.siblingAtColumn(TensorTreeModel::Shape).data().toString(), dims.join(QStringLiteral(" × ")));
    QCOMPARE(i.siblingAtColumn(TensorTreeModel::DType).data().toString(), QStringLiteral("F32"));
    // Not compressed: no codec, RMSE or grade; F32 is 32 bits/weight.
    QVERIFY(i.siblingAtColumn(TensorTreeModel::Codec).data().toString().isEmpty());
    QVERIFY(i.siblingAtColumn(TensorTreeModel::Grade).data().toString().isEmpty());
    QCOMPARE(i.siblingAtColumn(TensorTreeModel::BitsPerWeight).data().toString(), QStringLiteral("32.00"));
    total += t.numel();
  }
  QCOMPARE(total, model_->model->parameter_count());
  // Block tensors sit under their block, by their short name.
  const QModelIndex attn = rows.at(QStringLiteral("h.1.attn.c_attn.weight"));
  QCOMPARE(attn.data().toString(), QStringLiteral("attn.c_attn.weight"));
  QCOMPARE(attn.parent().data().toString(), QStringLiteral("Block 1"));
}

void TestModelPanel::summaryMatchesTheFiles() {
  const workbench::ModelSummary s = workbench::summarize(*model_, guitest::defaultModelDir(), nullptr);
  int64_t onDisk = 0;
  for (QDirIterator it(guitest::defaultModelDir(), QDir::Files); it.hasNext();) onDisk += it.nextFileInfo().size();
  QCOMPARE(s.diskBytes, onDisk);
  QCOMPARE(s.parameters, model_->model->parameter_count());
  QCOMPARE(s.memoryBytes, 4 * s.parameters);  // all F32
  QCOMPARE(s.dtypes, QStringLiteral("F32"));
  QVERIFY(s.tokenizer.contains(QString::number(model_->tokenizer->vocab_size())));
  QVERIFY(s.architecture.contains(QStringLiteral("2 layers")));
}

void TestModelPanel::compressionFillsTheQualityColumns() {
  TensorTreeModel tree;
  tree.rebuild(model_.get(), q8_.get());
  const auto rows = rowsByName(tree);
  QVERIFY(!q8_->encoded.empty());
  for (const auto& [name, e] : q8_->encoded) {
    const QModelIndex i = rows.at(QString::fromStdString(name));
    QCOMPARE(i.siblingAtColumn(TensorTreeModel::Codec).data().toString(), QStringLiteral("q8_0"));
    const double bpw = i.siblingAtColumn(TensorTreeModel::BitsPerWeight).data().toString().toDouble();
    QVERIFY2(std::abs(bpw - 8.0 * double(e->meta.bytes) / double(e->meta.weights)) < 0.01, name.c_str());
    QVERIFY(bpw > 8.0 && bpw < 9.0);  // 8 bits + an f16 scale per 32 weights
    const double rmse = i.siblingAtColumn(TensorTreeModel::Rmse).data().toString().toDouble();
    QVERIFY(rmse > 0 && std::abs(rmse - e->meta.rmse) <= 5e-3 * e->meta.rmse);  // shown to 3 digits
    QCOMPARE(i.siblingAtColumn(TensorTreeModel::Grade).data().toString(),
             QString::fromLatin1(rbe::codec::grade_name(rbe::codec::grade_for(e->meta.rel_rmse))));
  }
  for (const auto& [name, t] : q8_->raw)
    QCOMPARE(rows.at(QString::fromStdString(name)).siblingAtColumn(TensorTreeModel::Codec).data().toString(),
             QStringLiteral("raw"));
  // The instantiated model holds its matrices packed: less memory than F32.
  const rbe::LoadedModel packed = rbe::codec::instantiate(*q8_);
  const workbench::ModelSummary s = workbench::summarize(packed, guitest::defaultModelDir(), q8_.get());
  QVERIFY(s.memoryBytes < 4 * s.parameters / 2);
  QVERIFY2(s.dtypes.startsWith(QStringLiteral("q8_0")) && s.dtypes.contains(QStringLiteral("(packed)")),
           qPrintable(s.dtypes));
  QVERIFY(s.bitsPerWeight > 8.0 && s.bitsPerWeight < 9.0);
}

void TestModelPanel::panelFollowsTheContext() {
  WorkbenchContext ctx;
  ModelPanel panel(&ctx);
  QCOMPARE(panel.tensorModel()->tensorCount(), 0);
  ctx.setModel(model_, guitest::defaultModelDir());
  QCOMPARE(panel.tensorModel()->tensorCount(), int(model_->model->named_parameters().size()));
  QVERIFY(panel.tensorView()->isExpanded(panel.tensorModel()->index(0, 0)));
  ctx.setCompression(q8_, nullptr);
  const auto rows = rowsByName(*panel.tensorModel());
  QCOMPARE(rows.at(QStringLiteral("h.0.mlp.c_fc.weight")).siblingAtColumn(TensorTreeModel::Codec).data().toString(),
           QStringLiteral("q8_0"));
  // A new model clears the compression columns.
  ctx.setModel(model_, guitest::defaultModelDir());
  const auto plain = rowsByName(*panel.tensorModel());
  QVERIFY(plain.at(QStringLiteral("h.0.mlp.c_fc.weight"))
              .siblingAtColumn(TensorTreeModel::Codec)
              .data()
              .toString()
              .isEmpty());
}

QTEST_MAIN(TestModelPanel)
#include "tst_model_panel.moc"
