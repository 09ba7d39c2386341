//! The machine fingerprint stored in a recording's header: cores, memory, kernel, CPU model and
//! host name, read from `/proc`. Reading never fails; what cannot be read is `"unknown"` or 0.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// Where a run ran.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Machine {
    /// Logical CPUs (`processor` entries of `/proc/cpuinfo`).
    pub cores: u32,
    /// `MemTotal` of `/proc/meminfo`, in bytes.
    pub memory_bytes: u64,
    /// `/proc/sys/kernel/osrelease`, e.g. `6.8.0-45-generic`.
    pub kernel: String,
    /// The first `model name` of `/proc/cpuinfo`.
    pub cpu_model: String,
    /// `/proc/sys/kernel/hostname`.
    pub hostname: String,
}

const UNKNOWN: &str = "unknown";

impl Machine {
    /// This machine, from `/proc`.
    pub fn current() -> Machine {
        Self::from_proc(Path::new("/proc"))
    }

    /// The machine described by a `/proc`-like directory (tests point it at a fixture).
    pub fn from_proc(proc_dir: &Path) -> Machine {
        let read = |relative: &str| std::fs::read_to_string(proc_dir.join(relative)).ok();
        let cpuinfo = read("cpuinfo").unwrap_or_default();
        let meminfo = read("meminfo").unwrap_or_default();
        let line_value = |text: &str| {
            let text = text.trim();
            if text.is_empty() {
                UNKNOWN.to_owned()
            } else {
                text.to_owned()
            }
        };
        let mut cores = cpuinfo_cores(&cpuinfo);
        if cores == 0 && proc_dir == Path::new("/proc") {
            cores = std::thread::available_parallelism()
                .map_or(0, |n| u32::try_from(n.get()).unwrap_or(u32::MAX));
        }
        Machine {
            cores,
            memory_bytes: meminfo_total_bytes(&meminfo),
            kernel: read("sys/kernel/osrelease")
                .map_or_else(|| UNKNOWN.to_owned(), |t| line_value(&t)),
            cpu_model: cpuinfo_model(&cpuinfo).unwrap_or_else(|| UNKNOWN.to_owned()),
            hostname: read("sys/kernel/hostname")
                .map_or_else(|| UNKNOWN.to_owned(), |t| line_value(&t)),
        }
    }
}

fn cpuinfo_field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let (key, value) = line.split_once(':')?;
    (key.trim() == name).then(|| value.trim())
}

fn cpuinfo_cores(cpuinfo: &str) -> u32 {
    let count = cpuinfo
        .lines()
        .filter(|line| cpuinfo_field(line, "processor").is_some())
        .count();
    u32::try_from(count).unwrap_or(u32::MAX)
}

fn cpuinfo_model(cpuinfo: &str) -> Option<String> {
    ["model name", "Model", "Hardware", "cpu model"]
        .iter()
        .find_map(|name| {
            cpuinfo
                .lines()
                .find_map(|line| cpuinfo_field(line, name))
                .filter(|value| !value.is_empty())
                .map(str::to_owned)
        })
}

fn meminfo_total_bytes(meminfo: &str) -> u64 {
    meminfo
        .lines()
        .find_map(|line| {
            let rest = line.strip_prefix("MemTotal:")?;
            let mut words = rest.split_whitespace();
            let number: u64 = words.next()?.parse().ok()?;
            let factor = match words.next() {
                Some("kB") => 1024,
                Some("MB") => 1024 * 1024,
                Some("GB") => 1024 * 1024 * 1024,
                _ => 1,
            };
            Some(number.saturating_mul(factor))
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_proc_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("sys/kernel")).expect("mkdir");
        std::fs::write(
            dir.path().join("cpuinfo"),
            "processor\t: 0\nmodel name\t: Test CPU @ 3GHz\n\nprocessor\t: 1\nmodel name\t: Test CPU @ 3GHz\n",
        )
        .expect("write");
        std::fs::write(
            dir.path().join("meminfo"),
            "MemTotal:        2048 kB\nMemFree: 1 kB\n",
        )
        .expect("write");
        std::fs::write(dir.path().join("sys/kernel/osrelease"), "6.1.0-test\n").expect("write");
        std::fs::write(dir.path().join("sys/kernel/hostname"), "box\n").expect("write");
        let machine = Machine::from_proc(dir.path());
        assert_eq!(
            machine,
            Machine {
                cores: 2,
                memory_bytes: 2048 * 1024,
                kernel: "6.1.0-test".into(),
                cpu_model: "Test CPU @ 3GHz".into(),
                hostname: "box".into(),
            }
        );
    }

    #[test]
    fn unknowns_never_fail() {
        let dir = tempfile::tempdir().expect("tempdir");
        let machine = Machine::from_proc(&dir.path().join("missing"));
        assert_eq!(machine.cores, 0);
        assert_eq!(machine.memory_bytes, 0);
        assert_eq!(machine.kernel, "unknown");
        assert_eq!(machine.cpu_model, "unknown");
        assert_eq!(machine.hostname, "unknown");
    }

    #[test]
    fn this_machine_has_cores() {
        assert!(Machine::current().cores >= 1);
    }
}
