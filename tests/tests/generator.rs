//! The core's own generator, `XorShift128` (`DefaultRng`), gives the stream
//! of `rand_xorshift::XorShiftRng` for the same seed, and its state can be
//! read and restored: a checkpoint that saves `state()` continues the same
//! stream after `from_state`.

use mlp_core::{DefaultRng, Rng, SeedableRng, XorShift128, Zeroed};
use rand_xorshift::XorShiftRng;

const SEEDS: [u64; 6] = [0, 1, 7, 42, 0xDEAD_BEEF_0BAD_5EED, u64::MAX];

/// 64 values of every width, and some bytes, from both generators.
fn assert_same_stream(ours: &mut XorShift128, theirs: &mut XorShiftRng, what: &str) {
    for i in 0..64 {
        assert_eq!(ours.next_u32(), theirs.next_u32(), "{what}: u32 {i}");
        assert_eq!(ours.next_u64(), theirs.next_u64(), "{what}: u64 {i}");
    }
    for len in [0, 1, 3, 4, 7, 16, 33] {
        let (mut a, mut b) = (vec![0u8; len], vec![0u8; len]);
        ours.fill_bytes(&mut a);
        theirs.fill_bytes(&mut b);
        assert_eq!(a, b, "{what}: {len} bytes");
    }
}

#[test]
fn the_same_stream_as_rand_xorshift_from_a_u64_seed() {
    for seed in SEEDS {
        let (mut ours, mut theirs) = (DefaultRng::seed_from_u64(seed), XorShiftRng::seed_from_u64(seed));
        assert_same_stream(&mut ours, &mut theirs, &format!("seed {seed:#x}"));
    }
}

#[test]
fn the_same_stream_as_rand_xorshift_from_a_byte_seed() {
    let mut seeds: Vec<[u8; 16]> = vec![[0; 16], [0xff; 16], core::array::from_fn(|i| i as u8)];
    // Only the first word non-zero, and only the last.
    seeds.push(core::array::from_fn(|i| u8::from(i == 0)));
    seeds.push(core::array::from_fn(|i| u8::from(i == 15)));
    for seed in seeds {
        let (mut ours, mut theirs) = (XorShift128::from_seed(seed), XorShiftRng::from_seed(seed));
        assert_same_stream(&mut ours, &mut theirs, &format!("seed {seed:?}"));
    }
}

#[test]
fn the_state_is_the_seed_as_little_endian_words() {
    let seed: [u8; 16] = core::array::from_fn(|i| (i * 17 + 1) as u8);
    let words: [u32; 4] = core::array::from_fn(|i| u32::from_le_bytes(seed[4 * i..4 * i + 4].try_into().unwrap()));
    assert_eq!(XorShift128::from_seed(seed).state(), words);
    assert_eq!(XorShift128::from_state(words), XorShift128::from_seed(seed));
}

#[test]
fn from_state_continues_the_stream() {
    for seed in SEEDS {
        let mut rng = DefaultRng::seed_from_u64(seed);
        // Part-way through, as a checkpoint after some epochs would be.
        for _ in 0..=seed % 97 {
            rng.next_u32();
        }
        let saved = rng.state();
        let mut resumed = XorShift128::from_state(saved);
        assert_eq!(resumed, rng);
        let expected: Vec<u64> = (0..100).map(|_| rng.next_u64()).collect();
        let replayed: Vec<u64> = (0..100).map(|_| resumed.next_u64()).collect();
        assert_eq!(replayed, expected, "seed {seed}");
        assert_eq!(resumed.state(), rng.state());
        assert_ne!(rng.state(), saved, "the state advances");
    }
}

/// All-zero bytes (a fresh `TrainState`, a `static` in `.bss`) are a working
/// generator: the one an all-zero seed gives, as in `rand_xorshift`, which
/// replaces that seed because xorshift would stay at zero forever.
#[test]
fn the_all_zero_state_runs_as_the_all_zero_seed() {
    const FRESH: XorShift128 = XorShift128::from_state([0; 4]);
    let mut zeroed = <XorShift128 as Zeroed>::ZEROED;
    assert_eq!(zeroed, FRESH);
    assert_eq!(XorShift128::default(), FRESH);
    let mut theirs = XorShiftRng::from_seed([0; 16]);
    let first = zeroed.next_u32();
    assert_ne!(first, 0);
    assert_eq!(first, theirs.next_u32());
    assert_same_stream(&mut zeroed, &mut theirs, "all-zero state");
    // A fresh training state's generator is that one.
    type Net = mlp_core::Dense<f32, 2, 2>;
    assert_eq!(mlp_core::TrainState::<Net>::new().persistent.rng, FRESH);
}
