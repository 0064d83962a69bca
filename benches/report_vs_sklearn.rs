//! Timing harness for `scripts/bench_metrics_vs_sklearn.py`, which times the same work in
//! scikit-learn and compares: the full `MetricReport` (what `evaluate` computes) and the
//! per-class threshold fit, on matrices the script writes as raw little-endian f64.
//!
//! `cargo bench --bench report_vs_sklearn -- SCORES.f64 TARGETS.f64 ROWS COLS REPEATS [f32]`
//! prints one JSON line of median milliseconds.

use std::time::Instant;

use goemo::metrics::{target_mask, MetricReport};
use goemo::threshold::{PerClass, ThresholdStrategy};
use ndarray::Array2;

fn read_f64(path: &str, rows: usize, cols: usize) -> Array2<f64> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    assert_eq!(bytes.len(), rows * cols * 8, "{path} is not {rows}x{cols} f64");
    let values = bytes
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
        .collect();
    Array2::from_shape_vec((rows, cols), values).unwrap()
}

fn median_ms(repeats: usize, mut f: impl FnMut()) -> f64 {
    f(); // warm-up
    let mut times: Vec<f64> = (0..repeats)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; keep only our positional arguments.
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    if args.len() < 5 {
        eprintln!("usage: report_vs_sklearn SCORES.f64 TARGETS.f64 ROWS COLS REPEATS [f32]");
        return;
    }
    let (rows, cols, repeats): (usize, usize, usize) = (
        args[2].parse().unwrap(),
        args[3].parse().unwrap(),
        args[4].parse().unwrap(),
    );
    let scores = read_f64(&args[0], rows, cols);
    let targets = read_f64(&args[1], rows, cols);
    let labels: Vec<String> = (0..cols).map(|i| format!("label_{i}")).collect();
    let predictions = scores.mapv(|s| s >= 0.5);
    let report_ms = if args.get(5).is_some_and(|a| a == "f32") {
        let scores32 = scores.mapv(|s| s as f32);
        let targets32 = targets.mapv(|t| t as f32);
        median_ms(repeats, || {
            MetricReport::compute(scores32.view(), targets32.view(), predictions.view(), &labels, None).unwrap();
        })
    } else {
        median_ms(repeats, || {
            MetricReport::compute(scores.view(), targets.view(), predictions.view(), &labels, None).unwrap();
        })
    };
    let mask = target_mask(targets.view());
    let fit_ms = median_ms(repeats, || {
        PerClass.fit(scores.view(), mask.view()).unwrap();
    });
    println!("{{\"report_ms\": {report_ms}, \"per_class_fit_ms\": {fit_ms}}}");
}
