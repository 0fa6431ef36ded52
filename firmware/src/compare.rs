//! Bit-for-bit comparison of values computed on the device with the host's
//! (the fixtures in `fixtures/crosscheck/`: bit patterns in Rust source and
//! model files), and the `const fn`s that turn the fixtures' bit patterns
//! and pixels into floats at compile time.

use mlp_core::model::{Model, Values};
use mlp_core::{Network, Part, Slots};

/// `f32`s from their bit patterns, at compile time.
pub const fn f32_from_bits<const N: usize>(bits: [u32; N]) -> [f32; N] {
    let mut out = [0.0; N];
    let mut i = 0;
    while i < N {
        out[i] = f32::from_bits(bits[i]);
        i += 1;
    }
    out
}

/// A layer's columns (one array per input, as `Dense::from_columns` takes
/// them) from their bit patterns, at compile time.
pub const fn columns_from_bits<const I: usize, const O: usize>(bits: [[u32; O]; I]) -> [[f32; O]; I] {
    let mut out = [[0.0; O]; I];
    let mut i = 0;
    while i < I {
        out[i] = f32_from_bits(bits[i]);
        i += 1;
    }
    out
}

/// Digit images as network inputs, `pixel / 16` (exact: the host's loader
/// computes the same), at compile time.
pub const fn inputs_from_pixels<const N: usize>(pixels: [[u8; 64]; N]) -> [[f32; 64]; N] {
    let mut out = [[0.0; 64]; N];
    let mut i = 0;
    while i < N {
        let mut j = 0;
        while j < 64 {
            out[i][j] = pixels[i][j] as f32 / 16.0;
            j += 1;
        }
        i += 1;
    }
    out
}

/// The distance in units in the last place between two `f32`s: how many
/// representable values lie between them (0 for +0 and −0; `u32::MAX` if
/// either is NaN).
pub fn ulps(a: u32, b: u32) -> u32 {
    let nan = |bits: u32| bits & 0x7fff_ffff > 0x7f80_0000;
    if nan(a) || nan(b) {
        return u32::MAX;
    }
    // Sign-magnitude to a monotonic integer scale.
    let ordered = |bits: u32| {
        let magnitude = i64::from(bits & 0x7fff_ffff);
        if bits & 0x8000_0000 == 0 { magnitude } else { -magnitude }
    };
    u32::try_from(ordered(a).abs_diff(ordered(b))).unwrap_or(u32::MAX)
}

/// Whether `actual` has exactly the bits of `expected`. Logs one line: the
/// count when all are identical, otherwise how many differ, the largest
/// difference in ULPs and the first differing value.
pub fn same_bits(what: &str, expected: &[u32], actual: &[f32]) -> bool {
    if expected.len() != actual.len() {
        defmt::error!("{=str}: {=usize} values expected, {=usize} computed", what, expected.len(), actual.len());
        return false;
    }
    compare(what, |k| expected.get(k).copied(), actual.iter().copied(), expected.len())
}

/// [`same_bits`] for values computed one after another, as `actual` yields
/// them (too many to keep in RAM at once): whether it yields exactly the
/// bits of `expected`, as many values and in order. Logs as [`same_bits`].
pub fn same_bits_streamed(what: &str, expected: &[u32], actual: impl IntoIterator<Item = f32>) -> bool {
    compare(what, |k| expected.get(k).copied(), actual, expected.len())
}

/// Whether `actual` has exactly the bits of the values of a model file
/// (`f32`) from index `first` on, one after another; logs as [`same_bits`].
pub fn same_stored(what: &str, expected: Values<'_>, first: usize, actual: &[f32]) -> bool {
    if expected.len() < first.saturating_add(actual.len()) {
        defmt::error!(
            "{=str}: {=usize} values stored from {=usize} on, {=usize} computed",
            what,
            expected.len().saturating_sub(first),
            first,
            actual.len()
        );
        return false;
    }
    compare(what, |k| expected.get::<f32>(first + k).map(f32::to_bits), actual.iter().copied(), actual.len())
}

/// Compares `actual` with the bits `expected(k)` (`None`: a value missing)
/// and `len`, the count of values expected, and logs the outcome.
fn compare(
    what: &str,
    expected: impl Fn(usize) -> Option<u32>,
    actual: impl IntoIterator<Item = f32>,
    len: usize,
) -> bool {
    let mut count = 0usize;
    let mut differing = 0usize;
    let mut max_ulps = 0u32;
    let mut first = None;
    for (k, a) in actual.into_iter().enumerate() {
        count += 1;
        let a = a.to_bits();
        let e = expected(k);
        if e != Some(a) {
            let e = e.unwrap_or(u32::MAX);
            differing += 1;
            max_ulps = max_ulps.max(ulps(e, a));
            first = first.or(Some((k, e, a)));
        }
    }
    if count != len {
        defmt::error!("{=str}: {=usize} values expected, {=usize} computed", what, len, count);
        return false;
    }
    match first {
        None => {
            defmt::info!("{=str}: {=usize} values identical", what, count);
            true
        }
        Some((k, e, a)) => {
            defmt::error!(
                "{=str}: {=usize} of {=usize} values differ, by up to {=u32} ULPs; first at {=usize}: expected {=f32} ({=u32:#010x}), got {=f32} ({=u32:#010x})",
                what,
                differing,
                count,
                max_ulps,
                k,
                f32::from_bits(e),
                e,
                f32::from_bits(a),
                a
            );
            false
        }
    }
}

/// Whether every parameter of `net` has the bits a model file holds for it,
/// layer by layer (logs each part).
pub fn same_parameters<N: Network<Scalar = f32>>(model: &Model<'_>, net: &N) -> bool {
    let mut ok = model.layer_count() == N::LAYERS;
    if !ok {
        defmt::error!("the file has {=usize} layers, the network {=usize}", model.layer_count(), N::LAYERS);
    }
    net.for_each_parameter(|slot, values| {
        let Some((weights, biases)) = model.parameters(slot.layer) else {
            defmt::error!("layer {=usize} is not in the file", slot.layer);
            ok = false;
            return;
        };
        let (what, stored) = match slot.part {
            Part::Weights => ("    weights", weights),
            Part::Biases => ("    biases", biases),
        };
        if slot.part == Part::Weights {
            defmt::info!("  layer {=usize}", slot.layer);
        }
        if stored.len() != values.len() {
            defmt::error!("{=str}: {=usize} stored, {=usize} in the network", what, stored.len(), values.len());
            ok = false;
        }
        ok &= same_stored(what, stored, 0, values);
    });
    ok
}

/// Whether the optimizer's state buffers have the bits a checkpoint holds:
/// each stored buffer covers the trainable layers from `frozen_layers` on,
/// in the walk's order; `buffers` may keep more buffers than the file (a
/// run-time optimizer sized for the largest rule), which must then be zero.
pub fn same_state<N: Network<Scalar = f32>>(model: &Model<'_>, buffers: &[N::Gradients], frozen_layers: usize) -> bool {
    let Some((record, stored)) = model.optimizer() else {
        defmt::error!("the file holds no optimizer state (not a checkpoint)");
        return false;
    };
    let mut ok = true;
    let mut count = 0;
    for (k, (values, buffer)) in stored.zip(buffers).enumerate() {
        count += 1;
        defmt::info!("  optimizer buffer {=usize}", k);
        let (mut at, mut slot) = (0, 0);
        N::describe_layers(0, &mut |layer, description| {
            if description.frozen {
                return; // a `Frozen` layer has no slots
            }
            if layer >= frozen_layers {
                defmt::info!("    layer {=usize}", layer);
            }
            for what in ["      weights", "      biases"] {
                let actual = buffer.slot(slot);
                slot += 1;
                if layer >= frozen_layers {
                    ok &= same_stored(what, values, at, actual);
                    at += actual.len();
                } else if actual.iter().any(|&v| v != 0.0) {
                    defmt::error!("    layer {=usize}: {=str} not zero, yet frozen", layer, what);
                    ok = false;
                }
            }
        });
        if at != values.len() {
            defmt::error!("{=usize} values stored, {=usize} compared", values.len(), at);
            ok = false;
        }
    }
    ok &= same_count("  optimizer buffers", record.kind.buffers(), count);
    for (k, buffer) in buffers.iter().enumerate().skip(count) {
        if (0..N::Gradients::SLOTS).any(|slot| buffer.slot(slot).iter().any(|&v| v != 0.0)) {
            defmt::error!("optimizer buffer {=usize}: not stored, yet not zero", k);
            ok = false;
        }
    }
    ok
}

/// [`same_bits`] for one value.
pub fn same_bit(what: &str, expected: u32, actual: f32) -> bool {
    same_bits(what, &[expected], &[actual])
}

/// Whether two counts agree; logs either way.
pub fn same_count(what: &str, expected: usize, actual: usize) -> bool {
    if expected == actual {
        defmt::info!("{=str}: {=usize}, as on the host", what, actual);
        true
    } else {
        defmt::error!("{=str}: expected {=usize}, got {=usize}", what, expected, actual);
        false
    }
}
