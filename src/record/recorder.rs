//! The recorder: one task that subscribes to the observation broadcast, files every observation
//! into a [`Recording`], autosaves it atomically while the run goes on, and writes the final file
//! with its summary when the run ends.
//!
//! Contract:
//! - The producer never waits for the recorder: the broadcast channel has a fixed capacity, and
//!   observations a slow recorder missed (`RecvError::Lagged(n)`) are counted, not waited for;
//!   the count reaches the summary's `dropped_observations`.
//! - Every observation sent before [`Recorder::finish`] is called (sent by the caller, or by a
//!   task the caller has synchronised with) is in the final recording or in that count:
//!   `finish` signals the task, which then drains the channel until it reports `Empty` or
//!   `Closed` before handing the recording back. Observations sent after `finish` was called
//!   may or may not be included.
//! - An autosave runs at most every `autosave` and only when something new arrived; it holds
//!   `summary: None`. Autosaves rewrite the whole file, so their cost grows with the run: after
//!   an autosave that took `d` (copy and write), the next one waits at least
//!   `d × AUTOSAVE_SPACING`, which keeps autosaving under 1 % of one core however long the
//!   session gets (at the price of autosaves further apart, never more than five minutes). The write happens on the blocking pool, one at a time, and the final
//!   write waits for any autosave in flight, so the final file is never replaced by a stale one.
//! - A recorder dropped without `finish` drains what it can, saves a last partial recording and
//!   ends.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::format::{Header, Recording};
use super::io::{RecordError, save_atomic};
use super::summary::Summary;
use crate::observation::Observation;

/// What the recorder task hands back.
struct Collected {
    recording: Recording,
    dropped: u64,
}

/// A running recorder; see the module documentation for its contract.
#[derive(Debug)]
pub struct Recorder {
    path: PathBuf,
    close: Option<oneshot::Sender<()>>,
    task: JoinHandle<Collected>,
}

impl std::fmt::Debug for Collected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collected")
            .field("dropped", &self.dropped)
            .finish_non_exhaustive()
    }
}

impl Recorder {
    /// Start recording into `path` what `receiver` delivers. Must be called inside a tokio
    /// runtime.
    pub fn spawn(
        header: Header,
        path: PathBuf,
        receiver: broadcast::Receiver<Observation>,
        autosave: Duration,
    ) -> Recorder {
        let (close, closed) = oneshot::channel();
        let task = tokio::spawn(run(
            Recording::new(header),
            path.clone(),
            receiver,
            autosave,
            closed,
        ));
        Recorder {
            path,
            close: Some(close),
            task,
        }
    }

    /// The file the recording goes to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stop recording: drain the channel, compute the summary with `summary_fn` (given the
    /// recording, which it may complete, and the number of observations the recorder missed), write the final file and
    /// return it with the recording.
    pub async fn finish(
        self,
        summary_fn: impl FnOnce(&mut Recording, u64) -> Summary,
    ) -> Result<(PathBuf, Recording), RecordError> {
        let finished = self.finish_keeping(summary_fn).await?;
        finished.saved?;
        Ok((finished.path, finished.recording))
    }

    /// [`Self::finish`], but the recording and its summary come back even when the final write
    /// failed (an output that cannot be written must not take the summary with it).
    pub async fn finish_keeping(
        mut self,
        summary_fn: impl FnOnce(&mut Recording, u64) -> Summary,
    ) -> Result<Finished, RecordError> {
        if let Some(close) = self.close.take() {
            // The task may already have ended (panicked); the join below reports that.
            let _ = close.send(());
        }
        let collected = (&mut self.task)
            .await
            .map_err(|err| RecordError::Recorder {
                path: self.path.clone(),
                message: err.to_string(),
            })?;
        let mut recording = collected.recording;
        recording.summary = Some(summary_fn(&mut recording, collected.dropped));
        let path = self.path.clone();
        let (recording, saved) = tokio::task::spawn_blocking(move || {
            let saved = save_atomic(&recording, &path);
            (recording, saved)
        })
        .await
        .map_err(|err| RecordError::Recorder {
            path: self.path.clone(),
            message: err.to_string(),
        })?;
        Ok(Finished {
            path: self.path.clone(),
            recording,
            saved,
        })
    }
}

/// A finished recording: where it was meant to go, what it holds, whether it was written.
pub struct Finished {
    pub path: PathBuf,
    pub recording: Recording,
    pub saved: Result<(), RecordError>,
}

/// A save running on the blocking pool; it reports how long the write took.
type SaveTask = JoinHandle<(Result<(), RecordError>, Duration)>;

/// Autosaves are spaced at least this many times their own duration apart.
const AUTOSAVE_SPACING: u32 = 100;

async fn run(
    mut recording: Recording,
    path: PathBuf,
    mut receiver: broadcast::Receiver<Observation>,
    autosave: Duration,
    mut closed: oneshot::Receiver<()>,
) -> Collected {
    let autosave = autosave.max(Duration::from_millis(1));
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + autosave, autosave);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut dropped: u64 = 0;
    let mut changed = false;
    let mut open = true;
    let mut saving: Option<SaveTask> = None;
    // When the save in flight (or the last one) started, and how long copying the recording took.
    let mut save_started = tokio::time::Instant::now();
    let mut copy_time = Duration::ZERO;
    let mut next_save_at = save_started;
    let finished = loop {
        tokio::select! {
            received = receiver.recv(), if open => match received {
                Ok(observation) => {
                    recording.push(observation);
                    changed = true;
                }
                Err(RecvError::Lagged(missed)) => dropped = dropped.saturating_add(missed),
                Err(RecvError::Closed) => open = false,
            },
            _ = ticker.tick() => {
                if saving.as_ref().is_some_and(JoinHandle::is_finished)
                    && let Some(previous) = saving.take()
                {
                    let cost = copy_time + report(previous.await);
                    next_save_at = save_started + autosave_gap(cost, autosave);
                }
                if changed && saving.is_none() && tokio::time::Instant::now() >= next_save_at {
                    save_started = tokio::time::Instant::now();
                    let copy = recording.clone();
                    copy_time = save_started.elapsed();
                    saving = Some(spawn_save(copy, path.clone()));
                    changed = false;
                }
            },
            signal = &mut closed => break signal.is_ok(),
        }
    };
    loop {
        match receiver.try_recv() {
            Ok(observation) => {
                recording.push(observation);
                changed = true;
            }
            Err(TryRecvError::Lagged(missed)) => dropped = dropped.saturating_add(missed),
            Err(TryRecvError::Empty | TryRecvError::Closed) => break,
        }
    }
    if let Some(previous) = saving.take() {
        report(previous.await);
    }
    if !finished && changed {
        // Dropped without `finish`: keep what arrived, as a partial recording.
        report(spawn_save(recording.clone(), path).await);
    }
    Collected { recording, dropped }
}

/// Autosaves are never further apart than this: at most this much of a run is lost to a crash.
const MAX_AUTOSAVE_GAP: Duration = Duration::from_secs(300);

/// How long after the start of an autosave that cost `cost` the next one may start.
fn autosave_gap(cost: Duration, autosave: Duration) -> Duration {
    cost.saturating_mul(AUTOSAVE_SPACING)
        .min(MAX_AUTOSAVE_GAP)
        .max(autosave)
}

fn spawn_save(recording: Recording, path: PathBuf) -> SaveTask {
    tokio::task::spawn_blocking(move || {
        let started = std::time::Instant::now();
        let saved = save_atomic(&recording, &path);
        (saved, started.elapsed())
    })
}

/// Log a failed save; return how long the save took.
fn report(
    outcome: Result<(Result<(), RecordError>, Duration), tokio::task::JoinError>,
) -> Duration {
    match outcome {
        Ok((Ok(()), took)) => took,
        Ok((Err(err), took)) => {
            tracing::warn!("autosave failed: {err}");
            took
        }
        Err(err) => {
            tracing::warn!("autosave task failed: {err}");
            Duration::ZERO
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn autosaves_that_get_slow_are_spaced_out() {
        let every = Duration::from_secs(2);
        assert_eq!(autosave_gap(Duration::from_millis(10), every), every);
        assert_eq!(
            autosave_gap(Duration::from_millis(100), every),
            Duration::from_secs(10),
            "a 100 ms save may take at most 1 % of a core"
        );
        assert_eq!(autosave_gap(Duration::MAX, every), MAX_AUTOSAVE_GAP);
    }
}
