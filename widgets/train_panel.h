#pragma once
// The training panel: a text file, a model preset or custom size, steps,
// batch and learning rate; Start / Pause / Stop; a live training and
// validation loss chart with tokens/s and ETA; checkpoints saved to a folder,
// and "Open in workbench" for the trained model. Training runs in a
// TrainWorker on its own thread.
#include <QWidget>
#include <memory>

#include "workers/train_worker.h"

class LossChart;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QThread;
class WorkbenchContext;

class TrainPanel : public QWidget {
  Q_OBJECT
 public:
  explicit TrainPanel(WorkbenchContext* ctx, QWidget* parent = nullptr);
  ~TrainPanel() override;

  TrainJob job() const;          // the settings shown
  void setJob(const TrainJob& job);
  bool isRunning() const { return thread_ != nullptr; }
  bool isPaused() const;
  QString lastError() const { return lastError_; }
  QString checkpointDir() const { return checkpointDir_; }  // the last saved checkpoint (empty: none)
  qint64 stepsDone() const { return stepsDone_; }

  LossChart* lossChart() const { return chart_; }
  QPushButton* startButton() const { return startButton_; }
  QPushButton* pauseButton() const { return pauseButton_; }
  QPushButton* stopButton() const { return stopButton_; }
  QPushButton* openButton() const { return openButton_; }

 public slots:
  void start();
  void pause();
  void resume();
  void stop();
  void openInWorkbench();

 signals:
  void trainingStarted();
  void lossPointAdded(qint64 step, double loss, bool validation);
  void trainingFinished(bool ok);

 private slots:
  void onPrepared(qint64 parameters, qint64 trainTokens, qint64 validationTokens);
  void onSteps(const QList<TrainProgress>& steps);
  void onCheckpoint(const QString& dir, qint64 step);
  void onFinished(const TrainOutcome& outcome);

 private:
  QWidget* buildForm();
  void setRunning(bool running);
  void updateModelFields();
  void saveSettings();
  QString defaultOutDir() const;

  WorkbenchContext* ctx_;
  QLineEdit* textPath_;
  QComboBox* preset_;
  QSpinBox* nLayer_;
  QSpinBox* nEmbd_;
  QSpinBox* nHead_;
  QSpinBox* context_;
  QSpinBox* steps_;
  QSpinBox* batch_;
  QSpinBox* seqLen_;
  QDoubleSpinBox* lr_;
  QSpinBox* evalEvery_;
  QLineEdit* outDir_;
  QSpinBox* saveEvery_;
  QPushButton* startButton_;
  QPushButton* pauseButton_;
  QPushButton* stopButton_;
  QPushButton* openButton_;
  QProgressBar* progress_;
  QLabel* status_;
  QLabel* stats_;
  LossChart* chart_;

  QThread* thread_ = nullptr;
  std::shared_ptr<TrainControl> control_;
  QString lastError_;
  QString checkpointDir_;
  qint64 stepsDone_ = 0;
  QString modelLine_;
};
