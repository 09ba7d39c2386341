//! `parti-top attach --server URL`: connect (within `--connect-timeout`), open the cluster's
//! buckets without creating any, then print the state once (`--once`, `--json`), print changes
//! line by line (`--headless`, or with no terminal), or open the read-only dashboard; with
//! `--record`, save what was seen as a recording.

use std::io::IsTerminal;
use std::time::Duration;

use crate::attach::events::Settings;
use crate::attach::live::{self, LiveAttach, LiveOptions};
use crate::attach::read::{self, Cluster};
use crate::attach::record::AttachRecorder;
use crate::attach::{judge, now_unix_ms, text};
use crate::cli::AttachArgs;
use crate::error::AppError;
use crate::observation::Observation;
use crate::parti::config::BucketNames;
use crate::parti::source::numbered_partitions;
use crate::record::format::RunMode;
use crate::signals::Signals;

/// Whether the attach prints lines instead of opening the dashboard.
pub fn headless(args: &AttachArgs) -> bool {
    args.headless || !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal())
}

/// Run the attach to completion.
pub async fn run(args: AttachArgs) -> Result<(), AppError> {
    let url = args.connection.server.clone().ok_or_else(|| {
        AppError::could_not_run(
            "attach needs --server URL (or NATS_URL): the server of the parti cluster to watch",
        )
    })?;
    if args.once && args.record.is_some() {
        return Err(AppError::could_not_run(
            "--record records a live attach: leave out --once",
        ));
    }
    if args.once && args.metrics.is_some() {
        return Err(AppError::could_not_run(
            "--metrics serves a live attach: leave out --once",
        ));
    }
    crate::preflight::recording_output(args.record.as_deref(), args.force)
        .map_err(AppError::could_not_run)?;
    // Bind before connecting: a port in use is known at once.
    let exporter = crate::metrics::Live::start(args.metrics, "attach").await?;
    let client = read::connect(&url, &args.connection.auth(), args.connect_timeout)
        .await
        .map_err(AppError::could_not_run)?;
    let cluster = read::open(client, &url, &BucketNames::default())
        .await
        .map_err(AppError::could_not_run)?;
    let expected = args.partitions.map(numbered_partitions).unwrap_or_default();
    if args.once {
        return once(&cluster, &expected, args.json).await;
    }
    let heartbeat_ttl = cluster.ttls.heartbeat;
    let options = LiveOptions {
        expected,
        settings: Settings {
            quiet_ms: millis(args.quiet_period),
            finding_after_ms: millis(
                args.finding_after
                    .unwrap_or_else(|| (heartbeat_ttl * 5).max(Duration::from_secs(10))),
            ),
        },
    };
    let headless = headless(&args);
    let recorder = match &args.record {
        Some(path) => Some(
            AttachRecorder::new(
                path.clone(),
                &url,
                if headless {
                    RunMode::Headless
                } else {
                    RunMode::Interactive
                },
                Some(cluster.server_version.clone()),
            )
            .map_err(AppError::could_not_run)?,
        ),
        None => None,
    };
    let mut live = live::start(cluster, options)
        .await
        .map_err(AppError::could_not_run)?;
    if let Some(exporter) = exporter {
        crate::attach::metrics::follow(&mut live, exporter);
    }
    if headless {
        print_lines(live, recorder, args.json).await
    } else {
        crate::attach::tui::run(live, recorder).await
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// `--once`: judge one read and print it; invalid is exit 1.
async fn once(
    cluster: &Cluster,
    expected: &[crate::parti::partition::Partition],
    json: bool,
) -> Result<(), AppError> {
    let kv = cluster.read().await.map_err(AppError::could_not_run)?;
    let state = judge(&kv, now_unix_ms(), &cluster.ttls, expected);
    if json {
        let text = serde_json::to_string_pretty(&state)
            .map_err(|err| AppError::could_not_run(format!("cannot write JSON: {err}")))?;
        println!("{text}");
    } else {
        print!("{}", text::table(&cluster.url, &state));
    }
    if state.is_valid() {
        Ok(())
    } else {
        Err(AppError::Failed(format!(
            "the parti cluster at {} is not valid ({})",
            cluster.url,
            crate::text::plural(state.findings.len() as u64, "finding")
        )))
    }
}

/// The line printer: a line when the state's summary changes, one per event measured and per
/// finding, until SIGINT, SIGTERM or SIGHUP. With `json`, each changed state is one JSON line.
async fn print_lines(
    mut live: live::Live,
    mut recorder: Option<AttachRecorder>,
    json: bool,
) -> Result<(), AppError> {
    let mut signals = Signals::new().map_err(AppError::could_not_run)?;
    let mut last_line = String::new();
    eprintln!(
        "parti-top: attached read-only to {}; Ctrl-C ends",
        live.state.borrow().url
    );
    loop {
        tokio::select! {
            signal = signals.next() => {
                eprintln!("parti-top: {signal}: detaching");
                break;
            }
            changed = live.state.changed() => {
                if changed.is_err() {
                    break;
                }
                let current = live.state.borrow_and_update().clone();
                print_state(&current, &mut last_line, json);
            }
            Some(observation) = live.observations.recv() => {
                print_observation(&observation, json);
                if let Some(recorder) = recorder.as_mut() {
                    recorder.push(observation);
                }
            }
        }
    }
    let partitions = live.state.borrow().state.partitions_known;
    let url = live.state.borrow().url.clone();
    let mut rest = live.stop().await;
    while let Ok(observation) = rest.try_recv() {
        print_observation(&observation, json);
        if let Some(recorder) = recorder.as_mut() {
            recorder.push(observation);
        }
    }
    if let Some(recorder) = recorder {
        let path = recorder
            .finish(&url, partitions)
            .map_err(AppError::could_not_run)?;
        eprintln!("parti-top: recording saved to {}", path.display());
    }
    Ok(())
}

fn print_state(current: &LiveAttach, last_key: &mut String, json: bool) {
    let key = text::status_key(&current.state);
    if key == *last_key {
        return;
    }
    let line = text::status_line(&current.state);
    if json {
        if let Ok(text) = serde_json::to_string(&current.state) {
            println!("{text}");
        }
    } else {
        println!("{} {line}", stamp(current.t_ms));
    }
    *last_key = key;
}

fn print_observation(observation: &Observation, json: bool) {
    if json {
        return;
    }
    match observation {
        Observation::Measurement(m) => {
            let how = match (m.stabilization_ms, m.quiescence_ms, m.superseded_by) {
                (Some(s), Some(q), _) => format!("stable after {s} ms, quiet after {q} ms"),
                (Some(s), None, _) => format!("stable after {s} ms"),
                (None, _, Some(next)) => format!("superseded by event #{}", next + 1),
                (None, _, None) => "not stable yet".to_owned(),
            };
            println!(
                "{} event #{} {}: {how}",
                stamp(m.t_start_ms),
                m.number(),
                m.action.label()
            );
        }
        Observation::Finding(f) => {
            println!(
                "{} finding {}: {}",
                stamp(f.t_ms),
                f.check.name(),
                f.message
            );
        }
        _ => {}
    }
}

/// `[12.3 s]`.
fn stamp(t_ms: u64) -> String {
    format!("[{:.1} s]", t_ms as f64 / 1000.0)
}
