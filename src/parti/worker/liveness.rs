//! A worker's periodic duties in one task: stable-ID renewal, the election tick and
//! heartbeats, each as its own in-flight operation.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{HEARTBEAT_TIMEOUT, Internal};
use crate::parti::election::{Election, ElectionChange};
use crate::parti::heartbeat;
use crate::parti::kv::{Buckets, KvError};
use crate::parti::stable_id::{ClaimedId, Renewal};

/// What the liveness task owns.
pub(super) struct LivenessInput {
    pub(super) stop: CancellationToken,
    pub(super) internal: mpsc::UnboundedSender<Internal>,
    pub(super) buckets: Buckets,
    pub(super) worker_id: String,
    pub(super) timing: crate::parti::config::Timing,
    pub(super) claimed: ClaimedId,
    pub(super) election: Election,
}

/// A renewal's outcome, or its timeout.
type RenewalResult = Result<Result<Renewal, KvError>, tokio::time::error::Elapsed>;

type InFlight<T> = Option<futures::future::BoxFuture<'static, T>>;

/// Await an in-flight operation, or never if there is none.
async fn in_flight<T>(operation: &mut InFlight<T>) -> T {
    match operation {
        Some(future) => future.await,
        None => std::future::pending().await,
    }
}

fn ticker(period: Duration) -> tokio::time::Interval {
    let mut ticker = tokio::time::interval_at(Instant::now() + period, period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker
}

/// The three periodic duties of a worker in one task: stable-ID renewal (every TTL/3), the
/// election tick (every ElectionTimeout/3) and heartbeats (every HeartbeatInterval). Each runs
/// as its own in-flight operation, so a slow write of one never delays the others; one
/// operation of each kind is in flight at a time.
pub(super) async fn liveness(input: LivenessInput) -> (Option<ClaimedId>, Option<Election>) {
    let LivenessInput {
        stop,
        internal,
        buckets,
        worker_id,
        timing,
        claimed,
        election,
    } = input;
    let mut claimed = Some(claimed);
    let mut election = Some(election);
    let mut id_lost = false;
    let mut renewing: InFlight<(ClaimedId, RenewalResult)> = None;
    let mut electing: InFlight<(Election, (ElectionChange, Option<KvError>))> = None;
    let mut beating: InFlight<()> = None;
    let (mut renew_tick, mut elect_tick, mut beat_tick) = (
        ticker(timing.id_renewal_interval()),
        ticker(timing.election_interval()),
        ticker(timing.heartbeat_interval),
    );
    let attempt = timing.id_renewal_timeout();
    let lease = timing.election_timeout;
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = renew_tick.tick(), if claimed.is_some() && !id_lost => {
                if let Some(mut id) = claimed.take() {
                    let bucket = buckets.stable_id.clone();
                    renewing = Some(Box::pin(async move {
                        let result = tokio::time::timeout(attempt, id.renew(&bucket)).await;
                        (id, result)
                    }));
                }
            }
            (id, result) = in_flight(&mut renewing) => {
                renewing = None;
                claimed = Some(id);
                match result {
                    Ok(Ok(Renewal::Renewed)) => {}
                    Ok(Ok(outcome)) => {
                        id_lost = outcome == Renewal::Lost;
                        let _ = internal.send(Internal::IdRenewal(outcome));
                    }
                    Ok(Err(err)) => {
                        let _ = internal.send(Internal::Warning(format!("stable ID renewal failed: {err}")));
                    }
                    Err(_) => {
                        let _ = internal.send(Internal::Warning("stable ID renewal timed out".into()));
                    }
                }
            }
            _ = elect_tick.tick(), if election.is_some() => {
                if let Some(mut current) = election.take() {
                    let bucket = buckets.election.clone();
                    electing = Some(Box::pin(async move {
                        // A tick that does not finish within the lease counts as failed: a
                        // leader whose renewal hangs is no longer a leader.
                        let outcome = tokio::time::timeout(lease, current.tick(&bucket))
                            .await
                            .unwrap_or_else(|_| current.timed_out());
                        (current, outcome)
                    }));
                }
            }
            (current, (change, error)) = in_flight(&mut electing) => {
                electing = None;
                election = Some(current);
                let reason = error.map(|err| err.to_string());
                match change {
                    ElectionChange::Acquired => {
                        let _ = internal.send(Internal::Leadership(true, None));
                    }
                    ElectionChange::Lost => {
                        let _ = internal.send(Internal::Leadership(false, reason));
                    }
                    ElectionChange::None => {}
                }
            }
            _ = beat_tick.tick(), if beating.is_none() => {
                let (bucket, id) = (buckets.heartbeat.clone(), worker_id.clone());
                // Errors are ignored like Go's; liveness is judged by the leader.
                beating = Some(Box::pin(async move {
                    let _ = tokio::time::timeout(HEARTBEAT_TIMEOUT, heartbeat::publish(&bucket, &id)).await;
                }));
            }
            () = in_flight(&mut beating) => beating = None,
        }
    }
    // Let operations in flight finish (each is bounded) to get the state back.
    if let Some(operation) = renewing.take() {
        claimed = Some(operation.await.0);
    }
    if let Some(operation) = electing.take() {
        election = Some(operation.await.0);
    }
    drop(beating);
    (claimed, election)
}
