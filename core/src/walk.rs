//! One walk over a network's parameters, in one fixed order: layer by layer,
//! first to last; within a layer, the weights in their storage order
//! (column-major: all the weights from input 0, then from input 1, …), then
//! the biases. Initialisation, the finite-check and every optimizer go
//! through it, and so will model files and exporters.
//!
//! Three forms: read-only over every layer, frozen ones included and marked
//! ([`Network::for_each_parameter`](crate::Network::for_each_parameter));
//! mutable over the trainable layers
//! ([`Network::for_each_trainable_mut`](crate::Network::for_each_trainable_mut));
//! and mutable zipped with the gradient buffer and `K` optimizer-state
//! buffers of the same shape
//! ([`Network::for_each_trainable_zip`](crate::Network::for_each_trainable_zip)).
//!
//! ```
//! use mlp_core::{layers, Chain, Dense, Frozen, Network, Part, activation::Relu};
//! static FIRST: Dense<f32, 2, 3, Relu> = Dense::from_columns([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], [0.5; 3]);
//! let net: layers![Frozen<'static, f32, 2, 3, Relu>, Dense<f32, 3, 1>] =
//!     Chain::new(Frozen(&FIRST), Dense::from_columns([[7.0], [8.0], [9.0]], [10.0]));
//! let mut seen = Vec::new();
//! net.for_each_parameter(|slot, values| seen.push((slot.layer, slot.part, slot.frozen, values.to_vec())));
//! assert_eq!(seen, [
//!     (0, Part::Weights, true, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
//!     (0, Part::Biases, true, vec![0.5, 0.5, 0.5]),
//!     (1, Part::Weights, false, vec![7.0, 8.0, 9.0]),
//!     (1, Part::Biases, false, vec![10.0]),
//! ]);
//! ```

use crate::activation::ActivationKind;
use crate::buffer::Zeroed;
use crate::float::Float;
use crate::layer::DenseGradients;
use crate::network::Chain;

/// Which part of a layer a slice of parameters holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Part {
    /// The weight matrix, column-major (`inputs` columns of `outputs` values).
    Weights,
    /// One bias per output.
    Biases,
}

/// Where a slice of parameters sits in the walk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Slot {
    /// 0-based index of the layer, first to last.
    pub layer: usize,
    /// Weights or biases.
    pub part: Part,
    /// Whether the layer is [`Frozen`](crate::Frozen): read-only, no gradient.
    pub frozen: bool,
    /// The layer's inputs (fan-in).
    pub inputs: usize,
    /// The layer's outputs (fan-out).
    pub outputs: usize,
    /// The layer's activation.
    pub activation: ActivationKind,
}

pub(crate) mod sealed {
    /// Only mlp-core implements [`Slots`](super::Slots).
    pub trait Sealed {}
}

/// A buffer shaped like a network's trainable parameters (its gradient, an
/// optimizer's state), seen as the walk's slices: slot `i` is the `i`-th
/// slice that [`Network::for_each_trainable_mut`](crate::Network::for_each_trainable_mut) visits.
pub trait Slots<T>: Zeroed + sealed::Sealed {
    /// How many slices: two per trainable layer.
    const SLOTS: usize;
    /// Slice `index`, or an empty slice past the end.
    fn slot(&self, index: usize) -> &[T];
    /// Mutable slice `index`, or an empty slice past the end.
    fn slot_mut(&mut self, index: usize) -> &mut [T];
}

impl<T: Float, const I: usize, const O: usize> sealed::Sealed for DenseGradients<T, I, O> {}
impl<T: Float, const I: usize, const O: usize> Slots<T> for DenseGradients<T, I, O> {
    const SLOTS: usize = 2;
    #[inline(always)]
    fn slot(&self, index: usize) -> &[T] {
        match index {
            0 => self.weights.as_slice(),
            1 => self.biases.as_slice(),
            _ => &[],
        }
    }
    #[inline(always)]
    fn slot_mut(&mut self, index: usize) -> &mut [T] {
        match index {
            0 => self.weights.as_mut_slice(),
            1 => self.biases.as_mut_slice(),
            _ => &mut [],
        }
    }
}

impl sealed::Sealed for () {}
impl<T> Slots<T> for () {
    const SLOTS: usize = 0;
    fn slot(&self, _index: usize) -> &[T] {
        &[]
    }
    fn slot_mut(&mut self, _index: usize) -> &mut [T] {
        &mut []
    }
}

impl<H: sealed::Sealed, Tl: sealed::Sealed> sealed::Sealed for Chain<H, Tl> {}
impl<T, H: Slots<T>, Tl: Slots<T>> Slots<T> for Chain<H, Tl> {
    const SLOTS: usize = H::SLOTS + Tl::SLOTS;
    #[inline(always)]
    fn slot(&self, index: usize) -> &[T] {
        if index < H::SLOTS { self.head.slot(index) } else { self.tail.slot(index - H::SLOTS) }
    }
    #[inline(always)]
    fn slot_mut(&mut self, index: usize) -> &mut [T] {
        if index < H::SLOTS { self.head.slot_mut(index) } else { self.tail.slot_mut(index - H::SLOTS) }
    }
}
