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
    assert_eq!(stats.splits[0].labels_per_example.iter().sum::<usize>(), 43_410);
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

/// Split consistency of the release equals scipy's (`goemotions` in goemo-stats's fixture, from
/// `scripts/make_stats_fixtures.py`), and every split has its own statistics.
#[test]
fn split_statistics_and_consistency_equal_scipy() {
    let ds = load_goemotions(repo("data/goemotions"), ReadMode::Strict)
        .unwrap()
        .dataset;
    let stats = DatasetStats::compute(&ds, None, 128).unwrap();
    let fixture: serde_json::Value =
        serde_json::from_str(include_str!("../crates/goemo-stats/tests/fixtures/stats_cases.json")).unwrap();
    let want = &fixture["goemotions"];
    let close = |got: f64, want: &serde_json::Value, what: &str| {
        let want = want.as_f64().unwrap();
        assert!(
            (got - want).abs() <= 1e-9 * want.abs(),
            "{what}: {got} against scipy {want}"
        );
    };
    let c = &stats.split_consistency;
    for (name, test) in [("label_chi2", &c.label_chi2), ("label_count_chi2", &c.label_count_chi2)] {
        let test = test.as_ref().unwrap();
        close(test.statistic, &want[name]["statistic"], name);
        close(test.p_value, &want[name]["p_value"], name);
        assert_eq!(test.dof as u64, want[name]["dof"].as_u64().unwrap());
    }
    assert_eq!(c.length_ks.len(), 3);
    for (got, want) in c.length_ks.iter().zip(want["length_ks"].as_array().unwrap()) {
        assert_eq!(
            (got.a.as_str(), got.b.as_str()),
            (want["a"].as_str().unwrap(), want["b"].as_str().unwrap())
        );
        close(got.statistic, &want["statistic"], "KS statistic");
        close(got.p_value, &want["p_value"], "KS p-value");
    }
    let [train, dev, test] = [&stats.splits[0], &stats.splits[1], &stats.splits[2]];
    assert_eq!((train.examples, dev.examples, test.examples), (43_410, 5_426, 5_427));
    for s in &stats.splits {
        assert_eq!(
            s.label_count_groups.iter().sum::<usize>(),
            s.examples,
            "{}: 1 + 2 + 3+",
            s.split
        );
        assert_eq!(s.char_lengths.count, s.examples);
        let by_group: usize = s.label_counts_by_group.iter().flatten().sum();
        assert_eq!(by_group, s.label_counts.iter().sum::<usize>(), "{}", s.split);
    }
    assert_eq!(test.label_counts[ds.labels.id("grief").unwrap()], 6);
    // Co-occurrence covers every split: its diagonal is each label's total count.
    let neutral = ds.labels.id("neutral").unwrap();
    assert_eq!(stats.cooccurrence.counts[[neutral, neutral]], 14_219 + 1_766 + 1_787);
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
