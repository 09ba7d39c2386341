//! The sampler: every sample interval, read RSS and CPU of every host, of nats-server and of
//! the controller itself from `/proc`, join each host's latest telemetry (live heap, tasks,
//! workers), and publish one [`Sample`]. It is also where a managed nats-server's death is
//! noticed (its pid can no longer be read): the engine hears of it at once, as expected (a
//! `RestartNats` under way) or not.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::control::HostTelemetry;
use crate::observation::{
    ClusterEvent, ClusterEventKind, Observation, ProcessKind, ProcessSample, Sample,
};
use crate::procfs::{self, CpuMeter};

/// Pids to sample, kept current by the workbench.
#[derive(Clone, Default)]
pub struct Targets {
    inner: Arc<Mutex<TargetsInner>>,
}

#[derive(Default)]
struct TargetsInner {
    hosts: HashMap<u32, u32>,
    nats_pid: Option<u32>,
    /// An action is stopping and starting nats-server: it being down is expected.
    nats_restarting: bool,
    reports: HashMap<u32, HostReport>,
}

/// What a sample takes from a host's latest telemetry.
#[derive(Clone, Copy)]
struct HostReport {
    live_heap_bytes: u64,
    tasks: u64,
    workers: Option<u32>,
}

fn lock(targets: &Targets) -> std::sync::MutexGuard<'_, TargetsInner> {
    targets
        .inner
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Targets {
    pub fn set_host(&self, host: u32, pid: Option<u32>) {
        let mut inner = lock(self);
        match pid {
            Some(pid) => inner.hosts.insert(host, pid),
            None => inner.hosts.remove(&host),
        };
    }

    pub fn set_nats(&self, pid: Option<u32>) {
        lock(self).nats_pid = pid;
    }

    /// Whether nats-server is being restarted on purpose (its absence is then no finding).
    pub fn set_nats_restarting(&self, restarting: bool) {
        lock(self).nats_restarting = restarting;
    }

    /// The managed nats-server's pid if it is gone without a restart under way, checked now
    /// (not at the next sample).
    pub fn nats_gone(&self) -> Option<u32> {
        let (pid, restarting) = nats_target(self);
        pid.filter(|pid| !restarting && !crate::nats::process::is_process_alive(*pid))
    }

    /// Keep what the next sample needs from a host's telemetry.
    pub fn telemetry(&self, telemetry: &HostTelemetry) {
        let report = HostReport {
            live_heap_bytes: telemetry.live_heap_bytes,
            tasks: telemetry.tasks,
            workers: u32::try_from(telemetry.workers.len()).ok(),
        };
        lock(self).reports.insert(telemetry.host, report);
    }
}

/// Read every target once.
pub fn sample(targets: &Targets, meter: &mut CpuMeter, t_ms: u64) -> Sample {
    let (hosts, nats_pid) = {
        let inner = lock(targets);
        let mut hosts: Vec<(u32, u32)> = inner.hosts.iter().map(|(h, p)| (*h, *p)).collect();
        hosts.sort_unstable();
        let hosts: Vec<(u32, u32, Option<HostReport>)> = hosts
            .into_iter()
            .map(|(host, pid)| (host, pid, inner.reports.get(&host).copied()))
            .collect();
        (hosts, inner.nats_pid)
    };
    let now = std::time::Instant::now();
    let mut processes = Vec::new();
    let read = |process: ProcessKind, pid: u32, meter: &mut CpuMeter| {
        procfs::read(pid).map(|reading| ProcessSample {
            process,
            pid,
            rss_bytes: reading.rss_bytes,
            live_heap_bytes: None,
            tasks: None,
            workers: None,
            cpu_percent: meter.percent(pid, reading.cpu_ticks, now),
        })
    };
    for (host, pid, report) in hosts {
        if let Some(mut sample) = read(ProcessKind::Host(host), pid, meter) {
            if let Some(report) = report {
                sample.live_heap_bytes = Some(report.live_heap_bytes);
                sample.tasks = Some(report.tasks);
                sample.workers = report.workers;
            }
            processes.push(sample);
        }
    }
    if let Some(pid) = nats_pid {
        processes.extend(read(ProcessKind::NatsServer, pid, meter));
    }
    let own = std::process::id();
    if let Some(mut sample) = read(ProcessKind::Controller, own, meter) {
        sample.live_heap_bytes = Some(procfs::live_heap_bytes()).filter(|b| *b > 0);
        processes.push(sample);
    }
    Sample {
        t_ms,
        processes,
        load: None,
    }
}

/// The managed nats-server's pid and whether a restart is under way.
fn nats_target(targets: &Targets) -> (Option<u32>, bool) {
    let inner = lock(targets);
    (inner.nats_pid, inner.nats_restarting)
}

/// Sample every `interval` until cancelled.
pub async fn run(
    targets: Targets,
    interval: Duration,
    started: Instant,
    observations: broadcast::Sender<Observation>,
    engine: mpsc::UnboundedSender<super::engine::EngineInput>,
    load: Option<std::sync::Arc<super::load::LoadRun>>,
    cancel: CancellationToken,
) {
    let mut meter = CpuMeter::default();
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut nats_up = true;
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let t_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let nats_before = nats_target(&targets);
        let mut sample = sample(&targets, &mut meter, t_ms);
        sample.load = load.as_ref().map(|load| load.point());
        // A managed nats-server that is expected but cannot be read has died; while a restart
        // is under way (before, during or just after this sample) that was asked for.
        let (nats_pid, restarting) = nats_target(&targets);
        let restarting = restarting || nats_before != (nats_pid, false);
        if let Some(pid) = nats_pid {
            let up = sample
                .processes
                .iter()
                .any(|p| p.process == ProcessKind::NatsServer);
            if up != nats_up {
                nats_up = up;
                let detail = if up {
                    format!("nats-server is running (pid {pid})")
                } else {
                    format!("nats-server (pid {pid}) is gone")
                };
                let event = ClusterEvent {
                    t_ms,
                    host: None,
                    slot: None,
                    worker_id: None,
                    kind: ClusterEventKind::Nats {
                        up,
                        detail: detail.clone(),
                    },
                };
                super::engine::log_event(&event);
                let _ = engine.send(super::engine::EngineInput::Nats {
                    up,
                    detail: detail.clone(),
                    expected: restarting,
                });
                let _ = observations.send(Observation::Cluster(event));
            }
        }
        let _ = observations.send(Observation::Sample(sample));
    }
}
