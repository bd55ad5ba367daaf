#pragma once
// Per-layer overrides: an editable table of tensor-name pattern -> codec
// settings (codec, storage, target, block size). The first matching row wins;
// empty cells inherit the defaults. Patterns are globs ("h.*.mlp.*").
#include <QTableWidget>
#include <optional>
#include <vector>

#include "codec/model_codec.h"

class QSettings;

class CodecOverrideTable : public QTableWidget {
  Q_OBJECT
 public:
  enum Column { Pattern = 0, Codec, Storage, Target, BlockSize, ColumnCount };

  explicit CodecOverrideTable(QWidget* parent = nullptr);

  // Appends a row; the pattern defaults to "h.*.mlp.*".
  void addOverride(const QString& pattern = {}, const QString& codec = {}, const QString& storage = {},
                   const QString& target = {}, const QString& blockSize = {});
  void removeSelected();

  // The rows as overrides of `defaults`; nullopt with *error naming the row
  // and cell when a cell cannot be read.
  std::optional<std::vector<rbe::codec::TensorOverride>> overrides(const rbe::codec::CodecSettings& defaults,
                                                                   QString* error) const;

  void save(QSettings& settings, const QString& group) const;
  void restore(QSettings& settings, const QString& group);

 private:
  QString cellText(int row, int column) const;
};
