#pragma once
// Rate–distortion of this session's compression runs: bits per weight
// (everything counted) against validation loss, one point per run, one series
// per codec, with the original model's loss as a dashed reference line.
#include <QChartView>
#include <QString>
#include <optional>
#include <vector>

class RdChart : public QChartView {
  Q_OBJECT
 public:
  struct Run {
    QString codec;          // series name: "rbe fixed", "q8_0", ...
    QString label;          // tooltip: the run's settings
    double bitsPerWeight = 0;
    double validationLoss = 0;
  };

  explicit RdChart(QWidget* parent = nullptr);

  void addRun(const Run& run);
  void setReferenceLoss(std::optional<double> loss);  // the original model's; nullopt hides it
  std::optional<double> referenceLoss() const { return reference_; }
  void clearRuns();
  const std::vector<Run>& runs() const { return runs_; }
  int pointCount() const;  // points drawn (for tests)

 private:
  void rebuild();
  std::vector<Run> runs_;
  std::optional<double> reference_;
};
