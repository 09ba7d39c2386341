use super::*;

const T0: u64 = 1_790_000_000_000_000;

fn id(partition: u32, seq: u64) -> MessageId {
    MessageId {
        producer: 0,
        partition,
        seq,
    }
}

fn sent(partition: u32, seq: u64, sent_us: u64) -> SentRecord {
    SentRecord {
        id: id(partition, seq),
        sent_us,
    }
}

fn delivery(
    partition: u32,
    seq: u64,
    worker: &str,
    delivered: u32,
    done_us: u64,
    outcome: Outcome,
) -> DeliveryRecord {
    DeliveryRecord {
        id: id(partition, seq),
        worker: worker.to_owned(),
        delivered,
        sent_us: T0 + seq * 1000,
        received_us: done_us.saturating_sub(100),
        done_us,
        outcome,
    }
}

fn batch(reporter: &str, n: u64, s: Vec<SentRecord>, d: Vec<DeliveryRecord>) -> ReportBatch {
    ReportBatch {
        reporter: reporter.to_owned(),
        batch: n,
        sent: s,
        deliveries: d,
    }
}

/// `count` messages on partition 0, sent 1 ms apart from T0 + 1 ms.
fn sent_batch(count: u64) -> ReportBatch {
    batch(
        "producer-0",
        0,
        (1..=count).map(|s| sent(0, s, T0 + s * 1000)).collect(),
        vec![],
    )
}

#[test]
fn everything_acked_once_is_clean() {
    let mut ledger = Ledger::new();
    assert!(ledger.ingest(&sent_batch(100)));
    let acks = (1..=100)
        .map(|s| delivery(0, s, "w0", 1, T0 + s * 1000 + 500, Outcome::Acked))
        .collect();
    assert!(ledger.ingest(&batch("w0", 0, vec![], acks)));
    ledger.end_drain();
    let s = ledger.summary();
    assert_eq!(
        (s.sent, s.delivered, s.acked, s.lost, s.duplicated),
        (100, 100, 100, 0, 0)
    );
    assert_eq!((s.redelivered, s.in_flight, s.acked_unsent), (0, 0, 0));
    assert_eq!(s.latency_max_us, Some(500));
}

#[test]
fn unacked_is_in_flight_before_the_drain_ends_and_lost_after() {
    let mut ledger = Ledger::new();
    ledger.ingest(&sent_batch(10));
    let acks = (1..=10)
        .filter(|&s| s != 4 && s != 7)
        .map(|s| delivery(0, s, "w0", 1, T0 + s * 1000 + 10, Outcome::Acked))
        .collect();
    ledger.ingest(&batch("w0", 0, vec![], acks));
    let before = ledger.summary();
    assert_eq!((before.in_flight, before.lost, before.acked), (2, 0, 8));
    ledger.end_drain();
    let after = ledger.summary();
    assert_eq!((after.in_flight, after.lost, after.acked), (0, 2, 8));
}

#[test]
fn a_message_gone_from_the_stream_was_acked_by_a_process_that_died_before_reporting() {
    let mut ledger = Ledger::new();
    ledger.ingest(&sent_batch(5));
    let acks = (1..=3)
        .map(|s| delivery(0, s, "w0", 1, T0 + s * 1000 + 10, Outcome::Acked))
        .collect();
    ledger.ingest(&batch("w0", 0, vec![], acks));
    // 4 is still in the stream (nobody acked it); 5 is gone (acked, report lost).
    let stored = std::collections::HashSet::from([id(0, 4)]);
    ledger.end_drain_with_stored(&stored);
    let s = ledger.summary();
    assert_eq!((s.lost, s.ack_unreported, s.in_flight), (1, 1, 0));
    assert_eq!(ledger.unacked(10), vec![id(0, 4), id(0, 5)]);
}

#[test]
fn redelivery_is_not_duplication_and_a_second_ack_is() {
    let mut ledger = Ledger::new();
    ledger.ingest(&sent_batch(3));
    ledger.ingest(&batch(
        "w0",
        0,
        vec![],
        vec![
            // 1: ack failed, redelivered to w1, acked there: one ack, one redelivery.
            delivery(0, 1, "w0", 1, T0 + 10_000, Outcome::AckFailed),
            delivery(0, 1, "w1", 2, T0 + 40_000, Outcome::Acked),
            // 2: acked by w0, and also by w1 after an ack-wait expiry: a duplicate.
            delivery(0, 2, "w0", 1, T0 + 20_000, Outcome::Acked),
            delivery(0, 2, "w1", 2, T0 + 50_000, Outcome::Acked),
            // 3: fenced on w0, then acked by w1.
            delivery(0, 3, "w0", 1, T0 + 5_000, Outcome::Fenced),
            delivery(0, 3, "w1", 2, T0 + 9_000, Outcome::Acked),
        ],
    ));
    ledger.end_drain();
    let s = ledger.summary();
    assert_eq!(s.acked, 3);
    assert_eq!(s.duplicated, 1, "only message 2 was acked twice");
    assert_eq!(s.redelivered, 3);
    assert_eq!(s.deliveries, 6);
    assert_eq!((s.ack_failed, s.nak_by_fence, s.lost), (1, 1, 0));
    assert_eq!(ledger.first_ack(id(0, 2)), Some(("w0", T0 + 20_000)));
    assert_eq!(ledger.first_ack(id(0, 1)), Some(("w1", T0 + 40_000)));
}

#[test]
fn reordering_is_not_a_duplicate_and_order_of_reports_does_not_matter() {
    let records: Vec<DeliveryRecord> = (1..=50)
        .rev()
        .map(|s| delivery(0, s, "w0", 1, T0 + 100_000 - s, Outcome::Acked))
        .collect();
    let mut acks_first = Ledger::new();
    acks_first.ingest(&batch("w0", 0, vec![], records.clone()));
    assert_eq!(acks_first.summary().acked_unsent, 50);
    acks_first.ingest(&sent_batch(50));
    let mut sent_first = Ledger::new();
    sent_first.ingest(&sent_batch(50));
    sent_first.ingest(&batch("w0", 0, vec![], records));
    for ledger in [&mut acks_first, &mut sent_first] {
        ledger.end_drain();
        let s = ledger.summary();
        assert_eq!((s.sent, s.acked, s.duplicated, s.lost), (50, 50, 0, 0));
        assert_eq!(s.acked_unsent, 0);
    }
    assert_eq!(acks_first.summary(), sent_first.summary());
}

#[test]
fn a_batch_received_twice_counts_once() {
    let mut ledger = Ledger::new();
    let acks = batch(
        "w0",
        0,
        vec![],
        vec![delivery(0, 1, "w0", 1, T0 + 5_000, Outcome::Acked)],
    );
    assert!(ledger.ingest(&sent_batch(1)));
    assert!(ledger.ingest(&acks));
    assert!(!ledger.ingest(&acks), "the retry of a batch is recognised");
    assert!(!ledger.ingest(&sent_batch(1)));
    // Another reporter's batch 0 is its own.
    let other = batch(
        "w1",
        0,
        vec![],
        vec![delivery(0, 1, "w1", 2, T0 + 9_000, Outcome::Acked)],
    );
    assert!(ledger.ingest(&other));
    let s = ledger.summary();
    assert_eq!((s.sent, s.acked, s.duplicated, s.deliveries), (1, 1, 1, 2));
    // Batches out of order are each taken once.
    let mut seen = Seen::default();
    assert!(seen.insert(2) && seen.insert(0) && seen.insert(1));
    assert!(!seen.insert(1) && !seen.insert(2) && !seen.insert(0));
    assert_eq!((seen.below, seen.extra.len()), (3, 0));
}

#[test]
fn an_earlier_ack_reported_later_becomes_the_first() {
    let mut ledger = Ledger::new();
    ledger.ingest(&sent_batch(1));
    ledger.ingest(&batch(
        "w1",
        0,
        vec![],
        vec![delivery(0, 1, "w1", 2, T0 + 90_000, Outcome::Acked)],
    ));
    ledger.ingest(&batch(
        "w0",
        0,
        vec![],
        vec![delivery(0, 1, "w0", 1, T0 + 30_000, Outcome::Acked)],
    ));
    assert_eq!(ledger.first_ack(id(0, 1)), Some(("w0", T0 + 30_000)));
    assert_eq!(ledger.summary().duplicated, 1);
    // Both deliveries are still found per worker.
    assert_eq!(ledger.delivered_to("w0", T0, T0 + 1_000_000).len(), 1);
    assert_eq!(ledger.delivered_to("w1", T0, T0 + 1_000_000).len(), 1);
    let series = ledger.series();
    assert_eq!(series.iter().map(|p| p.acked).sum::<u64>(), 1);
}

#[test]
fn latency_percentiles_match_a_known_distribution() {
    let mut ledger = Ledger::new();
    let n = 10_000u64;
    ledger.ingest(&batch(
        "p",
        0,
        (1..=n).map(|s| sent(0, s, T0)).collect(),
        vec![],
    ));
    // Latency of message s is s ms: uniform over 1..=10 000 ms.
    let acks = (1..=n)
        .map(|s| DeliveryRecord {
            sent_us: T0,
            ..delivery(0, s, "w", 1, T0 + s * 1000, Outcome::Acked)
        })
        .collect();
    ledger.ingest(&batch("w", 0, vec![], acks));
    let s = ledger.summary();
    let p50 = s.latency_p50_us.expect("p50") as f64;
    let p99 = s.latency_p99_us.expect("p99") as f64;
    assert!((p50 / 5_000_000.0 - 1.0).abs() < 0.016, "p50 {p50}");
    assert!((p99 / 9_900_000.0 - 1.0).abs() < 0.016, "p99 {p99}");
    assert_eq!(s.latency_max_us, Some(10_000_000));
}

#[test]
fn window_summary_and_series() {
    let mut ledger = Ledger::new();
    // 3 s of sends: 100 in each second; everything but second 2's is acked 0.5 s later.
    let sends: Vec<SentRecord> = (0..300u64)
        .map(|i| sent(0, i + 1, T0 + (i / 100) * 1_000_000 + (i % 100) * 10_000))
        .collect();
    let acks: Vec<DeliveryRecord> = sends
        .iter()
        .filter(|r| r.sent_us < T0 + 2_000_000)
        .map(|r| DeliveryRecord {
            sent_us: r.sent_us,
            ..delivery(0, r.id.seq, "w", 1, r.sent_us + 500_000, Outcome::Acked)
        })
        .collect();
    ledger.ingest(&batch("p", 0, sends, vec![]));
    ledger.ingest(&batch("w", 0, vec![], acks));
    let first = ledger.summary_sent_between(T0, T0 + 1_000_000);
    assert_eq!((first.sent, first.acked, first.in_flight), (100, 100, 0));
    assert_eq!(first.latency_max_us, Some(500_000));
    let last = ledger.summary_sent_between(T0 + 2_000_000, T0 + 3_000_000);
    assert_eq!((last.sent, last.acked, last.in_flight), (100, 0, 100));
    assert_eq!(last.latency_p50_us, None);
    let series = ledger.series();
    let t = T0 / 1_000_000;
    assert_eq!(series.first().map(|p| p.t_s), Some(t));
    assert_eq!(series.iter().map(|p| p.sent).sum::<u64>(), 300);
    assert_eq!(series.iter().map(|p| p.acked).sum::<u64>(), 200);
    // After second 0: 100 sent, the 50 sent in its first half acked.
    assert_eq!(
        (series[0].sent, series[0].acked, series[0].lag),
        (100, 50, 50)
    );
    assert_eq!(series.last().map(|p| p.lag), Some(100));
    // The message acked at exactly 1.0 s (and 2.0 s) was received 100 µs before: in flight
    // across the second's end.
    let in_flight: Vec<u64> = series.iter().map(|p| p.in_flight).collect();
    assert_eq!(&in_flight[..3], &[1, 1, 0]);
}

#[test]
fn delivered_to_follows_what_a_dead_worker_held() {
    let mut ledger = Ledger::new();
    ledger.ingest(&sent_batch(3));
    ledger.ingest(&batch(
        "host-0",
        0,
        vec![],
        vec![
            delivery(0, 1, "worker-3", 1, T0 + 10_000, Outcome::Acked),
            delivery(0, 2, "worker-3", 1, T0 + 20_000, Outcome::AckFailed),
            delivery(0, 2, "worker-1", 2, T0 + 90_000, Outcome::Acked),
            delivery(0, 3, "worker-3", 1, T0 + 25_000, Outcome::AckFailed),
        ],
    ));
    let held = ledger.delivered_to("worker-3", T0 + 15_000, T0 + 30_000);
    assert_eq!(held.len(), 2);
    assert_eq!(held[0].id.seq, 2);
    assert_eq!(held[0].outcome, Outcome::AckFailed);
    assert_eq!(held[0].first_acked_by.as_deref(), Some("worker-1"));
    assert_eq!(held[1].id.seq, 3);
    assert_eq!(held[1].first_acked_by, None, "message 3 went nowhere yet");
    assert!(ledger.delivered_to("nobody", 0, u64::MAX).is_empty());

    let fate = ledger.fate(id(0, 2)).expect("known");
    assert!(fate.sent);
    assert_eq!(fate.acks, 1);
    let path: Vec<(Option<&str>, Outcome)> = fate
        .deliveries
        .iter()
        .map(|d| (d.worker.as_deref(), d.outcome))
        .collect();
    assert_eq!(
        path,
        vec![
            (Some("worker-3"), Outcome::AckFailed),
            (Some("worker-1"), Outcome::Acked)
        ]
    );
    assert_eq!(ledger.fate(id(9, 1)), None);
    assert_eq!(ledger.unacked(10), vec![id(0, 3)]);
}

#[test]
fn corrupt_sequences_are_refused_not_allocated() {
    let mut ledger = Ledger::new();
    ledger.ingest(&batch(
        "p",
        0,
        vec![sent(0, 0, T0), sent(0, u64::MAX, T0), sent(0, 1, T0)],
        vec![],
    ));
    let s = ledger.summary();
    assert_eq!((s.sent, s.rejected), (1, 2));
}

#[test]
fn memory_stays_compact_at_1500_per_second_for_10_minutes() {
    assert_eq!(std::mem::size_of::<Slot>(), 24);
    let mut ledger = Ledger::new();
    let per_partition = 1500 * 600 / 20;
    for partition in 0..20u32 {
        let records = (1..=per_partition)
            .map(|s| SentRecord {
                id: id(partition, s),
                sent_us: T0 + s * 13_333,
            })
            .collect();
        ledger.ingest(&batch("p", u64::from(partition), records, vec![]));
    }
    let slots: usize = ledger.streams.values().map(Vec::capacity).sum();
    assert!(
        slots * std::mem::size_of::<Slot>() < 40 << 20,
        "{slots} slots"
    );
    assert_eq!(ledger.summary().sent, 900_000);
}
