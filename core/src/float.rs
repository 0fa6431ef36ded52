//! The scalar type a network computes in.
//!
//! Every transcendental function goes through [`libm`], on the host as on the
//! target, so both compute the same bits: the host's own `exp` differs from
//! `libm::expf` on some inputs.
//!
//! The one exception is `f32`'s `exp`, which every softmax evaluates once per
//! output. It is written here ([`expf`]) to return exactly the bits of
//! `libm::expf` for every input, through the same single-precision operations
//! in the same order, but without branches or calls, so the compiler inlines
//! it and evaluates a softmax's outputs several at a time in vector registers.

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
    /// π, rounded to this type.
    const PI: Self;
    /// The smallest positive normal number (`f32::MIN_POSITIVE`, `f64::MIN_POSITIVE`).
    const MIN_POSITIVE: Self;

    /// Rounds an `f64` to this type (exact for `f64`, round-to-nearest for `f32`).
    fn from_f64(value: f64) -> Self;
    /// Widens to `f64` exactly.
    fn to_f64(self) -> f64;
    /// Converts a count, rounding to nearest (exact below 2^24 for `f32`).
    /// One instruction on an FPU, where [`from_f64`](Float::from_f64) of a
    /// count would be software `f64` arithmetic on a single-precision device.
    fn from_count(count: usize) -> Self;
    /// e^self, by `libm` (for `f32`, [`expf`]: the same bits).
    fn exp(self) -> Self;
    /// Natural logarithm, by `libm`.
    fn ln(self) -> Self;
    /// ln(1 + self), accurate near zero, by `libm`.
    fn ln_1p(self) -> Self;
    /// Hyperbolic tangent, by `libm`.
    fn tanh(self) -> Self;
    /// Cosine, by `libm`.
    fn cos(self) -> Self;
    /// Square root, by `libm` (correctly rounded).
    fn sqrt(self) -> Self;
    /// Absolute value.
    fn abs(self) -> Self;
    /// Neither NaN nor infinite.
    fn is_finite(self) -> bool;
    /// Not a number.
    fn is_nan(self) -> bool;
    /// Whether both values are ±0, tested on their bits: on a device one
    /// integer test for two inputs instead of two floating-point compares.
    fn both_zero(a: Self, b: Self) -> bool;

    /// The scalar's code in model files ([`model`](crate::model)): 1 for `f32`, 2 for `f64`.
    const FORMAT_CODE: u8;
    /// Bytes of one value in a model file.
    const BYTES: usize;
    /// Writes the value little-endian into the first [`BYTES`](Float::BYTES)
    /// of `out`; writes nothing if `out` is shorter.
    fn write_le(self, out: &mut [u8]);
    /// Reads a little-endian value from the first [`BYTES`](Float::BYTES) of
    /// `bytes`, bit for bit; `None` if `bytes` is shorter.
    fn read_le(bytes: &[u8]) -> Option<Self>;
}

macro_rules! impl_float {
    ($t:ident, $code:literal, $exp:path, $ln:path, $ln_1p:path, $tanh:path, $cos:path, $sqrt:path, $fabs:path) => {
        impl Float for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const HALF: Self = 0.5;
            const PI: Self = core::$t::consts::PI;
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
            fn from_count(count: usize) -> Self {
                count as $t
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
            fn cos(self) -> Self {
                $cos(self)
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                // Correctly rounded either way (IEEE 754): the same bits.
                #[cfg(feature = "std")]
                return <$t>::sqrt(self);
                #[cfg(not(feature = "std"))]
                return $sqrt(self);
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
            #[inline(always)]
            fn both_zero(a: Self, b: Self) -> bool {
                // Shifting out the sign leaves zero exactly for +0 and −0.
                (a.to_bits() | b.to_bits()) << 1 == 0
            }
            const FORMAT_CODE: u8 = $code;
            const BYTES: usize = core::mem::size_of::<$t>();
            #[inline]
            fn write_le(self, out: &mut [u8]) {
                if let Some(out) = out.first_chunk_mut::<{ core::mem::size_of::<$t>() }>() {
                    *out = self.to_le_bytes();
                }
            }
            #[inline]
            fn read_le(bytes: &[u8]) -> Option<Self> {
                bytes.first_chunk::<{ core::mem::size_of::<$t>() }>().map(|b| <$t>::from_le_bytes(*b))
            }
        }
    };
}

impl_float!(f32, 1, exp_f32, libm::logf, libm::log1pf, libm::tanhf, libm::cosf, libm::sqrtf, libm::fabsf);

/// `f32`'s exp: on a vector unit the branch-free [`expf`], which vectorises
/// across a softmax; on a scalar FPU `libm::expf` itself, whose early exits
/// save about half the instructions. The two give the same bits for every input.
#[inline(always)]
fn exp_f32(x: f32) -> f32 {
    if SCALAR_FPU { libm::expf(x) } else { expf(x) }
}

/// Whether this target computes with a scalar FPU (a Cortex-M4F) rather than a
/// vector unit (a host). Kernels and math routines pick their loop shapes by
/// it; every choice gives the same bits, which the cross-checks prove.
pub(crate) const SCALAR_FPU: bool = !cfg!(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"));
impl_float!(f64, 2, libm::exp, libm::log, libm::log1p, libm::tanh, libm::cos, libm::sqrt, libm::fabs);

/// e^x with exactly the bits of `libm::expf` (FreeBSD's `e_expf.c`) for every
/// input, NaNs included, but branch-free: every path is computed and the
/// result selected, so a loop over outputs vectorises.
///
/// The rounded operations are libm's, in libm's order. Where libm skips a
/// step (no reduction for small `|x|`, no scaling when `k = 0`), this runs it
/// with `k = 0`, which only adds or multiplies exact zeros and ones; the few
/// operations of its own (finding k, building powers of two) are exact.
///
/// ```
/// use mlp_core::float::expf;
/// for x in [-103.5f32, -1.0, 0.0, 1e-5, 0.5, 1.0, 88.7] {
///     assert_eq!(expf(x).to_bits(), libm::expf(x).to_bits());
/// }
/// ```
#[inline(always)]
pub fn expf(x: f32) -> f32 {
    // libm's constants, bit for bit.
    const LN2_HI: f32 = f32::from_bits(0x3f31_7200); // 6.9314575195e-01
    const LN2_LO: f32 = f32::from_bits(0x35bf_be8e); // 1.4286067653e-06
    const INV_LN2: f32 = f32::from_bits(0x3fb8_aa3b); // 1.4426950216e+00
    const P1: f32 = f32::from_bits(0x3e2a_aa8f); // 1.6666625440e-1
    const P2: f32 = f32::from_bits(0xbb35_5215); // -2.7667332906e-3
    const X1P127: f32 = f32::from_bits(0x7f00_0000); // 2^127
    const X1P_102: f32 = f32::from_bits(0x0c80_0000); // 2^-102
    const ROUND: f32 = 12_582_912.0; // 1.5 * 2^23

    let bits = x.to_bits();
    let negative = bits >> 31 != 0;
    let hx = bits & 0x7fff_ffff;

    // Argument reduction, x = k ln2 + r with |r| <= ln2 / 2. libm's k is
    // t = x / ln2 ± 1/2 truncated toward zero by `as i32`, a saturating
    // conversion that does not vectorise. Here |t| is rounded to an integer
    // m by adding 1.5 * 2^23 (whose low bits then hold m), and m is stepped
    // down if that rounded up: the same k wherever |t| < 2^22, which covers
    // every x whose result depends on k. Elsewhere k is meaningless but
    // cannot overflow, and the result is replaced below.
    let sign = (bits as i32) >> 31; // 0 or -1
    let half = f32::from_bits(0x3f00_0000 | (bits & 0x8000_0000)); // ±1/2, x's sign
    let t = (INV_LN2 * x + half).abs();
    let m = (t + ROUND).to_bits() as i32 - ROUND.to_bits() as i32;
    let m = m - (m as f32 > t) as i32;
    let k = if hx > 0x3f85_1592 {
        (m ^ sign) - sign // |x| > 1.5 ln2: ±m, x's sign
    } else if hx > 0x3eb1_7218 {
        sign | 1 // |x| > 0.5 ln2: ±1
    } else {
        0
    };
    let kf = k as f32;
    let hi = x - kf * LN2_HI; // exact; x itself when k = 0
    let lo = kf * LN2_LO; // +0 when k = 0
    let r = hi - lo;

    // e^r on the primary range.
    let rr = r * r;
    let c = r - rr * (P1 + rr * P2);
    let y = 1.0 + (r * c / (2.0 - c) - lo + hi);

    // scalbnf(y, k): one multiplication by 2^k, except that k = 128 goes
    // through 2^127 first and k < -126 through 2^-102 first (both exact), so
    // that the only rounding is the last, into the subnormals or to infinity.
    let (pre, biased) = if k > 127 {
        (X1P127, k) // 2^127 · 2^(k - 127)
    } else if k < -126 {
        (X1P_102, k + 229) // 2^-102 · 2^(k + 102)
    } else {
        (1.0, k + 127)
    };
    let scaled = y * pre * f32::from_bits((biased as u32) << 23);

    let mut e = if hx > 0x3900_0000 { scaled } else { 1.0 + x }; // |x| <= 2^-14
    if negative && hx >= 0x42cf_f1b5 {
        e = 0.0; // x <= -103.972084, and -inf
    }
    if !negative && hx >= 0x42b1_7218 {
        e = f32::INFINITY; // x >= 88.722839, overflows
    }
    if hx > 0x7f80_0000 {
        e = x; // NaN
    }
    e
}

#[cfg(test)]
mod tests {
    use super::expf;

    /// Same bits as `libm::expf`, NaN payloads included.
    fn check(bits: u32) {
        check_result(bits, expf(f32::from_bits(bits)));
    }

    fn check_result(bits: u32, ours: f32) {
        let x = f32::from_bits(bits);
        let theirs = libm::expf(x);
        assert!(
            ours.to_bits() == theirs.to_bits(),
            "expf({x:e} = {bits:#010x}) = {ours:e} ({:#010x}), libm: {theirs:e} ({:#010x})",
            ours.to_bits(),
            theirs.to_bits(),
        );
    }

    /// Every input whose result is neither 0, 1 nor infinity, with a stride,
    /// plus every input near libm's thresholds and in its scaled ranges.
    #[test]
    fn expf_matches_libm() {
        const SIGN: u32 = 0x8000_0000;
        // Positive inputs up to 89, negative ones down to -104.
        for bits in (0..=0x42b2_0000).step_by(97) {
            check(bits);
        }
        for bits in (SIGN..=0xc2d0_0000).step_by(101) {
            check(bits);
        }
        // Every input with a subnormal result (k < -126) or k = 128.
        for bits in 0xc2ae_0000..=0xc2d0_0000 {
            check(bits);
        }
        for bits in 0x42b1_0000..=0x42b2_0000 {
            check(bits);
        }
        // Around each threshold of |x|, both signs.
        for edge in [0x3900_0000u32, 0x3eb1_7218, 0x3f85_1592, 0x42ae_ac50, 0x42b1_7218, 0x42cf_f1b5, 0x7f80_0000] {
            for bits in edge - 4096..=edge + 4096 {
                check(bits);
                check(bits | SIGN);
            }
        }
        // Zeros, subnormals, infinities, NaNs (quiet, signalling, negative).
        for bits in (0..0x0080_0000).step_by(4099).chain([0x007f_ffff]) {
            check(bits);
            check(bits | SIGN);
        }
        for bits in [0, SIGN, 0x7f80_0000, 0xff80_0000, 0x7fc0_0000, 0xffc0_0000, 0x7f80_0001, 0x7fff_ffff, 0xffff_ffff]
        {
            check(bits);
        }
    }

    /// With the `std` feature, square roots come from the processor rather
    /// than `libm`: the same bits for all 2^32 inputs. Run with `cargo test
    /// --release -p mlp-core --features std -- --ignored`.
    #[cfg(feature = "std")]
    #[test]
    #[ignore = "exhaustive: 2^32 inputs, run in release"]
    fn sqrt_matches_libm_everywhere() {
        for bits in 0..=u32::MAX {
            let x = f32::from_bits(bits);
            let (ours, theirs) = (crate::Float::sqrt(x), libm::sqrtf(x));
            assert!(ours.to_bits() == theirs.to_bits() || (ours.is_nan() && theirs.is_nan()), "sqrt({x:e}) {bits:#x}");
        }
    }

    /// All 2^32 inputs; run with `cargo test --release -p mlp-core -- --ignored`.
    #[test]
    #[ignore = "exhaustive: 2^32 inputs, run in release"]
    fn expf_matches_libm_everywhere() {
        // In blocks, through a loop that vectorises as the softmax's does.
        const BLOCK: usize = 256;
        let mut e = [0.0f32; BLOCK];
        for start in (0..=u32::MAX).step_by(BLOCK) {
            let mut x = [0.0f32; BLOCK];
            for (i, x) in x.iter_mut().enumerate() {
                *x = f32::from_bits(start + i as u32);
            }
            for (e, &x) in e.iter_mut().zip(&x) {
                *e = expf(x);
            }
            for (&x, &e) in x.iter().zip(&e) {
                check_result(x.to_bits(), e);
            }
        }
    }
}
