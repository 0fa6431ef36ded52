//! Dense layers: trainable ([`Dense`]) and read-only ([`Frozen`]).
//!
//! Weights are a column-major `SMatrix<T, O, I>`: column `j` holds the weights
//! from input `j` to every output, contiguously. Every kernel walks inputs in
//! the outer loop and outputs in the inner loop, so the work vectorises across
//! outputs while each output's sum keeps one fixed order:
//! `z_o = b_o + w_o0·x_0 + w_o1·x_1 + …`. Inputs that are exactly zero may be
//! skipped (half the pixels of a digit are blank, and ReLU zeroes many hidden
//! units): no partial sum is ever −0, so adding `w·0` leaves it unchanged and
//! skipping gives the same bits as not skipping.

use core::marker::PhantomData;

use nalgebra::{ArrayStorage, SMatrix, SVector};

use crate::activation::{Activation, ActivationKind, Identity};
use crate::buffer::{Zeroed, column, column_mut};
use crate::error::Error;
use crate::float::{Float, SCALAR_FPU};
use crate::walk::{Part, Slot, Slots};

/// A fully connected layer with `I` inputs and `O` outputs: `a = f(W x + b)`.
///
/// ```
/// use mlp_core::{Dense, activation::Relu};
/// // Weights given per input column: from input 0, then from input 1.
/// static LAYER: Dense<f32, 2, 3, Relu> =
///     Dense::from_columns([[1.0, 0.0, -1.0], [0.5, 0.5, 0.5]], [0.0, 0.0, 0.0]);
/// assert_eq!(LAYER.weights[(2, 0)], -1.0);
/// ```
///
/// Deliberately not `Copy`: a big layer copied by accident is hundreds of
/// kilobytes moved through the stack.
#[derive(Clone, Debug, PartialEq)]
pub struct Dense<T, const I: usize, const O: usize, A = Identity> {
    /// `weights[(o, i)]` connects input `i` to output `o`.
    pub weights: SMatrix<T, O, I>,
    /// One bias per output.
    pub biases: SVector<T, O>,
    activation: PhantomData<A>,
}

/// A dense layer whose parameters are borrowed read-only, for example a
/// `static` in flash. It runs forward and passes gradients through to earlier
/// layers, but it has no gradient or optimizer state of its own.
///
/// Fine-tuning only the last layer of a network whose first layer stays in flash:
///
/// ```
/// use core::ops::ControlFlow;
/// use mlp_core::{layers, Chain, Dataset, Dense, Frozen, Learner, Network, TrainConfig, TrainState};
/// use mlp_core::{activation::Relu, loss::SoftmaxCrossEntropy, optim::Sgd, schedule::Schedule};
///
/// // Trained on the host, exported as a `static`: it never occupies RAM.
/// static FEATURES: Dense<f32, 2, 4, Relu> = Dense::from_columns(
///     [[1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 1.0, -1.0]],
///     [0.0, 0.0, 0.0, 0.0],
/// );
/// type OnDevice = layers![Frozen<'static, f32, 2, 4, Relu>, Dense<f32, 4, 2>];
/// // Only the last layer has gradients and momentum:
/// assert_eq!(OnDevice::GRADIENT_BYTES, (4 * 2 + 2) * 4);
///
/// let mut net: OnDevice = Chain::new(Frozen(&FEATURES), Dense::zeroed());
/// let inputs = [[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]];
/// let labels = [0, 0, 1, 1];
/// let data = Dataset::new(&inputs, &labels).unwrap();
/// let config = TrainConfig { epochs: 200, batch_size: 4, schedule: Schedule::constant(0.5), ..TrainConfig::new(Sgd) };
/// let (mut state, mut order) = (TrainState::<OnDevice, Sgd>::new(), [0u16; 4]);
/// let mut learner = Learner::new(&mut net, &mut state, &mut order, SoftmaxCrossEntropy, &config).unwrap();
/// let summary = learner.fit(data, |_, _| ControlFlow::Continue(())).unwrap();
/// assert_eq!(summary.last.train.accuracy, 1.0);
/// ```
#[derive(Debug, PartialEq)]
pub struct Frozen<'a, T, const I: usize, const O: usize, A = Identity>(pub &'a Dense<T, I, O, A>);

impl<T, const I: usize, const O: usize, A> Clone for Frozen<'_, T, I, O, A> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T, const I: usize, const O: usize, A> Copy for Frozen<'_, T, I, O, A> {}

/// The gradient (or momentum) of one [`Dense`] layer's parameters (not `Copy`, like [`Dense`]).
#[derive(Clone, Debug, PartialEq)]
pub struct DenseGradients<T, const I: usize, const O: usize> {
    /// Same layout as [`Dense::weights`].
    pub weights: SMatrix<T, O, I>,
    /// Same layout as [`Dense::biases`].
    pub biases: SVector<T, O>,
}

impl<T: Float, const I: usize, const O: usize> crate::buffer::sealed::Sealed for DenseGradients<T, I, O> {}
impl<T: Float, const I: usize, const O: usize> Zeroed for DenseGradients<T, I, O> {
    const ZEROED: Self = DenseGradients::zeroed();
    fn set_zero(&mut self) {
        self.weights.set_zero();
        self.biases.set_zero();
    }
}

impl<T: Float, const I: usize, const O: usize> DenseGradients<T, I, O> {
    /// All zeros: `const`, so a device can keep it in a `static`.
    pub const fn zeroed() -> Self {
        DenseGradients { weights: SMatrix::ZEROED, biases: SVector::ZEROED }
    }
}

impl<T: Float, const I: usize, const O: usize, A: Activation> Dense<T, I, O, A> {
    /// A layer from its weights, one array per *input* (column-major, as stored),
    /// and its biases. `const`, so exported models can be `static`s in flash.
    pub const fn from_columns(columns: [[T; O]; I], biases: [T; O]) -> Self {
        Dense {
            weights: SMatrix::from_array_storage(ArrayStorage(columns)),
            biases: SMatrix::from_array_storage(ArrayStorage([biases])),
            activation: PhantomData,
        }
    }

    /// An all-zero layer (untrained; call [`Network::initialize`](crate::Network::initialize)).
    ///
    /// Returned by value, so it passes through the stack: for a big network on
    /// a host, allocate it zeroed on the heap instead and initialise it there
    /// (see [`Zeroed`](crate::Zeroed#big-networks-on-a-host)).
    pub const fn zeroed() -> Self {
        Dense { weights: SMatrix::ZEROED, biases: SVector::ZEROED, activation: PhantomData }
    }

    /// Whether every weight and bias is finite.
    pub fn parameters_finite(&self) -> bool {
        self.weights.iter().chain(self.biases.iter()).all(|v| v.is_finite())
    }

    /// `a = f(W x + b)`.
    #[inline(always)]
    pub(crate) fn forward_into(&self, x: &[T; I], a: &mut [T; O]) {
        if SCALAR_FPU {
            self.forward_blocked(x, a);
        } else {
            self.forward_across_outputs(x, a);
        }
    }

    /// `a = f(W x + b)` for a vector unit: inputs outside, all outputs inside.
    #[inline(always)]
    pub(crate) fn forward_across_outputs(&self, x: &[T; I], a: &mut [T; O]) {
        // `+ 0` turns a bias of −0 into +0, so no partial sum is ever −0 and
        // adding the `w·0` of a zero input cannot change it: skipping zero
        // inputs or not gives the same bits.
        let mut z = *column(&self.biases);
        for zi in z.iter_mut() {
            *zi += T::ZERO;
        }
        let skip = skip_zero_inputs::<O>();
        for (weights_from_input, &xj) in self.weights.data.0.iter().zip(x) {
            if skip && xj == T::ZERO {
                continue;
            }
            for (zi, &w) in z.iter_mut().zip(weights_from_input) {
                *zi += w * xj;
            }
        }
        for (ai, zi) in a.iter_mut().zip(z) {
            *ai = A::apply(zi);
        }
    }

    /// `a = f(W x + b)` for a scalar FPU: outputs in blocks of [`BLOCK`],
    /// each block's sums held in registers while every input goes by, and
    /// inputs two at a time. Each output's sum is still `b + w₀x₀ + w₁x₁ + …`
    /// in that order, so the bits are those of
    /// [`forward_across_outputs`](Self::forward_across_outputs); only the
    /// loop nest differs. A pair of zero inputs is skipped with one test.
    #[inline(always)]
    pub(crate) fn forward_blocked(&self, x: &[T; I], a: &mut [T; O]) {
        let biases = column(&self.biases);
        let (full_blocks, rest) = a.as_chunks_mut::<BLOCK>();
        for (block, a_block) in full_blocks.iter_mut().enumerate() {
            let offset = block * BLOCK;
            let mut z = [T::ZERO; BLOCK];
            self.block_sums(x, biases, offset, &mut z);
            for (ai, &zi) in a_block.iter_mut().zip(&z) {
                *ai = A::apply(zi);
            }
        }
        if !rest.is_empty() {
            let mut z = [T::ZERO; BLOCK];
            self.block_sums(x, biases, O - rest.len(), &mut z);
            for (ai, &zi) in rest.iter_mut().zip(&z) {
                *ai = A::apply(zi);
            }
        }
    }

    /// `z[k] = b + Σⱼ w·x` for the outputs `offset..` (as many as fit in
    /// `z` and the layer), inputs in order.
    #[inline(always)]
    fn block_sums<const B: usize>(&self, x: &[T; I], biases: &[T; O], offset: usize, z: &mut [T; B]) {
        let Some(b) = biases.get(offset..) else { return };
        // `+ 0`: no partial sum is −0, so skipping zero inputs keeps the bits.
        for (zk, &bk) in z.iter_mut().zip(b) {
            *zk = bk + T::ZERO;
        }
        let columns = &self.weights.data.0;
        let (column_pairs, last_column) = columns.as_chunks::<2>();
        let (input_pairs, last_input) = x.as_chunks::<2>();
        for ([c0, c1], &[x0, x1]) in column_pairs.iter().zip(input_pairs) {
            add_input_pair(z, [c0, c1], [x0, x1], offset);
        }
        for (c, &xj) in last_column.iter().zip(last_input) {
            let Some(w) = c.get(offset..) else { return };
            for (zk, &wk) in z.iter_mut().zip(w) {
                *zk += wk * xj;
            }
        }
    }

    /// Turns `delta` from `∂L/∂a` into `∂L/∂z` and, if asked, writes `∂L/∂x`.
    #[inline(always)]
    fn backward_through(&self, a: &[T; O], delta: &mut [T; O], dx: Option<&mut [T; I]>) {
        for (d, &ai) in delta.iter_mut().zip(a) {
            *d *= A::derivative_from_output(ai);
        }
        if let Some(dx) = dx {
            for (dxj, weights_from_input) in dx.iter_mut().zip(&self.weights.data.0) {
                let mut sum = T::ZERO;
                for (&w, &d) in weights_from_input.iter().zip(delta.iter()) {
                    sum += w * d;
                }
                *dxj = sum;
            }
        }
    }

    /// Backprop for one sample: adds this sample's parameter gradient to `grads`.
    #[inline(always)]
    pub(crate) fn backward_into(
        &self,
        x: &[T; I],
        a: &[T; O],
        delta: &mut [T; O],
        grads: &mut DenseGradients<T, I, O>,
        dx: Option<&mut [T; I]>,
    ) {
        self.backward_through(a, delta, dx);
        for (g, &d) in column_mut(&mut grads.biases).iter_mut().zip(delta.iter()) {
            *g += d;
        }
        if SCALAR_FPU {
            accumulate_blocked(&mut grads.weights.data.0, x, delta);
            return;
        }
        let skip = skip_zero_inputs::<O>();
        for (g_from_input, &xj) in grads.weights.data.0.iter_mut().zip(x) {
            if skip && xj == T::ZERO {
                continue;
            }
            for (g, &d) in g_from_input.iter_mut().zip(delta.iter()) {
                *g += d * xj;
            }
        }
    }

    /// [`forward_into`](Self::forward_into) for two samples in one sweep over
    /// the weights: each sample's sums keep their order, and interleaving two
    /// independent chains hides the latency of the adds.
    #[inline(always)]
    pub(crate) fn forward_pair_into(&self, x: [&[T; I]; 2], a: [&mut [T; O]; 2]) {
        let [x0, x1] = x;
        let mut z0 = *column(&self.biases);
        for zi in z0.iter_mut() {
            *zi += T::ZERO;
        }
        let mut z1 = z0;
        let skip = skip_zero_inputs::<O>();
        for ((weights_from_input, &x0j), &x1j) in self.weights.data.0.iter().zip(x0).zip(x1) {
            // Skip each sample's zero exactly as the single-sample kernel does.
            match (skip && x0j == T::ZERO, skip && x1j == T::ZERO) {
                (true, true) => {}
                (false, false) => {
                    for ((z0i, z1i), &w) in z0.iter_mut().zip(z1.iter_mut()).zip(weights_from_input) {
                        *z0i += w * x0j;
                        *z1i += w * x1j;
                    }
                }
                (false, true) => add_scaled(&mut z0, weights_from_input, x0j),
                (true, false) => add_scaled(&mut z1, weights_from_input, x1j),
            }
        }
        let [a0, a1] = a;
        for ((a0i, a1i), (z0i, z1i)) in a0.iter_mut().zip(a1.iter_mut()).zip(z0.into_iter().zip(z1)) {
            *a0i = A::apply(z0i);
            *a1i = A::apply(z1i);
        }
    }

    /// [`backward_through`](Self::backward_through) for two samples.
    #[inline(always)]
    fn backward_through_pair(&self, a: [&[T; O]; 2], delta: [&mut [T; O]; 2], dx: Option<[&mut [T; I]; 2]>) {
        let [a0, a1] = a;
        let [delta0, delta1] = delta;
        for ((d0, d1), (&a0i, &a1i)) in delta0.iter_mut().zip(delta1.iter_mut()).zip(a0.iter().zip(a1)) {
            *d0 *= A::derivative_from_output(a0i);
            *d1 *= A::derivative_from_output(a1i);
        }
        if let Some([dx0, dx1]) = dx {
            for ((dx0j, dx1j), weights_from_input) in dx0.iter_mut().zip(dx1.iter_mut()).zip(&self.weights.data.0) {
                let mut sum0 = T::ZERO;
                let mut sum1 = T::ZERO;
                for ((&w, &d0), &d1) in weights_from_input.iter().zip(delta0.iter()).zip(delta1.iter()) {
                    sum0 += w * d0;
                    sum1 += w * d1;
                }
                *dx0j = sum0;
                *dx1j = sum1;
            }
        }
    }

    /// [`backward_into`](Self::backward_into) for two consecutive samples: each
    /// gradient becomes `(g + first) + second`, the same two adds in the same
    /// order as two single-sample calls, in one sweep over the gradient.
    #[inline(always)]
    pub(crate) fn backward_pair_into(
        &self,
        x: [&[T; I]; 2],
        a: [&[T; O]; 2],
        delta: [&mut [T; O]; 2],
        grads: &mut DenseGradients<T, I, O>,
        dx: Option<[&mut [T; I]; 2]>,
    ) {
        let [delta0, delta1] = delta;
        self.backward_through_pair(a, [&mut *delta0, &mut *delta1], dx);
        let (delta0, delta1) = (&*delta0, &*delta1);
        for ((g, &d0), &d1) in column_mut(&mut grads.biases).iter_mut().zip(delta0).zip(delta1) {
            *g = (*g + d0) + d1;
        }
        let [x0, x1] = x;
        let skip = skip_zero_inputs::<O>();
        for ((g_from_input, &x0j), &x1j) in grads.weights.data.0.iter_mut().zip(x0).zip(x1) {
            match (skip && x0j == T::ZERO, skip && x1j == T::ZERO) {
                (true, true) => {}
                (false, false) => {
                    for ((g, &d0), &d1) in g_from_input.iter_mut().zip(delta0).zip(delta1) {
                        *g = (*g + d0 * x0j) + d1 * x1j;
                    }
                }
                (false, true) => add_scaled(g_from_input, delta0, x0j),
                (true, false) => add_scaled(g_from_input, delta1, x1j),
            }
        }
    }
}

/// Outputs per block on a scalar FPU: 24 sums (or deltas) stay in a
/// Cortex-M4F's 32 single-precision registers, leaving 8 for weights and
/// inputs. Counted under QEMU for a 64→32→10 inference, blocks of 8, 12,
/// 16, 20, 24 and 28 took 2.81, 2.61, 2.53, 2.49, 2.45 and 3.20 instructions
/// per multiply-accumulate (28 no longer fits the registers).
const BLOCK: usize = 24;

/// Outputs per block when accumulating gradients on a scalar FPU: fewer
/// than [`BLOCK`], since each gradient also needs a register between its
/// load and its store (a 64→32→10 training sample, counted under QEMU:
/// blocks of 12, 16, 20 and 24 took 16 496, 16 077, 16 090 and 16 219 instructions).
const GRADIENT_BLOCK: usize = 16;

/// `z[k] += w₀[offset + k]·x₀`, then `+= w₁[offset + k]·x₁`, unless both inputs are zero.
#[inline(always)]
fn add_input_pair<T: Float, const B: usize, const O: usize>(z: &mut [T; B], w: [&[T; O]; 2], x: [T; 2], offset: usize) {
    let [x0, x1] = x;
    if T::both_zero(x0, x1) {
        return;
    }
    let (Some(w0), Some(w1)) = (w[0].get(offset..), w[1].get(offset..)) else { return };
    for ((zk, &w0k), &w1k) in z.iter_mut().zip(w0).zip(w1) {
        *zk += w0k * x0;
        *zk += w1k * x1;
    }
}

/// `g[j][o] += δ[o]·x[j]` for a scalar FPU: outputs in blocks of [`BLOCK`]
/// whose deltas stay in registers while every input goes by, inputs two at a
/// time, a pair of zero inputs skipped with one test. Each gradient gets the
/// same single add as in the vector-unit loop, so the bits are the same.
#[inline(always)]
pub(crate) fn accumulate_blocked<T: Float, const I: usize, const O: usize>(
    grads: &mut [[T; O]; I],
    x: &[T; I],
    delta: &[T; O],
) {
    let (full_blocks, rest) = delta.as_chunks::<GRADIENT_BLOCK>();
    for (block, d) in full_blocks.iter().enumerate() {
        accumulate_block(grads, x, d, block * GRADIENT_BLOCK);
    }
    if !rest.is_empty() {
        let mut d = [T::ZERO; GRADIENT_BLOCK];
        for (dk, &r) in d.iter_mut().zip(rest) {
            *dk = r;
        }
        accumulate_block(grads, x, &d, O - rest.len());
    }
}

/// [`accumulate_blocked`] for the outputs `offset..` (as many as fit in `d` and the layer).
#[inline(always)]
fn accumulate_block<T: Float, const I: usize, const O: usize, const B: usize>(
    grads: &mut [[T; O]; I],
    x: &[T; I],
    d: &[T; B],
    offset: usize,
) {
    let (grad_pairs, last_grad) = grads.as_chunks_mut::<2>();
    let (input_pairs, last_input) = x.as_chunks::<2>();
    for ([g0, g1], &[x0, x1]) in grad_pairs.iter_mut().zip(input_pairs) {
        if T::both_zero(x0, x1) {
            continue;
        }
        let (Some(g0), Some(g1)) = (g0.get_mut(offset..), g1.get_mut(offset..)) else { return };
        for ((g0k, g1k), &dk) in g0.iter_mut().zip(g1.iter_mut()).zip(d) {
            *g0k += dk * x0;
            *g1k += dk * x1;
        }
    }
    for (g, &xj) in last_grad.iter_mut().zip(last_input) {
        let Some(g) = g.get_mut(offset..) else { return };
        for (gk, &dk) in g.iter_mut().zip(d) {
            *gk += dk * xj;
        }
    }
}

/// `acc += v · s`, element by element.
#[inline(always)]
fn add_scaled<T: Float, const N: usize>(acc: &mut [T; N], v: &[T; N], s: T) {
    for (a, &vi) in acc.iter_mut().zip(v) {
        *a += vi * s;
    }
}

/// Whether a layer with `O` outputs should branch around zero inputs.
///
/// The bits are the same either way (see [`Dense::forward_into`]); only the
/// speed differs. A scalar FPU saves `O` multiply-adds per zero input. A
/// vector unit does a short column in a few instructions, fewer than a
/// mispredicted branch costs, so hosts skip zeros only in wide layers.
#[inline(always)]
const fn skip_zero_inputs<const O: usize>() -> bool {
    const HOST_MIN_OUTPUTS: usize = 64;
    SCALAR_FPU || O >= HOST_MIN_OUTPUTS
}

pub(crate) mod sealed {
    /// Only mlp-core implements [`Layer`](super::Layer).
    pub trait Sealed {}
}

/// One layer of a network: what [`Chain`](crate::Chain) needs to run it
/// forward and backward and to walk its parameters. Implemented by [`Dense`]
/// (trainable) and [`Frozen`] (read-only); whether a layer trains is decided
/// by its type, so a frozen layer has no gradient buffer (`Gradients = ()`).
///
/// Sealed: the layer kinds are mlp-core's own, so that every buffer stays
/// valid as all-zero bytes (see [`Zeroed`]).
pub trait Layer: sealed::Sealed {
    /// The scalar it computes in.
    type Scalar: Float;
    /// One sample in: `[Scalar; INPUTS]`.
    type Input: Copy;
    /// One sample out: `[Scalar; OUTPUTS]`.
    type Output: Copy;
    /// Its output kept for backprop (a column vector of `OUTPUTS`).
    type Activation: Zeroed;
    /// The shape of its trainable parameters: [`DenseGradients`] or `()`.
    type Gradients: Slots<Self::Scalar>;
    /// Width of its input.
    const INPUTS: usize;
    /// Width of its output.
    const OUTPUTS: usize;
    /// Trainable parameters (0 for a frozen layer).
    const PARAMETERS: usize;
    /// Every parameter, trainable or not: `INPUTS × OUTPUTS + OUTPUTS`.
    const ALL_PARAMETERS: usize;
    /// Its activation.
    const ACTIVATION: ActivationKind;
    /// Whether it trains.
    const TRAINABLE: bool;

    /// The output held in an activation buffer.
    fn output(activation: &Self::Activation) -> &Self::Output;
    /// The output held in an activation buffer, mutably.
    fn output_mut(activation: &mut Self::Activation) -> &mut Self::Output;
    /// `a = f(W x + b)`.
    fn forward_into(&self, x: &Self::Input, a: &mut Self::Output);
    /// Backprop through the layer: turns `delta` from `∂L/∂a` into `∂L/∂z`,
    /// adds the sample's gradient to `gradients`, writes `∂L/∂x` if asked.
    fn backward_into(
        &self,
        x: &Self::Input,
        a: &Self::Output,
        delta: &mut Self::Output,
        gradients: &mut Self::Gradients,
        dx: Option<&mut Self::Input>,
    );
    /// [`forward_into`](Layer::forward_into) for two samples, with the same bits as two calls.
    fn forward_pair_into(&self, x: [&Self::Input; 2], a: [&mut Self::Output; 2]);
    /// [`backward_into`](Layer::backward_into) for two consecutive samples,
    /// with the same bits as two calls.
    fn backward_pair_into(
        &self,
        x: [&Self::Input; 2],
        a: [&Self::Output; 2],
        delta: [&mut Self::Output; 2],
        gradients: &mut Self::Gradients,
        dx: Option<[&mut Self::Input; 2]>,
    );
    /// Visits its weights, then its biases, as layer `layer` of the walk.
    fn for_each_parameter(&self, layer: usize, f: &mut impl FnMut(Slot, &[Self::Scalar]));
    /// Visits its trainable weights, then biases, mutably, with their
    /// indices in a gradient-shaped buffer counted from `first_slot`.
    fn for_each_trainable_mut(
        &mut self,
        layer: usize,
        first_slot: usize,
        f: &mut impl FnMut(Slot, usize, &mut [Self::Scalar]),
    );
    /// The values of one input sample.
    fn input_values(x: &Self::Input) -> &[Self::Scalar];
    /// The values of one output.
    fn output_values(y: &Self::Output) -> &[Self::Scalar];
    /// The values of one output, mutably.
    fn output_values_mut(y: &mut Self::Output) -> &mut [Self::Scalar];
    /// Views a slice as one input sample, checking its length.
    fn input_from_slice(x: &[Self::Scalar]) -> Result<&Self::Input, Error>;
    /// Views a flat buffer as consecutive input samples, checking it is not ragged.
    fn inputs_from_flat(flat: &[Self::Scalar]) -> Result<&[Self::Input], Error>;
}

fn as_input<T, const I: usize>(x: &[T]) -> Result<&[T; I], Error> {
    x.try_into().map_err(|_| Error::InputLength { expected: I, found: x.len() })
}

fn as_inputs<T, const I: usize>(flat: &[T]) -> Result<&[[T; I]], Error> {
    if I == 0 {
        return Err(Error::InputLength { expected: I, found: 0 });
    }
    match flat.as_chunks::<I>() {
        (samples, []) => Ok(samples),
        _ => Err(Error::RaggedInputs { width: I, len: flat.len() }),
    }
}

/// What [`Dense`] and [`Frozen`] share: the layer's parameters and how it runs.
macro_rules! layer_common {
    () => {
        type Scalar = T;
        type Input = [T; I];
        type Output = [T; O];
        type Activation = SVector<T, O>;
        const INPUTS: usize = I;
        const OUTPUTS: usize = O;
        const ALL_PARAMETERS: usize = I * O + O;
        const ACTIVATION: ActivationKind = A::KIND;

        #[inline(always)]
        fn output(activation: &SVector<T, O>) -> &[T; O] {
            column(activation)
        }
        #[inline(always)]
        fn output_mut(activation: &mut SVector<T, O>) -> &mut [T; O] {
            column_mut(activation)
        }
        #[inline(always)]
        fn forward_into(&self, x: &[T; I], a: &mut [T; O]) {
            self.dense().forward_into(x, a);
        }
        #[inline(always)]
        fn forward_pair_into(&self, x: [&[T; I]; 2], a: [&mut [T; O]; 2]) {
            self.dense().forward_pair_into(x, a);
        }
        fn for_each_parameter(&self, layer: usize, f: &mut impl FnMut(Slot, &[T])) {
            let dense = self.dense();
            let slot =
                |part| Slot { layer, part, frozen: !Self::TRAINABLE, inputs: I, outputs: O, activation: A::KIND };
            f(slot(Part::Weights), dense.weights.as_slice());
            f(slot(Part::Biases), dense.biases.as_slice());
        }
        fn input_values(x: &[T; I]) -> &[T] {
            x
        }
        fn output_values(y: &[T; O]) -> &[T] {
            y
        }
        fn output_values_mut(y: &mut [T; O]) -> &mut [T] {
            y
        }
        fn input_from_slice(x: &[T]) -> Result<&[T; I], Error> {
            as_input(x)
        }
        fn inputs_from_flat(flat: &[T]) -> Result<&[[T; I]], Error> {
            as_inputs(flat)
        }
    };
}

impl<T: Float, const I: usize, const O: usize, A: Activation> sealed::Sealed for Dense<T, I, O, A> {}
impl<T: Float, const I: usize, const O: usize, A: Activation> Layer for Dense<T, I, O, A> {
    type Gradients = DenseGradients<T, I, O>;
    const PARAMETERS: usize = I * O + O;
    const TRAINABLE: bool = true;
    layer_common!();

    #[inline(always)]
    fn backward_into(
        &self,
        x: &[T; I],
        a: &[T; O],
        delta: &mut [T; O],
        gradients: &mut DenseGradients<T, I, O>,
        dx: Option<&mut [T; I]>,
    ) {
        Dense::backward_into(self, x, a, delta, gradients, dx);
    }

    #[inline(always)]
    fn backward_pair_into(
        &self,
        x: [&[T; I]; 2],
        a: [&[T; O]; 2],
        delta: [&mut [T; O]; 2],
        gradients: &mut DenseGradients<T, I, O>,
        dx: Option<[&mut [T; I]; 2]>,
    ) {
        Dense::backward_pair_into(self, x, a, delta, gradients, dx);
    }

    #[inline(always)]
    fn for_each_trainable_mut(&mut self, layer: usize, first_slot: usize, f: &mut impl FnMut(Slot, usize, &mut [T])) {
        let slot = |part| Slot { layer, part, frozen: false, inputs: I, outputs: O, activation: A::KIND };
        f(slot(Part::Weights), first_slot, self.weights.as_mut_slice());
        f(slot(Part::Biases), first_slot + 1, self.biases.as_mut_slice());
    }
}

impl<T: Float, const I: usize, const O: usize, A: Activation> sealed::Sealed for Frozen<'_, T, I, O, A> {}
impl<T: Float, const I: usize, const O: usize, A: Activation> Layer for Frozen<'_, T, I, O, A> {
    type Gradients = ();
    const PARAMETERS: usize = 0;
    const TRAINABLE: bool = false;
    layer_common!();

    #[inline(always)]
    fn backward_into(&self, _x: &[T; I], a: &[T; O], delta: &mut [T; O], _gradients: &mut (), dx: Option<&mut [T; I]>) {
        self.0.backward_through(a, delta, dx);
    }

    #[inline(always)]
    fn backward_pair_into(
        &self,
        _x: [&[T; I]; 2],
        a: [&[T; O]; 2],
        delta: [&mut [T; O]; 2],
        _gradients: &mut (),
        dx: Option<[&mut [T; I]; 2]>,
    ) {
        self.0.backward_through_pair(a, delta, dx);
    }

    fn for_each_trainable_mut(
        &mut self,
        _layer: usize,
        _first_slot: usize,
        _f: &mut impl FnMut(Slot, usize, &mut [T]),
    ) {
    }
}

/// The dense layer behind a layer kind.
trait DenseView<T, const I: usize, const O: usize, A> {
    fn dense(&self) -> &Dense<T, I, O, A>;
}
impl<T, const I: usize, const O: usize, A> DenseView<T, I, O, A> for Dense<T, I, O, A> {
    #[inline(always)]
    fn dense(&self) -> &Dense<T, I, O, A> {
        self
    }
}
impl<T, const I: usize, const O: usize, A> DenseView<T, I, O, A> for Frozen<'_, T, I, O, A> {
    #[inline(always)]
    fn dense(&self) -> &Dense<T, I, O, A> {
        self.0
    }
}

impl<T: Float, const I: usize, const O: usize, A: Activation> Default for Dense<T, I, O, A> {
    fn default() -> Self {
        Self::zeroed()
    }
}

#[cfg(test)]
mod tests {
    //! The scalar-FPU kernels (blocks of outputs in registers) against the
    //! vector-unit kernels (all outputs per input): the same bits, here on the
    //! host; the firmware's cross-checks show the same on the device.
    use super::*;
    use crate::activation::{Relu, Tanh};
    use crate::init::unit_interval;
    use rand_core::SeedableRng;

    /// Values in [−2, 2], a third of them zero (some −0), so that pairs of
    /// zero inputs, single zeros and full pairs all occur.
    fn values<const N: usize>(rng: &mut crate::DefaultRng) -> [f32; N] {
        core::array::from_fn(|_| match (unit_interval(rng) * 6.0) as u32 {
            0 => 0.0,
            1 => -0.0,
            _ => (4.0 * unit_interval(rng) - 2.0) as f32,
        })
    }

    fn layer<const I: usize, const O: usize, A: Activation>(rng: &mut crate::DefaultRng) -> Dense<f32, I, O, A> {
        let mut columns = [[0.0; O]; I];
        for column in &mut columns {
            *column = values(rng);
        }
        Dense::from_columns(columns, values(rng))
    }

    fn bits<const N: usize>(v: &[f32; N]) -> [u32; N] {
        v.map(f32::to_bits)
    }

    fn same_bits_both_ways<const I: usize, const O: usize, A: Activation>(seed: u64) {
        let mut rng = crate::DefaultRng::seed_from_u64(seed);
        for _ in 0..20 {
            let dense: Dense<f32, I, O, A> = layer(&mut rng);
            let x: [f32; I] = values(&mut rng);
            let (mut blocked, mut across) = ([f32::NAN; O], [f32::NAN; O]);
            dense.forward_blocked(&x, &mut blocked);
            dense.forward_across_outputs(&x, &mut across);
            assert_eq!(bits(&blocked), bits(&across), "forward, {I}→{O}");

            let delta: [f32; O] = values(&mut rng);
            // A gradient sum starts at +0 and adding products never makes it −0.
            let start: [[f32; O]; I] = core::array::from_fn(|_| values(&mut rng).map(|g: f32| g + 0.0));
            let mut blocked = start;
            accumulate_blocked(&mut blocked, &x, &delta);
            for ((g_blocked, g_start), &xj) in blocked.iter().zip(&start).zip(&x) {
                let expected: [f32; O] = core::array::from_fn(|o| g_start[o] + delta[o] * xj);
                // Whether a zero input is skipped or not, `g + δ·0 = g` for a g that is not −0.
                assert_eq!(bits(g_blocked), bits(&expected), "gradient, {I}→{O}");
            }
        }
    }

    #[test]
    fn blocked_kernels_give_the_bits_of_the_vector_kernels() {
        // Output counts below, at, between and above multiples of the block;
        // odd and even input counts (a last unpaired input).
        same_bits_both_ways::<1, 1, Relu>(1);
        same_bits_both_ways::<3, 5, Tanh>(2);
        same_bits_both_ways::<64, 10, Identity>(3);
        same_bits_both_ways::<7, 24, Relu>(4);
        same_bits_both_ways::<8, 25, Relu>(5);
        same_bits_both_ways::<64, 32, Relu>(6);
        same_bits_both_ways::<33, 50, Tanh>(7);
        same_bits_both_ways::<16, 72, Identity>(8);
    }
}
