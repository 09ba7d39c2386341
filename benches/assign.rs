//! A18: assignment calculation micro-benchmark (parti-stress-harness.md §9).
//!
//! Times `Strategy::assign` for ConsistentHash and WeightedConsistentHash on five inputs, "warm"
//! (strategy reused, ring cached) and "cold" (ring rebuilt every call). Before the timed runs it
//! prints two tables to stdout: heap bytes allocated per assign call (jemalloc's per-thread
//! counter; the bench uses jemalloc as the `parti-top` binary does) and partition movement when
//! one worker is added (W → W+1).
//!
//! Run: `cargo bench --bench assign -- --warm-up-time 1 --measurement-time 3`.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion};
use parti_top::parti::partition::Partition;
use parti_top::parti::strategy::{
    AssignmentMap, ConsistentHash, Ring, Strategy, WeightedConsistentHash, balance, movement,
};

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// How the partition weights of a case are chosen.
#[derive(Clone, Copy)]
enum Weights {
    /// Every partition weight 100.
    Equal,
    /// Every 10th partition weight 500, the others 100.
    Skew10,
    /// Uniform in 50..=200 from a fixed-seed splitmix64 stream.
    Random50To200,
}

struct Case {
    name: &'static str,
    workers: usize,
    partitions: usize,
    weights: Weights,
}

const CASES: [Case; 5] = [
    Case {
        name: "W16-P1K-equal",
        workers: 16,
        partitions: 1_000,
        weights: Weights::Equal,
    },
    Case {
        name: "W16-P1K-skew10",
        workers: 16,
        partitions: 1_000,
        weights: Weights::Skew10,
    },
    Case {
        name: "W64-P5K-equal",
        workers: 64,
        partitions: 5_000,
        weights: Weights::Equal,
    },
    Case {
        name: "W64-P5K-random",
        workers: 64,
        partitions: 5_000,
        weights: Weights::Random50To200,
    },
    Case {
        name: "W128-P10K-equal",
        workers: 128,
        partitions: 10_000,
        weights: Weights::Equal,
    },
];

/// Seed of the weight stream for the random case.
const RANDOM_SEED: u64 = 0x05ee_da18;

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn workers(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("worker-{i}")).collect()
}

fn partitions(case: &Case) -> Vec<Partition> {
    let mut rng = RANDOM_SEED;
    (0..case.partitions)
        .map(|i| {
            let weight = match case.weights {
                Weights::Equal => 100,
                Weights::Skew10 if i % 10 == 0 => 500,
                Weights::Skew10 => 100,
                Weights::Random50To200 => 50 + (splitmix64(&mut rng) % 151) as i64,
            };
            Partition::new([format!("partition-{i}")], weight)
        })
        .collect()
}

fn assign(strategy: &dyn Strategy, workers: &[String], parts: &[Partition]) -> AssignmentMap {
    strategy
        .assign(workers, parts)
        .expect("benchmark inputs always have workers and keyed partitions")
}

/// Bytes jemalloc has handed to this thread so far (monotonic).
fn thread_allocated_bytes() -> Option<u64> {
    let mib = tikv_jemalloc_ctl::thread::allocatedp::mib().ok()?;
    Some(mib.read().ok()?.get())
}

fn bytes_for(f: impl FnOnce() -> AssignmentMap) -> String {
    let before = thread_allocated_bytes();
    let map = f();
    let after = thread_allocated_bytes();
    drop(black_box(map));
    match (before, after) {
        (Some(b), Some(a)) => format!("{:.1} KiB", (a - b) as f64 / 1024.0),
        _ => "n/a".into(),
    }
}

fn print_tables() {
    println!("A18 heap allocated per assign call (jemalloc thread.allocatedp)");
    println!("| case | CH warm | CH cold | WCH warm | WCH cold |");
    println!("|---|---|---|---|---|");
    for case in &CASES {
        let w = workers(case.workers);
        let p = partitions(case);
        let ch = ConsistentHash::new();
        let wch = WeightedConsistentHash::new();
        assign(&ch, &w, &p);
        assign(&wch, &w, &p);
        println!(
            "| {} | {} | {} | {} | {} |",
            case.name,
            bytes_for(|| assign(&ch, &w, &p)),
            bytes_for(|| ch.assign_cold(&w, &p).expect("valid input")),
            bytes_for(|| assign(&wch, &w, &p)),
            bytes_for(|| wch.assign_cold(&w, &p).expect("valid input")),
        );
    }
    println!();
    println!("A18 movement when one worker is added (W -> W+1), and balance (max/min count)");
    println!("| case | CH moved | CH balance W / W+1 | WCH moved | WCH balance W / W+1 |");
    println!("|---|---|---|---|---|");
    for case in &CASES {
        let p = partitions(case);
        let before_workers = workers(case.workers);
        let after_workers = workers(case.workers + 1);
        let mut cells = Vec::new();
        let strategies: [&dyn Strategy; 2] =
            [&ConsistentHash::new(), &WeightedConsistentHash::new()];
        for strategy in strategies {
            let before = assign(strategy, &before_workers, &p);
            let after = assign(strategy, &after_workers, &p);
            let m = movement(&before, &after);
            cells.push(format!("{:.2} % ({}/{})", m.percent(), m.moved, m.total));
            cells.push(format!(
                "{:.2} / {:.2}",
                balance(&before).unwrap_or(f64::NAN),
                balance(&after).unwrap_or(f64::NAN)
            ));
        }
        println!("| {} | {} |", case.name, cells.join(" | "));
    }
    println!();
}

fn bench_assign(c: &mut Criterion) {
    for case in &CASES {
        let w = workers(case.workers);
        let p = partitions(case);

        let mut group = c.benchmark_group("consistent-hash");
        let ch = ConsistentHash::new();
        assign(&ch, &w, &p);
        group.bench_function(BenchmarkId::new("warm", case.name), |b| {
            b.iter(|| ch.assign(black_box(&w), black_box(&p)))
        });
        group.bench_function(BenchmarkId::new("cold", case.name), |b| {
            b.iter(|| ch.assign_cold(black_box(&w), black_box(&p)))
        });
        group.finish();

        let mut group = c.benchmark_group("weighted-consistent-hash");
        let wch = WeightedConsistentHash::new();
        assign(&wch, &w, &p);
        group.bench_function(BenchmarkId::new("warm", case.name), |b| {
            b.iter(|| wch.assign(black_box(&w), black_box(&p)))
        });
        group.bench_function(BenchmarkId::new("cold", case.name), |b| {
            b.iter(|| wch.assign_cold(black_box(&w), black_box(&p)))
        });
        group.finish();
    }
}

/// The parts of a cold assign: building the ring, and hashing plus looking up every partition.
fn bench_ring(c: &mut Criterion) {
    let mut group = c.benchmark_group("ring");
    for (w, v) in [(16, 150), (64, 150), (128, 150), (64, 50), (64, 500)] {
        let names = workers(w);
        group.bench_function(BenchmarkId::new("build", format!("W{w}-V{v}")), |b| {
            b.iter(|| Ring::new(black_box(&names), v, 0))
        });
    }
    let ring = Ring::new(&workers(64), 150, 0);
    let parts = partitions(&CASES[2]);
    group.bench_function(BenchmarkId::new("lookup", "W64-V150-P5K"), |b| {
        b.iter(|| {
            black_box(&parts)
                .iter()
                .map(|p| ring.owner_index(p).unwrap_or(0))
                .sum::<usize>()
        })
    });
    group.finish();
}

fn main() {
    print_tables();
    let mut criterion = Criterion::default().configure_from_args();
    bench_ring(&mut criterion);
    bench_assign(&mut criterion);
    criterion.final_summary();
}
