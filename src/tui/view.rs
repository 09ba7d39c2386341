//! Rendering the dashboard from a shared reference to the model.

use ratatui::Frame;

use super::model::Model;

/// Draw the current screen.
pub fn render(model: &Model, frame: &mut Frame) {
    let _ = (model, frame);
}
