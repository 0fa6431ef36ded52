//! Weight initialisers, drawing from any `rand_core` generator.
//!
//! Values are drawn in `f64` and then rounded to the network's scalar, so an
//! `f32` and an `f64` network built from the same seed start from the same
//! weights (up to rounding), and host and target draw identical bits.
//! Biases start at zero; random weights break the symmetry between units.

use rand_core::Rng;

use crate::float::Float;

/// How to draw a layer's initial weights.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Init {
    /// Uniform on `(−a, a)`. `a` must be positive and finite.
    Uniform(f64),
    /// Glorot (Xavier) uniform: `a = √(6 / (fan_in + fan_out))`. Suits tanh and sigmoid.
    GlorotUniform,
    /// Glorot normal: `σ = √(2 / (fan_in + fan_out))`.
    GlorotNormal,
    /// He uniform: `a = √(6 / fan_in)`. Suits ReLU.
    HeUniform,
    /// He normal: `σ = √(2 / fan_in)`.
    HeNormal,
    /// Normal scaled by `1/√fan_in` (LeCun normal).
    LecunNormal,
}

impl Init {
    /// Whether the initialiser's parameters are usable (a positive, finite range).
    pub fn is_valid(&self) -> bool {
        self.is_valid_for::<f64>()
    }

    /// Whether the initialiser's parameters are usable for weights of type `T`:
    /// a uniform range that stays positive and finite once rounded to `T`
    /// (so the weights are neither all zero nor infinite).
    pub fn is_valid_for<T: Float>(&self) -> bool {
        match *self {
            Init::Uniform(a) => {
                let a = T::from_f64(a);
                a.is_finite() && a > T::ZERO
            }
            _ => true,
        }
    }

    /// Draws one weight for a layer with the given fan-in and fan-out.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R, fan_in: usize, fan_out: usize) -> f64 {
        let fan_in = fan_in.max(1) as f64;
        let fan_sum = fan_in + fan_out as f64;
        match *self {
            Init::Uniform(a) => uniform_symmetric(rng, a),
            Init::GlorotUniform => uniform_symmetric(rng, libm::sqrt(6.0 / fan_sum)),
            Init::GlorotNormal => standard_normal(rng) * libm::sqrt(2.0 / fan_sum),
            Init::HeUniform => uniform_symmetric(rng, libm::sqrt(6.0 / fan_in)),
            Init::HeNormal => standard_normal(rng) * libm::sqrt(2.0 / fan_in),
            Init::LecunNormal => standard_normal(rng) / libm::sqrt(fan_in),
        }
    }
}

/// A uniform draw on `[0, 1)` with 53 random bits.
pub fn unit_interval<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

fn uniform_symmetric<R: Rng + ?Sized>(rng: &mut R, a: f64) -> f64 {
    (2.0 * unit_interval(rng) - 1.0) * a
}

/// A standard normal draw by the Box–Muller transform (one of the pair is used,
/// so the stream position depends only on how many weights were drawn).
pub fn standard_normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    // 1 − u lies in (0, 1], so the logarithm is finite.
    let u1 = 1.0 - unit_interval(rng);
    let u2 = unit_interval(rng);
    libm::sqrt(-2.0 * libm::log(u1)) * libm::cos(core::f64::consts::TAU * u2)
}

/// An unbiased-enough index in `0..bound` (`bound ≥ 1`), by Lemire's multiply-shift.
///
/// The bias is below `bound / 2^32`, far under anything a shuffle of a data
/// set that fits a device could reveal, and it costs no division on the target.
/// Bounds beyond 2^32 (host data sets only) draw 64 bits instead.
pub fn index_below<R: Rng + ?Sized>(rng: &mut R, bound: usize) -> usize {
    let bound = bound as u64;
    if bound <= 1 << 32 {
        ((u64::from(rng.next_u32()) * bound) >> 32) as usize
    } else {
        ((u128::from(rng.next_u64()) * u128::from(bound)) >> 64) as usize
    }
}

/// Fisher–Yates shuffle of `order` in place.
pub fn shuffle<R: Rng + ?Sized, I>(rng: &mut R, order: &mut [I]) {
    for i in (1..order.len()).rev() {
        let j = index_below(rng, i + 1);
        order.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::SeedableRng;
    use rand_xorshift::XorShiftRng;

    #[test]
    fn draws_stay_in_range_and_vary() {
        let mut rng = XorShiftRng::seed_from_u64(7);
        let a = libm::sqrt(6.0 / (64.0 + 32.0));
        let draws: [f64; 256] = core::array::from_fn(|_| Init::GlorotUniform.sample(&mut rng, 64, 32));
        assert!(draws.iter().all(|w| w.abs() < a));
        assert!(draws.windows(2).all(|p| p[0] != p[1]));
    }

    #[test]
    fn normal_draws_have_unit_variance() {
        let mut rng = XorShiftRng::seed_from_u64(1);
        let n = 20_000;
        let (mut sum, mut sum_sq) = (0.0, 0.0);
        for _ in 0..n {
            let x = standard_normal(&mut rng);
            sum += x;
            sum_sq += x * x;
        }
        let mean = sum / n as f64;
        let var = sum_sq / n as f64 - mean * mean;
        assert!(mean.abs() < 0.03 && (var - 1.0).abs() < 0.05, "mean {mean} var {var}");
    }

    #[test]
    fn shuffle_is_a_permutation() {
        let mut rng = XorShiftRng::seed_from_u64(3);
        let mut order: [u16; 100] = core::array::from_fn(|i| i as u16);
        shuffle(&mut rng, &mut order);
        let mut seen = [false; 100];
        for &i in &order {
            seen[i as usize] = true;
        }
        assert!(seen.iter().all(|&s| s));
        assert!(order.iter().enumerate().any(|(i, &v)| i != v as usize));
    }
}
