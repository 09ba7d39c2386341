//! The cost of one autosave of an interactive recording: copying the recording and writing it
//! atomically (serialize, write a temp file, fsync, rename), after 10 minutes and after 2 hours
//! of samples at the dashboard's default rate (two a second, one host). The recorder spaces
//! autosaves at least 100 × this cost apart, so the figure says how far apart they get.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use parti_top::observation::{Observation, ProcessKind, ProcessSample, Sample};
use parti_top::record::format::{Header, Recording, RunMode};
use parti_top::record::io::save_atomic;
use parti_top::tui::run::load_profile;

fn recording(minutes: u64) -> Recording {
    let profile = match load_profile(None) {
        Ok(profile) => profile,
        Err(err) => panic!("default profile: {err}"),
    };
    let mut recording = Recording::new(Header::new(RunMode::Interactive, profile, "bench000"));
    for t_ms in (0..minutes * 60_000).step_by(500) {
        let process = |process, pid, rss_bytes: u64, heap: Option<u64>| ProcessSample {
            process,
            pid,
            rss_bytes: rss_bytes + t_ms % 7919 * 4096,
            live_heap_bytes: heap,
            tasks: matches!(process, ProcessKind::Host(_)).then_some(23),
            workers: matches!(process, ProcessKind::Host(_)).then_some(3),
            cpu_percent: Some(1.998_765_432_1),
        };
        recording.push(Observation::Sample(Sample {
            t_ms,
            load: None,
            processes: vec![
                process(ProcessKind::Host(0), 4242, 16 << 20, Some(4 << 20)),
                process(ProcessKind::NatsServer, 4241, 30 << 20, None),
                process(ProcessKind::Controller, 4240, 20 << 20, Some(7 << 20)),
            ],
        }));
    }
    recording
}

fn autosave(c: &mut Criterion) {
    let dir = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(err) => panic!("tempdir: {err}"),
    };
    let mut group = c.benchmark_group("autosave");
    group.sample_size(10);
    for minutes in [10u64, 120] {
        let recording = recording(minutes);
        let path = dir.path().join(format!("{minutes}.ron"));
        group.bench_function(format!("{minutes} min interactive recording"), |b| {
            b.iter(|| {
                let copy = recording.clone();
                black_box(save_atomic(&copy, &path).is_ok())
            });
        });
        let bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
        println!("autosave: {minutes} min recording is {bytes} bytes");
    }
    group.finish();
}

criterion_group!(benches, autosave);
criterion_main!(benches);
