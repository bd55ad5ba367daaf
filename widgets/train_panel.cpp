#include "train_panel.h"

#include <QComboBox>
#include <QDateTime>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QSplitter>
#include <QStandardPaths>
#include <QThread>
#include <QToolButton>
#include <QVBoxLayout>
#include <cmath>

#include "loss_chart.h"
#include "message_popup.h"
#include "models/model_config.h"
#include "scroll_column.h"
#include "workbench_context.h"

namespace {

const QString kGroup = QStringLiteral("train");

QString duration(double seconds) {
  const qint64 s = qint64(std::llround(std::max(0.0, seconds)));
  if (s >= 3600) return TrainPanel::tr("%1 h %2 min").arg(s / 3600).arg((s % 3600) / 60, 2, 10, QLatin1Char('0'));
  if (s >= 60) return TrainPanel::tr("%1 min %2 s").arg(s / 60).arg(s % 60, 2, 10, QLatin1Char('0'));
  return TrainPanel::tr("%1 s").arg(s);
}

QSpinBox* spin(QWidget* parent, int lo, int hi, int value, int step = 1) {
  auto* s = new QSpinBox(parent);
  s->setRange(lo, hi);
  s->setSingleStep(step);
  s->setValue(value);
  return s;
}

// A form row of a line edit and its browse button; the label's mnemonic focuses the edit.
void addPathRow(QFormLayout* form, const QString& label, QLineEdit* edit, QToolButton* button) {
  auto* row = new QHBoxLayout();
  row->setContentsMargins(0, 0, 0, 0);
  row->addWidget(edit, 1);
  row->addWidget(button);
  auto* l = new QLabel(label, edit->parentWidget());
  l->setBuddy(edit);
  form->addRow(l, row);
}

}  // namespace

TrainPanel::TrainPanel(WorkbenchContext* ctx, QWidget* parent) : QWidget(parent), ctx_(ctx) {
  qRegisterMetaType<TrainProgress>();
  qRegisterMetaType<QList<TrainProgress>>();
  qRegisterMetaType<TrainOutcome>();
  auto* splitter = new QSplitter(Qt::Horizontal, this);
  splitter->addWidget(buildForm());
  auto* right = new QWidget(splitter);
  auto* rv = new QVBoxLayout(right);
  rv->setContentsMargins(0, 0, 0, 0);
  stats_ = new QLabel(right);
  stats_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  rv->addWidget(stats_);
  chart_ = new LossChart(right);
  rv->addWidget(chart_, 1);
  splitter->addWidget(right);
  splitter->setStretchFactor(1, 1);
  (new QVBoxLayout(this))->addWidget(splitter);

  // Settings of the last run, else the defaults.
  TrainJob j;
  QSettings& s = ctx_->settings();
  j.textPath = s.value(kGroup + QStringLiteral("/text")).toString();
  j.preset = s.value(kGroup + QStringLiteral("/preset"), j.preset).toString();
  j.nLayer = s.value(kGroup + QStringLiteral("/nLayer"), j.nLayer).toInt();
  j.nEmbd = s.value(kGroup + QStringLiteral("/nEmbd"), j.nEmbd).toInt();
  j.nHead = s.value(kGroup + QStringLiteral("/nHead"), j.nHead).toInt();
  j.context = s.value(kGroup + QStringLiteral("/context"), j.context).toInt();
  j.steps = s.value(kGroup + QStringLiteral("/steps"), j.steps).toInt();
  j.batch = s.value(kGroup + QStringLiteral("/batch"), j.batch).toInt();
  j.ctx = s.value(kGroup + QStringLiteral("/ctx"), j.ctx).toInt();
  j.lr = s.value(kGroup + QStringLiteral("/lr"), j.lr).toDouble();
  j.evalEvery = s.value(kGroup + QStringLiteral("/evalEvery"), j.evalEvery).toInt();
  j.saveEvery = s.value(kGroup + QStringLiteral("/saveEvery"), j.saveEvery).toInt();
  j.outDir = defaultOutDir();
  setJob(j);
  setRunning(false);
  stats_->setText(tr("Choose a text file and press Start. The last 10% of the text is the validation set."));
}

TrainPanel::~TrainPanel() {
  if (thread_) {
    control_->requestStop();
    thread_->quit();
    thread_->wait();
  }
}

QString TrainPanel::defaultOutDir() const {
  const QString base = QStandardPaths::writableLocation(QStandardPaths::AppLocalDataLocation);
  return QDir(base).filePath(QStringLiteral("runs/run-") + QDateTime::currentDateTime().toString(QStringLiteral("yyyyMMdd-HHmmss")));
}

QWidget* TrainPanel::buildForm() {
  auto* box = new QWidget(this);
  auto* v = new QVBoxLayout(box);
  v->setContentsMargins(0, 0, 0, 0);

  auto* dataGroup = new QGroupBox(tr("Data"), box);
  auto* df = new QFormLayout(dataGroup);
  textPath_ = new QLineEdit(dataGroup);
  textPath_->setPlaceholderText(tr("A plain text file (UTF-8 or bytes)"));
  auto* browseText = new QToolButton(dataGroup);
  browseText->setText(tr("…"));
  browseText->setToolTip(tr("Choose the training text"));
  addPathRow(df, tr("&Text file:"), textPath_, browseText);
  connect(browseText, &QToolButton::clicked, this, [this] {
    const QString p = QFileDialog::getOpenFileName(this, tr("Training text"), textPath_->text(),
                                                   tr("Text files (*.txt);;All files (*)"));
    if (!p.isEmpty()) textPath_->setText(p);
  });
  v->addWidget(dataGroup);

  auto* modelGroup = new QGroupBox(tr("Model"), box);
  auto* mf = new QFormLayout(modelGroup);
  preset_ = new QComboBox(modelGroup);
  preset_->addItem(tr("Mini GPT-2 (2 layers, 256 dim)"), QStringLiteral("mini"));
  preset_->addItem(tr("Custom size"), QStringLiteral("custom"));
  nLayer_ = spin(modelGroup, 1, 48, 2);
  nEmbd_ = spin(modelGroup, 8, 2048, 128, 8);
  nHead_ = spin(modelGroup, 1, 32, 4);
  context_ = spin(modelGroup, 8, 2048, 128, 8);
  mf->addRow(tr("&Preset:"), preset_);
  mf->addRow(tr("Layers:"), nLayer_);
  mf->addRow(tr("Width (n_embd):"), nEmbd_);
  mf->addRow(tr("Heads:"), nHead_);
  mf->addRow(tr("Context:"), context_);
  connect(preset_, &QComboBox::currentIndexChanged, this, &TrainPanel::updateModelFields);
  v->addWidget(modelGroup);

  auto* runGroup = new QGroupBox(tr("Training"), box);
  auto* rf = new QFormLayout(runGroup);
  steps_ = spin(runGroup, 1, 10000000, 500);
  batch_ = spin(runGroup, 1, 1024, 8);
  seqLen_ = spin(runGroup, 0, 2048, 0, 8);
  seqLen_->setSpecialValueText(tr("automatic"));
  seqLen_->setToolTip(tr("Tokens per training sequence; automatic: the context, at most 128"));
  lr_ = new QDoubleSpinBox(runGroup);
  lr_->setDecimals(5);
  lr_->setRange(0.00001, 1.0);
  lr_->setSingleStep(0.0005);
  lr_->setValue(0.002);
  evalEvery_ = spin(runGroup, 0, 1000000, 50);
  evalEvery_->setSpecialValueText(tr("at the end only"));
  rf->addRow(tr("&Steps:"), steps_);
  rf->addRow(tr("&Batch:"), batch_);
  rf->addRow(tr("Sequence length:"), seqLen_);
  rf->addRow(tr("&Learning rate:"), lr_);
  rf->addRow(tr("Validate every:"), evalEvery_);
  v->addWidget(runGroup);

  auto* outGroup = new QGroupBox(tr("Checkpoints"), box);
  auto* of = new QFormLayout(outGroup);
  outDir_ = new QLineEdit(outGroup);
  auto* browseOut = new QToolButton(outGroup);
  browseOut->setText(tr("…"));
  browseOut->setToolTip(tr("Choose the checkpoint folder"));
  addPathRow(of, tr("&Folder:"), outDir_, browseOut);
  saveEvery_ = spin(outGroup, 0, 1000000, 0);
  saveEvery_->setSpecialValueText(tr("at the end only"));
  of->addRow(tr("Save every:"), saveEvery_);
  connect(browseOut, &QToolButton::clicked, this, [this] {
    const QString p = QFileDialog::getExistingDirectory(this, tr("Checkpoint folder"), outDir_->text());
    if (!p.isEmpty()) outDir_->setText(p);
  });
  v->addWidget(outGroup);

  auto* buttons = new QHBoxLayout();
  startButton_ = new QPushButton(tr("&Start"), box);
  pauseButton_ = new QPushButton(tr("&Pause"), box);
  stopButton_ = new QPushButton(tr("S&top"), box);
  buttons->addWidget(startButton_);
  buttons->addWidget(pauseButton_);
  buttons->addWidget(stopButton_);
  v->addLayout(buttons);
  progress_ = new QProgressBar(box);
  v->addWidget(progress_);
  status_ = new QLabel(box);
  status_->setWordWrap(true);
  status_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  v->addWidget(status_);
  openButton_ = new QPushButton(tr("&Open in workbench"), box);
  openButton_->setToolTip(tr("Open the trained model's checkpoint in the workbench"));
  v->addWidget(openButton_);
  v->addStretch();
  connect(startButton_, &QPushButton::clicked, this, &TrainPanel::start);
  connect(pauseButton_, &QPushButton::clicked, this, [this] { isPaused() ? resume() : pause(); });
  connect(stopButton_, &QPushButton::clicked, this, &TrainPanel::stop);
  connect(openButton_, &QPushButton::clicked, this, &TrainPanel::openInWorkbench);

  return makeScrollColumn(box, this);
}

void TrainPanel::updateModelFields() {
  const bool custom = preset_->currentData().toString() == QLatin1String("custom");
  if (!custom) {
    const auto c = rbe::ModelConfig::preset(preset_->currentData().toString().toStdString());
    nLayer_->setValue(int(c.n_layer));
    nEmbd_->setValue(int(c.n_embd));
    nHead_->setValue(int(c.n_head));
    context_->setValue(int(c.n_positions));
  }
  for (QSpinBox* s : {nLayer_, nEmbd_, nHead_, context_}) s->setEnabled(custom && !thread_);
}

TrainJob TrainPanel::job() const {
  TrainJob j;
  j.textPath = textPath_->text().trimmed();
  j.preset = preset_->currentData().toString();
  j.nLayer = nLayer_->value();
  j.nEmbd = nEmbd_->value();
  j.nHead = nHead_->value();
  j.context = context_->value();
  j.steps = steps_->value();
  j.batch = batch_->value();
  j.ctx = seqLen_->value();
  j.lr = lr_->value();
  j.evalEvery = evalEvery_->value();
  j.outDir = outDir_->text().trimmed();
  j.saveEvery = saveEvery_->value();
  return j;
}

void TrainPanel::setJob(const TrainJob& j) {
  textPath_->setText(j.textPath);
  const int pi = preset_->findData(j.preset);
  preset_->setCurrentIndex(pi >= 0 ? pi : 0);
  if (j.preset == QLatin1String("custom")) {
    nLayer_->setValue(j.nLayer);
    nEmbd_->setValue(j.nEmbd);
    nHead_->setValue(j.nHead);
    context_->setValue(j.context);
  }
  updateModelFields();
  steps_->setValue(j.steps);
  batch_->setValue(j.batch);
  seqLen_->setValue(j.ctx);
  lr_->setValue(j.lr);
  evalEvery_->setValue(j.evalEvery);
  outDir_->setText(j.outDir);
  saveEvery_->setValue(j.saveEvery);
}

void TrainPanel::saveSettings() {
  const TrainJob j = job();
  QSettings& s = ctx_->settings();
  s.setValue(kGroup + QStringLiteral("/text"), j.textPath);
  s.setValue(kGroup + QStringLiteral("/preset"), j.preset);
  s.setValue(kGroup + QStringLiteral("/nLayer"), j.nLayer);
  s.setValue(kGroup + QStringLiteral("/nEmbd"), j.nEmbd);
  s.setValue(kGroup + QStringLiteral("/nHead"), j.nHead);
  s.setValue(kGroup + QStringLiteral("/context"), j.context);
  s.setValue(kGroup + QStringLiteral("/steps"), j.steps);
  s.setValue(kGroup + QStringLiteral("/batch"), j.batch);
  s.setValue(kGroup + QStringLiteral("/ctx"), j.ctx);
  s.setValue(kGroup + QStringLiteral("/lr"), j.lr);
  s.setValue(kGroup + QStringLiteral("/evalEvery"), j.evalEvery);
  s.setValue(kGroup + QStringLiteral("/saveEvery"), j.saveEvery);
}

bool TrainPanel::isPaused() const { return control_ && control_->paused(); }

void TrainPanel::setRunning(bool running) {
  for (QWidget* w : std::initializer_list<QWidget*>{textPath_, preset_, steps_, batch_, seqLen_, lr_, evalEvery_, outDir_, saveEvery_})
    w->setEnabled(!running);
  updateModelFields();
  startButton_->setEnabled(!running);
  pauseButton_->setEnabled(running);
  pauseButton_->setText(tr("&Pause"));
  stopButton_->setEnabled(running);
  openButton_->setEnabled(!running && !checkpointDir_.isEmpty());
}

void TrainPanel::start() {
  if (thread_) return;
  lastError_.clear();
  TrainJob j = job();
  if (j.textPath.isEmpty() || !QFileInfo(j.textPath).isFile()) {
    lastError_ = j.textPath.isEmpty() ? tr("Choose a text file to train on.")
                                      : tr("The text file %1 does not exist; choose another.").arg(j.textPath);
    status_->setText(lastError_);
    emit ctx_->statusMessage(lastError_, 6000);
    emit trainingFinished(false);
    return;
  }
  saveSettings();
  chart_->clear();
  stepsDone_ = 0;
  checkpointDir_.clear();
  progress_->setRange(0, j.steps);
  progress_->setValue(0);
  status_->setText(tr("Preparing the model and data…"));
  control_ = std::make_shared<TrainControl>();
  thread_ = new QThread(this);
  auto* worker = new TrainWorker(j, control_);
  worker->moveToThread(thread_);
  connect(thread_, &QThread::started, worker, &TrainWorker::run);
  connect(worker, &TrainWorker::prepared, this, &TrainPanel::onPrepared);
  connect(worker, &TrainWorker::stepsDone, this, &TrainPanel::onSteps);
  connect(worker, &TrainWorker::checkpointSaved, this, &TrainPanel::onCheckpoint);
  connect(worker, &TrainWorker::finished, this, &TrainPanel::onFinished);
  connect(thread_, &QThread::finished, worker, &QObject::deleteLater);
  setRunning(true);
  thread_->start();
  emit trainingStarted();
}

void TrainPanel::pause() {
  if (!thread_ || !control_ || control_->stopRequested()) return;
  control_->setPaused(true);
  pauseButton_->setText(tr("&Resume"));
  status_->setText(tr("Paused after the current step."));
}

void TrainPanel::resume() {
  if (!thread_ || !control_) return;
  control_->setPaused(false);
  pauseButton_->setText(tr("&Pause"));
  status_->setText(tr("Training…"));
}

void TrainPanel::stop() {
  if (!thread_ || !control_ || control_->stopRequested()) return;
  control_->requestStop();
  stopButton_->setEnabled(false);
  pauseButton_->setEnabled(false);
  status_->setText(tr("Stopping after the current step…"));
}

void TrainPanel::openInWorkbench() {
  if (checkpointDir_.isEmpty()) return;
  emit ctx_->openModelRequested(checkpointDir_);
}

void TrainPanel::onPrepared(qint64 parameters, qint64 trainTokens, qint64 validationTokens) {
  modelLine_ = tr("%1 M parameters; %2 training and %3 validation characters.")
                   .arg(double(parameters) / 1e6, 0, 'f', 2)
                   .arg(trainTokens)
                   .arg(validationTokens);
  stats_->setText(modelLine_);
  status_->setText(tr("Training…"));
}

void TrainPanel::onSteps(const QList<TrainProgress>& steps) {
  if (steps.isEmpty()) return;
  for (const TrainProgress& p : steps) {
    chart_->addTrainLoss(double(p.step), p.loss);
    emit lossPointAdded(p.step, p.loss, false);
    if (p.validationLoss) {
      chart_->addValidationLoss(double(p.step), *p.validationLoss);
      emit lossPointAdded(p.step, *p.validationLoss, true);
    }
  }
  const TrainProgress& p = steps.back();
  stepsDone_ = p.step;
  progress_->setValue(int(p.step));
  QString line = tr("Step %1 of %2 · loss %3 · %4 tokens/s · learning rate %5 · elapsed %6 · ETA %7")
                     .arg(p.step)
                     .arg(p.totalSteps)
                     .arg(p.loss, 0, 'f', 4)
                     .arg(QLocale().toString(p.tokensPerSecond, 'f', 0))
                     .arg(p.learningRate, 0, 'g', 3)
                     .arg(duration(p.elapsedSeconds))
                     .arg(duration(p.etaSeconds));
  if (const auto val = chart_->lastValidationLoss()) line += tr(" · validation loss %1").arg(*val, 0, 'f', 4);
  stats_->setText(modelLine_ + QLatin1Char('\n') + line);
}

void TrainPanel::onCheckpoint(const QString& dir, qint64 step) {
  emit ctx_->statusMessage(tr("Checkpoint saved to %1 (step %2)").arg(dir).arg(step), 4000);
}

void TrainPanel::onFinished(const TrainOutcome& outcome) {
  QThread* thread = thread_;
  thread_ = nullptr;
  thread->quit();
  thread->wait();
  thread->deleteLater();
  chart_->flush();
  stepsDone_ = outcome.steps;
  checkpointDir_ = outcome.status == TrainOutcome::Status::Failed ? QString() : outcome.checkpointDir;
  setRunning(false);
  const bool ok = outcome.status == TrainOutcome::Status::Completed;
  switch (outcome.status) {
    case TrainOutcome::Status::Completed:
      status_->setText(checkpointDir_.isEmpty() ? tr("Finished after %1 steps.").arg(outcome.steps)
                                                : tr("Finished after %1 steps; saved to %2.").arg(outcome.steps).arg(checkpointDir_));
      break;
    case TrainOutcome::Status::Stopped:
      status_->setText(checkpointDir_.isEmpty() ? tr("Stopped at step %1.").arg(outcome.steps)
                                                : tr("Stopped at step %1; saved to %2.").arg(outcome.steps).arg(checkpointDir_));
      break;
    case TrainOutcome::Status::Failed:
      lastError_ = outcome.error;
      status_->setText(tr("Failed: %1").arg(outcome.error));
      if (isVisible())
        showWarning(this, tr("Training failed"),
                             tr("Training stopped with an error:\n\n%1\n\nCheck the text file, the model size "
                                "(the width must be divisible by the heads) and the checkpoint folder.")
                                 .arg(outcome.error));
      break;
  }
  emit ctx_->statusMessage(status_->text(), 6000);
  emit trainingFinished(ok);
}
