//! Losses on the network's raw output, each with its gradient beside it.
//!
//! The cross-entropy losses take the last layer's *logits* (give it the
//! [`Identity`](crate::activation::Identity) activation) and apply softmax or
//! sigmoid themselves. That lets them use the fused, stable forms: the gradient
//! with respect to the logits is simply `p - y`, and the loss goes through
//! log-sum-exp or softplus, so neither overflows nor takes `ln 0`.

use crate::activation::{argmax, exp_shifted, log_sum_exp, max_of, sigmoid};
use crate::float::Float;

/// A training objective for a network with `O` outputs.
pub trait Loss<T: Float, const O: usize>: Copy + Default + core::fmt::Debug {
    /// What a sample is labelled with: a class index or a target vector.
    type Target: Copy + core::fmt::Debug;
    /// Name used in reports.
    const NAME: &'static str;

    /// Whether `target` is admissible (a class in range, finite values).
    fn is_valid_target(target: &Self::Target) -> bool;

    /// Writes `∂L/∂output` into `gradient` and returns the sample's loss.
    fn loss_and_gradient(output: &[T; O], target: &Self::Target, gradient: &mut [T; O]) -> T;

    /// The sample's loss alone.
    fn loss(output: &[T; O], target: &Self::Target) -> T {
        let mut scratch = [T::ZERO; O];
        Self::loss_and_gradient(output, target, &mut scratch)
    }

    /// Maps raw outputs to what a user reads: probabilities, or the outputs themselves.
    fn prediction(output: &[T; O], prediction: &mut [T; O]);

    /// The class the output votes for (for accuracy and confusion matrices).
    fn predicted_class(output: &[T; O]) -> usize;

    /// The class a target stands for.
    fn target_class(target: &Self::Target) -> usize;
}

/// Softmax over the logits with negative log-likelihood of the labelled class.
///
/// `L = ln Σ e^z − z_y`, gradient `softmax(z) − onehot(y)`.
///
/// The loss applies the softmax itself, so the network's last layer must be
/// linear: `Dense<T, I, O>` (activation [`Identity`](crate::activation::Identity)).
/// A squashing activation there would squash twice: logits confined to
/// `(0, 1)` or `(−1, 1)` cannot make any class much more likely than another.
///
/// ```
/// use mlp_core::loss::{Loss, SoftmaxCrossEntropy};
/// let mut grad = [0.0f64; 3];
/// let l = <SoftmaxCrossEntropy as Loss<f64, 3>>::loss_and_gradient(&[0.0, 0.0, 0.0], &2, &mut grad);
/// assert!((l - 3f64.ln()).abs() < 1e-12);
/// assert!((grad[2] + 2.0 / 3.0).abs() < 1e-12);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SoftmaxCrossEntropy;

impl<T: Float, const O: usize> Loss<T, O> for SoftmaxCrossEntropy {
    type Target = usize;
    const NAME: &'static str = "softmax-cross-entropy";

    fn is_valid_target(target: &usize) -> bool {
        *target < O
    }

    #[inline(always)]
    fn loss_and_gradient(z: &[T; O], target: &usize, gradient: &mut [T; O]) -> T {
        let max = max_of(z);
        exp_shifted(z, max, gradient);
        let mut sum = T::ZERO;
        for &g in gradient.iter() {
            sum += g;
        }
        let inv = T::ONE / sum;
        for g in gradient.iter_mut() {
            *g *= inv;
        }
        // Targets are checked before training; an invalid one (no such logit)
        // is treated as in `loss`, as a logit of 0 with no gradient.
        if let Some(g) = gradient.get_mut(*target) {
            *g -= T::ONE;
        }
        max + sum.ln() - z.get(*target).copied().unwrap_or(T::ZERO)
    }

    fn loss(z: &[T; O], target: &usize) -> T {
        log_sum_exp(z) - z.get(*target).copied().unwrap_or(T::ZERO)
    }

    fn prediction(z: &[T; O], p: &mut [T; O]) {
        crate::activation::softmax(z, p);
    }

    fn predicted_class(z: &[T; O]) -> usize {
        argmax(z)
    }

    fn target_class(target: &usize) -> usize {
        *target
    }
}

/// Binary cross-entropy on sigmoid outputs, one independent yes/no per output.
///
/// `L = Σ max(z,0) − z·y + ln(1 + e^−|z|)` (softplus form), gradient `σ(z) − y`.
/// Targets are probabilities in `[0, 1]`.
///
/// The loss applies the sigmoid itself, so the network's last layer must be
/// linear: `Dense<T, I, O>` (activation [`Identity`](crate::activation::Identity)),
/// not [`Sigmoid`](crate::activation::Sigmoid).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SigmoidCrossEntropy;

impl<T: Float, const O: usize> Loss<T, O> for SigmoidCrossEntropy {
    type Target = [T; O];
    const NAME: &'static str = "sigmoid-cross-entropy";

    fn is_valid_target(target: &[T; O]) -> bool {
        target.iter().all(|&y| y >= T::ZERO && y <= T::ONE)
    }

    #[inline(always)]
    fn loss_and_gradient(z: &[T; O], y: &[T; O], gradient: &mut [T; O]) -> T {
        let mut loss = T::ZERO;
        for ((g, &z), &y) in gradient.iter_mut().zip(z).zip(y) {
            let positive_part = if z > T::ZERO { z } else { T::ZERO };
            loss += positive_part - z * y + (-z.abs()).exp().ln_1p();
            *g = sigmoid(z) - y;
        }
        loss
    }

    fn prediction(z: &[T; O], p: &mut [T; O]) {
        for (p, &z) in p.iter_mut().zip(z) {
            *p = sigmoid(z);
        }
    }

    fn predicted_class(z: &[T; O]) -> usize {
        binary_or_argmax(z, T::ZERO)
    }

    fn target_class(y: &[T; O]) -> usize {
        binary_or_argmax(y, T::HALF)
    }
}

/// Quadratic loss `L = ½ Σ (a − y)²`, gradient `a − y`: regression, or
/// classification with any output activation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Quadratic;

impl<T: Float, const O: usize> Loss<T, O> for Quadratic {
    type Target = [T; O];
    const NAME: &'static str = "quadratic";

    fn is_valid_target(target: &[T; O]) -> bool {
        target.iter().all(|y| y.is_finite())
    }

    #[inline(always)]
    fn loss_and_gradient(a: &[T; O], y: &[T; O], gradient: &mut [T; O]) -> T {
        let mut loss = T::ZERO;
        for ((g, &a), &y) in gradient.iter_mut().zip(a).zip(y) {
            let e = a - y;
            *g = e;
            loss += e * e;
        }
        loss * T::HALF
    }

    fn prediction(a: &[T; O], p: &mut [T; O]) {
        *p = *a;
    }

    fn predicted_class(a: &[T; O]) -> usize {
        binary_or_argmax(a, T::HALF)
    }

    fn target_class(y: &[T; O]) -> usize {
        binary_or_argmax(y, T::HALF)
    }
}

/// With one output, class 1 when it reaches `threshold`; otherwise the largest output.
fn binary_or_argmax<T: Float>(values: &[T], threshold: T) -> usize {
    match values {
        [single] => usize::from(*single >= threshold),
        _ => argmax(values),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric_gradient<L: Loss<f64, 3>>(z: [f64; 3], target: L::Target) {
        let mut analytic = [0.0; 3];
        L::loss_and_gradient(&z, &target, &mut analytic);
        for i in 0..3 {
            let h = 1e-6;
            let (mut up, mut down) = (z, z);
            up[i] += h;
            down[i] -= h;
            let numeric = (L::loss(&up, &target) - L::loss(&down, &target)) / (2.0 * h);
            assert!((numeric - analytic[i]).abs() < 1e-7, "{} output {i}", L::NAME);
        }
    }

    #[test]
    fn gradients_match_finite_differences() {
        numeric_gradient::<SoftmaxCrossEntropy>([0.3, -1.2, 2.0], 1);
        numeric_gradient::<SigmoidCrossEntropy>([0.3, -1.2, 2.0], [1.0, 0.0, 0.25]);
        numeric_gradient::<Quadratic>([0.3, -1.2, 2.0], [1.0, 0.0, -3.0]);
    }

    #[test]
    fn cross_entropies_stay_finite_for_huge_logits() {
        let l = <SoftmaxCrossEntropy as Loss<f32, 2>>::loss(&[1e4, -1e4], &1);
        assert!((l - 2e4).abs() < 1.0);
        let l = <SigmoidCrossEntropy as Loss<f32, 1>>::loss(&[-1e4], &[1.0]);
        assert!((l - 1e4).abs() < 1.0);
        let l = <SigmoidCrossEntropy as Loss<f32, 1>>::loss(&[1e4], &[1.0]);
        assert_eq!(l, 0.0);
    }

    #[test]
    fn invalid_targets_are_recognised() {
        assert!(!<SoftmaxCrossEntropy as Loss<f32, 3>>::is_valid_target(&3));
        assert!(!<SigmoidCrossEntropy as Loss<f32, 1>>::is_valid_target(&[1.5]));
        assert!(!<Quadratic as Loss<f32, 1>>::is_valid_target(&[f32::NAN]));
    }
}
