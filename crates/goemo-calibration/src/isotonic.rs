//! Isotonic regression as scikit-learn's `IsotonicRegression(out_of_bounds="clip")` computes it:
//! the same merge of equal inputs, the same pool-adjacent-violators pass, the same knots kept and
//! the same linear interpolation, so that fitted values and predictions are equal bit for bit.

use serde::{Deserialize, Serialize};

/// Inputs closer than this are one input (`np.finfo(np.float64).resolution`, as scikit-learn's
/// `_make_unique`).
const SAME_INPUT: f64 = 1e-15;

/// The non-decreasing least-squares fit of `y` (weights `w`), in place: scikit-learn's
/// `_inplace_contiguous_isotonic_regression`, a single pass that pools each decreasing run and
/// backtracks while the pooled value violates the order.
pub fn isotonic_regression(y: &mut [f64], w: &mut [f64]) {
    let n = y.len();
    // target[i]: for the first index of a block, its last index, and vice versa.
    let mut target: Vec<usize> = (0..n).collect();
    let mut i = 0;
    while i < n {
        let mut k = target[i] + 1;
        if k == n {
            break;
        }
        if y[i] < y[k] {
            i = k;
            continue;
        }
        let mut sum_wy = w[i] * y[i];
        let mut sum_w = w[i];
        loop {
            let prev_y = y[k];
            sum_wy += w[k] * y[k];
            sum_w += w[k];
            k = target[k] + 1;
            if k == n || prev_y < y[k] {
                y[i] = sum_wy / sum_w;
                w[i] = sum_w;
                target[i] = k - 1;
                target[k - 1] = i;
                if i > 0 {
                    i = target[i - 1];
                }
                break;
            }
        }
    }
    let mut i = 0;
    while i < n {
        let k = target[i] + 1;
        let value = y[i];
        y[i + 1..k].fill(value);
        i = k;
    }
}

/// A fitted isotonic map: knots `x` (increasing) and values `y` (non-decreasing), linear between
/// knots and constant outside them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IsotonicFit {
    /// Knots' scores, increasing.
    pub x: Vec<f64>,
    /// Knots' fitted values, non-decreasing.
    pub y: Vec<f64>,
}

impl IsotonicFit {
    /// Fits 0/1 outcomes against scores: sorted by score (then outcome), equal scores merged into
    /// their weighted mean, pooled, and only the knots that bound a flat run kept.
    pub fn fit(scores: &[f64], outcomes: &[bool]) -> Self {
        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.sort_by(|&a, &b| {
            scores[a]
                .total_cmp(&scores[b])
                .then(outcomes[a].cmp(&outcomes[b]))
                .then(a.cmp(&b))
        });
        let (mut x, mut y, mut w) = (Vec::new(), Vec::new(), Vec::new());
        let (mut current_x, mut current_y, mut current_w) = (f64::NAN, 0.0, 0.0);
        for (j, &i) in order.iter().enumerate() {
            let (xi, yi) = (scores[i], f64::from(u8::from(outcomes[i])));
            if j == 0 {
                (current_x, current_y, current_w) = (xi, yi, 1.0);
            } else if xi - current_x >= SAME_INPUT {
                x.push(current_x);
                w.push(current_w);
                y.push(current_y / current_w);
                (current_x, current_y, current_w) = (xi, yi, 1.0);
            } else {
                current_w += 1.0;
                current_y += yi;
            }
        }
        if !order.is_empty() {
            x.push(current_x);
            w.push(current_w);
            y.push(current_y / current_w);
        }
        isotonic_regression(&mut y, &mut w);
        // Knots inside a flat run add nothing to the interpolation.
        let n = y.len();
        let keep: Vec<bool> = (0..n)
            .map(|i| i == 0 || i + 1 == n || y[i] != y[i - 1] || y[i] != y[i + 1])
            .collect();
        let pick = |v: &[f64]| v.iter().zip(&keep).filter(|(_, &k)| k).map(|(v, _)| *v).collect();
        IsotonicFit {
            x: pick(&x),
            y: pick(&y),
        }
    }

    /// The fitted value at `score`: clipped to the knots' range, then interpolated as scipy's
    /// `interp1d(kind="linear")` does (the segment found by a left binary search).
    pub fn predict(&self, score: f64) -> f64 {
        let (x, y) = (&self.x, &self.y);
        match x.len() {
            0 => f64::NAN,
            1 => y[0],
            n => {
                let t = score.clamp(x[0], x[n - 1]);
                let hi = x.partition_point(|&k| k < t).clamp(1, n - 1);
                let lo = hi - 1;
                let slope = (y[hi] - y[lo]) / (x[hi] - x[lo]);
                slope * (t - x[lo]) + y[lo]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pools_violators() {
        let mut y = vec![1.0, 3.0, 2.0, 4.0, 3.0, 5.0];
        let mut w = vec![1.0; 6];
        isotonic_regression(&mut y, &mut w);
        assert_eq!(y, vec![1.0, 2.5, 2.5, 3.5, 3.5, 5.0]);
    }

    #[test]
    fn merges_equal_scores_and_keeps_run_ends() {
        let fit = IsotonicFit::fit(
            &[0.1, 0.1, 0.2, 0.3, 0.4, 0.5],
            &[false, true, false, false, true, true],
        );
        // 0.1 → 0.5, then 0.2 and 0.3 → 0: pooled with 0.1 into 1/4 over three knots.
        assert_eq!(fit.x, vec![0.1, 0.3, 0.4, 0.5]);
        assert_eq!(fit.y, vec![0.25, 0.25, 1.0, 1.0]);
        assert_eq!(fit.predict(0.0), 0.25);
        assert!((fit.predict(0.35) - 0.625).abs() < 1e-12);
        assert_eq!(fit.predict(0.9), 1.0);
    }
}
