//! Hidden-layer activation functions, each with its derivative beside it.
//!
//! Derivatives are written in terms of the layer's *output* `a = f(z)`, so
//! backprop needs only the activations the forward pass already keeps, not
//! the pre-activations as well: half the per-sample cache.

use crate::float::Float;

/// An element-wise activation `a = f(z)`.
pub trait Activation: Copy + Default + core::fmt::Debug {
    /// Name used in reports.
    const NAME: &'static str;
    /// Which one it is, as model files record it.
    const KIND: ActivationKind;
    /// `f(z)`.
    fn apply<T: Float>(z: T) -> T;
    /// `f'(z)` expressed through `a = f(z)`.
    fn derivative_from_output<T: Float>(a: T) -> T;
}

/// The activations by value: what a model file stores for each layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum ActivationKind {
    /// [`Identity`].
    Identity = 0,
    /// [`Sigmoid`].
    Sigmoid = 1,
    /// [`Tanh`].
    Tanh = 2,
    /// [`Relu`].
    Relu = 3,
    /// [`LeakyRelu`].
    LeakyRelu = 4,
}

impl ActivationKind {
    /// Every activation, by code.
    pub const ALL: [ActivationKind; 5] = [
        ActivationKind::Identity,
        ActivationKind::Sigmoid,
        ActivationKind::Tanh,
        ActivationKind::Relu,
        ActivationKind::LeakyRelu,
    ];

    /// Its code in model files.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The activation with model-file code `code`, if there is one.
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(ActivationKind::Identity),
            1 => Some(ActivationKind::Sigmoid),
            2 => Some(ActivationKind::Tanh),
            3 => Some(ActivationKind::Relu),
            4 => Some(ActivationKind::LeakyRelu),
            _ => None,
        }
    }

    /// Its name, as [`Activation::NAME`] spells it.
    pub const fn name(self) -> &'static str {
        match self {
            ActivationKind::Identity => Identity::NAME,
            ActivationKind::Sigmoid => Sigmoid::NAME,
            ActivationKind::Tanh => Tanh::NAME,
            ActivationKind::Relu => Relu::NAME,
            ActivationKind::LeakyRelu => LeakyRelu::NAME,
        }
    }
}

impl core::fmt::Display for ActivationKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// `f(z) = z`: linear output layers (regression, logits for a fused loss).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Identity;

/// `f(z) = 1 / (1 + e^-z)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sigmoid;

/// `f(z) = tanh z`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tanh;

/// `f(z) = max(z, 0)`. The derivative at 0 is taken as 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Relu;

/// `f(z) = z` for `z > 0`, `0.01 z` otherwise.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LeakyRelu;

impl Activation for Identity {
    const KIND: ActivationKind = ActivationKind::Identity;
    const NAME: &'static str = "identity";
    #[inline(always)]
    fn apply<T: Float>(z: T) -> T {
        z
    }
    #[inline(always)]
    fn derivative_from_output<T: Float>(_a: T) -> T {
        T::ONE
    }
}

impl Activation for Sigmoid {
    const KIND: ActivationKind = ActivationKind::Sigmoid;
    const NAME: &'static str = "sigmoid";
    #[inline(always)]
    fn apply<T: Float>(z: T) -> T {
        sigmoid(z)
    }
    #[inline(always)]
    fn derivative_from_output<T: Float>(a: T) -> T {
        a * (T::ONE - a)
    }
}

impl Activation for Tanh {
    const KIND: ActivationKind = ActivationKind::Tanh;
    const NAME: &'static str = "tanh";
    #[inline(always)]
    fn apply<T: Float>(z: T) -> T {
        z.tanh()
    }
    #[inline(always)]
    fn derivative_from_output<T: Float>(a: T) -> T {
        T::ONE - a * a
    }
}

impl Activation for Relu {
    const KIND: ActivationKind = ActivationKind::Relu;
    const NAME: &'static str = "relu";
    #[inline(always)]
    fn apply<T: Float>(z: T) -> T {
        if z > T::ZERO { z } else { T::ZERO }
    }
    #[inline(always)]
    fn derivative_from_output<T: Float>(a: T) -> T {
        if a > T::ZERO { T::ONE } else { T::ZERO }
    }
}

/// Slope of [`LeakyRelu`] for negative inputs.
pub const LEAKY_RELU_SLOPE: f64 = 0.01;

impl Activation for LeakyRelu {
    const KIND: ActivationKind = ActivationKind::LeakyRelu;
    const NAME: &'static str = "leaky-relu";
    #[inline(always)]
    fn apply<T: Float>(z: T) -> T {
        if z > T::ZERO { z } else { z * T::from_f64(LEAKY_RELU_SLOPE) }
    }
    #[inline(always)]
    fn derivative_from_output<T: Float>(a: T) -> T {
        // The slope is positive, so the output has the input's sign.
        if a > T::ZERO { T::ONE } else { T::from_f64(LEAKY_RELU_SLOPE) }
    }
}

/// The logistic function, written so that `e^x` never overflows.
#[inline(always)]
pub fn sigmoid<T: Float>(z: T) -> T {
    if z >= T::ZERO {
        T::ONE / (T::ONE + (-z).exp())
    } else {
        let e = z.exp();
        e / (T::ONE + e)
    }
}

/// Writes `softmax(z)` into `out`, shifting by `max z` so no `exp` overflows.
///
/// ```
/// let mut p = [0.0f32; 3];
/// mlp_core::activation::softmax(&[1.0, 2.0, 3.0], &mut p);
/// assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
/// assert!(p[2] > p[1] && p[1] > p[0]);
/// ```
pub fn softmax<T: Float, const N: usize>(z: &[T; N], out: &mut [T; N]) {
    let max = max_of(z);
    exp_shifted(z, max, out);
    let mut sum = T::ZERO;
    for &o in out.iter() {
        sum += o;
    }
    let inv = T::ONE / sum;
    for o in out.iter_mut() {
        *o *= inv;
    }
}

/// `ln Σ e^z`, computed as `max + ln Σ e^(z - max)` so it neither overflows nor underflows to `-inf`.
pub fn log_sum_exp<T: Float, const N: usize>(z: &[T; N]) -> T {
    let max = max_of(z);
    let mut e = [T::ZERO; N];
    exp_shifted(z, max, &mut e);
    let mut sum = T::ZERO;
    for e in e {
        sum += e;
    }
    max + sum.ln()
}

/// `out[i] = e^(z[i] - shift)`, in a loop of its own so that it vectorises
/// (the callers sum afterwards, in order). The first multiple of 8 elements
/// go in one loop with no remainder, which vector units of 4 or 8 lanes take
/// whole; the rest go one by one.
#[inline(always)]
pub(crate) fn exp_shifted<T: Float, const N: usize>(z: &[T; N], shift: T, out: &mut [T; N]) {
    let whole = N - N % 8;
    let (z_head, z_rest) = z.split_at(whole);
    let (out_head, out_rest) = out.split_at_mut(whole);
    for (o, &v) in out_head.iter_mut().zip(z_head) {
        *o = (v - shift).exp();
    }
    for (o, &v) in out_rest.iter_mut().zip(z_rest) {
        *o = (v - shift).exp();
    }
}

/// Largest element; NaN if any element is NaN so that divergence shows.
#[inline(always)]
pub(crate) fn max_of<T: Float, const N: usize>(z: &[T; N]) -> T {
    let mut max = z.first().copied().unwrap_or(T::ZERO);
    for &v in z {
        if v > max || v.is_nan() {
            max = v;
        }
    }
    max
}

/// Index of the largest element (the first on ties).
pub fn argmax<T: Float>(values: &[T]) -> usize {
    let Some(&first) = values.first() else { return 0 };
    let (mut best, mut best_value) = (0, first);
    for (i, &v) in values.iter().enumerate() {
        if v > best_value {
            (best, best_value) = (i, v);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivatives_match_finite_differences() {
        fn check<A: Activation>() {
            for &z in &[-2.0f64, -0.3, 0.4, 1.7] {
                let h = 1e-6;
                let numeric = (A::apply(z + h) - A::apply(z - h)) / (2.0 * h);
                let analytic = A::derivative_from_output(A::apply(z));
                assert!((numeric - analytic).abs() < 1e-6, "{} at {z}", A::NAME);
            }
        }
        check::<Identity>();
        check::<Sigmoid>();
        check::<Tanh>();
        check::<Relu>();
        check::<LeakyRelu>();
    }

    #[test]
    fn sigmoid_is_stable_at_extremes() {
        assert_eq!(sigmoid(-1000.0f32), 0.0);
        assert_eq!(sigmoid(1000.0f32), 1.0);
        assert!((sigmoid(0.0f64) - 0.5).abs() < 1e-15);
    }

    #[test]
    fn log_sum_exp_does_not_overflow() {
        let v = log_sum_exp(&[1000.0f32, 1000.0]);
        assert!((v - (1000.0 + core::f32::consts::LN_2)).abs() < 1e-3);
        let v = log_sum_exp(&[-1000.0f64, -1000.0]);
        assert!((v - (-1000.0 + core::f64::consts::LN_2)).abs() < 1e-9);
    }
}
