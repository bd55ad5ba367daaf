#include "workers/train_worker.h"

#include <QDir>
#include <QFile>
#include <chrono>

#include "io/checkpoint.h"
#include "models/char_tokenizer.h"
#include "models/gpt2.h"
#include "models/model_config.h"
#include "train/text_dataset.h"
#include "train/trainer.h"

void TrainControl::setPaused(bool paused) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    paused_.store(paused);
  }
  wake_.notify_all();
}

void TrainControl::requestStop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true);
  }
  wake_.notify_all();
}

double TrainControl::waitWhilePaused() {
  const auto start = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lock(mutex_);
  wake_.wait(lock, [this] { return !paused_.load() || stop_.load(); });
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

TrainWorker::TrainWorker(TrainJob job, std::shared_ptr<TrainControl> control)
    : job_(std::move(job)), control_(std::move(control)) {}

namespace {

std::runtime_error error(const QString& message) { return std::runtime_error(message.toStdString()); }

std::string readText(const QString& path) {
  if (path.isEmpty()) throw error(QObject::tr("choose a text file to train on"));
  QFile f(path);
  if (!f.open(QIODevice::ReadOnly)) throw error(QObject::tr("cannot read %1: %2").arg(path, f.errorString()));
  const QByteArray bytes = f.readAll();
  if (bytes.isEmpty()) throw error(QObject::tr("%1 is empty").arg(path));
  return std::string(bytes.constData(), size_t(bytes.size()));
}

rbe::ModelConfig modelConfig(const TrainJob& job) {
  rbe::ModelConfig c;
  if (job.preset == QLatin1String("custom")) {
    c.n_layer = job.nLayer;
    c.n_embd = job.nEmbd;
    c.n_head = job.nHead;
    c.n_positions = job.context;
  } else {
    c = rbe::ModelConfig::preset(job.preset.toStdString());
  }
  c.tokenizer = "char";  // the workbench trains character-level models (as rbe-train does)
  return c;
}

}  // namespace

void TrainWorker::run() {
  TrainOutcome outcome;
  try {
    const std::string text = readText(job_.textPath);
    rbe::ModelConfig config = modelConfig(job_);
    const rbe::CharTokenizer tokenizer = rbe::CharTokenizer::from_text(text);
    config.vocab_size = tokenizer.size();
    config.validate();

    rbe::TrainOptions opts;
    opts.steps = job_.steps;
    opts.batch = job_.batch;
    opts.ctx = job_.ctx > 0 ? job_.ctx : std::min<int64_t>(config.n_positions, 128);
    opts.lr = float(job_.lr);
    opts.eval_every = job_.evalEvery;
    opts.eval_batches = job_.evalBatches;
    opts.seed = job_.seed;
    if (opts.ctx > config.n_positions)
      throw error(tr("the sequence length %1 exceeds the model's context %2").arg(opts.ctx).arg(config.n_positions));

    const rbe::TextDataset data(tokenizer.encode(text));
    if (int64_t(data.train_tokens().size()) < opts.ctx + 1)
      throw error(tr("the text is too short: its first 90% holds %1 characters, fewer than a sequence (%2) plus one")
                      .arg(qint64(data.train_tokens().size()))
                      .arg(opts.ctx));
    if (data.val_tokens().size() < 2) opts.eval_every = 0;

    rbe::GPT2Model model(config, job_.seed);
    rbe::Trainer trainer(model, data, opts);
    emit prepared(model.parameter_count(), qint64(data.train_tokens().size()), qint64(data.val_tokens().size()));

    const std::string outDir = job_.outDir.toStdString();
    auto save = [&] {
      if (outDir.empty()) return;
      QDir().mkpath(job_.outDir);
      rbe::ckpt::TrainState state{trainer.step(), opts.seed, 0, opts.to_json()};
      rbe::ckpt::save(outDir, model, &tokenizer, &trainer.optimizer(), &state);
      emit checkpointSaved(job_.outDir, trainer.step());
    };

    // Time per step, pauses excluded, for the ETA.
    auto last = std::chrono::steady_clock::now(), lastEmit = last;
    QList<TrainProgress> pending;
    double active = 0;
    const int64_t firstStep = trainer.step();
    const bool completed = trainer.run(
        [&](const rbe::StepInfo& s) {
          const auto now = std::chrono::steady_clock::now();
          active += std::chrono::duration<double>(now - last).count();
          TrainProgress p;
          p.step = s.step;
          p.totalSteps = s.total_steps;
          p.loss = s.loss;
          if (s.val_loss) p.validationLoss = *s.val_loss, outcome.validationLoss = *s.val_loss;
          p.learningRate = s.lr;
          p.tokensPerSecond = s.tokens_per_s;
          p.elapsedSeconds = active;
          const double perStep = active / double(std::max<int64_t>(1, s.step - firstStep));
          p.etaSeconds = perStep * double(s.total_steps - s.step);
          pending.append(p);
          const bool holding = control_->paused() || control_->stopRequested();
          if (holding || s.step == s.total_steps || std::chrono::duration<double>(now - lastEmit).count() >= 0.05) {
            emit stepsDone(pending);
            pending.clear();
            lastEmit = now;
          }
          if (job_.saveEvery > 0 && s.step % job_.saveEvery == 0 && s.step < s.total_steps) save();
          if (control_->paused()) control_->waitWhilePaused();
          last = std::chrono::steady_clock::now();  // the pause does not count
        },
        control_->stopFlag());
    if (!pending.isEmpty()) emit stepsDone(pending);
    outcome.steps = trainer.step();
    save();
    outcome.checkpointDir = job_.outDir;
    outcome.status = completed ? TrainOutcome::Status::Completed : TrainOutcome::Status::Stopped;
  } catch (const std::exception& e) {
    outcome.status = TrainOutcome::Status::Failed;
    outcome.error = QString::fromUtf8(e.what());
  }
  emit finished(outcome);
}
