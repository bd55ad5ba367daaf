#include "workers/generation_job.h"

#include <QtConcurrent/QtConcurrentRun>
#include <chrono>
#include <exception>
#include <string>

#include "process_memory.h"
#include "tensor/big_alloc.h"
#include "workers/background.h"

namespace {

// Length of the longest prefix of s that does not end inside a UTF-8
// character (a BPE token may carry part of a character).
size_t completeUtf8Prefix(const std::string& s) {
  size_t n = s.size();
  // Look back at most 3 bytes for an unfinished lead byte.
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    const unsigned char c = static_cast<unsigned char>(s[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: keep looking for its lead
    const size_t need = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
    return need > back ? n - back : n;
  }
  return n;
}

}  // namespace

GenerationJob::GenerationJob(QObject* parent) : QObject(parent) {}

GenerationJob::~GenerationJob() {
  stop();
  future_.waitForFinished();
}

void GenerationJob::stop() {
  if (!gate_) return;
  gate_->cancel.store(true);
  std::lock_guard lock(gate_->mutex);  // a worker waiting for the GUI thread wakes and ends
  gate_->changed.notify_all();
}

std::shared_ptr<rbe::LoadedModel> GenerationJob::copyOf(const std::shared_ptr<rbe::LoadedModel>& model) const {
  return model && copySource_.lock() == model ? copy_ : nullptr;
}

void GenerationJob::releaseCopy() {
  if (running_) {
    releaseCopyAfterRun_ = true;
    return;
  }
  const bool had = copy_ != nullptr;
  copy_.reset();
  copySource_.reset();
  // The copy's matrices are one big buffer, which the engine's allocator may
  // keep for reuse (tensor/big_alloc.h); give such buffers back to the system.
  if (had) rbe::drop_reuse_cache();
}

bool GenerationJob::start(std::shared_ptr<rbe::LoadedModel> model, const QString& prompt,
                          const rbe::SamplingParams& params, std::optional<rbe::DType> kvCache,
                          rbe::DType weights) {
  if (running_) return false;
  const bool f16 = weights == rbe::DType::F16;
  std::shared_ptr<rbe::LoadedModel> copy = f16 ? copyOf(model) : nullptr;
  if (!copy) releaseCopy();  // an f32 run, or another model: the old copy is not needed
  if (model && model->model)
    model->model->set_kv_cache_dtype(kvCache ? *kvCache : model->model->kv_cache_dtype_for_matrices());
  running_ = true;
  tokens_ = 0;
  stats_ = {};
  gate_ = std::make_shared<RunGate>();
  auto gate = gate_;
  const std::string text = prompt.toStdString();
  // `this` outlives the worker: the destructor waits for it.
  future_ = QtConcurrent::run(workbench::jobPool(), [this, model, copy, f16, kvCache, text, params,
                                                     gate]() mutable {
    using Clock = std::chrono::steady_clock;
    QString error;
    enum class End { MaxTokens, EndOfText, Stopped, ContextFull } end = End::MaxTokens;
    std::string pending;
    int count = 0;
    Clock::time_point first{}, last{};
    // Time spent waiting for the GUI thread (kMaxTokensAhead), in all and up
    // to the last token: the rate is the model's, not the window's.
    Clock::duration waited{}, waitedAtLast{};
    // The worker lets go of the f16 copy before it reports the end (below), so
    // that a copy the GUI thread frees then is freed at once.
    std::shared_ptr<rbe::LoadedModel> run = f16 ? std::move(copy) : model, made;
    try {
      if (!model || !model->model) throw std::runtime_error(tr("No model is open.").toStdString());
      if (f16 && !run) {
        made = std::make_shared<rbe::LoadedModel>();
        made->config = model->config;
        made->tokenizer = model->tokenizer;
        made->format = model->format;
        made->model = model->model->inference_copy(rbe::DType::F16);
        run = made;
      }
      // The copy is this job's alone, and only one run goes at a time.
      if (run != model)
        run->model->set_kv_cache_dtype(kvCache ? *kvCache : run->model->kv_cache_dtype_for_matrices());
      if (!model->tokenizer)
        throw std::runtime_error(
            tr("This model has no tokenizer (vocab.json and merges.txt are missing from its folder), so it cannot "
               "turn text into tokens.")
                .toStdString());
      const rbe::Tokenizer& tok = *model->tokenizer;
      std::vector<int32_t> ids = tok.encode(text);
      if (ids.empty()) {
        if (tok.eot_id() < 0) throw std::runtime_error(tr("Type a prompt first.").toStdString());
        ids.push_back(tok.eot_id());  // GPT-2 starts unconditioned text from end-of-text
      }
      const int32_t eot = tok.eot_id();
      rbe::generate(
          *run->model, ids, params,
          [&](int32_t token) {
            const auto now = Clock::now();
            if (count == 0) first = now;
            last = now;
            waitedAtLast = waited;
            if (token == eot) {
              end = End::EndOfText;
              return false;
            }
            ++count;
            pending += tok.decode_one(token);
            const size_t n = completeUtf8Prefix(pending);
            const QString piece = QString::fromUtf8(pending.data(), qsizetype(n));
            pending.erase(0, n);
            const double secs = std::chrono::duration<double>(now - first - waited).count();
            const double rate = secs > 0 ? (count - 1) / secs : 0.0;
            QMetaObject::invokeMethod(
                this,
                [this, piece, count, rate, gate]() {
                  tokens_ = count;
                  {
                    std::lock_guard lock(gate->mutex);
                    gate->delivered = count;
                  }
                  gate->changed.notify_all();
                  if (!piece.isEmpty()) emit textGenerated(piece);
                  emit progress(count, rate);
                },
                Qt::QueuedConnection);
            std::unique_lock lock(gate->mutex);
            auto mayGoOn = [&] { return count - gate->delivered < kMaxTokensAhead || gate->cancel.load(); };
            if (!mayGoOn()) {
              const auto since = Clock::now();
              gate->changed.wait(lock, mayGoOn);
              waited += Clock::now() - since;
            }
            return true;
          },
          &gate->cancel);
      if (gate->cancel.load())
        end = End::Stopped;
      else if (end == End::MaxTokens && count < params.max_tokens)
        end = End::ContextFull;
    } catch (const std::exception& e) {
      error = QString::fromUtf8(e.what());
    }
    Stats st;
    st.tokens = count;
    st.seconds = count > 1 ? std::chrono::duration<double>(last - first - waitedAtLast).count() : 0.0;
    // The first token's time includes the prompt; the rate counts the tokens after it.
    st.tokensPerSecond = st.seconds > 0 ? (count - 1) / st.seconds : 0.0;
    st.peakRssBytes = workbench::peakRssBytes();
    st.stopReason = end == End::EndOfText     ? tr("end of text")
                    : end == End::Stopped     ? tr("stopped")
                    : end == End::ContextFull ? tr("context full")
                                              : tr("maximum length reached");
    const QString tail = QString::fromUtf8(pending.data(), qsizetype(pending.size()));
    run.reset();
    QMetaObject::invokeMethod(
        this,
        [this, st, tail, error, model, made = std::move(made)]() {
          if (!tail.isEmpty()) emit textGenerated(tail);
          running_ = false;
          if (releaseCopyAfterRun_) {
            releaseCopyAfterRun_ = false;
            releaseCopy();
          } else if (made) {
            copy_ = made;
            copySource_ = model;
          }
          stats_ = st;
          tokens_ = st.tokens;
          emit finished(error.isEmpty(), error.isEmpty() ? st.stopReason : error);
        },
        Qt::QueuedConnection);
  });
  return true;
}
