//! The sampler: every sample interval, read RSS and CPU of every host, of nats-server and of
//! the controller itself from `/proc`, join each host's latest telemetry (live heap, tasks,
//! workers), and publish one [`Sample`]. A host joined from another machine has no pid here:
//! its RSS and CPU come from its own reading in its telemetry. It is also where a managed nats-server's death is
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
    /// Hosts that exited: a late report of theirs is not sampled.
    gone: std::collections::BTreeSet<u32>,
}

/// What a sample takes from a host's latest telemetry.
#[derive(Clone, Copy)]
struct HostReport {
    live_heap_bytes: u64,
    tasks: u64,
    workers: Option<u32>,
    /// A joined host's own reading (its pid is on another machine).
    pid: u32,
    process: Option<crate::control::ProcessReading>,
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
            None => {
                inner.gone.insert(host);
                inner.hosts.remove(&host)
            }
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
            pid: telemetry.pid,
            process: telemetry.process,
        };
        lock(self).reports.insert(telemetry.host, report);
    }
}

/// Read every target once.
pub fn sample(targets: &Targets, meter: &mut CpuMeter, t_ms: u64) -> Sample {
    let (hosts, nats_pid, joined) = {
        let inner = lock(targets);
        let mut hosts: Vec<(u32, u32)> = inner.hosts.iter().map(|(h, p)| (*h, *p)).collect();
        hosts.sort_unstable();
        let hosts: Vec<(u32, u32, Option<HostReport>)> = hosts
            .into_iter()
            .map(|(host, pid)| (host, pid, inner.reports.get(&host).copied()))
            .collect();
        (hosts, inner.nats_pid, joined_reports(&inner))
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
    processes.extend(joined);
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

/// Samples of the hosts that report their own process figures (joined from other machines)
/// and have no local pid to read, from their latest telemetry.
fn joined_reports(inner: &TargetsInner) -> Vec<ProcessSample> {
    let mut samples: Vec<ProcessSample> = inner
        .reports
        .iter()
        .filter(|(host, _)| !inner.hosts.contains_key(host) && !inner.gone.contains(host))
        .filter_map(|(host, report)| {
            let process = report.process?;
            Some(ProcessSample {
                process: ProcessKind::Host(*host),
                pid: report.pid,
                rss_bytes: process.rss_bytes,
                live_heap_bytes: Some(report.live_heap_bytes),
                tasks: Some(report.tasks),
                workers: report.workers,
                cpu_percent: process.cpu_percent,
            })
        })
        .collect();
    samples.sort_by_key(|s| s.process);
    samples
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

#[cfg(test)]
mod tests {
    use super::*;

    fn telemetry(host: u32, rss_bytes: Option<u64>) -> HostTelemetry {
        HostTelemetry {
            t_unix_us: 0,
            host,
            pid: 4242,
            live_heap_bytes: 1_000,
            tasks: 7,
            workers: Vec::new(),
            events_dropped: 0,
            process: rss_bytes.map(|rss_bytes| crate::control::ProcessReading {
                rss_bytes,
                cpu_percent: Some(12.5),
            }),
        }
    }

    #[test]
    fn a_joined_host_is_sampled_from_its_own_reading_until_it_is_gone() {
        let targets = Targets::default();
        targets.telemetry(&telemetry(1, Some(9_000_000)));
        // A local host reports no reading of its own: the controller reads /proc.
        targets.telemetry(&telemetry(0, None));
        let joined = joined_reports(&lock(&targets));
        assert_eq!(joined.len(), 1);
        assert_eq!(joined[0].process, ProcessKind::Host(1));
        assert_eq!(joined[0].rss_bytes, 9_000_000);
        assert_eq!(joined[0].cpu_percent, Some(12.5));
        assert_eq!(joined[0].tasks, Some(7));
        targets.set_host(1, None);
        targets.telemetry(&telemetry(1, Some(9_000_000)));
        assert!(joined_reports(&lock(&targets)).is_empty());
    }
}
