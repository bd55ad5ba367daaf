#pragma once
// The Model panel: what the opened model is (architecture, size, types,
// tokenizer) and its tensors as a tree, with compression results per tensor.
#include <QWidget>

class QLabel;
class QTreeView;
class TensorTreeModel;
class WorkbenchContext;

class ModelPanel : public QWidget {
  Q_OBJECT
 public:
  explicit ModelPanel(WorkbenchContext* ctx, QWidget* parent = nullptr);

  TensorTreeModel* tensorModel() const { return tree_; }
  QTreeView* tensorView() const { return view_; }

 private slots:
  void refresh();

 private:
  QLabel* addField(class QFormLayout* form, const QString& label);

  WorkbenchContext* ctx_;
  TensorTreeModel* tree_;
  QTreeView* view_;
  QLabel* path_;
  QLabel* format_;
  QLabel* architecture_;
  QLabel* parameters_;
  QLabel* disk_;
  QLabel* memory_;
  QLabel* dtypes_;
  QLabel* tokenizer_;
  QLabel* compression_;
};
