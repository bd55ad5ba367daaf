#pragma once
// Relative RMSE per transformer layer, one bar set per tensor kind
// (attn.c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj, ...): where in the depth of
// the model compression hurts. Tensors outside the layers (wte, lm_head) form
// a last category, "other".
#include <QChartView>
#include <QStringList>
#include <memory>

#include "codec/model_codec.h"

class LayerErrorChart : public QChartView {
  Q_OBJECT
 public:
  explicit LayerErrorChart(QWidget* parent = nullptr);

  void setCompression(const rbe::codec::CompressedModel* cm);  // null clears
  int barSetCount() const;
  QStringList categories() const { return categories_; }

  // "h.3.mlp.c_fc.weight" -> layer 3, kind "mlp.c_fc"; -1 and the name without
  // ".weight" for tensors outside the layers.
  static std::pair<int, QString> splitName(const QString& name);

 private:
  QStringList categories_;
};
