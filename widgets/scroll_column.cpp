#include "scroll_column.h"

#include <QFrame>
#include <QScrollArea>

QScrollArea* makeScrollColumn(QWidget* column, QWidget* parent) {
  auto* scroll = new QScrollArea(parent);
  scroll->setWidget(column);
  scroll->setWidgetResizable(true);
  scroll->setFrameShape(QFrame::NoFrame);
  scroll->setMinimumWidth(column->sizeHint().width() + 20);
  return scroll;
}
