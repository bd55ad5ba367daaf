#pragma once
// Trains a character-level GPT-2 on a text file off the GUI thread
// (rbe::Trainer), reporting every step, saving checkpoints (io/checkpoint.h)
// to a folder. Pause and Stop are honoured between steps: the step callback
// blocks while paused; stop cancels the trainer's run.
#include <QList>
#include <QObject>
#include <QString>
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>

struct TrainJob {
  QString textPath;
  QString preset = QStringLiteral("mini");  // a ModelConfig preset, or "custom"
  int nLayer = 2, nEmbd = 128, nHead = 4, context = 128;  // for "custom"
  int steps = 500;
  int batch = 8;
  int ctx = 0;  // tokens per sequence; 0: min(context, 128)
  double lr = 2e-3;
  int evalEvery = 50;  // validation loss every N steps (0: at the end only)
  int evalBatches = 4;
  QString outDir;      // checkpoint folder; empty: none saved
  int saveEvery = 0;   // also save every N steps (0: only at the end)
  quint64 seed = 1337;
};

// Shared by the panel (GUI thread) and the worker.
class TrainControl {
 public:
  void setPaused(bool paused);
  void requestStop();
  bool stopRequested() const { return stop_.load(); }
  bool paused() const { return paused_.load(); }
  const std::atomic<bool>* stopFlag() const { return &stop_; }
  // Blocks the calling (worker) thread while paused and not stopped; returns
  // the seconds spent waiting.
  double waitWhilePaused();

 private:
  std::atomic<bool> stop_{false}, paused_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
};

struct TrainProgress {
  qint64 step = 0, totalSteps = 0;
  double loss = 0;
  std::optional<double> validationLoss;
  double learningRate = 0;
  double tokensPerSecond = 0;
  double etaSeconds = 0;      // from the measured time per step, pauses excluded
  double elapsedSeconds = 0;  // pauses excluded
};

struct TrainOutcome {
  enum class Status { Completed, Stopped, Failed };
  Status status = Status::Failed;
  QString error;
  QString checkpointDir;  // where the final checkpoint was saved (empty: none)
  qint64 steps = 0;
  std::optional<double> validationLoss;  // the last one measured
};

Q_DECLARE_METATYPE(TrainProgress)
Q_DECLARE_METATYPE(TrainOutcome)

class TrainWorker : public QObject {
  Q_OBJECT
 public:
  TrainWorker(TrainJob job, std::shared_ptr<TrainControl> control);

 public slots:
  void run();

 signals:
  // The model and data are ready: parameter count, training and validation tokens.
  void prepared(qint64 parameters, qint64 trainTokens, qint64 validationTokens);
  // Steps in order, batched: at most every 50 ms (and before a pause and at
  // the end), so a tiny model's thousand steps a second cannot flood the GUI.
  void stepsDone(const QList<TrainProgress>& steps);
  void checkpointSaved(const QString& dir, qint64 step);
  void finished(const TrainOutcome& outcome);

 private:
  TrainJob job_;
  std::shared_ptr<TrainControl> control_;
};
