//! Process figures read from `/proc` (RSS and CPU time of any pid) and from the allocator (this
//! process's live heap), plus the host's memory ballast knob.

use std::collections::HashMap;
use std::time::Instant;

/// One reading of a process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcReading {
    pub rss_bytes: u64,
    /// utime + stime in clock ticks.
    pub cpu_ticks: u64,
}

/// The process's own resident memory out of `/proc/<pid>/status`: `RssAnon` + `RssShmem`,
/// without `RssFile` (the resident pages of its executable and libraries). Those belong to the
/// page cache and vary with it — the same binary, copied or freshly built, maps megabytes more
/// or less of its code — not with what the process does. Kernels without the split report
/// only `VmRSS`, which is used then.
pub fn parse_status_rss(status: &str) -> Option<u64> {
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|line| line.starts_with(name))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    };
    match (field("RssAnon:"), field("RssShmem:")) {
        (Some(anon), shmem) => Some(anon + shmem.unwrap_or(0)),
        (None, _) => field("VmRSS:"),
    }
}

/// Parse utime + stime (fields 14 and 15) out of `/proc/<pid>/stat`.
pub fn parse_stat_ticks(stat: &str) -> Option<u64> {
    // The command name is parenthesised and may contain spaces: split after the last ')'.
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state); utime is field 14, stime field 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Read a process's RSS and CPU ticks; `None` if it is gone.
pub fn read(pid: u32) -> Option<ProcReading> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    Some(ProcReading {
        rss_bytes: parse_status_rss(&status)?,
        cpu_ticks: parse_stat_ticks(&stat)?,
    })
}

/// Clock ticks per second (`_SC_CLK_TCK`), 100 when unknown.
pub fn clock_ticks_per_second() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .and_then(|ticks| u64::try_from(ticks).ok())
        .filter(|ticks| *ticks > 0)
        .unwrap_or(100)
}

/// Turns successive CPU tick readings into percent of one core per pid.
#[derive(Debug)]
pub struct CpuMeter {
    ticks_per_second: u64,
    last: HashMap<u32, (u64, Instant)>,
}

impl Default for CpuMeter {
    fn default() -> Self {
        Self {
            ticks_per_second: clock_ticks_per_second(),
            last: HashMap::new(),
        }
    }
}

impl CpuMeter {
    /// Percent of one core since the previous reading of `pid` (None on the first one).
    pub fn percent(&mut self, pid: u32, ticks: u64, at: Instant) -> Option<f64> {
        let previous = self.last.insert(pid, (ticks, at));
        let (last_ticks, last_at) = previous?;
        let elapsed_s = at.duration_since(last_at).as_secs_f64();
        if elapsed_s <= 0.0 {
            return None;
        }
        #[allow(clippy::cast_precision_loss)]
        let used_s = ticks.saturating_sub(last_ticks) as f64 / self.ticks_per_second as f64;
        Some(100.0 * used_s / elapsed_s)
    }
}

/// This process's live heap as the allocator (jemalloc) reports it. Zero if the statistics are
/// unavailable (for example when another allocator is in use, as in unit tests).
pub fn live_heap_bytes() -> u64 {
    use tikv_jemalloc_ctl::{epoch, stats};
    if epoch::advance().is_err() {
        return 0;
    }
    stats::allocated::read().map_or(0, |bytes| bytes as u64)
}

/// The environment variable that makes a host hold extra live heap (MiB), to check that memory
/// thresholds and baselines catch a regression.
pub const BALLAST_ENV: &str = "PARTI_TOP_HOST_BALLAST_MB";

/// Allocate and touch `mib` MiB so they are resident and live. Keep the returned value alive.
pub fn ballast(mib: usize) -> Vec<u8> {
    let mut block = vec![0u8; mib * 1024 * 1024];
    // Touch every page with a non-zero write so the memory is resident, not just reserved.
    for byte in block.iter_mut().step_by(4096) {
        *byte = 1;
    }
    block
}

/// The ballast size asked for by [`BALLAST_ENV`], if any.
pub fn ballast_from_env() -> Result<Option<usize>, String> {
    match std::env::var(BALLAST_ENV) {
        Ok(text) if !text.trim().is_empty() => text
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| format!("{BALLAST_ENV}={text:?} is not a whole number of MiB")),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_files() {
        let status = "Name:\tx\nVmHWM:\t  9000 kB\nVmRSS:\t  1234 kB\nThreads: 3\n";
        assert_eq!(parse_status_rss(status), Some(1234 * 1024));
        let split =
            "VmRSS:\t  9000 kB\nRssAnon:\t  1200 kB\nRssFile:\t  7000 kB\nRssShmem:\t  34 kB\n";
        assert_eq!(
            parse_status_rss(split),
            Some(1234 * 1024),
            "anon + shmem, not file"
        );
        let stat = "42 (my proc (x)) S 1 42 42 0 -1 4194560 100 0 0 0 17 5 0 0 20 0 3 0";
        assert_eq!(parse_stat_ticks(stat), Some(22));
        assert_eq!(parse_stat_ticks("garbage"), None);
    }

    #[test]
    fn reads_this_process() {
        let reading = read(std::process::id()).expect("self");
        assert!(reading.rss_bytes > 1024 * 1024);
        assert!(read(u32::MAX).is_none());
    }

    #[test]
    fn cpu_percent_is_ticks_over_time() {
        let mut meter = CpuMeter {
            ticks_per_second: 100,
            last: HashMap::new(),
        };
        let t0 = Instant::now();
        assert_eq!(meter.percent(1, 100, t0), None);
        let percent = meter
            .percent(1, 150, t0 + std::time::Duration::from_secs(1))
            .expect("percent");
        assert!((percent - 50.0).abs() < 1e-9);
    }

    #[test]
    fn ballast_is_resident() {
        let before = read(std::process::id()).expect("self").rss_bytes;
        let block = ballast(32);
        let after = read(std::process::id()).expect("self").rss_bytes;
        assert!(after >= before + 30 * 1024 * 1024, "{before} -> {after}");
        assert_eq!(block.len(), 32 << 20);
    }
}
