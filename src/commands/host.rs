//! `parti-top host`: run workers until a signal, against `--server` or a managed nats-server
//! (whose connection hints it logs at start), and stop them gracefully, saying so; or, with
//! `--join RUN`, join a controller's run from this machine (docs/scaling.md).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::cli::HostArgs;
use crate::error::AppError;
use crate::host::{Pool, SlotEvent, log_event};
use crate::nats::client::ClientAuth;
use crate::nats::connect_info::{ClusterShape, hint_lines};
use crate::nats::start_managed;
use crate::parti::Error as PartiError;
use crate::parti::source::{StaticSource, numbered_partitions};
use crate::parti::worker::WorkerSpec;
use crate::signals::Signals;
use crate::text::plural;

/// Run the host command to completion.
pub async fn run(args: HostArgs) -> Result<(), AppError> {
    if let Some(run_id) = &args.join {
        let Some(url) = &args.connection.server else {
            return Err(AppError::could_not_run(
                "--join needs --server URL (the NATS the run's controller uses)",
            ));
        };
        return crate::host::join::run(run_id, url, args.connection.auth()).await;
    }
    check_args(&args)?;
    // Raise the open-file limit as servers do, and refuse what cannot fit before starting.
    let managed = args.connection.server.is_none();
    if let Some(why) = crate::limits::capacity().refusal(args.workers as u64, 1, managed) {
        return Err(AppError::could_not_run(why));
    }
    let config = args.cluster.config();
    let strategy = args.cluster.strategy();
    let mut signals = Signals::new().map_err(AppError::could_not_run)?;

    let mut managed = None;
    let (url, auth) = match &args.connection.server {
        Some(url) => (url.clone(), args.connection.auth()),
        None => {
            let server = start_managed(args.connection.nats_server.clone()).await?;
            let shape = ClusterShape {
                partitions: args.partitions,
                timing: args.cluster.timing.name(),
            };
            for line in hint_lines(server.connect_info(), Some(shape)) {
                info!("{line}");
            }
            let auth = ClientAuth::from(server.credentials());
            let url = server.url().to_owned();
            managed = Some(server);
            (url, auth)
        }
    };

    let spec = WorkerSpec {
        config,
        source: std::sync::Arc::new(StaticSource::new(numbered_partitions(args.partitions))),
        strategy: strategy.build(),
        consumer: None,
    };
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let name = format!("parti-top-host-{}", std::process::id());
    let mut pool =
        Pool::new(url.clone(), auth, spec, name, events_tx).with_connection(args.connection_mode);
    info!(
        "starting {} on {url} ({}, {} timing, {} strategy, connection {})",
        plural(args.workers as u64, "worker"),
        plural(args.partitions as u64, "partition"),
        args.cluster.timing,
        args.cluster.strategy,
        args.connection_mode
    );
    let outcome = tokio::select! {
        result = pool.add(args.workers) => result.map(|_| ()).map_err(AppError::could_not_run),
        signal = signals.next() => {
            info!("{signal} during start-up: stopping {}", plural(pool.len() as u64, "worker"));
            Ok(())
        }
    };
    if outcome.is_ok() && !pool.is_empty() {
        let mut reap = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                signal = signals.next() => {
                    info!("{signal}: stopping {}", plural(pool.len() as u64, "worker"));
                    break;
                }
                Some(event) = events.recv() => log_event(&event),
                _ = reap.tick() => {
                    for (slot, result) in pool.reap_finished().await {
                        warn!("worker in slot {slot} ended on its own: {result:?}");
                    }
                }
            }
        }
    }
    let stop_started = Instant::now();
    let stopped = stop_all(&mut pool, &mut events).await;
    let mut farewell = format!(
        "stopped {} in {}",
        plural(stopped as u64, "worker"),
        elapsed(stop_started)
    );
    if let Some(server) = managed {
        let server_started = Instant::now();
        server.shutdown().await.map_err(AppError::could_not_run)?;
        farewell.push_str(&format!(" and nats-server in {}", elapsed(server_started)));
    }
    if outcome.is_ok() {
        info!("{farewell}; exiting");
    }
    outcome
}

/// Everything that can be refused before a server is started or a worker connects.
fn check_args(args: &HostArgs) -> Result<(), AppError> {
    if args.workers == 0 {
        return Err(AppError::could_not_run(
            "--workers must be at least 1 (a host without workers has nothing to run)",
        ));
    }
    if args.partitions == 0 {
        return Err(AppError::could_not_run("--partitions must be at least 1"));
    }
    let config = args.cluster.config();
    config.validate().map_err(AppError::could_not_run)?;
    args.cluster
        .strategy()
        .validate()
        .map_err(|err| AppError::could_not_run(format!("invalid strategy: {err}")))?;
    let id_pool = u64::from(config.worker_id_max - config.worker_id_min) + 1;
    if args.workers as u64 > id_pool {
        return Err(AppError::could_not_run(format!(
            "--workers {} exceeds the worker ID pool of {id_pool} ({}-{}..{}-{})",
            args.workers,
            config.worker_id_prefix,
            config.worker_id_min,
            config.worker_id_prefix,
            config.worker_id_max
        )));
    }
    Ok(())
}

/// Stops every worker gracefully, logging their events meanwhile and one line per worker as it
/// is done; returns how many were stopped.
async fn stop_all(pool: &mut Pool, events: &mut mpsc::UnboundedReceiver<SlotEvent>) -> usize {
    let names: HashMap<u64, String> = pool
        .slots()
        .iter()
        .map(|s| {
            let id = s.status().worker_id;
            (s.slot, id.unwrap_or_else(|| format!("slot-{}", s.slot)))
        })
        .collect();
    let stopping = pool.stop_all();
    tokio::pin!(stopping);
    let results: Vec<(u64, Result<(), PartiError>)> = loop {
        tokio::select! {
            results = &mut stopping => break results,
            Some(event) = events.recv() => log_event(&event),
        }
    };
    while let Ok(event) = events.try_recv() {
        log_event(&event);
    }
    for (slot, result) in &results {
        let name = names.get(slot).map_or("?", String::as_str);
        match result {
            Ok(()) => info!("{name} stopped"),
            Err(err) => warn!("{name} stopped with: {err}"),
        }
    }
    results.len()
}

/// The time since `start` as `850 ms` or `1.2 s`.
fn elapsed(start: Instant) -> String {
    let taken = start.elapsed();
    if taken < Duration::from_secs(1) {
        format!("{} ms", taken.as_millis())
    } else {
        format!("{:.1} s", taken.as_secs_f64())
    }
}
