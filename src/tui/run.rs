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
use tokio::sync::{broadcast, mpsc};

use super::model::{Model, RunFacts};
use super::update::{Effect, Msg, update};
use super::view;
use crate::action::{Action, ActionSource};
use crate::error::AppError;
use crate::metrics::{Live, RunSource};
use crate::profile::{self, Profile};
use crate::record::format::RunMode;
use crate::session::{Finished, Scenario, Session, SessionOptions};
use crate::signals::Signals;
use crate::workbench::{Workbench, WorkbenchOptions};

/// The profile `parti-top` runs with no `--profile`.
pub const DEFAULT_PROFILE: &str = include_str!("../../profiles/default.ron");

/// How often the screen is redrawn when something changed.
const FRAME: Duration = Duration::from_millis(200);

/// How often the screen is redrawn when nothing changed (the clock and the charts' time axis
/// still move).
const IDLE_FRAME: Duration = Duration::from_secs(1);

/// Where the built-in default profile comes from, as errors name it.
pub const DEFAULT_PROFILE_PATH: &str = "profiles/default.ron";

/// What the dashboard runs.
#[derive(Clone, Debug)]
pub struct TuiOptions {
    pub profile: Profile,
    pub scenario: Scenario,
    pub mode: RunMode,
    pub record: Option<PathBuf>,
    pub workbench: WorkbenchOptions,
    /// `--metrics ADDR`: serve the live figures for Prometheus (docs/metrics.md).
    pub metrics: Option<std::net::SocketAddr>,
}

/// Load the profile to run: the given file, or the built-in default.
pub fn load_profile(path: Option<&std::path::Path>) -> Result<Profile, AppError> {
    match path {
        Some(path) => profile::load(path),
        None => profile::parse(DEFAULT_PROFILE, std::path::Path::new(DEFAULT_PROFILE_PATH)),
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

/// Run the dashboard on a session until the operator quits; the finished session comes back
/// once the terminal is restored.
pub async fn run(options: TuiOptions) -> Result<Finished, AppError> {
    let TuiOptions {
        profile,
        scenario,
        mode,
        record,
        workbench,
        metrics,
    } = options;
    let mut signals = Signals::new().map_err(AppError::could_not_run)?;
    init_logging();
    let metrics = Live::start(metrics, RunSource::mode_name(&mode)).await?;
    eprintln!(
        "parti-top: starting {} (nats-server, {} host process(es))…",
        profile.name, profile.cluster.hosts
    );
    let steps_total = profile.total_steps();
    let options = SessionOptions {
        mode: mode.clone(),
        record,
        workbench,
    };
    let session = tokio::select! {
        started = Session::start(profile.clone(), scenario, options) => started?,
        signal = signals.next() => return Err(AppError::could_not_run(format!("{signal} during start-up"))),
    };
    let workbench = session.workbench().clone();
    if let Some(metrics) = &metrics {
        let ages = workbench.clone();
        metrics.follow_run(RunSource::new(
            &mode,
            workbench.run_id(),
            workbench.state(),
            workbench.subscribe(),
            move || ages.heartbeat_ages(),
        ));
    }
    let facts = RunFacts {
        run_id: workbench.run_id().to_owned(),
        profile: match &mode {
            RunMode::Replay { source } => format!("{} (replay of {source})", profile.name),
            RunMode::Headless | RunMode::Interactive => profile.name.clone(),
        },
        nats_url: workbench.server_url().to_owned(),
        nats_version: workbench.nats_version().map(str::to_owned),
        nats_up: true,
        managed: workbench.is_managed(),
        nats_nodes: workbench.nats_nodes(),
        proxied: workbench.proxied(),
        recording_path: Some(session.recording_path().display().to_string()),
        recording: true,
        connect: workbench.connect_hints(),
    };
    for line in &facts.connect {
        tracing::info!("{line}");
    }
    let mut model = Model::new(facts, steps_total);
    let mut terminal = ratatui::init();
    let outcome = event_loop(&mut terminal, &session, &mut model, &mut signals).await;
    // Shut down in order, showing it on the dashboard.
    model.quitting = true;
    let _ = terminal.draw(|frame| view::render(&model, frame));
    let finished = session.finish().await;
    ratatui::restore();
    outcome?;
    finished
}

async fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    session: &Session,
    model: &mut Model,
    signals: &mut Signals,
) -> Result<(), AppError> {
    let workbench = session.workbench();
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
                Effect::SetRecording(on) => session.set_recording(on),
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
