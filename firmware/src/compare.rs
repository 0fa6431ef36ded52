//! Bit-for-bit comparison of values computed on the device with the host's
//! (the fixtures in `fixtures/crosscheck/`), and the `const fn`s that turn
//! the fixtures' bit patterns and pixels into floats at compile time.

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
    let mut differing = 0usize;
    let mut max_ulps = 0u32;
    let mut first = None;
    for (k, (&e, a)) in expected.iter().zip(actual).enumerate() {
        let a = a.to_bits();
        if e != a {
            differing += 1;
            max_ulps = max_ulps.max(ulps(e, a));
            first = first.or(Some((k, e, a)));
        }
    }
    match first {
        None => {
            defmt::info!("{=str}: {=usize} values identical", what, actual.len());
            true
        }
        Some((k, e, a)) => {
            defmt::error!(
                "{=str}: {=usize} of {=usize} values differ, by up to {=u32} ULPs; first at {=usize}: expected {=f32} ({=u32:#010x}), got {=f32} ({=u32:#010x})",
                what,
                differing,
                expected.len(),
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
