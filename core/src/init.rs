//! Weight initialisers, drawing from any `rand_core` generator.
//!
//! Values are drawn in `f64` and then rounded to the network's scalar, so an
//! `f32` and an `f64` network built from the same seed start from the same
//! weights (up to rounding), and host and target draw identical bits.
//! Biases start at zero; random weights break the symmetry between units.

use core::num::NonZeroUsize;

use rand_core::Rng;

use crate::float::Float;

/// How to draw a layer's initial weights.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Init {
    /// Uniform on `[−a, a)`. `a` must be finite and, in the network's float
    /// type, at least its smallest positive normal number (see [`Init::is_valid_for`]).
    Uniform(f64),
    /// Glorot (Xavier) uniform on `[−a, a)`, `a = √(6 / (fan_in + fan_out))`. Suits tanh and sigmoid.
    GlorotUniform,
    /// Glorot normal: `σ = √(2 / (fan_in + fan_out))`.
    GlorotNormal,
    /// He uniform on `[−a, a)`, `a = √(6 / fan_in)`. Suits ReLU.
    HeUniform,
    /// He normal: `σ = √(2 / fan_in)`.
    HeNormal,
    /// Normal scaled by `1/√fan_in` (LeCun normal).
    LecunNormal,
}

impl Init {
    /// Whether the initialiser's parameters are usable for `f64` weights
    /// (see [`Init::is_valid_for`]).
    pub fn is_valid(&self) -> bool {
        self.is_valid_for::<f64>()
    }

    /// Whether the initialiser's parameters are usable for weights of type `T`:
    /// a uniform range `a` that, rounded to `T`, is finite and at least
    /// `T::MIN_POSITIVE`, the smallest positive normal number. A smaller range
    /// would round most or all weights to zero, and an infinite one makes
    /// them infinite.
    ///
    /// ```
    /// use mlp_core::Init;
    /// assert!(Init::Uniform(0.5).is_valid_for::<f32>());
    /// // Positive in `f64`, but subnormal (1e-40) or zero (1e-50) in `f32`:
    /// assert!(Init::Uniform(1e-40).is_valid_for::<f64>());
    /// assert!(!Init::Uniform(1e-40).is_valid_for::<f32>());
    /// assert!(!Init::Uniform(1e-50).is_valid_for::<f32>());
    /// assert!(!Init::Uniform(1e300).is_valid_for::<f32>());
    /// ```
    pub fn is_valid_for<T: Float>(&self) -> bool {
        match *self {
            Init::Uniform(a) => {
                let a = T::from_f64(a);
                a.is_finite() && a >= T::MIN_POSITIVE
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

/// A uniformly distributed index in `0..bound`, by Lemire's multiply-shift
/// with rejection ("Fast random integer generation in an interval", 2019).
///
/// The draw `x` is scaled to `x · bound / 2^32` and the integer part kept.
/// Some results would have one more preimage than others; the draws that make
/// this so are rejected and redrawn, so every index is exactly equally likely.
/// Rejection is tested for only when the fractional part is below `bound`, and
/// happens with probability below `bound / 2^32`: a device shuffling a data set
/// it can hold practically never pays the division, and without a rejection
/// the result and the generator's position are those of the plain
/// multiply-shift. Bounds beyond 2^32 (host data sets only) draw 64 bits instead.
///
/// The bound is a [`NonZeroUsize`]: `0..0` holds no index to return.
pub fn index_below<R: Rng + ?Sized>(rng: &mut R, bound: NonZeroUsize) -> usize {
    let bound = bound.get() as u64;
    if bound <= 1 << 32 {
        let mut product = u64::from(rng.next_u32()) * bound;
        // The low 32 bits of the product are the fractional part of x · bound / 2^32.
        if (product & 0xFFFF_FFFF) < bound {
            // Rejecting the draws whose low part is below 2^32 mod bound
            // leaves exactly ⌊2^32 / bound⌋ draws for every result.
            let threshold = ((1 << 32) - bound) % bound;
            while (product & 0xFFFF_FFFF) < threshold {
                product = u64::from(rng.next_u32()) * bound;
            }
        }
        (product >> 32) as usize
    } else {
        let bound = u128::from(bound);
        let mut product = u128::from(rng.next_u64()) * bound;
        if (product as u64 as u128) < bound {
            let threshold = ((1 << 64) - bound) % bound;
            while (product as u64 as u128) < threshold {
                product = u128::from(rng.next_u64()) * bound;
            }
        }
        (product >> 64) as usize
    }
}

/// Fisher–Yates shuffle of `order` in place.
pub fn shuffle<R: Rng + ?Sized, I>(rng: &mut R, order: &mut [I]) {
    for i in (1..order.len()).rev() {
        let j = index_below(rng, NonZeroUsize::MIN.saturating_add(i));
        // `swap(i, j)` without its bounds checks (a panic path on a device):
        // j ≤ i < len.
        if let Some((front, back)) = order.split_at_mut_checked(i)
            && let (Some(a), Some(b)) = (front.get_mut(j), back.first_mut())
        {
            core::mem::swap(a, b);
        }
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

    fn nonzero(n: usize) -> NonZeroUsize {
        NonZeroUsize::new(n).unwrap()
    }

    /// Counts of `index_below(bound) % 3` over `draws` draws.
    fn residues_mod_3(seed: u64, bound: usize, draws: usize) -> [usize; 3] {
        let mut rng = XorShiftRng::seed_from_u64(seed);
        let mut counts = [0; 3];
        for _ in 0..draws {
            let i = index_below(&mut rng, nonzero(bound));
            assert!(i < bound);
            counts[i % 3] += 1;
        }
        counts
    }

    /// With `bound = 3·2^30` a draw `x` maps to `⌊3x/4⌋`: without rejection the
    /// multiples of 3 get two draws each and the other results one, so a third
    /// of the indices would be twice as likely. Every residue must get a third.
    #[test]
    fn bound_of_three_quarters_of_the_range_is_uniform() {
        const DRAWS: usize = 60_000;
        let counts = residues_mod_3(11, 3 << 30, DRAWS);
        // ±1% of the draws is over 5 standard deviations (√(DRAWS·2/9) ≈ 115);
        // the bias rejection removes would put half the draws on residue 0.
        for count in counts {
            assert!(count.abs_diff(DRAWS / 3) < DRAWS / 100, "{counts:?}");
        }
    }

    /// The same in the 64-bit branch, with `bound = 3·2^62`.
    #[cfg(target_pointer_width = "64")]
    #[test]
    fn wide_bound_of_three_quarters_of_the_range_is_uniform() {
        const DRAWS: usize = 60_000;
        let counts = residues_mod_3(12, 3 << 62, DRAWS);
        for count in counts {
            assert!(count.abs_diff(DRAWS / 3) < DRAWS / 100, "{counts:?}");
        }
    }

    /// Rejection is so rare for data-set-sized bounds that the draws match the
    /// plain multiply-shift, generator position included (none is rejected
    /// with this seed), so seeded shuffles are unchanged by it.
    #[test]
    fn small_bounds_draw_as_the_plain_multiply_shift() {
        let mut rng = XorShiftRng::seed_from_u64(5);
        let mut plain = rng.clone();
        for k in 0..100_000u64 {
            let bound = 1 + (k % 2000);
            let expected = (u64::from(plain.next_u32()) * bound) >> 32;
            assert_eq!(index_below(&mut rng, nonzero(bound as usize)) as u64, expected, "draw {k}");
        }
        assert_eq!(rng.next_u64(), plain.next_u64());
    }

    #[test]
    fn bounds_at_the_branch_edges_stay_in_range() {
        let mut rng = XorShiftRng::seed_from_u64(9);
        for bound in [1usize, 2, 3, (1 << 31) + 1, (u32::MAX as usize).saturating_add(1)] {
            for _ in 0..1000 {
                assert!(index_below(&mut rng, nonzero(bound)) < bound);
            }
        }
        #[cfg(target_pointer_width = "64")]
        for bound in [(1usize << 32) + 1, usize::MAX] {
            for _ in 0..1000 {
                assert!(index_below(&mut rng, nonzero(bound)) < bound);
            }
        }
    }

    /// Pearson's χ² over the 24 orders of 4 elements after many shuffles.
    #[test]
    fn shuffles_of_four_are_uniform_over_the_24_orders() {
        const SHUFFLES: usize = 240_000;
        const ORDERS: usize = 24;
        // The 0.9999 quantile of χ² with 23 degrees of freedom: a fair shuffle
        // exceeds it once in 10 000 seeds, and the seed is fixed.
        const CHI_SQUARE_LIMIT: f64 = 57.07;
        let mut rng = XorShiftRng::seed_from_u64(24);
        let mut counts = [0usize; ORDERS];
        for _ in 0..SHUFFLES {
            let mut order = [0u8, 1, 2, 3];
            shuffle(&mut rng, &mut order);
            // Lehmer code: for each position, how many later elements are smaller.
            let mut rank = 0;
            for i in 0..4 {
                let smaller = order[i + 1..].iter().filter(|&&v| v < order[i]).count();
                rank = rank * (4 - i) + smaller;
            }
            counts[rank] += 1;
        }
        let expected = (SHUFFLES / ORDERS) as f64;
        let chi_square: f64 = counts.iter().map(|&c| (c as f64 - expected) * (c as f64 - expected) / expected).sum();
        assert!(chi_square < CHI_SQUARE_LIMIT, "χ² = {chi_square}, counts {counts:?}");
        assert!(counts.iter().all(|&c| c > 0));
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
