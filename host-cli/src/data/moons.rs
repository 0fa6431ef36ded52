//! Two interleaving half circles from a seed, as scikit-learn's
//! `make_moons` draws them (the data set of the two-moons tutorial).

use mlp_core::init::standard_normal;
use mlp_core::{DefaultRng, SeedableRng};

use super::{Origin, Table};
use crate::report::number;

/// Mixed into the seed so that the points' noise is a stream of its own,
/// apart from the split's and the training's: "moons" in ASCII.
pub const MOONS_STREAM: u64 = u64::from_be_bytes(*b"\0\0\0moons");

/// How many points and how much noise.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MoonsOptions {
    /// Points in all (the first half, rounded down, on the upper moon).
    pub samples: usize,
    /// Standard deviation of the Gaussian noise added to each coordinate.
    pub noise: f64,
    /// Seed of the noise.
    pub seed: u64,
}

impl MoonsOptions {
    /// The tutorial's noise, with enough points for a test split of 200.
    pub const DEFAULT: MoonsOptions = MoonsOptions { samples: 1000, noise: 0.2, seed: 0 };

    /// Fewer points than this leave a class without a test or a training sample.
    pub const MIN_SAMPLES: usize = 8;

    /// More points than this are a typing mistake (they would take 16 bytes
    /// each, and minutes an epoch).
    pub const MAX_SAMPLES: usize = 100_000_000;

    /// "1000 points, noise 0.2, seed 0", for reports.
    pub fn describe(&self) -> String {
        format!("two moons: {} points, noise {}, seed {}", self.samples, number(self.noise), self.seed)
    }
}

/// The points: class 0 on the upper half circle `(cos t, sin t)`, class 1 on
/// the lower one `(1 − cos t, 1/2 − sin t)`, `t` evenly spaced over `[0, π]`
/// as `numpy.linspace` spaces it, then `noise · N(0, 1)` added to each
/// coordinate (x, then y, point by point). `libm`'s sine and cosine and the
/// core's generator make them the same bits on every machine.
pub fn generate(options: &MoonsOptions) -> Table {
    let mut table = Table::classes(Origin::Generated(options.describe()), 2, 2);
    let mut rng = DefaultRng::seed_from_u64(options.seed ^ MOONS_STREAM);
    let upper = options.samples / 2;
    let lower = options.samples - upper;
    for (class, count) in [(0, upper), (1, lower)] {
        for k in 0..count {
            let t = if count > 1 { std::f64::consts::PI * k as f64 / (count - 1) as f64 } else { 0.0 };
            let (x, y) =
                if class == 0 { (libm::cos(t), libm::sin(t)) } else { (1.0 - libm::cos(t), 0.5 - libm::sin(t)) };
            let x = x + options.noise * standard_normal(&mut rng);
            let y = y + options.noise * standard_normal(&mut rng);
            table.push_class(&[x as f32, y as f32], class);
        }
    }
    table.shrink_to_fit();
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noiseless_moons_lie_on_their_circles() {
        let t = generate(&MoonsOptions { samples: 9, noise: 0.0, seed: 0 });
        assert_eq!((t.len(), t.class_counts()), (9, vec![4, 5]));
        assert_eq!(t.raw(0), [1.0, 0.0]);
        assert_eq!(t.raw(4), [0.0, 0.5]);
        for i in 0..9 {
            let [x, y] = t.raw(i)[..] else { panic!() };
            let (cx, cy) = if t.class(i) == 0 { (0.0, 0.0) } else { (1.0, 0.5) };
            assert!((f64::from(x - cx).hypot(f64::from(y - cy)) - 1.0).abs() < 1e-6);
        }
    }

    #[test]
    fn the_seed_decides_the_noise() {
        let a = generate(&MoonsOptions { samples: 50, noise: 0.2, seed: 1 });
        assert_eq!(a, generate(&MoonsOptions { samples: 50, noise: 0.2, seed: 1 }));
        assert_ne!(a.raw(3), generate(&MoonsOptions { samples: 50, noise: 0.2, seed: 2 }).raw(3));
    }
}
