//! [`UpdateDriver`]: how a worker feeds its [`ConsumerUpdater`] without waiting for it. The
//! worker submits each accepted partition list; one task applies them in order, and a list
//! submitted while an update is still running supersedes it (the running update is dropped,
//! the newest list is applied next). A graceful stop closes the updater; dropping the driver
//! without closing it (a killed worker) aborts the updater's tasks at once.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::task::AbortOnDropHandle;

use super::{ConsumerError, ConsumerUpdater};
use crate::parti::partition::Partition;

/// Feeds partition lists to an updater, latest wins. See the module documentation.
pub struct UpdateDriver {
    updater: Arc<dyn ConsumerUpdater>,
    latest: watch::Sender<Option<Arc<Vec<Partition>>>>,
    task: Option<AbortOnDropHandle<()>>,
    closed: bool,
}

impl UpdateDriver {
    /// Starts the driver task for `worker_id`; failed updates go to `on_error`
    /// (superseded ones do not).
    pub fn spawn(
        updater: Arc<dyn ConsumerUpdater>,
        worker_id: String,
        on_error: impl Fn(ConsumerError) + Send + Sync + 'static,
    ) -> Self {
        let (latest, mut rx) = watch::channel::<Option<Arc<Vec<Partition>>>>(None);
        let task = {
            let updater = updater.clone();
            tokio::spawn(async move {
                while rx.changed().await.is_ok() {
                    loop {
                        let Some(partitions) = rx.borrow_and_update().clone() else {
                            break;
                        };
                        tokio::select! {
                            result = updater.update(&worker_id, &partitions) => {
                                match result {
                                    Ok(()) | Err(ConsumerError::Superseded | ConsumerError::Closed) => {}
                                    Err(err) => on_error(err),
                                }
                                break;
                            }
                            changed = rx.changed() => {
                                if changed.is_err() {
                                    return;
                                }
                                // A newer list supersedes the running update: apply it next.
                            }
                        }
                    }
                }
            })
        };
        Self {
            updater,
            latest,
            task: Some(AbortOnDropHandle::new(task)),
            closed: false,
        }
    }

    /// Submit the worker's full partition list; returns at once.
    pub fn submit(&self, partitions: Vec<Partition>) {
        self.latest.send_replace(Some(Arc::new(partitions)));
    }

    /// Graceful stop: drop any running update, then close the updater within `budget`.
    pub async fn close(mut self, budget: Duration) {
        self.closed = true;
        if let Some(task) = self.task.take() {
            task.abort();
        }
        if tokio::time::timeout(budget, self.updater.close())
            .await
            .is_err()
        {
            tracing::warn!("the consumer did not close within {budget:?}; aborted");
            self.updater.abort();
        }
    }
}

impl Drop for UpdateDriver {
    fn drop(&mut self) {
        if !self.closed {
            self.updater.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parti::consumer::ConsumerFuture;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, Ordering};
    use tokio::sync::Notify;

    /// Records the lists it is given; updates block until released.
    #[derive(Default)]
    struct Recorder {
        started: Mutex<Vec<usize>>,
        finished: Mutex<Vec<usize>>,
        release: Notify,
        closed: AtomicBool,
        aborted: AtomicBool,
    }

    impl ConsumerUpdater for Recorder {
        fn update<'a>(
            &'a self,
            _worker: &'a str,
            partitions: &'a [Partition],
        ) -> ConsumerFuture<'a> {
            Box::pin(async move {
                self.started.lock().expect("lock").push(partitions.len());
                self.release.notified().await;
                self.finished.lock().expect("lock").push(partitions.len());
                Ok(())
            })
        }

        fn close<'a>(&'a self) -> ConsumerFuture<'a> {
            Box::pin(async move {
                self.closed.store(true, Ordering::SeqCst);
                Ok(())
            })
        }

        fn abort(&self) {
            self.aborted.store(true, Ordering::SeqCst);
        }
    }

    fn parts(n: usize) -> Vec<Partition> {
        (0..n)
            .map(|i| Partition::new([format!("p{i}")], 0))
            .collect()
    }

    async fn settle() {
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn newer_lists_supersede_a_running_update_and_the_latest_wins() {
        let recorder = Arc::new(Recorder::default());
        let driver = UpdateDriver::spawn(recorder.clone(), "w".into(), |_| {});
        driver.submit(parts(1));
        settle().await;
        assert_eq!(*recorder.started.lock().expect("lock"), vec![1]);
        // Two more while the first is stuck: the first is dropped, 2 is skipped, 3 runs.
        driver.submit(parts(2));
        driver.submit(parts(3));
        settle().await;
        recorder.release.notify_waiters();
        settle().await;
        assert_eq!(*recorder.started.lock().expect("lock"), vec![1, 3]);
        assert_eq!(*recorder.finished.lock().expect("lock"), vec![3]);
        driver.close(Duration::from_secs(1)).await;
        assert!(recorder.closed.load(Ordering::SeqCst));
        assert!(
            !recorder.aborted.load(Ordering::SeqCst),
            "a graceful close does not abort"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn dropping_without_close_aborts_the_updater() {
        let recorder = Arc::new(Recorder::default());
        let driver = UpdateDriver::spawn(recorder.clone(), "w".into(), |_| {});
        driver.submit(parts(1));
        settle().await;
        drop(driver);
        assert!(recorder.aborted.load(Ordering::SeqCst));
        assert!(!recorder.closed.load(Ordering::SeqCst));
    }

    #[tokio::test(start_paused = true)]
    async fn failed_updates_are_reported_superseded_ones_are_not() {
        struct Failing;
        impl ConsumerUpdater for Failing {
            fn update<'a>(&'a self, _w: &'a str, p: &'a [Partition]) -> ConsumerFuture<'a> {
                let err = if p.is_empty() {
                    ConsumerError::Superseded
                } else {
                    ConsumerError::EmptyPartition
                };
                Box::pin(async move { Err(err) })
            }
            fn close<'a>(&'a self) -> ConsumerFuture<'a> {
                Box::pin(async { Ok(()) })
            }
            fn abort(&self) {}
        }
        let errors = Arc::new(Mutex::new(Vec::new()));
        let sink = errors.clone();
        let driver = UpdateDriver::spawn(Arc::new(Failing), "w".into(), move |e| {
            sink.lock().expect("lock").push(e);
        });
        driver.submit(parts(0));
        settle().await;
        driver.submit(parts(1));
        settle().await;
        assert_eq!(
            *errors.lock().expect("lock"),
            vec![ConsumerError::EmptyPartition]
        );
    }
}
