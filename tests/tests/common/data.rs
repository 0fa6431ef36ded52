//! Small data sets generated in the tests from a seed.

use mlp_core::init::{standard_normal, unit_interval};

/// XOR on the corners of the unit square, with class labels.
pub const XOR_INPUTS: [[f32; 2]; 4] = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
/// Class of each [`XOR_INPUTS`] corner.
pub const XOR_LABELS: [usize; 4] = [0, 1, 1, 0];

/// scikit-learn's `make_moons`: two interleaved half circles, class 0 the upper
/// one `(cos t, sin t)` and class 1 the lower one `(1 − cos t, 1/2 − sin t)`,
/// `t` uniform on `[0, π]`, plus Gaussian noise of standard deviation `noise`
/// on each coordinate. Labels alternate, so any prefix is balanced. The points
/// are shifted by `(−1/2, −1/4)` to centre the data set on the origin.
pub fn two_moons<R: rand_core::Rng>(rng: &mut R, n: usize, noise: f64) -> (Vec<[f32; 2]>, Vec<usize>) {
    let mut inputs = Vec::with_capacity(n);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let label = i % 2;
        let t = std::f64::consts::PI * unit_interval(rng);
        let (x, y) = if label == 0 { (t.cos(), t.sin()) } else { (1.0 - t.cos(), 0.5 - t.sin()) };
        let x = x + noise * standard_normal(rng) - 0.5;
        let y = y + noise * standard_normal(rng) - 0.25;
        inputs.push([x as f32, y as f32]);
        labels.push(label);
    }
    (inputs, labels)
}

/// `n` evenly spaced points `x` on `[−π, π]` with targets `sin x`; the input
/// given to the network is `x / π`, in `[−1, 1]`.
pub fn sine(n: usize) -> (Vec<[f32; 1]>, Vec<[f32; 1]>) {
    (0..n)
        .map(|i| {
            let x = -std::f64::consts::PI + std::f64::consts::TAU * i as f64 / (n - 1) as f64;
            ([(x / std::f64::consts::PI) as f32], [x.sin() as f32])
        })
        .unzip()
}
