//! [`rescore_split`]: a labelled split scored by a checkpoint and written as `train` writes its
//! prediction files.

use std::path::Path;

use goemo_data::{DataSource, Split};
use goemo_metrics::target_mask;
use goemo_model::EmotionClassifier;
use ndarray::Axis;

use crate::{Result, RunError};

/// Every example of a labelled split scored by `classifier` (calibrated probabilities when it has
/// a calibration) and written to `out` as `train` writes its prediction files, with the
/// classifier's thresholds; the probability columns follow the data's label order, matched by
/// name through the checkpoint's `id2label`. Labels the
/// checkpoint and the data do not share are an error listing them. Returns the examples scored.
pub fn rescore_split(
    classifier: &EmotionClassifier,
    source: &dyn DataSource,
    split: Split,
    out: &Path,
) -> Result<usize> {
    let dataset = source.load()?;
    let (data_labels, model_labels) = (dataset.labels.names(), classifier.labels());
    // Column j of the file is the checkpoint's column `order[j]`.
    let order: Vec<Option<usize>> = data_labels
        .iter()
        .map(|l| model_labels.iter().position(|m| m == l))
        .collect();
    let only_model: Vec<&str> = model_labels
        .iter()
        .filter(|m| !data_labels.contains(m))
        .map(String::as_str)
        .collect();
    if order.contains(&None) || !only_model.is_empty() {
        let only_data: Vec<&str> = data_labels
            .iter()
            .zip(&order)
            .filter(|(_, o)| o.is_none())
            .map(|(l, _)| l.as_str())
            .collect();
        return Err(RunError::Option(format!(
            "the checkpoint's labels (id2label) differ from those of {}: only in the checkpoint: [{}]; only in the data: [{}]",
            source.describe(),
            only_model.join(", "),
            only_data.join(", ")
        )));
    }
    let order: Vec<usize> = order.into_iter().flatten().collect();
    let examples = dataset.split(split);
    let texts: Vec<&str> = examples.iter().map(|e| e.text.as_str()).collect();
    let probs = classifier.probabilities_f64(&texts)?;
    let chosen = classifier.thresholds().apply(probs.view())?;
    let targets = target_mask(dataset.targets(split).view());
    goemo_data::write_prediction_csv(
        out,
        &goemo_data::PredictionRows {
            labels: data_labels,
            ids: &examples.iter().map(|e| e.id.clone()).collect::<Vec<_>>(),
            texts: &examples.iter().map(|e| e.text.clone()).collect::<Vec<_>>(),
            targets: targets.view(),
            predicted: chosen.select(Axis(1), &order).view(),
            probabilities: probs.select(Axis(1), &order).view(),
        },
    )?;
    Ok(examples.len())
}
