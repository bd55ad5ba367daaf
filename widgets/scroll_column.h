#pragma once
// A panel's settings column in a frameless scroll area that is never narrower
// than the column itself (so forms do not squeeze when the window is small).
class QScrollArea;
class QWidget;

QScrollArea* makeScrollColumn(QWidget* column, QWidget* parent);
