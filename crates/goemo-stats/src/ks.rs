//! The two-sample Kolmogorov–Smirnov test, two-sided, as `scipy.stats.ks_2samp(a, b)`.

use serde::{Deserialize, Serialize};

use crate::kolmogorov::kolmogorov_sf;

/// Largest sample for which the p-value is computed exactly (scipy's `MAX_AUTO_N`).
pub const MAX_EXACT_SAMPLE: usize = 10_000;

/// How the p-value was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KsMethod {
    /// Lattice paths inside the band |x/m − y/n| < D (Hodges; Viehmann's 1 − p recursion).
    Exact,
    /// The one-sample Kolmogorov distribution of size round(mn / (m + n)).
    Asymptotic,
}

/// The result of [`ks_2samp`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KsTest {
    /// sup |F_a − F_b| over the pooled values.
    pub statistic: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// Exact or asymptotic.
    pub method: KsMethod,
}

/// The test of two samples; `None` when either is empty or holds NaN.
///
/// The p-value is exact when neither sample has more than [`MAX_EXACT_SAMPLE`] values and the
/// computation stays in range, and asymptotic otherwise, as scipy's `method="auto"`.
pub fn ks_2samp(a: &[f64], b: &[f64]) -> Option<KsTest> {
    if a.is_empty() || b.is_empty() || a.iter().chain(b).any(|v| v.is_nan()) {
        return None;
    }
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    let statistic = max_ecdf_gap(&a, &b);
    let (n1, n2) = (a.len() as u64, b.len() as u64);
    if a.len().max(b.len()) <= MAX_EXACT_SAMPLE {
        if let Some((statistic, p_value)) = exact(n1, n2, statistic) {
            return Some(KsTest {
                statistic,
                p_value,
                method: KsMethod::Exact,
            });
        }
    }
    let (m, n) = (n1.max(n2) as f64, n1.min(n2) as f64);
    let effective = (m * n / (m + n)).round_ties_even() as u64;
    Some(KsTest {
        statistic,
        p_value: kolmogorov_sf(effective, statistic).clamp(0.0, 1.0),
        method: KsMethod::Asymptotic,
    })
}

/// max over pooled values v of |#{a ≤ v}/|a| − #{b ≤ v}/|b||, both samples sorted.
fn max_ecdf_gap(a: &[f64], b: &[f64]) -> f64 {
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j) = (0, 0);
    let (mut above, mut below) = (0.0f64, 0.0f64);
    while i < a.len() || j < b.len() {
        let v = match (a.get(i), b.get(j)) {
            (Some(&x), Some(&y)) => x.min(y),
            (Some(&x), None) => x,
            (None, Some(&y)) => y,
            (None, None) => unreachable!(),
        };
        while i < a.len() && a[i] <= v {
            i += 1;
        }
        while j < b.len() && b[j] <= v {
            j += 1;
        }
        let diff = i as f64 / n1 - j as f64 / n2;
        above = above.max(diff);
        below = below.max(-diff);
    }
    above.max(below.clamp(0.0, 1.0))
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// The exact p-value, with the statistic rounded to the lattice h / lcm(n1, n2); `None` when the
/// computation leaves [0, 1].
fn exact(n1: u64, n2: u64, d: f64) -> Option<(f64, f64)> {
    let g = gcd(n1, n2);
    let lcm = (n1 / g) * n2;
    let h = (d * lcm as f64).round_ties_even() as u64;
    let d = h as f64 / lcm as f64;
    if h == 0 {
        return Some((d, 1.0));
    }
    let p = if n1 == n2 {
        outside_square(n1, h)
    } else {
        outside_band(n1, n2, g, h)
    };
    (0.0..=1.0).contains(&p).then_some((d, p))
}

/// Proportion of lattice paths from (0, 0) to (n, n) reaching |x − y| ≥ h: the alternating sum
/// 2 Σ_k (−1)^{k−1} C(2n, n − kh) / C(2n, n), evaluated Horner-like against cancellation.
fn outside_square(n: u64, h: u64) -> f64 {
    let mut p = 0.0;
    let mut k = (n / h) as i64;
    while k >= 0 {
        let ku = k as u64;
        let mut ratio = 1.0;
        for j in 0..h {
            let top = n as f64 - (ku * h + j) as f64;
            ratio = top * ratio / (n + ku * h + j + 1) as f64;
        }
        p = ratio * (1.0 - p);
        k -= 1;
    }
    2.0 * p
}

/// Proportion of lattice paths from (0, 0) to (m, n) that leave the band |nx − my| < h·g,
/// computed column by column as 1 − p directly (Viehmann 2021), so no binomial overflows.
fn outside_band(m: u64, n: u64, g: u64, h: u64) -> f64 {
    let (m, n) = if m < n { (n, m) } else { (m, n) };
    let (mg, ng) = ((m / g) as i64, (n / g) as i64);
    let (n, h) = (n as i64, h as i64);
    let floor_div = |a: i64, b: i64| a.div_euclid(b);
    let ceil_div = |a: i64, b: i64| -(-a).div_euclid(b);
    let mut min_j = 0i64;
    let mut max_j = ceil_div(h, mg).min(n + 1);
    let mut len = max_j - min_j;
    let mut column = vec![1.0f64; (2 * max_j + 2).min(n + 1) as usize];
    for value in column.iter_mut().take(max_j as usize) {
        *value = 0.0;
    }
    for i in 1..=m as i64 {
        let (last_min_j, last_len) = (min_j, len);
        min_j = (floor_div(ng * i - h, mg) + 1).max(0).min(n);
        max_j = ceil_div(ng * i + h, mg).min(n + 1);
        if max_j <= min_j {
            return 1.0;
        }
        let mut value = if min_j == 0 { 0.0 } else { 1.0 };
        for jj in 0..max_j - min_j {
            let j = jj + min_j;
            // Entries past the previous window lie outside the band: 1.
            let left = column.get((jj + min_j - last_min_j) as usize).copied().unwrap_or(1.0);
            value = (left * i as f64 + value * j as f64) / (i + j) as f64;
            column[jj as usize] = value;
        }
        len = max_j - min_j;
        if last_len > len {
            let end = ((max_j - min_j + last_len - len) as usize).min(column.len());
            for value in &mut column[(max_j - min_j) as usize..end] {
                *value = 1.0;
            }
        }
    }
    column[(max_j - min_j - 1) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disjoint_samples_have_statistic_one() {
        let t = ks_2samp(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0, 7.0]).unwrap();
        assert_eq!(t.statistic, 1.0);
        assert_eq!(t.method, KsMethod::Exact);
        // Only the 2 of C(7, 3) = 35 orderings that separate the samples reach D = 1.
        assert!((t.p_value - 2.0 / 35.0).abs() < 1e-14, "{t:?}");
        assert!(ks_2samp(&[], &[1.0]).is_none());
        assert!(ks_2samp(&[f64::NAN], &[1.0]).is_none());
    }

    #[test]
    fn equal_samples_have_p_one() {
        let t = ks_2samp(&[1.0, 2.0, 2.0, 3.0], &[3.0, 2.0, 1.0, 2.0]).unwrap();
        assert_eq!((t.statistic, t.p_value), (0.0, 1.0));
    }
}
