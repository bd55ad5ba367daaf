#pragma once
// Writing the opened model out (blocking; run it with runInBackground): as an
// .rbe file, a HuggingFace GPT-2 folder or a GGUF file. Every engine writer
// writes under a temporary name and renames, so a failed export leaves no
// half-written file behind.
#include <QString>
#include <memory>

#include "codec/model_codec.h"
#include "io/model_loader.h"

namespace workbench {

enum class ExportFormat { Rbe, HfFolder, Gguf };

struct ExportRequest {
  ExportFormat format = ExportFormat::Rbe;
  QString path;
  std::shared_ptr<rbe::LoadedModel> model;                         // the model whose weights are written
  std::shared_ptr<const rbe::codec::CompressedModel> compression;  // for .rbe; null: compress at default settings
  bool ggufF16 = true;                                             // GGUF weight matrices as F16 (else F32)
};

struct ExportResult {
  bool ok = false;
  QString message;  // what was written, or the engine's error and what to do
};

// Never throws.
ExportResult exportModel(const ExportRequest& request);

// The settings used when exporting .rbe without a compression made in the
// Compress panel: the codec's defaults.
rbe::codec::ModelCodecOptions defaultCodecOptions();

}  // namespace workbench
