//! Inputs: any float scores, 0/1 targets, validated once.

use ndarray::{Array2, ArrayView2, Axis, Zip};
use rayon::prelude::*;

use crate::error::{MetricsError, Result};

/// A number that metrics read as `f64` (scores as `f32` or `f64`, targets as floats or integers).
pub trait Value: Copy + Send + Sync {
    /// The value as f64.
    fn to_f64(self) -> f64;
}

macro_rules! impl_value {
    ($($t:ty),*) => { $(impl Value for $t { #[inline] fn to_f64(self) -> f64 { f64::from(self) } })* };
}
impl_value!(f32, f64, u8, i32, u32);

// No lossless conversion to f64 exists for these; counts and labels stay far below 2^53.
macro_rules! impl_value_rounding {
    ($($t:ty),*) => { $(impl Value for $t { #[inline] fn to_f64(self) -> f64 { self as f64 } })* };
}
impl_value_rounding!(i64, usize);

impl Value for bool {
    #[inline]
    fn to_f64(self) -> f64 {
        f64::from(u8::from(self))
    }
}

/// Rows per task of a parallel scan.
const ROWS_PER_TASK: usize = 4096;

/// True when `ok` holds for every value (blocks of rows scanned in parallel).
pub(crate) fn all_values<V: Value>(values: ArrayView2<'_, V>, ok: impl Fn(f64) -> bool + Sync) -> bool {
    values
        .axis_chunks_iter(Axis(0), ROWS_PER_TASK)
        .into_par_iter()
        .all(|block| block.iter().all(|&v| ok(v.to_f64())))
}

/// Checks that scores and targets have the same non-empty shape, scores are finite and targets 0/1.
pub fn validate<S: Value, T: Value>(scores: ArrayView2<'_, S>, targets: ArrayView2<'_, T>) -> Result<()> {
    if scores.shape() != targets.shape() {
        return Err(MetricsError::ShapeMismatch {
            what: "scores and targets",
            left: scores.shape().to_vec(),
            right: targets.shape().to_vec(),
        });
    }
    if scores.is_empty() {
        return Err(MetricsError::Empty);
    }
    // Plain scans first; positions are looked up only to report a failure.
    if !all_values(scores, f64::is_finite) {
        let ((row, col), s) = scores
            .indexed_iter()
            .find(|(_, s)| !s.to_f64().is_finite())
            .expect("found above");
        return Err(MetricsError::NonFiniteScore {
            row,
            col,
            value: s.to_f64(),
        });
    }
    let is_binary = |v: f64| v == 0.0 || v == 1.0;
    if !all_values(targets, is_binary) {
        let ((row, col), t) = targets
            .indexed_iter()
            .find(|(_, t)| !is_binary(t.to_f64()))
            .expect("found above");
        return Err(MetricsError::BadTarget {
            row,
            col,
            value: t.to_f64(),
        });
    }
    Ok(())
}

/// Checks that predictions have the targets' shape.
pub fn validate_predictions<T: Value>(predictions: ArrayView2<'_, bool>, targets: ArrayView2<'_, T>) -> Result<()> {
    if predictions.shape() != targets.shape() {
        return Err(MetricsError::ShapeMismatch {
            what: "predictions and targets",
            left: predictions.shape().to_vec(),
            right: targets.shape().to_vec(),
        });
    }
    if predictions.is_empty() {
        return Err(MetricsError::Empty);
    }
    Ok(())
}

/// Targets as booleans (after [`validate`]).
pub fn target_mask<T: Value>(targets: ArrayView2<'_, T>) -> Array2<bool> {
    Zip::from(targets).par_map_collect(|&t| t.to_f64() == 1.0)
}

/// Scores as `f64`.
pub fn to_f64<S: Value>(scores: ArrayView2<'_, S>) -> Array2<f64> {
    let mut out = Array2::zeros(scores.raw_dim());
    Zip::from(&mut out).and(&scores).for_each(|o, &s| *o = s.to_f64());
    out
}
