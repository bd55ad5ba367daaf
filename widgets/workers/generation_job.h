#pragma once
// One streamed generation on a worker thread: text pieces arrive on the GUI
// thread as tokens are produced; stop() ends it at the next token. The worker
// runs at most kMaxTokensAhead tokens ahead of what the GUI thread has taken
// in, so a busy GUI thread neither queues up text without bound nor sees more
// than that many tokens arrive after it pressed Stop.
#include <QElapsedTimer>
#include <QFuture>
#include <QObject>
#include <QString>
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>

#include "generate/generate.h"
#include "io/model_loader.h"

class GenerationJob : public QObject {
  Q_OBJECT
 public:
  struct Stats {
    int tokens = 0;
    double seconds = 0;          // from the first to the last generated token's arrival, less waits for the GUI
    double tokensPerSecond = 0;  // generated tokens / seconds (prompt processing excluded)
    int64_t peakRssBytes = 0;    // the process's high-water mark after the run
    QString stopReason;
  };

  static constexpr int kMaxTokensAhead = 32;

  explicit GenerationJob(QObject* parent = nullptr);
  ~GenerationJob() override;  // stops and waits for the worker

  // Returns false (and emits nothing) when a run is already going. kvCache:
  // the storage of the run's KV cache (F32 or F16; none: as the matrices of
  // the model that runs, GPT2Model::kv_cache_dtype_for_matrices), set on the
  // model here, on the GUI thread, before the worker builds the cache. weights: F32 runs
  // `model` as it is; F16 runs an f16 copy of it (GPT2Model::inference_copy),
  // made on the worker by the first such run and kept for the next ones while
  // the model is the same. A run with F32 weights frees the copy.
  bool start(std::shared_ptr<rbe::LoadedModel> model, const QString& prompt, const rbe::SamplingParams& params,
             std::optional<rbe::DType> kvCache = rbe::DType::F32, rbe::DType weights = rbe::DType::F32);
  void stop();
  // The f16 copy of `model`, when this job holds one (null otherwise).
  std::shared_ptr<rbe::LoadedModel> copyOf(const std::shared_ptr<rbe::LoadedModel>& model) const;
  // Frees the f16 copy (after the current run, if one is going).
  void releaseCopy();
  bool isRunning() const { return running_; }
  int tokenCount() const { return tokens_; }  // tokens delivered so far on the GUI thread
  const Stats& stats() const { return stats_; }

 signals:
  void textGenerated(const QString& text);
  void progress(int tokens, double tokensPerSecond);
  void finished(bool ok, const QString& message);  // message: the error, or the stop reason

 private:
  // What the worker and the GUI thread share during a run: the stop flag, and
  // how many tokens the GUI thread has taken in (the worker waits on it).
  struct RunGate {
    std::atomic<bool> cancel{false};
    std::mutex mutex;
    std::condition_variable changed;
    int delivered = 0;  // guarded by mutex
  };
  std::shared_ptr<RunGate> gate_;
  QFuture<void> future_;
  bool running_ = false;
  // The f16 copy and the model it was made from; read and written on the GUI thread only.
  std::shared_ptr<rbe::LoadedModel> copy_;
  std::weak_ptr<rbe::LoadedModel> copySource_;
  bool releaseCopyAfterRun_ = false;
  int tokens_ = 0;
  Stats stats_;
};
