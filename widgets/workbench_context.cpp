#include "workbench_context.h"

WorkbenchContext::WorkbenchContext(QObject* parent)
    // Organisation and application names come from QCoreApplication (set in main()).
    : QObject(parent), settings_(std::make_unique<QSettings>()) {}

void WorkbenchContext::setModel(std::shared_ptr<rbe::LoadedModel> m, const QString& path) {
  model_ = std::move(m);
  modelPath_ = path;
  const bool hadCompression = compression_ || compressedModel_;
  compression_.reset();
  compressedModel_.reset();
  emit modelChanged();
  if (hadCompression) emit compressionChanged();
}

void WorkbenchContext::setCompression(std::shared_ptr<const rbe::codec::CompressedModel> cm,
                                      std::shared_ptr<rbe::LoadedModel> instantiated) {
  compression_ = std::move(cm);
  compressedModel_ = std::move(instantiated);
  emit compressionChanged();
}
