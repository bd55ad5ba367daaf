#include "model_panel.h"

#include <QFormLayout>
#include <QGroupBox>
#include <QHeaderView>
#include <QLabel>
#include <QLocale>
#include <QTreeView>
#include <QVBoxLayout>

#include "model_summary.h"
#include "tensor_tree_model.h"
#include "workbench_context.h"

ModelPanel::ModelPanel(WorkbenchContext* ctx, QWidget* parent)
    : QWidget(parent), ctx_(ctx), tree_(new TensorTreeModel(this)), view_(new QTreeView(this)) {
  auto* info = new QGroupBox(tr("Model"), this);
  auto* form = new QFormLayout(info);
  path_ = addField(form, tr("Location:"));
  format_ = addField(form, tr("Format:"));
  architecture_ = addField(form, tr("Architecture:"));
  parameters_ = addField(form, tr("Parameters:"));
  disk_ = addField(form, tr("Size on disk:"));
  memory_ = addField(form, tr("Weights in memory:"));
  dtypes_ = addField(form, tr("Weight types:"));
  tokenizer_ = addField(form, tr("Tokenizer:"));
  compression_ = addField(form, tr("Compression:"));

  view_->setModel(tree_);
  view_->setAlternatingRowColors(true);
  view_->setUniformRowHeights(true);
  view_->header()->setStretchLastSection(true);
  view_->header()->setSectionResizeMode(QHeaderView::ResizeToContents);

  auto* layout = new QVBoxLayout(this);
  layout->addWidget(info);
  layout->addWidget(view_, 1);

  connect(ctx_, &WorkbenchContext::modelChanged, this, &ModelPanel::refresh);
  connect(ctx_, &WorkbenchContext::compressionChanged, this, &ModelPanel::refresh);
  refresh();
}

QLabel* ModelPanel::addField(QFormLayout* form, const QString& label) {
  auto* value = new QLabel(this);
  value->setTextInteractionFlags(Qt::TextSelectableByMouse);
  value->setWordWrap(true);
  form->addRow(label, value);
  return value;
}

void ModelPanel::refresh() {
  const auto model = ctx_->model();
  const auto compression = ctx_->compression();
  tree_->rebuild(model.get(), compression.get());
  view_->expandToDepth(0);
  if (!model) {
    for (QLabel* l : {path_, format_, architecture_, parameters_, disk_, memory_, dtypes_, tokenizer_, compression_})
      l->clear();
    path_->setText(tr("No model open. Use File → Open Folder… or drop a model folder here."));
    return;
  }
  const workbench::ModelSummary s = workbench::summarize(*model, ctx_->modelPath(), compression.get());
  path_->setText(ctx_->modelPath());
  format_->setText(s.format == QLatin1String("hf")               ? tr("HuggingFace GPT-2 folder")
                   : s.format == QLatin1String("rbe-checkpoint") ? tr("RBE checkpoint folder")
                   : s.format == QLatin1String("rbe")            ? tr("RBE compressed file (.rbe)")
                   : s.format == QLatin1String("gguf")           ? tr("GGUF file")
                                                                 : s.format);
  architecture_->setText(s.architecture);
  parameters_->setText(
      tr("%1 (%2)").arg(workbench::formatCount(s.parameters), QLocale().toString(qlonglong(s.parameters))));
  disk_->setText(workbench::formatBytes(s.diskBytes));
  memory_->setText(workbench::formatBytes(s.memoryBytes));
  dtypes_->setText(s.dtypes);
  tokenizer_->setText(s.tokenizer);
  if (compression)
    compression_->setText(tr("%1 bits/weight over the encoded matrices (%2 of %3 tensors encoded)")
                              .arg(s.bitsPerWeight, 0, 'f', 2)
                              .arg(compression->encoded.size())
                              .arg(compression->encoded.size() + compression->raw.size()));
  else
    compression_->setText(tr("not compressed (use the Compress panel)"));
}
