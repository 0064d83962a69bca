//! Key observations and the deployment recommendation, written from the comparison's numbers
//! by the rules stated in each function (and in the document).

use crate::compare::{BootstrapRow, Comparison, ModelSummary};

/// Precision over recall (or recall over precision) at which the document calls one "well
/// above" the other.
const IMBALANCE: f64 = 1.25;
/// The family-wise error level of the significance statements (Holm-adjusted p).
const ALPHA: f64 = 0.05;

/// A model's observations: convergence, the precision/recall balance, emotions never
/// predicted, its strongest and weakest emotions, and the calibration verdict.
pub(crate) fn model(c: &Comparison, m: &ModelSummary) -> Vec<String> {
    let mut notes = vec![];
    if let (Some(epochs), false) = (m.epochs, m.best_epochs.is_empty()) {
        let best = m.best_epochs.iter().max().copied().unwrap_or(0);
        let mut epochs_seen = m.best_epochs.clone();
        epochs_seen.dedup();
        let list = join(epochs_seen.iter().map(u64::to_string));
        let metric = m.select_by.as_deref().unwrap_or("the selection metric");
        notes.push(if best < epochs {
            format!(
                "Early convergence: dev {metric} peaked at epoch {list} of {epochs}; later epochs did not improve it."
            )
        } else {
            format!("Dev {metric} was best at the last epoch ({list} of {epochs}): more epochs may still help.")
        });
    }
    let (p, r) = (m.test.precision_micro, m.test.recall_micro);
    notes.push(if p >= IMBALANCE * r {
        format!("Precision well above recall (micro {p:.4} against {r:.4}): it misses more emotions than it invents.")
    } else if r >= IMBALANCE * p {
        format!("Recall well above precision (micro {r:.4} against {p:.4}): it finds most emotions and also tags some that are not there; thresholds tuned for F1 on dev do this on rare labels.")
    } else {
        format!("Precision and recall are balanced (micro {p:.4} and {r:.4}).")
    });
    notes.push(if m.never_predicted.is_empty() {
        "Every emotion is predicted at least once on test.".to_string()
    } else {
        format!("Never predicted on test: {}.", m.never_predicted.join(", "))
    });
    if let Some(rows) = c.per_emotion.get(&m.name).filter(|r| r.len() >= 6) {
        let name = |r: &crate::EmotionRow| format!("{} {:.3}", r.label, r.f1);
        notes.push(format!(
            "Strongest emotions by F1: {}; weakest: {}.",
            join(rows[..3].iter().map(name)),
            join(rows[rows.len() - 3..].iter().map(name))
        ));
    }
    if let Some(k) = c.calibration.get(&m.name) {
        notes.push(format!(
            "Calibration ({}): Brier {:.4} against {:.4} for the label frequencies; its scores {} read as probabilities by the rule of the calibration section.",
            k.method,
            k.after.brier,
            k.baseline_brier,
            if k.reads_as_probabilities { "do" } else { "do not" }
        ));
    }
    notes
}

/// The comparison's observations: per headline metric, which model leads and whether its
/// difference from the baseline is significant; then size, speed and training time against the
/// baseline.
pub(crate) fn comparison(c: &Comparison) -> Vec<String> {
    let mut notes = vec![];
    let baseline = &c.models[0];
    for metric in ["auc_micro", "auc_macro", "f1_micro", "f1_macro"] {
        let Some(best) = leader(&c.models, metric) else {
            continue;
        };
        let value = best.test.get(metric).unwrap_or(f64::NAN);
        let claim = if best.name == baseline.name {
            format!("{metric}: the baseline {} leads ({value:.4})", best.name)
        } else {
            let test = bootstrap(&c.paired_bootstrap, &best.name, metric).map_or("not tested".to_string(), |row| {
                format!(
                    "Δ {:+.4}, 95 % interval [{:+.4}, {:+.4}], {}",
                    row.delta,
                    row.ci_low,
                    row.ci_high,
                    if row.p_holm < ALPHA {
                        "significant after Holm"
                    } else {
                        "not significant after Holm"
                    }
                )
            });
            format!(
                "{metric}: {} leads ({value:.4}; against {}: {test})",
                best.name, baseline.name
            )
        };
        notes.push(format!("{claim}."));
    }
    for m in &c.models[1..] {
        if let Some(line) = cost(baseline, m) {
            notes.push(line);
        }
    }
    notes
}

/// The deployment recommendation and its reason. Rule: the model with the highest test micro
/// AUC (the primary metric) when its lead over the runner-up is significant (paired bootstrap,
/// Holm p < 0.05); otherwise, of the two, the faster at inference.
pub(crate) fn recommendation(c: &Comparison) -> String {
    let mut ranked: Vec<&ModelSummary> = c.models.iter().filter(|m| m.test.auc_micro.is_some()).collect();
    ranked.sort_by(|a, b| {
        b.test
            .auc_micro
            .unwrap_or(0.0)
            .total_cmp(&a.test.auc_micro.unwrap_or(0.0))
    });
    let rule = format!("Rule: the model with the highest test micro AUC (the primary metric) when its lead over the runner-up is significant (paired bootstrap, Holm-adjusted p < {ALPHA}), else the faster of the two at inference.");
    let (leader, runner_up) = match ranked.as_slice() {
        [] => return "No recommendation: no model has a test micro AUC.".into(),
        [only] => return format!("**Deploy {}**, the only model compared.", only.name),
        [first, second, ..] => (*first, *second),
    };
    let baseline = &c.models[0].name;
    // Bootstrap rows compare models with the baseline: the pair is tested when one of the two
    // is the baseline.
    let row = if &runner_up.name == baseline {
        bootstrap(&c.paired_bootstrap, &leader.name, "auc_micro")
    } else if &leader.name == baseline {
        bootstrap(&c.paired_bootstrap, &runner_up.name, "auc_micro")
    } else {
        None
    };
    let lead = leader.test.auc_micro.unwrap_or(f64::NAN) - runner_up.test.auc_micro.unwrap_or(f64::NAN);
    let (chosen, other, reason) = match row {
        Some(r) if r.p_holm < ALPHA => (
            leader,
            runner_up,
            format!(
                "{} leads {} in test micro AUC by {lead:.4} (Holm p {})",
                leader.name,
                runner_up.name,
                crate::tables::p_value(r.p_holm, r.resamples, c.paired_bootstrap.len())
            ),
        ),
        _ => {
            let rate = |m: &ModelSummary| m.inference_texts_per_second.unwrap_or(0.0);
            let faster = if rate(runner_up) > rate(leader) {
                runner_up
            } else {
                leader
            };
            let slower = if std::ptr::eq(faster, leader) {
                runner_up
            } else {
                leader
            };
            (
                faster,
                slower,
                format!(
                    "{}'s lead of {lead:.4} in micro AUC over {} is not shown significant; {} is the faster",
                    leader.name, runner_up.name, faster.name
                ),
            )
        }
    };
    let price = cost(other, chosen).map_or(String::new(), |line| format!(" Its price: {line}"));
    format!(
        "**Deploy {}.** {rule} {reason}, with macro F1 {:.4} against {:.4}.{price}",
        chosen.name, chosen.test.f1_macro, other.test.f1_macro
    )
}

/// The model with the highest value of `metric`.
fn leader<'a>(models: &'a [ModelSummary], metric: &str) -> Option<&'a ModelSummary> {
    models
        .iter()
        .filter(|m| m.test.get(metric).is_some_and(f64::is_finite))
        .max_by(|a, b| {
            a.test
                .get(metric)
                .unwrap_or(0.0)
                .total_cmp(&b.test.get(metric).unwrap_or(0.0))
        })
}

fn bootstrap<'a>(rows: &'a [BootstrapRow], model: &str, metric: &str) -> Option<&'a BootstrapRow> {
    rows.iter().find(|r| r.model == model && r.metric == metric)
}

/// Size, inference speed and training time of `m` as multiples of the baseline's.
fn cost(baseline: &ModelSummary, m: &ModelSummary) -> Option<String> {
    let ratio = |a: Option<f64>, b: Option<f64>| a.zip(b).filter(|(_, b)| *b > 0.0).map(|(a, b)| a / b);
    let parts: Vec<String> = [
        ratio(m.parameters, baseline.parameters).map(|r| format!("{r:.2}× the parameters")),
        ratio(m.inference_texts_per_second, baseline.inference_texts_per_second)
            .map(|r| format!("{r:.2}× the inference rate")),
        ratio(m.train_seconds, baseline.train_seconds).map(|r| format!("{r:.2}× the training time")),
    ]
    .into_iter()
    .flatten()
    .collect();
    (!parts.is_empty()).then(|| format!("{} against {}: {}.", m.name, baseline.name, parts.join(", ")))
}

fn join(items: impl Iterator<Item = String>) -> String {
    items.collect::<Vec<_>>().join(", ")
}
