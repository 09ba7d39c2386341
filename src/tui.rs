//! The interactive dashboard: a TEA shell around the workbench. `model` is plain data,
//! `keymap` and `update` are pure, `view` renders from a shared reference, and `run` is the
//! only part that touches the terminal. `review` shows a recorded run through the same views,
//! at a time cursor.

pub mod fixtures;
pub mod keymap;
pub mod model;
pub mod review;
pub mod run;
pub mod update;
pub mod view;
