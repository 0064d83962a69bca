//! The distribution of the Kolmogorov–Smirnov statistic D_n of one sample of size n: the
//! two-sided survival function as scipy's `kstwo.sf` (Simard and L'Ecuyer's choice of method by
//! region: Ruben–Gambino at the ends, Durbin's matrix (Marsaglia–Tsang–Wang), Pomeranz's
//! recursion, Pelz–Good's expansion, and twice the one-sided tail) and the one-sided tail
//! (Birnbaum–Tingey).

use std::f64::consts::PI;

/// Scale of the running rescaling in the matrix and recursion methods (2^128).
const SCALE_EXPONENT: i32 = 128;

fn scale() -> f64 {
    2f64.powi(SCALE_EXPONENT)
}

fn clip(p: f64) -> f64 {
    p.clamp(0.0, 1.0)
}

/// P(D⁺_n > x), the one-sided tail, by the Birnbaum–Tingey sum of positive terms in logs:
/// x Σ_{v=0}^{⌊n(1−x)⌋} C(n, v) (x + v/n)^{v−1} (1 − x − v/n)^{n−v}.
pub fn smirnov_sf(n: u64, x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    if x >= 1.0 {
        return 0.0;
    }
    let nf = n as f64;
    let last = (nf * (1.0 - x)).floor() as u64;
    let mut ln_binomial = 0.0; // ln C(n, v), updated term by term
    let mut sum = 0.0;
    for v in 0..=last.min(n) {
        let vf = v as f64;
        let low = x + vf / nf;
        let high = 1.0 - low;
        let power_high = if v == n {
            0.0
        } else if high > 0.0 {
            (nf - vf) * high.ln()
        } else {
            f64::NEG_INFINITY
        };
        sum += (ln_binomial + (vf - 1.0) * low.ln() + power_high).exp();
        ln_binomial += ((nf - vf) / (vf + 1.0)).ln();
    }
    clip(x * sum)
}

/// ln(n! / nⁿ) by Stirling's series, with n ln n removed up front against cancellation.
fn ln_factorial_over_power(n: f64) -> f64 {
    // B_2j / (2j (2j − 1)) for j = 8 down to 1: the series in 1/n², highest power first.
    const STIRLING: [f64; 8] = [
        -3617.0 / 122_400.0,
        1.0 / 156.0,
        -691.0 / 360_360.0,
        1.0 / 1188.0,
        -1.0 / 1680.0,
        1.0 / 1260.0,
        -1.0 / 360.0,
        1.0 / 12.0,
    ];
    let rn = 1.0 / n;
    let poly = STIRLING.iter().fold(0.0, |acc, c| acc * (rn / n) + c);
    n.ln() / 2.0 - n + (2.0 * PI).ln() / 2.0 + rn * poly
}

fn matmul(a: &[f64], b: &[f64], m: usize) -> Vec<f64> {
    let mut out = vec![0.0; m * m];
    for i in 0..m {
        for k in 0..m {
            let aik = a[i * m + k];
            if aik != 0.0 {
                for j in 0..m {
                    out[i * m + j] += aik * b[k * m + j];
                }
            }
        }
    }
    out
}

/// P(D_n ≤ d) by Durbin's matrix method as Marsaglia, Tsang and Wang compute it.
fn cdf_durbin_matrix(n: u64, d: f64) -> f64 {
    if d >= 1.0 {
        return 1.0;
    }
    let nd = n as f64 * d;
    if nd <= 0.5 {
        return 0.0;
    }
    let k = nd.ceil() as usize;
    let h = k as f64 - nd;
    let m = 2 * k - 1;
    let mut v: Vec<f64> = (1..=m).map(|j| 1.0 - h.powi(j as i32)).collect();
    let mut w = vec![0.0; m];
    let mut factorial = 1.0;
    for j in 1..=m {
        w[j - 1] = factorial;
        factorial /= j as f64;
        v[j - 1] *= factorial;
    }
    let tt = (2.0 * h - 1.0).max(0.0).powi(m as i32) - 2.0 * h.powi(m as i32);
    v[m - 1] = (1.0 + tt) * factorial;
    let mut matrix = vec![0.0; m * m];
    for i in 1..m {
        for (row, &value) in (i - 1..m).zip(&w[..m - i + 1]) {
            matrix[row * m + i] = value;
        }
    }
    for row in 0..m {
        matrix[row * m] = v[row];
    }
    for col in 0..m {
        matrix[(m - 1) * m + col] = v[m - 1 - col];
    }
    let mut power: Vec<f64> = (0..m * m).map(|i| if i % (m + 1) == 0 { 1.0 } else { 0.0 }).collect();
    let (mut remaining, mut exponent, mut matrix_exponent) = (n, 0i32, 0i32);
    while remaining > 0 {
        if remaining % 2 == 1 {
            power = matmul(&power, &matrix, m);
            exponent += matrix_exponent;
        }
        matrix = matmul(&matrix, &matrix, m);
        matrix_exponent *= 2;
        if matrix[(k - 1) * m + k - 1].abs() > scale() {
            matrix.iter_mut().for_each(|x| *x /= scale());
            matrix_exponent += SCALE_EXPONENT;
        }
        remaining /= 2;
    }
    let mut p = power[(k - 1) * m + k - 1];
    let nf = n as f64;
    for i in 1..=n {
        p = i as f64 * p / nf;
        if p.abs() < 1.0 / scale() {
            p *= scale();
            exponent -= SCALE_EXPONENT;
        }
    }
    p * 2f64.powi(exponent)
}

/// The interval of non-zero entries of row i of Pomeranz's recursion.
fn pomeranz_bounds(i: i64, n: i64, ll: i64, ceil_f: i64, round_f: i64) -> (i64, i64) {
    let (j1, j2) = if i == 0 {
        (-ll - ceil_f - 1, ll + ceil_f - 1)
    } else {
        let (half, odd) = ((i + 1) / 2, (i + 1) % 2);
        if odd == 0 {
            if half == n + 1 {
                (n - ll - ceil_f - 1, n + ll + ceil_f - 1)
            } else {
                (half - 1 - ll - round_f - 1, half + ll - 1 + ceil_f - 1)
            }
        } else {
            (half - 1 - ll - 1, half + ll + round_f - 1)
        }
    };
    ((j1 + 2).max(0), j2.min(n))
}

/// P(D_n ≤ x) by Pomeranz's recursion (two rows of Poisson convolutions).
fn cdf_pomeranz(n: u64, x: f64) -> f64 {
    let nf = n as f64;
    let t = nf * x;
    let ll = t.floor() as i64;
    let f = t - ll as f64;
    let g = f.min(1.0 - f);
    let ceil_f = i64::from(f > 0.0);
    let round_f = i64::from(f > 0.5);
    let powers = (2 * (ll + 1)) as usize;
    let (mut g_power, mut two_g_power, mut one_minus_two_g_power) =
        (vec![1.0; powers], vec![1.0; powers], vec![1.0; powers]);
    for m in 1..powers {
        g_power[m] = g_power[m - 1] * (g / nf) / m as f64;
        two_g_power[m] = two_g_power[m - 1] * (2.0 * g / nf) / m as f64;
        one_minus_two_g_power[m] = one_minus_two_g_power[m - 1] * ((1.0 - 2.0 * g) / nf) / m as f64;
    }
    let (mut v0, mut v1) = (vec![0.0; powers], vec![0.0; powers]);
    v1[0] = 1.0;
    let (mut v0_start, mut v1_start) = (0i64, 0i64);
    let n = n as i64;
    let mut exponent = 0i32;
    let (mut j1, _) = pomeranz_bounds(0, n, ll, ceil_f, round_f);
    for i in 1..2 * n + 2 {
        let k1 = j1;
        std::mem::swap(&mut v0, &mut v1);
        std::mem::swap(&mut v0_start, &mut v1_start);
        v1.iter_mut().for_each(|x| *x = 0.0);
        let (new_j1, j2) = pomeranz_bounds(i, n, ll, ceil_f, round_f);
        j1 = new_j1;
        let weights = if i == 1 || i == 2 * n + 1 {
            &g_power
        } else if i % 2 == 1 {
            &two_g_power
        } else {
            &one_minus_two_g_power
        };
        let len = j2 - k1 + 1;
        if len > 0 {
            let start = (k1 - v0_start).max(0) as usize;
            let a = &v0[start.min(powers)..(start + len as usize).min(powers)];
            let b = &weights[..(len as usize).min(powers)];
            let (from, count) = ((j1 - k1) as usize, (j2 - j1 + 1) as usize);
            for (slot, out) in v1.iter_mut().enumerate().take(count) {
                // Entry `from + slot` of the full convolution of a and b.
                let c = from + slot;
                *out = (0..a.len())
                    .filter(|&p| c >= p && c - p < b.len())
                    .map(|p| a[p] * b[c - p])
                    .sum();
            }
            let max = v1.iter().copied().fold(f64::MIN, f64::max);
            if max > 0.0 && max < 1.0 / scale() {
                v1.iter_mut().for_each(|x| *x *= scale());
                exponent -= SCALE_EXPONENT;
            }
            v1_start = v0_start + j1 - k1;
        }
    }
    let mut answer = v1[(n - v1_start) as usize];
    for m in 1..=n {
        if answer.abs() > scale() {
            answer /= scale();
            exponent += SCALE_EXPONENT;
        }
        answer *= m as f64;
    }
    answer * 2f64.powi(exponent)
}

/// P(D_n ≤ x) by the Pelz–Good expansion to order n^{−3/2}.
fn cdf_pelz_good(n: u64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let pi2 = PI * PI;
    let (pi4, pi6) = (pi2 * pi2, pi2 * pi2 * pi2);
    let sqrt_2pi = (2.0 * PI).sqrt();
    let z = (n as f64).sqrt() * x;
    let (z2, z3, z4, z6) = (z * z, z.powi(3), z.powi(4), z.powi(6));
    let q_log = -pi2 / 8.0 / z2;
    if q_log < -708.0 {
        return 0.0;
    }
    let q = q_log.exp();
    let (k1a, k1b) = (-z2, pi2 / 4.0);
    let (k2a, k2b, k2c) = (
        6.0 * z6 + 2.0 * z4,
        (2.0 * z4 - 5.0 * z2) * pi2 / 4.0,
        pi4 * (1.0 - 2.0 * z2) / 16.0,
    );
    let k3d = pi6 * (5.0 - 30.0 * z2) / 64.0;
    let k3c = pi4 * (-60.0 * z2 + 212.0 * z4) / 16.0;
    let k3b = pi2 * (135.0 * z4 - 96.0 * z6) / 4.0;
    let k3a = -30.0 * z6 - 90.0 * z.powi(8);
    let mut terms = [0.0f64; 4];
    // Horner over odd m = 2k − 1 of c(m) q^{m²}.
    let max_k = (16.0 * z / PI).ceil() as i64;
    for k in (1..=max_k).rev() {
        let m = (2 * k - 1) as f64;
        let (m2, m4, m6) = (m * m, m.powi(4), m.powi(6));
        let q_power = q.powf(8.0 * k as f64);
        let coefficients = [
            1.0,
            k1a + k1b * m2,
            k2a + k2b * m2 + k2c * m4,
            k3a + k3b * m2 + k3c * m4 + k3d * m6,
        ];
        for (t, c) in terms.iter_mut().zip(coefficients) {
            *t = *t * q_power + c;
        }
    }
    let divisors = [z, 6.0 * z4, 72.0 * z.powi(7), 6480.0 * z.powi(10)];
    for (t, d) in terms.iter_mut().zip(divisors) {
        *t = *t * q * sqrt_2pi / d;
    }
    // The sums over all integers k in K2 and K3.
    let q = (-pi2 / 2.0 / z2).exp();
    let sqrt3_z = 3f64.sqrt() * z;
    let (mut k2_extra, mut k3_extra) = (0.0, 0.0);
    for k in (1..=max_k).rev() {
        let kf = k as f64;
        let k2 = kf * kf;
        let q_power = q.powf(k2);
        k2_extra += k2 * q_power;
        let k_pi = PI * kf;
        k3_extra += (sqrt3_z + k_pi) * (sqrt3_z - k_pi) * k2 * q_power;
    }
    terms[2] += k2_extra * pi2 * sqrt_2pi / (-36.0 * z3);
    terms[3] += k3_extra * pi2 * sqrt_2pi / (216.0 * z6);
    let nf = n as f64;
    terms.iter().enumerate().map(|(i, t)| t / nf.powf(i as f64 / 2.0)).sum()
}

/// P(D_n > x), two-sided, as scipy's `kstwo.sf(x, n)`; NaN for n = 0.
pub fn kolmogorov_sf(n: u64, x: f64) -> f64 {
    if n == 0 || x.is_nan() {
        return f64::NAN;
    }
    if x >= 1.0 {
        return 0.0;
    }
    if x <= 0.0 {
        return 1.0;
    }
    let nf = n as f64;
    let t = nf * x;
    if t <= 1.0 {
        // Ruben–Gambino: 1/(2n) < x ≤ 1/n.
        if t <= 0.5 {
            return 1.0;
        }
        let cdf = if n <= 140 {
            (1..=n).map(|i| i as f64 * (1.0 / nf) * (2.0 * t - 1.0)).product()
        } else {
            (ln_factorial_over_power(nf) + nf * (2.0 * t - 1.0).ln()).exp()
        };
        return clip(1.0 - cdf);
    }
    if t >= nf - 1.0 {
        return clip(2.0 * (1.0 - x).powf(nf));
    }
    if x >= 0.5 {
        return clip(2.0 * smirnov_sf(n, x));
    }
    let nx2 = t * x;
    if n <= 140 {
        if nx2 <= 0.754_693 {
            return clip(1.0 - clip(cdf_durbin_matrix(n, x)));
        }
        if nx2 <= 4.0 {
            return clip(1.0 - clip(cdf_pomeranz(n, x)));
        }
        return clip(2.0 * smirnov_sf(n, x));
    }
    if nx2 >= 370.0 {
        return 0.0;
    }
    if nx2 >= 2.2 {
        return clip(2.0 * smirnov_sf(n, x));
    }
    let cdf = if n <= 100_000 && nf * x.powf(1.5) <= 1.4 {
        cdf_durbin_matrix(n, x)
    } else {
        cdf_pelz_good(n, x)
    };
    clip(1.0 - cdf)
}
