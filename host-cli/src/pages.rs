//! Memory for data read in random order: on huge pages where the system
//! offers them.
//!
//! An epoch reads its samples in a shuffled order. With 4 KiB pages, the
//! 55 MB of MNIST's pixels span 13 000 pages, far more than the TLB holds,
//! so nearly every sample costs a page walk on top of its cache misses,
//! which prefetching cannot hide. On 2 MiB pages the whole set needs 27
//! entries. Linux gives an anonymous mapping huge pages when asked with
//! `madvise(MADV_HUGEPAGE)` before it is first written (the default
//! `transparent_hugepage=madvise`); elsewhere, or when refused, the buffer
//! is an ordinary one.

/// An empty vector with room for `capacity` bytes, its memory (if it is
/// its own mapping) asked to be backed by huge pages.
pub fn huge_page_vec(capacity: usize) -> Vec<u8> {
    let bytes = Vec::with_capacity(capacity);
    #[cfg(target_os = "linux")]
    advise_huge_pages(bytes.as_ptr() as usize, bytes.capacity());
    bytes
}

#[cfg(target_os = "linux")]
fn advise_huge_pages(start: usize, capacity: usize) {
    const HUGE: usize = 2 << 20;
    // Only the 2 MiB-aligned part of the buffer can be huge pages.
    let (first, end) = (start.next_multiple_of(HUGE), start + capacity);
    if end > first + HUGE {
        let len = (end - first) / HUGE * HUGE;
        // SAFETY: the range lies within the vector's allocation, which nothing
        // has written yet; MADV_HUGEPAGE changes how it is backed, never
        // its contents or validity, and a refusal leaves it as it was.
        unsafe { libc::madvise(first as *mut libc::c_void, len, libc::MADV_HUGEPAGE) };
    }
}
