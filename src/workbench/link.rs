//! The control link of a run, controller side: answering hosts' spec requests, publishing the
//! `alive` beat, forwarding host events and telemetry to the engine, and turning host exits
//! into engine inputs.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::engine::EngineInput;
use super::hosts::HostExit;
use super::sampler::Targets;
use crate::control::{HostSpec, Subjects};
use crate::error::AppError;

/// Serve spec requests, publish `alive` every second, and forward host events and telemetry.
pub(super) async fn serve_link(
    control: &async_nats::Client,
    subjects: &Subjects,
    spec: HostSpec,
    engine: mpsc::UnboundedSender<EngineInput>,
    targets: Targets,
    cancel: CancellationToken,
) -> Result<(), AppError> {
    let subscribe = |subject: String| {
        let control = control.clone();
        async move {
            control
                .subscribe(subject)
                .await
                .map_err(AppError::could_not_run)
        }
    };
    let mut spec_requests = subscribe(subjects.spec()).await?;
    let mut events = subscribe(subjects.all_events()).await?;
    let mut telemetry = subscribe(subjects.all_telemetry()).await?;
    control.flush().await.map_err(AppError::could_not_run)?;
    let body = serde_json::to_vec(&spec).map_err(AppError::could_not_run)?;
    let (link, stop) = (control.clone(), cancel.clone());
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                Some(request) = spec_requests.next() => {
                    if let Some(reply) = request.reply {
                        let _ = link.publish(reply, body.clone().into()).await;
                    }
                }
            }
        }
    });
    let (link, stop, alive) = (control.clone(), cancel.clone(), subjects.alive());
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = ticker.tick() => { let _ = link.publish(alive.clone(), bytes::Bytes::new()).await; }
            }
        }
    });
    let (stop, forward) = (cancel.clone(), engine.clone());
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                Some(message) = events.next() => {
                    if let Ok(event) = serde_json::from_slice(&message.payload) {
                        let _ = forward.send(EngineInput::HostEvent(event));
                    }
                }
                Some(message) = telemetry.next() => {
                    if let Ok(report) = serde_json::from_slice::<crate::control::HostTelemetry>(&message.payload) {
                        targets.telemetry(&report);
                        let _ = forward.send(EngineInput::Telemetry(report));
                    }
                }
            }
        }
    });
    Ok(())
}

/// Turn host exits into engine inputs.
pub(super) async fn watch_exits(
    mut exits: mpsc::UnboundedReceiver<HostExit>,
    engine: mpsc::UnboundedSender<EngineInput>,
    targets: Targets,
    expected: Arc<Mutex<BTreeSet<u32>>>,
) {
    while let Some(exit) = exits.recv().await {
        targets.set_host(exit.host, None);
        let expected = expected
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(&exit.host);
        let _ = engine.send(EngineInput::HostGone {
            host: exit.host,
            how: exit.how,
            expected,
        });
    }
}
