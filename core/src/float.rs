//! The scalar type a network computes in.
//!
//! Every transcendental function goes through [`libm`], on the host as on the
//! target, so both compute the same bits: the host's own `exp` differs from
//! `libm::expf` on some inputs.

use core::fmt::{Debug, Display};
use core::ops::{Add, AddAssign, Div, Mul, MulAssign, Neg, Sub, SubAssign};

mod private {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// A floating-point scalar: `f32` on devices, `f64` for precise gradient checks.
///
/// Sealed: the core's bit-exactness argument holds only for IEEE-754 binary32
/// and binary64 with `libm` math.
pub trait Float:
    private::Sealed
    + nalgebra::Scalar
    + Copy
    + Default
    + PartialOrd
    + Debug
    + Display
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
{
    /// Additive identity.
    const ZERO: Self;
    /// Multiplicative identity.
    const ONE: Self;
    /// One half.
    const HALF: Self;
    /// The smallest positive normal number (`f32::MIN_POSITIVE`, `f64::MIN_POSITIVE`).
    const MIN_POSITIVE: Self;

    /// Rounds an `f64` to this type (exact for `f64`, round-to-nearest for `f32`).
    fn from_f64(value: f64) -> Self;
    /// Widens to `f64` exactly.
    fn to_f64(self) -> f64;
    /// e^self, by `libm`.
    fn exp(self) -> Self;
    /// Natural logarithm, by `libm`.
    fn ln(self) -> Self;
    /// ln(1 + self), accurate near zero, by `libm`.
    fn ln_1p(self) -> Self;
    /// Hyperbolic tangent, by `libm`.
    fn tanh(self) -> Self;
    /// Square root, by `libm` (correctly rounded).
    fn sqrt(self) -> Self;
    /// Absolute value.
    fn abs(self) -> Self;
    /// Neither NaN nor infinite.
    fn is_finite(self) -> bool;
    /// Not a number.
    fn is_nan(self) -> bool;
}

macro_rules! impl_float {
    ($t:ty, $exp:path, $ln:path, $ln_1p:path, $tanh:path, $sqrt:path, $fabs:path) => {
        impl Float for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const HALF: Self = 0.5;
            const MIN_POSITIVE: Self = <$t>::MIN_POSITIVE;
            #[inline(always)]
            fn from_f64(value: f64) -> Self {
                value as $t
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn exp(self) -> Self {
                $exp(self)
            }
            #[inline(always)]
            fn ln(self) -> Self {
                $ln(self)
            }
            #[inline(always)]
            fn ln_1p(self) -> Self {
                $ln_1p(self)
            }
            #[inline(always)]
            fn tanh(self) -> Self {
                $tanh(self)
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                $sqrt(self)
            }
            #[inline(always)]
            fn abs(self) -> Self {
                $fabs(self)
            }
            #[inline(always)]
            fn is_finite(self) -> bool {
                <$t>::is_finite(self)
            }
            #[inline(always)]
            fn is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
        }
    };
}

impl_float!(f32, libm::expf, libm::logf, libm::log1pf, libm::tanhf, libm::sqrtf, libm::fabsf);
impl_float!(f64, libm::exp, libm::log, libm::log1p, libm::tanh, libm::sqrt, libm::fabs);
