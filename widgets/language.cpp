#include "language.h"

#include <QCoreApplication>
#include <QLibraryInfo>
#include <QLocale>
#include <QSettings>
#include <QTranslator>

#include "default_model.h"

namespace workbench {

QStringList supportedLanguages() { return {QStringLiteral("en"), QStringLiteral("ko")}; }

QString languageSetting(QSettings& s) {
  const QString v = s.value(QStringLiteral("language"), QStringLiteral("system")).toString();
  return v == QLatin1String("system") || supportedLanguages().contains(v) ? v : QStringLiteral("system");
}

void setLanguageSetting(QSettings& s, const QString& language) { s.setValue(QStringLiteral("language"), language); }

QString installTranslations(QCoreApplication& app, const QString& language) {
  const QLocale locale = language == QLatin1String("system") ? QLocale::system() : QLocale(language);
  if (locale.language() == QLocale::English || locale.language() == QLocale::C) return QStringLiteral("en");
  auto* own = new QTranslator(&app);
  bool loaded = false;
  for (const QString& dir : translationDirs())
    if ((loaded = own->load(locale, QStringLiteral("rbe_workbench"), QStringLiteral("_"), dir))) break;
  if (!loaded) {
    delete own;
    return QStringLiteral("en");
  }
  app.installTranslator(own);
  // Qt's own strings (standard buttons, file dialogs), when the system has them.
  auto* qt = new QTranslator(&app);
  if (qt->load(locale, QStringLiteral("qtbase"), QStringLiteral("_"),
               QLibraryInfo::path(QLibraryInfo::TranslationsPath)))
    app.installTranslator(qt);
  else
    delete qt;
  return locale.name().section(QLatin1Char('_'), 0, 0);
}

}  // namespace workbench
