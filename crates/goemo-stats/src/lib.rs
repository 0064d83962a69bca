//! Hypothesis tests that give scipy's numbers, with no dependencies, and the descriptive numbers
//! every goemo crate shares ([`quantile`], [`pmi_bits`]): Welch's unequal-variance
//! t-test ([`welch_t_test`]), Pearson's χ² test of independence on a contingency table
//! ([`chi2_contingency`]) and the two-sample Kolmogorov–Smirnov test ([`ks_2samp`], exact for
//! samples of up to 10,000 values as scipy's `method="auto"`, the Kolmogorov distribution of the
//! effective sample size above). The distributions behind them are public too
//! ([`student_t_sf`], [`chi2_sf`], [`kolmogorov_sf`]); `tests/fixtures.rs` checks all of them
//! against scipy to 1e-9.

mod chi2;
mod describe;
mod kolmogorov;
mod ks;
mod special;
mod welch;

pub use chi2::{chi2_contingency, chi2_sf, Chi2Test};
pub use describe::{pmi_bits, quantile};
pub use kolmogorov::{kolmogorov_sf, smirnov_sf};
pub use ks::{ks_2samp, KsMethod, KsTest, MAX_EXACT_SAMPLE};
pub use special::{ln_gamma, regularized_incomplete_beta, regularized_upper_gamma};
pub use welch::{one_sample_t_test, student_t_sf, welch_t_test, TTest};
