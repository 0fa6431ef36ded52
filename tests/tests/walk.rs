//! The parameter walk: one fixed order (layer by layer, first to last;
//! within a layer the weights column-major as stored, then the biases),
//! frozen layers visited read-only and marked, skipped by the mutable walks,
//! and the zipped walk handing each trainable slice together with the same
//! slice of the gradient and of every optimizer-state buffer.

mod common;

use common::params::{Params, grads, values};
use mlp_core::activation::{ActivationKind, Relu, Tanh};
use mlp_core::{Chain, Dense, Frozen, Network, Part, Slot, Slots, Zeroed, layers};

type Net<'a> = layers![Dense<f64, 2, 3, Relu>, Frozen<'a, f64, 3, 2, Tanh>, Dense<f64, 2, 1>];

/// Weights numbered `100·layer + 10·input + output`, biases `100·layer + 50 + output`:
/// every value says where it is.
fn numbered<const I: usize, const O: usize, A: mlp_core::activation::Activation>(layer: usize) -> Dense<f64, I, O, A> {
    let base = 100.0 * layer as f64;
    Dense::from_columns(
        core::array::from_fn(|i| core::array::from_fn(|o| base + 10.0 * i as f64 + o as f64)),
        core::array::from_fn(|o| base + 50.0 + o as f64),
    )
}

#[test]
fn for_each_parameter_visits_every_layer_in_order_and_marks_the_frozen_one() {
    let middle = numbered::<3, 2, Tanh>(1);
    let net: Net<'_> = Chain::new(numbered(0), Chain::new(Frozen(&middle), numbered(2)));
    let mut seen = Vec::new();
    net.for_each_parameter(|slot, values| seen.push((slot, values.to_vec())));
    let slot = |layer, part, frozen, inputs, outputs| {
        let activation = [ActivationKind::Relu, ActivationKind::Tanh, ActivationKind::Identity][layer];
        Slot { layer, part, frozen, inputs, outputs, activation }
    };
    assert_eq!(
        seen,
        [
            // Column-major: all the weights from input 0, then from input 1.
            (slot(0, Part::Weights, false, 2, 3), vec![0.0, 1.0, 2.0, 10.0, 11.0, 12.0]),
            (slot(0, Part::Biases, false, 2, 3), vec![50.0, 51.0, 52.0]),
            (slot(1, Part::Weights, true, 3, 2), vec![100.0, 101.0, 110.0, 111.0, 120.0, 121.0]),
            (slot(1, Part::Biases, true, 3, 2), vec![150.0, 151.0]),
            (slot(2, Part::Weights, false, 2, 1), vec![200.0, 210.0]),
            (slot(2, Part::Biases, false, 2, 1), vec![250.0]),
        ]
    );
    // The storage order is the one `weights[(output, input)]` indexes.
    assert_eq!(net.head.weights[(2, 1)], 12.0);
    // Trainable values in walk order are the test helpers' flat order too.
    let trainable: Vec<f64> = seen.iter().filter(|(s, _)| !s.frozen).flat_map(|(_, v)| v.clone()).collect();
    assert_eq!(trainable, values(&net));
}

#[test]
fn for_each_trainable_mut_skips_frozen_layers_and_numbers_the_gradient_slots() {
    let middle = numbered::<3, 2, Tanh>(1);
    let mut net: Net<'_> = Chain::new(numbered(0), Chain::new(Frozen(&middle), numbered(2)));
    let mut seen = Vec::new();
    net.for_each_trainable_mut(|slot, index, values| {
        seen.push((slot.layer, slot.part, slot.frozen, index, values.len()));
        for v in values {
            *v = -*v;
        }
    });
    assert_eq!(
        seen,
        [
            (0, Part::Weights, false, 0, 6),
            (0, Part::Biases, false, 1, 3),
            (2, Part::Weights, false, 2, 2),
            (2, Part::Biases, false, 3, 1),
        ]
    );
    // Two slots per trainable layer, none for the frozen one.
    assert_eq!(<<Net<'_> as Network>::Gradients as Slots<f64>>::SLOTS, 4);
    assert_eq!(net.head.biases.as_slice(), [-50.0, -51.0, -52.0]);
    assert_eq!(net.tail.tail.weights.as_slice(), [-200.0, -210.0]);
    assert_eq!(net.tail.head.0.weights[(0, 0)], 100.0, "the frozen layer was written");
}

#[test]
fn the_zipped_walk_hands_matching_slices_of_the_gradient_and_every_buffer() {
    type Grads<'a> = <Net<'a> as Network>::Gradients;
    let middle = numbered::<3, 2, Tanh>(1);
    let mut net: Net<'_> = Chain::new(numbered(0), Chain::new(Frozen(&middle), numbered(2)));
    // The gradient holds each parameter's value plus 1000, the buffers plus 2000 and 3000.
    let mut gradient = Grads::zeroed();
    let mut first = Grads::zeroed();
    let mut second = Grads::zeroed();
    for (k, w) in values(&net).into_iter().enumerate() {
        *Net::grad_mut(&mut gradient, k) = w + 1000.0;
        *Net::grad_mut(&mut first, k) = w + 2000.0;
        *Net::grad_mut(&mut second, k) = w + 3000.0;
    }
    let mut layers = Vec::new();
    net.for_each_trainable_zip(&mut gradient, [&mut first, &mut second], |slot, w, g, [a, b]| {
        assert!(!slot.frozen);
        layers.push((slot.layer, slot.part));
        assert!(w.len() == g.len() && w.len() == a.len() && w.len() == b.len(), "{slot:?}");
        for k in 0..w.len() {
            assert_eq!((g[k], a[k], b[k]), (w[k] + 1000.0, w[k] + 2000.0, w[k] + 3000.0), "{slot:?}[{k}]");
            // Every slice is writable.
            w[k] += 0.5;
            g[k] = 0.0;
            a[k] *= 2.0;
            b[k] = -b[k];
        }
    });
    assert_eq!(layers, [(0, Part::Weights), (0, Part::Biases), (2, Part::Weights), (2, Part::Biases)]);
    let after = values(&net);
    assert_eq!(after[0], 0.5);
    assert_eq!(after.last(), Some(&250.5));
    assert!(grads::<f64, Net<'_>>(&gradient).iter().all(|&g| g == 0.0));
    let original: Vec<f64> = after.iter().map(|w| w - 0.5).collect();
    assert_eq!(grads::<f64, Net<'_>>(&first), original.iter().map(|w| 2.0 * (w + 2000.0)).collect::<Vec<_>>());
    assert_eq!(grads::<f64, Net<'_>>(&second), original.iter().map(|w| -(w + 3000.0)).collect::<Vec<_>>());
    // With no buffers at all (plain SGD's case) the walk is the same.
    let mut count = 0;
    net.for_each_trainable_zip(&mut gradient, [], |_, w, g, []| count += w.len().min(g.len()));
    assert_eq!(count, <Net<'_> as Network>::PARAMETERS);
}
