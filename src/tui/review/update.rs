//! The review's state and its pure update: `update(&mut ReviewModel, Msg) -> Vec<Effect>` moves
//! the cursor and the zoom, switches screens and answers keys that would act on a cluster with
//! "read-only". The dashboard's model at the cursor is rebuilt lazily ([`ReviewModel::refresh`],
//! before a draw) and only when the cursor or the zoom changed.

use std::borrow::Cow;

use crossterm::event::KeyEvent;

use crate::tui::model::{Model, Screen};
use crate::tui::view::format;

use super::keys::{self, Command};
use super::prepared::Reviewed;
use super::state::state_at;
use super::zoom::Zoom;

/// How far ←/→ move the cursor.
pub const SECOND_MS: u64 = 1000;

/// Something that happened, for the review.
#[derive(Clone, Debug)]
pub enum Msg {
    Key(KeyEvent),
    /// The terminal is now this many rows tall.
    Resized {
        rows: u16,
    },
}

/// What the shell must do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Something on screen changed.
    Redraw,
    Quit,
}

/// A one-line message in the footer until the next key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub text: String,
    pub error: bool,
}

/// The dashboard's model as built for one cursor and zoom.
#[derive(Clone, Debug)]
struct Built {
    cursor_ms: u64,
    zoom: Zoom,
    model: Model,
}

/// Everything the review shows.
#[derive(Clone, Debug)]
pub struct ReviewModel {
    pub recording: Reviewed,
    /// Milliseconds since the run started, within `0..=duration`.
    pub cursor_ms: u64,
    pub zoom: Zoom,
    pub screen: Screen,
    pub help: bool,
    pub log_pane: bool,
    /// The selected row of the worker table.
    pub selected: usize,
    pub message: Option<Message>,
    pub screen_rows: u16,
    built: Option<Built>,
    /// How many times the model at the cursor was built (it is rebuilt only when the cursor or
    /// the zoom moved).
    pub builds: u64,
}

impl ReviewModel {
    /// A review of `recording` with the cursor at the start and the charts over the whole run.
    pub fn new(recording: Reviewed) -> Self {
        ReviewModel {
            recording,
            cursor_ms: 0,
            zoom: Zoom::WHOLE,
            screen: Screen::Dashboard,
            help: false,
            log_pane: true,
            selected: 0,
            message: None,
            screen_rows: 24,
            built: None,
            builds: 0,
        }
    }

    /// The run's length.
    pub fn duration_ms(&self) -> u64 {
        self.recording.duration_ms
    }

    /// Rebuild the dashboard's model if the cursor or the zoom moved since it was built.
    pub fn refresh(&mut self) {
        let fresh = self
            .built
            .as_ref()
            .is_some_and(|b| b.cursor_ms == self.cursor_ms && b.zoom == self.zoom);
        if !fresh {
            let model = state_at(&self.recording, self.cursor_ms, self.zoom);
            self.builds += 1;
            self.built = Some(Built {
                cursor_ms: self.cursor_ms,
                zoom: self.zoom,
                model,
            });
        }
        if let Some(built) = &mut self.built {
            built.model.log_pane = self.log_pane;
            built.model.screen = self.screen;
            built.model.screen_rows = self.screen_rows;
            let rows = built.model.cluster.workers.len();
            self.selected = self.selected.min(rows.saturating_sub(1));
            built.model.selected = self.selected;
        }
    }

    /// The dashboard's model at the cursor: the one [`Self::refresh`] built, or a new one.
    pub fn shown(&self) -> Cow<'_, Model> {
        match &self.built {
            Some(b) if b.cursor_ms == self.cursor_ms && b.zoom == self.zoom => {
                Cow::Borrowed(&b.model)
            }
            _ => {
                let mut model = state_at(&self.recording, self.cursor_ms, self.zoom);
                model.log_pane = self.log_pane;
                model.screen = self.screen;
                model.selected = self
                    .selected
                    .min(model.cluster.workers.len().saturating_sub(1));
                Cow::Owned(model)
            }
        }
    }

    fn say(&mut self, text: impl Into<String>, error: bool) {
        self.message = Some(Message {
            text: text.into(),
            error,
        });
    }

    fn move_to(&mut self, cursor_ms: u64) {
        self.cursor_ms = cursor_ms.min(self.duration_ms());
    }

    /// A tenth of the run, at least a second.
    fn tenth_ms(&self) -> u64 {
        (self.duration_ms() / 10).max(SECOND_MS)
    }
}

fn step(cursor_ms: u64, by_ms: u64, direction: i8) -> u64 {
    if direction < 0 {
        cursor_ms.saturating_sub(by_ms)
    } else {
        cursor_ms.saturating_add(by_ms)
    }
}

/// The name of a command's first key (for messages).
fn key_name(command: Command) -> String {
    keys::binding(command)
        .and_then(|b| b.keys.first())
        .map(|k| k.name())
        .unwrap_or_default()
}

/// Apply one message.
pub fn update(review: &mut ReviewModel, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Resized { rows } => {
            review.screen_rows = rows;
            vec![Effect::Redraw]
        }
        Msg::Key(key) => on_key(review, &key),
    }
}

fn on_key(review: &mut ReviewModel, key: &KeyEvent) -> Vec<Effect> {
    let had_message = review.message.take().is_some();
    let Some(command) = keys::command(key) else {
        if keys::read_only(key) {
            review.say(
                "read-only: a review replays a recording and acts on no cluster",
                true,
            );
            return vec![Effect::Redraw];
        }
        return if had_message {
            vec![Effect::Redraw]
        } else {
            Vec::new()
        };
    };
    match command {
        Command::Quit => return vec![Effect::Quit],
        Command::Back if review.help => review.help = false,
        Command::Back if review.screen != Screen::Dashboard => review.screen = Screen::Dashboard,
        Command::Back => return vec![Effect::Quit],
        Command::Second(direction) => {
            review.move_to(step(review.cursor_ms, SECOND_MS, direction));
        }
        Command::Tenth(direction) => {
            let by = review.tenth_ms();
            review.move_to(step(review.cursor_ms, by, direction));
        }
        Command::Start => review.move_to(0),
        Command::End => review.move_to(review.duration_ms()),
        Command::PreviousTarget | Command::NextTarget => {
            let target = if command == Command::NextTarget {
                review.recording.next_target(review.cursor_ms)
            } else {
                review.recording.previous_target(review.cursor_ms)
            }
            .map(|t| (t.t_ms, t.label.clone()));
            match target {
                Some((t_ms, label)) => {
                    review.move_to(t_ms);
                    review.say(format!("{label} at {}", format::clock(t_ms)), false);
                }
                None if command == Command::NextTarget => {
                    review.say("no event or mark after the cursor", false);
                }
                None => review.say("no event or mark before the cursor", false),
            }
        }
        Command::ZoomIn => match review.zoom.zoom_in(review.duration_ms()) {
            Some(zoom) => review.zoom = zoom,
            None => review.say(
                format!("the charts show {}: the closest zoom", review.zoom.label()),
                false,
            ),
        },
        Command::ZoomOut => match review.zoom.zoom_out(review.duration_ms()) {
            Some(zoom) => review.zoom = zoom,
            None => review.say(
                format!(
                    "the charts show the whole run ({} zooms in)",
                    key_name(Command::ZoomIn)
                ),
                false,
            ),
        },
        Command::Down => review.selected = review.selected.saturating_add(1),
        Command::Up => review.selected = review.selected.saturating_sub(1),
        Command::ToggleLogPane => review.log_pane = !review.log_pane,
        Command::Show(screen) => review.screen = screen,
        Command::ToggleHelp => review.help = !review.help,
    }
    vec![Effect::Redraw]
}
