//! The review's shell: the only part of a review that touches the terminal. It turns crossterm
//! events into [`Msg`]s, applies [`update`], and draws when something changed (the model at the
//! cursor is rebuilt just before drawing). `q`, Esc, Ctrl-C, SIGTERM, SIGHUP and SIGINT all
//! quit; `ratatui::init` restores the terminal on a panic too.

use crossterm::event::{Event, EventStream};
use futures::StreamExt;

use super::update::{Effect, Msg, ReviewModel, update};
use super::view;
use crate::error::AppError;
use crate::signals::Signals;

/// Show `review` until the operator quits.
pub async fn run(mut review: ReviewModel) -> Result<(), AppError> {
    let mut signals = Signals::new().map_err(AppError::could_not_run)?;
    let mut terminal = ratatui::init();
    let outcome = event_loop(&mut terminal, &mut review, &mut signals).await;
    ratatui::restore();
    outcome
}

async fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    review: &mut ReviewModel,
    signals: &mut Signals,
) -> Result<(), AppError> {
    let mut events = EventStream::new();
    if let Ok(size) = terminal.size() {
        update(review, Msg::Resized { rows: size.height });
    }
    let mut dirty = true;
    loop {
        if dirty {
            review.refresh();
            terminal
                .draw(|frame| view::render(review, frame))
                .map_err(AppError::could_not_run)?;
            dirty = false;
        }
        let msg = tokio::select! {
            event = events.next() => match event {
                Some(Ok(Event::Key(key))) => Msg::Key(key),
                Some(Ok(Event::Resize(_, rows))) => Msg::Resized { rows },
                Some(Ok(_)) => continue,
                Some(Err(err)) => {
                    return Err(AppError::could_not_run(format!("terminal input failed: {err}")));
                }
                None => return Ok(()),
            },
            _ = signals.next() => return Ok(()),
        };
        for effect in update(review, msg) {
            match effect {
                Effect::Redraw => dirty = true,
                Effect::Quit => return Ok(()),
            }
        }
    }
}
