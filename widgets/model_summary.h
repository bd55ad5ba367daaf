#pragma once
// What the model panel shows about an opened model, computed once per model.
#include <QString>
#include <cstdint>

#include "codec/model_codec.h"
#include "io/model_loader.h"

namespace workbench {

struct ModelSummary {
  QString format;        // "rbe-checkpoint", "hf", "rbe", "gguf"
  QString architecture;  // "GPT-2: 2 layers, 256 wide, 4 heads, context 256, gelu_new, pre-LN, tied head"
  int64_t parameters = 0;
  int64_t diskBytes = 0;     // the file, or the files directly in the folder
  int64_t memoryBytes = 0;   // weights as held: packed matrices at their packed size
  QString dtypes;            // packed formats, then dense storage types: "F32", "q8_0 (packed), F32"
  QString tokenizer;         // "char, 65 symbols" / "gpt2 BPE, 50257 tokens" / "none"
  double bitsPerWeight = 0;  // of the compression over its encoded matrices (0 when none)
};

ModelSummary summarize(const rbe::LoadedModel& m, const QString& path, const rbe::codec::CompressedModel* compression);

// "3.2 MB", "512 KB", "1.4 GB" (decimal units, as file managers show them).
QString formatBytes(int64_t bytes);
// "1.23 M", "124.4 M", "5.1 K".
QString formatCount(int64_t n);

}  // namespace workbench
