#pragma once
// Live training and validation loss against the step (Qt Charts line series);
// the axes grow with the data. Points are collected and drawn in batches (at
// most every 50 ms) with QXYSeries::replace: appending point by point makes a
// series rebuild its whole path per point, O(steps^2). Beyond kMaxDrawn points
// a series shows bucket means, so long runs stay cheap to draw.
#include <QChartView>
#include <QList>
#include <QPointF>
#include <QTimer>
#include <optional>

class QLineSeries;
class QValueAxis;

class LossChart : public QChartView {
  Q_OBJECT
 public:
  static constexpr int kMaxDrawn = 2000;

  explicit LossChart(QWidget* parent = nullptr);

  void clear();
  void addTrainLoss(double step, double loss);
  void addValidationLoss(double step, double loss);
  void flush();  // draws the points received so far now
  int trainPointCount() const { return int(train_points_.size()); }  // received (drawn or pending)
  int validationPointCount() const { return int(val_points_.size()); }
  std::optional<double> lastValidationLoss() const;
  QLineSeries* trainSeries() const { return train_; }
  QLineSeries* validationSeries() const { return val_; }

 private:
  void schedule();
  QList<QPointF> train_points_, val_points_;
  QTimer flushTimer_;
  QLineSeries* train_;
  QLineSeries* val_;
  QValueAxis* x_;
  QValueAxis* y_;
  double maxStep_ = 1, minLoss_ = 0, maxLoss_ = 0;
  bool empty_ = true;
};
