//! The controller's sampling cost: one `sampler::sample` tick reading RSS and CPU of hosts,
//! nats-server and the controller from /proc. At a 1 Hz sample rate the share of one core is
//! the per-tick time divided by one second.

use criterion::{Criterion, criterion_group, criterion_main};
use parti_top::procfs::CpuMeter;
use parti_top::workbench::sampler::{Targets, sample};

fn sampling(c: &mut Criterion) {
    // Three processes that exist for the whole benchmark: this process stands in for a host
    // and for nats-server, the way the controller reads foreign pids.
    let targets = Targets::default();
    let own = std::process::id();
    targets.set_host(0, Some(own));
    targets.set_nats(Some(own));
    let mut meter = CpuMeter::default();
    c.bench_function("sample: 1 host + nats-server + controller", |b| {
        b.iter(|| sample(&targets, &mut meter, 0));
    });
    for hosts in [4u32, 16] {
        let targets = Targets::default();
        for host in 0..hosts {
            targets.set_host(host, Some(own));
        }
        targets.set_nats(Some(own));
        c.bench_function(
            &format!("sample: {hosts} hosts + nats-server + controller"),
            |b| {
                b.iter(|| sample(&targets, &mut meter, 0));
            },
        );
    }
}

criterion_group!(benches, sampling);
criterion_main!(benches);
