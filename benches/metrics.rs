//! The cost of one scrape's rendering (`metrics::render`) at 50, 250 and 1,000 workers, every
//! worker with an ID, a state, partitions, a version and a heartbeat age, plus four hosts,
//! nats-server and the controller. Goal: well under a millisecond per 100 workers, so a
//! 15 s scrape interval costs nothing a run can notice.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use parti_top::metrics::{ClusterFigures, Figures, ProcessFigures, WorkerFigures, render};
use parti_top::parti::state::State;

fn figures(workers: usize) -> Figures {
    let processes = [
        "controller",
        "nats-server",
        "host-0",
        "host-1",
        "host-2",
        "host-3",
    ];
    Figures {
        mode: "headless".into(),
        run_id: Some("0123abcd".into()),
        cluster: ClusterFigures {
            workers: (0..workers)
                .map(|n| WorkerFigures {
                    worker_id: Some(format!("worker-{n}")),
                    state: Some(if n % 10 == 0 {
                        State::Scaling
                    } else {
                        State::Stable
                    }),
                    partitions: 10,
                    assignment_version: Some(42),
                    heartbeat_age: Some(Duration::from_millis(137 + n as u64)),
                })
                .collect(),
            leader: Some("worker-0".into()),
            leader_changes: 3,
            assignment_version: Some(42),
            stable: Some(true),
        },
        processes: processes
            .iter()
            .map(|p| ProcessFigures {
                process: (*p).to_owned(),
                rss_bytes: 123 << 20,
                live_heap_bytes: Some(45 << 20),
                tasks: Some(2_000),
                workers: Some(250),
                cpu_seconds: Some(12.345),
            })
            .collect(),
        ..Figures::default()
    }
}

fn bench(c: &mut Criterion) {
    for workers in [50, 250, 1_000] {
        let figures = figures(workers);
        let bytes = render(&figures).len();
        c.bench_function(&format!("render {workers} workers ({bytes} bytes)"), |b| {
            b.iter(|| black_box(render(black_box(&figures))).len());
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
