//! Every distribution and test of goemo-stats against scipy, from
//! `fixtures/stats_cases.json` (written by `scripts/make_stats_fixtures.py`).

use goemo_stats::{chi2_contingency, chi2_sf, kolmogorov_sf, ks_2samp, student_t_sf, welch_t_test};
use serde_json::Value;

fn cases() -> Value {
    let text = include_str!("fixtures/stats_cases.json");
    serde_json::from_str(text).expect("stats_cases.json parses")
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(f).collect()
}

/// Equal to 1e-9 relative: tail probabilities of 1e-100 are compared as closely as 0.5.
fn close(got: f64, want: f64, what: &str) {
    assert!(
        (got - want).abs() <= 1e-9 * want.abs() + 1e-300,
        "{what}: got {got:e}, scipy {want:e} (difference {:e})",
        got - want
    );
}

/// The 32-bit LCG sample of the fixture script (`lcg_sample`).
fn lcg_sample(spec: &Value) -> Vec<f64> {
    let s: Vec<u64> = spec.as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
    let (mut x, n, modulus, shift_every) = (s[0], s[1], s[2], s[3]);
    let step = |x: u64| (1_664_525 * x + 1_013_904_223) % (1 << 32);
    (0..n)
        .map(|i| {
            x = step(x);
            let mut v = 1 + ((x >> 8) % modulus);
            if (x >> 4) % 2 == 0 {
                x = step(x);
                v = v.min(1 + ((x >> 8) % modulus));
            }
            if shift_every > 0 && i % shift_every == 0 {
                v += 1;
            }
            v as f64
        })
        .collect()
}

#[test]
fn chi2_survival_matches_scipy() {
    for c in cases()["chi2_sf"].as_array().unwrap() {
        let (x, dof) = (f(&c["x"]), f(&c["dof"]));
        close(chi2_sf(x, dof), f(&c["sf"]), &format!("chi2.sf({x}, {dof})"));
    }
}

#[test]
fn student_t_survival_matches_scipy() {
    for c in cases()["t_sf"].as_array().unwrap() {
        let (t, dof) = (f(&c["t"]), f(&c["dof"]));
        close(student_t_sf(t, dof), f(&c["sf"]), &format!("t.sf({t}, {dof})"));
    }
}

#[test]
fn kolmogorov_survival_matches_scipy_in_every_region() {
    for c in cases()["kolmogorov_sf"].as_array().unwrap() {
        let (n, x) = (c["n"].as_u64().unwrap(), f(&c["x"]));
        close(kolmogorov_sf(n, x), f(&c["sf"]), &format!("kstwo.sf({x}, {n})"));
    }
}

#[test]
fn chi2_contingency_matches_scipy() {
    for c in cases()["chi2_contingency"].as_array().unwrap() {
        let table: Vec<Vec<u64>> = c["table"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect())
            .collect();
        let t = chi2_contingency(&table).expect("a valid table");
        close(t.statistic, f(&c["statistic"]), "chi2 statistic");
        close(t.p_value, f(&c["p_value"]), "chi2 p-value");
        assert_eq!(t.dof as u64, c["dof"].as_u64().unwrap());
    }
}

#[test]
fn ks_2samp_matches_scipy_exact_and_asymptotic() {
    for c in cases()["ks_2samp"].as_array().unwrap() {
        let (a, b) = match c.get("a_lcg") {
            Some(spec) => (lcg_sample(spec), lcg_sample(&c["b_lcg"])),
            None => (floats(&c["a"]), floats(&c["b"])),
        };
        let t = ks_2samp(&a, &b).unwrap();
        let what = format!("ks_2samp of {} and {} values ({:?})", a.len(), b.len(), t.method);
        close(t.statistic, f(&c["statistic"]), &what);
        close(t.p_value, f(&c["p_value"]), &what);
    }
}

#[test]
fn welch_matches_scipy() {
    for c in cases()["welch"].as_array().unwrap() {
        let t = welch_t_test(&floats(&c["a"]), &floats(&c["b"])).unwrap();
        close(t.statistic, f(&c["statistic"]), "Welch t");
        close(t.dof, f(&c["dof"]), "Welch dof");
        close(t.p_value, f(&c["p_value"]), "Welch p");
    }
}
