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
    if capacity < 2 * HUGE {
        return;
    }
    // The whole mapping, out to its page boundaries: advising only its
    // huge-page-aligned middle would split it in three, and the allocator
    // could then no longer grow it in place (`mremap` moves one mapping),
    // copying it instead, at twice the memory.
    // SAFETY: sysconf only reads a system constant.
    let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096).max(1);
    let first = start / page * page;
    let end = (start + capacity).next_multiple_of(page);
    // SAFETY: the range covers the vector's allocation and at most the rest
    // of the pages it lies on. MADV_HUGEPAGE changes how memory is backed,
    // never its contents or validity; a range it does not apply to is
    // refused with an error, which leaves everything as it was.
    unsafe { libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE) };
}
