//! The cost of drawing one dashboard frame: the sample model rendered into a `TestBackend`
//! (layout, charts, tables, the diff against the previous frame), at 160×48 and 80×24, plus a
//! two-hour run drawn over its whole length (full series, thinned to the chart's width), and a
//! cluster of 1,000 workers (the worker table scrolled to the middle).
//! Goal: at most 2 ms per frame at 160×48.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use parti_top::observation::ProcessKind;
use parti_top::tui::fixtures::sample_model;
use parti_top::tui::model::{MemoryPoint, Model, Screen, Window};
use parti_top::tui::view::render;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn frame(c: &mut Criterion, name: &str, model: &Model, width: u16, height: u16) {
    let mut terminal = match Terminal::new(TestBackend::new(width, height)) {
        Ok(terminal) => terminal,
        Err(never) => match never {},
    };
    c.bench_function(name, |b| {
        b.iter(|| {
            let drawn = terminal.draw(|f| render(black_box(model), f));
            black_box(drawn.is_ok())
        });
    });
}

/// The sample model after two hours at two samples a second, shown over the whole run.
fn long_run() -> Model {
    let mut model = sample_model();
    let end_ms = 2 * 3600 * 1000;
    for process in [
        ProcessKind::Host(0),
        ProcessKind::Host(1),
        ProcessKind::NatsServer,
        ProcessKind::Controller,
    ] {
        for t_ms in (0..end_ms).step_by(500) {
            model.push_memory(
                process,
                MemoryPoint {
                    t_ms,
                    rss_bytes: (40 << 20) + (t_ms / 500 % 97) * 4096,
                    live_heap_bytes: Some((12 << 20) + (t_ms / 500 % 31) * 4096),
                    tasks: Some(60 + t_ms / 500 % 7),
                    cpu_percent: Some(1.0),
                },
            );
        }
    }
    model.now_ms = end_ms;
    model.window = Window::Whole;
    model
}

/// The sample model with 1,000 workers over 4 hosts, the 500th selected.
fn thousand_workers() -> Model {
    let mut model = sample_model();
    let template = model.cluster.workers[0].clone();
    model.cluster.workers = (0..1000u32)
        .map(|n| {
            let mut worker = template.clone();
            worker.host = n % 4;
            worker.slot = u64::from(n / 4);
            worker.worker_id = Some(format!("worker-{n}"));
            worker.is_leader = n == 0;
            worker.partitions = 10;
            worker
        })
        .collect();
    model.selected = 500;
    model
}

fn render_frames(c: &mut Criterion) {
    let model = sample_model();
    frame(c, "render: dashboard 160x48", &model, 160, 48);
    frame(c, "render: dashboard 80x24", &model, 80, 24);
    let mut findings = sample_model();
    findings.screen = Screen::Findings;
    frame(c, "render: findings 160x48", &findings, 160, 48);
    frame(c, "render: dashboard 160x48, 2 h run", &long_run(), 160, 48);
    frame(
        c,
        "render: dashboard 160x48, 1000 workers",
        &thousand_workers(),
        160,
        48,
    );
}

criterion_group!(benches, render_frames);
criterion_main!(benches);
