#include "workers/compress_worker.h"

#include <QFile>
#include <algorithm>
#include <chrono>

#include "workers/validation_loss.h"

CompressWorker::CompressWorker(CompressJob job, std::shared_ptr<std::atomic<bool>> cancel)
    : job_(std::move(job)), cancel_(std::move(cancel)) {}

// Progress at most every 40 ms (the codec reports per block), but always when the stage changes.
void CompressWorker::report(double fraction, const QString& what, bool force) {
  const qint64 now = clock_.elapsed();
  if (!force && what == lastWhat_ && lastReportMs_ >= 0 && now - lastReportMs_ < 40) return;
  lastReportMs_ = now;
  lastWhat_ = what;
  emit progress(std::clamp(fraction, 0.0, 1.0), what);
}

static std::string readText(const QString& path) {
  QFile f(path);
  if (!f.open(QIODevice::ReadOnly))
    throw std::runtime_error(QObject::tr("cannot read the validation text %1: %2").arg(path, f.errorString()).toStdString());
  const QByteArray bytes = f.readAll();
  return std::string(bytes.constData(), size_t(bytes.size()));
}

void CompressWorker::run() {
  auto outcome = std::make_shared<CompressOutcome>();
  outcome->model = job_.model;
  clock_.start();
  const auto start = std::chrono::steady_clock::now();
  try {
    if (!job_.model || !job_.model->model) throw std::runtime_error(tr("no model is open").toStdString());
    const rbe::LoadedModel& m = *job_.model;
    report(0, tr("Preparing"), true);

    std::string text;
    std::vector<int32_t> heldOut;
    if (!job_.validationTextPath.isEmpty()) {
      text = readText(job_.validationTextPath);
      if (!m.tokenizer) throw std::runtime_error(tr("the model has no tokenizer to read the validation text with").toStdString());
      try {
        heldOut = workbench::heldOutTokens(*m.tokenizer, text, kMaxValidationTokens);
      } catch (const std::exception& e) {
        throw std::runtime_error(tr("the model's tokenizer cannot read the validation text: %1").arg(QString::fromUtf8(e.what())).toStdString());
      }
      if (heldOut.size() < 2) throw std::runtime_error(tr("the validation text is too short (its last 10% must hold at least 2 tokens)").toStdString());
      if (job_.calibrate) job_.options.calib_text = text.substr(0, workbench::heldOutStart(text));
    }
    outcome->validationTokens = int64_t(heldOut.size());

    // Stages and their share of the progress bar.
    const bool evaluate = !heldOut.empty();
    const bool evalOriginal = evaluate && !job_.originalLoss;
    const double compressEnd = evaluate ? (evalOriginal ? 0.7 : 0.8) : 0.95;
    const auto cancelFn = [this] { return cancelled(); };

    std::shared_ptr<rbe::LoadedModel> privateCopy;
    if (!job_.options.calib_text.empty()) {
      if (job_.modelPath.isEmpty())
        throw std::runtime_error(tr("calibration needs the model's file or folder; save the model and open it first").toStdString());
      report(0, tr("Loading a private copy of the model for calibration"), true);
      privateCopy = std::make_shared<rbe::LoadedModel>(rbe::codec::load_any_model(job_.modelPath.toStdString()));
      if (cancelled()) throw rbe::codec::Cancelled();
    }
    auto cm = std::make_shared<rbe::codec::CompressedModel>(rbe::codec::compress_model(
        privateCopy ? *privateCopy : m, job_.options,
        [this, compressEnd](double f, const std::string& what) { report(f * compressEnd, QString::fromStdString(what)); },
        cancelFn));
    if (cancelled()) throw rbe::codec::Cancelled();

    report(compressEnd, tr("Building the compressed model"), true);
    auto inst = std::make_shared<rbe::LoadedModel>(rbe::codec::instantiate(*cm));
    if (cancelled()) throw rbe::codec::Cancelled();

    if (evaluate) {
      double at = compressEnd;
      const double share = (1.0 - compressEnd) / (evalOriginal ? 2 : 1);
      if (evalOriginal) {
        const QString what = tr("Validation loss of the original model");
        outcome->originalLoss = workbench::validationLoss(*m.model, heldOut, cancelFn,
                                                          [&](double f) { report(at + f * share, what); });
        at += share;
      } else {
        outcome->originalLoss = job_.originalLoss;
      }
      const QString what = tr("Validation loss of the compressed model");
      outcome->compressedLoss = workbench::validationLoss(*inst->model, heldOut, cancelFn,
                                                          [&](double f) { report(at + f * share, what); });
    }
    report(1.0, tr("Done"), true);
    outcome->compressed = std::move(cm);
    outcome->instantiated = std::move(inst);
    outcome->status = CompressOutcome::Status::Ok;
  } catch (const rbe::codec::Cancelled&) {
    outcome->status = CompressOutcome::Status::Cancelled;
  } catch (const std::exception& e) {
    outcome->status = CompressOutcome::Status::Failed;
    outcome->error = QString::fromUtf8(e.what());
  }
  outcome->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  emit finished(outcome);
}
