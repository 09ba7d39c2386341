//! Joining a run from another machine (`parti-top host --join <run> --server URL`): the host
//! asks the run's controller for a host number on `parti-top.<run>.controller.join`, builds its
//! [`Bootstrap`] from that and its own command line (its own server URL and credentials: the
//! controller never hands out a password), and from then on behaves as a controlled host
//! ([`super::controlled::run_joined`]).

use std::time::Duration;

use tokio::time::Instant;
use tracing::info;

use crate::control::{Bootstrap, JoinReply, JoinRequest, PROTOCOL_VERSION, Subjects, unix_us};
use crate::error::AppError;
use crate::nats::client::{self, ClientAuth};

/// How long a join waits for a controller to answer before it gives up.
pub const JOIN_WAIT: Duration = Duration::from_secs(5);

/// How long one join request waits for its reply.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// How soon a join that found no controller listening asks again.
const RETRY: Duration = Duration::from_millis(250);

/// This machine's name (`/proc/sys/kernel/hostname`), or `?`.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "?".to_owned())
}

/// Join run `run_id` through `server_url`, then run as one of its hosts until it ends.
pub async fn run(run_id: &str, server_url: &str, auth: ClientAuth) -> Result<(), AppError> {
    crate::control::check_run_id(run_id).map_err(AppError::could_not_run)?;
    let signals = crate::signals::Signals::new().map_err(AppError::could_not_run)?;
    let name = format!("parti-top-host-join-{}", std::process::id());
    let control = client::connect(server_url, &auth, &name)
        .await
        .map_err(AppError::could_not_run)?;
    let subjects = Subjects::new(run_id);
    let request = JoinRequest {
        nonce: format!("{}-{}-{}", hostname(), std::process::id(), unix_us()),
        hostname: hostname(),
        pid: std::process::id(),
        version: PROTOCOL_VERSION.to_owned(),
    };
    let host = request_join(&control, &subjects, &request, JOIN_WAIT)
        .await
        .map_err(|err| AppError::could_not_run(format!("{err} (NATS at {server_url})")))?;
    info!("joined run {run_id} as host {host}");
    let bootstrap = Bootstrap {
        run_id: run_id.to_owned(),
        host,
        server_url: server_url.to_owned(),
        worker_url: None,
        user: auth.user.clone(),
        password: auth.password.clone(),
        controller_pid: 0,
    };
    super::controlled::run_joined(bootstrap, auth, control, signals).await
}

/// Ask for a host number until a controller answers or `wait` has passed.
pub async fn request_join(
    control: &async_nats::Client,
    subjects: &Subjects,
    request: &JoinRequest,
    wait: Duration,
) -> Result<u32, String> {
    let body: bytes::Bytes = serde_json::to_vec(request)
        .map_err(|err| err.to_string())?
        .into();
    let deadline = Instant::now() + wait;
    loop {
        let reply = tokio::time::timeout(
            REQUEST_TIMEOUT,
            control.request(subjects.join(), body.clone()),
        )
        .await;
        if let Ok(Ok(message)) = reply {
            return match serde_json::from_slice(&message.payload) {
                Ok(JoinReply::Accepted { host }) => Ok(host),
                Ok(JoinReply::Refused { reason }) => Err(format!(
                    "run {} refused the join: {reason}",
                    subjects.run_id()
                )),
                Err(err) => Err(format!("bad join reply: {err}")),
            };
        }
        if Instant::now() + RETRY >= deadline {
            return Err(format!(
                "no controller serves run {} (asked for {}): check the run id and that its \
                 controller runs against this NATS",
                subjects.run_id(),
                crate::parti::duration::Human(wait)
            ));
        }
        tokio::time::sleep(RETRY).await;
    }
}
