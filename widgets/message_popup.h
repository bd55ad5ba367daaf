#pragma once
// A warning dialog that does not block: shown window-modal with open(), so
// the event loop (workers' signals, tests) keeps running while it is up.
#include <QString>

class QWidget;

void showWarning(QWidget* parent, const QString& title, const QString& text);
