#pragma once
// The workbench's interface language: "system" (the default: the system
// locale's language when a translation exists), "en" or "ko". Stored in
// QSettings as "language"; applied at start-up.
#include <QString>
#include <QStringList>

class QCoreApplication;
class QSettings;

namespace workbench {

QStringList supportedLanguages();  // "en", "ko"
QString languageSetting(QSettings& s);
void setLanguageSetting(QSettings& s, const QString& language);

// Installs the translators for `language` ("system", "en", "ko") on app:
// the workbench's own and Qt's (standard dialogs). Returns the language
// actually used ("en" when no translation was found).
QString installTranslations(QCoreApplication& app, const QString& language);

}  // namespace workbench
