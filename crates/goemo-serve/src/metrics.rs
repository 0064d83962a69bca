//! Prometheus text-format metrics: histograms and labelled counters, lock-free where it counts.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// A cumulative histogram over fixed upper bounds (plus `+Inf`), as Prometheus expects.
#[derive(Debug)]
pub struct Histogram {
    bounds: Vec<f64>,
    /// One count per bound, then `+Inf`.
    counts: Vec<AtomicU64>,
    /// The sum of observations, as f64 bits.
    sum: AtomicU64,
}

impl Histogram {
    /// A histogram with these bucket upper bounds, in increasing order.
    pub fn new(bounds: &[f64]) -> Self {
        Histogram {
            bounds: bounds.to_vec(),
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0f64.to_bits()),
        }
    }

    /// Counts one value.
    pub fn observe(&self, value: f64) {
        let bucket = self
            .bounds
            .iter()
            .position(|&b| value <= b)
            .unwrap_or(self.bounds.len());
        self.counts[bucket].fetch_add(1, Ordering::Relaxed);
        let _ = self.sum.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
            Some((f64::from_bits(bits) + value).to_bits())
        });
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    /// Sum of the values counted.
    pub fn sum(&self) -> f64 {
        f64::from_bits(self.sum.load(Ordering::Relaxed))
    }

    /// The histogram in Prometheus text format under `name`.
    pub fn render(&self, name: &str, help: &str, out: &mut String) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (i, count) in self.counts.iter().enumerate() {
            cumulative += count.load(Ordering::Relaxed);
            let le = self
                .bounds
                .get(i)
                .map_or("+Inf".to_string(), std::string::ToString::to_string);
            let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_sum {}\n{name}_count {cumulative}", self.sum());
    }
}

/// Counters keyed by a label value (requests by HTTP status, say).
#[derive(Debug, Default)]
pub struct LabelledCounter {
    counts: Mutex<BTreeMap<String, u64>>,
}

impl LabelledCounter {
    /// Adds 1 to the counter of `label`.
    pub fn increment(&self, label: &str) {
        let mut counts = self.counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *counts.entry(label.to_string()).or_default() += 1;
    }

    /// The counter in Prometheus text format, `label` naming the label.
    pub fn render(&self, name: &str, help: &str, label: &str, out: &mut String) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        let counts = self.counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for (value, count) in counts.iter() {
            let _ = writeln!(out, "{name}{{{label}=\"{value}\"}} {count}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative_in_prometheus_text() {
        let h = Histogram::new(&[1.0, 4.0]);
        for v in [0.5, 1.0, 3.0, 9.0] {
            h.observe(v);
        }
        let mut out = String::new();
        h.render("batch_size", "texts per batch", &mut out);
        assert!(out.contains("batch_size_bucket{le=\"1\"} 2\n"), "{out}");
        assert!(out.contains("batch_size_bucket{le=\"4\"} 3\n"), "{out}");
        assert!(out.contains("batch_size_bucket{le=\"+Inf\"} 4\n"), "{out}");
        assert!(out.contains("batch_size_sum 13.5\nbatch_size_count 4\n"), "{out}");
        let c = LabelledCounter::default();
        c.increment("200");
        c.increment("200");
        c.increment("503");
        let mut out = String::new();
        c.render("requests_total", "requests", "status", &mut out);
        assert!(
            out.contains("requests_total{status=\"200\"} 2\nrequests_total{status=\"503\"} 1\n"),
            "{out}"
        );
    }
}
