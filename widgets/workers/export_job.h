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

// The dtype of the weights in a HuggingFace folder or a GGUF file (.rbe files
// hold their codec's own form). FormatDefault: F32 for HuggingFace, as the
// hub's GPT-2 files are, and F16 for GGUF, as llama.cpp's converters write.
enum class ExportPrecision { FormatDefault, F32, F16, BF16 };

struct ExportRequest {
  ExportFormat format = ExportFormat::Rbe;
  QString path;
  std::shared_ptr<rbe::LoadedModel> model;                         // the model whose weights are written
  std::shared_ptr<const rbe::codec::CompressedModel> compression;  // for .rbe; null: compress at default settings
  ExportPrecision precision = ExportPrecision::FormatDefault;       // HF and GGUF weights; BF16 is HF only
};

struct ExportResult {
  bool ok = false;
  QString message;  // what was written, or the engine's error and what to do
};

// The dtype `precision` gives for `format`'s weights.
rbe::DType exportDtype(ExportFormat format, ExportPrecision precision);

// Never throws.
ExportResult exportModel(const ExportRequest& request);

// The settings used when exporting .rbe without a compression made in the
// Compress panel: the codec's defaults.
rbe::codec::ModelCodecOptions defaultCodecOptions();

}  // namespace workbench
