#pragma once
// The compression panel: codec settings and per-layer overrides, Compress /
// Cancel with progress (a CompressWorker in its own thread), and the results
// of the context's current compression: the per-tensor quality table, the
// selected tensor's block heatmap, relative RMSE per layer, and the
// rate–distortion points of this session's runs. A cancelled or failed run
// leaves the previous compression untouched.
#include <QPointer>
#include <QWidget>
#include <atomic>
#include <memory>
#include <optional>

#include "workers/compress_worker.h"

class BlockHeatmap;
class CodecOverrideTable;
class CodecSettingsForm;
class LayerErrorChart;
class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QSortFilterProxyModel;
class QTabWidget;
class QTableView;
class QThread;
class RdChart;
class TensorQualityModel;
class WorkbenchContext;

class CompressPanel : public QWidget {
  Q_OBJECT
 public:
  explicit CompressPanel(WorkbenchContext* ctx, QWidget* parent = nullptr);
  ~CompressPanel() override;

  bool isRunning() const { return thread_ != nullptr; }
  QString lastError() const { return lastError_; }
  // Held-out text for validation loss (its last 10%); empty: none.
  QString validationTextPath() const;
  void setValidationTextPath(const QString& path);
  // Calibrate the rounding (GPTQ-style) on the validation text's first 90%.
  void setCalibrate(bool on);

  // For tests and the screenshot mode.
  TensorQualityModel* tableModel() const { return tableModel_; }
  QTableView* tableView() const { return table_; }
  BlockHeatmap* heatmap() const { return heatmap_; }
  LayerErrorChart* layerChart() const { return layerChart_; }
  RdChart* rdChart() const { return rdChart_; }
  CodecSettingsForm* settingsForm() const { return settingsForm_; }
  CodecOverrideTable* overrideTable() const { return overrides_; }
  QPushButton* compressButton() const { return compressButton_; }
  QPushButton* cancelButton() const { return cancelButton_; }
  QTabWidget* resultTabs() const { return tabs_; }
  QLabel* summaryLabel() const { return summary_; }
  // Shows tensor `name`'s blocks in the heatmap (selects its table row).
  bool showTensor(const QString& name);

 public slots:
  void startCompression();
  void cancelCompression();

 signals:
  void compressionStarted();
  void progressChanged(double fraction);
  void compressionFinished(bool ok);

 private slots:
  void onProgress(double fraction, const QString& what);
  void onFinished(std::shared_ptr<CompressOutcome> outcome);
  void onModelChanged();
  void onCompressionChanged();
  void onTensorSelected();

 private:
  QWidget* buildSettings();
  QWidget* buildResults();
  void setRunning(bool running);
  void saveSettings();
  void browseValidationText();
  void updateSummary(const CompressOutcome* outcome);

  WorkbenchContext* ctx_;
  CodecSettingsForm* settingsForm_;
  CodecOverrideTable* overrides_;
  QLineEdit* validationPath_;
  QCheckBox* calibrate_;
  QPushButton* compressButton_;
  QPushButton* cancelButton_;
  QProgressBar* progress_;
  QLabel* stage_;
  QLabel* summary_;
  TensorQualityModel* tableModel_;
  QSortFilterProxyModel* sortModel_;
  QTableView* table_;
  QTabWidget* tabs_;
  QLabel* heatmapTitle_;
  QComboBox* colorMode_;
  BlockHeatmap* heatmap_;
  LayerErrorChart* layerChart_;
  RdChart* rdChart_;

  QThread* thread_ = nullptr;
  std::shared_ptr<std::atomic<bool>> cancel_;
  QString runLabel_;  // the running job's settings, for the rate–distortion chart
  QString lastError_;
  // The original model's validation loss on validationTextPath(), measured once per model and text.
  std::optional<double> originalLoss_;
  QString originalLossText_;
  int runCount_ = 0;
};
