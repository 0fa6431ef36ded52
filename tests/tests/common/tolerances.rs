//! Every numeric tolerance and threshold the integration tests use, each with
//! where its value comes from.

// ---------------------------------------------------------------- gradient checks

/// Step `h` of the fourth-order central difference
/// `(−L(p+2h) + 8L(p+h) − 8L(p−h) + L(p−2h)) / 12h` in `f64`.
///
/// Its error is about `1.5·ε·|L|/h` from rounding the losses (ε = 2.2e-16;
/// `|L|`, a sum over 8 samples, is below ~20) plus `h⁴·|L⁽⁵⁾|/30` from
/// truncation: at `h = 2⁻¹⁰ ≈ 1e-3` that is ~5e-12 + ~3e-14·|L⁽⁵⁾|. A power of
/// two keeps `p ± h`, `p ± 2h` as exact as possible. (The plain two-point
/// difference at its best step, 1e-5, is ~100 times less accurate, too
/// coarse for a 1e-6 relative bound on gradients of order 1e-5.)
pub const FD_STEP: f64 = 1.0 / 1024.0;

/// Largest accepted relative error between backprop and finite differences,
/// `|a − n| / max(|a|, |n|, FD_FLOOR)` (the project's requirement for gradient checks).
pub const FD_MAX_RELATIVE_ERROR: f64 = 1e-6;

/// Floor of the relative error's denominator. Below it a gradient is compared
/// absolutely, `|a − n| < FD_MAX_RELATIVE_ERROR · FD_FLOOR = 1e-10`: about ten
/// times the ~5e-12 worst-case rounding error of the difference quotient at
/// [`FD_STEP`], so an (almost) zero gradient is not judged by that noise.
pub const FD_FLOOR: f64 = 1e-4;

/// A gradient entry counts as "non-zero" (so the check is not vacuous) above
/// this: a hundred times the absolute error of the difference quotient.
pub const FD_NONZERO: f64 = 1e-9;

/// Largest fraction of finite-difference checks that may be skipped because
/// the stencil crossed a ReLU kink. With parameters and inputs uniform on
/// `(−1, 1)` a pre-activation lies within `2h ≈ 2e-3` of 0 with probability of
/// order 1e-3 per unit and check (none is skipped with the seeds used); 2%
/// leaves room for an unlucky seed but not for a systematic skip.
pub const FD_MAX_SKIPPED_FRACTION: f64 = 0.02;

/// Smallest fraction of checked gradient entries that must be non-zero, so a
/// network whose units are mostly dead (or saturated) cannot pass vacuously.
/// Random `(−1, 1)` parameters give ~100% with smooth activations and 60% with
/// ReLU (a unit dead on all 8 samples zeroes its incoming and outgoing
/// weights' gradients); half still catches a mostly dead network.
pub const FD_MIN_NONZERO_FRACTION: f64 = 0.5;

// ---------------------------------------------------------------- learning

/// XOR training stops once the mean cross-entropy falls below this: a loss of
/// 0.01 means every corner's labelled class has probability ≥ e^(−4·0.01) ≈ 0.96,
/// far past the 0.5 where its prediction could flip.
pub const XOR_MAX_LOSS: f64 = 0.01;

/// Held-out accuracy required on the two-moons problem (the project's
/// requirement). With noise 0.12 the moons barely overlap, so a smooth
/// boundary classifies ~99% of fresh points.
pub const MOONS_MIN_TEST_ACCURACY: f64 = 0.95;

/// Largest accepted held-out mean squared error of the sine fit. `sin` on
/// `[−π, π]` has variance 1/2, so this leaves 0.2% of the variance unexplained
/// (an RMS error of 0.032, 3% of the amplitude); a constant or linear fit
/// scores 0.5 and 0.2, while the test's 16-unit tanh network reaches
/// 3e-5–2e-4 over the seeds tried.
pub const SINE_MAX_MSE: f64 = 1e-3;

/// Fine-tuning the layers after a frozen feature layer must cut the held-out
/// cross-entropy of the freshly initialised head (0.5–1.0) at least tenfold:
/// a head that learns anything on features that already separate the moons
/// reaches ~0.01 (ratios 0.0005–0.03 over 9 data/initialisation seeds tried).
pub const FINE_TUNE_MAX_LOSS_RATIO: f64 = 0.1;

/// The held-out MSE of the sine fit is computed twice, from the core's loss
/// (½e² per sample, summed in `f32` as a device sums it) and directly in `f64`
/// from the outputs. They may differ only by the rounding of the `f32` sum of
/// `samples` positive terms (at most `samples − 1` roundings of relative size
/// ε/2 each) and of each term and the final division (a few more).
pub fn mse_agreement_relative(samples: usize) -> f64 {
    (samples as f64 + 4.0) * f64::from(f32::EPSILON) / 2.0
}

// ---------------------------------------------------------------- properties

/// `Σ softmax(z)` may differ from 1 by this many ulps (of 1) per logit. Each
/// `pᵢ = eᵢ · (1/Σe)` carries ~2 roundings (the division, the product) and
/// summing N of them adds one rounding per term: about 3 ulps per term in the
/// worst case; 4 leaves a margin without hiding a missing normalisation (which
/// errs by whole units, not ulps).
pub const SOFTMAX_SUM_ULPS_PER_TERM: f64 = 4.0;

/// `Loss::loss` and `Loss::loss_and_gradient` compute the same quantity by
/// slightly different code paths; they may differ by this many ulps of the
/// loss (or of 1 for losses below 1): a handful of roundings in each path.
pub const LOSS_AGREEMENT_ULPS: f32 = 8.0;
