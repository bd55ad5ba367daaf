#include "layer_error_chart.h"

#include <QBarCategoryAxis>
#include <QBarSeries>
#include <QBarSet>
#include <QChart>
#include <QRegularExpression>
#include <QValueAxis>
#include <map>

LayerErrorChart::LayerErrorChart(QWidget* parent) : QChartView(parent) {
  setRenderHint(QPainter::Antialiasing);
  setMinimumHeight(180);
  setCompression(nullptr);
}

std::pair<int, QString> LayerErrorChart::splitName(const QString& name) {
  static const QRegularExpression re(QStringLiteral(R"((?:^|\.)h\.(\d+)\.(.+?)(?:\.weight)?$)"));
  const auto m = re.match(name);
  if (m.hasMatch()) return {m.captured(1).toInt(), m.captured(2)};
  QString kind = name;
  if (kind.endsWith(QStringLiteral(".weight"))) kind.chop(7);
  return {-1, kind};
}

int LayerErrorChart::barSetCount() const {
  int n = 0;
  for (auto* s : chart()->series())
    if (auto* bars = qobject_cast<QBarSeries*>(s)) n += bars->count();
  return n;
}

void LayerErrorChart::setCompression(const rbe::codec::CompressedModel* cm) {
  auto* c = new QChart();
  c->setTitle(tr("Relative RMSE per layer"));
  c->setTheme(palette().color(QPalette::Window).lightness() < 128 ? QChart::ChartThemeDark : QChart::ChartThemeLight);
  c->setBackgroundVisible(false);
  c->legend()->setAlignment(Qt::AlignBottom);
  categories_.clear();
  if (cm && !cm->encoded.empty()) {
    // kind -> layer (-1 = other) -> rel. RMSE
    std::map<QString, std::map<int, double>> values;
    int layers = 0;
    bool other = false;
    for (const auto& [name, e] : cm->encoded) {
      auto [layer, kind] = splitName(QString::fromStdString(name));
      if (layer < 0) {
        values[tr("other: %1").arg(kind)][-1] = e->meta.rel_rmse;
        other = true;
      } else {
        values[kind][layer] = e->meta.rel_rmse;
        layers = std::max(layers, layer + 1);
      }
    }
    for (int l = 0; l < layers; ++l) categories_ << QString::number(l);
    if (other) categories_ << tr("other");
    auto* series = new QBarSeries();
    double top = 0;
    for (const auto& [kind, byLayer] : values) {
      auto* set = new QBarSet(kind);
      for (int l = 0; l < layers; ++l) {
        const auto it = byLayer.find(l);
        *set << (it == byLayer.end() ? 0.0 : it->second);
      }
      if (other) *set << (byLayer.count(-1) ? byLayer.at(-1) : 0.0);
      for (int i = 0; i < set->count(); ++i) top = std::max(top, set->at(i));
      series->append(set);
    }
    c->addSeries(series);
    auto* x = new QBarCategoryAxis();
    x->append(categories_);
    x->setTitleText(tr("Layer"));
    auto* y = new QValueAxis();
    y->setRange(0, top > 0 ? top * 1.1 : 1.0);
    y->setTitleText(tr("Relative RMSE"));
    y->setLabelFormat(QStringLiteral("%.3g"));
    c->addAxis(x, Qt::AlignBottom);
    c->addAxis(y, Qt::AlignLeft);
    series->attachAxis(x);
    series->attachAxis(y);
  } else {
    c->setTitle(tr("Relative RMSE per layer (compress the model to see it)"));
  }
  QChart* old = chart();
  setChart(c);
  delete old;
}
