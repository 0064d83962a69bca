//! The files of a data set's statistics: `stats.json`, CSV tables and PNG charts.

use std::path::Path;

use goemo_data::{thousands, Dataset, DatasetStats, KsMethod, LengthStats, Split};
use goemo_fs::write_json_atomic;
use goemo_report::{
    heatmap, line_chart, stacked_bar_chart, BarSegment, Column, Document, Heatmap, LegendPosition, LineChart, Series,
    StackedBarChart, Table,
};

use crate::Result;

/// Colours of train, dev and test in every chart.
const SPLIT_COLORS: [(u8, u8, u8); 3] = [(70, 110, 190), (230, 140, 40), (60, 160, 90)];

/// Writes into `out`: `stats.json`; `dataset.md` (the statistics as a document, with the
/// charts); CSV tables of the label distribution, labels per example,
/// length summaries, split-consistency tests and co-occurrence; charts of the label distribution
/// stacked by number of labels (with and without neutral), co-occurrence, and character and
/// token lengths per split (token lengths when given, for train, dev and test in order, with a
/// line at `max_length`).
pub fn write_dataset_report(
    stats: &DatasetStats,
    dataset: &Dataset,
    token_lengths: Option<&[Vec<usize>]>,
    max_length: usize,
    out: &Path,
) -> Result<()> {
    write_json_atomic(out.join("stats.json"), stats)?;
    goemo_fs::write_bytes_atomic(
        out.join("dataset.md"),
        dataset_markdown(stats, token_lengths.is_some()).as_bytes(),
    )?;
    write_tables(stats, out)?;
    write_label_charts(stats, out)?;
    let char_lengths: Vec<Vec<usize>> = Split::ALL
        .iter()
        .map(|&s| dataset.split(s).iter().map(|e| e.text.chars().count()).collect())
        .collect();
    length_chart(
        &out.join("char_lengths.png"),
        "Text lengths in characters, per split",
        "characters (Unicode code points), bins of 10",
        &char_lengths,
        10,
        None,
    )?;
    if let Some(tokens) = token_lengths {
        length_chart(
            &out.join("token_lengths.png"),
            "Text lengths in tokens (special tokens included), per split",
            "tokens, bins of 4",
            tokens,
            4,
            Some(max_length),
        )?;
    }
    Ok(())
}

/// The statistics as a document: splits, labels per split, labels per example, lengths and
/// truncation, split consistency with a plain reading of each p-value, associated label pairs,
/// and the charts.
fn dataset_markdown(stats: &DatasetStats, has_tokens: bool) -> String {
    let mut d = Document::new("Data set statistics");
    let total: usize = stats.split_sizes.iter().sum();
    d.paragraph(format!(
        "{} labels; {} examples: {}.",
        stats.labels.len(),
        thousands(total),
        stats
            .splits
            .iter()
            .map(|x| format!("{} {}", x.split, thousands(x.examples)))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    d.heading(2, "Labels per split")
        .paragraph("Examples carrying each label, and its share of the split, by decreasing training count.")
        .table(labels_per_split(stats))
        .figure("label_distribution.png", "examples per label");
    if stats.labels.iter().any(|l| l == "neutral") {
        d.figure(
            "label_distribution_without_neutral.png",
            "examples per label without neutral",
        );
    }
    d.heading(2, "Labels per example").table(labels_per_example(stats));
    d.heading(2, "Text lengths")
        .paragraph("Characters are Unicode code points; tokens include the special tokens. Quantiles interpolate linearly (goemo-stats' `quantile`, numpy's default); std is the population's.")
        .table(lengths(stats))
        .figure("char_lengths.png", "character lengths per split");
    if has_tokens {
        d.figure("token_lengths.png", "token lengths per split");
    }
    d.heading(2, "Split consistency")
        .paragraph("Whether the splits look drawn from one distribution: χ² tests of independence (as `scipy.stats.chi2_contingency`) and two-sample Kolmogorov–Smirnov tests on character lengths (as `scipy.stats.ks_2samp`). A p-value above 0.05 finds no difference at the 5 % level.")
        .table(split_consistency(stats));
    d.heading(2, "Label co-occurrence")
        .paragraph("Pairs carried together by at least 20 examples of all splits, by lift (P(a, b) / (P(a) P(b))); PMI is in bits (log2 of the lift).")
        .table(top_pairs(stats))
        .figure("cooccurrence.png", "co-occurrence");
    d.to_markdown(false)
}

fn labels_per_split(stats: &DatasetStats) -> Table {
    let mut t = Table::with_text_columns(&["label", "train", "dev", "test"], 1);
    let mut order: Vec<usize> = (0..stats.labels.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(stats.splits[0].label_counts[i]));
    for &i in &order {
        let cells = stats.splits.iter().map(|x| {
            let n = x.label_counts[i];
            format!(
                "{} ({:.2} %)",
                thousands(n),
                100.0 * n as f64 / x.examples.max(1) as f64
            )
        });
        t.row(std::iter::once(stats.labels[i].clone()).chain(cells));
    }
    t
}

fn labels_per_example(stats: &DatasetStats) -> Table {
    let mut t = Table::with_text_columns(&["split", "1 label", "2 labels", "3 or more"], 1);
    for x in &stats.splits {
        let cells = x.label_count_groups.iter().map(|&k| {
            format!(
                "{} ({:.1} %)",
                thousands(k),
                100.0 * k as f64 / x.examples.max(1) as f64
            )
        });
        t.row(std::iter::once(x.split.clone()).chain(cells));
    }
    t
}

fn lengths(stats: &DatasetStats) -> Table {
    let mut names: Vec<String> = [
        "split",
        "unit",
        "min",
        "q25",
        "median",
        "mean ± std",
        "q75",
        "q90",
        "q95",
        "q99",
        "max",
    ]
    .map(String::from)
    .to_vec();
    names.extend(
        stats.splits[0]
            .char_lengths
            .truncation
            .iter()
            .map(|t| format!("> {}", t.max_length)),
    );
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut t = Table::with_text_columns(&names, 2);
    for x in &stats.splits {
        let rows =
            std::iter::once(("characters", &x.char_lengths)).chain(x.token_lengths.as_ref().map(|t| ("tokens", t)));
        for (unit, l) in rows {
            let mut cells = vec![
                x.split.clone(),
                unit.to_string(),
                l.min.to_string(),
                format!("{:.0}", l.q25),
                format!("{:.0}", l.median),
                format!("{:.1} ± {:.1}", l.mean, l.std),
            ];
            cells.extend([l.q75, l.q90, l.q95, l.q99].map(|q| format!("{q:.0}")));
            cells.push(l.max.to_string());
            cells.extend(
                l.truncation
                    .iter()
                    .map(|t| format!("{} ({:.3} %)", t.texts, 100.0 * t.rate)),
            );
            t.row(cells);
        }
    }
    t
}

fn split_consistency(stats: &DatasetStats) -> Table {
    let mut t = Table::new([
        Column::text("test"),
        Column::number("statistic"),
        Column::number("dof"),
        Column::number("p-value"),
        Column::text("reading"),
    ]);
    let reading = |p: f64| {
        if p < 0.05 {
            "the splits differ (p < 0.05)"
        } else {
            "no difference found"
        }
    };
    let c = &stats.split_consistency;
    for (name, test) in [
        ("χ², split × label", &c.label_chi2),
        ("χ², split × 1/2/3+ labels", &c.label_count_chi2),
    ] {
        match test {
            Some(x) => t.row([
                name.to_string(),
                format!("{:.3}", x.statistic),
                x.dof.to_string(),
                format!("{:.4}", x.p_value),
                reading(x.p_value).to_string(),
            ]),
            None => t.row([name, "", "", "", "not computable: a split or group is empty"]),
        };
    }
    for x in &c.length_ks {
        let method = match x.method {
            KsMethod::Exact => "exact",
            KsMethod::Asymptotic => "asymptotic",
        };
        t.row([
            format!("KS, characters, {} vs {} ({method})", x.a, x.b),
            format!("{:.4}", x.statistic),
            String::new(),
            format!("{:.4}", x.p_value),
            reading(x.p_value).to_string(),
        ]);
    }
    t
}

fn top_pairs(stats: &DatasetStats) -> Table {
    let mut t = Table::with_text_columns(&["label a", "label b", "together", "lift", "PMI (bits)"], 2);
    for (a, b, count, lift, pmi) in stats.top_pairs(20).into_iter().take(15) {
        t.row([a, b, count.to_string(), format!("{lift:.2}"), format!("{pmi:.2}")]);
    }
    t
}

/// The CSV tables: label distribution with class weights, labels per example, lengths, split
/// consistency and co-occurrence, at full precision.
fn write_tables(stats: &DatasetStats, out: &Path) -> Result<()> {
    label_distribution_csv(stats).write_csv(out.join("label_distribution.csv"))?;
    let mut per_example = Table::with_text_columns(&["split", "labels", "examples", "fraction"], 1);
    for s in &stats.splits {
        for (k, n) in s.labels_per_example.iter().enumerate() {
            per_example.row([
                s.split.clone(),
                k.to_string(),
                n.to_string(),
                (*n as f64 / s.examples.max(1) as f64).to_string(),
            ]);
        }
    }
    per_example.write_csv(out.join("labels_per_example.csv"))?;
    lengths_csv(stats).write_csv(out.join("lengths.csv"))?;
    split_consistency_csv(stats).write_csv(out.join("split_consistency.csv"))?;
    let co = &stats.cooccurrence;
    let fmt = |v: f64| if v.is_finite() { v.to_string() } else { String::new() };
    let mut pairs = Table::with_text_columns(&["label_a", "label_b", "count", "p_b_given_a", "lift", "pmi_bits"], 2);
    let n = stats.labels.len();
    for (i, j) in (0..n).flat_map(|i| (0..n).map(move |j| (i, j))) {
        pairs.row([
            stats.labels[i].clone(),
            stats.labels[j].clone(),
            co.counts[[i, j]].to_string(),
            fmt(co.conditional[[i, j]]),
            fmt(co.lift[[i, j]]),
            fmt(co.pmi[[i, j]]),
        ]);
    }
    pairs.write_csv(out.join("cooccurrence.csv"))?;
    Ok(())
}

fn label_distribution_csv(stats: &DatasetStats) -> Table {
    let mut t = Table::with_text_columns(
        &[
            "label",
            "train",
            "dev",
            "test",
            "train_fraction",
            "weight_inverse",
            "weight_sqrt_inverse",
            "weight_effective_samples",
        ],
        1,
    );
    for (i, c) in stats.label_counts.iter().enumerate() {
        t.row([
            c.label.clone(),
            c.train.to_string(),
            c.dev.to_string(),
            c.test.to_string(),
            c.train_fraction.to_string(),
            stats.class_weights_inverse[i].to_string(),
            stats.class_weights_sqrt_inverse[i].to_string(),
            stats.class_weights_effective_samples[i].to_string(),
        ]);
    }
    t
}

fn lengths_csv(stats: &DatasetStats) -> Table {
    let mut names: Vec<String> = [
        "split", "unit", "count", "min", "max", "mean", "std", "median", "q25", "q75", "q90", "q95", "q99",
    ]
    .map(String::from)
    .to_vec();
    for t in stats.splits.first().map_or(&[][..], |s| &s.char_lengths.truncation[..]) {
        names.push(format!("over_{}", t.max_length));
        names.push(format!("over_{}_rate", t.max_length));
    }
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut t = Table::with_text_columns(&names, 2);
    let mut row = |split: &str, unit: &str, l: &LengthStats| {
        let mut cells = vec![
            split.to_string(),
            unit.to_string(),
            l.count.to_string(),
            l.min.to_string(),
            l.max.to_string(),
        ];
        cells.extend([l.mean, l.std, l.median, l.q25, l.q75, l.q90, l.q95, l.q99].map(|v| v.to_string()));
        for x in &l.truncation {
            cells.push(x.texts.to_string());
            cells.push(x.rate.to_string());
        }
        t.row(cells);
    };
    for s in &stats.splits {
        row(&s.split, "characters", &s.char_lengths);
        if let Some(tokens) = &s.token_lengths {
            row(&s.split, "tokens", tokens);
        }
    }
    t
}

fn split_consistency_csv(stats: &DatasetStats) -> Table {
    let mut t = Table::with_text_columns(&["test", "a", "b", "statistic", "dof", "p_value"], 3);
    let c = &stats.split_consistency;
    for (name, test) in [("label_chi2", &c.label_chi2), ("label_count_chi2", &c.label_count_chi2)] {
        if let Some(x) = test {
            t.row([
                name.to_string(),
                "all".into(),
                String::new(),
                x.statistic.to_string(),
                x.dof.to_string(),
                x.p_value.to_string(),
            ]);
        }
    }
    for x in &c.length_ks {
        t.row([
            "length_ks".to_string(),
            x.a.clone(),
            x.b.clone(),
            x.statistic.to_string(),
            String::new(),
            x.p_value.to_string(),
        ]);
    }
    t
}

fn write_label_charts(stats: &DatasetStats, out: &Path) -> Result<()> {
    let n = stats.labels.len();
    // Examples carrying each label over all splits, by their number of labels.
    let by_group: Vec<[usize; 3]> = (0..n)
        .map(|l| {
            let mut sum = [0; 3];
            for s in &stats.splits {
                for (total, v) in sum.iter_mut().zip(s.label_counts_by_group[l]) {
                    *total += v;
                }
            }
            sum
        })
        .collect();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(by_group[i].iter().sum::<usize>()));
    let neutral = stats.labels.iter().position(|l| l == "neutral");
    let total: usize = stats.split_sizes.iter().sum();
    for (file, keep_neutral) in [
        ("label_distribution.png", true),
        ("label_distribution_without_neutral.png", false),
    ] {
        if !keep_neutral && neutral.is_none() {
            continue;
        }
        let shown: Vec<usize> = order
            .iter()
            .copied()
            .filter(|&i| keep_neutral || Some(i) != neutral)
            .collect();
        let names: Vec<String> = shown.iter().map(|&i| stats.labels[i].clone()).collect();
        let segments: Vec<BarSegment> = ["1 label", "2 labels", "3+ labels"]
            .iter()
            .enumerate()
            .map(|(g, name)| BarSegment {
                name: format!("examples with {name}"),
                color: SPLIT_COLORS[g],
                values: shown.iter().map(|&i| by_group[i][g] as f64).collect(),
            })
            .collect();
        let title = if keep_neutral {
            format!(
                "Examples per label, all {} examples, by the example's number of labels",
                thousands(total)
            )
        } else {
            format!(
                "Examples per label without neutral, all {} examples, by number of labels",
                thousands(total)
            )
        };
        stacked_bar_chart(
            out.join(file),
            &StackedBarChart {
                title: &title,
                x_label: "examples carrying the label (train + dev + test)",
                labels: &names,
                segments: &segments,
            },
        )?;
    }
    cooccurrence_chart(stats, &order, out)
}

/// Conditional probabilities without the trivial diagonal, labels in `order`.
fn cooccurrence_chart(stats: &DatasetStats, order: &[usize], out: &Path) -> Result<()> {
    let co = &stats.cooccurrence;
    let names: Vec<String> = order.iter().map(|&i| stats.labels[i].clone()).collect();
    let values: Vec<Vec<f64>> = order
        .iter()
        .map(|&i| {
            order
                .iter()
                .map(|&j| if i == j { f64::NAN } else { co.conditional[[i, j]] })
                .collect()
        })
        .collect();
    heatmap(
        out.join("cooccurrence.png"),
        &Heatmap {
            title: "Label co-occurrence, all splits: P(column | row)",
            labels: &names,
            values: &values,
            max: 0.3,
            diverging: false,
        },
    )?;
    Ok(())
}

/// Per split, the share of its texts in each bin of `bin_width` up to `x_end`.
fn length_series(lengths: &[Vec<usize>], bin_width: usize, x_end: usize) -> Vec<Series> {
    let bins = x_end / bin_width + 1;
    Split::ALL
        .iter()
        .zip(lengths)
        .zip(SPLIT_COLORS)
        .map(|((split, values), color)| {
            let mut counts = vec![0usize; bins];
            for &v in values {
                if v / bin_width < bins {
                    counts[v / bin_width] += 1;
                }
            }
            let n = values.len().max(1) as f64;
            Series {
                name: format!("{split} ({} texts)", values.len()),
                points: counts
                    .iter()
                    .enumerate()
                    .map(|(b, &c)| ((b * bin_width) as f64 + bin_width as f64 / 2.0, c as f64 / n))
                    .collect(),
                color,
                dashed: false,
                markers: false,
            }
        })
        .collect()
}

/// Share of each split's texts per bin of lengths, one line per split, so that splits of
/// different sizes compare; the x axis ends at the 99.9th percentile of all lengths, or past the
/// truncation line.
fn length_chart(
    path: &Path,
    title: &str,
    x_label: &str,
    lengths: &[Vec<usize>],
    bin_width: usize,
    marker: Option<usize>,
) -> Result<()> {
    let mut all: Vec<usize> = lengths.iter().flatten().copied().collect();
    all.sort_unstable();
    let p999 = all
        .get(((all.len() as f64 * 0.999) as usize).min(all.len().saturating_sub(1)))
        .copied()
        .unwrap_or(1);
    // The axis ends past 99.9 % of texts; a truncation length beyond it is named in the legend.
    let x_end = p999 + 2 * bin_width;
    let longest = all.last().copied().unwrap_or(0);
    let x_label = if longest > x_end {
        format!("{x_label}; the axis ends at {x_end}, past 99.9 % of texts (the longest: {longest})")
    } else {
        x_label.to_string()
    };
    let mut series = length_series(lengths, bin_width, x_end);
    let y_max = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(0.0f64, f64::max)
        * 1.1;
    if let Some(m) = marker {
        let over = all.iter().filter(|&&v| v > m).count();
        let (name, points) = if m <= x_end {
            (format!("truncation at {m}"), vec![(m as f64, 0.0), (m as f64, y_max)])
        } else {
            (
                format!(
                    "truncation at {m}, right of the axis: {over} {} longer",
                    if over == 1 { "text" } else { "texts" }
                ),
                vec![],
            )
        };
        series.push(Series {
            name,
            points,
            color: (200, 30, 30),
            dashed: true,
            markers: false,
        });
    }
    line_chart(
        path,
        &LineChart {
            title,
            x_label: &x_label,
            y_label: "share of the split's texts",
            series: &series,
            x_range: (0.0, x_end as f64),
            y_range: Some((0.0, y_max.max(1e-6))),
            legend: LegendPosition::UpperRight,
        },
    )?;
    Ok(())
}
