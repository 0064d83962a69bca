//! The model side of training and inference: [`TrainableModel`], the trait the trainer is
//! generic over; [`TensorBatch`], a padded batch as tensors; and [`predict_probabilities`], the
//! one length-sorted inference loop that evaluation and `EmotionClassifier` share.

use std::path::{Path, PathBuf};

use goemo_data::{Batch, Batcher};
use ndarray::{Array2, ArrayView1};
use tch::{Device, Kind, Tensor};

use crate::error::Result;
use crate::recorded::StaticForward;

/// A padded batch (from goemo-data's [`Batcher`]) as tensors on one device.
#[derive(Debug)]
pub struct TensorBatch {
    /// Token ids (batch, tokens), int64.
    pub input_ids: Tensor,
    /// 1 on real tokens, 0 on padding (batch, tokens), int64.
    pub attention_mask: Tensor,
    /// Segment ids (batch, tokens) for models that take them.
    pub token_type_ids: Option<Tensor>,
    /// Multi-hot targets (batch, labels), float32, when the batch carries them.
    pub targets: Option<Tensor>,
}

impl TensorBatch {
    /// Copies a batch's arrays into tensors on `device`.
    pub fn new(batch: &Batch, device: Device) -> Result<Self> {
        fn tensor<T: tch::kind::Element + Copy>(a: &ndarray::Array2<T>, device: Device) -> Result<Tensor> {
            let (rows, cols) = a.dim();
            let data: Vec<T> = a.iter().copied().collect();
            Ok(Tensor::f_from_slice(&data)?
                .f_view([rows as i64, cols as i64])?
                .f_to_device(device)?)
        }
        Ok(TensorBatch {
            input_ids: tensor(&batch.input_ids, device)?,
            attention_mask: tensor(&batch.attention_mask, device)?,
            token_type_ids: batch.token_type_ids.as_ref().map(|t| tensor(t, device)).transpose()?,
            targets: batch.targets.as_ref().map(|t| tensor(t, device)).transpose()?,
        })
    }

    /// Texts in the batch.
    pub fn len(&self) -> usize {
        self.input_ids.size().first().copied().unwrap_or(0) as usize
    }

    /// Whether the batch has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A multi-label text classifier the trainer can train: goemo's [`crate::SequenceClassifier`],
/// or a downstream crate's own model.
///
/// ```no_run
/// use goemo_model::{LoadOptions, SequenceClassifier, TrainableModel};
///
/// fn describe(model: &impl TrainableModel) -> String {
///     format!("{} labels, {} tensors", model.labels().len(), model.named_parameters().len())
/// }
/// let model = SequenceClassifier::load("data/models/all-MiniLM-L6-v2", tch::Device::Cpu, &LoadOptions::default())?;
/// println!("{}", describe(&model));
/// # Ok::<(), goemo_model::ModelError>(())
/// ```
pub trait TrainableModel {
    /// Logits (batch, labels) in float32; `train` switches dropout on. A batch the model
    /// cannot take is an error naming the tensor.
    fn forward_t(&self, batch: &TensorBatch, train: bool) -> Result<Tensor>;

    /// Every trainable parameter by name, sorted by name: optimisers and saved training states
    /// key on these names.
    fn named_parameters(&self) -> Vec<(String, Tensor)>;

    /// Label names in output order.
    fn labels(&self) -> &[String];

    /// Where the parameters live.
    fn device(&self) -> Device;

    /// Whether batches should carry token type ids.
    fn uses_token_types(&self) -> bool {
        false
    }

    /// Saves the model into `dir` and returns the folder.
    fn save(&self, dir: &Path) -> Result<PathBuf>;
}

/// How logits become probabilities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probability {
    /// Independent labels (multi-label): a sigmoid per logit.
    Sigmoid,
    /// One label per text: a softmax over the labels.
    Softmax,
}

/// Probabilities (texts × labels, input order) of token-id sequences, with dropout off and no
/// gradients. Texts are sorted by length and batched with dynamic padding
/// ([`Batcher::sorted_plan`]); `observe` sees each batch with its logits (for a loss, say).
pub fn predict_probabilities<M: TrainableModel + ?Sized>(
    model: &M,
    batcher: &Batcher<'_>,
    batch_size: usize,
    probability: Probability,
    observe: impl FnMut(&TensorBatch, &Tensor) -> Result<()>,
) -> Result<Array2<f32>> {
    let plan = batcher.sorted_plan(batch_size)?;
    predict_plan(model, batcher, &plan, probability, observe, |indices| {
        let batch = TensorBatch::new(&batcher.batch(indices), model.device())?;
        let logits = model.forward_t(&batch, false)?;
        Ok((batch, logits))
    })
}

/// [`predict_probabilities`] over static shapes ([`StaticForward`]): batches of
/// `forward.shapes().rows()` texts padded to bucketed lengths, recorded as CUDA graphs on CUDA.
/// The same probabilities up to rounding.
pub fn predict_probabilities_static<M: TrainableModel + ?Sized>(
    model: &M,
    batcher: &Batcher<'_>,
    forward: &mut StaticForward,
    probability: Probability,
    observe: impl FnMut(&TensorBatch, &Tensor) -> Result<()>,
) -> Result<Array2<f32>> {
    let plan = batcher.sorted_plan(forward.shapes().rows())?;
    predict_plan(model, batcher, &plan, probability, observe, |indices| {
        let logits = forward.logits(model, &batcher.static_batch(indices, forward.shapes())?)?;
        Ok((TensorBatch::new(&batcher.batch(indices), model.device())?, logits))
    })
}

/// The loop both share: `logits_of` gives a batch (its texts only) and their logits.
fn predict_plan<M: TrainableModel + ?Sized>(
    model: &M,
    batcher: &Batcher<'_>,
    plan: &[Vec<usize>],
    probability: Probability,
    mut observe: impl FnMut(&TensorBatch, &Tensor) -> Result<()>,
    mut logits_of: impl FnMut(&[usize]) -> Result<(TensorBatch, Tensor)>,
) -> Result<Array2<f32>> {
    let c = model.labels().len();
    let mut out = Array2::<f32>::zeros((batcher.len(), c));
    tch::no_grad(|| -> Result<()> {
        for indices in plan {
            let (batch, logits) = logits_of(indices)?;
            observe(&batch, &logits)?;
            let probs = match probability {
                Probability::Sigmoid => logits.f_sigmoid()?,
                Probability::Softmax => logits.f_softmax(-1, Kind::Float)?,
            };
            let values = Vec::<f32>::try_from(probs.f_to_device(Device::Cpu)?.f_flatten(0, -1)?)?;
            for (row, &i) in indices.iter().enumerate() {
                out.row_mut(i)
                    .assign(&ArrayView1::from(&values[row * c..(row + 1) * c]));
            }
        }
        Ok(())
    })?;
    Ok(out)
}
