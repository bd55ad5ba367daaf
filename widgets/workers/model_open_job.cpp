#include "workers/model_open_job.h"

#include <QElapsedTimer>
#include <QFileInfo>
#include <exception>

#include "codec/model_codec.h"
#include "codec/rbe_file.h"

namespace workbench {

QString modelLocationFor(const QString& path) {
  const QFileInfo info(path);
  if (info.isFile()) {
    const QString name = info.fileName();
    if (name == QLatin1String("config.json") || name.endsWith(QLatin1String(".safetensors")) ||
        name == QLatin1String("model.safetensors.index.json") || name == QLatin1String("tokenizer.json") ||
        name == QLatin1String("vocab.json") || name == QLatin1String("merges.txt"))
      return info.absolutePath();
  }
  return path;
}

OpenedModel openModel(const QString& requested) {
  OpenedModel out;
  out.path = modelLocationFor(requested);
  const std::string path = out.path.toStdString();
  QElapsedTimer timer;
  timer.start();
  try {
    const QFileInfo info(out.path);
    if (info.isFile() && rbe::codec::looks_like_rbe_file(path)) {
      auto cm = std::make_shared<rbe::codec::CompressedModel>(rbe::codec::read_rbe_file(path));
      out.model = std::make_shared<rbe::LoadedModel>(rbe::codec::instantiate(*cm));
      out.model->format = "rbe";
      out.compression = std::move(cm);
    } else if (info.isFile() && info.suffix().compare(QLatin1String("gguf"), Qt::CaseInsensitive) == 0) {
      // Q8_0 / Q4_0 matrices run packed, straight from the file (as rbe-infer does).
      out.model = std::make_shared<rbe::LoadedModel>(rbe::codec::load_any_model(path));
    } else {
      out.model = std::make_shared<rbe::LoadedModel>(rbe::load_model(path));
    }
  } catch (const std::exception& e) {
    out.model.reset();
    out.compression.reset();
    out.error = QString::fromUtf8(e.what());
  }
  out.seconds = timer.elapsed() / 1000.0;
  return out;
}

}  // namespace workbench
