//! Multi-label losses on logits, computed in f32.

use serde::{Deserialize, Serialize};
use tch::{Kind, Reduction, Tensor};

use crate::{Result, TrainError};

/// A multi-label loss over logits (B, C) and 0/1 targets (B, C), averaged over all cells.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "loss", rename_all = "snake_case")]
pub enum Loss {
    /// Binary cross-entropy on logits.
    Bce,
    /// Binary cross-entropy with a positive-class weight per label (label-index order).
    WeightedBce {
        /// Per label, the weight of its positive cells.
        pos_weight: Vec<f64>,
    },
    /// Focal loss (Lin et al., 2017): `alpha_t · (1 − p_t)^gamma · BCE`.
    Focal {
        /// Weight of positives (negatives get 1 − alpha).
        alpha: f64,
        /// Focusing exponent.
        gamma: f64,
    },
    /// Asymmetric loss (Ridnik et al., 2021): positives `(1 − p)^γ+ · log p`; negatives with
    /// the probability shifted down by `clip`, `p_m = max(p − clip, 0)`, then `p_m^γ− · log(1 − p_m)`.
    /// Averaged over cells (the paper sums them).
    Asymmetric {
        /// Focusing exponent of positives.
        gamma_pos: f64,
        /// Focusing exponent of negatives.
        gamma_neg: f64,
        /// Probability shift of negatives.
        clip: f64,
    },
}

/// A loss by name, as configs and flags give it; weighted BCE's weights come from the
/// training data ([`goemo_data::class_weights`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossKind {
    /// Binary cross-entropy.
    Bce,
    /// Binary cross-entropy weighted by class frequency.
    WeightedBce,
    /// Focal loss.
    Focal,
    /// Asymmetric loss.
    Asymmetric,
}

impl LossKind {
    const ALL: [LossKind; 4] = [
        LossKind::Bce,
        LossKind::WeightedBce,
        LossKind::Focal,
        LossKind::Asymmetric,
    ];

    /// The loss's name, as in configs.
    pub fn name(self) -> &'static str {
        match self {
            LossKind::Bce => "bce",
            LossKind::WeightedBce => "weighted_bce",
            LossKind::Focal => "focal",
            LossKind::Asymmetric => "asymmetric",
        }
    }
}

impl std::fmt::Display for LossKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for LossKind {
    type Err = TrainError;

    fn from_str(s: &str) -> Result<Self> {
        LossKind::ALL.into_iter().find(|k| k.name() == s.trim()).ok_or_else(|| {
            TrainError::InvalidOption(format!("unknown loss {s:?} (bce, weighted_bce, focal, asymmetric)"))
        })
    }
}

impl Loss {
    /// The focal loss's α and γ of Lin et al. (2017).
    pub const FOCAL_ALPHA: f64 = 0.25;
    /// The focal loss's γ of Lin et al. (2017).
    pub const FOCAL_GAMMA: f64 = 2.0;
    /// The asymmetric loss's defaults in Ridnik et al. (2021): γ+ 0, γ− 4, clip 0.05.
    pub const ASL_GAMMA_POS: f64 = 0.0;
    /// The asymmetric loss's γ− of Ridnik et al. (2021).
    pub const ASL_GAMMA_NEG: f64 = 4.0;
    /// The asymmetric loss's probability shift of Ridnik et al. (2021).
    pub const ASL_CLIP: f64 = 0.05;

    /// The mean loss.
    pub fn compute(&self, logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
        let logits = logits.to_kind(Kind::Float);
        let targets = targets.to_kind(Kind::Float);
        check_shapes(&logits, &targets)?;
        Ok(match self {
            Loss::Bce => {
                logits.f_binary_cross_entropy_with_logits(&targets, None::<Tensor>, None::<Tensor>, Reduction::Mean)?
            }
            Loss::WeightedBce { pos_weight } => {
                let classes = *logits.size().last().unwrap_or(&0) as usize;
                if pos_weight.len() != classes {
                    return Err(TrainError::InvalidOption(format!(
                        "{} positive weights for {classes} labels",
                        pos_weight.len()
                    )));
                }
                let weights = Tensor::from_slice(pos_weight)
                    .to_kind(Kind::Float)
                    .to_device(logits.device());
                logits.f_binary_cross_entropy_with_logits(&targets, None::<Tensor>, Some(weights), Reduction::Mean)?
            }
            Loss::Focal { .. } | Loss::Asymmetric { .. } => {
                elements(self, &logits, &targets, None)?.f_mean(Kind::Float)?
            }
        })
    }

    /// This loss with its constants (positive weights) placed on `device` once: the form a
    /// recorded step (a CUDA graph) computes, since a copy from the host inside a recording is
    /// not allowed.
    pub fn on_device(&self, device: tch::Device) -> Result<DeviceLoss> {
        let pos_weight = match self {
            Loss::WeightedBce { pos_weight } => Some(
                Tensor::f_from_slice(pos_weight)?
                    .f_to_kind(Kind::Float)?
                    .f_to_device(device)?,
            ),
            _ => None,
        };
        Ok(DeviceLoss {
            loss: self.clone(),
            pos_weight,
        })
    }
}

/// A [`Loss`] whose constants live on the device ([`Loss::on_device`]).
#[derive(Debug)]
pub struct DeviceLoss {
    loss: Loss,
    pos_weight: Option<Tensor>,
}

impl DeviceLoss {
    /// `Σᵢ wᵢ · meanₖ ℓ(i, k)`: with `row_weights` 1/n on a batch's n texts and 0 on its padding
    /// rows, the mean loss of the texts, as [`Loss::compute`] gives it for the batch without
    /// padding. Every operation stays on the device (no value is read back).
    pub fn weighted_rows(&self, logits: &Tensor, targets: &Tensor, row_weights: &Tensor) -> Result<Tensor> {
        let logits = logits.to_kind(Kind::Float);
        let targets = targets.to_kind(Kind::Float);
        check_shapes(&logits, &targets)?;
        if row_weights.size() != [logits.size()[0]] {
            return Err(TrainError::InvalidOption(format!(
                "row weights {:?} for logits {:?}",
                row_weights.size(),
                logits.size()
            )));
        }
        let rows = elements(&self.loss, &logits, &targets, self.pos_weight.as_ref())?.f_mean_dim(
            Some([1i64].as_slice()),
            false,
            Kind::Float,
        )?;
        Ok((rows * row_weights).f_sum(Kind::Float)?)
    }
}

fn check_shapes(logits: &Tensor, targets: &Tensor) -> Result<()> {
    if logits.size() == targets.size() {
        return Ok(());
    }
    Err(TrainError::InvalidOption(format!(
        "logits {:?} and targets {:?} differ in shape",
        logits.size(),
        targets.size()
    )))
}

/// The loss of every (text, label) element.
fn elements(loss: &Loss, logits: &Tensor, targets: &Tensor, pos_weight: Option<&Tensor>) -> Result<Tensor> {
    let none = Reduction::None;
    Ok(match loss {
        Loss::Bce => logits.f_binary_cross_entropy_with_logits(targets, None::<Tensor>, None::<Tensor>, none)?,
        Loss::WeightedBce { pos_weight: weights } => {
            let classes = *logits.size().last().unwrap_or(&0) as usize;
            if weights.len() != classes {
                return Err(TrainError::InvalidOption(format!(
                    "{} positive weights for {classes} labels",
                    weights.len()
                )));
            }
            let weights = match pos_weight {
                Some(w) => w.shallow_clone(),
                None => Tensor::f_from_slice(weights)?
                    .f_to_kind(Kind::Float)?
                    .f_to_device(logits.device())?,
            };
            logits.f_binary_cross_entropy_with_logits(targets, None::<Tensor>, Some(weights), none)?
        }
        Loss::Focal { alpha, gamma } => {
            let bce = logits.f_binary_cross_entropy_with_logits(targets, None::<Tensor>, None::<Tensor>, none)?;
            let p = logits.sigmoid();
            let p_t = &p * targets + (p.ones_like() - &p) * (targets.ones_like() - targets);
            let alpha_t = targets * *alpha + (targets.ones_like() - targets) * (1.0 - alpha);
            alpha_t * (p_t.ones_like() - p_t).pow_tensor_scalar(*gamma) * bce
        }
        Loss::Asymmetric {
            gamma_pos,
            gamma_neg,
            clip,
        } => asymmetric(logits, targets, *gamma_pos, *gamma_neg, *clip)?,
    })
}

/// The asymmetric loss of every element, as the authors' `AsymmetricLossOptimized` computes it.
fn asymmetric(logits: &Tensor, targets: &Tensor, gamma_pos: f64, gamma_neg: f64, clip: f64) -> Result<Tensor> {
    const EPS: f64 = 1e-8;
    let p = logits.f_sigmoid()?;
    let negatives = targets.ones_like() - targets;
    // 1 − p_m, with p_m = max(p − clip, 0).
    let q = (p.ones_like() - &p + clip).f_clamp_max(1.0)?;
    let log_likelihood = targets * p.f_clamp_min(EPS)?.f_log()? + &negatives * q.f_clamp_min(EPS)?.f_log()?;
    let p_t = &p * targets + &q * &negatives;
    let gamma = targets * gamma_pos + &negatives * gamma_neg;
    let weight = (p_t.ones_like() - p_t).f_pow(&gamma)?;
    Ok(-(log_likelihood * weight))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(loss: &Loss, logits: &[f32], targets: &[f32]) -> f64 {
        let x = Tensor::from_slice(logits).view([1, -1]);
        let y = Tensor::from_slice(targets).view([1, -1]);
        loss.compute(&x, &y).unwrap().double_value(&[])
    }

    #[test]
    fn asymmetric_loss_by_hand_and_as_bce_without_focusing() {
        let asl = Loss::Asymmetric {
            gamma_pos: Loss::ASL_GAMMA_POS,
            gamma_neg: Loss::ASL_GAMMA_NEG,
            clip: Loss::ASL_CLIP,
        };
        let sigmoid = |x: f64| 1.0 / (1.0 + (-x).exp());
        let (p_pos, p_neg) = (sigmoid(2.0), sigmoid(-1.0));
        let q = 1.0 - p_neg + 0.05;
        let want = (-(p_pos.ln()) - q.ln() * (1.0 - q).powi(4)) / 2.0;
        assert!((value(&asl, &[2.0, -1.0], &[1.0, 0.0]) - want).abs() < 1e-6);
        // A negative whose probability is under the clip costs nothing.
        assert!(value(&asl, &[-6.0], &[0.0]).abs() < 1e-9);
        let plain = Loss::Asymmetric {
            gamma_pos: 0.0,
            gamma_neg: 0.0,
            clip: 0.0,
        };
        let (x, y) = ([0.3f32, -2.0, 1.5, -0.1], [1.0f32, 0.0, 0.0, 1.0]);
        assert!((value(&plain, &x, &y) - value(&Loss::Bce, &x, &y)).abs() < 1e-6);
        assert_eq!("asymmetric".parse::<LossKind>().unwrap(), LossKind::Asymmetric);
    }

    #[test]
    fn weighted_rows_ignore_padding_rows_and_equal_the_mean() {
        let logits = Tensor::from_slice(&[0.3f32, -2.0, 1.5, -0.1, 2.2, 0.0, 9.0, -9.0, 4.0]).view([3, 3]);
        let targets = Tensor::from_slice(&[1.0f32, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0]).view([3, 3]);
        // Two texts and one padding row (whatever its logits).
        let weights = Tensor::from_slice(&[0.5f32, 0.5, 0.0]);
        let losses = [
            Loss::Bce,
            Loss::WeightedBce {
                pos_weight: vec![2.0, 1.0, 3.0],
            },
            Loss::Focal {
                alpha: 0.25,
                gamma: 2.0,
            },
            Loss::Asymmetric {
                gamma_pos: 0.0,
                gamma_neg: 4.0,
                clip: 0.05,
            },
        ];
        for loss in losses {
            let want = loss.compute(&logits.narrow(0, 0, 2), &targets.narrow(0, 0, 2)).unwrap();
            let got = loss
                .on_device(tch::Device::Cpu)
                .unwrap()
                .weighted_rows(&logits, &targets, &weights)
                .unwrap();
            let (got, want) = (got.double_value(&[]), want.double_value(&[]));
            assert!((got - want).abs() < 1e-6, "{loss:?}: {got} vs {want}");
        }
        let device_loss = Loss::Bce.on_device(tch::Device::Cpu).unwrap();
        assert!(device_loss
            .weighted_rows(&logits, &targets, &Tensor::ones([2], (Kind::Float, tch::Device::Cpu)))
            .is_err());
    }
}
