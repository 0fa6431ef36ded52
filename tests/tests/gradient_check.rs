//! Backprop against central finite differences, in `f64`, for every trainable
//! parameter and every input of three-layer networks, over the matrix
//! (hidden activation × loss × output activation), with and without a frozen
//! layer.
//!
//! The loss is summed over a batch of eight samples, so the gradient that
//! `accumulate_sample` sums over a batch is what is compared, and a ReLU unit
//! dead on one sample is usually alive on another.
//!
//! The numeric derivative is the fourth-order central difference (five-point
//! stencil), which lets the step be large enough (~1e-3) that rounding of the
//! losses hardly matters; see `common/tolerances.rs` for the error budget.
//!
//! "Relative error < 1e-6" means, precisely: for every derivative checked (each
//! trainable parameter's gradient summed over the batch, and each input of
//! each sample), with `a` the backprop value and `n` the finite difference,
//! `|a − n| / max(|a|, |n|, 1e-4) < 1e-6`: the usual relative error, which
//! where both magnitudes are below 1e-4 becomes the absolute bound
//! `|a − n| < 1e-10`.
//! The largest such error over a network's derivatives must be below 1e-6.
//!
//! Kinks: ReLU and leaky ReLU are not differentiable at a pre-activation of 0.
//! A difference quotient whose stencil moves a hidden unit across 0 measures a
//! mix of both slopes and must not be compared. For those activations every
//! perturbed forward pass records, for each unit of each layer, whether its
//! output is positive (for both activations, exactly when its pre-activation
//! is positive); if the pattern at any of `p ± h`, `p ± 2h` differs from the
//! one at `p`, that derivative is skipped and counted. Parameters and inputs are
//! random on `(−1, 1)`, so a stencil straddles a kink with a probability of
//! order 1e-3 per affected unit: skips are rare (none with the seeds used), and
//! the test fails if more than `FD_MAX_SKIPPED_FRACTION` of them are skipped.

mod common;

use common::params::{Params, grads, randomize};
use common::rng;
use common::tolerances::{
    FD_FLOOR, FD_MAX_RELATIVE_ERROR, FD_MAX_SKIPPED_FRACTION, FD_MIN_NONZERO_FRACTION, FD_NONZERO, FD_STEP,
};
use mlp_core::activation::{Activation, Identity, LeakyRelu, Relu, Sigmoid, Tanh};
use mlp_core::loss::{Loss, Quadratic, SigmoidCrossEntropy, SoftmaxCrossEntropy};
use mlp_core::{DefaultRng, Dense, Frozen, Network, TrainState, Zeroed, accumulate_sample, layers};

type Net<A, Out> = layers![Dense<f64, 4, 6, A>, Dense<f64, 6, 5, A>, Dense<f64, 5, 3, Out>];
type FirstFrozen<'a, A> = layers![Frozen<'a, f64, 4, 6, A>, Dense<f64, 6, 5, A>, Dense<f64, 5, 3>];
type MiddleFrozen<'a, A> = layers![Dense<f64, 4, 6, A>, Frozen<'a, f64, 6, 5, A>, Dense<f64, 5, 3>];

const SAMPLES: usize = 8;

/// What one comparison of analytic and numeric derivatives found.
#[derive(Debug, Default)]
struct Outcome {
    max_error: f64,
    /// (index, analytic, numeric) of the worst entry.
    worst: Option<(usize, f64, f64)>,
    checked: usize,
    skipped: usize,
    nonzero: usize,
}

impl Outcome {
    fn record(&mut self, index: usize, analytic: f64, numeric: f64) {
        let error = (analytic - numeric).abs() / analytic.abs().max(numeric.abs()).max(FD_FLOOR);
        self.checked += 1;
        if analytic.abs() > FD_NONZERO {
            self.nonzero += 1;
        }
        if error > self.max_error || self.worst.is_none() {
            self.max_error = error;
            self.worst = Some((index, analytic, numeric));
        }
    }

    fn assert_passes(&self, what: &str) {
        let total = self.checked + self.skipped;
        assert!(total > 0, "{what}: nothing checked");
        assert!(
            self.max_error < FD_MAX_RELATIVE_ERROR,
            "{what}: relative error {:e} at (index, analytic, numeric) = {:?}",
            self.max_error,
            self.worst
        );
        assert!(
            (self.skipped as f64) <= FD_MAX_SKIPPED_FRACTION * total as f64,
            "{what}: {} of {total} checks crossed a ReLU kink",
            self.skipped
        );
        assert!(
            (self.nonzero as f64) >= FD_MIN_NONZERO_FRACTION * self.checked as f64,
            "{what}: only {} of {} gradients are non-zero, the check is nearly vacuous",
            self.nonzero,
            self.checked
        );
    }
}

/// Whether activation `A` has a kink at 0 that finite differences must avoid.
fn kinked<A: Activation>() -> bool {
    A::NAME == Relu::NAME || A::NAME == LeakyRelu::NAME
}

/// `Σ_s L(net(x_s), y_s)`, the objective whose gradient `accumulate_sample` sums.
fn total_loss<N, L, const I: usize, const O: usize>(net: &N, inputs: &[[f64; I]], targets: &[L::Target]) -> f64
where
    N: Network<Scalar = f64, Input = [f64; I], Output = [f64; O]>,
    L: Loss<f64, O>,
{
    let mut activations = N::Activations::zeroed();
    inputs.iter().zip(targets).map(|(x, t)| L::loss(net.forward(x, &mut activations), t)).sum()
}

fn sign_pattern<N: Params<f64>, const I: usize>(net: &N, inputs: &[[f64; I]]) -> Vec<bool> {
    let mut signs = Vec::new();
    for x in inputs {
        net.forward_signs(x, &mut signs);
    }
    signs
}

/// The derivative at `p` of `f`, by the fourth-order central difference
/// `(−f(p+2h) + 8f(p+h) − 8f(p−h) + f(p−2h)) / 12h`. Returns `None` if `kinked`
/// says one of the four points lies across a kink from `p`.
fn central_difference(p: f64, mut f: impl FnMut(f64) -> f64, mut kinked: impl FnMut(f64) -> bool) -> Option<f64> {
    let h = FD_STEP;
    let points = [p - 2.0 * h, p - h, p + h, p + 2.0 * h];
    if points.iter().any(|&q| kinked(q)) {
        return None;
    }
    let [m2, m1, p1, p2] = points.map(&mut f);
    Some((8.0 * (p1 - m1) - (p2 - m2)) / (12.0 * h))
}

/// Every trainable parameter's summed gradient against finite differences.
fn check_parameters<N, L, const I: usize, const O: usize>(
    net: &N,
    inputs: &[[f64; I]],
    targets: &[L::Target],
    kinks: bool,
) -> Outcome
where
    N: Network<Scalar = f64, Input = [f64; I], Output = [f64; O]> + Params<f64, Grads = N::Gradients> + Clone,
    L: Loss<f64, O>,
{
    let mut state = TrainState::<N>::new();
    for (x, t) in inputs.iter().zip(targets) {
        accumulate_sample(net, &mut state, L::default(), x, t);
    }
    let analytic = grads::<f64, N>(&state.gradients);
    assert_eq!(analytic.len(), N::COUNT);
    assert_eq!(N::COUNT, N::PARAMETERS, "test-side parameter walk disagrees with Network::PARAMETERS");

    let base_signs = sign_pattern(net, inputs);
    let with = |k: usize, q: f64| {
        let mut moved = net.clone();
        *moved.value_mut(k) = q;
        moved
    };
    let mut outcome = Outcome::default();
    for (k, &a) in analytic.iter().enumerate() {
        let p = *net.clone().value_mut(k);
        let numeric = central_difference(
            p,
            |q| total_loss::<N, L, I, O>(&with(k, q), inputs, targets),
            |q| kinks && sign_pattern(&with(k, q), inputs) != base_signs,
        );
        match numeric {
            Some(numeric) => outcome.record(k, a, numeric),
            None => outcome.skipped += 1,
        }
    }
    outcome
}

/// `dx` from `backward(.., Some(&mut dx))` against finite differences in each input.
fn check_inputs<N, L, const I: usize, const O: usize>(
    net: &N,
    inputs: &[[f64; I]],
    targets: &[L::Target],
    kinks: bool,
) -> Outcome
where
    N: Network<Scalar = f64, Input = [f64; I], Output = [f64; O]> + Params<f64>,
    L: Loss<f64, O>,
{
    let mut outcome = Outcome::default();
    for (s, (x, t)) in inputs.iter().zip(targets).enumerate() {
        let mut activations = N::Activations::zeroed();
        let mut deltas = N::Deltas::zeroed();
        let mut gradients = N::Gradients::zeroed();
        let output = *net.forward(x, &mut activations);
        L::loss_and_gradient(&output, t, N::output_delta(&mut deltas));
        let mut dx = [f64::NAN; I];
        net.backward(x, &activations, &mut deltas, &mut gradients, Some(&mut dx));

        let base_signs = sign_pattern(net, &[*x]);
        let with = |j: usize, q: f64| {
            let mut moved = *x;
            moved[j] = q;
            moved
        };
        for (j, &a) in dx.iter().enumerate() {
            let numeric = central_difference(
                x[j],
                |q| total_loss::<N, L, I, O>(net, &[with(j, q)], std::slice::from_ref(t)),
                |q| kinks && sign_pattern(net, &[with(j, q)]) != base_signs,
            );
            match numeric {
                Some(numeric) => outcome.record(s * I + j, a, numeric),
                None => outcome.skipped += 1,
            }
        }
    }
    outcome
}

/// `SAMPLES` samples with every input uniform on `[−1, 1)`.
fn random_inputs<const I: usize>(seed: u64) -> [[f64; I]; SAMPLES] {
    let mut rng = rng(seed);
    std::array::from_fn(|_| std::array::from_fn(|_| common::uniform(&mut rng, -1.0, 1.0)))
}

/// Runs both checks and asserts them.
fn assert_exact_gradients<N, L, const I: usize, const O: usize>(what: &str, net: &N, targets: &[L::Target], kinks: bool)
where
    N: Network<Scalar = f64, Input = [f64; I], Output = [f64; O]> + Params<f64, Grads = N::Gradients> + Clone,
    L: Loss<f64, O>,
{
    let inputs = random_inputs::<I>(0x1A2B);
    check_parameters::<N, L, I, O>(net, &inputs, targets, kinks).assert_passes(&format!("{what}: parameters"));
    check_inputs::<N, L, I, O>(net, &inputs, targets, kinks).assert_passes(&format!("{what}: inputs"));
}

/// One cell of the matrix: hidden activation `A`, output activation `Out`, loss `L`.
fn check_case<A: Activation, Out: Activation, L: Loss<f64, 3>>(targets: [L::Target; SAMPLES]) {
    let mut net = Net::<A, Out>::default();
    randomize(&mut net, &mut rng(7), 1.0);
    let what = format!("{} hidden, {} output, {}", A::NAME, Out::NAME, L::NAME);
    // The sign pattern covers the output layer too, so a kinked output is guarded as well.
    assert_exact_gradients::<_, L, 4, 3>(&what, &net, &targets, kinked::<A>() || kinked::<Out>());
}

/// Targets of each kind, drawn per sample from a seeded generator.
fn targets<Y>(draw: impl Fn(usize, &mut DefaultRng) -> Y) -> [Y; SAMPLES] {
    let mut rng = rng(0x7A6);
    std::array::from_fn(|s| draw(s, &mut rng))
}

/// Class labels cycling through all three classes.
fn classes() -> [usize; SAMPLES] {
    targets(|s, _| s % 3)
}

/// Probabilities for the sigmoid cross-entropy; one entry per sample is
/// exactly 0 or 1, so both ends of the admissible range `[0, 1]` occur.
fn probabilities() -> [[f64; 3]; SAMPLES] {
    targets(|s, rng| {
        let mut y: [f64; 3] = std::array::from_fn(|_| common::uniform(rng, 0.0, 1.0));
        y[s % 3] = (s % 2) as f64;
        y
    })
}

/// Targets uniform on `[lo, hi)`: unbounded regression targets for an identity
/// output, and targets inside the range of a sigmoid or tanh output.
fn uniform_targets(lo: f64, hi: f64) -> [[f64; 3]; SAMPLES] {
    targets(|_, rng| std::array::from_fn(|_| common::uniform(rng, lo, hi)))
}

macro_rules! hidden_activation {
    ($module:ident, $hidden:ty) => {
        mod $module {
            use super::*;

            #[test]
            fn softmax_cross_entropy_identity_output() {
                check_case::<$hidden, Identity, SoftmaxCrossEntropy>(classes());
            }

            #[test]
            fn sigmoid_cross_entropy_identity_output() {
                check_case::<$hidden, Identity, SigmoidCrossEntropy>(probabilities());
            }

            #[test]
            fn quadratic_identity_output() {
                check_case::<$hidden, Identity, Quadratic>(uniform_targets(-2.0, 2.0));
            }

            #[test]
            fn quadratic_sigmoid_output() {
                check_case::<$hidden, Sigmoid, Quadratic>(uniform_targets(0.05, 0.95));
            }

            #[test]
            fn quadratic_tanh_output() {
                check_case::<$hidden, Tanh, Quadratic>(uniform_targets(-0.95, 0.95));
            }

            #[test]
            fn quadratic_relu_output() {
                check_case::<$hidden, Relu, Quadratic>(uniform_targets(0.0, 2.0));
            }

            #[test]
            fn quadratic_leaky_relu_output() {
                check_case::<$hidden, LeakyRelu, Quadratic>(uniform_targets(-0.5, 2.0));
            }

            #[test]
            fn first_layer_frozen() {
                let mut frozen = Dense::<f64, 4, 6, $hidden>::default();
                randomize(&mut frozen, &mut rng(11), 1.0);
                let mut net: FirstFrozen<'_, $hidden> =
                    mlp_core::Chain::new(Frozen(&frozen), mlp_core::Chain::new(Dense::default(), Dense::default()));
                randomize(&mut net, &mut rng(12), 1.0);
                // A frozen layer has no gradient buffer at all.
                let state = TrainState::<FirstFrozen<'_, $hidden>>::new();
                let (): () = state.gradients.head;
                assert_eq!(<FirstFrozen<'_, $hidden> as Network>::PARAMETERS, 6 * 5 + 5 + 5 * 3 + 3);
                let what = format!("frozen first layer, {} hidden", <$hidden>::NAME);
                assert_exact_gradients::<_, SoftmaxCrossEntropy, 4, 3>(&what, &net, &classes(), kinked::<$hidden>());
            }

            #[test]
            fn middle_layer_frozen() {
                let mut frozen = Dense::<f64, 6, 5, $hidden>::default();
                randomize(&mut frozen, &mut rng(21), 1.0);
                let mut net: MiddleFrozen<'_, $hidden> =
                    mlp_core::Chain::new(Dense::default(), mlp_core::Chain::new(Frozen(&frozen), Dense::default()));
                randomize(&mut net, &mut rng(22), 1.0);
                let state = TrainState::<MiddleFrozen<'_, $hidden>>::new();
                let (): () = state.gradients.tail.head;
                assert_eq!(<MiddleFrozen<'_, $hidden> as Network>::PARAMETERS, 4 * 6 + 6 + 5 * 3 + 3);
                let what = format!("frozen middle layer, {} hidden", <$hidden>::NAME);
                assert_exact_gradients::<_, Quadratic, 4, 3>(
                    &what,
                    &net,
                    &uniform_targets(-2.0, 2.0),
                    kinked::<$hidden>(),
                );
            }
        }
    };
}

hidden_activation!(sigmoid_hidden, Sigmoid);
hidden_activation!(tanh_hidden, Tanh);
hidden_activation!(relu_hidden, Relu);
hidden_activation!(leaky_relu_hidden, LeakyRelu);
hidden_activation!(identity_hidden, Identity);
