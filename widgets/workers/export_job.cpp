#include "workers/export_job.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <exception>
#include <stdexcept>

#include "codec/densify.h"
#include "codec/rbe_file.h"
#include "io/gguf_export.h"
#include "io/hf_gpt2.h"
#include "models/gpt2_tokenizer.h"

namespace workbench {
namespace {

bool hasPackedWeights(const rbe::GPT2Model& m) { return !m.packed_weight_names().empty(); }

// A dense copy of a model whose matrices may be packed (a compressed model),
// its matrices in `matrices` (F32 or F16; the writers convert to anything
// else): the writers need every weight as a plain tensor. The packed forms
// stay with the opened model; the copy decodes them into its own weights.
std::unique_ptr<rbe::GPT2Model> denseCopy(const rbe::GPT2Model& src, rbe::DType matrices) {
  if (matrices != rbe::DType::F16) matrices = rbe::DType::F32;
  std::unique_ptr<rbe::GPT2Model> dst = src.inference_copy(matrices);
  rbe::codec::densify(*dst, matrices);
  return dst;
}

QString writeRbe(const ExportRequest& r) {
  std::shared_ptr<const rbe::codec::CompressedModel> cm = r.compression;
  if (!cm) {
    if (hasPackedWeights(*r.model->model))
      throw std::runtime_error(
          QCoreApplication::translate("ExportJob",
                                      "This model is already compressed but its records are not available; compress it "
                                      "in the Compress panel first.")
              .toStdString());
    cm = std::make_shared<rbe::codec::CompressedModel>(rbe::codec::compress_model(*r.model, defaultCodecOptions()));
  }
  rbe::codec::write_rbe_file(r.path.toStdString(), *cm);
  return QCoreApplication::translate("ExportJob", "Wrote %1 (%2 encoded tensors).").arg(r.path).arg(cm->encoded.size());
}

QString writeHf(const ExportRequest& r) {
  const auto* bpe = dynamic_cast<const rbe::GPT2Tokenizer*>(r.model->tokenizer.get());
  if (r.model->tokenizer && !bpe)
    throw std::runtime_error(
        QCoreApplication::translate("ExportJob",
                                    "This model uses a character tokenizer, which a HuggingFace GPT-2 folder cannot "
                                    "hold. Export it as .rbe instead, or train a model with the GPT-2 tokenizer.")
            .toStdString());
  const rbe::DType dtype = exportDtype(ExportFormat::HfFolder, r.precision);
  const bool packed = hasPackedWeights(*r.model->model);
  std::unique_ptr<rbe::GPT2Model> copy = packed ? denseCopy(*r.model->model, dtype) : nullptr;
  const rbe::GPT2Model& model = copy ? *copy : *r.model->model;
  QDir().mkpath(r.path);
  if (bpe) {
    const rbe::hf::TokenizerFiles files = rbe::hf::tokenizer_files(*bpe);
    rbe::hf::save(r.path.toStdString(), model, &files, 0, dtype);
  } else {
    rbe::hf::save(r.path.toStdString(), model, nullptr, 0, dtype);
  }
  QString msg = QCoreApplication::translate("ExportJob", "Wrote the HuggingFace folder %1 (%2 weights).")
                    .arg(r.path)
                    .arg(QString::fromLatin1(rbe::dtype_name(dtype)));
  if (!bpe)
    msg += QLatin1Char(' ') +
           QCoreApplication::translate("ExportJob", "The model has no tokenizer, so the folder has none either.");
  if (packed)
    msg += QLatin1Char(' ') +
           QCoreApplication::translate("ExportJob", "Weights are the compressed model's, decoded.");
  return msg;
}

QString writeGguf(const ExportRequest& r) {
  const rbe::DType dtype = exportDtype(ExportFormat::Gguf, r.precision);
  if (dtype != rbe::DType::F32 && dtype != rbe::DType::F16)
    throw std::runtime_error(
        QCoreApplication::translate("ExportJob",
                                    "GGUF export writes F32 or F16 weights, not %1. Choose F32 or F16 under Export → "
                                    "Weight Precision.")
            .arg(QString::fromLatin1(rbe::dtype_name(dtype)))
            .toStdString());
  const bool packed = hasPackedWeights(*r.model->model);
  std::unique_ptr<rbe::GPT2Model> copy = packed ? denseCopy(*r.model->model, rbe::DType::F32) : nullptr;
  const rbe::GPT2Model& model = copy ? *copy : *r.model->model;
  rbe::GgufExportOptions opt;
  opt.dtype = dtype;
  opt.name = QFileInfo(r.path).completeBaseName().toStdString();
  const rbe::GgufExportReport rep = rbe::export_gguf(r.path.toStdString(), model, r.model->tokenizer.get(), opt);
  QString msg = QCoreApplication::translate("ExportJob", "Wrote %1 (%2 tensors, %3 bytes, %4 weight matrices).")
                    .arg(r.path)
                    .arg(rep.tensors)
                    .arg(rep.file_bytes)
                    .arg(QString::fromLatin1(rbe::dtype_name(dtype)));
  for (const std::string& w : rep.warnings) msg += QLatin1Char(' ') + QString::fromStdString(w);
  return msg;
}

}  // namespace

rbe::codec::ModelCodecOptions defaultCodecOptions() { return rbe::codec::ModelCodecOptions{}; }

rbe::DType exportDtype(ExportFormat format, ExportPrecision precision) {
  switch (precision) {
    case ExportPrecision::F32:
      return rbe::DType::F32;
    case ExportPrecision::F16:
      return rbe::DType::F16;
    case ExportPrecision::BF16:
      return rbe::DType::BF16;
    case ExportPrecision::FormatDefault:
      break;
  }
  return format == ExportFormat::Gguf ? rbe::DType::F16 : rbe::DType::F32;
}

ExportResult exportModel(const ExportRequest& r) {
  ExportResult out;
  try {
    if (!r.model || !r.model->model)
      throw std::runtime_error(QCoreApplication::translate("ExportJob", "No model is open.").toStdString());
    if (r.path.isEmpty())
      throw std::runtime_error(QCoreApplication::translate("ExportJob", "No destination was given.").toStdString());
    switch (r.format) {
      case ExportFormat::Rbe:
        out.message = writeRbe(r);
        break;
      case ExportFormat::HfFolder:
        out.message = writeHf(r);
        break;
      case ExportFormat::Gguf:
        out.message = writeGguf(r);
        break;
    }
    out.ok = true;
  } catch (const rbe::GgufExportError& e) {
    out.message = QCoreApplication::translate("ExportJob", "This model cannot be written as GGUF: %1")
                      .arg(QString::fromUtf8(e.what()));
  } catch (const std::exception& e) {
    out.message = QString::fromUtf8(e.what());
  }
  return out;
}

}  // namespace workbench
