//! `parti-top host`: run workers until a signal, against `--server` or a managed nats-server.

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::cli::HostArgs;
use crate::error::AppError;
use crate::host::{Pool, log_event};
use crate::nats::client::ClientAuth;
use crate::nats::start_managed;
use crate::parti::source::{StaticSource, numbered_partitions};
use crate::parti::worker::WorkerSpec;
use crate::signals::Signals;

/// Run the host command to completion.
pub async fn run(args: HostArgs) -> Result<(), AppError> {
    let config = args.cluster.config();
    config.validate().map_err(AppError::could_not_run)?;
    let strategy = args.cluster.strategy();
    strategy
        .validate()
        .map_err(|err| AppError::could_not_run(format!("invalid strategy: {err}")))?;
    if args.partitions == 0 {
        return Err(AppError::could_not_run("--partitions must be at least 1"));
    }
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
    let mut signals = Signals::new().map_err(AppError::could_not_run)?;

    let mut managed = None;
    let (url, auth) = match &args.connection.server {
        Some(url) => (url.clone(), args.connection.auth()),
        None => {
            let server = start_managed(args.connection.nats_server.clone()).await?;
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
    };
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let name = format!("parti-top-host-{}", std::process::id());
    let mut pool = Pool::new(url.clone(), auth, spec, name, events_tx);
    info!(
        "starting {} workers on {url} ({} partitions, {} timing, {} strategy)",
        args.workers, args.partitions, args.cluster.timing, args.cluster.strategy
    );
    let outcome = tokio::select! {
        result = pool.add(args.workers) => result.map(|_| ()).map_err(AppError::could_not_run),
        signal = signals.next() => {
            info!("{signal} during start-up");
            Ok(())
        }
    };
    if outcome.is_ok() && !pool.is_empty() {
        let mut reap = tokio::time::interval(Duration::from_secs(1));
        let mut status = HashMap::new();
        loop {
            tokio::select! {
                signal = signals.next() => {
                    info!("{signal}: stopping {} workers", pool.len());
                    break;
                }
                Some(event) = events.recv() => {
                    if let Some(slot) = pool.slots().iter().find(|s| s.slot == event.slot) {
                        status.insert(event.slot, slot.status());
                    }
                    log_event(event.slot, status.get(&event.slot), &event.event);
                }
                _ = reap.tick() => {
                    for (slot, result) in pool.reap_finished().await {
                        warn!("worker in slot {slot} ended on its own: {result:?}");
                    }
                }
            }
        }
    }
    for (slot, result) in pool.stop_all().await {
        if let Err(err) = result {
            warn!("worker in slot {slot} stopped with: {err}");
        }
    }
    if let Some(server) = managed {
        server.shutdown().await.map_err(AppError::could_not_run)?;
    }
    outcome
}
