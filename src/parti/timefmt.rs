//! The text formats Go writes into the liveness keys (parti-protocol.md §2): RFC 3339 at second
//! precision for stable IDs, RFC 3339 with trimmed nanoseconds for heartbeats, and
//! `<workerID>:<unix seconds>` for the leader key. All in the local time zone, `Z` for UTC.

use chrono::{DateTime, Local, Offset, TimeZone, Timelike};

fn offset_text<Tz: TimeZone>(time: &DateTime<Tz>) -> String {
    let seconds = time.offset().fix().local_minus_utc();
    if seconds == 0 {
        return "Z".into();
    }
    let sign = if seconds < 0 { '-' } else { '+' };
    let minutes = seconds.unsigned_abs() / 60;
    format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60)
}

/// Go's `time.RFC3339`: `2025-11-09T23:43:24+08:00`.
pub fn rfc3339_seconds<Tz: TimeZone>(time: &DateTime<Tz>) -> String
where
    Tz::Offset: std::fmt::Display,
{
    format!("{}{}", time.format("%Y-%m-%dT%H:%M:%S"), offset_text(time))
}

/// Go's `time.RFC3339Nano`: nanoseconds with trailing zeros trimmed, no fraction when zero.
pub fn rfc3339_nano<Tz: TimeZone>(time: &DateTime<Tz>) -> String
where
    Tz::Offset: std::fmt::Display,
{
    let nanos = time.nanosecond() % 1_000_000_000;
    let fraction = if nanos == 0 {
        String::new()
    } else {
        let digits = format!("{nanos:09}");
        format!(".{}", digits.trim_end_matches('0'))
    };
    format!(
        "{}{fraction}{}",
        time.format("%Y-%m-%dT%H:%M:%S"),
        offset_text(time)
    )
}

/// The value of the `leader` key: `<workerID>:<unix seconds>`.
pub fn leader_value<Tz: TimeZone>(worker_id: &str, time: &DateTime<Tz>) -> String {
    format!("{worker_id}:{}", time.timestamp())
}

/// Now, in the local time zone.
pub fn now() -> DateTime<Local> {
    Local::now()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{FixedOffset, Utc};

    #[test]
    fn formats_match_go_layouts() {
        let utc = Utc
            .with_ymd_and_hms(2025, 11, 9, 15, 43, 24)
            .single()
            .expect("time");
        assert_eq!(rfc3339_seconds(&utc), "2025-11-09T15:43:24Z");
        let tz = FixedOffset::east_opt(8 * 3600).expect("offset");
        assert_eq!(
            rfc3339_seconds(&utc.with_timezone(&tz)),
            "2025-11-09T23:43:24+08:00"
        );
        let with_nanos = utc + chrono::Duration::nanoseconds(123_456_789);
        assert_eq!(rfc3339_nano(&with_nanos), "2025-11-09T15:43:24.123456789Z");
        let with_millis = utc + chrono::Duration::milliseconds(120);
        assert_eq!(rfc3339_nano(&with_millis), "2025-11-09T15:43:24.12Z");
        assert_eq!(rfc3339_nano(&utc), "2025-11-09T15:43:24Z");
        let west = FixedOffset::west_opt(5 * 3600 + 30 * 60).expect("offset");
        assert_eq!(
            rfc3339_seconds(&utc.with_timezone(&west)),
            "2025-11-09T10:13:24-05:30"
        );
        assert_eq!(leader_value("worker-0", &utc), "worker-0:1762703004");
    }
}
