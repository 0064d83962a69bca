//! Inference over static shapes: each batch padded to a fixed number of rows and a bucketed
//! length, and on CUDA each shape's forward pass recorded once as a CUDA graph and replayed (one
//! launch per batch instead of one per kernel). Elsewhere the same padded forward runs eagerly.

use std::collections::HashMap;

use goemo_data::{Batch, ShapeBuckets};
use goemo_torch::{CudaGraph, GraphPool, SideStream};
use tch::{Device, Tensor};

use crate::error::{ModelError, Result};
use crate::trainable::{TensorBatch, TrainableModel};

/// One shape's static inputs, and once recorded, its graph and the logits it writes.
#[derive(Debug)]
struct Shape {
    inputs: TensorBatch,
    recorded: Option<(CudaGraph, Tensor)>,
}

/// Forward passes over [`ShapeBuckets`], recorded as CUDA graphs on CUDA.
///
/// The first batch of a shape runs eagerly (libraries initialise lazily), the second is
/// recorded and replayed, later ones replay. Graphs share one memory pool: they replay one at a
/// time and their logits are copied out before the next.
#[derive(Debug)]
pub struct StaticForward {
    shapes: ShapeBuckets,
    record: bool,
    by_length: HashMap<usize, Shape>,
    pool: Option<GraphPool>,
    replays: u64,
}

impl StaticForward {
    /// Forward passes over `shapes`; `record`: as CUDA graphs (the model must be on CUDA).
    pub fn new(shapes: ShapeBuckets, record: bool) -> Self {
        StaticForward {
            shapes,
            record,
            by_length: HashMap::new(),
            pool: None,
            replays: 0,
        }
    }

    /// The shapes batches must have ([`goemo_data::Batcher::static_batch`]).
    pub fn shapes(&self) -> &ShapeBuckets {
        &self.shapes
    }

    /// Batches run as replays of a recording so far.
    pub fn replays(&self) -> u64 {
        self.replays
    }

    /// The logits of the texts of a static-shape batch (its first `real_rows()` rows), with
    /// dropout off and no gradients.
    pub fn logits<M: TrainableModel + ?Sized>(&mut self, model: &M, batch: &Batch) -> Result<Tensor> {
        let device = model.device();
        let width = batch.input_ids.ncols();
        if batch.rows() != self.shapes.rows() || !self.shapes.lengths().contains(&width) {
            return Err(ModelError::InputShape {
                tensor: "input_ids".into(),
                found: vec![batch.rows() as i64, width as i64],
                expected: format!(
                    "{} rows × one of {:?} tokens",
                    self.shapes.rows(),
                    self.shapes.lengths()
                ),
            });
        }
        if self.record && !device.is_cuda() {
            return Err(ModelError::Device(format!(
                "CUDA graphs record CUDA work: the model is on {device:?}"
            )));
        }
        let real = batch.real_rows() as i64;
        tch::no_grad(|| {
            let _stream = self.record.then(|| SideStream::enter(device)).transpose()?;
            if !self.record {
                let inputs = TensorBatch::new(batch, device)?;
                return Ok(model.forward_t(&inputs, false)?.f_narrow(0, 0, real)?);
            }
            let shape = match self.by_length.entry(width) {
                std::collections::hash_map::Entry::Occupied(e) => {
                    let shape = e.into_mut();
                    copy_into(&shape.inputs, batch)?;
                    shape
                }
                std::collections::hash_map::Entry::Vacant(e) => {
                    // First batch of this shape: eager, into the static inputs.
                    let inputs = TensorBatch::new(batch, device)?;
                    let logits = model.forward_t(&inputs, false)?.f_narrow(0, 0, real)?;
                    e.insert(Shape { inputs, recorded: None });
                    return Ok(logits);
                }
            };
            if shape.recorded.is_none() {
                let inputs = &shape.inputs;
                let recording = CudaGraph::record(device, self.pool, || model.forward_t(inputs, false))?;
                self.pool.get_or_insert(recording.0.pool());
                shape.recorded = Some(recording);
            }
            let Some((graph, logits)) = &shape.recorded else {
                unreachable!("recorded above")
            };
            graph.replay()?;
            self.replays += 1;
            // A copy: the next replay of any shape may reuse this memory.
            let texts = logits.f_narrow(0, 0, real)?;
            let mut copy = texts.f_empty_like()?;
            copy.f_copy_(&texts)?;
            Ok(copy)
        })
    }
}

/// Copies a host batch into a shape's static inputs.
fn copy_into(inputs: &TensorBatch, batch: &Batch) -> Result<()> {
    let host = TensorBatch::new(batch, Device::Cpu)?;
    inputs.input_ids.shallow_clone().f_copy_(&host.input_ids)?;
    inputs.attention_mask.shallow_clone().f_copy_(&host.attention_mask)?;
    if let (Some(to), Some(from)) = (&inputs.token_type_ids, &host.token_type_ids) {
        to.shallow_clone().f_copy_(from)?;
    }
    Ok(())
}
