#pragma once
// Runs one compression off the GUI thread: codec::compress_model, then
// instantiate() (a model running from the packed weights), then, when a
// held-out text is given, the validation loss of the original and the
// compressed model. Lives in a QThread; run() is its one job. Cancel by
// setting the shared flag: the codec polls it between blocks, this worker
// between stages and evaluation chunks.
#include <QElapsedTimer>
#include <QObject>
#include <QString>
#include <atomic>
#include <memory>
#include <optional>

#include "codec/model_codec.h"

struct CompressJob {
  std::shared_ptr<rbe::LoadedModel> model;
  rbe::codec::ModelCodecOptions options;
  QString validationTextPath;         // empty: no validation loss
  bool calibrate = false;             // calibrate on the text's first 90%
  // Where `model` was opened from. Calibration hooks observers into the
  // model's layers while it runs forward passes, so a calibrated run works on
  // a private copy loaded from here, never on the model the chat panel may be
  // generating with at the same time.
  QString modelPath;
  std::optional<double> originalLoss;  // already measured on this text: not measured again
};

struct CompressOutcome {
  enum class Status { Ok, Cancelled, Failed };
  Status status = Status::Failed;
  QString error;  // for Failed
  std::shared_ptr<rbe::LoadedModel> model;  // the job's model (to drop results for a model closed meanwhile)
  std::shared_ptr<const rbe::codec::CompressedModel> compressed;
  std::shared_ptr<rbe::LoadedModel> instantiated;
  std::optional<double> originalLoss, compressedLoss;
  int64_t validationTokens = 0;
  double seconds = 0;
};
Q_DECLARE_METATYPE(std::shared_ptr<CompressOutcome>)

class CompressWorker : public QObject {
  Q_OBJECT
 public:
  CompressWorker(CompressJob job, std::shared_ptr<std::atomic<bool>> cancel);

  // Held-out tokens scored per model: enough for a stable comparison, bounded for big models.
  static constexpr size_t kMaxValidationTokens = 16384;

 public slots:
  void run();

 signals:
  void progress(double fraction, const QString& what);
  void finished(std::shared_ptr<CompressOutcome> outcome);

 private:
  void report(double fraction, const QString& what, bool force = false);
  bool cancelled() const { return cancel_->load(); }

  CompressJob job_;
  std::shared_ptr<std::atomic<bool>> cancel_;
  QElapsedTimer clock_;
  qint64 lastReportMs_ = -1;
  QString lastWhat_;
};
