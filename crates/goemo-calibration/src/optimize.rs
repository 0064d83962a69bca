//! The two smooth fits: a logistic map of logits by Newton's method with a backtracking line
//! search. Both losses are convex, so the optimum is unique and Newton reaches it to machine
//! precision in a few steps.

/// `ln(1 + e^u)` without overflow.
pub(crate) fn softplus(u: f64) -> f64 {
    u.max(0.0) + (-u.abs()).exp().ln_1p()
}

pub(crate) fn sigmoid(u: f64) -> f64 {
    if u >= 0.0 {
        1.0 / (1.0 + (-u).exp())
    } else {
        let e = u.exp();
        e / (1.0 + e)
    }
}

/// Probabilities are clamped this far from 0 and 1 before their logit is taken.
pub(crate) const LOGIT_CLAMP: f64 = 1e-15;

/// `ln(p / (1 − p))`, with `p` clamped to `[1e-15, 1 − 1e-15]`.
pub(crate) fn logit(p: f64) -> f64 {
    let p = p.clamp(LOGIT_CLAMP, 1.0 - LOGIT_CLAMP);
    p.ln() - (-p).ln_1p()
}

/// Cross-entropy of soft targets `t` against `σ(a·z + b)`, summed: `Σ softplus(u) − t·u`.
fn loss(z: &[f64], t: &[f64], a: f64, b: f64) -> f64 {
    z.iter()
        .zip(t)
        .map(|(&z, &t)| {
            let u = a * z + b;
            softplus(u) - t * u
        })
        .sum()
}

/// The `(a, b)` minimising the cross-entropy of `σ(a·z + b)` against targets `t`; with `fit_b`
/// false, `b` stays 0 (temperature scaling). Starts from `start`.
pub(crate) fn fit_logistic(z: &[f64], t: &[f64], start: (f64, f64), fit_b: bool) -> (f64, f64) {
    let (mut a, mut b) = start;
    let mut current = loss(z, t, a, b);
    for _ in 0..200 {
        let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for (&z, &t) in z.iter().zip(t) {
            let p = sigmoid(a * z + b);
            let (r, h) = (p - t, p * (1.0 - p));
            ga += r * z;
            gb += r;
            haa += h * z * z;
            hab += h * z;
            hbb += h;
        }
        let (da, db) = if fit_b {
            let det = haa * hbb - hab * hab;
            if det <= 0.0 || !det.is_finite() {
                break;
            }
            (-(hbb * ga - hab * gb) / det, -(haa * gb - hab * ga) / det)
        } else {
            if haa <= 0.0 {
                break;
            }
            (-ga / haa, 0.0)
        };
        // Halve the step until the loss does not increase.
        let mut step = 1.0;
        let mut accepted = None;
        while step > 1e-12 {
            let (na, nb) = (a + step * da, b + step * db);
            let next = loss(z, t, na, nb);
            if next <= current {
                accepted = Some((na, nb, next));
                break;
            }
            step /= 2.0;
        }
        let Some((na, nb, next)) = accepted else {
            break;
        };
        let moved = (na - a).abs().max((nb - b).abs());
        (a, b, current) = (na, nb, next);
        if moved <= 1e-14 * (1.0 + a.abs().max(b.abs())) {
            break;
        }
    }
    (a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_a_logistic_map() {
        // Targets that are exactly σ(2z − 1): the optimum is (2, −1).
        let z: Vec<f64> = (0..41).map(|i| -4.0 + 0.2 * f64::from(i)).collect();
        let t: Vec<f64> = z.iter().map(|&z| sigmoid(2.0 * z - 1.0)).collect();
        let (a, b) = fit_logistic(&z, &t, (0.0, 0.0), true);
        assert!((a - 2.0).abs() < 1e-10 && (b + 1.0).abs() < 1e-10, "{a} {b}");
        let t: Vec<f64> = z.iter().map(|&z| sigmoid(0.5 * z)).collect();
        let (a, b) = fit_logistic(&z, &t, (1.0, 0.0), false);
        assert!((a - 0.5).abs() < 1e-10 && b == 0.0, "{a} {b}");
    }

    #[test]
    fn stable_at_the_extremes() {
        assert_eq!(softplus(800.0), 800.0);
        assert_eq!(sigmoid(-800.0), 0.0);
        assert!(logit(0.0).is_finite() && logit(1.0).is_finite());
        assert!((logit(0.25) + 3f64.ln()).abs() < 1e-15);
    }
}
