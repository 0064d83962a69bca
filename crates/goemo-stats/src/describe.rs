//! Descriptive numbers shared by every goemo crate, each defined once.

/// Linear-interpolation quantile of sorted values (numpy's default `method="linear"`); `q` in
/// 0..=1. NaN for no values.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo as f64)
}

/// Pointwise mutual information of a label pair from its lift P(a, b) / (P(a) P(b)), in bits
/// (log2): 1 means together twice as often as independence predicts; −∞ when never together.
pub fn pmi_bits(lift: f64) -> f64 {
    lift.log2()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_like_numpy() {
        // numpy.quantile([1, 2, 4, 8], [0, 0.25, 0.5, 0.9, 1]) = [1, 1.75, 3, 6.8, 8].
        let v = [1.0, 2.0, 4.0, 8.0];
        for (q, want) in [(0.0, 1.0), (0.25, 1.75), (0.5, 3.0), (0.9, 6.8), (1.0, 8.0)] {
            assert!((quantile(&v, q) - want).abs() < 1e-12, "{q}");
        }
        assert!(quantile(&[], 0.5).is_nan());
    }

    #[test]
    fn pmi_is_in_bits() {
        assert_eq!(pmi_bits(2.0), 1.0);
        assert_eq!(pmi_bits(0.0), f64::NEG_INFINITY);
    }
}
