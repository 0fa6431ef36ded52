//! Networks of any depth as types: a single layer, or a [`Chain`] of a layer
//! and a network. Adjacent sizes must agree or the type does not implement
//! [`Network`]: a shape error is a compile error.
//!
//! ```
//! use mlp_core::{layers, Dense, Network, activation::{Relu, Tanh}};
//! type Net = layers![Dense<f32, 4, 8, Relu>, Dense<f32, 8, 8, Tanh>, Dense<f32, 8, 3>];
//! assert_eq!(Net::INPUTS, 4);
//! assert_eq!(Net::OUTPUTS, 3);
//! assert_eq!(Net::PARAMETERS, (4 * 8 + 8) + (8 * 8 + 8) + (8 * 3 + 3));
//! ```
//!
//! A mismatch between one layer's outputs and the next layer's inputs does not compile:
//!
//! ```compile_fail,E0599
//! use mlp_core::{layers, Dense, Network, activation::Relu};
//! type Net = layers![Dense<f32, 4, 8, Relu>, Dense<f32, 7, 3>];
//! let _ = Net::INPUTS;
//! ```
//!
//! However deep in the network it is (here between the second and third layers):
//!
//! ```compile_fail,E0599
//! use mlp_core::{layers, Dense, Network, activation::Relu};
//! type Net = layers![Dense<f32, 4, 8, Relu>, Dense<f32, 8, 6, Relu>, Dense<f32, 5, 3>];
//! let _ = Net::INPUTS;
//! ```
//!
//! Nor do layers of different float types chain:
//!
//! ```compile_fail,E0599
//! use mlp_core::{layers, Dense, Network, activation::Relu};
//! type Net = layers![Dense<f32, 4, 8, Relu>, Dense<f64, 8, 3>];
//! let _ = Net::OUTPUTS;
//! ```

use core::mem::size_of;

use rand_core::Rng;

use crate::activation::Activation;
use crate::buffer::Zeroed;
use crate::dropout::DropoutRule;
use crate::error::Error;
use crate::float::Float;
use crate::init::Init;
use crate::layer::{Dense, Layer};
use crate::optim::{Momentum, Optimizer};
use crate::rng::XorShift128 as DefaultRng;
use crate::walk::{Part, Slot, Slots};

/// A layer followed by the rest of a network. Also the shape of every buffer
/// that follows the network's structure (activations, deltas, gradients).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Chain<Head, Tail> {
    /// The first layer (or its buffer).
    pub head: Head,
    /// Everything after it.
    pub tail: Tail,
}

impl<Head, Tail> Chain<Head, Tail> {
    /// Puts a layer in front of a network.
    pub const fn new(head: Head, tail: Tail) -> Self {
        Chain { head, tail }
    }
}

impl<Head: Zeroed, Tail: Zeroed> crate::buffer::sealed::Sealed for Chain<Head, Tail> {}
impl<Head: Zeroed, Tail: Zeroed> Zeroed for Chain<Head, Tail> {
    const ZEROED: Self = Chain { head: Head::ZEROED, tail: Tail::ZEROED };
    fn set_zero(&mut self) {
        self.head.set_zero();
        self.tail.set_zero();
    }
}

/// The type of a network from its layers, first to last.
///
/// `layers![A, B, C]` is `Chain<A, Chain<B, C>>`.
#[macro_export]
macro_rules! layers {
    ($last:ty $(,)?) => { $last };
    ($first:ty, $($rest:ty),+ $(,)?) => { $crate::Chain<$first, $crate::layers![$($rest),+]> };
}

/// A feed-forward network whose every size is known at compile time.
///
/// Implemented by [`Dense`], [`Frozen`](crate::Frozen) and [`Chain`]s of them. The buffers a
/// network needs are associated types, so their sizes, and so the RAM that
/// inference and training take, are associated constants.
pub trait Network: Sized {
    /// The scalar it computes in.
    type Scalar: Float;
    /// One sample: `[Scalar; INPUTS]`.
    type Input: Copy;
    /// The raw output: `[Scalar; OUTPUTS]`.
    type Output: Copy;
    /// Every layer's output for one sample, kept by the forward pass for backprop.
    type Activations: Zeroed;
    /// Every layer's `∂L/∂a` (then `∂L/∂z`) for one sample.
    type Deltas: Zeroed;
    /// One value per trainable parameter (gradients, momentum); `()` for frozen layers.
    type Gradients: Slots<Self::Scalar>;
    /// One value per hidden unit (every layer's output but the last): the
    /// shape of a [`DropoutCache`]'s masks and dropped outputs.
    type Hidden: Zeroed;

    /// Width of a sample.
    const INPUTS: usize;
    /// Width of the output.
    const OUTPUTS: usize;
    /// Number of trainable parameters (weights and biases).
    const PARAMETERS: usize;
    /// Number of layers, frozen ones included.
    const LAYERS: usize;
    /// Number of parameters, frozen ones included: what a model file stores.
    const ALL_PARAMETERS: usize;
    /// Bytes of this network's model file (no optional sections), so
    /// firmware can size a static buffer: see [`model`](crate::model).
    const MODEL_BYTES: usize = crate::model::model_bytes::<Self>();

    /// Bytes of RAM the network value occupies (a frozen layer's parameters live
    /// elsewhere and count only as the reference to them).
    const PARAMETER_BYTES: usize = size_of::<Self>();
    /// Bytes of the gradient buffer.
    const GRADIENT_BYTES: usize = size_of::<Self::Gradients>();
    /// Bytes of one optimizer-state buffer (an optimizer keeps
    /// [`Optimizer::BUFFERS`] of them).
    const OPTIMIZER_BYTES: usize = size_of::<Self::Gradients>();
    /// Bytes of the per-sample cache: activations plus deltas.
    const CACHE_BYTES: usize = size_of::<Self::Activations>() + size_of::<Self::Deltas>();
    /// Bytes that inference needs: the network and its activations.
    const INFERENCE_BYTES: usize = size_of::<Self>() + size_of::<Self::Activations>();
    /// Bytes that training with momentum needs: the network and its
    /// [`TrainState`]. For another optimizer `O`:
    /// `PARAMETER_BYTES + TrainState::<Self, O>::BYTES`.
    const TRAINING_BYTES: usize = size_of::<Self>() + size_of::<TrainState<Self>>();
    /// Bytes of the [`DropoutCache`] that training with dropout needs beside
    /// [`TRAINING_BYTES`](Network::TRAINING_BYTES): a mask and a dropped
    /// output per hidden unit (see [`dropout`](crate::dropout)).
    const DROPOUT_BYTES: usize = size_of::<DropoutCache<Self>>();

    /// Runs one sample forward, keeping every layer's output in `activations`.
    ///
    /// Inputs that are exactly zero are skipped, with the same result bits,
    /// so the time depends on the data: budget for every input non-zero
    /// (see [On a device](crate#on-a-device)).
    fn forward<'a>(&self, x: &Self::Input, activations: &'a mut Self::Activations) -> &'a Self::Output;

    /// Backprop for one sample after [`forward`](Network::forward): expects
    /// `∂L/∂output` in [`output_delta`](Network::output_delta), adds the sample's
    /// gradient to `gradients`, and writes `∂L/∂x` into `dx` if given.
    /// Entries of `deltas` that nothing needs (in front of frozen layers,
    /// when `dx` is `None`) may be left as they were.
    fn backward(
        &self,
        x: &Self::Input,
        activations: &Self::Activations,
        deltas: &mut Self::Deltas,
        gradients: &mut Self::Gradients,
        dx: Option<&mut Self::Input>,
    );

    /// [`forward`](Network::forward) for two samples at once, each with its own
    /// activations. Every value is computed by the same operations in the same
    /// order as by two calls of `forward`, so the bits are the same; only the
    /// interleaving differs (two independent chains of adds hide latency).
    fn forward_pair<'c>(
        &self,
        x: [&Self::Input; 2],
        activations: [&'c mut Self::Activations; 2],
    ) -> [&'c Self::Output; 2];

    /// [`backward`](Network::backward) for two samples after
    /// [`forward_pair`](Network::forward_pair): gives `gradients` the same bits
    /// as `backward` for the first sample followed by `backward` for the
    /// second (each gradient value becomes `(g + first) + second`), in one
    /// sweep over the gradients.
    fn backward_pair(
        &self,
        x: [&Self::Input; 2],
        activations: [&Self::Activations; 2],
        deltas: [&mut Self::Deltas; 2],
        gradients: &mut Self::Gradients,
        dx: Option<[&mut Self::Input; 2]>,
    );

    /// Draws every hidden layer's mask for one sample into `masks`, first
    /// layer to last, hidden layer `layer` onwards (see [`dropout`](crate::dropout)).
    fn draw_masks<R: Rng + ?Sized>(
        rule: &DropoutRule<Self::Scalar>,
        layer: usize,
        masks: &mut Self::Hidden,
        rng: &mut R,
    );

    /// [`forward`](Network::forward) while training with dropout: each
    /// hidden layer's output is kept in `activations` as computed, and, times
    /// its mask from `masks`, in `dropped`, which the next layer takes.
    fn forward_dropout<'a>(
        &self,
        x: &Self::Input,
        activations: &'a mut Self::Activations,
        masks: &Self::Hidden,
        dropped: &mut Self::Hidden,
    ) -> &'a Self::Output;

    /// [`backward`](Network::backward) after
    /// [`forward_dropout`](Network::forward_dropout): each hidden layer's
    /// `∂L/∂a′` is multiplied by its mask before the layer's derivative.
    #[allow(clippy::too_many_arguments)] // the forward values, the masks and where to sum: no natural group
    fn backward_dropout(
        &self,
        x: &Self::Input,
        activations: &Self::Activations,
        masks: &Self::Hidden,
        dropped: &Self::Hidden,
        deltas: &mut Self::Deltas,
        gradients: &mut Self::Gradients,
        dx: Option<&mut Self::Input>,
    );

    /// The last layer's output within `activations`.
    fn output(activations: &Self::Activations) -> &Self::Output;

    /// Where the loss writes `∂L/∂output` before [`backward`](Network::backward).
    fn output_delta(deltas: &mut Self::Deltas) -> &mut Self::Output;

    /// Draws new weights for every trainable layer, first to last, and zeroes
    /// their biases; frozen layers are untouched. Fails, changing nothing, if
    /// the initialiser's parameters are invalid for the network's scalar (see
    /// [`Init::is_valid_for`]).
    fn initialize<R: Rng + ?Sized>(&mut self, init: Init, rng: &mut R) -> Result<(), Error> {
        if !init.is_valid_for::<Self::Scalar>() {
            return Err(Error::InvalidHyperparameter {
                name: crate::error::Hyperparameter::InitialiserRange,
                requirement: "positive and finite in the network's float type, and not subnormal",
            });
        }
        self.for_each_trainable_mut(|slot, _, values| match slot.part {
            Part::Weights => {
                for w in values {
                    *w = Self::Scalar::from_f64(init.sample(rng, slot.inputs, slot.outputs));
                }
            }
            Part::Biases => values.fill(Self::Scalar::ZERO),
        });
        Ok(())
    }

    /// Whether every parameter, trainable or frozen, is finite.
    fn parameters_finite(&self) -> bool {
        let mut finite = true;
        self.for_each_parameter(|_, values| finite &= crate::train::all_finite(values));
        finite
    }

    /// Visits every parameter, frozen layers included, in the walk's order
    /// (see [`walk`](crate::walk)).
    fn for_each_parameter(&self, mut f: impl FnMut(Slot, &[Self::Scalar])) {
        self.walk_parameters(0, &mut f);
    }

    /// Visits every trainable parameter mutably, in the walk's order, with
    /// the index of its slice in a gradient-shaped buffer ([`Slots`]).
    fn for_each_trainable_mut(&mut self, mut f: impl FnMut(Slot, usize, &mut [Self::Scalar])) {
        self.walk_trainable_mut(0, 0, &mut f);
    }

    /// Visits every trainable parameter's slice together with the same slice
    /// of the gradient buffer and of `K` optimizer-state buffers, in the
    /// walk's order.
    #[inline(always)]
    fn for_each_trainable_zip<const K: usize>(
        &mut self,
        gradients: &mut Self::Gradients,
        mut states: [&mut Self::Gradients; K],
        mut f: impl FnMut(Slot, &mut [Self::Scalar], &mut [Self::Scalar], [&mut [Self::Scalar]; K]),
    ) {
        self.walk_trainable_mut(0, 0, &mut |slot, index, values| {
            let buffers = states.each_mut().map(|state| state.slot_mut(index));
            f(slot, values, gradients.slot_mut(index), buffers);
        });
    }

    /// [`for_each_parameter`](Network::for_each_parameter) from layer index `layer` on.
    fn walk_parameters(&self, layer: usize, f: &mut impl FnMut(Slot, &[Self::Scalar]));

    /// [`for_each_trainable_mut`](Network::for_each_trainable_mut) from layer
    /// index `layer` and slot index `first_slot` on.
    fn walk_trainable_mut(
        &mut self,
        layer: usize,
        first_slot: usize,
        f: &mut impl FnMut(Slot, usize, &mut [Self::Scalar]),
    );

    /// Calls `f` with each layer's index (counted from `first`) and its
    /// description, from the types alone: what a model file's layer table holds.
    fn describe_layers(first: usize, f: &mut impl FnMut(usize, crate::model::LayerRecord));

    /// The values of one sample.
    fn input_values(x: &Self::Input) -> &[Self::Scalar];

    /// The values of one output.
    fn output_values(y: &Self::Output) -> &[Self::Scalar];

    /// Views a slice as one sample, checking its length.
    fn input_from_slice(x: &[Self::Scalar]) -> Result<&Self::Input, Error>;

    /// Views a flat buffer as consecutive samples, checking it is not ragged.
    fn inputs_from_flat(flat: &[Self::Scalar]) -> Result<&[Self::Input], Error>;
}

/// One sample's forward and backward values: scratch, overwritten by every sample.
pub struct Scratch<N: Network> {
    /// Forward values of the current sample.
    pub activations: N::Activations,
    /// Backward values of the current sample.
    pub deltas: N::Deltas,
}

/// Clone and Debug by hand: derived, they would require the network type
/// itself to be `Clone` and `Debug`, not only its buffers.
macro_rules! buffer_impls {
    ($name:ident<$($param:ident $(: $bound:path)?),*> { $($field:ident),* }) => {
        impl<$($param $(: $bound)?),*> Clone for $name<$($param),*> {
            fn clone(&self) -> Self {
                $name { $($field: self.$field.clone()),* }
            }
        }
        impl<$($param $(: $bound)?),*> core::fmt::Debug for $name<$($param),*> {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.debug_struct(stringify!($name))$(.field(stringify!($field), &self.$field))*.finish()
            }
        }
    };
}

buffer_impls!(Scratch<N: Network> { activations, deltas });
buffer_impls!(Persistent<N: Network, O: Optimizer> { optimizer, steps, epoch, rng });
buffer_impls!(TrainState<N: Network, O: Optimizer> { scratch, gradients, persistent });
buffer_impls!(PairCache<N: Network> { activations, deltas });
buffer_impls!(DropoutCache<N: Network> { masks, dropped });

impl<N: Network> crate::buffer::sealed::Sealed for Scratch<N> {}
impl<N: Network> Zeroed for Scratch<N> {
    const ZEROED: Self = Scratch { activations: N::Activations::ZEROED, deltas: N::Deltas::ZEROED };
    fn set_zero(&mut self) {
        self.activations.set_zero();
        self.deltas.set_zero();
    }
}

/// What training carries from one step and epoch to the next, and what a
/// checkpoint saves: the optimizer's state, the step and epoch counts, and
/// the random generator that shuffles (its state is readable and
/// restorable: [`XorShift128::state`](crate::XorShift128::state)).
pub struct Persistent<N: Network, O: Optimizer> {
    /// The optimizer's buffers (`O::BUFFERS` of them, shaped like the trainable parameters).
    pub optimizer: O::State<N::Gradients>,
    /// Optimizer steps taken (Adam's bias correction counts them).
    pub steps: u32,
    /// Epochs completed (the schedule's position).
    pub epoch: u32,
    /// The generator that shuffles every epoch.
    pub rng: DefaultRng,
}

impl<N: Network, O: Optimizer> crate::buffer::sealed::Sealed for Persistent<N, O> {}
impl<N: Network, O: Optimizer> Zeroed for Persistent<N, O> {
    const ZEROED: Self =
        Persistent { optimizer: O::State::<N::Gradients>::ZEROED, steps: 0, epoch: 0, rng: DefaultRng::ZEROED };
    fn set_zero(&mut self) {
        self.optimizer.set_zero();
        self.steps = 0;
        self.epoch = 0;
        self.rng = DefaultRng::ZEROED;
    }
}

/// Everything training needs beside the network, split by lifetime:
/// per-sample [`Scratch`], the gradient summed over the current batch, and
/// the [`Persistent`] part. `O` is the optimizer ([`Momentum`] by default).
pub struct TrainState<N: Network, O: Optimizer = Momentum> {
    /// One sample's forward and backward values.
    pub scratch: Scratch<N>,
    /// Gradient summed over the current batch.
    pub gradients: N::Gradients,
    /// Optimizer state, counters and generator.
    pub persistent: Persistent<N, O>,
}

impl<N: Network, O: Optimizer> crate::buffer::sealed::Sealed for TrainState<N, O> {}
impl<N: Network, O: Optimizer> Zeroed for TrainState<N, O> {
    const ZEROED: Self =
        TrainState { scratch: Scratch::ZEROED, gradients: N::Gradients::ZEROED, persistent: Persistent::ZEROED };
    fn set_zero(&mut self) {
        self.scratch.set_zero();
        self.gradients.set_zero();
        self.persistent.set_zero();
    }
}

impl<N: Network, O: Optimizer> TrainState<N, O> {
    /// Bytes of the state: scratch, gradient, optimizer buffers, counters
    /// and generator. With [`Network::PARAMETER_BYTES`], what training takes.
    pub const BYTES: usize = size_of::<Self>();

    /// Fresh state: no optimizer history, no accumulated gradient, epoch 0,
    /// the generator in its all-zero-seed state (seed it:
    /// `state.persistent.rng = DefaultRng::seed_from_u64(…)`).
    ///
    /// `const`, so firmware keeps the state in a `static` that lands in
    /// `.bss`: nothing is built on the stack and no `unsafe` is needed. With
    /// `static_cell`'s `ConstStaticCell`, taken once at start-up:
    ///
    /// ```ignore
    /// static STATE: ConstStaticCell<TrainState<Net>> = ConstStaticCell::new(TrainState::new());
    /// static NET: ConstStaticCell<Net> = ConstStaticCell::new(Net::ZEROED);
    /// let (Some(state), Some(net)) = (STATE.try_take(), NET.try_take()) else { return };
    /// ```
    ///
    /// A `const` of the state is all zeros:
    ///
    /// ```
    /// use mlp_core::{layers, Dense, TrainState, activation::Relu, optim::Adam};
    /// type Net = layers![Dense<f32, 64, 32, Relu>, Dense<f32, 32, 10>];
    /// static FRESH: TrainState<Net, Adam> = TrainState::new();
    /// assert!(FRESH.persistent.optimizer[1].head.weights.iter().all(|&v| v == 0.0));
    /// ```
    ///
    /// Called at run time it returns by value, through the stack: a 784→128→10
    /// network's state is about 800 KB. On a host, allocate big states zeroed
    /// on the heap instead (see [`Zeroed`](crate::Zeroed#big-networks-on-a-host));
    /// all-zero is exactly the fresh state.
    pub const fn new() -> Self {
        Self::ZEROED
    }
}

impl<N: Network, O: Optimizer> Default for TrainState<N, O> {
    fn default() -> Self {
        Self::new()
    }
}

/// The second sample's forward and backward values, for training two samples
/// at a time ([`Learner::with_pairs`](crate::Learner::with_pairs)); the first
/// sample's stay in [`TrainState`]. Kept out of `TrainState` so that the RAM a
/// device needs for one-sample training ([`Network::TRAINING_BYTES`]) does not grow.
pub struct PairCache<N: Network> {
    /// Forward values of the second sample.
    pub activations: N::Activations,
    /// Backward values of the second sample.
    pub deltas: N::Deltas,
}

impl<N: Network> crate::buffer::sealed::Sealed for PairCache<N> {}
impl<N: Network> Zeroed for PairCache<N> {
    const ZEROED: Self = PairCache { activations: N::Activations::ZEROED, deltas: N::Deltas::ZEROED };
    fn set_zero(&mut self) {
        self.activations.set_zero();
        self.deltas.set_zero();
    }
}

impl<N: Network> PairCache<N> {
    /// An all-zero cache ([`Network::CACHE_BYTES`] bytes).
    pub const fn new() -> Self {
        Self::ZEROED
    }
}

impl<N: Network> Default for PairCache<N> {
    fn default() -> Self {
        Self::new()
    }
}

/// One sample's dropout masks and dropped hidden outputs, for training with
/// [`Dropout`](crate::dropout::Dropout) ([`Learner::with_dropout`](crate::Learner::with_dropout)):
/// [`Network::DROPOUT_BYTES`] bytes, overwritten by every sample. Kept out of
/// [`TrainState`] so that training without dropout needs no more RAM.
/// `const`, so firmware keeps it in a `static`.
pub struct DropoutCache<N: Network> {
    /// Each hidden unit's mask: `1/keep` or 0.
    pub masks: N::Hidden,
    /// Each hidden unit's output times its mask: the next layer's input.
    pub dropped: N::Hidden,
}

impl<N: Network> crate::buffer::sealed::Sealed for DropoutCache<N> {}
impl<N: Network> Zeroed for DropoutCache<N> {
    const ZEROED: Self = DropoutCache { masks: N::Hidden::ZEROED, dropped: N::Hidden::ZEROED };
    fn set_zero(&mut self) {
        self.masks.set_zero();
        self.dropped.set_zero();
    }
}

impl<N: Network> DropoutCache<N> {
    /// An all-zero cache ([`Network::DROPOUT_BYTES`] bytes).
    pub const fn new() -> Self {
        Self::ZEROED
    }
}

impl<N: Network> Default for DropoutCache<N> {
    fn default() -> Self {
        Self::new()
    }
}

fn layer_record<L: Layer>() -> crate::model::LayerRecord {
    crate::model::LayerRecord {
        inputs: L::INPUTS,
        outputs: L::OUTPUTS,
        activation: L::ACTIVATION,
        frozen: !L::TRAINABLE,
    }
}

/// A single layer is a whole network.
impl<L: Layer> Network for L {
    type Scalar = L::Scalar;
    type Input = L::Input;
    type Output = L::Output;
    type Activations = L::Activation;
    type Deltas = L::Activation;
    type Gradients = L::Gradients;
    type Hidden = ();
    const INPUTS: usize = L::INPUTS;
    const OUTPUTS: usize = L::OUTPUTS;
    const PARAMETERS: usize = L::PARAMETERS;
    const LAYERS: usize = 1;
    const ALL_PARAMETERS: usize = L::ALL_PARAMETERS;

    #[inline(always)]
    fn forward<'c>(&self, x: &L::Input, activations: &'c mut L::Activation) -> &'c L::Output {
        let a = L::output_mut(activations);
        self.forward_into(x, a);
        a
    }

    #[inline(always)]
    fn backward(
        &self,
        x: &L::Input,
        activations: &L::Activation,
        deltas: &mut L::Activation,
        gradients: &mut L::Gradients,
        dx: Option<&mut L::Input>,
    ) {
        self.backward_into(x, L::output(activations), L::output_mut(deltas), gradients, dx);
    }

    #[inline(always)]
    fn forward_pair<'c>(&self, x: [&L::Input; 2], activations: [&'c mut L::Activation; 2]) -> [&'c L::Output; 2] {
        let [a0, a1] = activations.map(L::output_mut);
        self.forward_pair_into(x, [&mut *a0, &mut *a1]);
        [a0, a1]
    }

    #[inline(always)]
    fn backward_pair(
        &self,
        x: [&L::Input; 2],
        activations: [&L::Activation; 2],
        deltas: [&mut L::Activation; 2],
        gradients: &mut L::Gradients,
        dx: Option<[&mut L::Input; 2]>,
    ) {
        self.backward_pair_into(x, activations.map(L::output), deltas.map(L::output_mut), gradients, dx);
    }

    fn draw_masks<R: Rng + ?Sized>(_rule: &DropoutRule<L::Scalar>, _layer: usize, _masks: &mut (), _rng: &mut R) {}

    /// The output layer never drops: the plain forward pass.
    #[inline(always)]
    fn forward_dropout<'c>(
        &self,
        x: &L::Input,
        activations: &'c mut L::Activation,
        _masks: &(),
        _dropped: &mut (),
    ) -> &'c L::Output {
        self.forward(x, activations)
    }

    #[inline(always)]
    fn backward_dropout(
        &self,
        x: &L::Input,
        activations: &L::Activation,
        _masks: &(),
        _dropped: &(),
        deltas: &mut L::Activation,
        gradients: &mut L::Gradients,
        dx: Option<&mut L::Input>,
    ) {
        self.backward(x, activations, deltas, gradients, dx);
    }

    fn output(activations: &L::Activation) -> &L::Output {
        L::output(activations)
    }

    fn output_delta(deltas: &mut L::Activation) -> &mut L::Output {
        L::output_mut(deltas)
    }

    fn walk_parameters(&self, layer: usize, f: &mut impl FnMut(Slot, &[L::Scalar])) {
        Layer::for_each_parameter(self, layer, f);
    }

    #[inline(always)]
    fn walk_trainable_mut(
        &mut self,
        layer: usize,
        first_slot: usize,
        f: &mut impl FnMut(Slot, usize, &mut [L::Scalar]),
    ) {
        Layer::for_each_trainable_mut(self, layer, first_slot, f);
    }

    fn describe_layers(first: usize, f: &mut impl FnMut(usize, crate::model::LayerRecord)) {
        f(first, layer_record::<L>());
    }

    fn input_values(x: &L::Input) -> &[L::Scalar] {
        L::input_values(x)
    }

    fn output_values(y: &Self::Output) -> &[L::Scalar] {
        L::output_values(y)
    }

    fn input_from_slice(x: &[L::Scalar]) -> Result<&L::Input, Error> {
        L::input_from_slice(x)
    }

    fn inputs_from_flat(flat: &[L::Scalar]) -> Result<&[L::Input], Error> {
        L::inputs_from_flat(flat)
    }
}

/// A layer in front of a network that takes its output: the recursion over
/// layers, written once for every layer kind.
impl<L, Tail> Network for Chain<L, Tail>
where
    L: Layer,
    Tail: Network<Scalar = L::Scalar, Input = L::Output>,
{
    type Scalar = L::Scalar;
    type Input = L::Input;
    type Output = Tail::Output;
    type Activations = Chain<L::Activation, Tail::Activations>;
    type Deltas = Chain<L::Activation, Tail::Deltas>;
    type Gradients = Chain<L::Gradients, Tail::Gradients>;
    type Hidden = Chain<L::Activation, Tail::Hidden>;
    const INPUTS: usize = L::INPUTS;
    const OUTPUTS: usize = Tail::OUTPUTS;
    const PARAMETERS: usize = L::PARAMETERS + Tail::PARAMETERS;
    const LAYERS: usize = 1 + Tail::LAYERS;
    const ALL_PARAMETERS: usize = L::ALL_PARAMETERS + Tail::ALL_PARAMETERS;

    #[inline(always)]
    fn forward<'c>(&self, x: &L::Input, activations: &'c mut Self::Activations) -> &'c Tail::Output {
        let hidden = L::output_mut(&mut activations.head);
        self.head.forward_into(x, hidden);
        self.tail.forward(hidden, &mut activations.tail)
    }

    #[inline(always)]
    fn backward(
        &self,
        x: &L::Input,
        activations: &Self::Activations,
        deltas: &mut Self::Deltas,
        gradients: &mut Self::Gradients,
        dx: Option<&mut L::Input>,
    ) {
        let hidden = L::output(&activations.head);
        // A frozen head uses ∂L/∂hidden only to pass ∂L/∂x on: when no one
        // asked for that, the tail can skip computing it.
        if !L::TRAINABLE && dx.is_none() {
            self.tail.backward(hidden, &activations.tail, &mut deltas.tail, &mut gradients.tail, None);
            return;
        }
        let hidden_delta = L::output_mut(&mut deltas.head);
        self.tail.backward(hidden, &activations.tail, &mut deltas.tail, &mut gradients.tail, Some(hidden_delta));
        self.head.backward_into(x, hidden, hidden_delta, &mut gradients.head, dx);
    }

    #[inline(always)]
    fn forward_pair<'c>(
        &self,
        x: [&L::Input; 2],
        activations: [&'c mut Self::Activations; 2],
    ) -> [&'c Tail::Output; 2] {
        let [a0, a1] = activations;
        let (hidden0, hidden1) = (L::output_mut(&mut a0.head), L::output_mut(&mut a1.head));
        self.head.forward_pair_into(x, [&mut *hidden0, &mut *hidden1]);
        self.tail.forward_pair([hidden0, hidden1], [&mut a0.tail, &mut a1.tail])
    }

    #[inline(always)]
    fn backward_pair(
        &self,
        x: [&L::Input; 2],
        activations: [&Self::Activations; 2],
        deltas: [&mut Self::Deltas; 2],
        gradients: &mut Self::Gradients,
        dx: Option<[&mut L::Input; 2]>,
    ) {
        let hidden = activations.map(|a| L::output(&a.head));
        let tail_activations = activations.map(|a| &a.tail);
        let [d0, d1] = deltas;
        let tail_deltas = [&mut d0.tail, &mut d1.tail];
        if !L::TRAINABLE && dx.is_none() {
            self.tail.backward_pair(hidden, tail_activations, tail_deltas, &mut gradients.tail, None);
            return;
        }
        let (hidden_delta0, hidden_delta1) = (L::output_mut(&mut d0.head), L::output_mut(&mut d1.head));
        self.tail.backward_pair(
            hidden,
            tail_activations,
            tail_deltas,
            &mut gradients.tail,
            Some([&mut *hidden_delta0, &mut *hidden_delta1]),
        );
        self.head.backward_pair_into(x, hidden, [hidden_delta0, hidden_delta1], &mut gradients.head, dx);
    }

    #[inline(always)]
    fn draw_masks<R: Rng + ?Sized>(rule: &DropoutRule<L::Scalar>, layer: usize, masks: &mut Self::Hidden, rng: &mut R) {
        rule.draw(layer, rng, L::output_values_mut(L::output_mut(&mut masks.head)));
        Tail::draw_masks(rule, layer + 1, &mut masks.tail, rng);
    }

    #[inline(always)]
    fn forward_dropout<'c>(
        &self,
        x: &L::Input,
        activations: &'c mut Self::Activations,
        masks: &Self::Hidden,
        dropped: &mut Self::Hidden,
    ) -> &'c Tail::Output {
        let hidden = L::output_mut(&mut activations.head);
        self.head.forward_into(x, hidden);
        let kept = L::output_mut(&mut dropped.head);
        let mask = L::output_values(L::output(&masks.head));
        for ((k, &a), &m) in L::output_values_mut(kept).iter_mut().zip(L::output_values(hidden)).zip(mask) {
            *k = a * m;
        }
        self.tail.forward_dropout(kept, &mut activations.tail, &masks.tail, &mut dropped.tail)
    }

    #[inline(always)]
    fn backward_dropout(
        &self,
        x: &L::Input,
        activations: &Self::Activations,
        masks: &Self::Hidden,
        dropped: &Self::Hidden,
        deltas: &mut Self::Deltas,
        gradients: &mut Self::Gradients,
        dx: Option<&mut L::Input>,
    ) {
        let kept = L::output(&dropped.head);
        if !L::TRAINABLE && dx.is_none() {
            self.tail.backward_dropout(
                kept,
                &activations.tail,
                &masks.tail,
                &dropped.tail,
                &mut deltas.tail,
                &mut gradients.tail,
                None,
            );
            return;
        }
        let hidden_delta = L::output_mut(&mut deltas.head);
        self.tail.backward_dropout(
            kept,
            &activations.tail,
            &masks.tail,
            &dropped.tail,
            &mut deltas.tail,
            &mut gradients.tail,
            Some(hidden_delta),
        );
        let mask = L::output_values(L::output(&masks.head));
        for (d, &m) in L::output_values_mut(hidden_delta).iter_mut().zip(mask) {
            *d *= m;
        }
        // The derivative from the output before dropout: `activations` keeps it.
        self.head.backward_into(x, L::output(&activations.head), hidden_delta, &mut gradients.head, dx);
    }

    fn output(activations: &Self::Activations) -> &Tail::Output {
        Tail::output(&activations.tail)
    }

    fn output_delta(deltas: &mut Self::Deltas) -> &mut Tail::Output {
        Tail::output_delta(&mut deltas.tail)
    }

    fn walk_parameters(&self, layer: usize, f: &mut impl FnMut(Slot, &[L::Scalar])) {
        Layer::for_each_parameter(&self.head, layer, f);
        self.tail.walk_parameters(layer + 1, f);
    }

    #[inline(always)]
    fn walk_trainable_mut(
        &mut self,
        layer: usize,
        first_slot: usize,
        f: &mut impl FnMut(Slot, usize, &mut [L::Scalar]),
    ) {
        Layer::for_each_trainable_mut(&mut self.head, layer, first_slot, f);
        self.tail.walk_trainable_mut(layer + 1, first_slot + <L::Gradients as Slots<L::Scalar>>::SLOTS, f);
    }

    fn describe_layers(first: usize, f: &mut impl FnMut(usize, crate::model::LayerRecord)) {
        f(first, layer_record::<L>());
        Tail::describe_layers(first + 1, f);
    }

    fn input_values(x: &L::Input) -> &[L::Scalar] {
        L::input_values(x)
    }

    fn output_values(y: &Self::Output) -> &[L::Scalar] {
        Tail::output_values(y)
    }

    fn input_from_slice(x: &[L::Scalar]) -> Result<&L::Input, Error> {
        L::input_from_slice(x)
    }

    fn inputs_from_flat(flat: &[L::Scalar]) -> Result<&[L::Input], Error> {
        L::inputs_from_flat(flat)
    }
}

impl<T: Float, const I: usize, const O: usize, A: Activation> crate::buffer::sealed::Sealed for Dense<T, I, O, A> {}
impl<T: Float, const I: usize, const O: usize, A: Activation> Zeroed for Dense<T, I, O, A> {
    const ZEROED: Self = Dense::zeroed();
    fn set_zero(&mut self) {
        self.weights.set_zero();
        self.biases.set_zero();
    }
}
