// The chat panel: tokens stream in as they are generated (several pieces, and
// exactly the text the engine generates for the same seed), Stop stops them
// within GenerationJob::kMaxTokensAhead tokens however busy the GUI thread is
// (the count stops growing), the tokens/s shown is the model's even when the
// window holds it back, the compressed model answers in the second pane,
// an f16 KV cache gives the engine's f16-cache text, f16 weights give the text
// of the model loaded in f16 (from a copy kept while the model stays open),
// and the sampling settings are kept between runs.
#include <QCheckBox>
#include <QElapsedTimer>
#include <QSignalSpy>
#include <QThread>
#include <QtTest>
#include <atomic>
#include <stdexcept>

#include "chat_output_pane.h"
#include "chat_panel.h"
#include "codec/model_codec.h"
#include "generate/generate.h"
#include "gui_test_util.h"
#include "nn/layers.h"
#include "sampling_form.h"
#include "tensor/big_alloc.h"
#include "workbench_context.h"
#include "workers/generation_job.h"

class TestChatPanel : public QObject {
  Q_OBJECT
 private slots:
  void initTestCase();
  void streamsTheEnginesText();
  void stopStopsTheTokens();
  void ratesTheModelNotTheWindow();
  void comparesWithTheCompressedModel();
  void reportsAPromptTheTokenizerCannotEncode();
  void generatesWithAnF16KvCache();
  void generatesWithF16Weights();
  void keepsSamplingSettings();

 private:
  rbe::SamplingParams params(int maxTokens) const;
  std::shared_ptr<rbe::LoadedModel> model_;
};

void TestChatPanel::initTestCase() {
  guitest::isolateSettings("tst_chat_panel");
  model_ = guitest::loadShared(guitest::defaultModelDir());
}

namespace {

rbe::nn::Linear& firstLinear(rbe::GPT2Model& m) {
  for (auto& [name, mod] : m.named_modules())
    if (auto* lin = dynamic_cast<rbe::nn::Linear*>(mod.get())) return *lin;
  throw std::logic_error("the model has no Linear layer");
}

}  // namespace

rbe::SamplingParams TestChatPanel::params(int maxTokens) const {
  rbe::SamplingParams p;
  p.temperature = 0.8f;
  p.top_k = 40;
  p.max_tokens = maxTokens;
  p.seed = 1234;
  return p;
}

void TestChatPanel::streamsTheEnginesText() {
  WorkbenchContext ctx;
  ctx.setModel(model_, guitest::defaultModelDir());
  ChatPanel panel(&ctx);
  panel.setPrompt(QStringLiteral("ROMEO:"));
  panel.samplingForm()->setParams(params(120));
  QSignalSpy pieces(panel.originalJob(), &GenerationJob::textGenerated);
  QSignalSpy done(&panel, &ChatPanel::generationFinished);
  panel.generate();
  QVERIFY(panel.isGenerating());
  QVERIFY(done.wait(60000));
  QCOMPARE(done.first().at(0).toBool(), true);
  QVERIFY2(pieces.count() > 10, "the text should arrive in pieces, as it is generated");

  // The same run straight on the engine gives the same text.
  const std::vector<int32_t> prompt = model_->tokenizer->encode("ROMEO:");
  const std::vector<int32_t> ref = rbe::generate(*model_->model, prompt, params(120));
  const QString expected = QString::fromStdString(model_->tokenizer->decode(ref));
  QCOMPARE(panel.originalPane()->generatedText(), expected);
  QCOMPARE(panel.originalJob()->stats().tokens, int(ref.size()));
  QVERIFY(panel.originalJob()->stats().tokensPerSecond > 0);
  QVERIFY(panel.originalJob()->stats().peakRssBytes > 0);
  QVERIFY(panel.originalPane()->statusText().contains(QStringLiteral("tokens/s")));
}

void TestChatPanel::stopStopsTheTokens() {
  WorkbenchContext ctx;
  ctx.setModel(model_, guitest::defaultModelDir());
  ChatPanel panel(&ctx);
  panel.setPrompt(QStringLiteral("ROMEO:"));
  panel.samplingForm()->setParams(params(100000));  // runs until the context (256) is full
  GenerationJob* job = panel.originalJob();
  // Stop from the GUI thread as soon as a few tokens have arrived, after the
  // GUI thread was busy for a while (as on a loaded machine): long enough for
  // the worker to fill the context if nothing held it back.
  connect(job, &GenerationJob::progress, &panel, [&panel](int tokens, double) {
    if (tokens == 1) QThread::msleep(500);
    if (tokens >= 5) panel.stop();
  });
  QSignalSpy done(&panel, &ChatPanel::generationFinished);
  panel.generate();
  QVERIFY(done.wait(60000));
  const int stoppedAt = job->tokenCount();
  QCOMPARE(job->stats().stopReason, QStringLiteral("stopped"));
  // The worker runs at most kMaxTokensAhead tokens ahead of the GUI thread,
  // however slow the GUI thread is, and ends at the token during which it
  // sees the stop: so at most that many arrive after token 5.
  QVERIFY2(stoppedAt >= 5 && stoppedAt <= 5 + GenerationJob::kMaxTokensAhead, qPrintable(QString::number(stoppedAt)));
  QVERIFY(!panel.isGenerating());
  // Nothing more arrives afterwards.
  QTest::qWait(300);
  QCOMPARE(job->tokenCount(), stoppedAt);
  QCOMPARE(panel.originalPane()->generatedText().size(), stoppedAt);  // one character per token
}

// A GUI thread that takes 10 ms over each token holds the worker back (at
// most kMaxTokensAhead ahead), but the tokens/s reported is the model's: the
// time the worker waited for the window is not counted.
void TestChatPanel::ratesTheModelNotTheWindow() {
  WorkbenchContext ctx;
  ctx.setModel(model_, guitest::defaultModelDir());
  ChatPanel panel(&ctx);
  panel.setPrompt(QStringLiteral("ROMEO:"));
  panel.samplingForm()->setParams(params(100));
  GenerationJob* job = panel.originalJob();
  connect(job, &GenerationJob::progress, &panel, [](int, double) { QThread::msleep(10); });
  QSignalSpy done(&panel, &ChatPanel::generationFinished);
  QElapsedTimer wall;
  wall.start();
  panel.generate();
  QVERIFY(done.wait(60000));
  const double windowRate = job->stats().tokens / (wall.elapsed() / 1000.0);
  QVERIFY2(job->stats().tokens > 2 * GenerationJob::kMaxTokensAhead, qPrintable(QString::number(job->stats().tokens)));
  // The window took at least (tokens - kMaxTokensAhead) x 10 ms; the model is far faster.
  QVERIFY2(job->stats().tokensPerSecond > 3 * windowRate,
           qPrintable(QStringLiteral("%1 tokens/s reported, %2 through the window")
                          .arg(job->stats().tokensPerSecond)
                          .arg(windowRate)));
}

void TestChatPanel::comparesWithTheCompressedModel() {
  WorkbenchContext ctx;
  ctx.setModel(model_, guitest::defaultModelDir());
  ChatPanel panel(&ctx);
  QVERIFY(!panel.compareBox()->isEnabled());
  rbe::codec::ModelCodecOptions opt;
  opt.defaults.codec = "q8_0";
  auto cm = std::make_shared<rbe::codec::CompressedModel>(rbe::codec::compress_model(*model_, opt));
  auto compressed = std::make_shared<rbe::LoadedModel>(rbe::codec::instantiate(*cm));
  ctx.setCompression(cm, compressed);
  QVERIFY(panel.compareBox()->isEnabled());
  panel.compareBox()->setChecked(true);
  panel.setPrompt(QStringLiteral("JULIET:"));
  panel.samplingForm()->setParams(params(60));
  QSignalSpy done(&panel, &ChatPanel::generationFinished);
  panel.generate();
  QVERIFY(done.wait(60000));
  QCOMPARE(done.count(), 1);
  QCOMPARE(done.first().at(0).toBool(), true);
  QCOMPARE(panel.originalJob()->stats().tokens, 60);
  QCOMPARE(panel.compressedJob()->stats().tokens, 60);
  // The second pane holds the compressed model's own text: the engine's for
  // that model, whose packed matrices get an f16 KV cache by default.
  QCOMPARE(compressed->model->kv_cache_dtype(), rbe::DType::F16);
  QCOMPARE(model_->model->kv_cache_dtype(), rbe::DType::F32);
  const std::vector<int32_t> ref = rbe::generate(*compressed->model, model_->tokenizer->encode("JULIET:"), params(60));
  QCOMPARE(panel.compressedPane()->generatedText(), QString::fromStdString(model_->tokenizer->decode(ref)));
}

void TestChatPanel::reportsAPromptTheTokenizerCannotEncode() {
  WorkbenchContext ctx;
  ctx.setModel(model_, guitest::defaultModelDir());
  ChatPanel panel(&ctx);
  panel.setPrompt(QStringLiteral("café ☕"));  // not in the Shakespeare character set
  QSignalSpy done(&panel, &ChatPanel::generationFinished);
  QSignalSpy status(&ctx, &WorkbenchContext::statusMessage);
  panel.generate();
  QVERIFY(done.wait(60000));
  QCOMPARE(done.first().at(0).toBool(), false);
  QVERIFY(panel.originalPane()->statusText().startsWith(QStringLiteral("Error:")));
  QVERIFY(status.count() >= 1);
  QVERIFY(!panel.isGenerating());
}

void TestChatPanel::generatesWithAnF16KvCache() {
  WorkbenchContext ctx;
  ctx.setModel(model_, guitest::defaultModelDir());
  ChatPanel panel(&ctx);
  panel.setPrompt(QStringLiteral("ROMEO:"));
  panel.samplingForm()->setParams(params(80));
  panel.samplingForm()->setKvCache(rbe::DType::F16);
  QSignalSpy done(&panel, &ChatPanel::generationFinished);
  panel.generate();
  QVERIFY(done.wait(60000));
  QCOMPARE(done.first().at(0).toBool(), true);
  QCOMPARE(model_->model->kv_cache_dtype(), rbe::DType::F16);
  const std::vector<int32_t> ref = rbe::generate(*model_->model, model_->tokenizer->encode("ROMEO:"), params(80));
  QCOMPARE(panel.originalPane()->generatedText(), QString::fromStdString(model_->tokenizer->decode(ref)));
  // Back to the default, as the weights: f32 for this f32 model.
  panel.samplingForm()->setKvCache(std::nullopt);
  panel.generate();
  QVERIFY(done.wait(60000));
  QCOMPARE(model_->model->kv_cache_dtype(), rbe::DType::F32);
}

void TestChatPanel::generatesWithF16Weights() {
  WorkbenchContext ctx;
  ctx.setModel(model_, guitest::defaultModelDir());
  ChatPanel panel(&ctx);
  GenerationJob* job = panel.originalJob();
  panel.setPrompt(QStringLiteral("ROMEO:"));
  panel.samplingForm()->setParams(params(80));
  panel.samplingForm()->setWeights(rbe::DType::F16);
  QSignalSpy done(&panel, &ChatPanel::generationFinished);
  panel.generate();
  QCOMPARE(panel.originalPane()->statusText(), QStringLiteral("Making an f16 copy of the model's matrices…"));
  QVERIFY(done.wait(60000));
  QCOMPARE(done.first().at(0).toBool(), true);

  // The text of the same folder loaded straight into f16 (an independent path
  // to the same weights), with the f16 KV cache the default ("as the
  // weights") gives f16 matrices.
  QVERIFY(!panel.samplingForm()->kvCache().has_value());
  QCOMPARE(job->copyOf(model_)->model->kv_cache_dtype(), rbe::DType::F16);
  const rbe::LoadedModel f16 = rbe::load_model(guitest::defaultModelDir().toStdString(), rbe::DType::F16);
  f16.model->set_kv_cache_dtype(rbe::DType::F16);
  const std::vector<int32_t> ref = rbe::generate(*f16.model, f16.tokenizer->encode("ROMEO:"), params(80));
  const QString expected = QString::fromStdString(f16.tokenizer->decode(ref));
  QCOMPARE(panel.originalPane()->generatedText(), expected);
  // The opened model is left in f32; the copy is kept for the next run.
  for (auto& [name, t] : model_->model->named_parameters()) QCOMPARE(t.dtype(), rbe::DType::F32);
  const std::shared_ptr<rbe::LoadedModel> copy = job->copyOf(model_);
  QVERIFY(copy);
  QCOMPARE(copy->model->named_parameters().front().second.dtype(), rbe::DType::F16);  // wte

  // f16 leaves this model's text unchanged, so the text alone cannot tell
  // which model ran: count the products each model's first layer runs.
  std::atomic<int> onCopy{0}, onOriginal{0};
  firstLinear(*copy->model).observer = [&](const rbe::Tensor&) { ++onCopy; };
  firstLinear(*model_->model).observer = [&](const rbe::Tensor&) { ++onOriginal; };
  panel.generate();
  QVERIFY(panel.originalPane()->statusText().isEmpty());  // no copy to make this time
  QVERIFY(done.wait(60000));
  firstLinear(*copy->model).observer = nullptr;
  firstLinear(*model_->model).observer = nullptr;
  QCOMPARE(panel.originalPane()->generatedText(), expected);
  QCOMPARE(job->copyOf(model_), copy);
  QVERIFY(onCopy.load() > 0);
  QCOMPARE(onOriginal.load(), 0);

  // Back to f32: the f32 text, and the copy is freed, with any big buffers the
  // allocator kept for reuse (two of one size put one there).
  for (int i = 0; i < 2; ++i) rbe::Tensor::empty({int64_t(rbe::kReuseMinBytes / 4)});
  QVERIFY(rbe::reuse_cache_bytes() > 0);
  panel.samplingForm()->setWeights(rbe::DType::F32);
  panel.generate();
  QVERIFY(done.wait(60000));
  const std::vector<int32_t> ref32 = rbe::generate(*model_->model, model_->tokenizer->encode("ROMEO:"), params(80));
  QCOMPARE(panel.originalPane()->generatedText(), QString::fromStdString(model_->tokenizer->decode(ref32)));
  QVERIFY(!job->copyOf(model_));
  QTRY_COMPARE(copy.use_count(), 1);  // only this test holds it now (the worker lets go as it ends)
  QCOMPARE(rbe::reuse_cache_bytes(), size_t(0));

  // A copy again, then another model opened: the copy of the previous model is freed.
  panel.samplingForm()->setWeights(rbe::DType::F16);
  panel.generate();
  QVERIFY(done.wait(60000));
  std::weak_ptr<rbe::LoadedModel> previous = job->copyOf(model_);
  QVERIFY(!previous.expired());
  auto other = guitest::loadShared(guitest::defaultModelDir());
  ctx.setModel(other, guitest::defaultModelDir());
  QTRY_VERIFY(previous.expired());
  QVERIFY(!job->copyOf(model_));
}

void TestChatPanel::keepsSamplingSettings() {
  WorkbenchContext ctx;
  rbe::SamplingParams p;
  {
    ChatPanel panel(&ctx);
    p = panel.samplingForm()->params();
    p.temperature = 0.35f;
    p.top_k = 7;
    p.top_p = 0.9f;
    p.repetition_penalty = 1.2f;
    p.max_tokens = 77;
    p.seed = 99;
    panel.samplingForm()->setParams(p);
    panel.samplingForm()->setKvCache(rbe::DType::F16);
    panel.samplingForm()->setWeights(rbe::DType::F16);
  }
  ChatPanel next(&ctx);
  const rbe::SamplingParams q = next.samplingForm()->params();
  QCOMPARE(q.temperature, p.temperature);
  QCOMPARE(q.top_k, p.top_k);
  QCOMPARE(q.top_p, p.top_p);
  QCOMPARE(q.repetition_penalty, p.repetition_penalty);
  QCOMPARE(q.max_tokens, p.max_tokens);
  QCOMPARE(q.seed, p.seed);
  QVERIFY(next.samplingForm()->kvCache() == rbe::DType::F16);
  QCOMPARE(next.samplingForm()->weights(), rbe::DType::F16);
}

QTEST_MAIN(TestChatPanel)
#include "tst_chat_panel.moc"
