//! What a run records about the process it ran in.

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
    #[test]
    fn a_linux_process_reports_its_peak() {
        if cfg!(target_os = "linux") {
            let mib = super::peak_resident_mib().unwrap();
            assert!(mib > 0.5 && mib < 1e6, "{mib}");
        }
    }
}
