//! The files of a data set's statistics: `stats.json`, CSV tables and PNG charts.

use std::path::Path;

use goemo_data::{thousands, Dataset, DatasetStats, KsMethod, LengthStats, Split};
use goemo_fs::write_json_atomic;
use goemo_report::{
    heatmap, line_chart, stacked_bar_chart, write_csv_atomic, BarSegment, Heatmap, LegendPosition, LineChart, Series,
    StackedBarChart,
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

/// The statistics as Markdown: splits, labels per split, labels per example, lengths and
/// truncation, split consistency with a plain reading of each p-value, associated label pairs,
/// and the charts.
fn dataset_markdown(stats: &DatasetStats, has_tokens: bool) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let total: usize = stats.split_sizes.iter().sum();
    let _ = writeln!(s, "# Data set statistics\n");
    let _ = writeln!(
        s,
        "{} labels; {} examples: {}.\n",
        stats.labels.len(),
        thousands(total),
        stats
            .splits
            .iter()
            .map(|x| format!("{} {}", x.split, thousands(x.examples)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(s, "## Labels per split\n");
    let _ = writeln!(
        s,
        "Examples carrying each label, and its share of the split, by decreasing training count.\n"
    );
    let _ = writeln!(s, "| label | train | dev | test |");
    let _ = writeln!(s, "| --- | ---: | ---: | ---: |");
    let mut order: Vec<usize> = (0..stats.labels.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(stats.splits[0].label_counts[i]));
    for &i in &order {
        let cells: Vec<String> = stats
            .splits
            .iter()
            .map(|x| {
                let n = x.label_counts[i];
                format!(
                    "{} ({:.2} %)",
                    thousands(n),
                    100.0 * n as f64 / x.examples.max(1) as f64
                )
            })
            .collect();
        let _ = writeln!(s, "| {} | {} |", stats.labels[i], cells.join(" | "));
    }
    let _ = writeln!(s, "\n![examples per label](label_distribution.png)\n");
    if stats.labels.iter().any(|l| l == "neutral") {
        let _ = writeln!(
            s,
            "![examples per label without neutral](label_distribution_without_neutral.png)\n"
        );
    }
    let _ = writeln!(s, "## Labels per example\n");
    let _ = writeln!(s, "| split | 1 label | 2 labels | 3 or more |");
    let _ = writeln!(s, "| --- | ---: | ---: | ---: |");
    for x in &stats.splits {
        let cells: Vec<String> = x
            .label_count_groups
            .iter()
            .map(|&k| {
                format!(
                    "{} ({:.1} %)",
                    thousands(k),
                    100.0 * k as f64 / x.examples.max(1) as f64
                )
            })
            .collect();
        let _ = writeln!(s, "| {} | {} |", x.split, cells.join(" | "));
    }
    let _ = writeln!(s, "\n## Text lengths\n");
    let _ = writeln!(
        s,
        "Characters are Unicode code points; tokens include the special tokens. Quantiles interpolate linearly; std is the population's.\n"
    );
    let limits: Vec<usize> = stats.splits[0]
        .char_lengths
        .truncation
        .iter()
        .map(|t| t.max_length)
        .collect();
    let over: Vec<String> = limits.iter().map(|m| format!("> {m}")).collect();
    let _ = writeln!(
        s,
        "| split | unit | min | q25 | median | mean ± std | q75 | q90 | q95 | q99 | max | {} |",
        over.join(" | ")
    );
    let _ = writeln!(s, "| --- | --- |{}", " ---: |".repeat(9 + limits.len()));
    for x in &stats.splits {
        let rows =
            std::iter::once(("characters", &x.char_lengths)).chain(x.token_lengths.as_ref().map(|t| ("tokens", t)));
        for (unit, l) in rows {
            let truncated: Vec<String> = l
                .truncation
                .iter()
                .map(|t| format!("{} ({:.3} %)", t.texts, 100.0 * t.rate))
                .collect();
            let _ = writeln!(
                s,
                "| {} | {unit} | {} | {:.0} | {:.0} | {:.1} ± {:.1} | {:.0} | {:.0} | {:.0} | {:.0} | {} | {} |",
                x.split,
                l.min,
                l.q25,
                l.median,
                l.mean,
                l.std,
                l.q75,
                l.q90,
                l.q95,
                l.q99,
                l.max,
                truncated.join(" | ")
            );
        }
    }
    let _ = writeln!(s, "\n![character lengths per split](char_lengths.png)\n");
    if has_tokens {
        let _ = writeln!(s, "![token lengths per split](token_lengths.png)\n");
    }
    let _ = writeln!(s, "## Split consistency\n");
    let _ = writeln!(
        s,
        "Whether the splits look drawn from one distribution: χ² tests of independence (as `scipy.stats.chi2_contingency`) and two-sample Kolmogorov–Smirnov tests on character lengths (as `scipy.stats.ks_2samp`). A p-value above 0.05 finds no difference at the 5 % level.\n"
    );
    let _ = writeln!(s, "| test | statistic | dof | p-value | reading |");
    let _ = writeln!(s, "| --- | ---: | ---: | ---: | --- |");
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
            Some(t) => {
                let _ = writeln!(
                    s,
                    "| {name} | {:.3} | {} | {:.4} | {} |",
                    t.statistic,
                    t.dof,
                    t.p_value,
                    reading(t.p_value)
                );
            }
            None => {
                let _ = writeln!(s, "| {name} | | | | not computable: a split or group is empty |");
            }
        }
    }
    for t in &c.length_ks {
        let _ = writeln!(
            s,
            "| KS, characters, {} vs {} ({}) | {:.4} | | {:.4} | {} |",
            t.a,
            t.b,
            match t.method {
                KsMethod::Exact => "exact",
                KsMethod::Asymptotic => "asymptotic",
            },
            t.statistic,
            t.p_value,
            reading(t.p_value)
        );
    }
    let _ = writeln!(s, "\n## Label co-occurrence\n");
    let _ = writeln!(
        s,
        "Pairs carried together by at least 20 examples of all splits, by lift (P(a, b) / (P(a) P(b))); PMI is log2 of the lift.\n"
    );
    let _ = writeln!(s, "| label a | label b | together | lift | PMI |");
    let _ = writeln!(s, "| --- | --- | ---: | ---: | ---: |");
    for (a, b, count, lift, pmi) in stats.top_pairs(20).into_iter().take(15) {
        let _ = writeln!(s, "| {a} | {b} | {count} | {lift:.2} | {pmi:.2} |");
    }
    let _ = writeln!(s, "\n![co-occurrence](cooccurrence.png)");
    s
}

fn write_tables(stats: &DatasetStats, out: &Path) -> Result<()> {
    write_csv_atomic(
        out.join("label_distribution.csv"),
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
        stats.label_counts.iter().enumerate().map(|(i, c)| {
            vec![
                c.label.clone(),
                c.train.to_string(),
                c.dev.to_string(),
                c.test.to_string(),
                c.train_fraction.to_string(),
                stats.class_weights_inverse[i].to_string(),
                stats.class_weights_sqrt_inverse[i].to_string(),
                stats.class_weights_effective_samples[i].to_string(),
            ]
        }),
    )?;
    write_csv_atomic(
        out.join("labels_per_example.csv"),
        &["split", "labels", "examples", "fraction"],
        stats.splits.iter().flat_map(|s| {
            s.labels_per_example.iter().enumerate().map(move |(k, n)| {
                [
                    s.split.clone(),
                    k.to_string(),
                    n.to_string(),
                    (*n as f64 / s.examples.max(1) as f64).to_string(),
                ]
            })
        }),
    )?;
    let truncation_lengths: Vec<usize> = stats
        .splits
        .first()
        .map(|s| s.char_lengths.truncation.iter().map(|t| t.max_length).collect())
        .unwrap_or_default();
    let mut header: Vec<String> = [
        "split", "unit", "count", "min", "max", "mean", "std", "median", "q25", "q75", "q90", "q95", "q99",
    ]
    .map(String::from)
    .to_vec();
    for m in &truncation_lengths {
        header.push(format!("over_{m}"));
        header.push(format!("over_{m}_rate"));
    }
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let length_row = |split: &str, unit: &str, l: &LengthStats| {
        let mut row = vec![
            split.to_string(),
            unit.to_string(),
            l.count.to_string(),
            l.min.to_string(),
            l.max.to_string(),
            l.mean.to_string(),
            l.std.to_string(),
            l.median.to_string(),
            l.q25.to_string(),
            l.q75.to_string(),
            l.q90.to_string(),
            l.q95.to_string(),
            l.q99.to_string(),
        ];
        for t in &l.truncation {
            row.push(t.texts.to_string());
            row.push(t.rate.to_string());
        }
        row
    };
    write_csv_atomic(
        out.join("lengths.csv"),
        &header,
        stats.splits.iter().flat_map(|s| {
            std::iter::once(length_row(&s.split, "characters", &s.char_lengths))
                .chain(s.token_lengths.as_ref().map(|t| length_row(&s.split, "tokens", t)))
        }),
    )?;
    let c = &stats.split_consistency;
    let mut tests: Vec<[String; 6]> = vec![];
    for (name, test) in [("label_chi2", &c.label_chi2), ("label_count_chi2", &c.label_count_chi2)] {
        if let Some(t) = test {
            tests.push([
                name.into(),
                "all".into(),
                String::new(),
                t.statistic.to_string(),
                t.dof.to_string(),
                t.p_value.to_string(),
            ]);
        }
    }
    for t in &c.length_ks {
        tests.push([
            "length_ks".into(),
            t.a.clone(),
            t.b.clone(),
            t.statistic.to_string(),
            String::new(),
            t.p_value.to_string(),
        ]);
    }
    write_csv_atomic(
        out.join("split_consistency.csv"),
        &["test", "a", "b", "statistic", "dof", "p_value"],
        tests,
    )?;
    let co = &stats.cooccurrence;
    let n = stats.labels.len();
    let fmt = |v: f64| if v.is_finite() { v.to_string() } else { String::new() };
    write_csv_atomic(
        out.join("cooccurrence.csv"),
        &["label_a", "label_b", "count", "p_b_given_a", "lift", "pmi"],
        (0..n).flat_map(|i| (0..n).map(move |j| (i, j))).map(|(i, j)| {
            [
                stats.labels[i].clone(),
                stats.labels[j].clone(),
                co.counts[[i, j]].to_string(),
                fmt(co.conditional[[i, j]]),
                fmt(co.lift[[i, j]]),
                fmt(co.pmi[[i, j]]),
            ]
        }),
    )?;
    Ok(())
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
    // Conditional probabilities without the trivial diagonal, in frequency order.
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
    // Room right of the truncation line for the legend in the upper right corner.
    let x_end = all
        .get(((all.len() as f64 * 0.999) as usize).min(all.len().saturating_sub(1)))
        .copied()
        .unwrap_or(1)
        .max(marker.map_or(0, |m| m + m / 3))
        + bin_width;
    let bins = x_end / bin_width + 1;
    let mut series: Vec<Series> = Split::ALL
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
        .collect();
    let y_max = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(0.0f64, f64::max)
        * 1.1;
    if let Some(m) = marker {
        series.push(Series {
            name: format!("truncation at {m}"),
            points: vec![(m as f64, 0.0), (m as f64, y_max)],
            color: (200, 30, 30),
            dashed: true,
            markers: false,
        });
    }
    line_chart(
        path,
        &LineChart {
            title,
            x_label,
            y_label: "share of the split's texts",
            series: &series,
            x_range: (0.0, x_end as f64),
            y_range: Some((0.0, y_max.max(1e-6))),
            legend: LegendPosition::UpperRight,
        },
    )?;
    Ok(())
}
