#pragma once
// Shared state of one workbench window: the opened model, the last
// compression and its instantiated model, and the settings store. Lives on the
// GUI thread; workers get shared_ptr copies of the models, never the context.
#include <QObject>
#include <QSettings>
#include <QString>
#include <memory>

#include "codec/model_codec.h"
#include "io/model_loader.h"

class WorkbenchContext : public QObject {
  Q_OBJECT
 public:
  explicit WorkbenchContext(QObject* parent = nullptr);

  std::shared_ptr<rbe::LoadedModel> model() const { return model_; }  // the opened (original) model, may be null
  QString modelPath() const { return modelPath_; }
  // The last compression of model(), may be null.
  std::shared_ptr<const rbe::codec::CompressedModel> compression() const { return compression_; }
  // instantiate(*compression()), may be null.
  std::shared_ptr<rbe::LoadedModel> compressedModel() const { return compressedModel_; }

  // Replaces the model and clears the compression (emits both signals).
  void setModel(std::shared_ptr<rbe::LoadedModel> m, const QString& path);
  void setCompression(std::shared_ptr<const rbe::codec::CompressedModel> cm,
                      std::shared_ptr<rbe::LoadedModel> instantiated);

  QSettings& settings() { return *settings_; }

 signals:
  void modelChanged();
  void compressionChanged();
  void statusMessage(const QString& text, int timeoutMs = 4000);
  void openModelRequested(const QString& path);  // e.g. the training panel opens its trained model

 private:
  std::shared_ptr<rbe::LoadedModel> model_;
  QString modelPath_;
  std::shared_ptr<const rbe::codec::CompressedModel> compression_;
  std::shared_ptr<rbe::LoadedModel> compressedModel_;
  std::unique_ptr<QSettings> settings_;
};
