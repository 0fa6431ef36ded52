//! The one entry point every training epoch goes through, and where the host
//! picks up the CPU's wider vector units.
//!
//! The default build targets baseline x86-64 (SSE2, four `f32` lanes), so it
//! runs on any x86-64 machine. When the CPU has AVX2 (eight lanes), the same
//! core code is compiled a second time inside a `#[target_feature]` function and
//! chosen at run time. That changes only how many outputs are processed per
//! instruction: the core vectorises across outputs, never reorders a sum, and
//! Rust never fuses a multiply and an add, so both paths produce the same bits.
//! `MLP_VECTOR_UNIT=baseline` forces the baseline path (to compare the two).
//!
//! The host also trains two samples at a time ([`mlp_core::train_epoch_paired`]):
//! twice the independent chains of adds in the forward pass and one sweep over
//! the gradients for both, with the same operations in the same order, so the
//! same bits as the device's one-at-a-time [`mlp_core::train_epoch`].

use std::sync::OnceLock;

use mlp_core::loss::Loss;
use mlp_core::{Dataset, EpochMetrics, Error, Float, Network, PairCache, SampleIndex, Sgd, TrainState};
use rand_core::Rng;

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

/// Detects the vector unit once; `MLP_VECTOR_UNIT=baseline` turns the fast path off.
pub fn vector_unit() -> VectorUnit {
    static DETECTED: OnceLock<VectorUnit> = OnceLock::new();
    *DETECTED.get_or_init(|| {
        if std::env::var_os("MLP_VECTOR_UNIT").is_some_and(|v| v == "baseline") {
            return VectorUnit::Baseline;
        }
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            return VectorUnit::Avx2;
        }
        VectorUnit::Baseline
    })
}

macro_rules! epoch_fn {
    ($(#[$attr:meta])* $name:ident) => {
        /// One pass over the data in a freshly shuffled order; see [`mlp_core::train_epoch_paired`].
        $(#[$attr])*
        #[allow(clippy::too_many_arguments)]
        fn $name<N, L, T, R, Ix, const O: usize>(
            net: &mut N,
            state: &mut TrainState<N>,
            pair: Option<&mut PairCache<N>>,
            loss: L,
            data: Dataset<'_, N::Input, L::Target>,
            order: &mut [Ix],
            sgd: &Sgd<T>,
            batch_size: usize,
            epoch: u32,
            rng: &mut R,
        ) -> Result<EpochMetrics<T>, Error>
        where
            T: Float,
            N: Network<Scalar = T, Output = [T; O]>,
            L: Loss<T, O>,
            R: Rng + ?Sized,
            Ix: SampleIndex,
        {
            // The epoch is `#[inline(always)]` down to its kernels, so it is
            // compiled with this function's target features.
            mlp_core::train_epoch_paired(net, state, pair, loss, data, order, sgd, batch_size, epoch, rng)
        }
    };
}

epoch_fn!(train_epoch_baseline);
#[cfg(target_arch = "x86_64")]
epoch_fn!(
    #[target_feature(enable = "avx2")]
    train_epoch_avx2
);

/// One pass over the data in a freshly shuffled order on the given vector unit
/// (normally [`vector_unit()`]). With a `pair` cache the samples of each batch
/// go two at a time ([`mlp_core::train_epoch_paired`], faster on a vector
/// unit); with `None` one at a time, as on a device ([`mlp_core::train_epoch`]).
/// Every combination gives the same result bits. A unit this CPU lacks falls
/// back to the baseline.
#[allow(clippy::too_many_arguments)]
pub fn train_epoch_on<N, L, T, R, Ix, const O: usize>(
    unit: VectorUnit,
    net: &mut N,
    state: &mut TrainState<N>,
    pair: Option<&mut PairCache<N>>,
    loss: L,
    data: Dataset<'_, N::Input, L::Target>,
    order: &mut [Ix],
    sgd: &Sgd<T>,
    batch_size: usize,
    epoch: u32,
    rng: &mut R,
) -> Result<EpochMetrics<T>, Error>
where
    T: Float,
    N: Network<Scalar = T, Output = [T; O]>,
    L: Loss<T, O>,
    R: Rng + ?Sized,
    Ix: SampleIndex,
{
    #[cfg(target_arch = "x86_64")]
    if unit == VectorUnit::Avx2 && std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the line above confirmed that this CPU has AVX2.
        return unsafe { train_epoch_avx2(net, state, pair, loss, data, order, sgd, batch_size, epoch, rng) };
    }
    let _ = unit;
    train_epoch_baseline(net, state, pair, loss, data, order, sgd, batch_size, epoch, rng)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mlp_core::activation::{LeakyRelu, Relu, Tanh};
    use mlp_core::loss::SoftmaxCrossEntropy;
    use mlp_core::{DefaultRng, Dense, Init, SgdConfig, layers};
    use rand_core::SeedableRng;

    /// A wide first layer (skips zero inputs on hosts), a narrow one (does not), three activations.
    type Net =
        layers![Dense<f32, 20, 72, Relu>, Dense<f32, 72, 12, Tanh>, Dense<f32, 12, 5, LeakyRelu>, Dense<f32, 5, 3>];

    fn trained(unit: VectorUnit, paired: bool) -> Box<Net> {
        let mut rng = DefaultRng::seed_from_u64(5);
        let inputs: Vec<[f32; 20]> = (0..150)
            .map(|_| core::array::from_fn(|_| (mlp_core::init::unit_interval(&mut rng) as f32 - 0.4).max(0.0)))
            .collect();
        let labels: Vec<usize> = inputs.iter().map(|x| usize::from(x[0] > x[1]) + usize::from(x[2] > 0.3)).collect();
        let data = Dataset::new(&inputs, &labels).unwrap();
        let sgd = SgdConfig { lr: 0.05, momentum: 0.9, nesterov: true, l2: 1e-3, l1: 1e-4, decay: 0.01 };
        let sgd = sgd.check::<f32>().unwrap();
        let mut net = crate::boxed::zeroed_box::<Net>();
        net.initialize(Init::HeNormal, &mut rng).unwrap();
        let mut state = crate::boxed::zeroed_box::<TrainState<Net>>();
        let mut pair = crate::boxed::zeroed_box::<PairCache<Net>>();
        let mut order = vec![0u32; inputs.len()];
        for epoch in 0..4 {
            train_epoch_on(
                unit,
                &mut *net,
                &mut state,
                paired.then_some(&mut *pair),
                SoftmaxCrossEntropy,
                data,
                &mut order,
                &sgd,
                16,
                epoch,
                &mut rng,
            )
            .unwrap();
        }
        net
    }

    #[test]
    fn every_vector_unit_gives_the_same_bits_one_or_two_samples_at_a_time() {
        let baseline = trained(VectorUnit::Baseline, false);
        let bits = |net: &Net| -> Vec<u32> {
            let mut all = Vec::new();
            all.extend(net.head.weights.iter().chain(net.head.biases.iter()).map(|v| v.to_bits()));
            all.extend(net.tail.head.weights.iter().map(|v| v.to_bits()));
            all.extend(net.tail.tail.head.weights.iter().map(|v| v.to_bits()));
            all.extend(net.tail.tail.tail.weights.iter().chain(net.tail.tail.tail.biases.iter()).map(|v| v.to_bits()));
            all
        };
        for (unit, paired) in [(VectorUnit::Avx2, false), (VectorUnit::Baseline, true), (VectorUnit::Avx2, true)] {
            assert_eq!(bits(&baseline), bits(&trained(unit, paired)), "{} paired: {paired}", unit.name());
        }
        assert_ne!(bits(&baseline), bits(&trained_untouched()), "training changed the weights");
    }

    fn trained_untouched() -> Box<Net> {
        let mut rng = DefaultRng::seed_from_u64(5);
        for _ in 0..150 * 20 {
            mlp_core::init::unit_interval(&mut rng);
        }
        let mut net = crate::boxed::zeroed_box::<Net>();
        net.initialize(Init::HeNormal, &mut rng).unwrap();
        net
    }
}
