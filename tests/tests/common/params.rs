//! Walks a network's trainable parameters (and their gradients) as one flat
//! list, layer by layer, weights (column-major, as stored) before biases.
//! Frozen layers have no trainable parameters and contribute nothing.

use mlp_core::activation::Activation;
use mlp_core::{Chain, Dense, DenseGradients, Float, Frozen, Network, Zeroed};

/// Flat access to the trainable parameters of a network built from
/// [`Dense`], [`Frozen`] and [`Chain`].
pub trait Params<T: Float> {
    /// The gradient buffer with the same structure (`Network::Gradients`).
    type Grads;
    /// Number of trainable parameters.
    const COUNT: usize;
    /// Appends every trainable parameter, in order.
    fn values(&self, out: &mut Vec<T>);
    /// The `k`-th trainable parameter.
    fn value_mut(&mut self, k: usize) -> &mut T;
    /// Appends every gradient entry, in the same order as [`Params::values`].
    fn grads(g: &Self::Grads, out: &mut Vec<T>);
    /// The `k`-th gradient entry, in the order of [`Params::values`].
    fn grad_mut(g: &mut Self::Grads, k: usize) -> &mut T;
    /// Runs `x` forward layer by layer, recording for every unit of every
    /// layer whether its output is `> 0`, and returns the last layer's output.
    fn forward_signs(&self, x: &[T], signs: &mut Vec<bool>) -> Vec<T>;
}

fn single_layer_signs<N, T>(layer: &N, x: &[T], signs: &mut Vec<bool>) -> Vec<T>
where
    T: Float,
    N: Network<Scalar = T>,
    N::Input: for<'a> TryFrom<&'a [T]>,
    N::Output: AsRef<[T]>,
{
    let Ok(input) = N::Input::try_from(x) else { panic!("layer input has the wrong width") };
    let mut activations = N::Activations::zeroed();
    let out = layer.forward(&input, &mut activations).as_ref().to_vec();
    signs.extend(out.iter().map(|&v| v > T::ZERO));
    out
}

impl<T: Float, const I: usize, const O: usize, A: Activation> Params<T> for Dense<T, I, O, A> {
    type Grads = DenseGradients<T, I, O>;
    const COUNT: usize = I * O + O;

    fn values(&self, out: &mut Vec<T>) {
        out.extend_from_slice(self.weights.as_slice());
        out.extend_from_slice(self.biases.as_slice());
    }

    fn value_mut(&mut self, k: usize) -> &mut T {
        if k < I * O { &mut self.weights.as_mut_slice()[k] } else { &mut self.biases.as_mut_slice()[k - I * O] }
    }

    fn grads(g: &Self::Grads, out: &mut Vec<T>) {
        out.extend_from_slice(g.weights.as_slice());
        out.extend_from_slice(g.biases.as_slice());
    }

    fn grad_mut(g: &mut Self::Grads, k: usize) -> &mut T {
        if k < I * O { &mut g.weights.as_mut_slice()[k] } else { &mut g.biases.as_mut_slice()[k - I * O] }
    }

    fn forward_signs(&self, x: &[T], signs: &mut Vec<bool>) -> Vec<T> {
        single_layer_signs(self, x, signs)
    }
}

impl<T: Float, const I: usize, const O: usize, A: Activation> Params<T> for Frozen<'_, T, I, O, A> {
    type Grads = ();
    const COUNT: usize = 0;

    fn values(&self, _out: &mut Vec<T>) {}

    fn value_mut(&mut self, k: usize) -> &mut T {
        panic!("a frozen layer has no trainable parameter {k}")
    }

    fn grads(_g: &(), _out: &mut Vec<T>) {}

    fn grad_mut(_g: &mut (), k: usize) -> &mut T {
        panic!("a frozen layer has no gradient {k}")
    }

    fn forward_signs(&self, x: &[T], signs: &mut Vec<bool>) -> Vec<T> {
        single_layer_signs(self, x, signs)
    }
}

impl<T: Float, H: Params<T>, Tl: Params<T>> Params<T> for Chain<H, Tl> {
    type Grads = Chain<H::Grads, Tl::Grads>;
    const COUNT: usize = H::COUNT + Tl::COUNT;

    fn values(&self, out: &mut Vec<T>) {
        self.head.values(out);
        self.tail.values(out);
    }

    fn value_mut(&mut self, k: usize) -> &mut T {
        if k < H::COUNT { self.head.value_mut(k) } else { self.tail.value_mut(k - H::COUNT) }
    }

    fn grads(g: &Self::Grads, out: &mut Vec<T>) {
        H::grads(&g.head, out);
        Tl::grads(&g.tail, out);
    }

    fn grad_mut(g: &mut Self::Grads, k: usize) -> &mut T {
        if k < H::COUNT { H::grad_mut(&mut g.head, k) } else { Tl::grad_mut(&mut g.tail, k - H::COUNT) }
    }

    fn forward_signs(&self, x: &[T], signs: &mut Vec<bool>) -> Vec<T> {
        let hidden = self.head.forward_signs(x, signs);
        self.tail.forward_signs(&hidden, signs)
    }
}

/// Every trainable parameter of `net`, in order.
pub fn values<T: Float, N: Params<T>>(net: &N) -> Vec<T> {
    let mut out = Vec::with_capacity(N::COUNT);
    net.values(&mut out);
    out
}

/// Every gradient entry, in the order of [`values`].
pub fn grads<T: Float, N: Params<T>>(g: &N::Grads) -> Vec<T> {
    let mut out = Vec::with_capacity(N::COUNT);
    N::grads(g, &mut out);
    out
}

/// The bit patterns of every trainable parameter of an `f32` network.
pub fn bits_f32<N: Params<f32>>(net: &N) -> Vec<u32> {
    values(net).iter().map(|v| v.to_bits()).collect()
}

/// The bit patterns of values of either float type, widened to `f64`
/// (exactly, so equal patterns mean equal values, signed zeros told apart).
pub fn bits<T: Float>(values: &[T]) -> Vec<u64> {
    values.iter().map(|v| v.to_f64().to_bits()).collect()
}

/// The bit patterns of every trainable parameter of a network of either float type.
pub fn param_bits<T: Float, N: Params<T>>(net: &N) -> Vec<u64> {
    bits(&values(net))
}

/// The bit patterns of every buffer of an optimizer's state, buffer after buffer.
pub fn state_bits<T: Float, N: Params<T>>(buffers: &[N::Grads]) -> Vec<u64> {
    buffers.iter().flat_map(|b| bits(&grads::<T, N>(b))).collect()
}

/// Overwrites every trainable parameter with a uniform draw on `[−scale, scale)`,
/// biases included (the core's initialisers zero the biases, which would leave
/// the bias paths of a gradient check at a special point).
pub fn randomize<T: Float, N: Params<T>, R: rand_core::Rng>(net: &mut N, rng: &mut R, scale: f64) {
    for k in 0..N::COUNT {
        *net.value_mut(k) = T::from_f64(super::uniform(rng, -scale, scale));
    }
}
