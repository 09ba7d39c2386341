//! The message load of a run, controller side (docs/load.md): the work stream, the ledger
//! service the producers and hosts report to, the producer processes, the partitions' owners as
//! the assignment keys change (for the zombie check), the samples' load counters, and at the
//! end the drain and the ledger's figures.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_nats::jetstream;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::task::AbortOnDropHandle;
use tracing::{info, warn};

use super::hosts::{HostProcess, Role};
use crate::control::{Bootstrap, HostWork};
use crate::load::ledger::{Ledger, LedgerSummary};
use crate::load::producer::{ProducerJob, unix_us};
use crate::load::report::{ledger_subject, serve_ledger};
use crate::load::spec::LoadSpec;
use crate::load::stream::{ensure_work_stream_for, stored_messages};
use crate::load::zombie::{Ownership, zombie_acks};
use crate::measure::model::{BucketRole, KvChange};
use crate::observation::{LoadPoint, Measurement};
use crate::parti::assignment::Assignment;
use crate::parti::config::Timing;
use crate::parti::partition::Partition;
use crate::record::summary::{EventLoad, LoadFigures};

/// How long producers may take to stop and flush their reports.
const PRODUCER_STOP_GRACE: Duration = Duration::from_secs(30);
/// An empty work stream counts as drained after this long (the hosts' last reports arrive).
const EMPTY_STREAM_SETTLE: Duration = Duration::from_secs(1);
/// How often the drain looks at the ledger.
const DRAIN_POLL: Duration = Duration::from_millis(100);
/// The most stored messages read back after the drain (more is reported as unknown).
const STORED_LIMIT: u64 = 100_000;
/// Zombies listed in the figures (all are counted).
const ZOMBIES_KEPT: usize = 20;

/// The load of one run.
pub struct LoadRun {
    spec: LoadSpec,
    stream: String,
    js: jetstream::Context,
    ledger: Arc<Mutex<Ledger>>,
    ownership: Arc<Mutex<Ownership>>,
    index: HashMap<Vec<String>, u32>,
    producers: tokio::sync::Mutex<Vec<HostProcess>>,
    /// Unix µs of run time 0 (events are in run milliseconds, the ledger in Unix µs).
    epoch_unix_us: u64,
    grace_us: u64,
    _service: AbortOnDropHandle<()>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl LoadRun {
    /// Create the work stream (`replicas` copies) and serve the ledger on `control`. The
    /// subjects are namespaced by the run, so runs sharing an external server never meet.
    pub async fn start(
        control: &async_nats::Client,
        run_id: &str,
        spec: &LoadSpec,
        partitions: &[Partition],
        replicas: usize,
        run_ms_now: u64,
        timing: &Timing,
    ) -> Result<LoadRun, String> {
        let mut spec = spec.clone();
        spec.subject_template = format!("ptw.{run_id}.{}", spec.subject_template);
        let stream = format!("PARTI_TOP_WORK_{run_id}");
        let js = jetstream::new(control.clone());
        // One consumer per partition, and room for a worker's idle or leftover ones.
        ensure_work_stream_for(
            &js,
            &stream,
            vec![spec.stream_subjects()],
            replicas,
            partitions.len() + 256,
        )
        .await
        .map_err(|err| format!("cannot create the work stream {stream}: {err}"))?;
        let ledger = Arc::new(Mutex::new(Ledger::new()));
        let service = serve_ledger(control, &ledger_subject(run_id), ledger.clone())
            .await
            .map_err(|err| format!("cannot serve the ledger: {err}"))?;
        let index = partitions
            .iter()
            .enumerate()
            .map(|(i, p)| (p.keys.clone(), u32::try_from(i).unwrap_or(u32::MAX)))
            .collect();
        let run_us = run_ms_now.saturating_mul(1_000);
        Ok(LoadRun {
            spec,
            stream,
            js,
            ledger,
            ownership: Arc::new(Mutex::new(Ownership::new())),
            index,
            producers: tokio::sync::Mutex::new(Vec::new()),
            epoch_unix_us: unix_us().saturating_sub(run_us),
            // A rebalance in progress: the new version reaches the old owner within a heartbeat
            // interval; its in-flight message may finish meanwhile.
            grace_us: u64::try_from(timing.heartbeat_interval.as_micros()).unwrap_or(u64::MAX)
                + 1_000_000,
            _service: AbortOnDropHandle::new(service),
        })
    }

    /// What the hosts' workers need to consume the load.
    pub fn host_work(&self, timing: &Timing) -> HostWork {
        let ttl_ms = u64::try_from(timing.heartbeat_ttl.as_millis()).unwrap_or(u64::MAX);
        let interval_ms = u64::try_from(timing.heartbeat_interval.as_millis()).unwrap_or(0);
        HostWork {
            stream: self.stream.clone(),
            consumer_prefix: "parti-top".into(),
            load: self.spec.clone(),
            max_hold_ms: ttl_ms,
            settle_ms: (2 * interval_ms).max(500),
        }
    }

    /// Start the producer processes.
    pub async fn start_producers(
        &self,
        template: &Bootstrap,
        partitions: &[Partition],
        extra_env: &[(String, String)],
    ) -> Result<(), String> {
        let (exits_tx, mut exits) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(exit) = exits.recv().await {
                let exit: super::hosts::HostExit = exit;
                info!("producer {} ended: {}", exit.host, exit.how);
            }
        });
        let mut producers = self.producers.lock().await;
        for producer in 0..u32::try_from(self.spec.producers).unwrap_or(u32::MAX) {
            let job = ProducerJob {
                run_id: template.run_id.clone(),
                producer,
                spec: self.spec.clone(),
                partitions: partitions.to_vec(),
            };
            let line = serde_json::to_string(&job).map_err(|err| err.to_string())?;
            let bootstrap = Bootstrap {
                host: producer,
                worker_url: None,
                ..template.clone()
            };
            let process = HostProcess::spawn_as(
                Role::Producer,
                &bootstrap,
                &[line],
                extra_env,
                exits_tx.clone(),
            )
            .await
            .map_err(|err| format!("cannot start producer {producer}: {err}"))?;
            producers.push(process);
        }
        info!(
            "{} publishing {} msg/s to {}",
            crate::text::plural(producers.len() as u64, "producer"),
            self.spec.rate_per_s,
            self.stream
        );
        Ok(())
    }

    /// Note an assignment key's change (who owns which partitions from now).
    pub fn note(&self, change: &KvChange) {
        if change.role != BucketRole::Assignment {
            return;
        }
        let Some(worker) = crate::parti::publisher::assignment_worker(&change.key) else {
            return;
        };
        let held: Vec<u32> = change
            .value
            .as_ref()
            .and_then(|v| Assignment::decode(v).ok())
            .map(|a| {
                a.partitions
                    .iter()
                    .filter_map(|p| self.index.get(&p.keys).copied())
                    .collect()
            })
            .unwrap_or_default();
        lock(&self.ownership).record(unix_us(), worker, held);
    }

    /// The counters for a sample.
    pub fn point(&self) -> LoadPoint {
        let summary = lock(&self.ledger).summary();
        LoadPoint {
            sent: summary.sent,
            acked: summary.acked,
            lag: summary.in_flight + summary.lost,
            fenced: summary.nak_by_fence,
            redelivered: summary.redelivered,
            duplicated: summary.duplicated,
        }
    }

    /// Stop the producers (they flush their reports), wait until every sent message is acked
    /// or the drain timeout passes, and compute the figures ([`Self::per_event`] fills in the
    /// events once the recording has them).
    pub async fn finish(&self) -> LoadFigures {
        let mut producers = std::mem::take(&mut *self.producers.lock().await);
        futures::future::join_all(producers.iter_mut().map(|p| p.stop(PRODUCER_STOP_GRACE))).await;
        let started = Instant::now();
        let deadline = started + self.spec.drain_timeout;
        // Drained: every sent message reported acked, or the work-queue stream has held none
        // for a while (the rest were acked by a host killed before it reported them).
        let mut empty_since: Option<Instant> = None;
        let drained = loop {
            let summary = lock(&self.ledger).summary();
            if summary.in_flight == 0 {
                break true;
            }
            if self.stream_is_empty().await {
                let since = *empty_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= EMPTY_STREAM_SETTLE {
                    break true;
                }
            } else {
                empty_since = None;
            }
            if Instant::now() >= deadline {
                break false;
            }
            tokio::time::sleep(DRAIN_POLL).await;
        };
        let drain_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        // A work-queue stream holds exactly the messages nobody acked: one neither stored nor
        // reported acked was acked by a host killed before its report left (ack_unreported).
        let stored = stored_messages(
            &self.js,
            &self.stream,
            &self.spec.stream_subjects(),
            STORED_LIMIT,
        )
        .await;
        let mut ledger = lock(&self.ledger);
        let left_in_stream = match &stored {
            Ok(stored) => {
                ledger.end_drain_with_stored(stored);
                Some(stored.len() as u64)
            }
            Err(err) => {
                warn!("cannot read what the work stream still holds: {err}");
                ledger.end_drain();
                None
            }
        };
        let summary = ledger.summary();
        let acks = ledger.acks();
        let zombies = zombie_acks(&acks, &lock(&self.ownership), self.grace_us);
        if !drained {
            warn!(
                "the drain ended after {drain_ms} ms with {} messages unacked",
                summary.lost
            );
        }
        LoadFigures {
            events: Vec::new(),
            ledger: summary,
            drained,
            drain_ms,
            zombie_acks: zombies.len() as u64,
            zombies: zombies.into_iter().take(ZOMBIES_KEPT).collect(),
            left_in_stream,
        }
    }

    async fn stream_is_empty(&self) -> bool {
        match self.js.get_stream(&self.stream).await {
            Ok(mut stream) => stream
                .info()
                .await
                .is_ok_and(|info| info.state.messages == 0),
            Err(_) => false,
        }
    }

    /// Remove the work stream (and its consumers) from a server that outlives the run.
    pub async fn remove_stream(&self) {
        if let Err(err) = self.js.delete_stream(&self.stream).await {
            warn!("cannot delete the work stream {}: {err}", self.stream);
        }
    }

    /// The ledger of the messages sent during each of `events` (from its action to its
    /// stabilization, or to the next event when it never stabilized).
    pub fn per_event(&self, events: &[Measurement]) -> Vec<EventLoad> {
        let ledger = lock(&self.ledger);
        let mut sorted: Vec<&Measurement> = events.iter().collect();
        sorted.sort_by_key(|m| m.t_start_ms);
        sorted
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let next = sorted.get(i + 1).map(|n| n.t_start_ms);
                let end_ms = m
                    .stabilization_ms
                    .map(|s| m.t_start_ms + s)
                    .or(next)
                    .unwrap_or(u64::MAX / 1_000);
                let ledger: LedgerSummary = ledger.summary_sent_between(
                    self.epoch_unix_us + m.t_start_ms * 1_000,
                    self.epoch_unix_us + end_ms.saturating_mul(1_000),
                );
                EventLoad {
                    event: m.event + 1,
                    label: m.action.label(),
                    ledger,
                }
            })
            .collect()
    }
}
