// rbe-workbench: the desktop application. Opens on the embedded default model
// (or --model PATH). With --screenshot FILE.png it renders one panel with
// real content to a PNG and exits (offscreen when there is no display).
#include <QApplication>
#include <QCommandLineParser>
#include <QDir>
#include <QFileInfo>
#include <QSettings>
#include <QTextStream>
#include <cstdio>
#include <cstdlib>

#include "default_model.h"
#include "language.h"
#include "main_window.h"
#include "screenshot_runner.h"
#include "workbench_context.h"

namespace {

bool hasArg(int argc, char** argv, const char* name) {
  for (int i = 1; i < argc; ++i)
    if (qstrcmp(argv[i], name) == 0 || QByteArray(argv[i]).startsWith(QByteArray(name) + '=')) return true;
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  // Screenshots need no display: use the offscreen platform unless told otherwise.
  const bool headless = qEnvironmentVariableIsEmpty("DISPLAY") && qEnvironmentVariableIsEmpty("WAYLAND_DISPLAY") &&
                        qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM");
  if (headless) {
    const bool noWindow = hasArg(argc, argv, "--screenshot") || hasArg(argc, argv, "--help") ||
                          hasArg(argc, argv, "-h") || hasArg(argc, argv, "--help-all") ||
                          hasArg(argc, argv, "--version") || hasArg(argc, argv, "-v");
    if (!noWindow) {
      std::fprintf(stderr,
                   "rbe-workbench: no display ($DISPLAY and $WAYLAND_DISPLAY are unset); run it on a desktop, or "
                   "render a panel headless with --screenshot FILE.png\n");
      return 1;
    }
    qputenv("QT_QPA_PLATFORM", "offscreen");
  }

  QApplication app(argc, argv);
  QCoreApplication::setOrganizationName(QStringLiteral("RBE Workbench"));
  QCoreApplication::setApplicationName(QStringLiteral("rbe-workbench"));
  QCoreApplication::setApplicationVersion(QStringLiteral(RBE_VERSION));
  QGuiApplication::setApplicationDisplayName(QStringLiteral("RBE Workbench"));
  QGuiApplication::setDesktopFileName(QStringLiteral("rbe-workbench"));

  QCommandLineParser parser;
  parser.setApplicationDescription(
      QStringLiteral("Open, compress, inspect, chat with, train and export GPT-2 models."));
  parser.addHelpOption();
  parser.addVersionOption();
  const QCommandLineOption modelOpt(
      QStringLiteral("model"), QStringLiteral("Model to open (folder, .rbe or .gguf); default: the embedded model."),
      QStringLiteral("PATH"));
  const QCommandLineOption shotOpt(QStringLiteral("screenshot"),
                                   QStringLiteral("Render the window to FILE.png and exit."), QStringLiteral("FILE"));
  const QCommandLineOption panelOpt(QStringLiteral("panel"),
                                    QStringLiteral("Panel to show: model, compress, chat or train (default: model)."),
                                    QStringLiteral("NAME"), QStringLiteral("model"));
  const QCommandLineOption textOpt(QStringLiteral("train-text"),
                                   QStringLiteral("Text file for the train panel's screenshot run."),
                                   QStringLiteral("FILE"));
  const QCommandLineOption langOpt(QStringLiteral("lang"),
                                   QStringLiteral("Interface language for this run: system, en or ko."),
                                   QStringLiteral("LANG"));
  parser.addOptions({modelOpt, shotOpt, panelOpt, textOpt, langOpt});
  parser.addPositionalArgument(QStringLiteral("path"), QStringLiteral("Model to open (same as --model)."),
                               QStringLiteral("[path]"));
  parser.process(app);

  QTextStream err(stderr);
  const auto panel = MainWindow::panelFromName(parser.value(panelOpt));
  if (!panel) {
    err << "rbe-workbench: --panel must be model, compress, chat or train, not '" << parser.value(panelOpt) << "'\n";
    return 2;
  }
  QString language = parser.value(langOpt);
  if (!language.isEmpty() && language != QLatin1String("system") &&
      !workbench::supportedLanguages().contains(language)) {
    err << "rbe-workbench: --lang must be system, en or ko, not '" << language << "'\n";
    return 2;
  }
  QString model = parser.value(modelOpt);
  if (model.isEmpty() && !parser.positionalArguments().isEmpty()) model = parser.positionalArguments().first();
  if (!model.isEmpty() && !QFileInfo::exists(model)) {
    err << "rbe-workbench: " << model << ": no such file or folder\n";
    return 2;
  }

  {
    QSettings settings;
    if (language.isEmpty()) language = workbench::languageSetting(settings);
  }
  workbench::installTranslations(app, language);

  MainWindow window;
  if (parser.isSet(shotOpt)) {
    ScreenshotRunner::Options opt;
    opt.panel = *panel;
    opt.outPath = parser.value(shotOpt);
    opt.modelPath = model;
    opt.trainTextPath = parser.value(textOpt);
    ScreenshotRunner runner(&window, opt);
    int code = 1;
    QObject::connect(&runner, &ScreenshotRunner::finished, &app, [&](bool ok, const QString& message) {
      err << "rbe-workbench: " << message << "\n";
      err.flush();
      code = ok ? 0 : 1;
      app.quit();
    });
    runner.start();
    if (runner.message().isEmpty()) app.exec();
    return code;
  }

  window.show();
  if (model.isEmpty()) model = workbench::defaultModelPath();
  if (!model.isEmpty()) window.openModel(model);
  return app.exec();
}
