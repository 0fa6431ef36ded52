//! The default random generator: Marsaglia's xorshift128, as a type of the
//! core's own so that its state can be read and restored (a checkpoint saves
//! it, firmware keeps it in a `static`). It gives the same numbers as
//! `rand_xorshift::XorShiftRng` for the same seed.

use core::convert::Infallible;

use rand_core::{SeedableRng, TryRng, utils};

/// xorshift128 (Marsaglia, 2003): four 32-bit words of state, period 2¹²⁸ − 1.
/// Small, fast, and reproducible from a `u64` seed
/// ([`SeedableRng::seed_from_u64`]); not for cryptography.
///
/// ```
/// use mlp_core::{DefaultRng, Rng, SeedableRng};
/// let mut rng = DefaultRng::seed_from_u64(7);
/// let saved = rng.state();
/// let first = rng.next_u64();
/// // Restoring the state replays the stream.
/// let mut again = DefaultRng::from_state(saved);
/// assert_eq!(again.next_u64(), first);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct XorShift128 {
    // All zeros stands for `ZERO_SEED_STATE` (xorshift cannot leave the
    // all-zero state), so that all-zero bytes are a working generator, as
    // `Zeroed` requires of the training state that holds one.
    state: [u32; 4],
}

impl XorShift128 {
    /// What an all-zero seed or state runs as: the same value as `rand_xorshift`'s.
    const ZERO_SEED_STATE: [u32; 4] = [0x0BAD_5EED; 4];

    /// A generator in exactly this state (an all-zero state runs as an
    /// all-zero seed does). `const`, so a firmware's generator can be a `static`.
    pub const fn from_state(state: [u32; 4]) -> Self {
        XorShift128 { state }
    }

    /// The current state: [`from_state`](Self::from_state) of it continues
    /// the same stream.
    pub const fn state(&self) -> [u32; 4] {
        self.state
    }
}

impl crate::buffer::sealed::Sealed for XorShift128 {}
impl crate::buffer::Zeroed for XorShift128 {
    const ZEROED: Self = XorShift128 { state: [0; 4] };
    fn set_zero(&mut self) {
        self.state = [0; 4];
    }
}

impl Default for XorShift128 {
    fn default() -> Self {
        Self::from_state([0; 4])
    }
}

impl TryRng for XorShift128 {
    type Error = Infallible;

    #[inline]
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let [x, y, z, w] = if self.state == [0; 4] { Self::ZERO_SEED_STATE } else { self.state };
        let t = x ^ (x << 11);
        let next = w ^ (w >> 19) ^ (t ^ (t >> 8));
        self.state = [y, z, w, next];
        Ok(next)
    }

    #[inline]
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        utils::next_u64_via_u32(self)
    }

    #[inline]
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), Infallible> {
        utils::fill_bytes_via_next_word(dest, || self.try_next_u32())
    }
}

impl SeedableRng for XorShift128 {
    type Seed = [u8; 16];

    fn from_seed(seed: [u8; 16]) -> Self {
        let [a, b, c, d] = [0, 4, 8, 12].map(|i| u32::from_le_bytes([seed[i], seed[i + 1], seed[i + 2], seed[i + 3]]));
        Self::from_state([a, b, c, d])
    }
}
