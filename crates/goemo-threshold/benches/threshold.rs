//! Threshold fits on GoEmotions dev-sized data (5,426 × 28): `cargo bench -p goemo-threshold`.
// A bench target has no API; criterion_group! generates a public function without docs.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion};
use goemo_threshold::{threshold_sweep, F1Average, OptimalGlobal, PerClass, ThresholdStrategy};
use ndarray::Array2;

/// Deterministic scores with signal and GoEmotions-like prevalence (1–30 %).
fn synthetic(n: usize, c: usize) -> (Array2<f64>, Array2<bool>) {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        // xorshift64*: enough for benchmark inputs, no extra dependency.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    };
    let targets = Array2::from_shape_fn((n, c), |(_, j)| next() < 0.01 + 0.3 * j as f64 / c as f64);
    let scores = targets.mapv(|t| next() * 0.7 + if t { 0.3 } else { 0.0 });
    (scores, targets)
}

fn fits(c: &mut Criterion) {
    let (scores, targets) = synthetic(5_426, 28);
    let mut group = c.benchmark_group("threshold_fit_5426x28");
    group.bench_function("per_class", |b| {
        b.iter(|| PerClass.fit(scores.view(), targets.view()).unwrap());
    });
    group.bench_function("optimal_global_micro", |b| {
        b.iter(|| {
            OptimalGlobal(F1Average::Micro)
                .fit(scores.view(), targets.view())
                .unwrap()
        });
    });
    group.bench_function("optimal_global_macro", |b| {
        b.iter(|| {
            OptimalGlobal(F1Average::Macro)
                .fit(scores.view(), targets.view())
                .unwrap()
        });
    });
    group.sample_size(20);
    group.bench_function("sweep_99_thresholds", |b| {
        b.iter(|| threshold_sweep(scores.view(), targets.view()).unwrap());
    });
    group.finish();
}

criterion_group!(benches, fits);
criterion_main!(benches);
