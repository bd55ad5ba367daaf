#include "chat_output_pane.h"

#include <QLabel>
#include <QPlainTextEdit>
#include <QScrollBar>
#include <QTextCursor>
#include <QVBoxLayout>

ChatOutputPane::ChatOutputPane(const QString& title, QWidget* parent)
    : QWidget(parent), title_(new QLabel(title, this)), text_(new QPlainTextEdit(this)), status_(new QLabel(this)) {
  QFont bold = title_->font();
  bold.setBold(true);
  title_->setFont(bold);
  text_->setReadOnly(true);
  text_->setLineWrapMode(QPlainTextEdit::WidgetWidth);
  status_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  status_->setWordWrap(true);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addWidget(title_);
  layout->addWidget(text_, 1);
  layout->addWidget(status_);
}

void ChatOutputPane::begin(const QString& prompt) {
  text_->clear();
  text_->setEnabled(true);
  generated_.clear();
  QTextCursor c(text_->document());
  QTextCharFormat promptFormat;
  promptFormat.setFontWeight(QFont::Bold);
  c.insertText(prompt, promptFormat);
  status_->clear();
}

void ChatOutputPane::append(const QString& text) {
  generated_ += text;
  QScrollBar* bar = text_->verticalScrollBar();
  const bool atEnd = bar->value() == bar->maximum();
  QTextCursor c(text_->document());
  c.movePosition(QTextCursor::End);
  c.insertText(text, QTextCharFormat());
  if (atEnd) bar->setValue(bar->maximum());  // follow the stream unless the user scrolled up
}

void ChatOutputPane::setStatus(const QString& text) { status_->setText(text); }

QString ChatOutputPane::statusText() const { return status_->text(); }

void ChatOutputPane::setNote(const QString& text) {
  text_->setPlainText(text);
  text_->setEnabled(false);
  generated_.clear();
  status_->clear();
}
