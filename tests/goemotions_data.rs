//! The data layer on the real GoEmotions release and the real all-MiniLM-L6-v2 tokenizer, both
//! put in place by `scripts/setup.sh` (run by `make test`).

use std::path::{Path, PathBuf};

use goemo::data::{
    load_goemotions, preprocess, Batcher, DatasetStats, HfTokenizer, PreprocessOptions, ReadMode, Split, Taxonomy,
    TaxonomyMap, Tokenize, GOEMOTIONS_SPLIT_SIZES,
};

fn repo(path: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    assert!(p.exists(), "{} is missing: run `make setup` first", p.display());
    p
}

#[test]
fn full_release_counts() {
    let loaded = load_goemotions(repo("data/goemotions"), ReadMode::Strict).unwrap();
    let ds = &loaded.dataset;
    assert_eq!([ds.train.len(), ds.dev.len(), ds.test.len()], GOEMOTIONS_SPLIT_SIZES);
    assert_eq!(ds.labels.len(), 28);
    let stats = DatasetStats::compute(ds, None, 128).unwrap();
    let count = |name: &str| stats.label_counts[ds.labels.id(name).unwrap()].train;
    assert_eq!(count("neutral"), 14_219);
    assert_eq!(count("grief"), 77);
    assert_eq!(stats.labels_per_example.iter().sum::<usize>(), 43_410);
    // Class weights are in label-index order: grief (id 16) is the rarest, so the heaviest.
    let heaviest = stats
        .class_weights_inverse
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .unwrap()
        .0;
    assert_eq!(ds.labels.name(heaviest), Some("grief"));
}

#[test]
fn options_change_the_data() {
    let mut ds = load_goemotions(repo("data/goemotions"), ReadMode::Strict)
        .unwrap()
        .dataset;
    let options = PreprocessOptions {
        exclude_neutral: true,
        lowercase: true,
        max_train_samples: Some(1000),
        seed: 3,
        ..Default::default()
    };
    let report = preprocess(&mut ds, &options).unwrap();
    assert_eq!(ds.labels.len(), 27);
    assert_eq!(ds.labels.id("neutral"), None);
    // Examples whose only label was neutral are gone, and said so.
    assert!(report.dropped_no_label[0] > 10_000);
    assert_eq!(ds.train.len(), 1000);
    assert!(ds
        .dev
        .iter()
        .chain(&ds.test)
        .all(|e| !e.labels.is_empty() && e.labels.iter().all(|&l| l < 27)));
    assert!(ds.train.iter().all(|e| e.text == e.text.to_lowercase()));
    assert!(!report.describe().is_empty());
}

#[test]
fn ekman_taxonomy_on_the_test_split() {
    let ds = load_goemotions(repo("data/goemotions"), ReadMode::Strict)
        .unwrap()
        .dataset;
    let map = TaxonomyMap::new(Taxonomy::Ekman, &ds.labels).unwrap();
    let test = map.map_examples(&ds.test);
    assert_eq!(test.len(), ds.test.len());
    let neutral = map.groups.id("neutral").unwrap();
    let n_neutral = test.iter().filter(|e| e.labels.contains(&neutral)).count();
    assert_eq!(n_neutral, 1_787, "neutral maps to itself");
}

#[test]
fn tokenize_and_batch_the_test_split() {
    let ds = load_goemotions(repo("data/goemotions"), ReadMode::Strict)
        .unwrap()
        .dataset;
    let tokenizer = HfTokenizer::from_file(repo("data/models/all-MiniLM-L6-v2/tokenizer.json"), 128).unwrap();
    assert_eq!(tokenizer.pad_id(), 0);
    let texts: Vec<&str> = ds.test.iter().map(|e| e.text.as_str()).collect();
    let ids = tokenizer.encode_batch(&texts).unwrap();
    assert_eq!(ids.len(), 5_427);
    assert!(
        ids.iter()
            .all(|t| t.len() <= 128 && t[0] == 101 && *t.last().unwrap() == 102),
        "[CLS] ... [SEP]"
    );
    let lengths = tokenizer.token_lengths(&texts).unwrap();
    assert!(lengths.iter().zip(&ids).all(|(&l, t)| l >= t.len()));

    let targets = ds.targets(Split::Test);
    let batcher = Batcher::new(&ids, tokenizer.pad_id())
        .with_targets(targets.view())
        .unwrap()
        .with_token_type_ids(true);
    let plan = batcher.eval_plan(64).unwrap();
    assert_eq!(
        plan.concat(),
        (0..5_427).collect::<Vec<_>>(),
        "evaluation keeps input order"
    );
    let last = batcher.batch(plan.last().unwrap());
    assert_eq!(last.len(), 5_427 % 64, "the last partial batch is kept");
    for indices in &plan {
        let b = batcher.batch(indices);
        let width = indices.iter().map(|&i| ids[i].len()).max().unwrap();
        assert_eq!(b.input_ids.ncols(), width, "padded to the longest in the batch");
        assert_eq!(
            b.attention_mask.sum() as usize,
            indices.iter().map(|&i| ids[i].len()).sum::<usize>()
        );
        assert_eq!(b.targets.as_ref().unwrap().row(0), targets.row(indices[0]));
    }
}
