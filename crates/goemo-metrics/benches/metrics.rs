//! The full `MetricReport` on GoEmotions-sized data: `cargo bench -p goemo-metrics`.
// A bench target has no API; criterion_group! generates a public function without docs.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use goemo_metrics::{micro_ranking, per_class_ranking, target_mask, MetricReport};
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Scores with some signal and GoEmotions-like prevalence (1–30 %), reproducible.
pub fn synthetic(n: usize, c: usize, seed: u64) -> (Array2<f64>, Array2<f64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let targets = Array2::from_shape_fn((n, c), |(_, j)| {
        let prevalence = 0.01 + 0.3 * (j as f64 / c as f64);
        f64::from(u8::from(rng.random::<f64>() < prevalence))
    });
    let scores = targets.mapv(|t| (rng.random::<f64>() * 0.7 + 0.3 * t).clamp(0.0, 1.0));
    (scores, targets)
}

fn report(c: &mut Criterion) {
    let mut group = c.benchmark_group("metric_report");
    for n in [5_427, 200_000] {
        let (scores, targets) = synthetic(n, 28, 7);
        let predictions = scores.mapv(|s| s >= 0.5);
        let labels: Vec<String> = (0..28).map(|i| format!("l{i}")).collect();
        group.sample_size(if n > 10_000 { 10 } else { 50 });
        group.bench_with_input(BenchmarkId::new("full_report", n), &n, |b, _| {
            b.iter(|| MetricReport::compute(scores.view(), targets.view(), predictions.view(), &labels, None).unwrap());
        });
        let mask = target_mask(targets.view());
        group.bench_with_input(BenchmarkId::new("auc_per_class", n), &n, |b, _| {
            b.iter(|| per_class_ranking(scores.view(), mask.view()));
        });
        group.bench_with_input(BenchmarkId::new("auc_micro", n), &n, |b, _| {
            b.iter(|| micro_ranking(scores.view(), mask.view()));
        });
    }
    group.finish();
}

criterion_group!(benches, report);
criterion_main!(benches);
