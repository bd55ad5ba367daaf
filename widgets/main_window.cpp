#include "main_window.h"

#include <QAction>
#include <QActionGroup>
#include <QApplication>
#include <QCloseEvent>
#include <QDir>
#include <QDragEnterEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QProgressBar>
#include <QSettings>
#include <QStatusBar>
#include <QStyle>
#include <QTabWidget>
#include <QToolBar>
#include <QToolButton>

#include "chat_panel.h"
#include "compress_panel.h"
#include "default_model.h"
#include "language.h"
#include "model_panel.h"
#include "train_panel.h"
#include "workbench_context.h"
#include "workers/background.h"
#include "workers/model_open_job.h"

namespace {

const QString kRecentKey = QStringLiteral("recentFiles");
const QString kGeometryKey = QStringLiteral("window/geometry");
const QString kStateKey = QStringLiteral("window/state");
const QString kPanelKey = QStringLiteral("window/panel");
const QString kExportPrecisionKey = QStringLiteral("exportPrecision");

QString displayName(const QString& path) {
  const QFileInfo info(path);
  return info.fileName().isEmpty() ? path : info.fileName();
}

}  // namespace

std::optional<MainWindow::Panel> MainWindow::panelFromName(const QString& name) {
  const QString n = name.toLower();
  if (n == QLatin1String("model")) return Panel::Model;
  if (n == QLatin1String("compress")) return Panel::Compress;
  if (n == QLatin1String("chat")) return Panel::Chat;
  if (n == QLatin1String("train")) return Panel::Train;
  return std::nullopt;
}

MainWindow::MainWindow(QWidget* parent)
    : QMainWindow(parent), ctx_(new WorkbenchContext(this)), tabs_(new QTabWidget(this)) {
  setWindowIcon(QIcon(QStringLiteral(":/icons/rbe-workbench.png")));
  setAcceptDrops(true);

  modelPanel_ = new ModelPanel(ctx_, tabs_);
  compressPanel_ = new CompressPanel(ctx_, tabs_);
  chatPanel_ = new ChatPanel(ctx_, tabs_);
  trainPanel_ = new TrainPanel(ctx_, tabs_);
  tabs_->addTab(modelPanel_, tr("&Model"));
  tabs_->addTab(compressPanel_, tr("&Compress"));
  tabs_->addTab(chatPanel_, tr("C&hat"));
  tabs_->addTab(trainPanel_, tr("&Train"));
  tabs_->setDocumentMode(true);
  setCentralWidget(tabs_);

  buildMenus();
  buildStatusBar();

  connect(ctx_, &WorkbenchContext::statusMessage, this,
          [this](const QString& text, int timeoutMs) { statusBar()->showMessage(text, timeoutMs); });
  connect(ctx_, &WorkbenchContext::openModelRequested, this, [this](const QString& path) {
    showPanel(Panel::Model);
    openModel(path);
  });
  connect(ctx_, &WorkbenchContext::modelChanged, this, [this] {
    updateTitle();
    updateActions();
  });
  connect(ctx_, &WorkbenchContext::compressionChanged, this, &MainWindow::updateActions);

  QSettings& s = ctx_->settings();
  if (!restoreGeometry(s.value(kGeometryKey).toByteArray())) resize(1280, 820);
  restoreState(s.value(kStateKey).toByteArray());
  tabs_->setCurrentIndex(qBound(0, s.value(kPanelKey, 0).toInt(), tabs_->count() - 1));
  connect(tabs_, &QTabWidget::currentChanged, this, [this](int index) { ctx_->settings().setValue(kPanelKey, index); });
  updateTitle();
  updateActions();
}

MainWindow::~MainWindow() = default;

void MainWindow::buildMenus() {
  QStyle* st = style();
  QMenu* file = menuBar()->addMenu(tr("&File"));
  QAction* openFolder = file->addAction(st->standardIcon(QStyle::SP_DirOpenIcon), tr("Open &Folder…"), this,
                                        &MainWindow::openFolderDialog);
  openFolder->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_O));
  openFolder->setStatusTip(tr("Open a HuggingFace GPT-2 folder or an RBE checkpoint folder"));
  QAction* openFile =
      file->addAction(st->standardIcon(QStyle::SP_FileIcon), tr("&Open File…"), this, &MainWindow::openFileDialog);
  openFile->setShortcut(QKeySequence::Open);
  openFile->setStatusTip(tr("Open an .rbe or .gguf file, or a file inside a model folder"));
  recentMenu_ = file->addMenu(tr("Open &Recent"));
  connect(recentMenu_, &QMenu::aboutToShow, this, &MainWindow::fillRecentMenu);
  QAction* openDefault = file->addAction(tr("Open the &Default Model"), this, [this] {
    const QString path = workbench::defaultModelPath();
    if (path.isEmpty())
      showError(tr("Default model not found"), tr("The embedded default model (mini-shakespeare) is missing."),
                tr("Reinstall RBE Workbench, or open a model folder with File → Open Folder…."));
    else
      openModel(path);
  });
  openDefault->setStatusTip(tr("Open the Mini GPT-2 trained on Tiny Shakespeare that ships with the workbench"));
  file->addSeparator();

  QMenu* exportMenu = file->addMenu(tr("&Export"));
  exportRbeAction_ = exportMenu->addAction(st->standardIcon(QStyle::SP_DialogSaveButton), tr("As .&rbe File…"), this,
                                           [this] { exportDialog(workbench::ExportFormat::Rbe); });
  exportRbeAction_->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_E));
  exportRbeAction_->setStatusTip(tr("Write the compression (or a compression at default settings) as an .rbe file"));
  exportHfAction_ = exportMenu->addAction(tr("As &HuggingFace Folder…"), this,
                                          [this] { exportDialog(workbench::ExportFormat::HfFolder); });
  exportGgufAction_ =
      exportMenu->addAction(tr("As &GGUF File…"), this, [this] { exportDialog(workbench::ExportFormat::Gguf); });
  exportMenu->addSeparator();
  exportCompressedAction_ = exportMenu->addAction(tr("Use the &Compressed Weights (HF, GGUF)"));
  exportCompressedAction_->setCheckable(true);
  exportCompressedAction_->setStatusTip(tr("Write the compressed model's weights, decoded, instead of the original's"));
  QMenu* precision = exportMenu->addMenu(tr("Weight &Precision (HF, GGUF)"));
  precisionGroup_ = new QActionGroup(this);
  const QString chosenPrecision = ctx_->settings().value(kExportPrecisionKey, QStringLiteral("default")).toString();
  const std::pair<QString, QString> precisions[] = {{QStringLiteral("default"), tr("&Format Default (HF F32, GGUF F16)")},
                                                    {QStringLiteral("f32"), tr("F&32")},
                                                    {QStringLiteral("f16"), tr("F&16")},
                                                    {QStringLiteral("bf16"), tr("&BF16 (HF only)")}};
  for (const auto& [key, label] : precisions) {
    QAction* a = precision->addAction(label);
    a->setCheckable(true);
    a->setData(key);
    a->setChecked(key == chosenPrecision);
    precisionGroup_->addAction(a);
    connect(a, &QAction::triggered, this, [this, k = key] { ctx_->settings().setValue(kExportPrecisionKey, k); });
  }
  if (!precisionGroup_->checkedAction()) precisionGroup_->actions().first()->setChecked(true);
  file->addSeparator();
  QAction* quit = file->addAction(tr("&Quit"), this, &QWidget::close);
  quit->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Q));
  quit->setMenuRole(QAction::QuitRole);

  QMenu* view = menuBar()->addMenu(tr("&View"));
  const QString panelNames[] = {tr("&Model"), tr("&Compress"), tr("C&hat"), tr("&Train")};
  for (int i = 0; i < 4; ++i) {
    QAction* a = view->addAction(panelNames[i], this, [this, i] { tabs_->setCurrentIndex(i); });
    a->setShortcut(QKeySequence(Qt::CTRL | Qt::Key(Qt::Key_1 + i)));
  }
  view->addSeparator();
  QMenu* language = view->addMenu(tr("&Language"));
  languageGroup_ = new QActionGroup(this);
  const QString current = workbench::languageSetting(ctx_->settings());
  // Language names in their own language, so that anyone can find theirs.
  const std::pair<QString, QString> languages[] = {{QStringLiteral("system"), tr("System Default")},
                                                   {QStringLiteral("en"), QStringLiteral("English")},
                                                   {QStringLiteral("ko"), QStringLiteral("한국어")}};
  for (const auto& [code, name] : languages) {
    QAction* a = language->addAction(name);
    a->setCheckable(true);
    a->setChecked(code == current);
    a->setData(code);
    languageGroup_->addAction(a);
    connect(a, &QAction::triggered, this, [this, code = code] { chooseLanguage(code); });
  }

  QMenu* help = menuBar()->addMenu(tr("&Help"));
  help->addAction(tr("&About RBE Workbench"), this, [this] {
    QMessageBox::about(this, tr("About RBE Workbench"),
                       tr("<h3>RBE Workbench %1</h3><p>Open, compress, inspect, chat with, train and export GPT-2 "
                          "models. RBE (Riemannian Basis Encoding) stores weight matrices as compact generator "
                          "records plus a transform-domain residual.</p>")
                           .arg(QCoreApplication::applicationVersion()));
  });

  QToolBar* bar = addToolBar(tr("Main"));
  bar->setObjectName(QStringLiteral("mainToolBar"));
  bar->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
  bar->addAction(openFolder);
  bar->addAction(openFile);
  bar->addAction(exportRbeAction_);
}

void MainWindow::buildStatusBar() {
  busyLabel_ = new QLabel(this);
  progress_ = new QProgressBar(this);
  progress_->setRange(0, 0);  // the engine reports no load progress: a busy indicator
  progress_->setMaximumWidth(160);
  cancelButton_ = new QToolButton(this);
  cancelButton_->setText(tr("Cancel"));
  cancelButton_->setToolTip(tr("Stop waiting for the model; it finishes loading in the background and is discarded"));
  connect(cancelButton_, &QToolButton::clicked, this, &MainWindow::cancelLoad);
  statusBar()->addPermanentWidget(busyLabel_);
  statusBar()->addPermanentWidget(progress_);
  statusBar()->addPermanentWidget(cancelButton_);
  clearBusy();
}

void MainWindow::setBusy(const QString& what, bool cancellable) {
  busyLabel_->setText(what);
  busyLabel_->show();
  progress_->show();
  cancelButton_->setVisible(cancellable);
}

void MainWindow::clearBusy() {
  busyLabel_->hide();
  progress_->hide();
  cancelButton_->hide();
}

MainWindow::Panel MainWindow::currentPanel() const { return Panel(tabs_->currentIndex()); }

void MainWindow::showPanel(Panel p) { tabs_->setCurrentIndex(int(p)); }

void MainWindow::openModel(const QString& path) {
  if (path.isEmpty()) return;
  const quint64 serial = ++loadSerial_;  // any load still running becomes stale
  loadingPath_ = path;
  setBusy(tr("Loading %1…").arg(displayName(path)), true);
  statusBar()->showMessage(tr("Loading %1…").arg(path));
  emit modelLoadStarted(path);
  workbench::runInBackground(
      this, [path] { return workbench::openModel(path); },
      [this, serial](const workbench::OpenedModel& r) {
        if (serial != loadSerial_) return;  // cancelled or superseded: dropped
        loadingPath_.reset();
        clearBusy();
        if (!r.model) {
          statusBar()->showMessage(tr("Could not open %1").arg(r.path), 8000);
          showError(tr("Could not open the model"), r.error,
                    tr("Choose a folder with config.json and model.safetensors (a HuggingFace GPT-2 folder or an "
                       "RBE checkpoint), or an .rbe or .gguf file."));
          emit modelLoadFinished(false, r.error);
          return;
        }
        ctx_->setModel(r.model, r.path);
        if (r.compression) ctx_->setCompression(r.compression, r.model);
        addRecentFile(r.path);
        const QString msg = tr("Opened %1 in %2 s").arg(displayName(r.path)).arg(r.seconds, 0, 'f', 2);
        statusBar()->showMessage(msg, 6000);
        emit modelLoadFinished(true, msg);
      });
}

void MainWindow::cancelLoad() {
  if (!loadingPath_) return;
  ++loadSerial_;
  const QString path = *loadingPath_;
  loadingPath_.reset();
  clearBusy();
  statusBar()->showMessage(tr("Stopped waiting for %1").arg(displayName(path)), 6000);
  emit modelLoadFinished(false, tr("cancelled"));
}

void MainWindow::openFolderDialog() {
  const QString dir = QFileDialog::getExistingDirectory(
      this, tr("Open Model Folder"), ctx_->settings().value(QStringLiteral("lastDir"), QDir::homePath()).toString());
  if (dir.isEmpty()) return;
  ctx_->settings().setValue(QStringLiteral("lastDir"), QFileInfo(dir).absolutePath());
  openModel(dir);
}

void MainWindow::openFileDialog() {
  const QString file = QFileDialog::getOpenFileName(
      this, tr("Open Model File"), ctx_->settings().value(QStringLiteral("lastDir"), QDir::homePath()).toString(),
      tr("Models (*.rbe *.gguf config.json *.safetensors);;RBE files (*.rbe);;GGUF files (*.gguf);;All files (*)"));
  if (file.isEmpty()) return;
  ctx_->settings().setValue(QStringLiteral("lastDir"), QFileInfo(file).absolutePath());
  openModel(file);
}

QStringList MainWindow::recentFiles() const { return ctx_->settings().value(kRecentKey).toStringList(); }

void MainWindow::addRecentFile(const QString& path) {
  QStringList list = recentFiles();
  const QString abs = QFileInfo(path).absoluteFilePath();
  list.removeAll(abs);
  list.prepend(abs);
  while (list.size() > kMaxRecentFiles) list.removeLast();
  ctx_->settings().setValue(kRecentKey, list);
}

void MainWindow::fillRecentMenu() {
  recentMenu_->clear();
  const QStringList list = recentFiles();
  for (int i = 0; i < list.size(); ++i) {
    QAction* a = recentMenu_->addAction(QStringLiteral("&%1 %2").arg(i + 1).arg(list[i]));
    a->setEnabled(QFileInfo::exists(list[i]));
    connect(a, &QAction::triggered, this, [this, p = list[i]] { openModel(p); });
  }
  if (list.isEmpty()) recentMenu_->addAction(tr("(none)"))->setEnabled(false);
  recentMenu_->addSeparator();
  recentMenu_->addAction(tr("&Clear List"), this, [this] { ctx_->settings().remove(kRecentKey); });
}

void MainWindow::exportDialog(workbench::ExportFormat format) {
  if (!ctx_->model()) return;
  QSettings& s = ctx_->settings();
  const QString dir = s.value(QStringLiteral("exportDir"), QDir::homePath()).toString();
  const QString base = QFileInfo(ctx_->modelPath()).completeBaseName();
  QString path;
  switch (format) {
    case workbench::ExportFormat::Rbe:
      path = QFileDialog::getSaveFileName(this, tr("Export as .rbe"), dir + QLatin1Char('/') + base + ".rbe",
                                          tr("RBE files (*.rbe)"));
      if (!path.isEmpty() && !path.endsWith(QLatin1String(".rbe"))) path += QLatin1String(".rbe");
      break;
    case workbench::ExportFormat::Gguf:
      path = QFileDialog::getSaveFileName(this, tr("Export as GGUF"), dir + QLatin1Char('/') + base + ".gguf",
                                          tr("GGUF files (*.gguf)"));
      if (!path.isEmpty() && !path.endsWith(QLatin1String(".gguf"))) path += QLatin1String(".gguf");
      break;
    case workbench::ExportFormat::HfFolder:
      path = QFileDialog::getExistingDirectory(
          this, tr("Export as HuggingFace Folder (choose or create an empty folder)"), dir);
      if (!path.isEmpty() && !QDir(path).isEmpty() &&
          QMessageBox::question(this, tr("Folder not empty"),
                                tr("%1 already holds files. Write the model there anyway? Files with the same names "
                                   "are replaced.")
                                    .arg(path)) != QMessageBox::Yes)
        path.clear();
      break;
  }
  if (path.isEmpty()) return;
  s.setValue(QStringLiteral("exportDir"), QFileInfo(path).absolutePath());
  exportModel(format, path);
}

void MainWindow::exportModel(workbench::ExportFormat format, const QString& path) {
  if (exporting_) {
    statusBar()->showMessage(tr("An export is already running."), 4000);
    return;
  }
  workbench::ExportRequest req;
  req.format = format;
  req.path = path;
  const bool useCompressed = exportCompressedAction_->isChecked() && ctx_->compressedModel();
  req.model = useCompressed ? ctx_->compressedModel() : ctx_->model();
  req.compression = ctx_->compression();
  req.precision = exportPrecision();
  exporting_ = true;
  updateActions();
  setBusy(tr("Exporting %1…").arg(displayName(path)), false);
  if (format == workbench::ExportFormat::Rbe && !req.compression)
    statusBar()->showMessage(tr("No compression yet: compressing at default settings first…"));
  workbench::runInBackground(
      this, [req] { return workbench::exportModel(req); },
      [this](const workbench::ExportResult& r) {
        exporting_ = false;
        clearBusy();
        updateActions();
        if (isLoading()) setBusy(tr("Loading %1…").arg(displayName(*loadingPath_)), true);
        if (r.ok) {
          statusBar()->showMessage(r.message, 8000);
        } else {
          statusBar()->showMessage(tr("Export failed"), 8000);
          showError(tr("Export failed"), r.message,
                    tr("Check that the destination is writable and has free space, or choose another format."));
        }
        emit exportFinished(r.ok, r.message);
      });
}

workbench::ExportPrecision MainWindow::exportPrecision() const {
  const QAction* a = precisionGroup_->checkedAction();
  const QString key = a ? a->data().toString() : QString();
  if (key == QLatin1String("f32")) return workbench::ExportPrecision::F32;
  if (key == QLatin1String("f16")) return workbench::ExportPrecision::F16;
  if (key == QLatin1String("bf16")) return workbench::ExportPrecision::BF16;
  return workbench::ExportPrecision::FormatDefault;
}

void MainWindow::showError(const QString& title, const QString& message, const QString& hint) {
  emit errorOccurred(title, message);
  if (!interactive_) return;
  auto* box = new QMessageBox(QMessageBox::Warning, title, message, QMessageBox::Ok, this);
  box->setInformativeText(hint);
  box->setAttribute(Qt::WA_DeleteOnClose);
  box->open();
}

void MainWindow::updateActions() {
  const bool have = ctx_->model() != nullptr;
  for (QAction* a : {exportRbeAction_, exportHfAction_, exportGgufAction_}) a->setEnabled(have && !exporting_);
  exportCompressedAction_->setEnabled(ctx_->compressedModel() != nullptr);
}

void MainWindow::updateTitle() {
  setWindowTitle(ctx_->model() ? tr("%1 — RBE Workbench").arg(displayName(ctx_->modelPath())) : tr("RBE Workbench"));
}

void MainWindow::chooseLanguage(const QString& language) {
  workbench::setLanguageSetting(ctx_->settings(), language);
  const QString msg = tr("The language changes the next time RBE Workbench starts.");
  statusBar()->showMessage(msg, 6000);
  if (interactive_) QMessageBox::information(this, tr("Language"), msg);
}

void MainWindow::closeEvent(QCloseEvent* event) {
  QSettings& s = ctx_->settings();
  s.setValue(kGeometryKey, saveGeometry());
  s.setValue(kStateKey, saveState());
  s.setValue(kPanelKey, tabs_->currentIndex());
  chatPanel_->stop();
  event->accept();
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
  const QList<QUrl> urls = event->mimeData()->urls();
  if (urls.size() == 1 && urls.first().isLocalFile()) event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event) {
  const QList<QUrl> urls = event->mimeData()->urls();
  if (urls.size() != 1 || !urls.first().isLocalFile()) return;
  event->acceptProposedAction();
  openModel(urls.first().toLocalFile());
}
