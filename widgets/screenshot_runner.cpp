#include "screenshot_runner.h"

#include <QDir>
#include <QFileInfo>
#include <QImage>
#include <QPixmap>
#include <QSaveFile>

#include "chat_panel.h"
#include "compress_panel.h"
#include "default_model.h"
#include "sampling_form.h"
#include "train_panel.h"
#include "workbench_context.h"

ScreenshotRunner::ScreenshotRunner(MainWindow* window, Options options, QObject* parent)
    : QObject(parent), window_(window), opt_(std::move(options)) {
  timeout_.setSingleShot(true);
  connect(&timeout_, &QTimer::timeout, this, [this] { fail(tr("timed out after %1 s").arg(opt_.timeoutMs / 1000)); });
}

void ScreenshotRunner::start() {
  const QString model = opt_.modelPath.isEmpty() ? workbench::defaultModelPath() : opt_.modelPath;
  if (model.isEmpty()) return fail(tr("the default model was not found; pass --model PATH"));
  timeout_.start(opt_.timeoutMs);
  window_->setInteractive(false);
  window_->resize(1280, 820);
  window_->show();
  window_->showPanel(opt_.panel);
  WorkbenchContext* ctx = window_->context();
  if (ctx->model() && QFileInfo(ctx->modelPath()) == QFileInfo(model)) {
    // Already open (several screenshots in one window): keep it and its compression.
    QTimer::singleShot(0, this, [this] { onModelLoaded(true, {}); });
    return;
  }
  connect(window_, &MainWindow::modelLoadFinished, this, &ScreenshotRunner::onModelLoaded, Qt::SingleShotConnection);
  window_->openModel(model);
}

void ScreenshotRunner::onModelLoaded(bool ok, const QString& message) {
  if (!ok) return fail(tr("could not open the model: %1").arg(message));
  window_->showPanel(opt_.panel);
  switch (opt_.panel) {
    case MainWindow::Panel::Model:
      return capture();
    case MainWindow::Panel::Compress:
      return prepareCompress(false);
    case MainWindow::Panel::Chat:  // compress first (unless done) so that both panes have text
      return window_->context()->compressedModel() ? prepareChat() : prepareCompress(true);
    case MainWindow::Panel::Train:
      return prepareTrain();
  }
}

void ScreenshotRunner::prepareCompress(bool thenChat) {
  CompressPanel* panel = window_->compressPanel();
  connect(
      panel, &CompressPanel::compressionFinished, this,
      [this, thenChat, panel](bool ok) {
        if (thenChat) return prepareChat();  // without a compression the chat shows the original only
        if (!ok) return fail(tr("the compression failed: %1").arg(panel->lastError()));
        // Show a block heatmap worth looking at: the first MLP matrix.
        if (auto cm = window_->context()->compression())
          for (const auto& [name, e] : cm->encoded)
            if (name.find("mlp.c_fc") != std::string::npos) {
              panel->showTensor(QString::fromStdString(name));
              break;
            }
        capture();
      },
      Qt::SingleShotConnection);
  panel->startCompression();
}

void ScreenshotRunner::prepareChat() {
  window_->showPanel(MainWindow::Panel::Chat);
  ChatPanel* chat = window_->chatPanel();
  chat->setPrompt(QStringLiteral("ROMEO:"));
  rbe::SamplingParams p = chat->samplingForm()->params();
  p.temperature = 0.8f;
  p.top_k = 40;
  p.max_tokens = 160;
  p.seed = 42;
  chat->samplingForm()->setParams(p);
  connect(
      chat, &ChatPanel::generationFinished, this, [this](bool ok) { ok ? capture() : fail(tr("generation failed")); },
      Qt::SingleShotConnection);
  chat->generate();
}

void ScreenshotRunner::prepareTrain() {
  if (opt_.trainTextPath.isEmpty() || !QFileInfo::exists(opt_.trainTextPath))
    return fail(tr("the train panel needs a text file: pass --train-text FILE"));
  TrainPanel* panel = window_->trainPanel();
  TrainJob job = panel->job();
  job.textPath = opt_.trainTextPath;
  job.preset = QStringLiteral("custom");
  job.nLayer = 2;
  job.nEmbd = 64;
  job.nHead = 4;
  job.context = 64;
  job.ctx = 64;
  job.steps = 60;
  job.batch = 8;
  job.evalEvery = 10;
  job.outDir.clear();
  panel->setJob(job);
  connect(
      panel, &TrainPanel::trainingFinished, this,
      [this, panel](bool ok) { ok ? capture() : fail(tr("training failed: %1").arg(panel->lastError())); },
      Qt::SingleShotConnection);
  panel->start();
}

void ScreenshotRunner::capture() {
  // Let pending layout and paint events settle before grabbing.
  QTimer::singleShot(100, this, [this] {
    const QImage image = window_->grab().toImage();
    QDir().mkpath(QFileInfo(opt_.outPath).absolutePath());
    QSaveFile file(opt_.outPath);  // a temporary name, renamed when complete
    if (image.isNull() || !file.open(QIODevice::WriteOnly) || !image.save(&file, "PNG") || !file.commit())
      return fail(tr("could not write %1").arg(opt_.outPath));
    done(true, tr("wrote %1 (%2 × %3)").arg(opt_.outPath).arg(image.width()).arg(image.height()));
  });
}

void ScreenshotRunner::fail(const QString& why) { done(false, why); }

void ScreenshotRunner::done(bool ok, const QString& message) {
  if (finished_) return;
  finished_ = true;
  timeout_.stop();
  ok_ = ok;
  message_ = message;
  emit finished(ok, message);
}
