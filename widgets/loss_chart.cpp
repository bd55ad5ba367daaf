#include "loss_chart.h"

#include <QChart>
#include <QLineSeries>
#include <QValueAxis>
#include <algorithm>

LossChart::LossChart(QWidget* parent) : QChartView(parent) {
  setRenderHint(QPainter::Antialiasing);
  setMinimumHeight(200);
  auto* c = new QChart();
  c->setTheme(palette().color(QPalette::Window).lightness() < 128 ? QChart::ChartThemeDark : QChart::ChartThemeLight);
  c->setBackgroundVisible(false);
  c->setTitle(tr("Loss"));
  c->legend()->setAlignment(Qt::AlignBottom);
  train_ = new QLineSeries();
  train_->setName(tr("training loss"));
  val_ = new QLineSeries();
  val_->setName(tr("validation loss"));
  val_->setPointsVisible(true);
  x_ = new QValueAxis();
  y_ = new QValueAxis();
  x_->setTitleText(tr("Step"));
  x_->setLabelFormat(QStringLiteral("%d"));
  y_->setTitleText(tr("Loss (nats/token)"));
  c->addAxis(x_, Qt::AlignBottom);
  c->addAxis(y_, Qt::AlignLeft);
  for (auto* s : {train_, val_}) {
    c->addSeries(s);
    s->attachAxis(x_);
    s->attachAxis(y_);
  }
  QChart* old = chart();
  setChart(c);
  delete old;
  flushTimer_.setSingleShot(true);
  flushTimer_.setInterval(50);
  connect(&flushTimer_, &QTimer::timeout, this, &LossChart::flush);
  clear();
}

namespace {

// At most LossChart::kMaxDrawn points: consecutive buckets averaged, each at its last step.
QList<QPointF> decimated(const QList<QPointF>& points) {
  const qsizetype n = points.size(), per = (n + LossChart::kMaxDrawn - 1) / LossChart::kMaxDrawn;
  if (per <= 1) return points;
  QList<QPointF> out;
  out.reserve(n / per + 1);
  for (qsizetype b = 0; b < n; b += per) {
    const qsizetype e = std::min(n, b + per);
    double sum = 0;
    for (qsizetype i = b; i < e; ++i) sum += points[i].y();
    out.append(QPointF(points[e - 1].x(), sum / double(e - b)));
  }
  return out;
}

}  // namespace

void LossChart::flush() {
  flushTimer_.stop();
  // Axes first (a range change re-lays out every point), then one replace per series.
  const double pad = std::max(0.01, (maxLoss_ - minLoss_) * 0.05);
  x_->setRange(0, std::max(1.0, maxStep_));
  y_->setRange(empty_ ? 0.0 : std::max(0.0, minLoss_ - pad), empty_ ? 1.0 : maxLoss_ + pad);
  train_->replace(decimated(train_points_));
  val_->replace(decimated(val_points_));
}

std::optional<double> LossChart::lastValidationLoss() const {
  if (val_points_.isEmpty()) return std::nullopt;
  return val_points_.back().y();
}

void LossChart::clear() {
  flushTimer_.stop();
  train_points_.clear();
  val_points_.clear();
  empty_ = true;
  maxStep_ = 1;
  flush();
}

void LossChart::schedule() {
  if (!flushTimer_.isActive()) flushTimer_.start();
}

void LossChart::addTrainLoss(double step, double loss) {
  train_points_.append(QPointF(step, loss));
  maxStep_ = std::max(maxStep_, step);
  minLoss_ = empty_ ? loss : std::min(minLoss_, loss);
  maxLoss_ = empty_ ? loss : std::max(maxLoss_, loss);
  empty_ = false;
  schedule();
}

void LossChart::addValidationLoss(double step, double loss) {
  val_points_.append(QPointF(step, loss));
  maxStep_ = std::max(maxStep_, step);
  minLoss_ = empty_ ? loss : std::min(minLoss_, loss);
  maxLoss_ = empty_ ? loss : std::max(maxLoss_, loss);
  empty_ = false;
  schedule();
}
