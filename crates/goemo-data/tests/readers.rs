//! Readers: well-formed input, every kind of malformed row, lenient mode, and arbitrary bytes.

use goemo_data::{
    load_goemotions, parse_csv, parse_goemotions_tsv, CsvLabels, CsvSpec, DataError, LabelSet, ReadMode, Tokenize,
};
use proptest::prelude::*;

fn labels() -> LabelSet {
    LabelSet::goemotions()
}

fn strict(bytes: &[u8]) -> Result<goemo_data::ReadOutcome, DataError> {
    parse_goemotions_tsv(bytes, "train.tsv", &labels(), ReadMode::Strict)
}

#[test]
fn reads_rows_with_bom_crlf_and_multiple_labels() {
    let out = strict(b"\xef\xbb\xbfI love it!\t18,17,18\tabc1\r\nMeh.\t27\tabc2\r\n").unwrap();
    assert_eq!(out.examples.len(), 2);
    assert_eq!(out.examples[0].text, "I love it!");
    assert_eq!(out.examples[0].labels, vec![17, 18], "sorted, duplicates removed");
    assert_eq!(out.examples[1].id, "abc2");
    assert!(out.skipped.is_empty());
}

#[test]
fn malformed_rows_name_file_and_line() {
    let cases: [(&[u8], &str); 7] = [
        (b"ok\t1\ta\ntwo columns\t1\n", "expected 3 tab-separated columns"),
        (b"ok\t1\ta\nx\t1\tb\textra\n", "found 4"),
        (b"ok\t1\ta\nx\tone\tb\n", "unknown label \"one\""),
        (b"ok\t1\ta\nx\t28\tb\n", "out of range"),
        (b"ok\t1\ta\nx\t-1\tb\n", "not a non-negative integer"),
        (b"ok\t1\ta\n  \t1\tb\n", "empty text"),
        (b"ok\t1\ta\nbad \xff byte\t1\tb\n", "invalid UTF-8"),
    ];
    for (input, expected) in cases {
        let err = strict(input).unwrap_err().to_string();
        assert!(err.starts_with("train.tsv:2: "), "{err}");
        assert!(err.contains(expected), "{err} should contain {expected}");
    }
}

#[test]
fn lenient_mode_skips_and_reports() {
    let input = b"a\t1\tx\nb\t99\ty\nc\t2\tz\nonly text\n";
    let out = parse_goemotions_tsv(input, "dev.tsv", &labels(), ReadMode::Lenient).unwrap();
    assert_eq!(out.examples.len(), 2);
    assert_eq!(out.skipped.len(), 2);
    assert_eq!(out.skipped[0].line, 2);
    assert_eq!(out.skipped[1].line, 4);
}

#[test]
fn a_loaded_folder_says_which_rows_it_skipped() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("train.tsv"), "a\t1\tx\nb\t99\ty\n").unwrap();
    std::fs::write(dir.path().join("dev.tsv"), "c\t2\tz\n").unwrap();
    std::fs::write(dir.path().join("test.tsv"), "d\t3\tw\n").unwrap();
    let loaded = load_goemotions(dir.path(), ReadMode::Lenient).unwrap();
    let lines = loaded.describe_skipped();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("train: skipped 1 malformed rows (first: line 2: "),
        "{lines:?}"
    );

    /// Words per text.
    struct Words;
    impl Tokenize for Words {
        fn encode_batch(&self, texts: &[&str]) -> goemo_data::Result<Vec<Vec<u32>>> {
            Ok(texts
                .iter()
                .map(|t| t.split_whitespace().map(|_| 1).collect())
                .collect())
        }
        fn token_lengths(&self, texts: &[&str]) -> goemo_data::Result<Vec<usize>> {
            Ok(texts.iter().map(|t| t.split_whitespace().count()).collect())
        }
        fn pad_id(&self) -> u32 {
            0
        }
        fn max_length(&self) -> usize {
            8
        }
    }
    let mut dataset = loaded.dataset;
    dataset.dev[0].text = "two words".into();
    assert_eq!(dataset.token_lengths(&Words).unwrap(), vec![vec![1], vec![2], vec![1]]);
}

#[test]
fn csv_with_joined_label_names_or_ids() {
    let spec = CsvSpec {
        id_column: Some("id".into()),
        ..CsvSpec::joined("text", "labels")
    };
    let csv = "id,text,labels\n1,\"Great, thanks\",\"gratitude,joy\"\n2,Sad,25\n";
    let (set, out) = parse_csv(csv.as_bytes(), "mine.csv", &spec, Some(&labels()), ReadMode::Strict).unwrap();
    assert_eq!(set.len(), 28);
    assert_eq!(out.examples[0].text, "Great, thanks");
    assert_eq!(out.examples[0].labels, vec![15, 17]);
    assert_eq!(out.examples[1].labels, vec![25]);

    // Without a label set, names define it (sorted); ids cannot be read.
    let (set, out) = parse_csv(
        b"text,labels\nhi,b\nyo,\"a,b\"\n",
        "x.csv",
        &CsvSpec::joined("text", "labels"),
        None,
        ReadMode::Strict,
    )
    .unwrap();
    assert_eq!(set.names(), ["a", "b"]);
    assert_eq!(out.examples[1].labels, vec![0, 1]);
    assert_eq!(out.examples[1].id, "2");
    let err = parse_csv(
        b"text,labels\nhi,3\n",
        "x.csv",
        &CsvSpec::joined("text", "labels"),
        None,
        ReadMode::Strict,
    )
    .unwrap_err();
    assert!(err.to_string().contains("pass the label names"), "{err}");
}

#[test]
fn csv_with_one_column_per_label() {
    let csv = b"text,joy,anger\nyay,1,0\ngrr,0,1\nboth,1,1\n";
    let (set, out) = parse_csv(csv, "oh.csv", &CsvSpec::one_hot("text"), None, ReadMode::Strict).unwrap();
    assert_eq!(set.names(), ["joy", "anger"]);
    assert_eq!(out.examples[2].labels, vec![0, 1]);
    let err = parse_csv(
        b"text,joy\nyay,2\n",
        "oh.csv",
        &CsvSpec::one_hot("text"),
        None,
        ReadMode::Strict,
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "oh.csv:2: column \"joy\" must be 0 or 1, found \"2\"");
    let spec = CsvSpec {
        labels: CsvLabels::OneHot {
            columns: Some(vec!["missing".into()]),
        },
        ..CsvSpec::one_hot("text")
    };
    assert!(parse_csv(csv, "oh.csv", &spec, None, ReadMode::Strict)
        .unwrap_err()
        .to_string()
        .contains("no column \"missing\""));
}

#[test]
fn csv_errors_name_the_line() {
    let csv = b"text,labels\nfine,joy\n,joy\n";
    let err = parse_csv(
        csv,
        "c.csv",
        &CsvSpec::joined("text", "labels"),
        Some(&labels()),
        ReadMode::Strict,
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "c.csv:3: empty text");
    let out = parse_csv(
        csv,
        "c.csv",
        &CsvSpec::joined("text", "labels"),
        Some(&labels()),
        ReadMode::Lenient,
    )
    .unwrap()
    .1;
    assert_eq!((out.examples.len(), out.skipped.len()), (1, 1));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn tsv_reader_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        for mode in [ReadMode::Strict, ReadMode::Lenient] {
            if let Ok(out) = parse_goemotions_tsv(&bytes, "fuzz.tsv", &labels(), mode) {
                prop_assert!(out.examples.iter().all(|e| e.labels.iter().all(|&l| l < 28)));
            }
        }
    }

    #[test]
    fn tsv_reader_never_panics_on_near_valid_rows(
        rows in proptest::collection::vec(("[a-z \\t,0-9😀]{0,12}", "[0-9,a-z-]{0,6}", "[a-z0-9\\t]{0,4}"), 0..20)
    ) {
        let text: String = rows.iter().map(|(t, l, i)| format!("{t}\t{l}\t{i}\n")).collect();
        let _ = parse_goemotions_tsv(text.as_bytes(), "fuzz.tsv", &labels(), ReadMode::Lenient);
    }

    #[test]
    fn csv_reader_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let mut input = b"text,labels,joy\n".to_vec();
        input.extend_from_slice(&bytes);
        for mode in [ReadMode::Strict, ReadMode::Lenient] {
            let _ = parse_csv(&input, "fuzz.csv", &CsvSpec::joined("text", "labels"), Some(&labels()), mode);
            let _ = parse_csv(&input, "fuzz.csv", &CsvSpec::joined("text", "labels"), None, mode);
            let _ = parse_csv(&input, "fuzz.csv", &CsvSpec::one_hot("text"), None, mode);
            let _ = parse_csv(&bytes, "fuzz.csv", &CsvSpec::one_hot("text"), None, mode);
        }
    }
}
