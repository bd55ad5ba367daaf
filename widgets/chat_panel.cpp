#include "chat_panel.h"

#include <QCheckBox>
#include <QHBoxLayout>
#include <QKeySequence>
#include <QLabel>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QShortcut>
#include <QSplitter>
#include <QVBoxLayout>

#include "chat_output_pane.h"
#include "model_summary.h"
#include "sampling_form.h"
#include "workbench_context.h"
#include "workers/generation_job.h"

ChatPanel::ChatPanel(WorkbenchContext* ctx, QWidget* parent)
    : QWidget(parent),
      ctx_(ctx),
      promptEdit_(new QPlainTextEdit(this)),
      sampling_(new SamplingForm(this)),
      generateButton_(new QPushButton(tr("Generate"), this)),
      stopButton_(new QPushButton(tr("Stop"), this)),
      compare_(new QCheckBox(tr("Also run the compressed model"), this)),
      originalPane_(new ChatOutputPane(tr("Original model"), this)),
      compressedPane_(new ChatOutputPane(tr("Compressed model"), this)),
      originalJob_(new GenerationJob(this)),
      compressedJob_(new GenerationJob(this)) {
  promptEdit_->setPlaceholderText(tr("Type a prompt, then press Ctrl+Return"));
  promptEdit_->setPlainText(QStringLiteral("ROMEO:"));
  generateButton_->setToolTip(tr("Generate from the prompt (Ctrl+Return)"));
  stopButton_->setToolTip(tr("Stop generating (Esc)"));
  compare_->setChecked(true);

  auto* buttons = new QHBoxLayout;
  buttons->addWidget(generateButton_);
  buttons->addWidget(stopButton_);
  buttons->addWidget(compare_);
  buttons->addStretch(1);

  auto* left = new QVBoxLayout;
  left->addWidget(new QLabel(tr("Prompt:"), this));
  left->addWidget(promptEdit_, 1);  // as tall as the sampling settings beside it
  left->addLayout(buttons);

  auto* top = new QHBoxLayout;
  top->addLayout(left, 1);
  top->addWidget(sampling_);

  auto* outputs = new QSplitter(Qt::Horizontal, this);
  outputs->addWidget(originalPane_);
  outputs->addWidget(compressedPane_);
  outputs->setChildrenCollapsible(false);

  auto* layout = new QVBoxLayout(this);
  layout->addLayout(top);
  layout->addWidget(outputs, 1);

  auto* generateKey = new QShortcut(QKeySequence(Qt::CTRL | Qt::Key_Return), this);
  generateKey->setContext(Qt::WidgetWithChildrenShortcut);
  connect(generateKey, &QShortcut::activated, this, &ChatPanel::generate);
  auto* generateKeyPad = new QShortcut(QKeySequence(Qt::CTRL | Qt::Key_Enter), this);
  generateKeyPad->setContext(Qt::WidgetWithChildrenShortcut);
  connect(generateKeyPad, &QShortcut::activated, this, &ChatPanel::generate);
  auto* stopKey = new QShortcut(QKeySequence(Qt::Key_Escape), this);
  stopKey->setContext(Qt::WidgetWithChildrenShortcut);
  connect(stopKey, &QShortcut::activated, this, &ChatPanel::stop);

  connect(generateButton_, &QPushButton::clicked, this, &ChatPanel::generate);
  connect(stopButton_, &QPushButton::clicked, this, &ChatPanel::stop);
  for (auto [job, pane, compressed] :
       {std::tuple{originalJob_, originalPane_, false}, std::tuple{compressedJob_, compressedPane_, true}}) {
    connect(job, &GenerationJob::textGenerated, pane, &ChatOutputPane::append);
    connect(job, &GenerationJob::progress, pane, [pane](int tokens, double rate) {
      pane->setStatus(tr("%1 tokens · %2 tokens/s").arg(tokens).arg(rate, 0, 'f', 1));
    });
    connect(job, &GenerationJob::finished, this,
            [this, job = job, pane = pane, compressed = compressed](bool ok, const QString& message) {
              onRunFinished(job, pane, compressed, ok, message);
            });
  }
  sampling_->load(ctx_->settings());
  connect(sampling_, &SamplingForm::changed, this, [this] { sampling_->save(ctx_->settings()); });
  connect(ctx_, &WorkbenchContext::modelChanged, this, &ChatPanel::onModelChanged);
  connect(ctx_, &WorkbenchContext::compressionChanged, this, &ChatPanel::onCompressionChanged);
  onModelChanged();
}

void ChatPanel::setPrompt(const QString& text) { promptEdit_->setPlainText(text); }

QString ChatPanel::prompt() const { return promptEdit_->toPlainText(); }

bool ChatPanel::isGenerating() const { return originalJob_->isRunning() || compressedJob_->isRunning(); }

void ChatPanel::generate() {
  if (isGenerating()) return;
  if (!ctx_->model()) {
    emit ctx_->statusMessage(tr("Open a model first."));
    return;
  }
  stopRequested_ = false;
  runOk_ = true;
  if (compare_->isChecked() && ctx_->compressedModel())
    compressedPane_->setNote(tr("Waiting for the original model to finish…"));
  emit generationStarted();
  startRun(originalJob_, originalPane_, false);
}

void ChatPanel::stop() {
  stopRequested_ = true;
  originalJob_->stop();
  compressedJob_->stop();
}

void ChatPanel::startRun(GenerationJob* job, ChatOutputPane* pane, bool compressed) {
  auto model = compressed ? ctx_->compressedModel() : ctx_->model();
  // The f16 weights are the original model's; the compressed model runs as compressed.
  const rbe::DType weights = compressed ? rbe::DType::F32 : sampling_->weights();
  pane->begin(prompt());
  if (weights == rbe::DType::F16 && model && !job->copyOf(model))
    pane->setStatus(tr("Making an f16 copy of the model's matrices…"));
  job->start(model, prompt(), sampling_->params(), sampling_->kvCache(), weights);
  updateButtons();
}

void ChatPanel::onRunFinished(GenerationJob* job, ChatOutputPane* pane, bool compressed, bool ok,
                              const QString& message) {
  if (ok) {
    const GenerationJob::Stats& s = job->stats();
    pane->setStatus(tr("%1 tokens · %2 tokens/s · peak memory %3 · %4")
                        .arg(s.tokens)
                        .arg(s.tokensPerSecond, 0, 'f', 1)
                        .arg(workbench::formatBytes(s.peakRssBytes), s.stopReason));
  } else {
    pane->setStatus(tr("Error: %1").arg(message));
    emit ctx_->statusMessage(tr("Generation failed: %1").arg(message), 8000);
    runOk_ = false;
  }
  const bool runCompressed = !compressed && ok && !stopRequested_ && compare_->isChecked() && ctx_->compressedModel();
  if (runCompressed) {
    startRun(compressedJob_, compressedPane_, true);
    return;
  }
  if (!compressed && compare_->isChecked() && ctx_->compressedModel() && !runCompressed)
    compressedPane_->setNote(tr("Not run: the original model's run was stopped or failed."));
  updateButtons();
  emit generationFinished(runOk_);
}

void ChatPanel::onModelChanged() {
  stop();
  originalJob_->releaseCopy();  // the f16 copy of the previous model
  originalPane_->setNote(ctx_->model() ? tr("Press Generate (Ctrl+Return) to stream text from the opened model.")
                                       : tr("Open a model to chat with it."));
  onCompressionChanged();
}

void ChatPanel::onCompressionChanged() {
  const bool have = ctx_->compressedModel() != nullptr;
  compare_->setEnabled(have);
  compressedPane_->setEnabled(have);
  if (!compressedJob_->isRunning())
    compressedPane_->setNote(have ? tr("The compressed model answers the same prompt here, after the original.")
                                  : tr("Compress the model (Compress panel) to compare its text with the "
                                       "original's here."));
  updateButtons();
}

void ChatPanel::updateButtons() {
  const bool busy = isGenerating();
  generateButton_->setEnabled(!busy && ctx_->model());
  stopButton_->setEnabled(busy);
}
