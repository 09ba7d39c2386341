//! The message load in a summary: the thresholds on the ledger (lost, duplicated, zombie acks,
//! p99 latency) and the load section of the text report.

use std::fmt::Write as _;

use crate::parti::duration::Human;
use crate::profile::Thresholds;
use crate::record::summary::{Failure, LoadFigures};

/// What the load thresholds name in failures.
pub const LOST_WHAT: &str = "lost messages";
pub const DUPLICATES_WHAT: &str = "duplicated messages";
pub const ZOMBIES_WHAT: &str = "zombie acks";
pub const P99_WHAT: &str = "p99 latency";

/// The load thresholds a run's figures exceed. Lost, duplicated and zombie acks default to 0.
pub fn failures(load: &LoadFigures, thresholds: &Thresholds) -> Vec<Failure> {
    let mut out = Vec::new();
    let mut count = |what: &str, limit: Option<u64>, actual: u64| {
        let limit = limit.unwrap_or(0);
        if actual > limit {
            out.push(Failure {
                what: what.to_owned(),
                limit: limit.to_string(),
                actual: actual.to_string(),
            });
        }
    };
    count(LOST_WHAT, thresholds.max_lost, load.ledger.lost);
    count(
        DUPLICATES_WHAT,
        thresholds.max_duplicates,
        load.ledger.duplicated,
    );
    count(ZOMBIES_WHAT, thresholds.max_zombie_acks, load.zombie_acks);
    if let (Some(limit), Some(p99_us)) = (thresholds.p99_latency, load.ledger.latency_p99_us)
        && u128::from(p99_us) > limit.as_micros()
    {
        out.push(Failure {
            what: P99_WHAT.to_owned(),
            limit: Human(limit).to_string(),
            actual: micros(p99_us),
        });
    }
    out
}

/// `812µs`, `3.4ms`, `1.25s`.
pub fn micros(us: u64) -> String {
    if us < 1_000 {
        format!("{us}µs")
    } else if us < 1_000_000 {
        #[allow(clippy::cast_precision_loss)]
        let ms = us as f64 / 1_000.0;
        format!("{ms:.1}ms")
    } else {
        #[allow(clippy::cast_precision_loss)]
        let s = us as f64 / 1_000_000.0;
        format!("{s:.2}s")
    }
}

fn opt_micros(us: Option<u64>) -> String {
    us.map_or_else(|| "-".to_owned(), micros)
}

/// The load section of the text summary.
pub fn render(load: &LoadFigures) -> String {
    let l = &load.ledger;
    let mut out = String::from("messages\n");
    let _ = writeln!(
        out,
        "  sent {}  delivered {}  acked {}  lost {}  duplicated {}  redelivered {}",
        l.sent, l.delivered, l.acked, l.lost, l.duplicated, l.redelivered
    );
    if l.ack_unreported > 0 {
        let _ = writeln!(
            out,
            "  acked without a report (a host killed before it reported, or an ack confirmed too late): {} (gone from the stream, not lost)",
            l.ack_unreported
        );
    }
    let _ = writeln!(
        out,
        "  latency p50 {}  p99 {}  max {}   fenced naks {}  failed acks {}  zombie acks {}",
        opt_micros(l.latency_p50_us),
        opt_micros(l.latency_p99_us),
        opt_micros(l.latency_max_us),
        l.nak_by_fence,
        l.ack_failed,
        load.zombie_acks
    );
    let drain = if load.drained {
        format!(
            "drained in {}",
            crate::report::summary::human_ms(load.drain_ms)
        )
    } else {
        format!(
            "NOT drained after {} ({} still unacked)",
            crate::report::summary::human_ms(load.drain_ms),
            l.lost + l.in_flight
        )
    };
    let left = load
        .left_in_stream
        .map(|n| format!(", {n} left in the stream"))
        .unwrap_or_default();
    let _ = writeln!(out, "  {drain}{left}");
    for zombie in load.zombies.iter().take(5) {
        let _ = writeln!(
            out,
            "  zombie: {} acked partition #{} at {} (owned until {})",
            zombie.worker,
            zombie.partition,
            zombie.acked_us,
            zombie
                .owned_until_us
                .map_or_else(|| "never".to_owned(), |t| t.to_string())
        );
    }
    if !load.events.is_empty() {
        out.push_str("  per event (messages sent while it was open)\n");
        out.push_str(
            "    #  action                  sent   acked  lost  dup  redelivered    p99\n",
        );
        for e in &load.events {
            let _ = writeln!(
                out,
                "  {:>3}  {:<20} {:>7} {:>7} {:>5} {:>4} {:>12} {:>6}",
                e.event,
                e.label,
                e.ledger.sent,
                e.ledger.acked,
                e.ledger.lost,
                e.ledger.duplicated,
                e.ledger.redelivered,
                opt_micros(e.ledger.latency_p99_us)
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::ledger::LedgerSummary;
    use std::time::Duration;

    fn figures(lost: u64, duplicated: u64, zombies: u64, p99_us: u64) -> LoadFigures {
        LoadFigures {
            ledger: LedgerSummary {
                sent: 100,
                acked: 100 - lost,
                lost,
                duplicated,
                latency_p99_us: Some(p99_us),
                ..LedgerSummary::default()
            },
            drained: lost == 0,
            zombie_acks: zombies,
            ..LoadFigures::default()
        }
    }

    #[test]
    fn nothing_lost_duplicated_or_zombie_passes_by_default() {
        assert!(failures(&figures(0, 0, 0, 900), &Thresholds::default()).is_empty());
    }

    #[test]
    fn any_loss_duplicate_or_zombie_fails_unless_allowed() {
        let failed = failures(&figures(1, 2, 3, 900), &Thresholds::default());
        let names: Vec<&str> = failed.iter().map(|f| f.what.as_str()).collect();
        assert_eq!(names, [LOST_WHAT, DUPLICATES_WHAT, ZOMBIES_WHAT]);
        let allowing = Thresholds {
            max_lost: Some(1),
            max_duplicates: Some(2),
            max_zombie_acks: Some(3),
            ..Thresholds::default()
        };
        assert!(failures(&figures(1, 2, 3, 900), &allowing).is_empty());
    }

    #[test]
    fn the_p99_limit_applies_when_set() {
        let limit = Thresholds {
            p99_latency: Some(Duration::from_millis(5)),
            ..Thresholds::default()
        };
        assert!(failures(&figures(0, 0, 0, 4_999), &limit).is_empty());
        let failed = failures(&figures(0, 0, 0, 5_001), &limit);
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].actual, "5.0ms");
    }

    #[test]
    fn the_section_names_every_count() {
        let text = render(&figures(2, 0, 1, 1_500));
        for needle in [
            "sent 100",
            "acked 98",
            "lost 2",
            "duplicated 0",
            "p99 1.5ms",
            "zombie acks 1",
        ] {
            assert!(text.contains(needle), "{needle}: {text}");
        }
        assert!(text.contains("NOT drained"), "{text}");
    }
}
