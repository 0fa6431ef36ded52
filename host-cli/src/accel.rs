//! The one entry point every training epoch goes through, and where the host
//! picks up the CPU's wider vector units.
//!
//! The default build targets baseline x86-64 (SSE2, four `f32` lanes), so it
//! runs on any x86-64 machine. When the CPU has AVX2 (eight lanes), the same
//! core code is compiled a second time inside a `#[target_feature]` function and
//! chosen at run time. That changes only how many outputs are processed per
//! instruction: the core vectorises across outputs, never reorders a sum, and
//! Rust never fuses a multiply and an add, so both paths produce the same bits.
//! `MLP_VECTOR_UNIT=baseline` forces the baseline path (to compare the two);
//! `avx2` and `auto` (the default) pick the widest unit; any other value is an error.
//!
//! The host also trains two samples at a time ([`Learner::with_pairs`]):
//! twice the independent chains of adds in the forward pass and one sweep over
//! the gradients for both, with the same operations in the same order, so the
//! same bits as the device's one sample at a time.

use std::sync::OnceLock;

use mlp_core::loss::Loss;
use mlp_core::{
    Batches, Dataset, EpochMetrics, Error, Float, Learner, Network, Optimizer, PairCache, SampleIndex, TrainState,
    run_batches,
};

/// The widest vector unit the training loop uses on this machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VectorUnit {
    /// What the build targets: SSE2 on x86-64, or whatever the target guarantees elsewhere.
    Baseline,
    /// x86-64 AVX2, detected at run time.
    Avx2,
}

impl VectorUnit {
    /// Name for reports.
    pub fn name(self) -> &'static str {
        match self {
            VectorUnit::Baseline => "baseline",
            VectorUnit::Avx2 => "avx2",
        }
    }
}

/// The environment variable that chooses the vector unit.
pub const VECTOR_UNIT_VAR: &str = "MLP_VECTOR_UNIT";

/// A [`VECTOR_UNIT_VAR`] value that names no unit this build knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownVectorUnit(pub String);

impl std::fmt::Display for UnknownVectorUnit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid {VECTOR_UNIT_VAR}={:?}: accepted values are baseline, avx2 and auto (the default)", self.0)
    }
}

impl std::error::Error for UnknownVectorUnit {}

/// The unit a [`VECTOR_UNIT_VAR`] value asks for: `None` for the fastest this CPU has.
pub fn parse_vector_unit(value: Option<&std::ffi::OsStr>) -> Result<Option<VectorUnit>, UnknownVectorUnit> {
    match value.map(|v| v.to_str()) {
        None => Ok(None),
        Some(Some("" | "auto")) => Ok(None),
        Some(Some("baseline")) => Ok(Some(VectorUnit::Baseline)),
        Some(Some("avx2")) => Ok(Some(VectorUnit::Avx2)),
        Some(other) => Err(UnknownVectorUnit(other.map_or_else(|| "(not UTF-8)".into(), str::to_owned))),
    }
}

/// Checks [`VECTOR_UNIT_VAR`], so that a misspelt value stops a run before
/// any work instead of being ignored.
pub fn check_vector_unit_var() -> Result<(), UnknownVectorUnit> {
    parse_vector_unit(std::env::var_os(VECTOR_UNIT_VAR).as_deref()).map(|_| ())
}

/// Detects the vector unit once: the widest this CPU has, or the one
/// [`VECTOR_UNIT_VAR`] names (`baseline` turns the fast path off; `avx2` on
/// a CPU without it falls back to the baseline). An unknown value counts as
/// the default here; [`check_vector_unit_var`] refuses it.
pub fn vector_unit() -> VectorUnit {
    static DETECTED: OnceLock<VectorUnit> = OnceLock::new();
    *DETECTED.get_or_init(|| {
        let requested = parse_vector_unit(std::env::var_os(VECTOR_UNIT_VAR).as_deref()).ok().flatten();
        if requested == Some(VectorUnit::Baseline) {
            return VectorUnit::Baseline;
        }
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            return VectorUnit::Avx2;
        }
        VectorUnit::Baseline
    })
}

/// The batches of an epoch compiled for AVX2: [`run_batches`] is
/// `#[inline(always)]` down to its kernels, so all of it gets these features.
/// The network, state and cache arrive as arguments of their own, so the
/// compiler may assume they do not overlap and keeps the kernels' sums in
/// vector registers.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn batches_avx2<N, O, L, Ix, T, const K: usize>(
    net: &mut N,
    state: &mut TrainState<N, O>,
    pair: Option<&mut PairCache<N>>,
    batches: Batches<'_, N, O, L, Ix, K>,
) -> (T, usize)
where
    T: Float,
    N: Network<Scalar = T, Output = [T; K]>,
    O: Optimizer,
    L: Loss<T, K>,
    Ix: SampleIndex,
{
    run_batches(net, state, pair, batches)
}

/// The batches of an epoch on the baseline vector unit, behind the same kind
/// of function boundary as [`batches_avx2`].
#[inline(never)]
fn batches_baseline<N, O, L, Ix, T, const K: usize>(
    net: &mut N,
    state: &mut TrainState<N, O>,
    pair: Option<&mut PairCache<N>>,
    batches: Batches<'_, N, O, L, Ix, K>,
) -> (T, usize)
where
    T: Float,
    N: Network<Scalar = T, Output = [T; K]>,
    O: Optimizer,
    L: Loss<T, K>,
    Ix: SampleIndex,
{
    run_batches(net, state, pair, batches)
}

/// One epoch of `learner` ([`Learner::epoch`]) on the given vector unit
/// (normally [`vector_unit()`]). A learner made `with_pairs` takes the
/// samples two at a time (faster on a vector unit); without, one at a time
/// as on a device. Every combination gives the same result bits. A unit
/// this CPU lacks falls back to the baseline.
pub fn train_epoch_on<N, O, L, Ix, T, const K: usize>(
    unit: VectorUnit,
    learner: &mut Learner<'_, N, O, L, Ix>,
    data: Dataset<'_, N::Input, L::Target>,
) -> Result<EpochMetrics<T>, Error>
where
    T: Float,
    N: Network<Scalar = T, Output = [T; K]>,
    O: Optimizer,
    L: Loss<T, K>,
    Ix: SampleIndex,
{
    #[cfg(target_arch = "x86_64")]
    if unit == VectorUnit::Avx2 && std::arch::is_x86_feature_detected!("avx2") {
        return learner.epoch_with(data, |net, state, pair, batches| {
            // SAFETY: the line above confirmed that this CPU has AVX2.
            unsafe { batches_avx2(net, state, pair, batches) }
        });
    }
    let _ = unit;
    learner.epoch_with(data, batches_baseline)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::AnyOptimizer;
    use mlp_core::activation::{LeakyRelu, Relu, Tanh};
    use mlp_core::loss::SoftmaxCrossEntropy;
    use mlp_core::optim::{Adagrad, Adam, AdamW, Momentum, Nesterov, RmsProp, Sgd};
    use mlp_core::schedule::{Schedule, Shape};
    use mlp_core::{DefaultRng, Dense, Init, SeedableRng, TrainConfig, layers};

    /// A wide first layer (skips zero inputs on hosts), a narrow one (does not), three activations.
    type Net =
        layers![Dense<f32, 20, 72, Relu>, Dense<f32, 72, 12, Tanh>, Dense<f32, 12, 5, LeakyRelu>, Dense<f32, 5, 3>];

    fn trained(optimizer: AnyOptimizer, unit: VectorUnit, paired: bool) -> Box<Net> {
        let mut rng = DefaultRng::seed_from_u64(5);
        let inputs: Vec<[f32; 20]> = (0..150)
            .map(|_| core::array::from_fn(|_| (mlp_core::init::unit_interval(&mut rng) as f32 - 0.4).max(0.0)))
            .collect();
        let labels: Vec<usize> = inputs.iter().map(|x| usize::from(x[0] > x[1]) + usize::from(x[2] > 0.3)).collect();
        let data = Dataset::new(&inputs, &labels).unwrap();
        let config = TrainConfig {
            epochs: 4,
            batch_size: 16,
            schedule: Schedule { lr: 0.01, shape: Shape::InverseTime { decay: 0.01 }, warmup: 1 },
            l2: 1e-3,
            l1: 1e-4,
            clip_norm: 5.0,
            ..TrainConfig::new(optimizer)
        };
        let mut net = crate::boxed::zeroed_box::<Net>();
        net.initialize(Init::HeNormal, &mut rng).unwrap();
        let mut state = crate::boxed::zeroed_box::<TrainState<Net, AnyOptimizer>>();
        state.persistent.rng = rng;
        let mut pair = crate::boxed::zeroed_box::<PairCache<Net>>();
        let mut order = vec![0u32; inputs.len()];
        let mut learner = Learner::new(&mut *net, &mut state, &mut order, SoftmaxCrossEntropy, &config).unwrap();
        if paired {
            learner = learner.with_pairs(&mut pair);
        }
        for _ in 0..config.epochs {
            train_epoch_on(unit, &mut learner, data).unwrap();
        }
        net
    }

    fn bits(net: &Net) -> Vec<u32> {
        let mut all = Vec::new();
        net.for_each_parameter(|_, values| all.extend(values.iter().map(|v| v.to_bits())));
        all
    }

    #[test]
    fn the_vector_unit_variable_is_checked() {
        use std::ffi::OsStr;
        assert_eq!(parse_vector_unit(None), Ok(None));
        assert_eq!(parse_vector_unit(Some(OsStr::new("auto"))), Ok(None));
        assert_eq!(parse_vector_unit(Some(OsStr::new("baseline"))), Ok(Some(VectorUnit::Baseline)));
        assert_eq!(parse_vector_unit(Some(OsStr::new("avx2"))), Ok(Some(VectorUnit::Avx2)));
        let e = parse_vector_unit(Some(OsStr::new("bogus"))).unwrap_err();
        assert!(e.to_string().contains("MLP_VECTOR_UNIT=\"bogus\": accepted values are baseline, avx2"), "{e}");
    }

    #[test]
    fn every_vector_unit_gives_the_same_bits_one_or_two_samples_at_a_time() {
        let optimizers = [
            AnyOptimizer::Sgd(Sgd),
            AnyOptimizer::Momentum(Momentum::DEFAULT),
            AnyOptimizer::Nesterov(Nesterov::DEFAULT),
            AnyOptimizer::Adagrad(Adagrad::DEFAULT),
            AnyOptimizer::RmsProp(RmsProp::DEFAULT),
            AnyOptimizer::Adam(Adam::DEFAULT),
            AnyOptimizer::AdamW(AdamW::DEFAULT),
        ];
        for optimizer in optimizers {
            let baseline = trained(optimizer, VectorUnit::Baseline, false);
            for (unit, paired) in [(VectorUnit::Avx2, false), (VectorUnit::Baseline, true), (VectorUnit::Avx2, true)] {
                let other = trained(optimizer, unit, paired);
                assert_eq!(bits(&baseline), bits(&other), "{} on {} paired: {paired}", optimizer.name(), unit.name());
            }
            assert_ne!(bits(&baseline), bits(&untouched()), "{}: training changed the weights", optimizer.name());
        }
    }

    fn untouched() -> Box<Net> {
        let mut rng = DefaultRng::seed_from_u64(5);
        for _ in 0..150 * 20 {
            mlp_core::init::unit_interval(&mut rng);
        }
        let mut net = crate::boxed::zeroed_box::<Net>();
        net.initialize(Init::HeNormal, &mut rng).unwrap();
        net
    }
}
