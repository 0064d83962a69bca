//! Tokenizing and batching all 43,410 GoEmotions training texts with the all-MiniLM-L6-v2
//! tokenizer (`make setup` puts both in place): `cargo bench --bench tokenize_batch`.
// A bench target has no API; criterion_group! generates a public function without docs.
#![allow(missing_docs)]

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};
use goemo::data::{load_goemotions, Batcher, HfTokenizer, ReadMode, Split, Tokenize};

fn tokenize_and_batch(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ds = load_goemotions(root.join("data/goemotions"), ReadMode::Strict)
        .expect("GoEmotions missing: run `make setup`")
        .dataset;
    let tokenizer = HfTokenizer::from_file(root.join("data/models/all-MiniLM-L6-v2/tokenizer.json"), 128)
        .expect("tokenizer missing: run `make setup`");
    let texts: Vec<&str> = ds.train.iter().map(|e| e.text.as_str()).collect();
    let targets = ds.targets(Split::Train);

    let mut group = c.benchmark_group("goemotions_train_43410");
    group.sample_size(10);
    group.bench_function("tokenize", |b| b.iter(|| tokenizer.encode_batch(&texts).unwrap()));
    let ids = tokenizer.encode_batch(&texts).unwrap();
    group.bench_function("batch_epoch_b32", |b| {
        b.iter(|| {
            let batcher = Batcher::new(&ids, tokenizer.pad_id())
                .with_targets(targets.view())
                .unwrap();
            let plan = batcher.train_plan(32, 50, 42, 0).unwrap();
            plan.iter().map(|i| batcher.batch(i).input_ids.len()).sum::<usize>()
        });
    });
    group.bench_function("tokenize_and_batch_epoch_b32", |b| {
        b.iter(|| {
            let ids = tokenizer.encode_batch(&texts).unwrap();
            let batcher = Batcher::new(&ids, tokenizer.pad_id())
                .with_targets(targets.view())
                .unwrap();
            let plan = batcher.train_plan(32, 50, 42, 0).unwrap();
            plan.iter().map(|i| batcher.batch(i).input_ids.len()).sum::<usize>()
        });
    });
    group.finish();
}

criterion_group!(benches, tokenize_and_batch);
criterion_main!(benches);
