//! Fixed-size buffers: zeroing without knowing their shape.

use crate::float::Float;
use nalgebra::{ArrayStorage, SMatrix};

pub(crate) mod sealed {
    /// Only mlp-core implements [`Zeroed`](super::Zeroed).
    pub trait Sealed {}
}

/// A buffer of floats with a compile-time size that can be created or reset to zero.
///
/// # Guarantee: all-zero bytes are a valid value
///
/// Sealed: only mlp-core implements it, and every implementor is built only
/// from `f32` or `f64` values (in fixed-size arrays and matrices), zero-sized
/// markers (`()`, `PhantomData`), and structs of such implementors: no
/// references, pointers, enums or anything else for which all-zero bytes
/// could be invalid. So for every `T: Zeroed`, `size_of::<T>()` zero bytes at
/// `T`'s alignment are a valid `T`, and that value equals `T::zeroed()` (every
/// float `+0.0`). Code outside this crate may rely on this, for example to
/// allocate a big buffer already zeroed on the heap; a future implementor
/// must keep it true.
///
/// # Big networks on a host
///
/// [`Zeroed::zeroed`] returns by value, and so do [`Dense::zeroed`](crate::Dense::zeroed)
/// and [`TrainState::new`](crate::TrainState::new). That suits a device,
/// where the buffers are `static`s or small. On a host, `Box::new(T::zeroed())`
/// builds the value on the stack before moving it: a 784→128→10 network's
/// [`TrainState`](crate::TrainState) is about 800 KB, and with the temporary
/// copies a debug build makes, boxing it overflows a 2 MiB thread stack. Allocate such buffers
/// zeroed directly on the heap (with the layout of `T` and the guarantee
/// above; the host CLI's `boxed::zeroed_box` does this), then draw the weights
/// in place with [`Network::initialize`](crate::Network::initialize).
///
/// Implementing it outside mlp-core does not compile:
///
/// ```compile_fail,E0277
/// struct NotFloats(&'static u32);
/// impl mlp_core::Zeroed for NotFloats {
///     const ZEROED: Self = NotFloats(&0);
///     fn set_zero(&mut self) {}
/// }
/// ```
pub trait Zeroed: sealed::Sealed + Sized + Clone + core::fmt::Debug {
    /// The all-zero value, as a constant: a `static` initialised with it is
    /// placed in `.bss` and never passes through the stack (see
    /// [`TrainState::new`](crate::TrainState::new) for a firmware example).
    const ZEROED: Self;
    /// A new all-zero buffer, returned by value: fine for small networks; see
    /// [Big networks on a host](Zeroed#big-networks-on-a-host) for big ones.
    #[inline]
    fn zeroed() -> Self {
        Self::ZEROED
    }
    /// Resets every element to zero in place.
    fn set_zero(&mut self);
}

impl<T: Float, const R: usize, const C: usize> sealed::Sealed for SMatrix<T, R, C> {}
impl<T: Float, const R: usize, const C: usize> Zeroed for SMatrix<T, R, C> {
    const ZEROED: Self = SMatrix::from_array_storage(ArrayStorage([[T::ZERO; R]; C]));
    #[inline]
    fn set_zero(&mut self) {
        for v in self.as_mut_slice() {
            *v = T::ZERO;
        }
    }
}

impl<G: Zeroed, const K: usize> sealed::Sealed for [G; K] {}
/// An optimizer's state: `K` buffers shaped like the trainable parameters.
impl<G: Zeroed, const K: usize> Zeroed for [G; K] {
    const ZEROED: Self = [const { G::ZEROED }; K];
    fn set_zero(&mut self) {
        for buffer in self {
            buffer.set_zero();
        }
    }
}

impl sealed::Sealed for () {}
impl Zeroed for () {
    const ZEROED: Self = ();
    fn set_zero(&mut self) {}
}

/// `&v.data.0[0]` as a named operation: the single column of a static vector.
#[inline(always)]
pub(crate) fn column<T, const N: usize>(v: &SMatrix<T, N, 1>) -> &[T; N] {
    let [col] = &v.data.0;
    col
}

/// Mutable twin of [`column`].
#[inline(always)]
pub(crate) fn column_mut<T, const N: usize>(v: &mut SMatrix<T, N, 1>) -> &mut [T; N] {
    let [col] = &mut v.data.0;
    col
}
