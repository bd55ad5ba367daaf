#pragma once
// Runs engine work off the GUI thread and hands the result back on it.
#include <QFutureWatcher>
#include <QObject>
#include <QThreadPool>
#include <QtConcurrent/QtConcurrentRun>
#include <type_traits>
#include <utility>

namespace workbench {

// The pool every workbench job runs on. Jobs mostly wait on the engine's own
// oneTBB workers, so a few more threads than cores keep a long load from
// queueing a generation behind it.
QThreadPool* jobPool();

// Calls work() on jobPool(), then done(result) on `owner`'s thread. If owner is
// destroyed first, the result is dropped (the work still runs to its end).
// work must not throw: return errors in the result.
template <class Work, class Done>
void runInBackground(QObject* owner, Work work, Done done) {
  using Result = std::invoke_result_t<Work>;
  auto* watcher = new QFutureWatcher<Result>(owner);
  QObject::connect(watcher, &QFutureWatcherBase::finished, owner, [watcher, done = std::move(done)]() mutable {
    done(watcher->result());
    watcher->deleteLater();
  });
  watcher->setFuture(QtConcurrent::run(jobPool(), std::move(work)));
}

}  // namespace workbench
