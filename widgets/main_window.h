#pragma once
// The workbench window: File / View / Help menus, a toolbar, the four panels
// (Model, Compress, Chat, Train) in tabs, model loading off the GUI thread
// with a progress bar and Cancel, drag and drop, recent files, export, and
// settings kept between runs.
#include <QMainWindow>
#include <QPointer>
#include <optional>

#include "workers/export_job.h"

class ChatPanel;
class CompressPanel;
class ModelPanel;
class QActionGroup;
class QLabel;
class QMenu;
class QProgressBar;
class QTabWidget;
class QToolButton;
class TrainPanel;
class WorkbenchContext;

class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  enum class Panel { Model = 0, Compress, Chat, Train };
  static std::optional<Panel> panelFromName(const QString& name);  // "model", "compress", "chat", "train"

  explicit MainWindow(QWidget* parent = nullptr);
  ~MainWindow() override;

  WorkbenchContext* context() const { return ctx_; }
  ModelPanel* modelPanel() const { return modelPanel_; }
  CompressPanel* compressPanel() const { return compressPanel_; }
  ChatPanel* chatPanel() const { return chatPanel_; }
  TrainPanel* trainPanel() const { return trainPanel_; }

  void showPanel(Panel p);
  Panel currentPanel() const;
  bool isLoading() const { return loadingPath_.has_value(); }
  bool isExporting() const { return exporting_; }
  // The choice under Export → Weight Precision (HF and GGUF exports use it).
  workbench::ExportPrecision exportPrecision() const;

  // Off: errors go to the status bar and errorOccurred() only, never a dialog
  // (tests, screenshot mode). On by default.
  void setInteractive(bool on) { interactive_ = on; }

  static constexpr int kMaxRecentFiles = 8;
  QStringList recentFiles() const;

 public slots:
  // Loads in the background; a load already running is cancelled (discarded).
  void openModel(const QString& path);
  void cancelLoad();
  void exportModel(workbench::ExportFormat format, const QString& path);
  void openFolderDialog();
  void openFileDialog();

 signals:
  void modelLoadStarted(const QString& path);
  void modelLoadFinished(bool ok, const QString& message);
  void exportFinished(bool ok, const QString& message);
  void errorOccurred(const QString& title, const QString& message);

 protected:
  void closeEvent(QCloseEvent* event) override;
  void dragEnterEvent(QDragEnterEvent* event) override;
  void dropEvent(QDropEvent* event) override;

 private:
  void buildMenus();
  void buildStatusBar();
  void exportDialog(workbench::ExportFormat format);
  void addRecentFile(const QString& path);
  void fillRecentMenu();
  void showError(const QString& title, const QString& message, const QString& hint);
  void setBusy(const QString& what, bool cancellable);
  void clearBusy();
  void updateActions();
  void updateTitle();
  void chooseLanguage(const QString& language);

  WorkbenchContext* ctx_;
  QTabWidget* tabs_;
  ModelPanel* modelPanel_;
  CompressPanel* compressPanel_;
  ChatPanel* chatPanel_;
  TrainPanel* trainPanel_;
  QMenu* recentMenu_ = nullptr;
  QAction* exportRbeAction_ = nullptr;
  QAction* exportHfAction_ = nullptr;
  QAction* exportGgufAction_ = nullptr;
  QAction* exportCompressedAction_ = nullptr;
  QActionGroup* precisionGroup_ = nullptr;  // Export → Weight Precision, kept in the settings
  QActionGroup* languageGroup_ = nullptr;
  QProgressBar* progress_ = nullptr;
  QLabel* busyLabel_ = nullptr;
  QToolButton* cancelButton_ = nullptr;

  std::optional<QString> loadingPath_;
  quint64 loadSerial_ = 0;  // a finished load whose serial is stale was cancelled: dropped
  bool exporting_ = false;
  bool interactive_ = true;
};
