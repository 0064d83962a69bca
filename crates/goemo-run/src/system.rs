//! What a run records about the machine and the process it ran in.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// The machine, as far as the operating system tells it (Linux: /proc and /etc/os-release).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Host {
    /// The CPU's model name.
    pub cpu: Option<String>,
    /// Logical cores available to this process.
    pub logical_cores: usize,
    pub memory_mib: Option<f64>,
    /// The distribution's name, else the OS family (`linux`, `macos`...).
    pub os: String,
    pub kernel: Option<String>,
    pub arch: &'static str,
}

/// The machine this process runs on.
pub fn host() -> Host {
    let read = |path: &str| std::fs::read_to_string(path).ok();
    let field = |text: &Option<String>, key: &str, sep: char| {
        text.as_deref()?.lines().find_map(|l| {
            let (k, v) = l.split_once(sep)?;
            (k.trim() == key).then(|| v.trim().trim_matches('"').to_string())
        })
    };
    let memory_kb = field(&read("/proc/meminfo"), "MemTotal", ':')
        .and_then(|v| v.trim_end_matches("kB").trim().parse::<f64>().ok());
    Host {
        cpu: field(&read("/proc/cpuinfo"), "model name", ':'),
        logical_cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        memory_mib: memory_kb.map(|kb| kb / 1024.0),
        os: field(&read("/etc/os-release"), "PRETTY_NAME", '=').unwrap_or_else(|| std::env::consts::OS.into()),
        kernel: read("/proc/sys/kernel/osrelease").map(|k| k.trim().to_string()),
        arch: std::env::consts::ARCH,
    }
}

/// A moment as UTC in RFC 3339 (`2026-11-26T21:05:00Z`).
pub fn utc_timestamp(at: SystemTime) -> String {
    let secs = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// An id for one run: its start in microseconds since 1970 and the process id, in hex.
pub fn run_id(started: SystemTime) -> String {
    let micros = started.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros());
    format!("{micros:x}-{:x}", std::process::id())
}

/// The process's peak resident memory so far in MiB (`VmHWM` of /proc/self/status); `None`
/// where the system does not report it.
pub fn peak_resident_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?;
    kb.trim()
        .trim_end_matches("kB")
        .trim()
        .parse::<f64>()
        .ok()
        .map(|kb| kb / 1024.0)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn timestamps_are_utc_calendar_dates() {
        let at = |secs: u64| super::utc_timestamp(UNIX_EPOCH + Duration::from_secs(secs));
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        // 2000-02-29 (a leap day of a century year) and 2026-11-26T21:05:09.
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(at(1_795_727_109), "2026-11-26T21:05:09Z");
        assert_eq!(at(4_107_542_399), "2100-02-28T23:59:59Z");
    }

    #[test]
    fn the_host_names_its_cores_and_system() {
        let host = super::host();
        assert!(host.logical_cores >= 1);
        assert!(!host.os.is_empty());
        if cfg!(target_os = "linux") {
            assert!(host.memory_mib.unwrap() > 1.0 && host.kernel.is_some(), "{host:?}");
        }
        let a = super::run_id(UNIX_EPOCH + Duration::from_micros(255));
        assert!(a.starts_with("ff-"), "{a}");
    }

    #[test]
    fn a_linux_process_reports_its_peak() {
        if cfg!(target_os = "linux") {
            let mib = super::peak_resident_mib().unwrap();
            assert!(mib > 0.5 && mib < 1e6, "{mib}");
        }
    }
}
