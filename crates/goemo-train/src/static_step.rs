//! The training step with static shapes: forward, loss, backward, clipping and AdamW as device
//! work only, with no value read back in between. On CUDA each shape is recorded once as a
//! CUDA graph and replayed, so that a step costs one launch instead of one per kernel (thousands
//! for a transformer); elsewhere the same step runs eagerly.

use std::collections::HashMap;

use goemo_data::{Batch, ShapeBuckets};
use goemo_model::{TensorBatch, TrainableModel};
use goemo_torch::{CudaGraph, GraphPool, SideStream};
use tch::{Device, Kind, Tensor};

use crate::{DeviceLoss, Loss, Optimizer, Result, TrainError};

/// The static tensors of one shape: each step copies its batch into them, and the recording of
/// that shape reads them.
#[derive(Debug)]
struct StaticInputs {
    batch: TensorBatch,
    /// 1/n on the batch's n texts, 0 on padding rows.
    row_weights: Tensor,
}

/// Where a shape stands on CUDA: one eager step first (libraries initialise lazily, and the
/// gradients are allocated outside any recording), then recorded once, then replayed.
#[derive(Debug)]
enum Recording {
    WarmedUp,
    Recorded(CudaGraph),
}

/// How many steps ran which way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StaticStepCounts {
    /// Steps run op by op (every step off CUDA; the first of each shape on CUDA).
    pub eager: u64,
    /// Shapes recorded as CUDA graphs.
    pub recorded: u64,
    /// Steps run as a replay of a recording.
    pub replayed: u64,
}

/// A training step over batches of static shapes ([`goemo_data::Batcher::static_batch`]).
///
/// The optimiser must run its update on the device with a skip flag
/// ([`Optimizer::skip_flag`], e.g. [`crate::AdamW::on_device`] under [`crate::Clipped`]): the
/// step sets the flag when its loss is not finite, so that the update leaves the weights alone,
/// since a recorded step cannot look at the loss before updating.
#[derive(Debug)]
pub struct StaticStep {
    shapes: ShapeBuckets,
    loss: DeviceLoss,
    skip: Tensor,
    loss_value: Tensor,
    device: Device,
    record: bool,
    inputs: HashMap<usize, StaticInputs>,
    recordings: HashMap<usize, Recording>,
    pool: Option<GraphPool>,
    counts: StaticStepCounts,
}

impl StaticStep {
    /// A step over `shapes` with `loss`, updating through `optimizer`, on `device`; `record`:
    /// record CUDA graphs (on a CUDA device; elsewhere it must be false).
    pub fn new(
        shapes: ShapeBuckets,
        loss: &Loss,
        optimizer: &dyn Optimizer,
        device: Device,
        record: bool,
    ) -> Result<Self> {
        let skip = optimizer.skip_flag().ok_or_else(|| {
            TrainError::InvalidOption(
                "a static-shape step needs an optimiser that updates on the device (AdamW::on_device)".into(),
            )
        })?;
        if record && !device.is_cuda() {
            return Err(TrainError::InvalidOption(format!(
                "CUDA graphs record CUDA work: the model is on {device:?}"
            )));
        }
        Ok(StaticStep {
            shapes,
            loss: loss.on_device(device)?,
            skip,
            loss_value: Tensor::f_zeros([], (Kind::Float, device))?,
            device,
            record,
            inputs: HashMap::new(),
            recordings: HashMap::new(),
            pool: None,
            counts: StaticStepCounts::default(),
        })
    }

    /// The shapes batches must have.
    pub fn shapes(&self) -> &ShapeBuckets {
        &self.shapes
    }

    /// How many steps ran which way so far.
    pub fn counts(&self) -> StaticStepCounts {
        self.counts
    }

    /// One update from `batch` (a static-shape batch with targets) at learning rate `lr`;
    /// returns the mean loss of its texts. A non-finite loss is an error, and the update of
    /// that step was skipped on the device.
    pub fn run<M: TrainableModel + ?Sized>(
        &mut self,
        model: &M,
        optimizer: &mut dyn Optimizer,
        batch: &Batch,
        lr: f64,
    ) -> Result<f64> {
        let width = batch.input_ids.ncols();
        if batch.rows() != self.shapes.rows() || !self.shapes.lengths().contains(&width) {
            return Err(TrainError::InvalidOption(format!(
                "a batch of {} × {width} tokens is not one of the static shapes ({} rows × {:?} tokens)",
                batch.rows(),
                self.shapes.rows(),
                self.shapes.lengths()
            )));
        }
        // All of a step's work, the copies in included, on one stream: the recordings' own.
        let _stream = self.record.then(|| SideStream::enter(self.device)).transpose()?;
        optimizer.set_learning_rate(lr);
        let device = self.device;
        let inputs = match self.inputs.entry(width) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => e.insert(StaticInputs {
                batch: TensorBatch::new(batch, device)?,
                row_weights: Tensor::f_zeros([batch.rows() as i64], (Kind::Float, device))?,
            }),
        };
        copy_batch(inputs, batch)?;
        let inputs = &*inputs;
        let parts = StepParts {
            loss: &self.loss,
            skip: &self.skip,
            loss_value: &self.loss_value,
        };
        match self.recordings.get(&width) {
            _ if !self.record => {
                parts.run(model, optimizer, inputs)?;
                self.counts.eager += 1;
            }
            None => {
                parts.run(model, optimizer, inputs)?;
                self.recordings.insert(width, Recording::WarmedUp);
                self.counts.eager += 1;
            }
            Some(Recording::WarmedUp) => {
                let (graph, ()) = CudaGraph::record(device, self.pool, || parts.run(model, optimizer, inputs))?;
                graph.replay()?;
                self.pool.get_or_insert(graph.pool());
                self.recordings.insert(width, Recording::Recorded(graph));
                self.counts.recorded += 1;
                self.counts.replayed += 1;
            }
            Some(Recording::Recorded(graph)) => {
                graph.replay()?;
                self.counts.replayed += 1;
            }
        }
        // The one read of a step, after all its work is queued.
        Ok(self.loss_value.f_double_value(&[])?)
    }
}

/// What the recorded work reads and writes besides the model and the optimiser.
struct StepParts<'a> {
    loss: &'a DeviceLoss,
    skip: &'a Tensor,
    loss_value: &'a Tensor,
}

impl StepParts<'_> {
    /// Forward, loss, backward and update: device work only.
    fn run<M: TrainableModel + ?Sized>(
        &self,
        model: &M,
        optimizer: &mut dyn Optimizer,
        inputs: &StaticInputs,
    ) -> Result<()> {
        let logits = model.forward_t(&inputs.batch, true)?;
        let targets = inputs.batch.targets.as_ref().ok_or(TrainError::MissingTargets)?;
        let loss = self.loss.weighted_rows(&logits, targets, &inputs.row_weights)?;
        tch::no_grad(|| -> Result<()> {
            self.loss_value.shallow_clone().f_copy_(&loss)?;
            self.skip
                .shallow_clone()
                .f_copy_(&loss.f_isfinite()?.f_logical_not()?)?;
            Ok(())
        })?;
        loss.f_backward()?;
        optimizer.step()?;
        Ok(())
    }
}

/// Copies a host batch into the static tensors of its shape.
fn copy_batch(inputs: &StaticInputs, batch: &Batch) -> Result<()> {
    let host = TensorBatch::new(batch, Device::Cpu)?;
    let real = batch.real_rows();
    let weights: Vec<f32> = (0..batch.rows())
        .map(|row| if row < real { 1.0 / real as f32 } else { 0.0 })
        .collect();
    tch::no_grad(|| -> Result<()> {
        let s = &inputs.batch;
        s.input_ids.shallow_clone().f_copy_(&host.input_ids)?;
        s.attention_mask.shallow_clone().f_copy_(&host.attention_mask)?;
        if let (Some(to), Some(from)) = (&s.token_type_ids, &host.token_type_ids) {
            to.shallow_clone().f_copy_(from)?;
        }
        match (&s.targets, &host.targets) {
            (Some(to), Some(from)) => {
                to.shallow_clone().f_copy_(from)?;
            }
            _ => return Err(TrainError::MissingTargets),
        }
        inputs
            .row_weights
            .shallow_clone()
            .f_copy_(&Tensor::f_from_slice(&weights)?)?;
        Ok(())
    })
}
