//! The dashboard's shell: the only code that touches the terminal. It starts the workbench,
//! turns terminal events, observations, cluster state and ticks into [`Msg`]s, applies
//! [`update`], carries out the [`Effect`]s, and draws. Quitting (a key, SIGTERM, SIGHUP, SIGINT)
//! always goes the same way: scenario, workers, recorder, hosts, nats-server, terminal.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crossterm::event::{Event, EventStream};
use futures::StreamExt;
use tokio::sync::{broadcast, mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::model::{Model, RunFacts};
use super::update::{Effect, Msg, update};
use super::view;
use crate::action::{Action, ActionSource};
use crate::error::AppError;
use crate::nats::client::ClientAuth;
use crate::observation::Observation;
use crate::profile::{self, Profile};
use crate::record::format::RunMode;
use crate::record::recorder::Recorder;
use crate::report::summary;
use crate::signals::Signals;
use crate::workbench::{OBSERVATION_BUFFER, Workbench, WorkbenchOptions};

/// The profile `parti-top` runs with no `--profile`.
pub const DEFAULT_PROFILE: &str = include_str!("../../profiles/default.ron");

/// How often the screen is redrawn when something changed.
const FRAME: Duration = Duration::from_millis(200);

/// How often the screen is redrawn when nothing changed (the clock and the charts' time axis
/// still move).
const IDLE_FRAME: Duration = Duration::from_secs(1);

/// What the command line gives the dashboard.
#[derive(Clone, Debug, Default)]
pub struct TuiOptions {
    pub profile: Option<PathBuf>,
    pub record: Option<PathBuf>,
    pub nats_server: Option<PathBuf>,
    pub server_url: Option<String>,
    pub auth: ClientAuth,
}

/// Load the profile to run: the given file, or the built-in default.
pub fn load_profile(path: Option<&std::path::Path>) -> Result<Profile, AppError> {
    match path {
        Some(path) => profile::load(path),
        None => profile::parse(
            DEFAULT_PROFILE,
            std::path::Path::new("profiles/default.ron"),
        ),
    }
    .map_err(AppError::could_not_run)
}

/// Log lines written so far (those tui-logger keeps: info and above), for the log's scroll.
static LOG_LINES: AtomicU64 = AtomicU64::new(0);

/// Counts the log lines that reach tui-logger, so that a scrolled-back log view can stay on the
/// lines it shows while new ones arrive.
struct LineCounter;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for LineCounter {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if *event.metadata().level() <= tracing::Level::INFO {
            LOG_LINES.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Route tracing into tui-logger's buffer: nothing is printed to the terminal under the TUI.
fn init_logging() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let _ = tui_logger::init_logger(tui_logger::LevelFilter::Info);
    tui_logger::set_default_level(tui_logger::LevelFilter::Info);
    let _ = tracing_subscriber::registry()
        .with(crate::logging::filter(crate::logging::DEFAULT))
        .with(tui_logger::TuiTracingSubscriberLayer)
        .with(LineCounter)
        .try_init();
}

/// Forward observations to the recorder, holding back samples and cluster events while
/// recording is paused (actions, steps, findings and measurements are always kept, so the
/// timeline stays replayable).
fn recording_gate(
    mut from: broadcast::Receiver<Observation>,
    to: broadcast::Sender<Observation>,
    recording: watch::Receiver<bool>,
) {
    tokio::spawn(async move {
        loop {
            match from.recv().await {
                Ok(observation) => {
                    let keep = *recording.borrow()
                        || !matches!(
                            observation,
                            Observation::Sample(_) | Observation::Cluster(_)
                        );
                    if keep {
                        // An error only means nobody records any more.
                        let _ = to.send(observation);
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
    });
}

/// Run the dashboard until the operator quits.
pub async fn run(options: TuiOptions) -> Result<(), AppError> {
    let profile = load_profile(options.profile.as_deref())?;
    let mut signals = Signals::new().map_err(AppError::could_not_run)?;
    init_logging();
    eprintln!(
        "parti-top: starting {} (nats-server, {} host process(es))…",
        profile.name, profile.cluster.hosts
    );
    let workbench_options = WorkbenchOptions {
        nats_server: options.nats_server.clone(),
        auth: options.auth.clone(),
        server_url: options.server_url.clone(),
        host_env: Vec::new(),
    };
    let workbench = tokio::select! {
        started = Workbench::start(&profile, workbench_options) => Arc::new(started?),
        signal = signals.next() => return Err(AppError::could_not_run(format!("{signal} during start-up"))),
    };
    let path = options
        .record
        .clone()
        .unwrap_or_else(|| crate::headless::default_recording_path(&profile, workbench.run_id()));
    let header = crate::headless::header(&workbench, &profile, RunMode::Interactive);
    let (record_tx, record_rx) = broadcast::channel(OBSERVATION_BUFFER);
    let (recording_tx, recording_rx) = watch::channel(true);
    recording_gate(workbench.subscribe(), record_tx, recording_rx);
    let recorder = Recorder::spawn(header, path.clone(), record_rx, Duration::from_secs(2));

    let facts = RunFacts {
        run_id: workbench.run_id().to_owned(),
        profile: profile.name.clone(),
        nats_url: workbench.server_url().to_owned(),
        nats_version: workbench.nats_version().map(str::to_owned),
        nats_up: true,
        managed: workbench.is_managed(),
        recording_path: Some(path.display().to_string()),
        recording: true,
        connect: workbench.connect_hints(),
    };
    for line in &facts.connect {
        tracing::info!("{line}");
    }
    let mut model = Model::new(facts, profile.steps.len());
    let scenario_cancel = CancellationToken::new();
    let scenario = {
        let (workbench, cancel, steps) = (
            workbench.clone(),
            scenario_cancel.clone(),
            profile.steps.clone(),
        );
        tokio::spawn(async move { crate::scenario::run(&workbench, &steps, 0, &cancel).await })
    };

    let mut terminal = ratatui::init();
    let outcome = event_loop(
        &mut terminal,
        &workbench,
        &mut model,
        &mut signals,
        &recording_tx,
    )
    .await;
    // Shut down in order, showing it on the dashboard.
    model.quitting = true;
    let _ = terminal.draw(|frame| view::render(&model, frame));
    scenario_cancel.cancel();
    let _ = scenario.await;
    workbench.stop_workers().await;
    let thresholds = profile.thresholds.clone();
    let saved = recorder
        .finish(move |recording, dropped| summary::summarize(recording, &thresholds, dropped))
        .await;
    workbench.shutdown().await;
    ratatui::restore();
    outcome?;
    match saved {
        Ok((path, _)) => {
            println!("parti-top: recording saved to {}", path.display());
            Ok(())
        }
        Err(err) => Err(AppError::could_not_run(err)),
    }
}

async fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    workbench: &Arc<Workbench>,
    model: &mut Model,
    signals: &mut Signals,
    recording: &watch::Sender<bool>,
) -> Result<(), AppError> {
    let mut events = EventStream::new();
    let mut observations = workbench.subscribe();
    let mut state = workbench.state();
    let (done_tx, mut done_rx) = mpsc::unbounded_channel();
    let mut frame = tokio::time::interval(FRAME);
    frame.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // `dirty`: draw now. `changed`: something arrived since the last frame, draw on the next tick.
    let mut dirty = true;
    let mut changed = false;
    let mut drawn_at = tokio::time::Instant::now();
    if let Ok(size) = terminal.size() {
        update(model, Msg::Resized { rows: size.height });
    }
    loop {
        if dirty {
            tui_logger::move_events();
            update(model, Msg::LogWritten(LOG_LINES.load(Ordering::Relaxed)));
            terminal
                .draw(|f| view::render(model, f))
                .map_err(AppError::could_not_run)?;
            dirty = false;
            changed = false;
            drawn_at = tokio::time::Instant::now();
        }
        let msg = tokio::select! {
            event = events.next() => match event {
                Some(Ok(Event::Key(key))) => Some(Msg::Key(key)),
                Some(Ok(Event::Resize(_, rows))) => { dirty = true; Some(Msg::Resized { rows }) }
                Some(Ok(_)) => None,
                Some(Err(err)) => return Err(AppError::could_not_run(format!("terminal input failed: {err}"))),
                None => return Ok(()),
            },
            received = observations.recv() => match received {
                Ok(observation) => Some(Msg::Observation(Box::new(observation))),
                Err(broadcast::error::RecvError::Lagged(n)) => Some(Msg::Lagged(n)),
                Err(broadcast::error::RecvError::Closed) => return Ok(()),
            },
            changed = state.changed() => match changed {
                Ok(()) => Some(Msg::Cluster(Box::new(state.borrow_and_update().clone()))),
                Err(_) => return Ok(()),
            },
            Some((action, error)) = done_rx.recv() => Some(Msg::ActionDone { action, error }),
            _ = frame.tick() => {
                // Redraw on the frame clock when something changed since the last frame, and
                // at least once a second.
                update(model, Msg::Tick(workbench.now_ms()));
                dirty = changed || drawn_at.elapsed() >= IDLE_FRAME;
                None
            }
            signal = signals.next() => {
                tracing::info!("{signal}: quitting");
                return Ok(());
            }
        };
        let Some(msg) = msg else { continue };
        let is_key = matches!(msg, Msg::Key(_));
        changed = true;
        for effect in update(model, msg) {
            match effect {
                Effect::Act(action) => spawn_action(workbench.clone(), action, done_tx.clone()),
                Effect::SetRecording(on) => {
                    let _ = recording.send(on);
                }
                Effect::Quit => return Ok(()),
            }
        }
        // Keys redraw at once; the stream's updates wait for the next frame.
        if is_key {
            dirty = true;
        }
    }
}

fn spawn_action(
    workbench: Arc<Workbench>,
    action: Action,
    done: mpsc::UnboundedSender<(Action, Option<String>)>,
) {
    tokio::spawn(async move {
        let result = workbench.act(action.clone(), ActionSource::Operator).await;
        let _ = done.send((action, result.err()));
    });
}
