//! What a goemo run records about the machine and the process it ran in: [`host`] (CPU, cores,
//! memory, OS, NVIDIA GPUs), [`peak_resident_mib`], [`cpu_peak_gflops`], [`utc_timestamp`] and
//! [`run_id`]. Linux facts come from /proc and sysfs; elsewhere they are `None` or a fallback.
//!
//! ```
//! let host = goemo_system::host();
//! assert!(host.logical_cores >= 1);
//! println!("{} on {}", host.cpu.as_deref().unwrap_or("unknown CPU"), host.os);
//! ```

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// The machine, as far as the operating system tells it (Linux: /proc and /etc/os-release).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Host {
    /// The CPU's model name.
    pub cpu: Option<String>,
    /// Logical cores available to this process.
    pub logical_cores: usize,
    /// Physical memory.
    pub memory_mib: Option<f64>,
    /// The distribution's name, else the OS family (`linux`, `macos`...).
    pub os: String,
    /// Kernel release.
    pub kernel: Option<String>,
    /// CPU architecture (`x86_64`, `aarch64`).
    pub arch: &'static str,
    /// The NVIDIA GPUs the driver lists (all of them: `CUDA_VISIBLE_DEVICES` is not applied).
    pub gpus: Vec<Gpu>,
}

/// A GPU as the driver names it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Gpu {
    /// CUDA device index.
    pub index: usize,
    /// Device name.
    pub name: String,
    /// Device memory.
    pub memory_mib: Option<f64>,
}

/// The GPUs of `nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader,nounits`,
/// else the names under `/proc/driver/nvidia/gpus` (without memory); none without a driver.
pub fn gpus() -> Vec<Gpu> {
    let smi = std::process::Command::new("nvidia-smi")
        .args(["--query-gpu=index,name,memory.total", "--format=csv,noheader,nounits"])
        .output();
    if let Some(out) = smi.ok().filter(|o| o.status.success()) {
        let listed = parse_nvidia_smi(&String::from_utf8_lossy(&out.stdout));
        if !listed.is_empty() {
            return listed;
        }
    }
    // One folder per GPU, named by its PCI address: sorted, they follow the driver's order.
    let mut folders: Vec<std::path::PathBuf> = std::fs::read_dir("/proc/driver/nvidia/gpus")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .collect();
    folders.sort();
    folders
        .iter()
        .filter_map(|folder| {
            let text = std::fs::read_to_string(folder.join("information")).ok()?;
            Some(text.lines().find_map(|l| l.strip_prefix("Model:"))?.trim().to_string())
        })
        .enumerate()
        .map(|(index, name)| Gpu {
            index,
            name,
            memory_mib: None,
        })
        .collect()
}

/// Rows of `index, name, memory in MiB`; rows that do not parse are left out.
fn parse_nvidia_smi(text: &str) -> Vec<Gpu> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split(',').map(str::trim);
            let index = fields.next()?.parse().ok()?;
            let name = fields.next().filter(|n| !n.is_empty())?.to_string();
            let memory_mib = fields.next().and_then(|m| m.parse().ok());
            Some(Gpu {
                index,
                name,
                memory_mib,
            })
        })
        .collect()
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
        logical_cores: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        memory_mib: memory_kb.map(|kb| kb / 1024.0),
        os: field(&read("/etc/os-release"), "PRETTY_NAME", '=').unwrap_or_else(|| std::env::consts::OS.into()),
        kernel: read("/proc/sys/kernel/osrelease").map(|k| k.trim().to_string()),
        arch: std::env::consts::ARCH,
        gpus: gpus(),
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

/// The theoretical fp32 peak of `threads` cores in GFLOP/s, and how it was reckoned: cores × 2
/// FMA pipes × fp32 lanes (AVX-512 16, AVX2 8, else 4) × 2 flops × maximum clock, from
/// /proc/cpuinfo and cpufreq's sysfs file; the pipe count is an assumption (2 on current x86
/// server cores).
pub fn cpu_peak_gflops(threads: usize) -> (f64, String) {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let flags = cpuinfo.lines().find(|l| l.starts_with("flags")).unwrap_or_default();
    let lanes = if flags.contains(" avx512f") {
        16.0
    } else if flags.contains(" avx2") {
        8.0
    } else {
        4.0
    };
    let max_khz = std::fs::read_to_string("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok());
    let mhz = max_khz.map_or_else(
        || {
            cpuinfo
                .lines()
                .find_map(|l| {
                    l.strip_prefix("cpu MHz")
                        .and_then(|r| r.trim_start_matches([' ', '\t', ':']).parse().ok())
                })
                .unwrap_or(2500.0)
        },
        |k| k / 1e3,
    );
    let ghz = mhz / 1e3;
    let peak = threads as f64 * 2.0 * lanes * 2.0 * ghz;
    (
        peak,
        format!("{threads} cores × 2 FMA × {lanes} lanes × 2 × {ghz:.2} GHz"),
    )
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
    fn nvidia_smi_rows_parse() {
        let text = "0, NVIDIA H100 80GB HBM3, 81559\n1, NVIDIA H200, [N/A]\ngarbage\n";
        let gpus = super::parse_nvidia_smi(text);
        assert_eq!(gpus.len(), 2);
        assert_eq!((gpus[0].index, gpus[0].name.as_str()), (0, "NVIDIA H100 80GB HBM3"));
        assert_eq!(gpus[0].memory_mib, Some(81559.0));
        assert_eq!((gpus[1].index, gpus[1].memory_mib), (1, None));
    }

    #[test]
    fn a_linux_process_reports_its_peak() {
        if cfg!(target_os = "linux") {
            let mib = super::peak_resident_mib().unwrap();
            assert!(mib > 0.5 && mib < 1e6, "{mib}");
        }
    }

    #[test]
    fn the_cpu_peak_scales_with_threads_and_says_how() {
        let (one, how) = super::cpu_peak_gflops(1);
        let (two, _) = super::cpu_peak_gflops(2);
        assert!(one > 0.0 && (two - 2.0 * one).abs() < 1e-9, "{one} {two}");
        assert!(how.starts_with("1 cores × 2 FMA × "), "{how}");
    }
}
