#include "workers/background.h"

#include <QCoreApplication>
#include <QPointer>
#include <QThread>
#include <algorithm>

namespace workbench {

QThreadPool* jobPool() {
  // A child of the application, so that quitting waits for running jobs
  // instead of tearing the engine down under them.
  static QPointer<QThreadPool> pool;
  if (!pool) {
    pool = new QThreadPool(QCoreApplication::instance());
    pool->setMaxThreadCount(std::max(4, 2 * QThread::idealThreadCount()));
  }
  return pool;
}

}  // namespace workbench
