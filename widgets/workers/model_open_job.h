#pragma once
// Opening a model from disk (blocking; run it with runInBackground): our
// checkpoint folders, HuggingFace GPT-2 folders, .rbe files and GGUF files.
#include <QString>
#include <memory>

#include "codec/model_codec.h"
#include "io/model_loader.h"

namespace workbench {

struct OpenedModel {
  QString path;                                                    // as opened (a folder or a file)
  std::shared_ptr<rbe::LoadedModel> model;                         // null on failure
  std::shared_ptr<const rbe::codec::CompressedModel> compression;  // the file's records, for .rbe files
  QString error;                                                   // the engine's message on failure
  double seconds = 0;
};

// Never throws: failures come back in `error`.
OpenedModel openModel(const QString& path);

// The folder to open when the user picks a file inside a model folder
// (config.json, model.safetensors, ...); `path` itself otherwise.
QString modelLocationFor(const QString& path);

}  // namespace workbench
