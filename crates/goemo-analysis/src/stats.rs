//! The statistics of the document that goemo-metrics and goemo-stats do not have: label
//! combinations and label-pair co-occurrence. Each is the definition of scikit-learn or numpy
//! named in its comment (tested against them on fixtures).

use std::collections::HashMap;

use ndarray::{ArrayView2, Axis};
use serde::Serialize;

/// One combination of true labels and how the predictions matched it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Combo {
    /// Label names joined by "+", in label order.
    pub labels: String,
    /// Examples with exactly this combination.
    pub count: usize,
    /// Share of its examples whose predicted set is exactly the true set.
    pub exact_match: f64,
    /// Share whose predicted set shares at least one label with the true set.
    pub partial_match: f64,
    /// Mean |true ∩ predicted| / |true ∪ predicted| (two empty sets count 1).
    pub mean_jaccard: f64,
}

/// The `top` most frequent true label sets (ties by name), each with its match rates.
pub fn combos(
    targets: ArrayView2<'_, bool>,
    predicted: ArrayView2<'_, bool>,
    labels: &[String],
    top: usize,
) -> Vec<Combo> {
    let mut groups: HashMap<Vec<usize>, (usize, usize, usize, f64)> = HashMap::new();
    for (t, p) in targets.axis_iter(Axis(0)).zip(predicted.axis_iter(Axis(0))) {
        let truth: Vec<usize> = t.iter().enumerate().filter(|(_, &v)| v).map(|(i, _)| i).collect();
        let both = t.iter().zip(&p).filter(|(&a, &b)| a && b).count();
        let either = t.iter().zip(&p).filter(|(&a, &b)| a || b).count();
        let jaccard = if either == 0 { 1.0 } else { both as f64 / either as f64 };
        let entry = groups.entry(truth).or_default();
        entry.0 += 1;
        entry.1 += usize::from(t == p);
        entry.2 += usize::from(both > 0);
        entry.3 += jaccard;
    }
    let name = |set: &[usize]| set.iter().map(|&i| labels[i].as_str()).collect::<Vec<_>>().join("+");
    let mut rows: Vec<Combo> = groups
        .into_iter()
        .map(|(set, (count, exact, partial, jaccard))| Combo {
            labels: name(&set),
            count,
            exact_match: exact as f64 / count as f64,
            partial_match: partial as f64 / count as f64,
            mean_jaccard: jaccard / count as f64,
        })
        .collect();
    rows.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.labels.cmp(&b.labels)));
    rows.truncate(top);
    rows
}

/// Co-occurrence of an ordered label pair (a, b), a ≠ b.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairStats {
    /// First label.
    pub a: String,
    /// Second label.
    pub b: String,
    /// Examples whose true labels hold both.
    pub count_true: usize,
    /// Examples whose predicted labels hold both (for several seeds, their mean).
    pub count_predicted: f64,
    /// P(b | a) over true labels.
    pub p_b_given_a: f64,
    /// P(a, b) / (P(a) P(b)) over true labels.
    pub lift: f64,
    /// goemo-stats' [`pmi_bits`](goemo_stats::pmi_bits) of the lift; −∞ when never together.
    pub pmi: f64,
}

/// Every ordered pair of distinct labels that occurs together in the true or predicted sets.
pub fn cooccurrence_pairs(
    targets: ArrayView2<'_, bool>,
    predicted: ArrayView2<'_, bool>,
    labels: &[String],
) -> Vec<PairStats> {
    let (n, k) = targets.dim();
    let count = |m: ArrayView2<'_, bool>, a: usize, b: usize| m.axis_iter(Axis(0)).filter(|r| r[a] && r[b]).count();
    let single: Vec<usize> = (0..k)
        .map(|j| targets.column(j).iter().filter(|&&v| v).count())
        .collect();
    let mut pairs = vec![];
    for a in 0..k {
        for b in 0..k {
            if a == b {
                continue;
            }
            let (t, p) = (count(targets, a, b), count(predicted, a, b));
            if t == 0 && p == 0 {
                continue;
            }
            let nf = n as f64;
            let lift = (t as f64 / nf) / ((single[a] as f64 / nf) * (single[b] as f64 / nf));
            pairs.push(PairStats {
                a: labels[a].clone(),
                b: labels[b].clone(),
                count_true: t,
                count_predicted: p as f64,
                p_b_given_a: if single[a] > 0 {
                    t as f64 / single[a] as f64
                } else {
                    f64::NAN
                },
                lift,
                pmi: goemo_stats::pmi_bits(lift),
            });
        }
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn combos_count_sets_and_their_matches() {
        let labels: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        let t = array![
            [true, false, false],
            [true, false, false],
            [true, true, false],
            [false, false, false]
        ];
        let p = array![
            [true, false, false],
            [false, true, false],
            [true, false, false],
            [false, false, false]
        ];
        let rows = combos(t.view(), p.view(), &labels, 10);
        assert_eq!(rows[0].labels, "a");
        assert_eq!(
            (rows[0].count, rows[0].exact_match, rows[0].partial_match),
            (2, 0.5, 0.5)
        );
        assert!((rows[0].mean_jaccard - 0.5).abs() < 1e-12);
        let empty = rows.iter().find(|r| r.labels.is_empty()).unwrap();
        assert_eq!(empty.mean_jaccard, 1.0, "two empty sets count 1");
        let ab = rows.iter().find(|r| r.labels == "a+b").unwrap();
        assert!((ab.mean_jaccard - 0.5).abs() < 1e-12);
        let pairs = cooccurrence_pairs(t.view(), p.view(), &labels);
        let ab = pairs.iter().find(|x| x.a == "a" && x.b == "b").unwrap();
        assert_eq!((ab.count_true, ab.count_predicted), (1, 0.0));
        // P(b|a) = 1/3; lift = (1/4) / ((3/4)(1/4)) = 4/3.
        assert!((ab.p_b_given_a - 1.0 / 3.0).abs() < 1e-12);
        assert!((ab.lift - 4.0 / 3.0).abs() < 1e-12 && (ab.pmi - (4.0f64 / 3.0).log2()).abs() < 1e-12);
    }
}
