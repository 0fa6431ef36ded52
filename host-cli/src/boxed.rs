//! Heap allocation of big network buffers without building them on the stack.
//!
//! A 784→128→10 network is about 400 KB of `f32` parameters, and its gradients
//! and momentum as much again each: `Box::new(value)` would build each one on
//! the stack first, which overflows a thread's stack in debug builds.

use std::alloc::{Layout, alloc_zeroed, handle_alloc_error};

use mlp_core::Zeroed;

/// A zero-filled `T` allocated directly on the heap.
pub fn zeroed_box<T: Zeroed>() -> Box<T> {
    let layout = Layout::new::<T>();
    if layout.size() == 0 {
        return zero_sized();
    }
    // SAFETY: `layout` has a non-zero size, as `alloc_zeroed` requires.
    // `Zeroed` is sealed: only mlp-core implements it, for buffers made only of
    // IEEE floats and zero-sized markers, so all-zero bytes are a valid `T`. The
    // pointer comes from the global allocator with `T`'s layout, which is what
    // `Box::from_raw` needs to own and later free it.
    unsafe {
        let ptr = alloc_zeroed(layout).cast::<T>();
        if ptr.is_null() {
            handle_alloc_error(layout);
        }
        Box::from_raw(ptr)
    }
}

/// Kept out of line: in a debug build, a `T::zeroed()` temporary in
/// [`zeroed_box`] itself would reserve `size_of::<T>()` of stack on every call.
#[inline(never)]
fn zero_sized<T: Zeroed>() -> Box<T> {
    Box::new(T::zeroed())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mlp_core::{Dense, Network, TrainState, layers};

    type Big = layers![Dense<f32, 784, 128>, Dense<f32, 128, 10>];

    #[test]
    fn big_buffers_are_zero_and_never_touch_a_small_stack() {
        let worker = std::thread::Builder::new().stack_size(64 * 1024).spawn(|| {
            let net = zeroed_box::<Big>();
            let state = zeroed_box::<TrainState<Big>>();
            assert!(net.head.weights.iter().all(|&w| w == 0.0));
            assert!(state.persistent.optimizer[0].head.weights.iter().all(|&v| v == 0.0));
            Big::PARAMETER_BYTES
        });
        assert_eq!(worker.unwrap().join().unwrap(), (784 * 128 + 128 + 128 * 10 + 10) * 4);
    }
}
