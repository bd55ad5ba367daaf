#pragma once
// One side of the chat panel: a model's streamed text and its run statistics.
#include <QWidget>

class QLabel;
class QPlainTextEdit;

class ChatOutputPane : public QWidget {
  Q_OBJECT
 public:
  explicit ChatOutputPane(const QString& title, QWidget* parent = nullptr);

  void begin(const QString& prompt);  // clears, shows the prompt in bold
  void append(const QString& text);   // streamed text, as it comes
  void setStatus(const QString& text);
  void setNote(const QString& text);  // replaces the text area's content with a hint (greyed)
  QString generatedText() const { return generated_; }
  QString statusText() const;
  QPlainTextEdit* textView() const { return text_; }

 private:
  QLabel* title_;
  QPlainTextEdit* text_;
  QLabel* status_;
  QString generated_;
};
