#include "default_model.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>

namespace workbench {
namespace {

// PREFIX/share/rbe-workbench when the executable is PREFIX/bin/rbe-workbench.
QString installedDataDir() {
  return QDir(QCoreApplication::applicationDirPath()).absoluteFilePath(QStringLiteral("../" RBE_DATA_SUBDIR));
}

}  // namespace

QString defaultModelPath() {
  const QStringList candidates = {
      installedDataDir() + QStringLiteral("/models/mini-shakespeare"),
      QStringLiteral(RBE_SOURCE_DIR "/resources/models/mini-shakespeare"),
  };
  for (const QString& dir : candidates)
    if (QFileInfo::exists(dir + QStringLiteral("/config.json"))) return QDir::cleanPath(dir);
  return {};
}

QStringList translationDirs() {
  const QDir exeDir(QCoreApplication::applicationDirPath());
  return {
      installedDataDir() + QStringLiteral("/translations"),
      // BUILD/app/workbench and BUILD/tests/gui -> BUILD/translations (development).
      QDir::cleanPath(exeDir.absoluteFilePath(QStringLiteral("../../translations"))),
  };
}

}  // namespace workbench
