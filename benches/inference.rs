//! Inference timing harness for `scripts/bench_inference_vs_transformers.py`: throughput of
//! `EmotionClassifier` on a text file (tokenization included), a latency table by batch size,
//! and peak resident memory. Prints one JSON object.
//!
//! `cargo bench --bench inference -- MODEL_DIR TEXTS_TSV [THREADS]`

use std::time::Instant;

use goemo::model::{set_threads, EmotionClassifier};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    if args.len() < 2 {
        eprintln!("usage: inference MODEL_DIR TEXTS_TSV [THREADS]");
        return;
    }
    set_threads(args.get(2).map_or(2, |t| t.parse().unwrap()));
    let texts: Vec<String> = std::fs::read_to_string(&args[1])
        .unwrap()
        .lines()
        .map(|l| l.split('\t').next().unwrap_or_default().to_string())
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let classifier = EmotionClassifier::load(&args[0]).unwrap().with_batch_size(64);

    // Throughput: every text, batch 64, sorted by length and padded per batch; best of 3.
    classifier.probabilities(&refs[..256]).unwrap();
    let throughput = (0..3)
        .map(|_| {
            let t = Instant::now();
            classifier.probabilities(&refs).unwrap();
            refs.len() as f64 / t.elapsed().as_secs_f64()
        })
        .fold(0.0, f64::max);

    // Latency: consecutive batches of texts in file order, each tokenized and run on its own.
    let mut latency = Vec::new();
    for batch_size in [1usize, 8, 16, 32, 64] {
        let n = (batch_size * 64).min(refs.len());
        let mut ms: Vec<f64> = refs[..n]
            .chunks(batch_size)
            .map(|chunk| {
                let t = Instant::now();
                classifier.probabilities(chunk).unwrap();
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        ms.sort_by(f64::total_cmp);
        let mean = ms.iter().sum::<f64>() / ms.len() as f64;
        latency.push(serde_json::json!({
            "batch_size": batch_size,
            "batches": ms.len(),
            "mean_ms": mean,
            "p50_ms": goemo::metrics::quantile(&ms, 0.5),
            "p95_ms": goemo::metrics::quantile(&ms, 0.95),
            "p99_ms": goemo::metrics::quantile(&ms, 0.99),
            "texts_per_s": batch_size as f64 / (mean / 1e3),
        }));
    }
    let out = serde_json::json!({
        "texts": refs.len(),
        "throughput_texts_per_s": throughput,
        "latency": latency,
        "peak_rss_mib": goemo::system::peak_resident_mib().unwrap_or(f64::NAN),
    });
    println!("{out}");
}
