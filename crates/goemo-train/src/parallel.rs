//! Data-parallel training over a group of processes (torch.distributed's DistributedDataParallel
//! recipe): every rank holds the whole model, takes its share of each global batch, and the
//! gradients are summed over the ranks in buckets before an identical optimiser step on each.
//!
//! The ranks talk through a [`Collective`]: goemo-torch's c10d [`ProcessGroup`] (Gloo on the
//! CPU, NCCL on CUDA), or any other implementation. A collective that offers a
//! [`BackwardReduction`] (c10d does) sums each bucket as soon as the backward pass has completed
//! it, overlapping communication with the rest of the pass, as DDP's `Reducer` does.

use std::cell::{Cell, RefCell};
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::ops::Range;
use std::rc::Rc;

use goemo_torch::{BackwardReducer, ProcessGroup, ReduceOp};
use ndarray::{Array2, ArrayView2};
use tch::{Device, Tensor};

use crate::{evaluate_split, EncodedSplit, Loss, Optimizer, Result, TrainError};

/// The collectives data-parallel training needs, over the ranks of one job.
pub trait Collective {
    /// This process's rank.
    fn rank(&self) -> usize;
    /// Processes in the group.
    fn world_size(&self) -> usize;
    /// Sums each tensor over the ranks, in place. `what` names the data in errors.
    fn all_reduce_sum(&self, tensors: &[Tensor], what: &str) -> Result<()>;
    /// Copies each tensor from rank `root` to every rank, in place.
    fn broadcast(&self, tensors: &[Tensor], root: usize, what: &str) -> Result<()>;

    /// A reduction of `buckets` that runs during the backward passes it is armed for:
    /// `params[i]`'s gradient is `views[i]`, a slice of `buckets[bucket_of[i]]`. `None` (the
    /// default): this collective sums after the backward pass only.
    fn backward_reduction(
        &self,
        params: &[Tensor],
        views: &[Tensor],
        bucket_of: &[usize],
        buckets: &[Tensor],
    ) -> Result<Option<Box<dyn BackwardReduction>>> {
        let _ = (params, views, bucket_of, buckets);
        Ok(None)
    }
}

/// Gradient buckets summed over the ranks while a backward pass runs.
pub trait BackwardReduction {
    /// The next backward pass's gradients are the ones to sum.
    fn arm(&self) -> Result<()>;
    /// After the armed pass: every bucket summed; answers how many started during the pass.
    /// `what` names the data in errors.
    fn finish(&self, what: &str) -> Result<usize>;
}

impl BackwardReduction for BackwardReducer {
    fn arm(&self) -> Result<()> {
        Ok(BackwardReducer::arm(self)?)
    }

    fn finish(&self, what: &str) -> Result<usize> {
        Ok(BackwardReducer::finish(self, what)?)
    }
}

impl Collective for ProcessGroup {
    fn rank(&self) -> usize {
        ProcessGroup::rank(self)
    }

    fn world_size(&self) -> usize {
        ProcessGroup::world_size(self)
    }

    fn all_reduce_sum(&self, tensors: &[Tensor], what: &str) -> Result<()> {
        Ok(self.all_reduce(tensors, ReduceOp::Sum, what)?)
    }

    fn broadcast(&self, tensors: &[Tensor], root: usize, what: &str) -> Result<()> {
        Ok(ProcessGroup::broadcast(self, tensors, root, what)?)
    }

    fn backward_reduction(
        &self,
        params: &[Tensor],
        views: &[Tensor],
        bucket_of: &[usize],
        buckets: &[Tensor],
    ) -> Result<Option<Box<dyn BackwardReduction>>> {
        let reducer = self.backward_reducer(params, views, bucket_of, buckets)?;
        Ok(Some(Box::new(reducer)))
    }
}

/// PyTorch DDP's default bucket size: gradients are summed in flat buffers of about 25 MiB.
pub const DEFAULT_BUCKET_BYTES: usize = 25 << 20;

/// One rank of a data-parallel job.
pub struct DataParallel {
    group: Box<dyn Collective>,
    /// Where the collectives' own small tensors go (NCCL reduces CUDA tensors only).
    device: Device,
    bucket_bytes: usize,
    /// The flat gradient buckets, of which the parameters' gradients are views, in the order the
    /// backward pass completes them (the last parameters first).
    buffers: RefCell<Vec<Tensor>>,
    /// Whether buckets are summed during the backward pass when the collective can.
    overlap: bool,
    /// The collective's reduction during backward over the current buckets, if it has one.
    reduction: RefCell<Option<Box<dyn BackwardReduction>>>,
    /// Whether the reduction is armed for the backward pass under way.
    armed: Cell<bool>,
    /// Buckets started during backward passes, and buckets summed through the reduction.
    overlapped: Cell<(u64, u64)>,
}

impl std::fmt::Debug for DataParallel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DataParallel(rank {} of {})", self.rank(), self.world_size())
    }
}

impl DataParallel {
    /// One rank of `group`, whose model lives on `device`.
    pub fn new(group: Box<dyn Collective>, device: Device) -> Self {
        DataParallel {
            group,
            device,
            bucket_bytes: DEFAULT_BUCKET_BYTES,
            buffers: RefCell::new(Vec::new()),
            overlap: true,
            reduction: RefCell::new(None),
            armed: Cell::new(false),
            overlapped: Cell::new((0, 0)),
        }
    }

    /// Whether to sum each bucket as soon as the backward pass completes it (the default, when
    /// the collective offers a [`BackwardReduction`]) or all buckets after the pass.
    pub fn with_overlap(mut self, overlap: bool) -> Self {
        self.overlap = overlap;
        self
    }

    /// Buckets that started their all-reduce while a backward pass ran, and buckets summed
    /// through the backward reduction at all (the rest of the sums ran after their pass).
    pub fn overlap_counts(&self) -> (u64, u64) {
        self.overlapped.get()
    }

    /// Arms the backward reduction for the next backward pass, whose gradients the next
    /// [`DataParallel::sum_gradients`] sums, when there is one and the gradients of `params`
    /// are still views of the buckets; otherwise that call sums after the pass.
    pub fn before_backward(&self, params: &[Tensor]) -> Result<()> {
        let reduction = self.reduction.borrow();
        let Some(reduction) = reduction.as_ref() else {
            return Ok(());
        };
        if self.overlap && self.layout(params).in_place {
            reduction.arm()?;
            self.armed.set(true);
        }
        Ok(())
    }

    /// Sums a CPU tensor over the ranks on the group's device; the result is on the CPU.
    fn sum_on_device(&self, t: Tensor, what: &str) -> Result<Tensor> {
        let on_device = t.f_to_device(self.device)?;
        self.group.all_reduce_sum(&[on_device.shallow_clone()], what)?;
        Ok(on_device.f_to_device(Device::Cpu)?)
    }

    /// Sums gradients in buckets of about `bytes` (at least one tensor each).
    pub fn with_bucket_bytes(mut self, bytes: usize) -> Self {
        self.bucket_bytes = bytes.max(1);
        self
    }

    /// This process's rank.
    pub fn rank(&self) -> usize {
        self.group.rank()
    }

    /// Processes in the group.
    pub fn world_size(&self) -> usize {
        self.group.world_size()
    }

    /// Rank 0, which alone writes files and shows progress.
    pub fn is_leader(&self) -> bool {
        self.rank() == 0
    }

    /// The collectives underneath.
    pub fn collective(&self) -> &dyn Collective {
        &*self.group
    }

    /// This rank's rows of `len` items: contiguous, sizes differing by at most one, rank order.
    pub fn share(&self, len: usize) -> Range<usize> {
        share(len, self.rank(), self.world_size())
    }

    /// Makes every rank's parameters rank 0's.
    pub fn broadcast_parameters(&self, params: &[Tensor]) -> Result<()> {
        tch::no_grad(|| self.group.broadcast(params, 0, "the initial parameters"))
    }

    /// Sums the gradients of `params` over the ranks, in buckets of flat buffers (parameters
    /// without a gradient are skipped: the same ones on every rank, as the model is the same).
    ///
    /// As DDP's `gradient_as_bucket_view`: the first call copies the gradients into the buckets
    /// and makes each parameter's gradient a view of its bucket, so that later backward passes
    /// accumulate straight into the buckets and the all-reduce needs no copies (zeroing a
    /// gradient keeps it in place). A gradient found elsewhere (set anew by other code) is
    /// copied and placed again.
    pub fn sum_gradients(&self, params: &[Tensor], step: u64) -> Result<()> {
        let what = |buckets: usize| format!("gradients ({buckets} buckets, step {})", step + 1);
        if self.armed.replace(false) {
            if let Some(reduction) = self.reduction.borrow().as_ref() {
                let buckets = self.buffers.borrow().len();
                let launched = reduction.finish(&what(buckets))?;
                let (during, total) = self.overlapped.get();
                self.overlapped.set((during + launched as u64, total + buckets as u64));
                return Ok(());
            }
        }
        let layout = self.layout(params);
        if !layout.in_place {
            let grads = &layout.grads;
            let mut views: Vec<Tensor> = grads.iter().map(Tensor::shallow_clone).collect();
            let mut bucket_of = vec![0; grads.len()];
            let made = tch::no_grad(|| -> Result<Vec<Tensor>> {
                let mut made = Vec::with_capacity(layout.buckets.len());
                for (b, bucket) in layout.buckets.iter().enumerate() {
                    let parts = bucket
                        .iter()
                        .map(|&i| grads[i].f_contiguous()?.f_view([-1]))
                        .collect::<Result<Vec<_>, _>>()?;
                    let flat = Tensor::f_cat(&parts, 0)?;
                    let mut offset = 0;
                    for &i in bucket {
                        let n = grads[i].numel() as i64;
                        let view = flat.f_narrow(0, offset, n)?.f_view(grads[i].size().as_slice())?;
                        goemo_torch::set_grad(&layout.params[i], &view)?;
                        views[i] = view;
                        bucket_of[i] = b;
                        offset += n;
                    }
                    made.push(flat);
                }
                Ok(made)
            })?;
            // The old reduction's hooks go before the new one's come.
            *self.reduction.borrow_mut() = None;
            if self.overlap {
                *self.reduction.borrow_mut() =
                    self.group
                        .backward_reduction(&layout.params, &views, &bucket_of, &made)?;
            }
            *self.buffers.borrow_mut() = made;
        }
        let flats = self.buffers.borrow();
        tch::no_grad(|| self.group.all_reduce_sum(&flats, &what(flats.len())))
    }

    /// The parameters of `params` that have a gradient, their gradients, the buckets of those
    /// (indices; the last parameters first, as the backward pass completes them), and whether
    /// every gradient is still in place in the current buffers.
    fn layout(&self, params: &[Tensor]) -> Layout {
        let (params, grads): (Vec<Tensor>, Vec<Tensor>) = params
            .iter()
            .map(|p| (p.shallow_clone(), p.grad()))
            .filter(|(_, g)| g.defined())
            .unzip();
        let n = grads.len();
        let reversed: Vec<Tensor> = grads.iter().rev().map(Tensor::shallow_clone).collect();
        let buckets: Vec<Vec<usize>> = buckets(&reversed, self.bucket_bytes)
            .into_iter()
            .map(|bucket| bucket.into_iter().map(|i| n - 1 - i).collect())
            .collect();
        let flats = self.buffers.borrow();
        let in_place = flats.len() == buckets.len()
            && buckets.iter().zip(flats.iter()).all(|(bucket, flat)| {
                let mut offset = 0;
                bucket.iter().all(|&i| {
                    let n = grads[i].numel();
                    let at = flat.data_ptr() as usize + offset * flat.kind().elt_size_in_bytes();
                    offset += n;
                    grads[i].data_ptr() as usize == at && grads[i].is_contiguous()
                }) && offset == flat.numel()
            });
        Layout {
            params,
            grads,
            buckets,
            in_place,
        }
    }

    /// Sums each value over the ranks (in f64).
    pub fn sum(&self, values: &[f64], what: &str) -> Result<Vec<f64>> {
        let t = self.sum_on_device(Tensor::from_slice(values), what)?;
        Ok(Vec::<f64>::try_from(&t)?)
    }

    /// Every rank's `value`, in rank order.
    pub fn gather_u64(&self, value: u64, what: &str) -> Result<Vec<u64>> {
        let mut slots = vec![0i64; self.world_size()];
        slots[self.rank()] = value as i64;
        let t = self.sum_on_device(Tensor::from_slice(&slots), what)?;
        Ok(Vec::<i64>::try_from(&t)?.into_iter().map(|v| v as u64).collect())
    }

    /// Checks that every rank runs the same configuration: each named value is hashed and the
    /// hashes gathered; a difference is an error naming the first differing field and the
    /// ranks, the same on every rank.
    pub fn check_same(&self, fields: &[(String, String)]) -> Result<()> {
        let (world, rank, n) = (self.world_size(), self.rank(), fields.len());
        let mut table = vec![0i64; world * n];
        for (j, (_, value)) in fields.iter().enumerate() {
            let mut hasher = DefaultHasher::new();
            value.hash(&mut hasher);
            // Kept below 2^52 so that no sum of one non-zero slot loses bits on any backend.
            table[rank * n + j] = (hasher.finish() >> 12) as i64;
        }
        let t = self.sum_on_device(Tensor::from_slice(&table), "configuration hashes")?;
        let table = Vec::<i64>::try_from(&t)?;
        for (j, (name, value)) in fields.iter().enumerate() {
            let differing: Vec<usize> = (0..world).filter(|&r| table[r * n + j] != table[j]).collect();
            if !differing.is_empty() {
                return Err(TrainError::Mismatch(format!(
                    "the ranks run different configurations: `{name}` on rank {} differs from rank 0 (this rank {rank} has {value})",
                    differing.iter().map(std::string::ToString::to_string).collect::<Vec<_>>().join(", ")
                )));
            }
        }
        Ok(())
    }

    /// Probabilities of a split and its mean loss, each rank scoring its share of the examples
    /// and every rank receiving all rows (in the split's order).
    pub fn evaluate_split<M: goemo_model::TrainableModel + ?Sized>(
        &self,
        model: &M,
        split: EncodedSplit<'_>,
        pad_id: u32,
        batch_size: usize,
        loss: &Loss,
    ) -> Result<(Array2<f32>, f64)> {
        let range = self.share(split.ids.len());
        let shard = EncodedSplit {
            ids: &split.ids[range.clone()],
            targets: split.targets.slice(ndarray::s![range.clone(), ..]),
        };
        let (probs, shard_loss) = if range.is_empty() {
            (Array2::zeros((0, split.targets.ncols())), 0.0)
        } else {
            evaluate_split(model, shard, pad_id, batch_size, loss)?
        };
        let all = self.gather_rows(probs.view(), range.start, split.ids.len())?;
        let total = self.sum(&[shard_loss * range.len() as f64], "the evaluation loss")?[0];
        Ok((all, total / split.ids.len().max(1) as f64))
    }

    /// Places each rank's `rows` (starting at row `start` of `total`) into one matrix that every
    /// rank receives: an all-gather as a sum of zero-padded matrices.
    pub fn gather_rows(&self, rows: ArrayView2<'_, f32>, start: usize, total: usize) -> Result<Array2<f32>> {
        let cols = rows.ncols();
        let mut full = Array2::<f32>::zeros((total, cols));
        full.slice_mut(ndarray::s![start..start + rows.nrows(), ..])
            .assign(&rows);
        let flat = Tensor::from_slice(full.as_slice().expect("a new array is contiguous"));
        let values = Vec::<f32>::try_from(&self.sum_on_device(flat, "evaluation probabilities")?)?;
        Ok(Array2::from_shape_vec((total, cols), values).expect("the shape it was made with"))
    }
}

/// Where the gradients of one call's parameters live ([`DataParallel::layout`]).
struct Layout {
    params: Vec<Tensor>,
    grads: Vec<Tensor>,
    buckets: Vec<Vec<usize>>,
    in_place: bool,
}

/// Rows `[start, end)` of `len` for `rank` of `world`: the first `len % world` ranks take one more.
pub fn share(len: usize, rank: usize, world: usize) -> Range<usize> {
    let (base, extra) = (len / world, len % world);
    let start = rank * base + rank.min(extra);
    start..start + base + usize::from(rank < extra)
}

/// Consecutive groups of tensor indices of about `bytes` each (at least one tensor each), one
/// dtype and device per group.
fn buckets(tensors: &[Tensor], bytes: usize) -> Vec<Vec<usize>> {
    let mut buckets = vec![];
    let mut current: Vec<usize> = vec![];
    let mut size = 0;
    for (i, t) in tensors.iter().enumerate() {
        let b = t.numel() * t.kind().elt_size_in_bytes();
        let other_kind = current
            .first()
            .is_some_and(|&j| tensors[j].kind() != t.kind() || tensors[j].device() != t.device());
        if !current.is_empty() && (size + b > bytes || other_kind) {
            buckets.push(std::mem::take(&mut current));
            size = 0;
        }
        current.push(i);
        size += b;
    }
    if !current.is_empty() {
        buckets.push(current);
    }
    buckets
}

/// An optimiser wrapper that sums the gradients over the ranks before each update of `inner`
/// (so that clipping and the update see the global gradient): wrap it inside `Accumulated`,
/// around `Clipped`.
pub struct AllReduced<O> {
    inner: O,
    params: Vec<Tensor>,
    parallel: Rc<DataParallel>,
}

impl<O: Optimizer> AllReduced<O> {
    /// Wraps `inner` so that the gradients of `params` are averaged across ranks before each step.
    pub fn new(inner: O, params: Vec<Tensor>, parallel: Rc<DataParallel>) -> Self {
        AllReduced {
            inner,
            params,
            parallel,
        }
    }
}

impl<O: Optimizer> Optimizer for AllReduced<O> {
    fn step(&mut self) -> Result<bool> {
        self.parallel.sum_gradients(&self.params, self.inner.updates())?;
        self.inner.step()
    }

    fn flush(&mut self) -> Result<bool> {
        self.inner.flush()
    }

    fn before_backward(&mut self, completes_update: bool) -> Result<()> {
        if completes_update {
            self.parallel.before_backward(&self.params)?;
        }
        self.inner.before_backward(completes_update)
    }

    crate::optim::delegate_to_inner!();

    fn load_state(&mut self, tensors: &[(String, Tensor)], updates: u64) -> Result<()> {
        self.inner.load_state(tensors, updates)
    }
}

/// A group of one: every collective is the identity (a job of one process, and tests).
#[derive(Debug, Clone, Copy, Default)]
pub struct SingleProcess;

impl Collective for SingleProcess {
    fn rank(&self) -> usize {
        0
    }

    fn world_size(&self) -> usize {
        1
    }

    fn all_reduce_sum(&self, _: &[Tensor], _: &str) -> Result<()> {
        Ok(())
    }

    fn broadcast(&self, _: &[Tensor], _: usize, _: &str) -> Result<()> {
        Ok(())
    }
}

/// The examples a rank trains on in one global batch, and the weight of its mean loss so that
/// the summed gradients are those of the global batch's mean loss.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LocalBatch {
    pub indices: Vec<usize>,
    pub weight: f64,
}

impl DataParallel {
    /// This rank's share of a global batch. A rank whose share is empty (a last batch smaller
    /// than the group) runs the batch's last example with weight 0, so that it still produces
    /// the (zero) gradients every rank sums.
    pub(crate) fn local_batch(&self, global: &[usize]) -> LocalBatch {
        let range = self.share(global.len());
        if range.is_empty() {
            return LocalBatch {
                indices: global.last().into_iter().copied().collect(),
                weight: 0.0,
            };
        }
        LocalBatch {
            weight: range.len() as f64 / global.len() as f64,
            indices: global[range].to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Kind;

    /// A group of one whose backward reduction records what it is asked to do.
    struct Recording(Rc<RefCell<Vec<&'static str>>>);

    struct RecordedReduction(Rc<RefCell<Vec<&'static str>>>);

    impl Collective for Recording {
        fn rank(&self) -> usize {
            0
        }
        fn world_size(&self) -> usize {
            1
        }
        fn all_reduce_sum(&self, _: &[Tensor], _: &str) -> Result<()> {
            self.0.borrow_mut().push("sum after backward");
            Ok(())
        }
        fn broadcast(&self, _: &[Tensor], _: usize, _: &str) -> Result<()> {
            Ok(())
        }
        fn backward_reduction(
            &self,
            _: &[Tensor],
            _: &[Tensor],
            _: &[usize],
            _: &[Tensor],
        ) -> Result<Option<Box<dyn BackwardReduction>>> {
            Ok(Some(Box::new(RecordedReduction(self.0.clone()))))
        }
    }

    impl BackwardReduction for RecordedReduction {
        fn arm(&self) -> Result<()> {
            self.0.borrow_mut().push("arm");
            Ok(())
        }
        fn finish(&self, _: &str) -> Result<usize> {
            self.0.borrow_mut().push("finish");
            Ok(1)
        }
    }

    /// An optimiser that only counts its updates.
    struct Updates(u64);

    impl Optimizer for Updates {
        fn step(&mut self) -> Result<bool> {
            self.0 += 1;
            Ok(true)
        }
        fn learning_rate(&self) -> f64 {
            0.0
        }
        fn set_learning_rate(&mut self, _: f64) {}
        fn updates(&self) -> u64 {
            self.0
        }
        fn state(&self) -> Vec<(String, Tensor)> {
            vec![]
        }
        fn load_state(&mut self, _: &[(String, Tensor)], _: u64) -> Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_reduction_is_armed_for_the_last_backward_pass_before_each_update() {
        let log = Rc::new(RefCell::new(vec![]));
        let dp = Rc::new(DataParallel::new(Box::new(Recording(log.clone())), Device::Cpu));
        let w = Tensor::from_slice(&[1.0f32, 2.0]).set_requires_grad(true);
        let all_reduced = AllReduced::new(Updates(0), vec![w.shallow_clone()], dp.clone());
        let mut optimizer = crate::Accumulated::new(all_reduced, 2);
        // Five batches, two per update; the fifth is the epoch's last, so `flush` updates.
        let mut updates = vec![];
        for batch in 0..5 {
            let last = batch == 4;
            optimizer.before_backward(last).unwrap();
            (&w * 3.0).sum(Kind::Float).backward();
            let mut updated = optimizer.step().unwrap();
            if last && !updated {
                updated = optimizer.flush().unwrap();
            }
            updates.push(updated);
        }
        assert_eq!(updates, [false, true, false, true, true]);
        // The first update lays the buckets out and sums after its pass; the later ones arm the
        // reduction before their last pass only, and finish it in the step.
        assert_eq!(*log.borrow(), ["sum after backward", "arm", "finish", "arm", "finish"]);
        assert_eq!(dp.overlap_counts(), (2, 2));
    }

    #[test]
    fn without_overlap_every_update_sums_after_its_pass() {
        let log = Rc::new(RefCell::new(vec![]));
        let dp = Rc::new(DataParallel::new(Box::new(Recording(log.clone())), Device::Cpu).with_overlap(false));
        let w = Tensor::from_slice(&[1.0f32]).set_requires_grad(true);
        let mut optimizer = AllReduced::new(Updates(0), vec![w.shallow_clone()], dp.clone());
        for _ in 0..3 {
            optimizer.before_backward(true).unwrap();
            (&w * 2.0).sum(Kind::Float).backward();
            optimizer.step().unwrap();
        }
        assert_eq!(*log.borrow(), ["sum after backward"; 3]);
        assert_eq!(dp.overlap_counts(), (0, 0));
    }

    #[test]
    fn shares_cover_every_row_once_in_order() {
        for len in 0..20 {
            for world in 1..5 {
                let ranges: Vec<_> = (0..world).map(|r| share(len, r, world)).collect();
                assert_eq!(ranges[0].start, 0);
                assert_eq!(ranges[world - 1].end, len);
                for pair in ranges.windows(2) {
                    assert_eq!(pair[0].end, pair[1].start);
                    assert!(pair[0].len() >= pair[1].len() && pair[0].len() - pair[1].len() <= 1);
                }
            }
        }
    }

    #[test]
    fn buckets_hold_about_the_limit_and_every_tensor_once() {
        let t = |n: i64| Tensor::zeros([n], (Kind::Float, Device::Cpu));
        let tensors = [t(10), t(10), t(30), t(1), t(2)];
        assert_eq!(buckets(&tensors, 80), vec![vec![0, 1], vec![2], vec![3, 4]]);
        assert_eq!(buckets(&tensors, 1), vec![vec![0], vec![1], vec![2], vec![3], vec![4]]);
        assert_eq!(buckets(&tensors, 1 << 20), vec![vec![0, 1, 2, 3, 4]]);
        let mixed = [t(10), Tensor::zeros([10], (Kind::Double, Device::Cpu)), t(10)];
        assert_eq!(buckets(&mixed, 1 << 20), vec![vec![0], vec![1], vec![2]]);
    }

    #[test]
    fn gradients_become_views_of_the_buckets() {
        let dp = DataParallel::new(Box::new(SingleProcess), Device::Cpu).with_bucket_bytes(12);
        let a = Tensor::from_slice(&[1.0f32, 2.0]).set_requires_grad(true);
        let b = Tensor::from_slice(&[3.0f32, 4.0, 5.0]).set_requires_grad(true);
        let params = [a.shallow_clone(), b.shallow_clone()];
        let backward = || (&a * &a + 0.0).sum(Kind::Float).backward();
        backward();
        (&b * 2.0).sum(Kind::Float).backward();
        dp.sum_gradients(&params, 0).unwrap();
        assert_eq!(dp.buffers.borrow().len(), 2, "12-byte buckets: one tensor each");
        // The last parameter's bucket first: the backward pass completes it first.
        let flat_a = dp.buffers.borrow()[1].shallow_clone();
        assert_eq!(
            a.grad().data_ptr(),
            flat_a.data_ptr(),
            "a's gradient lives in its bucket"
        );
        // Zeroed in place, then accumulated into the bucket by the next backward pass.
        let _ = a.grad().zero_();
        backward();
        assert_eq!(Vec::<f32>::try_from(&flat_a).unwrap(), [2.0, 4.0]);
        dp.sum_gradients(&params, 1).unwrap();
        assert_eq!(Vec::<f32>::try_from(&b.grad()).unwrap(), [2.0, 2.0, 2.0]);
    }

    #[test]
    fn a_group_of_one_changes_nothing() {
        let dp = DataParallel::new(Box::new(SingleProcess), Device::Cpu).with_bucket_bytes(8);
        let w = Tensor::from_slice(&[1.0f32, 2.0, 3.0]).set_requires_grad(true);
        (&w * &w).sum(Kind::Float).backward();
        dp.sum_gradients(&[w.shallow_clone()], 0).unwrap();
        assert_eq!(Vec::<f32>::try_from(&w.grad()).unwrap(), [2.0, 4.0, 6.0]);
        assert_eq!(dp.local_batch(&[4, 5, 6]).indices, [4, 5, 6]);
        dp.check_same(&[("lr".into(), "0.1".into())]).unwrap();
    }
}
