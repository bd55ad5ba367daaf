#pragma once
// Where the workbench finds the embedded default model and its translations:
// next to the installed executable (PREFIX/share/rbe-workbench/...), else in
// the build or source tree (development).
#include <QString>
#include <QStringList>

namespace workbench {

// The Mini GPT-2 trained on Tiny Shakespeare; empty when not found.
QString defaultModelPath();
// Folders that may hold rbe_workbench_<lang>.qm, most specific first.
QStringList translationDirs();

}  // namespace workbench
