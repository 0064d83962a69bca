//! Pearson's χ² test of independence and the χ² distribution.

use serde::{Deserialize, Serialize};

use crate::special::regularized_upper_gamma;

/// Pearson's χ² test of independence on a contingency table, as
/// `scipy.stats.chi2_contingency(table)` (Yates' correction when there is one degree of freedom).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Chi2Test {
    /// The χ² statistic.
    pub statistic: f64,
    /// Upper-tail p-value.
    pub p_value: f64,
    /// Degrees of freedom.
    pub dof: usize,
}

/// P(X > x) for χ² with `dof` degrees of freedom: Q(dof / 2, x / 2).
pub fn chi2_sf(x: f64, dof: f64) -> f64 {
    regularized_upper_gamma(dof / 2.0, x / 2.0)
}

/// The test on a table of counts (rows of equal length). `None` when the table is empty, ragged,
/// or has a row or column of zeros (an expected frequency of zero, which scipy refuses too).
pub fn chi2_contingency(table: &[Vec<u64>]) -> Option<Chi2Test> {
    let cols = table.first()?.len();
    if cols == 0 || table.iter().any(|r| r.len() != cols) {
        return None;
    }
    let row_sums: Vec<f64> = table.iter().map(|r| r.iter().sum::<u64>() as f64).collect();
    let col_sums: Vec<f64> = (0..cols)
        .map(|j| table.iter().map(|r| r[j]).sum::<u64>() as f64)
        .collect();
    let total: f64 = row_sums.iter().sum();
    if row_sums.iter().chain(&col_sums).any(|&s| s == 0.0) {
        return None;
    }
    let dof = (table.len() - 1) * (cols - 1);
    if dof == 0 {
        // scipy: statistic 0, p 1 for a table with one row or one column.
        return Some(Chi2Test {
            statistic: 0.0,
            p_value: 1.0,
            dof,
        });
    }
    let mut statistic = 0.0;
    for (row, row_sum) in table.iter().zip(&row_sums) {
        for (&observed, col_sum) in row.iter().zip(&col_sums) {
            let expected = row_sum * col_sum / total;
            let mut diff = observed as f64 - expected;
            if dof == 1 {
                // Yates: move each observation up to 0.5 towards its expectation.
                diff = diff.signum() * (diff.abs() - diff.abs().min(0.5));
            }
            statistic += diff * diff / expected;
        }
    }
    Some(Chi2Test {
        statistic,
        p_value: chi2_sf(statistic, dof as f64),
        dof,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_by_three_by_hand() {
        // Every expected count is 2; each row adds (4 − 2)²/2 + 0 + (0 − 2)²/2 = 4: statistic 8,
        // dof 2, p = e^{−4}.
        let t = chi2_contingency(&[vec![4, 2, 0], vec![0, 2, 4]]).unwrap();
        assert_eq!(t.dof, 2);
        assert!((t.statistic - 8.0).abs() < 1e-12);
        assert!((t.p_value - (-4.0f64).exp()).abs() < 1e-14);
        assert!(chi2_contingency(&[vec![1, 0], vec![2, 0]]).is_none());
        assert!(chi2_contingency(&[vec![1, 2], vec![3]]).is_none());
    }
}
