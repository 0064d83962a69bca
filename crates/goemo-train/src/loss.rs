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
    WeightedBce { pos_weight: Vec<f64> },
    /// Focal loss (Lin et al., 2017): `alpha_t · (1 − p_t)^gamma · BCE`.
    Focal { alpha: f64, gamma: f64 },
}

/// A loss by name, as configs and flags give it; weighted BCE's weights come from the
/// training data ([`goemo_data::class_weights`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossKind {
    Bce,
    WeightedBce,
    Focal,
}

impl LossKind {
    const ALL: [LossKind; 3] = [LossKind::Bce, LossKind::WeightedBce, LossKind::Focal];

    pub fn name(self) -> &'static str {
        match self {
            LossKind::Bce => "bce",
            LossKind::WeightedBce => "weighted_bce",
            LossKind::Focal => "focal",
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
        LossKind::ALL
            .into_iter()
            .find(|k| k.name() == s.trim())
            .ok_or_else(|| TrainError::InvalidOption(format!("unknown loss {s:?} (bce, weighted_bce, focal)")))
    }
}

impl Loss {
    /// The focal loss's α and γ of Lin et al. (2017).
    pub const FOCAL_ALPHA: f64 = 0.25;
    pub const FOCAL_GAMMA: f64 = 2.0;

    /// The mean loss.
    pub fn compute(&self, logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
        let logits = logits.to_kind(Kind::Float);
        let targets = targets.to_kind(Kind::Float);
        if logits.size() != targets.size() {
            return Err(TrainError::InvalidOption(format!(
                "logits {:?} and targets {:?} differ in shape",
                logits.size(),
                targets.size()
            )));
        }
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
            Loss::Focal { alpha, gamma } => {
                let bce = logits.f_binary_cross_entropy_with_logits(
                    &targets,
                    None::<Tensor>,
                    None::<Tensor>,
                    Reduction::None,
                )?;
                let p = logits.sigmoid();
                let p_t = &p * &targets + (p.ones_like() - &p) * (targets.ones_like() - &targets);
                let alpha_t = &targets * *alpha + (targets.ones_like() - &targets) * (1.0 - alpha);
                (alpha_t * (p_t.ones_like() - p_t).pow_tensor_scalar(*gamma) * bce).mean(Kind::Float)
            }
        })
    }
}
