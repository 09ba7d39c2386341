//! The control link of a run, controller side: answering hosts' spec requests, publishing the
//! `alive` beat, forwarding host events and telemetry to the engine (noting when each host was
//! last heard), turning host exits into engine inputs, and taking the joins of hosts started by
//! hand elsewhere (`parti-top host --join`): numbers in join order, the command to run on each
//! machine, and the wait until the run has its hosts.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::engine::EngineInput;
use super::hosts::{Heard, HostExit, HostProcess, abort_lost_host};
use super::sampler::Targets;
use crate::control::{Admissions, HostSpec, JoinReply, JoinRequest, PROTOCOL_VERSION, Subjects};
use crate::error::AppError;
use crate::nats::client::ClientAuth;
use crate::parti::duration::Human;
use crate::text::plural;

/// Serve spec requests, publish `alive` every second, and forward host events and telemetry.
pub(super) async fn serve_link(
    control: &async_nats::Client,
    subjects: &Subjects,
    spec: HostSpec,
    engine: mpsc::UnboundedSender<EngineInput>,
    targets: Targets,
    heard: Heard,
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
    let max_payload = control.server_info().max_payload;
    if max_payload > 0 && body.len() > max_payload {
        return Err(AppError::could_not_run(format!(
            "the hosts' spec is {} bytes, more than the server's max_payload of {max_payload} \
             bytes (a partition list that long does not fit in one NATS message; raise \
             max_payload on the server or use numbered partitions)",
            body.len()
        )));
    }
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
    let (stop, forward, link, run) = (
        cancel.clone(),
        engine.clone(),
        control.clone(),
        subjects.clone(),
    );
    tokio::spawn(async move {
        loop {
            let host = tokio::select! {
                () = stop.cancelled() => return,
                Some(message) = events.next() => {
                    let host = run.host_of(&message.subject);
                    if let Ok(event) = serde_json::from_slice(&message.payload) {
                        let _ = forward.send(EngineInput::HostEvent(event));
                    }
                    host
                }
                Some(message) = telemetry.next() => {
                    let host = run.host_of(&message.subject);
                    if let Ok(report) = serde_json::from_slice::<crate::control::HostTelemetry>(&message.payload) {
                        targets.telemetry(&report);
                        let _ = forward.send(EngineInput::Telemetry(report));
                    }
                    host
                }
            };
            // A host given up as lost that speaks again was only cut off: it must go, the
            // run no longer counts its workers.
            if let Some(host) = host
                && heard.note(host)
            {
                abort_lost_host(&link, &run, host).await;
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

/// The command an operator runs on another machine to join run `run_id`: the controller's
/// server list and the names of the credential flags it used, never a secret (each machine
/// brings its own files and `NATS_PASSWORD`).
pub fn join_command(run_id: &str, url: &str, auth: &ClientAuth) -> String {
    let mut command = format!("parti-top host --join {run_id} --server {url}");
    if auth.creds_file.is_some() {
        command.push_str(" --creds <FILE>");
    }
    if let Some(user) = &auth.user {
        command.push_str(&format!(" --user {user}"));
    }
    if auth.tls_ca.is_some() {
        command.push_str(" --tls-ca <CA.pem>");
    }
    if auth.tls_cert.is_some() {
        command.push_str(" --tls-cert <CERT.pem> --tls-key <KEY.pem>");
    }
    command
}

/// What the operator reads while the controller waits for joins.
pub fn join_hint_lines(
    run_id: &str,
    url: &str,
    auth: &ClientAuth,
    hosts: u32,
    timeout: Duration,
) -> Vec<String> {
    let mut lines = vec![
        format!(
            "run {run_id} waits up to {} for {} to join; on each machine run:",
            Human(timeout),
            plural(u64::from(hosts), "host")
        ),
        format!("  {}", join_command(run_id, url, auth)),
    ];
    if auth.password.is_some() {
        lines.push("  (with the password in NATS_PASSWORD on that machine)".to_owned());
    }
    lines
}

/// What the dashboard shows of a run whose hosts joined: who they are and the join command.
pub fn joined_lines(
    run_id: &str,
    url: &str,
    auth: &ClientAuth,
    hosts: &[HostProcess],
) -> Vec<String> {
    let mut lines = vec![format!(
        "run {run_id}: {} joined from other machines",
        plural(hosts.len() as u64, "host")
    )];
    lines.extend(
        hosts
            .iter()
            .map(|h| format!("host {} joined from {}", h.host, h.origin().unwrap_or("?"))),
    );
    lines.push(format!("joined with: {}", join_command(run_id, url, auth)));
    lines
}

/// A host that joined: its number and who it is.
#[derive(Clone, Debug)]
pub struct Joined {
    pub host: u32,
    pub request: JoinRequest,
}

/// Answer join requests on `parti-top.<run>.controller.join` until `cancel`: numbers in join
/// order up to `expected`, refusals after that. Each new host comes out of the receiver.
pub(super) async fn serve_joins(
    control: &async_nats::Client,
    subjects: &Subjects,
    expected: u32,
    cancel: CancellationToken,
) -> Result<mpsc::UnboundedReceiver<Joined>, AppError> {
    let mut requests = control
        .subscribe(subjects.join())
        .await
        .map_err(AppError::could_not_run)?;
    control.flush().await.map_err(AppError::could_not_run)?;
    let (joined_tx, joined) = mpsc::unbounded_channel();
    let link = control.clone();
    tokio::spawn(async move {
        let mut book = Admissions::new(expected, PROTOCOL_VERSION);
        loop {
            let message = tokio::select! {
                () = cancel.cancelled() => return,
                message = requests.next() => match message { Some(m) => m, None => return },
            };
            let reply = match serde_json::from_slice::<JoinRequest>(&message.payload) {
                Err(err) => JoinReply::Refused {
                    reason: format!("bad join request: {err}"),
                },
                Ok(request) => match book.admit(&request) {
                    Ok((host, new)) => {
                        if new {
                            let _ = joined_tx.send(Joined { host, request });
                        }
                        JoinReply::Accepted { host }
                    }
                    Err(reason) => {
                        warn!("join from {} refused: {reason}", request.origin());
                        JoinReply::Refused { reason }
                    }
                },
            };
            if let (Some(subject), Ok(body)) = (message.reply, serde_json::to_vec(&reply)) {
                let _ = link.publish(subject, body.into()).await;
            }
        }
    });
    Ok(joined)
}

/// Everything [`join_hosts`] needs to turn joins into hosts.
pub(super) struct JoinWait<'a> {
    pub control: &'a async_nats::Client,
    pub subjects: &'a Subjects,
    /// The controller's server list and credentials, named in the printed join command.
    pub url: &'a str,
    pub auth: &'a ClientAuth,
    pub expected: u32,
    pub timeout: Duration,
    pub heard: &'a Heard,
    pub silence_limit: Duration,
    pub exits: mpsc::UnboundedSender<HostExit>,
    /// Cancelled when the run ends (or the wait fails): stops taking joins.
    pub cancel: CancellationToken,
}

/// Take joins, print (and log) the command to run on each machine, and wait until the run has
/// its hosts; returns them with the lines the dashboard shows about them.
pub(super) async fn join_hosts(
    wait: JoinWait<'_>,
) -> Result<(Vec<HostProcess>, Vec<String>), AppError> {
    let run_id = wait.subjects.run_id();
    let mut joins = serve_joins(
        wait.control,
        wait.subjects,
        wait.expected,
        wait.cancel.clone(),
    )
    .await?;
    for line in join_hint_lines(run_id, wait.url, wait.auth, wait.expected, wait.timeout) {
        eprintln!("parti-top: {line}");
        info!("{line}");
    }
    let cancel = wait.cancel.clone();
    let hosts = accept_joins(&wait, &mut joins)
        .await
        .inspect_err(|_| cancel.cancel())?;
    let lines = joined_lines(run_id, wait.url, wait.auth, &hosts);
    Ok((hosts, lines))
}

/// Wait until `expected` hosts have joined (each one becomes a [`HostProcess`] watched for
/// silence), or fail after the timeout, telling the hosts that did join to leave.
async fn accept_joins(
    wait: &JoinWait<'_>,
    joined: &mut mpsc::UnboundedReceiver<Joined>,
) -> Result<Vec<HostProcess>, AppError> {
    let deadline = tokio::time::Instant::now() + wait.timeout;
    let mut hosts: Vec<HostProcess> = Vec::new();
    while hosts.len() < wait.expected as usize {
        let next = tokio::time::timeout_at(deadline, joined.recv()).await;
        let Ok(Some(Joined { host, request })) = next else {
            for process in &hosts {
                let _ = send_shutdown(wait.control, wait.subjects, process.host).await;
            }
            return Err(AppError::could_not_run(format!(
                "only {} of {} joined in {}",
                hosts.len(),
                plural(u64::from(wait.expected), "host"),
                Human(wait.timeout)
            )));
        };
        let left = wait.expected as usize - hosts.len() - 1;
        let line = format!(
            "host {host} joined from {} ({left} more to go)",
            request.origin()
        );
        eprintln!("parti-top: {line}");
        info!("{line}");
        hosts.push(HostProcess::joined(
            host,
            request.origin(),
            wait.control,
            wait.subjects,
            wait.heard,
            wait.silence_limit,
            wait.exits.clone(),
        ));
    }
    Ok(hosts)
}

/// Ask a joined host to leave (it stops its workers and exits).
async fn send_shutdown(
    control: &async_nats::Client,
    subjects: &Subjects,
    host: u32,
) -> Result<(), String> {
    let body: bytes::Bytes = serde_json::to_vec(&crate::control::HostCommand::Shutdown)
        .map_err(|err| err.to_string())?
        .into();
    // A host that has just joined may not listen for commands yet: ask again for a while.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    loop {
        let request = control.request(subjects.command(host), body.clone());
        match tokio::time::timeout_at(deadline, request).await {
            Err(_) => return Err(format!("host {host} did not answer")),
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(err)) if err.kind() == async_nats::RequestErrorKind::NoResponders => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Ok(Err(err)) => return Err(err.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_join_command_names_the_credential_flags_but_never_a_secret() {
        let auth = ClientAuth {
            user: Some("ops".into()),
            password: Some("s3cret".into()),
            ..ClientAuth::default()
        };
        let lines = join_hint_lines(
            "lab1",
            "nats://a:4222,nats://b:4222",
            &auth,
            3,
            Duration::from_secs(300),
        );
        let text = lines.join("\n");
        assert!(!text.contains("s3cret"), "{text}");
        assert!(text.contains("3 hosts"), "{text}");
        assert!(text.contains("NATS_PASSWORD"), "{text}");
        assert_eq!(
            lines[1].trim(),
            "parti-top host --join lab1 --server nats://a:4222,nats://b:4222 --user ops"
        );
        let creds = ClientAuth {
            creds_file: Some("/secret/path/ops.creds".into()),
            tls_ca: Some("/etc/ca.pem".into()),
            ..ClientAuth::default()
        };
        let command = join_command("r", "tls://a:4222", &creds);
        assert!(
            command.ends_with("--creds <FILE> --tls-ca <CA.pem>"),
            "{command}"
        );
        assert!(!command.contains("/secret/path"), "{command}");
    }
}
