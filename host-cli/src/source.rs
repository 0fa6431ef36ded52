//! Labelled samples as an epoch reads them: one at a time, converted to the
//! network's `f32` inputs only when needed, so a data set can stay compact in
//! memory (MNIST's pixels as `u8`) and a split or an epoch can refer to
//! samples by index instead of copying them.

use crate::data::Samples;

/// Labelled samples read by index.
///
/// `Sync`, so threads of one epoch read the same source.
pub trait SampleSource: Sync {
    /// Number of samples.
    fn len(&self) -> usize;

    /// Whether there are none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Network inputs per sample.
    fn feature_count(&self) -> usize;

    /// Writes sample `index`'s network inputs (scaled as training uses them)
    /// into `out`, which is [`feature_count`](SampleSource::feature_count) long.
    fn features_into(&self, index: usize, out: &mut [f32]);

    /// Sample `index`'s class.
    fn label(&self, index: usize) -> usize;

    /// A hint that sample `index` will be read soon: a source whose samples
    /// may be far apart in memory starts loading it into the cache, so that
    /// an epoch in shuffled order does not wait for memory on every sample.
    /// Changes nothing observable; the default does nothing.
    #[inline]
    fn prefetch(&self, index: usize) {
        let _ = index;
    }
}

impl SampleSource for Samples {
    fn len(&self) -> usize {
        Samples::len(self)
    }

    fn feature_count(&self) -> usize {
        self.feature_count
    }

    fn features_into(&self, index: usize, out: &mut [f32]) {
        out.copy_from_slice(self.row(index));
    }

    fn label(&self, index: usize) -> usize {
        self.labels[index]
    }
}

/// Some samples of a source, by index (a split's part, a validation slice),
/// in the order of `indices`: no copy of the data.
#[derive(Clone, Copy, Debug)]
pub struct Subset<'a, S: ?Sized> {
    /// The whole source.
    pub source: &'a S,
    /// The samples of the subset, as indices into `source`.
    pub indices: &'a [usize],
}

impl<S: SampleSource + ?Sized> SampleSource for Subset<'_, S> {
    fn len(&self) -> usize {
        self.indices.len()
    }

    fn feature_count(&self) -> usize {
        self.source.feature_count()
    }

    fn features_into(&self, index: usize, out: &mut [f32]) {
        self.source.features_into(self.indices[index], out);
    }

    fn label(&self, index: usize) -> usize {
        self.source.label(self.indices[index])
    }

    fn prefetch(&self, index: usize) {
        if let Some(&i) = self.indices.get(index) {
            self.source.prefetch(i);
        }
    }
}

/// Asks for every cache line of `bytes`. An epoch reads samples in a
/// shuffled order, so each one would be a cache miss (47 MB of MNIST
/// pixels): converted without warning, an MNIST image's thirteen lines cost
/// about 1 µs of waiting for memory (measured), as much as its forward pass.
#[inline(always)]
pub fn prefetch(bytes: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    for line in bytes.chunks(64) {
        // SAFETY: a prefetch only hints the cache; the address is that of a live slice.
        unsafe { std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(line.as_ptr().cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = bytes;
}

/// Each byte's input from `inputs`, eight at a time: most groups of eight
/// pixels of a digit are blank (60 % in MNIST), and a blank group is one test.
#[inline]
pub fn bytes_into(bytes: &[u8], inputs: &[f32; 256], out: &mut [f32]) {
    let zero = inputs[0];
    let (groups, rest) = bytes.as_chunks::<8>();
    let (out_groups, out_rest) = out.as_chunks_mut::<8>();
    for (x, group) in out_groups.iter_mut().zip(groups) {
        if u64::from_ne_bytes(*group) == 0 {
            *x = [zero; 8];
        } else {
            *x = group.map(|b| inputs[usize::from(b)]);
        }
    }
    for (x, &b) in out_rest.iter_mut().zip(rest) {
        *x = inputs[usize::from(b)];
    }
}
