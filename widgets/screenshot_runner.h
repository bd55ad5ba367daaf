#pragma once
// Headless rendering (rbe-workbench --screenshot): opens a model in a
// MainWindow, runs what the chosen panel needs to show real content
// (compress: a compression at default settings; chat: a short generation on
// the original and the compressed model; train: a short training run),
// renders the window with QWidget::grab() and writes the PNG.
#include <QObject>
#include <QString>
#include <QTimer>

#include "main_window.h"

class ScreenshotRunner : public QObject {
  Q_OBJECT
 public:
  struct Options {
    MainWindow::Panel panel = MainWindow::Panel::Model;
    QString outPath;
    QString modelPath;      // empty: the default model
    QString trainTextPath;  // for the train panel
    int timeoutMs = 300000;
  };

  ScreenshotRunner(MainWindow* window, Options options, QObject* parent = nullptr);

  void start();
  bool ok() const { return ok_; }
  QString message() const { return message_; }

 signals:
  void finished(bool ok, const QString& message);

 private:
  void onModelLoaded(bool ok, const QString& message);
  void prepareCompress(bool thenChat);
  void prepareChat();
  void prepareTrain();
  void capture();
  void fail(const QString& why);
  void done(bool ok, const QString& message);

  MainWindow* window_;
  Options opt_;
  QTimer timeout_;
  bool finished_ = false;
  bool ok_ = false;
  QString message_;
};
