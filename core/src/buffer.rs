//! Fixed-size buffers: zeroing without knowing their shape.

use crate::float::Float;
use nalgebra::{ArrayStorage, SMatrix};

pub(crate) mod sealed {
    /// Only mlp-core implements [`Zeroed`](super::Zeroed).
    pub trait Sealed {}
}

/// A buffer of floats with a compile-time size that can be created or reset to zero.
///
/// Sealed: only mlp-core's own buffers implement it, and each consists only of
/// IEEE floats and zero-sized markers. The all-zero bit pattern is therefore a
/// valid value of every implementor, a guarantee host code may rely on to
/// allocate big buffers zeroed on the heap instead of building them on the stack.
///
/// ```compile_fail
/// struct NotFloats(&'static u32);
/// impl mlp_core::Zeroed for NotFloats {
///     fn zeroed() -> Self { NotFloats(&0) }
///     fn set_zero(&mut self) {}
/// }
/// ```
pub trait Zeroed: sealed::Sealed {
    /// A new all-zero buffer. Returns by value: keep it for small networks, or
    /// allocate zeroed memory and use [`Zeroed::set_zero`] for big ones.
    fn zeroed() -> Self;
    /// Resets every element to zero in place.
    fn set_zero(&mut self);
}

impl<T: Float, const R: usize, const C: usize> sealed::Sealed for SMatrix<T, R, C> {}
impl<T: Float, const R: usize, const C: usize> Zeroed for SMatrix<T, R, C> {
    #[inline]
    fn zeroed() -> Self {
        SMatrix::from_array_storage(ArrayStorage([[T::ZERO; R]; C]))
    }
    #[inline]
    fn set_zero(&mut self) {
        for v in self.as_mut_slice() {
            *v = T::ZERO;
        }
    }
}

impl sealed::Sealed for () {}
impl Zeroed for () {
    fn zeroed() -> Self {}
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
