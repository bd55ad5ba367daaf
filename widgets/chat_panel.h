#pragma once
// The Chat panel: a prompt, sampling settings, and the text streamed from the
// original model and (once there is one) the compressed model, side by side,
// each with tokens/s and peak memory.
#include <QWidget>

class ChatOutputPane;
class GenerationJob;
class QCheckBox;
class QPlainTextEdit;
class QPushButton;
class SamplingForm;
class WorkbenchContext;

class ChatPanel : public QWidget {
  Q_OBJECT
 public:
  explicit ChatPanel(WorkbenchContext* ctx, QWidget* parent = nullptr);

  void setPrompt(const QString& text);
  QString prompt() const;
  bool isGenerating() const;
  SamplingForm* samplingForm() const { return sampling_; }
  ChatOutputPane* originalPane() const { return originalPane_; }
  ChatOutputPane* compressedPane() const { return compressedPane_; }
  GenerationJob* originalJob() const { return originalJob_; }
  GenerationJob* compressedJob() const { return compressedJob_; }
  QCheckBox* compareBox() const { return compare_; }

 public slots:
  void generate();  // Ctrl+Return
  void stop();      // Esc

 signals:
  void generationStarted();
  void generationFinished(bool ok);  // after the last model's run

 private slots:
  void onModelChanged();
  void onCompressionChanged();

 private:
  void startRun(GenerationJob* job, ChatOutputPane* pane, bool compressed);
  void onRunFinished(GenerationJob* job, ChatOutputPane* pane, bool compressed, bool ok, const QString& message);
  void updateButtons();

  WorkbenchContext* ctx_;
  QPlainTextEdit* promptEdit_;
  SamplingForm* sampling_;
  QPushButton* generateButton_;
  QPushButton* stopButton_;
  QCheckBox* compare_;
  ChatOutputPane* originalPane_;
  ChatOutputPane* compressedPane_;
  GenerationJob* originalJob_;
  GenerationJob* compressedJob_;
  bool stopRequested_ = false;
  bool runOk_ = true;
};
