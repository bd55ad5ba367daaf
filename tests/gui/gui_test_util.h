#pragma once
// Shared helpers of the workbench tests: settings isolation, the default
// model, and a small HuggingFace GPT-2 folder written by the test itself.
#include <QCoreApplication>
#include <QSettings>
#include <QStandardPaths>
#include <QString>
#include <QTemporaryDir>
#include <memory>

#include "io/hf_gpt2.h"
#include "io/model_loader.h"
#include "models/gpt2.h"
#include "models/model_config.h"

namespace guitest {

// Settings go to a test location (never the user's), cleared per run.
inline void isolateSettings(const char* app) {
  QStandardPaths::setTestModeEnabled(true);
  QCoreApplication::setOrganizationName(QStringLiteral("RBE Workbench Tests"));
  QCoreApplication::setApplicationName(QString::fromLatin1(app));
  QSettings().clear();
}

inline QString defaultModelDir() { return QStringLiteral(RBE_SOURCE_DIR "/resources/models/mini-shakespeare"); }
inline QString gpt2TokenizerDir() { return QStringLiteral(RBE_SHARED_DIR "/data/gpt2"); }
inline QString shakespearePath() { return QStringLiteral(RBE_SHARED_DIR "/data/tinyshakespeare.txt"); }

// A GPT-2 with the real BPE vocabulary and random weights, written as a
// HuggingFace folder (config.json, model.safetensors, vocab.json, merges.txt).
inline rbe::ModelConfig tinyGpt2Config(int64_t nEmbd = 64, int64_t nLayer = 2) {
  rbe::ModelConfig c;
  c.vocab_size = 50257;
  c.n_positions = 64;
  c.n_embd = nEmbd;
  c.n_layer = nLayer;
  c.n_head = 4;
  c.tokenizer = "gpt2";
  return c;
}

inline void writeHfFolder(const QString& dir, const rbe::ModelConfig& c, uint64_t seed = 7) {
  rbe::GPT2Model model(c, seed);
  const rbe::hf::TokenizerFiles tok = rbe::hf::read_tokenizer_files(gpt2TokenizerDir().toStdString());
  rbe::hf::save(dir.toStdString(), model, &tok);
}

inline std::shared_ptr<rbe::LoadedModel> loadShared(const QString& path) {
  return std::make_shared<rbe::LoadedModel>(rbe::load_model(path.toStdString()));
}

}  // namespace guitest
