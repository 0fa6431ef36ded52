//! The host's training and evaluation engine: batches split across threads,
//! samples read from a [`SampleSource`], zero inputs skipped, every value
//! computed with mlp-core's operations in mlp-core's order.
//!
//! # One batch
//!
//! A batch is taken in groups of at most [`GROUP`] samples (all of a
//! batch of 32), each in two phases, then one optimizer step:
//!
//! 1. **Per sample, in parallel.** The sample's inputs are read from the
//!    source, its non-zero inputs listed, and it runs forward through every
//!    layer (each layer over the non-zero inputs only), through the loss,
//!    and backward as far as the deltas: `δ ← δ·f′(a)` and `∂L/∂x = Wᵀδ`.
//!    Its inputs, activations, deltas, loss and hit are kept in the group's
//!    row for it (a few kilobytes per sample).
//! 2. **Per parameter, in parallel.** Threads claim blocks of weight
//!    columns; for each column `j` of a layer, the samples whose input `j`
//!    is non-zero are found (one bit per sample) and each gradient becomes
//!    `((0 + δ₀x₀) + δ₁x₁) + …` over those samples in the batch's order,
//!    its sum held in registers. Biases are summed the same way over all
//!    samples.
//!
//! Then the optimizer step of mlp-core ([`EpochPlan::step`]) runs on the
//! calling thread, and the losses are added up in sample order.
//!
//! # Why the bits are mlp-core's, whatever the thread count
//!
//! Every value is computed by one thread, with the operations and order of
//! `mlp_core::Dense` (`core/src/layer.rs`): `z = (b + 0) + w₀x₀ + w₁x₁ + …`
//! over inputs in order, `∂L/∂x_j = 0 + w_j0·δ₀ + w_j1·δ₁ + …` over outputs
//! in order, each gradient summed sample by sample in the batch's order
//! starting from zero (the step leaves it at zero). Inputs that are exactly
//! zero are skipped, which the core also does: no sum is ever −0 (sums
//! start from `b + 0` or `+0`), so adding `w·0` would not change it. Vector
//! lanes hold different outputs (or inputs), never parts of one sum, and no
//! multiply is fused with an add. Threads only decide *which* values a
//! thread computes. `tests/tests/threads.rs` compares whole epochs with
//! `Learner::epoch` for every optimizer and activation.
//!
//! # Why it is fast
//!
//! MNIST pixels are about 80 % zeros: the first layer's forward pass and its
//! gradient, nearly all of the work, touch only the non-zero pixels. Each
//! kernel keeps a block of outputs (64 with AVX2: eight registers) in
//! registers while the inputs (or samples) go by, so a multiply and an add
//! per weight is all the arithmetic, and a 784×128 weight matrix (400 KB)
//! stays in the L2 cache. Backprop through the upper layers uses transposed
//! copies of their weights (made once per batch), so that `Wᵀδ` also runs
//! across vector lanes without reordering any sum.

use std::sync::Mutex;

use mlp_core::activation::{Activation, ActivationKind, Identity, LeakyRelu, Relu, Sigmoid, Tanh};
use mlp_core::dropout::{Dropout, DropoutRule};
use mlp_core::loss::{Loss, SoftmaxCrossEntropy};
use mlp_core::{
    Chain, DefaultRng, Dense, DenseGradients, EpochMetrics, EpochPlan, Error, Learner, Metrics, Network, Optimizer,
    SampleIndex, TrainState,
};

use crate::accel::VectorUnit;
use crate::parallel::{Claims, Team};
use crate::source::SampleSource;

/// Samples per group: one bit each in a column's mask (`u64`).
pub const GROUP: usize = 64;

/// Weight columns per claim in phase 2.
const COLUMNS: usize = 16;

/// One layer's shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// Inputs.
    pub inputs: usize,
    /// Outputs.
    pub outputs: usize,
    /// Activation.
    pub activation: ActivationKind,
}

/// One layer's parameters, borrowed: column-major weights (`inputs`
/// columns of `outputs` values) and the biases.
#[derive(Clone, Copy, Debug)]
pub struct Params<'a> {
    /// `weights[j * outputs + o]` connects input `j` to output `o`.
    pub weights: &'a [f32],
    /// One per output.
    pub biases: &'a [f32],
}

/// One layer's part of a gradient buffer, borrowed mutably.
#[derive(Debug)]
pub struct Grads<'a> {
    /// Same layout as [`Params::weights`].
    pub weights: &'a mut [f32],
    /// Same layout as [`Params::biases`].
    pub biases: &'a mut [f32],
}

/// A network of `f32` [`Dense`] layers, seen layer by layer: what the
/// engine needs of a network type. Implemented for `Dense` and for `Chain`s
/// of them (every architecture in [`crate::arch`]).
pub trait DenseStack: Network<Scalar = f32> {
    /// Appends every layer's shape, first to last.
    fn shapes(out: &mut Vec<Shape>);
    /// Appends every layer's parameters, first to last.
    fn params<'a>(&'a self, out: &mut Vec<Params<'a>>);
    /// Appends every layer's part of `gradients`, first to last.
    fn grads<'a>(gradients: &'a mut Self::Gradients, out: &mut Vec<Grads<'a>>);
}

impl<const I: usize, const O: usize, A: Activation> DenseStack for Dense<f32, I, O, A> {
    fn shapes(out: &mut Vec<Shape>) {
        out.push(Shape { inputs: I, outputs: O, activation: A::KIND });
    }
    fn params<'a>(&'a self, out: &mut Vec<Params<'a>>) {
        out.push(Params { weights: self.weights.as_slice(), biases: self.biases.as_slice() });
    }
    fn grads<'a>(gradients: &'a mut DenseGradients<f32, I, O>, out: &mut Vec<Grads<'a>>) {
        out.push(Grads { weights: gradients.weights.as_mut_slice(), biases: gradients.biases.as_mut_slice() });
    }
}

impl<const I: usize, const O: usize, A: Activation, Tail> DenseStack for Chain<Dense<f32, I, O, A>, Tail>
where
    Tail: DenseStack<Input = [f32; O]>,
{
    fn shapes(out: &mut Vec<Shape>) {
        Dense::<f32, I, O, A>::shapes(out);
        Tail::shapes(out);
    }
    fn params<'a>(&'a self, out: &mut Vec<Params<'a>>) {
        self.head.params(out);
        self.tail.params(out);
    }
    fn grads<'a>(gradients: &'a mut Self::Gradients, out: &mut Vec<Grads<'a>>) {
        Dense::<f32, I, O, A>::grads(&mut gradients.head, out);
        Tail::grads(&mut gradients.tail, out);
    }
}

fn shapes_of<N: DenseStack>() -> Vec<Shape> {
    let mut shapes = Vec::new();
    N::shapes(&mut shapes);
    shapes
}

fn params_of<N: DenseStack>(net: &N) -> Vec<Params<'_>> {
    let mut params = Vec::new();
    net.params(&mut params);
    params
}

/// Floats per 64-byte cache line: every segment of a row starts on a line.
const LINE: usize = 16;

/// Where each of a sample's values sits in its row of the group buffer.
#[derive(Clone, Debug)]
struct Layout {
    shapes: Vec<Shape>,
    /// Offset of each layer's activations `a_l` (before dropout).
    act: Vec<usize>,
    /// Per layer that drops units: the offset of its mask, then of its
    /// output times the mask (the next layer's input), both right after `a_l`.
    dropped: Vec<Option<(usize, usize)>>,
    /// Offset of each layer's deltas `δ_l` (`∂L/∂z`).
    delta: Vec<usize>,
    /// Offset of the loss, then the hit (1 or 0).
    loss: usize,
    /// Floats per row.
    stride: usize,
    /// The widest layer input or output.
    widest: usize,
}

impl Layout {
    /// The layout of `shapes`, with a mask and a dropped output for each
    /// layer `l` with `drops(l)`.
    fn new(shapes: &[Shape], drops: impl Fn(usize) -> bool) -> Self {
        let pad = |n: usize| n.next_multiple_of(LINE);
        let mut at = pad(shapes[0].inputs);
        let mut act = Vec::new();
        let mut dropped = Vec::new();
        for (l, s) in shapes.iter().enumerate() {
            act.push(at);
            at += pad(s.outputs);
            // Kept before the next layer's activations, so that a layer's
            // input lies before its output in the row.
            if l + 1 < shapes.len() && drops(l) {
                dropped.push(Some((at, at + pad(s.outputs))));
                at += 2 * pad(s.outputs);
            } else {
                dropped.push(None);
            }
        }
        let mut delta = Vec::new();
        for s in shapes {
            delta.push(at);
            at += pad(s.outputs);
        }
        let loss = at;
        let widest = shapes.iter().map(|s| s.inputs.max(s.outputs)).max().unwrap_or(0);
        Layout { shapes: shapes.to_vec(), act, dropped, delta, loss, stride: pad(loss + 2), widest }
    }

    /// Offset of layer `l`'s input: the sample's inputs, or `a_{l-1}` (times its mask under dropout).
    fn input(&self, l: usize) -> usize {
        match l.checked_sub(1) {
            None => 0,
            Some(below) => self.dropped[below].map_or(self.act[below], |(_, kept)| kept),
        }
    }

    /// `a′ = a·m` for layer `l` of `row`, if it drops units.
    #[inline(always)]
    fn drop_units(&self, l: usize, row: &mut [f32]) {
        if let Some((mask, kept)) = self.dropped[l] {
            let outputs = self.shapes[l].outputs;
            let (a, rest) = row[self.act[l]..].split_at_mut(mask - self.act[l]);
            let (m, k) = rest.split_at_mut(kept - mask);
            for ((k, &a), &m) in k[..outputs].iter_mut().zip(&a[..outputs]).zip(&m[..outputs]) {
                *k = a * m;
            }
        }
    }
}

/// A buffer of floats whose first element is on a 64-byte line.
struct Aligned {
    storage: Vec<f32>,
    offset: usize,
    len: usize,
}

impl Aligned {
    fn new(len: usize) -> Self {
        let storage = vec![0.0f32; len + LINE];
        let misalignment = storage.as_ptr() as usize % (LINE * 4);
        let offset = if misalignment == 0 { 0 } else { (LINE * 4 - misalignment) / 4 };
        Aligned { storage, offset, len }
    }
    fn get_mut(&mut self) -> &mut [f32] {
        &mut self.storage[self.offset..][..self.len]
    }
}

/// One thread's scratch space.
struct Scratch {
    /// Indices of the non-zero inputs of the current layer.
    index: Vec<u32>,
    /// Their values.
    value: Vec<f32>,
    /// The non-zero inputs of every sample of a chunk, one list after the
    /// other (see [`first_layer`]): indices, values, and where each sample's
    /// list starts (`GROUP + 1` entries).
    first_index: Vec<u32>,
    first_value: Vec<f32>,
    first_start: Vec<usize>,
}

impl Scratch {
    fn new(layout: &Layout) -> Mutex<Self> {
        let inputs = layout.shapes[0].inputs;
        Mutex::new(Scratch {
            index: vec![0; layout.widest],
            value: vec![0.0; layout.widest],
            first_index: vec![0; GROUP * inputs],
            first_value: vec![0.0; GROUP * inputs],
            first_start: vec![0; GROUP + 1],
        })
    }
}

fn scratches(threads: usize, layout: &Layout) -> Vec<Mutex<Scratch>> {
    (0..threads).map(|_| Scratch::new(layout)).collect()
}

/// Whether this CPU can run `unit`; AVX2 falls back to the baseline where it cannot.
pub fn usable(unit: VectorUnit) -> VectorUnit {
    #[cfg(target_arch = "x86_64")]
    if unit == VectorUnit::Avx2 && std::arch::is_x86_feature_detected!("avx2") {
        return VectorUnit::Avx2;
    }
    let _ = unit;
    VectorUnit::Baseline
}

/// Checks every sample before training or evaluating: inputs finite, of the
/// network's width, and labels below `classes`. The same errors, for the
/// same first sample, as `Dataset::check_inputs` and `check_targets`.
pub fn check_source(data: &dyn SampleSource, inputs: usize, classes: usize) -> Result<(), Error> {
    if data.feature_count() != inputs {
        return Err(Error::InputLength { expected: inputs, found: data.feature_count() });
    }
    if data.is_empty() {
        return Err(Error::EmptyDataset);
    }
    let mut x = vec![0.0f32; inputs];
    for sample in 0..data.len() {
        data.features_into(sample, &mut x);
        if !x.iter().all(|v| v.is_finite()) {
            return Err(Error::NonFiniteInput { sample });
        }
    }
    if let Some(sample) = (0..data.len()).find(|&i| data.label(i) >= classes) {
        return Err(Error::InvalidTarget { sample });
    }
    Ok(())
}

/// One epoch of `learner` over `data` ([`Learner::epoch_over`]: the same
/// shuffle, steps and end as `Learner::epoch`, the same bits), its batches
/// run by `team` on `unit` as the module documentation describes.
///
/// The samples are not checked here: call [`check_source`] once first.
///
/// With dropout configured, each sample's masks are drawn from the state's
/// generator in the batch's order before its forward pass, as
/// `mlp_core::accumulate_sample_dropout` does: the same bits.
pub fn train_epoch<N, O, Ix, const K: usize>(
    learner: &mut Learner<'_, N, O, SoftmaxCrossEntropy, Ix>,
    data: &dyn SampleSource,
    team: &Team<'_>,
    unit: VectorUnit,
) -> Result<EpochMetrics<f32>, Error>
where
    N: DenseStack<Output = [f32; K]>,
    O: Optimizer,
    Ix: SampleIndex,
{
    let unit = usable(unit);
    let inputs = shapes_of::<N>()[0].inputs;
    if data.feature_count() != inputs {
        return Err(Error::InputLength { expected: inputs, found: data.feature_count() });
    }
    learner.epoch_over(data.len(), |net, state, plan| {
        let frozen = plan.checked().config().frozen_layers as usize;
        let dropout = *plan.checked().dropout();
        let mut batches = BatchGradient::with_dropout::<N>(team.threads(), unit, frozen, dropout);
        let (mut loss_sum, mut correct) = (0.0f32, 0usize);
        let order = plan.order();
        let mut offset = 0;
        for batch in plan.batches() {
            offset += batch.len();
            let after = order.get(offset..).unwrap_or_default();
            let TrainState { gradients, persistent, .. } = &mut *state;
            let rng = Some(&mut persistent.rng);
            batches.accumulate::<N, Ix, K>(&*net, gradients, rng, data, batch, after, team, |loss, hit| {
                loss_sum += loss;
                correct += usize::from(hit);
            });
            step(unit, &plan, net, state, batch.len());
        }
        Ok((loss_sum, correct))
    })
}

/// The gradient of a batch, summed by a team of threads in two phases as
/// the module documentation describes: what [`train_epoch`] computes before
/// each optimizer step, and what a full-batch method
/// ([`crate::fullbatch`]) computes at each point it evaluates. Holds the
/// buffers, so that they are allocated once for many batches.
pub struct BatchGradient {
    unit: VectorUnit,
    layout: Layout,
    rows: Aligned,
    scratch: Vec<Mutex<Scratch>>,
    /// Per layer above the lowest that trains: its weights by output.
    transposed: Vec<Vec<f32>>,
    /// The lowest layer that trains: layers in front of it need no
    /// gradient, nor deltas.
    lowest: usize,
    /// How hidden layers drop units.
    dropout: DropoutRule<f32>,
}

impl BatchGradient {
    /// Buffers for batches of `N` on `threads` threads (the team's count)
    /// on `unit` (where this CPU has it), the first `frozen_layers` layers
    /// kept fixed.
    pub fn new<N: DenseStack>(threads: usize, unit: VectorUnit, frozen_layers: usize) -> Self {
        let none = Dropout::NONE.check::<f32>().expect("no dropout is a valid configuration");
        Self::with_dropout::<N>(threads, unit, frozen_layers, none)
    }

    /// [`BatchGradient::new`] for training whose hidden layers drop units by
    /// `dropout` ([`accumulate`](Self::accumulate) then draws the masks).
    pub fn with_dropout<N: DenseStack>(
        threads: usize,
        unit: VectorUnit,
        frozen_layers: usize,
        dropout: DropoutRule<f32>,
    ) -> Self {
        let layout = Layout::new(&shapes_of::<N>(), |l| dropout.drops(l));
        let lowest = frozen_layers.min(layout.shapes.len() - 1);
        let transposed = layout
            .shapes
            .iter()
            .enumerate()
            .map(|(l, s)| vec![0.0; if l > lowest { s.inputs * s.outputs } else { 0 }])
            .collect();
        BatchGradient {
            unit: usable(unit),
            rows: Aligned::new(GROUP * layout.stride),
            scratch: scratches(threads, &layout),
            layout,
            transposed,
            lowest,
            dropout,
        }
    }

    /// Sums the gradient of `net`'s loss over the samples `batch` of `data`,
    /// in the batch's order, into `gradients`, which must hold zeros (as an
    /// optimizer step leaves it): the bits of `mlp_core::accumulate_sample`
    /// called on each sample in turn, for any thread count. `after` lists
    /// the samples to be read next (prefetched). `each` gets every sample's
    /// loss and whether its predicted class was right, in the batch's order.
    /// With dropout, `rng` is the training generator: each sample's masks
    /// are drawn from it in the batch's order, on this thread, before the
    /// group's phase 1 (as `mlp_core::accumulate_sample_dropout` draws them).
    ///
    /// `team` must have the thread count given to [`BatchGradient::new`];
    /// the samples are not checked here (see [`check_source`]).
    ///
    /// # Panics
    ///
    /// With dropout and no `rng`.
    #[allow(clippy::too_many_arguments)] // the batch, its data and where to sum it: no natural group
    pub fn accumulate<N, Ix, const K: usize>(
        &mut self,
        net: &N,
        gradients: &mut N::Gradients,
        mut rng: Option<&mut DefaultRng>,
        data: &dyn SampleSource,
        batch: &[Ix],
        after: &[Ix],
        team: &Team<'_>,
        mut each: impl FnMut(f32, bool),
    ) where
        N: DenseStack<Output = [f32; K]>,
        Ix: SampleIndex,
    {
        let (layout, lowest, unit) = (&self.layout, self.lowest, self.unit);
        let params = params_of(net);
        for (l, t) in self.transposed.iter_mut().enumerate().skip(lowest + 1) {
            transpose(params[l].weights, layout.shapes[l].outputs, t);
        }
        let (mut samples, mut upcoming) = ([0usize; GROUP], [0usize; GROUP]);
        let mut offset = 0;
        for (g, group) in batch.chunks(GROUP).enumerate() {
            for (s, i) in samples.iter_mut().zip(group) {
                *s = i.index();
            }
            offset += group.len();
            // The samples a group further on in the order, which phase 1 asks the
            // source to bring into the cache while it reads this group's.
            let ahead = batch[offset..].iter().chain(after).chain(core::iter::repeat(&group[0]));
            for (u, i) in upcoming.iter_mut().zip(ahead) {
                *u = i.index();
            }
            let rows = &mut self.rows.get_mut()[..group.len() * layout.stride];
            if self.dropout.is_active() {
                let rng = rng.as_deref_mut().expect("dropout draws its masks from the training generator");
                for row in rows.chunks_exact_mut(layout.stride) {
                    for (l, dropped) in layout.dropped.iter().enumerate() {
                        if let Some((mask, _)) = *dropped {
                            self.dropout.draw(l, rng, &mut row[mask..][..layout.shapes[l].outputs]);
                        }
                    }
                }
            }
            // Samples per claim: the group shared among the threads, so that each
            // streams the first layer's weights once for all its samples.
            let chunk = group.len().div_ceil(team.threads()).max(8);
            let one = PhaseOne {
                layout,
                params: &params,
                transposed: &self.transposed,
                source: data,
                samples: &samples[..group.len()],
                upcoming: &upcoming[..group.len()],
                rows: Claims::new(&mut *rows, chunk * layout.stride),
                chunk,
                scratch: &self.scratch,
                lowest,
            };
            team.run(&|t| phase_one::<K>(unit, &one, t));
            let mut grads = Vec::new();
            N::grads(gradients, &mut grads);
            let two = PhaseTwo::new(layout, rows, group.len(), g == 0, grads, lowest);
            team.run(&|t| phase_two(unit, &two, t));
            for row in rows.chunks(layout.stride) {
                each(row[layout.loss], row[layout.loss + 1] != 0.0);
            }
        }
    }
}

/// The optimizer step, compiled for `unit`.
fn step<N: Network<Scalar = f32>, O: Optimizer, Ix: SampleIndex>(
    unit: VectorUnit,
    plan: &EpochPlan<'_, f32, O, Ix>,
    net: &mut N,
    state: &mut TrainState<N, O>,
    batch_len: usize,
) {
    #[cfg(target_arch = "x86_64")]
    if unit == VectorUnit::Avx2 {
        // SAFETY: `usable` confirmed that this CPU has AVX2.
        unsafe { step_avx2(plan, net, state, batch_len) };
        return;
    }
    let _ = unit;
    plan.step(net, state, batch_len);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn step_avx2<N: Network<Scalar = f32>, O: Optimizer, Ix: SampleIndex>(
    plan: &EpochPlan<'_, f32, O, Ix>,
    net: &mut N,
    state: &mut TrainState<N, O>,
    batch_len: usize,
) {
    plan.step(net, state, batch_len);
}

/// `t[o * inputs + j] = w[j * outputs + o]`: the weights by output, for `Wᵀδ` across lanes.
fn transpose(w: &[f32], outputs: usize, t: &mut [f32]) {
    let inputs = w.len() / outputs;
    for (j, column) in w.chunks_exact(outputs).enumerate() {
        for (o, &v) in column.iter().enumerate() {
            t[o * inputs + j] = v;
        }
    }
}

/// What every thread needs for phase 1 of a group.
struct PhaseOne<'a> {
    layout: &'a Layout,
    params: &'a [Params<'a>],
    transposed: &'a [Vec<f32>],
    source: &'a dyn SampleSource,
    /// The group's samples, as indices into `source`.
    samples: &'a [usize],
    /// As many samples further on, to prefetch.
    upcoming: &'a [usize],
    /// One row per sample, claimed `chunk` rows at a time.
    rows: Claims<'a, f32>,
    chunk: usize,
    scratch: &'a [Mutex<Scratch>],
    /// The lowest layer that trains.
    lowest: usize,
}

fn phase_one<const K: usize>(unit: VectorUnit, job: &PhaseOne<'_>, thread: usize) {
    #[cfg(target_arch = "x86_64")]
    if unit == VectorUnit::Avx2 {
        // SAFETY: `usable` confirmed that this CPU has AVX2.
        unsafe { phase_one_avx2::<K>(job, thread) };
        return;
    }
    let _ = unit;
    phase_one_baseline::<K>(job, thread);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn phase_one_avx2<const K: usize>(job: &PhaseOne<'_>, thread: usize) {
    phase_one_with::<K, Avx2Lanes>(job, thread);
}

#[inline(never)]
fn phase_one_baseline<const K: usize>(job: &PhaseOne<'_>, thread: usize) {
    phase_one_with::<K, BaselineLanes>(job, thread);
}

/// Phase 1 for every chunk of samples this thread claims.
#[inline(always)]
fn phase_one_with<const K: usize, U: Lanes>(job: &PhaseOne<'_>, thread: usize) {
    let mut scratch = job.scratch[thread].lock().unwrap_or_else(|e| e.into_inner());
    let scratch = &mut *scratch;
    let layout = job.layout;
    let shapes = &layout.shapes;
    let last = shapes.len() - 1;
    while let Some((c, rows)) = job.rows.claim() {
        let samples = &job.samples[c * job.chunk..][..rows.len() / layout.stride];
        let upcoming = &job.upcoming[c * job.chunk..][..samples.len()];
        for ((row, &sample), &next) in rows.chunks_exact_mut(layout.stride).zip(samples).zip(upcoming) {
            job.source.prefetch(next);
            job.source.features_into(sample, &mut row[..shapes[0].inputs]);
        }
        first_layer::<U>(layout, job.params[0], rows, scratch);
        for (row, &sample) in rows.chunks_exact_mut(layout.stride).zip(samples) {
            let (before, after) = row.split_at_mut(layout.delta[0]);
            layout.drop_units(0, before);
            for (l, shape) in shapes.iter().enumerate().skip(1) {
                let (inputs, outputs) = before.split_at_mut(layout.act[l]);
                let input = &inputs[layout.input(l)..][..shape.inputs];
                let z = &mut outputs[..shape.outputs];
                // SAFETY: `U`'s kernels run only where its features were detected (see `Lanes::nonzeros`).
                let n = unsafe { U::nonzeros(input, &mut scratch.index, &mut scratch.value) };
                forward_one::<U>(job.params[l], shape.outputs, &scratch.index[..n], &scratch.value[..n], z);
                activate(shape.activation, z);
                layout.drop_units(l, before);
            }
            let logits: &[f32; K] = before[layout.act[last]..][..K].try_into().expect("the last layer has K outputs");
            let label = job.source.label(sample);
            let mut gradient = [0.0f32; K];
            let loss = <SoftmaxCrossEntropy as Loss<f32, K>>::loss_and_gradient(logits, &label, &mut gradient);
            let hit = <SoftmaxCrossEntropy as Loss<f32, K>>::predicted_class(logits) == label;
            // `after` starts at δ_0; δ_l at `layout.delta[l] - layout.delta[0]`.
            let base = layout.delta[0];
            let d_last = &mut after[layout.delta[last] - base..][..K];
            d_last.copy_from_slice(&gradient);
            times_derivative(shapes[last].activation, &before[layout.act[last]..][..K], d_last);
            for l in (job.lowest + 1..=last).rev() {
                let (below, above) = after.split_at_mut(layout.delta[l] - base);
                let d = &above[..shapes[l].outputs];
                let dx = &mut below[layout.delta[l - 1] - base..][..shapes[l].inputs];
                let mut backward =
                    Backward { transposed: &job.transposed[l], inputs: shapes[l].inputs, delta: d, dx: &mut *dx };
                U::blocks(shapes[l].inputs, &mut backward);
                if let Some((mask, _)) = layout.dropped[l - 1] {
                    // ∂L/∂a′ times the mask, then the derivative at the output before dropout.
                    for (d, &m) in dx.iter_mut().zip(&before[mask..][..shapes[l].inputs]) {
                        *d *= m;
                    }
                }
                times_derivative(shapes[l - 1].activation, &before[layout.act[l - 1]..][..shapes[l].inputs], dx);
            }
            after[layout.loss - base] = loss;
            after[layout.loss - base + 1] = if hit { 1.0 } else { 0.0 };
        }
    }
}

/// The first layer for a chunk of rows, whose inputs are in place.
///
/// A 784×128 weight matrix (400 KB) fits in the L2 cache but not in L1, so
/// one sample at a time would stream the columns of its non-zero inputs
/// from L2 for every sample. Instead the inputs are taken in tiles of
/// columns small enough for L1 (32 KB of weights), and each tile is applied
/// to every sample of the chunk before the next: each sample's sums are
/// held in registers over its non-zero inputs of the tile, then stored
/// until the next tile. Every output's sum still runs `(b + 0) + w₀x₀ +
/// w₁x₁ + …` over its sample's inputs in order.
#[inline(always)]
fn first_layer<U: Lanes>(layout: &Layout, p: Params<'_>, rows: &mut [f32], scratch: &mut Scratch) {
    let shape = layout.shapes[0];
    let (stride, at) = (layout.stride, layout.act[0]);
    let Scratch { first_index: index, first_value: value, first_start: start, .. } = scratch;
    start[0] = 0;
    for (s, row) in rows.chunks_exact_mut(stride).enumerate() {
        // SAFETY: `U`'s kernels run only where its features were detected (see `Lanes::nonzeros`).
        let n = unsafe { U::nonzeros(&row[..shape.inputs], &mut index[start[s]..], &mut value[start[s]..]) };
        start[s + 1] = start[s] + n;
        // `+ 0`: a bias of −0 becomes +0, so no sum is −0 and skipped zero inputs change nothing.
        for (z, &b) in row[at..][..shape.outputs].iter_mut().zip(p.biases) {
            *z = b + 0.0;
        }
    }
    let samples = rows.len() / stride;
    let tile = (TILE_BYTES / (4 * shape.outputs)).max(8) as u32;
    let mut cursor = [0usize; GROUP];
    cursor[..samples].copy_from_slice(&start[..samples]);
    let mut first_column = 0u32;
    while (first_column as usize) < shape.inputs {
        let end_column = first_column.saturating_add(tile);
        for (s, row) in rows.chunks_exact_mut(stride).enumerate() {
            let from = cursor[s];
            let to = from + index[from..start[s + 1]].iter().take_while(|&&j| j < end_column).count();
            cursor[s] = to;
            if to > from {
                let z = &mut row[at..][..shape.outputs];
                let mut sums = Accumulate {
                    weights: p.weights,
                    outputs: shape.outputs,
                    index: &index[from..to],
                    value: &value[from..to],
                    z,
                };
                U::blocks(shape.outputs, &mut sums);
            }
        }
        first_column = end_column;
    }
    for row in rows.chunks_exact_mut(stride) {
        activate(shape.activation, &mut row[at..][..shape.outputs]);
    }
}

/// Bytes of first-layer weights per tile: most of a 48 KB L1 data cache.
const TILE_BYTES: usize = 32 * 1024;

/// What every thread needs for phase 2 of a group.
struct PhaseTwo<'a> {
    layout: &'a Layout,
    rows: &'a [f32],
    samples: usize,
    /// The first group of its batch: sums start from zero, not from the buffer.
    first: bool,
    /// Per trainable layer (from `lowest`): its weight gradient in blocks of [`COLUMNS`] columns.
    weights: Vec<Claims<'a, f32>>,
    /// Per trainable layer: its bias gradient, one claim.
    biases: Vec<Claims<'a, f32>>,
    lowest: usize,
}

impl<'a> PhaseTwo<'a> {
    fn new(
        layout: &'a Layout,
        rows: &'a [f32],
        samples: usize,
        first: bool,
        grads: Vec<Grads<'a>>,
        lowest: usize,
    ) -> Self {
        let (mut weights, mut biases) = (Vec::new(), Vec::new());
        for (l, g) in grads.into_iter().enumerate().skip(lowest) {
            let outputs = layout.shapes[l].outputs;
            weights.push(Claims::new(g.weights, COLUMNS * outputs));
            biases.push(Claims::new(g.biases, outputs));
        }
        PhaseTwo { layout, rows, samples, first, weights, biases, lowest }
    }
}

fn phase_two(unit: VectorUnit, job: &PhaseTwo<'_>, thread: usize) {
    #[cfg(target_arch = "x86_64")]
    if unit == VectorUnit::Avx2 {
        // SAFETY: `usable` confirmed that this CPU has AVX2.
        unsafe { phase_two_avx2(job, thread) };
        return;
    }
    let _ = unit;
    phase_two_baseline(job, thread);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn phase_two_avx2(job: &PhaseTwo<'_>, _thread: usize) {
    phase_two_with::<Avx2Lanes>(job);
}

#[inline(never)]
fn phase_two_baseline(job: &PhaseTwo<'_>, _thread: usize) {
    phase_two_with::<BaselineLanes>(job);
}

/// Phase 2: every gradient block this thread claims, layer by layer.
#[inline(always)]
fn phase_two_with<U: Lanes>(job: &PhaseTwo<'_>) {
    let layout = job.layout;
    let stride = layout.stride;
    let rows = &job.rows[..job.samples * stride];
    for (k, (weights, biases)) in job.weights.iter().zip(&job.biases).enumerate() {
        let l = job.lowest + k;
        let shape = layout.shapes[l];
        let (input, delta) = (layout.input(l), layout.delta[l]);
        while let Some((chunk, g)) = weights.claim() {
            let first_column = chunk * COLUMNS;
            let columns = g.len() / shape.outputs;
            let masks = column_masks(rows, stride, input + first_column, columns, job.samples);
            for (c, g) in g.chunks_exact_mut(shape.outputs).enumerate() {
                if masks[c] == 0 {
                    // No sample has this input: the gradient keeps its value (zero, or the earlier groups' sum).
                    continue;
                }
                let mut column = Column {
                    g,
                    first: job.first,
                    mask: masks[c],
                    rows,
                    stride,
                    x_at: input + first_column + c,
                    d_at: delta,
                };
                U::blocks(shape.outputs, &mut column);
            }
        }
        while let Some((_, g)) = biases.claim() {
            U::blocks(shape.outputs, &mut BiasSum { g, first: job.first, rows, stride, d_at: delta });
        }
    }
}

/// One bit per sample (bit `s` for row `s`) for each of `columns`
/// consecutive inputs from `at`: which samples have that input non-zero.
#[inline(always)]
fn column_masks(rows: &[f32], stride: usize, at: usize, columns: usize, samples: usize) -> [u64; COLUMNS] {
    let mut masks = [0u64; COLUMNS];
    if columns == COLUMNS {
        for (s, row) in rows.chunks_exact(stride).take(samples).enumerate() {
            let values: &[f32; COLUMNS] = row[at..][..COLUMNS].try_into().expect("COLUMNS values");
            for (m, &v) in masks.iter_mut().zip(values) {
                *m |= u64::from(v != 0.0) << s;
            }
        }
    } else {
        for (s, row) in rows.chunks_exact(stride).take(samples).enumerate() {
            for (m, &v) in masks.iter_mut().zip(&row[at..][..columns]) {
                *m |= u64::from(v != 0.0) << s;
            }
        }
    }
    masks
}

/// A kernel over the outputs of one layer, a block of `W` at a time.
trait BlockKernel {
    /// Outputs `offset..offset + W`.
    fn block<const W: usize>(&mut self, offset: usize);
}

/// What the kernels need to know of the vector unit they are compiled for.
trait Lanes {
    /// Calls `kernel` on blocks of outputs as wide as this unit keeps in
    /// registers, then on smaller blocks for the rest.
    fn blocks<K: BlockKernel>(outputs: usize, kernel: &mut K);

    /// Lists the non-zero values of `x` and their indices, in order, at the
    /// start of `index` and `value` (each at least as long as `x`); returns
    /// how many. `-0.0` counts as zero, NaN as non-zero.
    ///
    /// # Safety
    ///
    /// The CPU has the unit's features (the engine instantiates each unit's
    /// kernels only inside functions compiled for it, called after [`usable`]).
    unsafe fn nonzeros(x: &[f32], index: &mut [u32], value: &mut [f32]) -> usize;
}

/// SSE2, the x86-64 baseline (or whatever another target guarantees): 32
/// outputs, eight registers of four.
struct BaselineLanes;

impl Lanes for BaselineLanes {
    #[inline(always)]
    fn blocks<K: BlockKernel>(outputs: usize, kernel: &mut K) {
        blocks_of::<32, K>(outputs, kernel);
    }
    #[inline(always)]
    unsafe fn nonzeros(x: &[f32], index: &mut [u32], value: &mut [f32]) -> usize {
        scalar_nonzeros(x, 0, index, value, 0)
    }
}

/// The non-zero values of `x` (whose first element is input `first`) and
/// their indices, written from position `n` on; returns the new count.
#[inline(always)]
fn scalar_nonzeros(x: &[f32], first: usize, index: &mut [u32], value: &mut [f32], mut n: usize) -> usize {
    for (k, &v) in x.iter().enumerate() {
        if v != 0.0 {
            index[n] = (first + k) as u32;
            value[n] = v;
            n += 1;
        }
    }
    n
}

/// AVX2: 64 outputs, eight registers of eight. Only named inside
/// `#[target_feature(enable = "avx2")]` functions, which run after the CPU
/// was found to have AVX2 (see [`usable`]).
#[cfg(target_arch = "x86_64")]
struct Avx2Lanes;

/// For each mask of eight lanes, the lanes whose bit is set, first to last
/// (then zeros): the shuffle that packs the non-zero values of eight to the left.
#[cfg(target_arch = "x86_64")]
static LEFT_PACK: [[u8; 8]; 256] = {
    let mut table = [[0u8; 8]; 256];
    let mut mask = 0;
    while mask < 256 {
        let (mut lane, mut n) = (0, 0);
        while lane < 8 {
            if mask & (1 << lane) != 0 {
                table[mask][n] = lane as u8;
                n += 1;
            }
            lane += 1;
        }
        mask += 1;
    }
    table
};

#[cfg(target_arch = "x86_64")]
impl Lanes for Avx2Lanes {
    #[inline(always)]
    fn blocks<K: BlockKernel>(outputs: usize, kernel: &mut K) {
        blocks_of::<64, K>(outputs, kernel);
    }
    #[inline(always)]
    unsafe fn nonzeros(x: &[f32], index: &mut [u32], value: &mut [f32]) -> usize {
        use std::arch::x86_64::*;
        assert!(index.len() >= x.len() && value.len() >= x.len(), "room for every input");
        let (chunks, rest) = x.as_chunks::<8>();
        let mut n = 0;
        // SAFETY: the caller guarantees AVX2. Every load reads one chunk of
        // `x`; every store writes eight values at `n`, and `n` is at most
        // the count of inputs before this chunk, so the stores stay within
        // the first `x.len()` elements of `index` and `value`.
        unsafe {
            let mut lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
            let eight = _mm256_set1_epi32(8);
            for chunk in chunks {
                let v = _mm256_loadu_ps(chunk.as_ptr());
                let mask = _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_NEQ_UQ>(v, _mm256_setzero_ps())) as usize;
                let shuffle = _mm256_cvtepu8_epi32(_mm_loadl_epi64(LEFT_PACK[mask].as_ptr().cast()));
                _mm256_storeu_ps(value.as_mut_ptr().add(n), _mm256_permutevar8x32_ps(v, shuffle));
                _mm256_storeu_si256(index.as_mut_ptr().add(n).cast(), _mm256_permutevar8x32_epi32(lanes, shuffle));
                n += mask.count_ones() as usize;
                lanes = _mm256_add_epi32(lanes, eight);
            }
        }
        scalar_nonzeros(rest, chunks.len() * 8, index, value, n)
    }
}

/// Calls `kernel` on blocks of `WIDE` outputs, then on smaller blocks for the rest.
#[inline(always)]
fn blocks_of<const WIDE: usize, K: BlockKernel>(outputs: usize, kernel: &mut K) {
    let mut offset = 0;
    while offset + WIDE <= outputs {
        kernel.block::<WIDE>(offset);
        offset += WIDE;
    }
    if WIDE > 32 && offset + 32 <= outputs {
        kernel.block::<32>(offset);
        offset += 32;
    }
    if WIDE > 16 && offset + 16 <= outputs {
        kernel.block::<16>(offset);
        offset += 16;
    }
    if offset + 8 <= outputs {
        kernel.block::<8>(offset);
        offset += 8;
    }
    if offset + 4 <= outputs {
        kernel.block::<4>(offset);
        offset += 4;
    }
    while offset < outputs {
        kernel.block::<1>(offset);
        offset += 1;
    }
}

/// `z += Σ w_j·x_j` over the listed non-zero inputs, in order.
struct Accumulate<'a> {
    /// The layer's weights, column-major.
    weights: &'a [f32],
    outputs: usize,
    index: &'a [u32],
    value: &'a [f32],
    z: &'a mut [f32],
}

impl BlockKernel for Accumulate<'_> {
    #[inline(always)]
    fn block<const W: usize>(&mut self, offset: usize) {
        let z: &mut [f32; W] = (&mut self.z[offset..][..W]).try_into().expect("a block of W sums");
        let mut acc = *z;
        for (&j, &x) in self.index.iter().zip(self.value) {
            let w: &[f32; W] =
                self.weights[j as usize * self.outputs + offset..][..W].try_into().expect("a block of W weights");
            for (a, &w) in acc.iter_mut().zip(w) {
                *a += w * x;
            }
        }
        *z = acc;
    }
}

/// `z = (b + 0) + Σ w_j·x_j` for one sample of a layer after the first.
#[inline(always)]
fn forward_one<U: Lanes>(p: Params<'_>, outputs: usize, index: &[u32], value: &[f32], z: &mut [f32]) {
    // `+ 0`: a bias of −0 becomes +0, so no sum is −0 and skipped zero inputs change nothing.
    for (z, &b) in z.iter_mut().zip(p.biases) {
        *z = b + 0.0;
    }
    U::blocks(outputs, &mut Accumulate { weights: p.weights, outputs, index, value, z });
}

/// `∂L/∂x_j = 0 + Σ_o w_jo·δ_o` over outputs in order, for a block of inputs `j`.
struct Backward<'a> {
    /// `transposed[o * inputs + j] = w_jo`.
    transposed: &'a [f32],
    inputs: usize,
    delta: &'a [f32],
    dx: &'a mut [f32],
}

impl BlockKernel for Backward<'_> {
    #[inline(always)]
    fn block<const W: usize>(&mut self, offset: usize) {
        let mut acc = [0.0f32; W];
        for (o, &d) in self.delta.iter().enumerate() {
            let w: &[f32; W] =
                self.transposed[o * self.inputs + offset..][..W].try_into().expect("a block of W weights");
            for (a, &w) in acc.iter_mut().zip(w) {
                *a += w * d;
            }
        }
        self.dx[offset..][..W].copy_from_slice(&acc);
    }
}

/// One weight column's gradient: `g += δ_s·x_s` for the samples `s` of the mask, in order.
struct Column<'a> {
    g: &'a mut [f32],
    first: bool,
    mask: u64,
    rows: &'a [f32],
    stride: usize,
    /// Offset of this column's input in a row.
    x_at: usize,
    /// Offset of the layer's deltas in a row.
    d_at: usize,
}

impl BlockKernel for Column<'_> {
    #[inline(always)]
    fn block<const W: usize>(&mut self, offset: usize) {
        let g: &mut [f32; W] = (&mut self.g[offset..][..W]).try_into().expect("a block of W gradients");
        let mut acc = if self.first { [0.0f32; W] } else { *g };
        let mut mask = self.mask;
        while mask != 0 {
            let s = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            let row = &self.rows[s * self.stride..][..self.stride];
            let x = row[self.x_at];
            let d: &[f32; W] = row[self.d_at + offset..][..W].try_into().expect("a block of W deltas");
            for (a, &d) in acc.iter_mut().zip(d) {
                *a += d * x;
            }
        }
        *g = acc;
    }
}

/// The bias gradient: `g += δ_s` for every sample, in order.
struct BiasSum<'a> {
    g: &'a mut [f32],
    first: bool,
    rows: &'a [f32],
    stride: usize,
    d_at: usize,
}

impl BlockKernel for BiasSum<'_> {
    #[inline(always)]
    fn block<const W: usize>(&mut self, offset: usize) {
        let g: &mut [f32; W] = (&mut self.g[offset..][..W]).try_into().expect("a block of W gradients");
        let mut acc = if self.first { [0.0f32; W] } else { *g };
        for row in self.rows.chunks_exact(self.stride) {
            let d: &[f32; W] = row[self.d_at + offset..][..W].try_into().expect("a block of W deltas");
            for (a, &d) in acc.iter_mut().zip(d) {
                *a += d;
            }
        }
        *g = acc;
    }
}

/// `z ← f(z)` with mlp-core's activation functions.
#[inline(always)]
fn activate(kind: ActivationKind, z: &mut [f32]) {
    fn each<A: Activation>(z: &mut [f32]) {
        for v in z {
            *v = A::apply(*v);
        }
    }
    match kind {
        ActivationKind::Identity => each::<Identity>(z),
        ActivationKind::Relu => each::<Relu>(z),
        ActivationKind::LeakyRelu => each::<LeakyRelu>(z),
        ActivationKind::Tanh => each::<Tanh>(z),
        ActivationKind::Sigmoid => each::<Sigmoid>(z),
    }
}

/// `δ ← δ·f′(a)` with mlp-core's derivatives (from the output `a`).
#[inline(always)]
fn times_derivative(kind: ActivationKind, a: &[f32], d: &mut [f32]) {
    fn each<A: Activation>(a: &[f32], d: &mut [f32]) {
        for (d, &a) in d.iter_mut().zip(a) {
            *d *= A::derivative_from_output(a);
        }
    }
    match kind {
        ActivationKind::Identity => each::<Identity>(a, d),
        ActivationKind::Relu => each::<Relu>(a, d),
        ActivationKind::LeakyRelu => each::<LeakyRelu>(a, d),
        ActivationKind::Tanh => each::<Tanh>(a, d),
        ActivationKind::Sigmoid => each::<Sigmoid>(a, d),
    }
}

/// Samples per claim when evaluating.
const EVAL_CHUNK: usize = GROUP;

/// A network measured on a data set.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    /// Mean loss and accuracy, as `mlp_core::evaluate` computes them.
    pub metrics: Metrics<f32>,
    /// The predicted class of every sample, in order.
    pub predictions: Vec<usize>,
}

/// Loss, accuracy and predictions of `net` on `data`, the samples shared
/// among `team`'s threads, with the bits of `mlp_core::evaluate` (each
/// sample's loss by `SoftmaxCrossEntropy::loss`, summed in sample order).
/// The samples are not checked here: call [`check_source`] once first.
pub fn evaluate<N, const K: usize>(net: &N, data: &dyn SampleSource, team: &Team<'_>, unit: VectorUnit) -> Evaluation
where
    N: DenseStack<Output = [f32; K]>,
{
    let unit = usable(unit);
    // Inference never drops units.
    let layout = Layout::new(&shapes_of::<N>(), |_| false);
    let params = params_of(net);
    let scratch = scratches(team.threads(), &layout);
    let rows: Vec<Mutex<Aligned>> =
        (0..team.threads()).map(|_| Mutex::new(Aligned::new(EVAL_CHUNK * layout.stride))).collect();
    let mut results = vec![(0.0f32, 0u32); data.len()];
    let job = Evaluate {
        layout: &layout,
        params: &params,
        source: data,
        results: Claims::new(&mut results, EVAL_CHUNK),
        rows: &rows,
        scratch: &scratch,
    };
    team.run(&|t| evaluate_part::<K>(unit, &job, t));
    let mut loss_sum = 0.0f32;
    let mut correct = 0usize;
    let mut predictions = Vec::with_capacity(results.len());
    for (sample, &(loss, predicted)) in results.iter().enumerate() {
        loss_sum += loss;
        correct += usize::from(predicted as usize == data.label(sample));
        predictions.push(predicted as usize);
    }
    // As `Metrics::from_sums` in mlp-core.
    let n = data.len().max(1) as f32;
    let metrics = Metrics { loss: loss_sum / n, accuracy: correct as f32 / n, correct, samples: data.len() };
    Evaluation { metrics, predictions }
}

/// What every thread needs to evaluate its share of the samples.
struct Evaluate<'a> {
    layout: &'a Layout,
    params: &'a [Params<'a>],
    source: &'a dyn SampleSource,
    /// Per sample: its loss and predicted class, in chunks of [`EVAL_CHUNK`].
    results: Claims<'a, (f32, u32)>,
    /// Per thread: rows for a chunk of samples.
    rows: &'a [Mutex<Aligned>],
    scratch: &'a [Mutex<Scratch>],
}

fn evaluate_part<const K: usize>(unit: VectorUnit, job: &Evaluate<'_>, thread: usize) {
    #[cfg(target_arch = "x86_64")]
    if unit == VectorUnit::Avx2 {
        // SAFETY: `usable` confirmed that this CPU has AVX2.
        unsafe { evaluate_avx2::<K>(job, thread) };
        return;
    }
    let _ = unit;
    evaluate_baseline::<K>(job, thread);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn evaluate_avx2<const K: usize>(job: &Evaluate<'_>, thread: usize) {
    evaluate_with::<K, Avx2Lanes>(job, thread);
}

#[inline(never)]
fn evaluate_baseline<const K: usize>(job: &Evaluate<'_>, thread: usize) {
    evaluate_with::<K, BaselineLanes>(job, thread);
}

/// Forward passes of every chunk this thread claims: the first layer for
/// the whole chunk at once, as in training, then each sample on its own.
#[inline(always)]
fn evaluate_with<const K: usize, U: Lanes>(job: &Evaluate<'_>, thread: usize) {
    let mut scratch = job.scratch[thread].lock().unwrap_or_else(|e| e.into_inner());
    let scratch = &mut *scratch;
    let mut rows = job.rows[thread].lock().unwrap_or_else(|e| e.into_inner());
    let layout = job.layout;
    let shapes = &layout.shapes;
    let last = shapes.len() - 1;
    while let Some((chunk, results)) = job.results.claim() {
        let first = chunk * EVAL_CHUNK;
        let rows = &mut rows.get_mut()[..results.len() * layout.stride];
        for (k, row) in rows.chunks_exact_mut(layout.stride).enumerate() {
            job.source.features_into(first + k, &mut row[..shapes[0].inputs]);
        }
        first_layer::<U>(layout, job.params[0], rows, scratch);
        for (k, (row, result)) in rows.chunks_exact_mut(layout.stride).zip(results.iter_mut()).enumerate() {
            for (l, shape) in shapes.iter().enumerate().skip(1) {
                let (inputs, outputs) = row.split_at_mut(layout.act[l]);
                let input = &inputs[layout.input(l)..][..shape.inputs];
                // SAFETY: `U`'s kernels run only where its features were detected (see `Lanes::nonzeros`).
                let n = unsafe { U::nonzeros(input, &mut scratch.index, &mut scratch.value) };
                let z = &mut outputs[..shape.outputs];
                forward_one::<U>(job.params[l], shape.outputs, &scratch.index[..n], &scratch.value[..n], z);
                activate(shape.activation, z);
            }
            let logits: &[f32; K] = row[layout.act[last]..][..K].try_into().expect("the last layer has K outputs");
            let label = job.source.label(first + k);
            let loss = <SoftmaxCrossEntropy as Loss<f32, K>>::loss(logits, &label);
            let predicted = <SoftmaxCrossEntropy as Loss<f32, K>>::predicted_class(logits);
            *result = (loss, predicted as u32);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Samples;
    use crate::optim::AnyOptimizer;
    use crate::parallel::with_team;
    use mlp_core::optim::{Adam, Momentum, Sgd};
    use mlp_core::schedule::{Schedule, Shape as LrShape};
    use mlp_core::{Dataset, DefaultRng, Init, SeedableRng, TrainConfig, layers};

    type Net =
        layers![Dense<f32, 20, 72, Relu>, Dense<f32, 72, 12, Tanh>, Dense<f32, 12, 5, LeakyRelu>, Dense<f32, 5, 3>];

    fn samples() -> Samples {
        let mut rng = DefaultRng::seed_from_u64(5);
        let features: Vec<f32> =
            (0..150 * 20).map(|_| (mlp_core::init::unit_interval(&mut rng) as f32 - 0.4).max(0.0)).collect();
        let labels = features.chunks(20).map(|x| usize::from(x[0] > x[1]) + usize::from(x[2] > 0.3)).collect();
        Samples { features, labels, feature_count: 20, class_count: 3 }
    }

    fn bits(net: &Net) -> Vec<u32> {
        let mut all = Vec::new();
        net.for_each_parameter(|_, values| all.extend(values.iter().map(|v| v.to_bits())));
        all
    }

    fn trained(
        config: &TrainConfig<AnyOptimizer>,
        engine: Option<(usize, VectorUnit)>,
    ) -> (Vec<u32>, Vec<EpochMetrics<f32>>) {
        let data = samples();
        let mut net = crate::boxed::zeroed_box::<Net>();
        let mut state = crate::boxed::zeroed_box::<TrainState<Net, AnyOptimizer>>();
        state.persistent.rng = DefaultRng::seed_from_u64(6);
        net.initialize(Init::HeUniform, &mut state.persistent.rng).unwrap();
        let mut order = vec![0u32; data.len()];
        let mut learner = Learner::new(&mut *net, &mut state, &mut order, SoftmaxCrossEntropy, config).unwrap();
        let history = match engine {
            None => {
                let inputs = Net::inputs_from_flat(&data.features).unwrap();
                let dataset = Dataset::new(inputs, &data.labels).unwrap();
                (0..config.epochs).map(|_| learner.epoch(dataset).unwrap()).collect()
            }
            Some((threads, unit)) => with_team(threads, |team| {
                (0..config.epochs)
                    .map(|_| train_epoch::<Net, _, _, 3>(&mut learner, &data, team, unit).unwrap())
                    .collect()
            }),
        };
        (bits(&net), history)
    }

    #[test]
    fn every_unit_lists_the_same_non_zero_inputs() {
        let mut rng = DefaultRng::seed_from_u64(3);
        for len in [0, 1, 7, 8, 9, 15, 16, 17, 31, 64, 100, 784] {
            let x: Vec<f32> = (0..len)
                .map(|_| match (mlp_core::init::unit_interval(&mut rng) * 4.0) as u32 {
                    0 => 0.0,
                    1 => -0.0,
                    _ => mlp_core::init::unit_interval(&mut rng) as f32 - 0.5,
                })
                .collect();
            let expected: Vec<(u32, u32)> =
                x.iter().enumerate().filter(|(_, v)| **v != 0.0).map(|(j, v)| (j as u32, v.to_bits())).collect();
            let listed = |unit: VectorUnit| {
                let (mut index, mut value) = (vec![u32::MAX; len], vec![f32::NAN; len]);
                let n = match usable(unit) {
                    // SAFETY: `usable` checked that this CPU has the unit.
                    #[cfg(target_arch = "x86_64")]
                    VectorUnit::Avx2 => unsafe { nonzeros_avx2(&x, &mut index, &mut value) },
                    // SAFETY: the baseline needs nothing.
                    _ => unsafe { BaselineLanes::nonzeros(&x, &mut index, &mut value) },
                };
                index[..n].iter().zip(&value[..n]).map(|(&j, v)| (j, v.to_bits())).collect::<Vec<_>>()
            };
            for unit in [VectorUnit::Baseline, VectorUnit::Avx2] {
                assert_eq!(listed(unit), expected, "{len} inputs on {}", unit.name());
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn nonzeros_avx2(x: &[f32], index: &mut [u32], value: &mut [f32]) -> usize {
        // SAFETY: compiled for AVX2, called only where `usable` found it.
        unsafe { Avx2Lanes::nonzeros(x, index, value) }
    }

    #[test]
    fn the_engine_gives_the_bits_of_a_plain_epoch() {
        for (optimizer, batch_size, frozen_layers) in [
            (AnyOptimizer::Momentum(Momentum::DEFAULT), 16, 0),
            (AnyOptimizer::Adam(Adam::DEFAULT), 70, 0),
            (AnyOptimizer::Sgd(Sgd), 33, 1),
        ] {
            let config = TrainConfig {
                epochs: 3,
                batch_size,
                schedule: Schedule { lr: 0.01, shape: LrShape::InverseTime { decay: 0.1 }, warmup: 1 },
                l2: 1e-3,
                l1: 1e-4,
                clip_norm: 1.0,
                frozen_layers,
                ..TrainConfig::new(optimizer)
            };
            let expected = trained(&config, None);
            for threads in [1, 2, 3] {
                for unit in [VectorUnit::Baseline, VectorUnit::Avx2] {
                    let got = trained(&config, Some((threads, unit)));
                    assert_eq!(
                        got.0,
                        expected.0,
                        "{} batch {batch_size}, {threads} threads, {}",
                        optimizer.name(),
                        unit.name()
                    );
                    assert_eq!(got.1, expected.1);
                }
            }
        }
    }
}
