//! `parti-top producer`: one producer process of a run's message load. It publishes its share of
//! the rate plan, reports every stored message to the run's ledger, and on the way out stops
//! publishing, finishes what is in flight and flushes its reports before it exits.
//!
//! Under a controller (`--controlled`) it reads two lines from stdin, a
//! [`Bootstrap`](crate::control::Bootstrap)
//! (credentials never appear on a command line; `host` is the producer index) and then the
//! [`ProducerJob`]; it dies with the controller (parent-death signal, stdin closed, or the
//! controller's `alive` messages silent for [`CONTROLLER_TIMEOUT`] while connected). By hand it
//! connects with the connection flags (`NATS_URL`, `NATS_PASSWORD` …) and takes the job from
//! `--job` or `PARTI_TOP_LOAD_JOB`.

use std::time::Duration;

use futures::StreamExt;
use tokio::io::AsyncBufReadExt;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::cli::ProducerArgs;
use crate::control::Subjects;
use crate::error::AppError;
use crate::host::controlled::{Silence, die_with_controller, read_bootstrap};
use crate::load::producer::{Producer, ProducerJob};
use crate::load::report::{Reporter, ReporterOptions, ledger_subject, unique_reporter_id};
use crate::load::stream::ensure_work_stream;
use crate::nats::client::{self, ClientAuth};
use crate::signals::Signals;

/// The producer leaves when the controller has been silent this long (counting only time
/// connected).
pub const CONTROLLER_TIMEOUT: Duration = Duration::from_secs(5);
/// How long in-flight publishes may still be retried once the producer is told to stop.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// How long the final report flush may take.
const FLUSH_BUDGET: Duration = Duration::from_secs(10);
/// The publish-ack and request timeout of the producer's JetStream context.
const ACK_TIMEOUT: Duration = Duration::from_secs(2);
const WATCHDOG_PERIOD: Duration = Duration::from_millis(250);

/// Run the producer command to completion.
pub async fn run(args: ProducerArgs) -> Result<(), AppError> {
    let mut signals = Signals::new().map_err(AppError::could_not_run)?;
    let mut stdin = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let (url, auth, mut job, controller) = if args.controlled {
        let bootstrap = read_bootstrap(&mut stdin).await?;
        die_with_controller(bootstrap.controller_pid)?;
        let line = tokio::time::timeout(Duration::from_secs(10), stdin.next_line())
            .await
            .map_err(|_| AppError::could_not_run("no job line on stdin within 10 s"))?
            .map_err(AppError::could_not_run)?
            .ok_or_else(|| AppError::could_not_run("stdin closed before the job line"))?;
        let job = parse_job(&line)?;
        let auth = ClientAuth {
            user: bootstrap.user.clone(),
            password: bootstrap.password.clone(),
            ..ClientAuth::default()
        };
        (bootstrap.server_url.clone(), auth, job, Some(bootstrap))
    } else {
        let url = args.connection.server.clone().ok_or_else(|| {
            AppError::could_not_run("a producer needs --server (or NATS_URL): it starts no server")
        })?;
        let text = args.job.as_deref().ok_or_else(|| {
            AppError::could_not_run("a producer needs --job JSON (or PARTI_TOP_LOAD_JOB)")
        })?;
        (url, args.connection.auth(), parse_job(text)?, None)
    };
    if let Some(bootstrap) = &controller {
        job.run_id.clone_from(&bootstrap.run_id);
        job.producer = bootstrap.host;
    }
    if let Some(run) = &args.run {
        job.run_id.clone_from(run);
    }
    if let Some(producer) = args.producer {
        job.producer = producer;
    }

    let name = format!("parti-top-producer-{}", job.producer);
    let client = client::connect(&url, &auth, &name)
        .await
        .map_err(AppError::could_not_run)?;
    let mut js = async_nats::jetstream::new(client.clone());
    js.set_timeout(ACK_TIMEOUT);
    if let Some(stream) = &args.ensure_stream {
        ensure_work_stream(
            &js,
            stream,
            vec![job.spec.stream_subjects()],
            1,
            async_nats::jetstream::stream::RetentionPolicy::WorkQueue,
        )
        .await
        .map_err(|err| AppError::could_not_run(format!("work stream {stream}: {err}")))?;
    }
    let (reporter, reporter_task) = Reporter::start(
        client.clone(),
        ledger_subject(&job.run_id),
        unique_reporter_id(&format!("producer-{}", job.producer)),
        ReporterOptions::default(),
    );
    let producer_index = job.producer;
    let rate = job.spec.rate_per_s;
    let producer = Producer::new(js, job, reporter.clone()).map_err(AppError::could_not_run)?;
    let share = &producer.plan().producers[producer_index as usize];
    info!(
        "producer {producer_index}: {} partitions at {:.1} msg/s (run total {rate} msg/s)",
        share.partitions.len(),
        share.rate_per_s
    );

    let stop = CancellationToken::new();
    let publishing = producer.run(stop.clone(), STOP_GRACE);
    tokio::pin!(publishing);
    let mut alive = match &controller {
        Some(bootstrap) => Some(
            client
                .subscribe(Subjects::new(&bootstrap.run_id).alive())
                .await
                .map_err(AppError::could_not_run)?,
        ),
        None => None,
    };
    let mut silence = Silence::new(Instant::now());
    let mut watchdog = tokio::time::interval(WATCHDOG_PERIOD);
    let deadline = args.duration.map(|d| Instant::now() + d);
    let mut stopping = false;
    let stats = loop {
        tokio::select! {
            stats = &mut publishing => break stats,
            signal = signals.next(), if !stopping => {
                info!("{signal}: stopping");
                stopping = true;
                stop.cancel();
            }
            () = sleep_until_opt(deadline), if !stopping && deadline.is_some() => {
                stopping = true;
                stop.cancel();
            }
            line = stdin.next_line(), if controller.is_some() && !stopping => {
                if !matches!(line, Ok(Some(_))) {
                    info!("stdin closed: stopping");
                    stopping = true;
                    stop.cancel();
                }
            }
            Some(_) = next_alive(&mut alive) => silence.heard(Instant::now()),
            _ = watchdog.tick(), if controller.is_some() && !stopping => {
                let connected =
                    client.connection_state() == async_nats::connection::State::Connected;
                if silence.tick(Instant::now(), connected) > CONTROLLER_TIMEOUT {
                    info!("the controller has been silent for {CONTROLLER_TIMEOUT:?}: stopping");
                    stopping = true;
                    stop.cancel();
                }
            }
        }
    };
    let flushed = tokio::time::timeout(FLUSH_BUDGET, reporter.flush()).await;
    if !matches!(flushed, Ok(Ok(()))) {
        warn!("reports not all acknowledged by the ledger before leaving");
        reporter_task.abort();
    }
    info!(
        "producer {producer_index}: {} sent, {} retries, {} abandoned; exiting",
        stats.sent, stats.retries, stats.abandoned
    );
    let _ = tokio::time::timeout(Duration::from_secs(2), client.flush()).await;
    Ok(())
}

fn parse_job(text: &str) -> Result<ProducerJob, AppError> {
    serde_json::from_str(text).map_err(|err| AppError::could_not_run(format!("bad job: {err}")))
}

async fn next_alive(alive: &mut Option<async_nats::Subscriber>) -> Option<async_nats::Message> {
    match alive {
        Some(subscriber) => subscriber.next().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
