#include "compress_panel.h"

#include <QCheckBox>
#include <QComboBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QProgressBar>
#include <QPushButton>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QTabWidget>
#include <QTableView>
#include <QThread>
#include <QToolButton>
#include <QVBoxLayout>
#include <cmath>

#include "block_heatmap.h"
#include "codec_override_table.h"
#include "codec_settings_form.h"
#include "compression_totals.h"
#include "grade_histogram_delegate.h"
#include "layer_error_chart.h"
#include "message_popup.h"
#include "rd_chart.h"
#include "scroll_column.h"
#include "tensor_quality_model.h"
#include "workbench_context.h"

namespace {
const QString kGroup = QStringLiteral("compress");
}

CompressPanel::CompressPanel(WorkbenchContext* ctx, QWidget* parent) : QWidget(parent), ctx_(ctx) {
  qRegisterMetaType<std::shared_ptr<CompressOutcome>>();
  auto* splitter = new QSplitter(Qt::Horizontal, this);
  splitter->addWidget(buildSettings());
  splitter->addWidget(buildResults());
  splitter->setStretchFactor(0, 0);
  splitter->setStretchFactor(1, 1);
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(splitter);

  settingsForm_->restore(ctx_->settings(), kGroup);
  overrides_->restore(ctx_->settings(), kGroup);
  validationPath_->setText(ctx_->settings().value(kGroup + QStringLiteral("/validationText")).toString());
  calibrate_->setChecked(ctx_->settings().value(kGroup + QStringLiteral("/calibrate"), false).toBool());

  connect(ctx_, &WorkbenchContext::modelChanged, this, &CompressPanel::onModelChanged);
  connect(ctx_, &WorkbenchContext::compressionChanged, this, &CompressPanel::onCompressionChanged);
  setRunning(false);
  onCompressionChanged();
}

CompressPanel::~CompressPanel() {
  // Never leave a worker running against a destroyed panel.
  if (thread_) {
    cancel_->store(true);
    thread_->quit();
    thread_->wait();
  }
}

QWidget* CompressPanel::buildSettings() {
  auto* box = new QWidget(this);
  auto* v = new QVBoxLayout(box);
  v->setContentsMargins(0, 0, 0, 0);

  auto* codecGroup = new QGroupBox(tr("Default codec"), box);
  settingsForm_ = new CodecSettingsForm(codecGroup);
  (new QVBoxLayout(codecGroup))->addWidget(settingsForm_);
  v->addWidget(codecGroup);

  auto* overrideGroup = new QGroupBox(tr("Per-layer overrides"), box);
  auto* ov = new QVBoxLayout(overrideGroup);
  overrides_ = new CodecOverrideTable(overrideGroup);
  overrides_->setMinimumHeight(90);
  ov->addWidget(overrides_);
  auto* ovButtons = new QHBoxLayout();
  auto* add = new QPushButton(tr("&Add"), overrideGroup);
  auto* remove = new QPushButton(tr("Re&move"), overrideGroup);
  add->setToolTip(tr("Add an override: tensors whose name matches the pattern use these settings"));
  ovButtons->addWidget(add);
  ovButtons->addWidget(remove);
  ovButtons->addStretch();
  ov->addLayout(ovButtons);
  connect(add, &QPushButton::clicked, this, [this] { overrides_->addOverride(); });
  connect(remove, &QPushButton::clicked, overrides_, &CodecOverrideTable::removeSelected);
  v->addWidget(overrideGroup, 1);

  auto* valGroup = new QGroupBox(tr("Validation"), box);
  auto* vv = new QVBoxLayout(valGroup);
  auto* pathRow = new QHBoxLayout();
  validationPath_ = new QLineEdit(valGroup);
  validationPath_->setPlaceholderText(tr("Text file (optional): loss on its last 10%"));
  validationPath_->setClearButtonEnabled(true);
  auto* browse = new QToolButton(valGroup);
  browse->setText(tr("…"));
  browse->setToolTip(tr("Choose a text file"));
  pathRow->addWidget(validationPath_, 1);
  pathRow->addWidget(browse);
  vv->addLayout(pathRow);
  calibrate_ = new QCheckBox(tr("Calibrate rounding on the text's first 90%"), valGroup);
  vv->addWidget(calibrate_);
  connect(browse, &QToolButton::clicked, this, &CompressPanel::browseValidationText);
  v->addWidget(valGroup);

  auto* runRow = new QHBoxLayout();
  compressButton_ = new QPushButton(tr("&Compress"), box);
  compressButton_->setDefault(true);
  cancelButton_ = new QPushButton(tr("Cancel"), box);
  runRow->addWidget(compressButton_);
  runRow->addWidget(cancelButton_);
  v->addLayout(runRow);
  progress_ = new QProgressBar(box);
  progress_->setRange(0, 1000);
  progress_->setTextVisible(true);
  progress_->setFormat(QStringLiteral("%p%"));
  v->addWidget(progress_);
  stage_ = new QLabel(box);
  stage_->setWordWrap(true);
  stage_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  v->addWidget(stage_);
  connect(compressButton_, &QPushButton::clicked, this, &CompressPanel::startCompression);
  connect(cancelButton_, &QPushButton::clicked, this, &CompressPanel::cancelCompression);

  return makeScrollColumn(box, this);
}

QWidget* CompressPanel::buildResults() {
  auto* split = new QSplitter(Qt::Vertical, this);

  auto* top = new QWidget(split);
  auto* tv = new QVBoxLayout(top);
  tv->setContentsMargins(0, 0, 0, 0);
  summary_ = new QLabel(top);
  summary_->setWordWrap(true);
  summary_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  tv->addWidget(summary_);
  tableModel_ = new TensorQualityModel(this);
  sortModel_ = new QSortFilterProxyModel(this);
  sortModel_->setSourceModel(tableModel_);
  sortModel_->setSortRole(TensorQualityModel::SortRole);
  table_ = new QTableView(top);
  table_->setModel(sortModel_);
  table_->setSortingEnabled(true);
  table_->sortByColumn(TensorQualityModel::Name, Qt::AscendingOrder);
  table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  table_->setSelectionMode(QAbstractItemView::SingleSelection);
  table_->setItemDelegateForColumn(TensorQualityModel::Grades, new GradeHistogramDelegate(table_));
  table_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  table_->horizontalHeader()->setStretchLastSection(true);
  table_->verticalHeader()->setVisible(false);
  table_->setAlternatingRowColors(true);
  tv->addWidget(table_);
  connect(table_->selectionModel(), &QItemSelectionModel::currentRowChanged, this, &CompressPanel::onTensorSelected);

  tabs_ = new QTabWidget(split);
  auto* blocks = new QWidget(tabs_);
  auto* bv = new QVBoxLayout(blocks);
  auto* bar = new QHBoxLayout();
  heatmapTitle_ = new QLabel(blocks);
  colorMode_ = new QComboBox(blocks);
  colorMode_->addItem(tr("Colour by grade"), int(BlockHeatmap::ColorMode::Grade));
  colorMode_->addItem(tr("Colour by RMSE"), int(BlockHeatmap::ColorMode::Rmse));
  auto* zoomIn = new QToolButton(blocks);
  auto* zoomOut = new QToolButton(blocks);
  auto* zoomFit = new QToolButton(blocks);
  zoomIn->setText(tr("+"));
  zoomOut->setText(tr("−"));
  zoomFit->setText(tr("Fit"));
  zoomIn->setToolTip(tr("Zoom in (or use the mouse wheel)"));
  zoomOut->setToolTip(tr("Zoom out"));
  zoomFit->setToolTip(tr("Show the whole tensor"));
  bar->addWidget(heatmapTitle_, 1);
  bar->addWidget(colorMode_);
  bar->addWidget(zoomOut);
  bar->addWidget(zoomIn);
  bar->addWidget(zoomFit);
  bv->addLayout(bar);
  heatmap_ = new BlockHeatmap(blocks);
  bv->addWidget(heatmap_, 1);
  connect(colorMode_, &QComboBox::currentIndexChanged, this,
          [this] { heatmap_->setColorMode(BlockHeatmap::ColorMode(colorMode_->currentData().toInt())); });
  connect(zoomIn, &QToolButton::clicked, heatmap_, &BlockHeatmap::zoomIn);
  connect(zoomOut, &QToolButton::clicked, heatmap_, &BlockHeatmap::zoomOut);
  connect(zoomFit, &QToolButton::clicked, heatmap_, &BlockHeatmap::resetZoom);
  tabs_->addTab(blocks, tr("Blocks"));
  layerChart_ = new LayerErrorChart(tabs_);
  tabs_->addTab(layerChart_, tr("Error per layer"));
  rdChart_ = new RdChart(tabs_);
  tabs_->addTab(rdChart_, tr("Rate–distortion"));

  split->addWidget(top);
  split->addWidget(tabs_);
  split->setStretchFactor(0, 2);
  split->setStretchFactor(1, 3);
  return split;
}

QString CompressPanel::validationTextPath() const { return validationPath_->text().trimmed(); }
void CompressPanel::setValidationTextPath(const QString& path) { validationPath_->setText(path); }
void CompressPanel::setCalibrate(bool on) { calibrate_->setChecked(on); }

void CompressPanel::browseValidationText() {
  const QString path = QFileDialog::getOpenFileName(this, tr("Validation text"), validationTextPath(),
                                                    tr("Text files (*.txt);;All files (*)"));
  if (!path.isEmpty()) validationPath_->setText(path);
}

void CompressPanel::saveSettings() {
  settingsForm_->save(ctx_->settings(), kGroup);
  overrides_->save(ctx_->settings(), kGroup);
  ctx_->settings().setValue(kGroup + QStringLiteral("/validationText"), validationTextPath());
  ctx_->settings().setValue(kGroup + QStringLiteral("/calibrate"), calibrate_->isChecked());
}

void CompressPanel::setRunning(bool running) {
  compressButton_->setEnabled(!running && ctx_->model() != nullptr);
  cancelButton_->setEnabled(running);
  settingsForm_->setEnabled(!running);
  overrides_->setEnabled(!running);
  validationPath_->setEnabled(!running);
  calibrate_->setEnabled(!running);
}

void CompressPanel::startCompression() {
  if (thread_) return;  // one run at a time
  lastError_.clear();
  auto fail = [this](const QString& message) {
    lastError_ = message;
    stage_->setText(message);
    emit ctx_->statusMessage(message, 8000);
    emit compressionFinished(false);
  };
  if (!ctx_->model()) return fail(tr("Open a model first."));
  CompressJob job;
  job.model = ctx_->model();
  job.modelPath = ctx_->modelPath();
  job.options.defaults = settingsForm_->settings();
  QString error;
  auto overrides = overrides_->overrides(job.options.defaults, &error);
  if (!overrides) {
    fail(tr("%1. Fix the row or remove it, then compress again.").arg(error));
    return;
  }
  job.options.overrides = std::move(*overrides);
  job.validationTextPath = validationTextPath();
  if (!job.validationTextPath.isEmpty() && !QFileInfo(job.validationTextPath).isFile()) {
    fail(tr("The validation text %1 does not exist. Choose another file or clear the field.").arg(job.validationTextPath));
    return;
  }
  job.calibrate = calibrate_->isChecked() && !job.validationTextPath.isEmpty();
  if (originalLoss_ && originalLossText_ == job.validationTextPath) job.originalLoss = originalLoss_;
  saveSettings();

  runLabel_ = CodecSettingsForm::describe(job.options.defaults);
  if (!job.options.overrides.empty()) runLabel_ += tr(" + %n override(s)", nullptr, int(job.options.overrides.size()));
  cancel_ = std::make_shared<std::atomic<bool>>(false);
  thread_ = new QThread(this);
  auto* worker = new CompressWorker(std::move(job), cancel_);
  worker->moveToThread(thread_);
  connect(thread_, &QThread::started, worker, &CompressWorker::run);
  connect(worker, &CompressWorker::progress, this, &CompressPanel::onProgress);
  connect(worker, &CompressWorker::finished, this, &CompressPanel::onFinished);
  connect(thread_, &QThread::finished, worker, &QObject::deleteLater);
  setRunning(true);
  progress_->setValue(0);
  stage_->setText(tr("Starting…"));
  thread_->start();
  emit compressionStarted();
}

void CompressPanel::cancelCompression() {
  if (!thread_ || cancel_->load()) return;
  cancel_->store(true);
  cancelButton_->setEnabled(false);
  stage_->setText(tr("Cancelling…"));
}

void CompressPanel::onProgress(double fraction, const QString& what) {
  if (!thread_) return;
  progress_->setValue(int(fraction * 1000));
  if (!cancel_->load()) stage_->setText(what);
  emit progressChanged(fraction);
}

void CompressPanel::onFinished(std::shared_ptr<CompressOutcome> outcome) {
  QThread* thread = thread_;
  thread_ = nullptr;
  thread->quit();  // the worker is done; let the thread's event loop end
  thread->wait();
  thread->deleteLater();
  setRunning(false);

  if (outcome->status != CompressOutcome::Status::Ok) progress_->setValue(0);
  if (outcome->status == CompressOutcome::Status::Cancelled) {
    stage_->setText(tr("Cancelled; the previous results are kept."));
    emit ctx_->statusMessage(tr("Compression cancelled"), 4000);
    emit compressionFinished(false);
    return;
  }
  if (outcome->status == CompressOutcome::Status::Failed) {
    lastError_ = outcome->error;
    stage_->setText(tr("Failed: %1").arg(outcome->error));
    emit ctx_->statusMessage(tr("Compression failed: %1").arg(outcome->error), 8000);
    if (isVisible())
      showWarning(this, tr("Compression failed"),
                           tr("The compression did not finish:\n\n%1\n\nCheck the settings (codec, target, overrides) "
                              "and the validation text, then try again.")
                               .arg(outcome->error));
    emit compressionFinished(false);
    return;
  }
  if (outcome->model != ctx_->model()) {
    // The model was replaced while this ran: its results describe a closed model.
    stage_->setText(tr("The model changed during the run; its results were discarded."));
    emit compressionFinished(false);
    return;
  }
  if (outcome->originalLoss) {
    originalLoss_ = outcome->originalLoss;
    originalLossText_ = validationTextPath();
    rdChart_->setReferenceLoss(originalLoss_);
  }
  ++runCount_;
  if (outcome->compressedLoss) {
    const CompressionTotals totals = compressionTotals(*outcome->compressed);
    const auto& d = settingsForm_->settings();
    QString series = QString::fromStdString(d.codec);
    if (d.codec == "rbe") series += d.storage == rbe::codec::Storage::Entropy ? tr(" entropy") : tr(" fixed");
    rdChart_->addRun({series, tr("Run %1: %2").arg(runCount_).arg(runLabel_), totals.modelBitsPerWeight(), *outcome->compressedLoss});
  }
  ctx_->setCompression(outcome->compressed, outcome->instantiated);  // refreshes the views
  updateSummary(outcome.get());
  stage_->setText(tr("Done in %1 s.").arg(outcome->seconds, 0, 'f', 1));
  emit ctx_->statusMessage(tr("Compression finished in %1 s").arg(outcome->seconds, 0, 'f', 1), 4000);
  emit compressionFinished(true);
}

void CompressPanel::updateSummary(const CompressOutcome* outcome) {
  const auto cm = ctx_->compression();
  if (!cm) {
    summary_->setText(tr("No compression yet: choose the settings and press Compress."));
    return;
  }
  const CompressionTotals t = compressionTotals(*cm);
  const QLocale loc;
  QString text = tr("<b>%1 bits/weight</b> over all parameters (%2), matrices %3 bits/weight, %n tensor(s) encoded.",
                    nullptr, int(cm->encoded.size()))
                     .arg(t.modelBitsPerWeight(), 0, 'f', 3)
                     .arg(loc.formattedDataSize(t.bytes()))
                     .arg(t.matrixBitsPerWeight(), 0, 'f', 3);
  if (outcome && outcome->originalLoss && outcome->compressedLoss) {
    const double o = *outcome->originalLoss, c = *outcome->compressedLoss;
    text += tr("<br>Validation loss %1 → %2 nats/token (%3%4%), perplexity %5 → %6, on %7 held-out tokens.")
                .arg(o, 0, 'f', 4)
                .arg(c, 0, 'f', 4)
                .arg(c >= o ? QStringLiteral("+") : QString())
                .arg(o != 0 ? 100.0 * (c - o) / o : 0.0, 0, 'f', 2)
                .arg(std::exp(o), 0, 'f', 3)
                .arg(std::exp(c), 0, 'f', 3)
                .arg(outcome->validationTokens);
  }
  summary_->setText(text);
}

bool CompressPanel::showTensor(const QString& name) {
  const int row = tableModel_->rowOf(name);
  if (row < 0) return false;
  const QModelIndex proxy = sortModel_->mapFromSource(tableModel_->index(row, 0));
  table_->setCurrentIndex(proxy);
  table_->scrollTo(proxy);
  return true;
}

void CompressPanel::onTensorSelected() {
  const QModelIndex source = sortModel_->mapToSource(table_->currentIndex());
  const auto e = tableModel_->tensorAt(source.row());
  if (!e) {
    heatmap_->clear();
    heatmapTitle_->clear();
    return;
  }
  heatmap_->setBlocks(e->blocks, e->rows, e->cols);
  heatmapTitle_->setText(tr("%1: %n block(s)", nullptr, int(e->blocks.size())).arg(tableModel_->nameAt(source.row())));
}

void CompressPanel::onModelChanged() {
  // Runs of another model do not belong on this model's chart.
  originalLoss_.reset();
  originalLossText_.clear();
  rdChart_->clearRuns();
  rdChart_->setReferenceLoss(std::nullopt);
  runCount_ = 0;
  if (!thread_) setRunning(false);
}

void CompressPanel::onCompressionChanged() {
  const auto cm = ctx_->compression();
  const QString previous = tableModel_->nameAt(sortModel_->mapToSource(table_->currentIndex()).row());
  tableModel_->setCompression(cm);
  layerChart_->setCompression(cm.get());
  if (!cm) {
    heatmap_->clear();
    heatmapTitle_->clear();
    updateSummary(nullptr);
    return;
  }
  updateSummary(nullptr);
  if (!showTensor(previous) && tableModel_->rowCount() > 0) showTensor(tableModel_->nameAt(0));
}
