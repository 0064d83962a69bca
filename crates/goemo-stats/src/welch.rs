//! Welch's unequal-variance t-test and the Student t distribution.

use serde::Serialize;

use crate::special::regularized_incomplete_beta;

/// Welch's unequal-variance t-test, as `scipy.stats.ttest_ind(a, b, equal_var=False)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TTest {
    /// The t statistic.
    pub statistic: f64,
    /// Degrees of freedom.
    pub dof: f64,
    /// Two-sided.
    pub p_value: f64,
}

/// P(T > t) for Student's t with `dof` degrees of freedom.
pub fn student_t_sf(t: f64, dof: f64) -> f64 {
    // P(|T| > |t|) = I_{dof / (dof + t²)}(dof / 2, 1 / 2); half of it lies on each side.
    let two_sided = regularized_incomplete_beta(dof / (dof + t * t), dof / 2.0, 0.5);
    if t >= 0.0 {
        two_sided / 2.0
    } else {
        1.0 - two_sided / 2.0
    }
}

/// `None` with fewer than two values in a sample or no variance in either.
pub fn welch_t_test(a: &[f64], b: &[f64]) -> Option<TTest> {
    if a.len() < 2 || b.len() < 2 {
        return None;
    }
    let moments = |x: &[f64]| {
        let n = x.len() as f64;
        let mean = x.iter().sum::<f64>() / n;
        let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
        (n, mean, var)
    };
    let ((na, ma, va), (nb, mb, vb)) = (moments(a), moments(b));
    let (sa, sb) = (va / na, vb / nb);
    if sa + sb <= 0.0 {
        return None;
    }
    let statistic = (ma - mb) / (sa + sb).sqrt();
    let dof = (sa + sb).powi(2) / (sa * sa / (na - 1.0) + sb * sb / (nb - 1.0));
    let p_value = 2.0 * student_t_sf(statistic.abs(), dof);
    Some(TTest {
        statistic,
        dof,
        p_value,
    })
}

/// One-sample t-test of `values` against `mean` (scipy's `ttest_1samp`): `None` for fewer than
/// two values or values without spread.
pub fn one_sample_t_test(values: &[f64], mean: f64) -> Option<TTest> {
    if values.len() < 2 {
        return None;
    }
    let n = values.len() as f64;
    let sample_mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - sample_mean).powi(2)).sum::<f64>() / (n - 1.0);
    if var <= 0.0 {
        return None;
    }
    let statistic = (sample_mean - mean) / (var / n).sqrt();
    let dof = n - 1.0;
    Some(TTest {
        statistic,
        dof,
        p_value: 2.0 * student_t_sf(statistic.abs(), dof),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_sample_matches_scipy() {
        // scipy.stats.ttest_1samp([0.60, 0.61, 0.63], 0.62): -0.7559289460184586, p 0.5285954792089663, df 2.
        let t = one_sample_t_test(&[0.60, 0.61, 0.63], 0.62).unwrap();
        assert!((t.statistic + 0.7559289460184586).abs() < 1e-9, "{t:?}");
        assert!((t.p_value - 0.5285954792089663).abs() < 1e-9, "{t:?}");
        assert_eq!(t.dof, 2.0);
        assert!(one_sample_t_test(&[0.6], 0.5).is_none());
    }

    #[test]
    fn welch_matches_known_values() {
        // scipy.stats.ttest_ind([1, 2, 3, 4], [2, 4, 6, 8.5], equal_var=False):
        // statistic -1.7127408306551661, p 0.1579142676824098, df 4.236314660409189.
        let t = welch_t_test(&[1.0, 2.0, 3.0, 4.0], &[2.0, 4.0, 6.0, 8.5]).unwrap();
        assert!((t.statistic + 1.712_740_830_655_166).abs() < 1e-12, "{t:?}");
        assert!((t.dof - 4.236_314_660_409_189).abs() < 1e-10, "{t:?}");
        assert!((t.p_value - 0.157_914_267_682_409_8).abs() < 1e-10, "{t:?}");
        assert!(welch_t_test(&[1.0], &[2.0, 3.0]).is_none());
        assert!((student_t_sf(0.0, 3.0) - 0.5).abs() < 1e-15);
        assert!((student_t_sf(1.5, 4.0) + student_t_sf(-1.5, 4.0) - 1.0).abs() < 1e-15);
    }
}
