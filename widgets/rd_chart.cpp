#include "rd_chart.h"

#include <QChart>
#include <QCursor>
#include <QLineSeries>
#include <QScatterSeries>
#include <QToolTip>
#include <QValueAxis>
#include <algorithm>
#include <map>

RdChart::RdChart(QWidget* parent) : QChartView(parent) {
  setRenderHint(QPainter::Antialiasing);
  setMinimumHeight(180);
  rebuild();
}

void RdChart::addRun(const Run& run) {
  runs_.push_back(run);
  rebuild();
}

void RdChart::setReferenceLoss(std::optional<double> loss) {
  reference_ = loss;
  rebuild();
}

void RdChart::clearRuns() {
  runs_.clear();
  rebuild();
}

int RdChart::pointCount() const {
  int n = 0;
  for (auto* s : chart()->series())
    if (auto* sc = qobject_cast<QScatterSeries*>(s)) n += sc->count();
  return n;
}

void RdChart::rebuild() {
  auto* c = new QChart();
  c->setTheme(palette().color(QPalette::Window).lightness() < 128 ? QChart::ChartThemeDark : QChart::ChartThemeLight);
  c->setBackgroundVisible(false);
  c->legend()->setAlignment(Qt::AlignBottom);
  c->setTitle(runs_.empty() ? tr("Rate–distortion (needs a validation text)") : tr("Rate–distortion of this session's runs"));
  auto* x = new QValueAxis();
  auto* y = new QValueAxis();
  x->setTitleText(tr("Bits per weight (all parameters)"));
  y->setTitleText(tr("Validation loss (nats/token)"));
  c->addAxis(x, Qt::AlignBottom);
  c->addAxis(y, Qt::AlignLeft);

  double x0 = 0, x1 = 9, y0 = 0, y1 = 1;
  if (!runs_.empty() || reference_) {
    x0 = 1e9, x1 = -1e9, y0 = 1e9, y1 = -1e9;
    for (const Run& r : runs_) {
      x0 = std::min(x0, r.bitsPerWeight), x1 = std::max(x1, r.bitsPerWeight);
      y0 = std::min(y0, r.validationLoss), y1 = std::max(y1, r.validationLoss);
    }
    if (reference_) y0 = std::min(y0, *reference_), y1 = std::max(y1, *reference_);
    if (runs_.empty()) x0 = 0, x1 = 9;
    const double px = std::max(0.25, (x1 - x0) * 0.1), py = std::max(0.005, (y1 - y0) * 0.1);
    x0 = std::max(0.0, x0 - px), x1 += px, y0 -= py, y1 += py;
  }
  x->setRange(x0, x1);
  y->setRange(y0, y1);

  if (reference_) {
    auto* ref = new QLineSeries();
    ref->setName(tr("original model"));
    QPen pen(palette().color(QPalette::WindowText));
    pen.setStyle(Qt::DashLine);
    ref->setPen(pen);
    ref->append(x0, *reference_);
    ref->append(x1, *reference_);
    c->addSeries(ref);
    ref->attachAxis(x);
    ref->attachAxis(y);
  }
  std::map<QString, QScatterSeries*> byCodec;
  for (const Run& r : runs_) {
    QScatterSeries*& s = byCodec[r.codec];
    if (!s) {
      s = new QScatterSeries();
      s->setName(r.codec);
      s->setMarkerSize(10);
      c->addSeries(s);
      s->attachAxis(x);
      s->attachAxis(y);
      connect(s, &QScatterSeries::hovered, this, [this, s](const QPointF& p, bool on) {
        if (!on) return QToolTip::hideText();
        for (const Run& run : runs_)
          if (run.codec == s->name() && qFuzzyCompare(run.bitsPerWeight, p.x()) && qFuzzyCompare(run.validationLoss, p.y()))
            return QToolTip::showText(QCursor::pos(), tr("%1\n%2 bits/weight, validation loss %3")
                                                          .arg(run.label)
                                                          .arg(run.bitsPerWeight, 0, 'f', 3)
                                                          .arg(run.validationLoss, 0, 'f', 4));
      });
    }
    s->append(r.bitsPerWeight, r.validationLoss);
  }
  QChart* old = chart();
  setChart(c);
  delete old;
}
