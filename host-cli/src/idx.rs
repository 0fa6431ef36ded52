//! MNIST-layout IDX files: the four files of the official 60 000/10 000
//! split, gzip-compressed or not.
//!
//! An IDX file is a big-endian header (two zero bytes, a type byte, the
//! number of dimensions, then one `u32` per dimension) and the values. MNIST
//! uses two kinds: images (`0x00000803`: `u8`, three dimensions: count, rows,
//! columns) and labels (`0x00000801`: `u8`, one dimension). Everything is
//! checked as it is read: the magic, the dimensions, that the data is exactly
//! as long as the header says, that images and labels are as many, that each
//! label is a digit, and that gzip data is complete; every error names the file.
//!
//! Pixels stay `u8` in memory (47 MB for the training set, a quarter of it as
//! `f32`); [`SampleSource::features_into`] turns one image into network
//! inputs when the epoch needs it, as `pixel / 255` (computed in `f64` and
//! rounded to `f32`, the reference peers' `X / 255.0` then `astype(float32)`).

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::ops::Range;
use std::path::{Path, PathBuf};

use flate2::bufread::MultiGzDecoder;

use crate::data::{Origin, Table, Transform};
use crate::source::SampleSource;

/// The magic number of an IDX file of `u8` images with three dimensions.
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// The magic number of an IDX file of `u8` labels with one dimension.
pub const LABELS_MAGIC: u32 = 0x0000_0801;
/// Rows and columns of an MNIST image.
pub const SIDE: usize = 28;
/// Classes of MNIST: the ten digits.
pub const CLASSES: usize = 10;
/// Pixels of an MNIST image, the network's inputs.
pub const PIXELS: usize = SIDE * SIDE;

/// The four files of an MNIST directory, by their standard names (each may
/// also be given with `.gz` appended; the compressed one is preferred).
pub const FILE_STEMS: [&str; 4] =
    ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];

/// `pixel / 255` for every byte value, as the network sees it: divided in
/// `f64` and rounded once to `f32`, as the peers compute it.
static SCALE: [f32; 256] = {
    let mut table = [0.0; 256];
    let mut p = 0;
    while p < 256 {
        table[p] = (p as f64 / 255.0) as f32;
        p += 1;
    }
    table
};

/// Images with their labels, as read from an images file and a labels file.
#[derive(Clone, Debug, PartialEq)]
pub struct IdxSet {
    /// Row-major pixels, image after image: image `i` is `pixels[i * rows * cols..][..rows * cols]`.
    pub pixels: Vec<u8>,
    /// One class per image.
    pub labels: Vec<u8>,
    /// Rows of an image.
    pub rows: usize,
    /// Columns of an image.
    pub cols: usize,
}

impl IdxSet {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The pixels of image `i`.
    pub fn image(&self, i: usize) -> &[u8] {
        let size = self.rows * self.cols;
        &self.pixels[i * size..][..size]
    }

    /// How many images each class has.
    pub fn class_counts(&self) -> [usize; CLASSES] {
        let mut counts = [0; CLASSES];
        for &label in &self.labels {
            counts[usize::from(label)] += 1;
        }
        counts
    }

    /// A view of the images in `range` (a validation slice, say), without copying them.
    ///
    /// # Panics
    ///
    /// If the range is not within the set.
    pub fn range(&self, range: Range<usize>) -> IdxRange<'_> {
        assert!(range.start <= range.end && range.end <= self.len(), "{range:?} is not within {} images", self.len());
        IdxRange { set: self, start: range.start, len: range.end - range.start }
    }
}

impl SampleSource for IdxSet {
    fn len(&self) -> usize {
        IdxSet::len(self)
    }

    fn feature_count(&self) -> usize {
        self.rows * self.cols
    }

    fn features_into(&self, index: usize, out: &mut [f32]) {
        crate::source::bytes_into(self.image(index), &SCALE, out);
    }

    fn label(&self, index: usize) -> usize {
        usize::from(self.labels[index])
    }

    fn prefetch(&self, index: usize) {
        if index < self.len() {
            crate::source::prefetch(self.image(index));
        }
    }
}

/// Consecutive images of an [`IdxSet`], as a [`SampleSource`] of their own.
#[derive(Clone, Copy, Debug)]
pub struct IdxRange<'a> {
    set: &'a IdxSet,
    start: usize,
    len: usize,
}

impl IdxRange<'_> {
    /// The index of its first image in the whole set.
    pub fn start(&self) -> usize {
        self.start
    }
}

impl SampleSource for IdxRange<'_> {
    fn len(&self) -> usize {
        self.len
    }

    fn feature_count(&self) -> usize {
        self.set.feature_count()
    }

    fn features_into(&self, index: usize, out: &mut [f32]) {
        assert!(index < self.len, "sample {index} of a range of {}", self.len);
        self.set.features_into(self.start + index, out);
    }

    fn label(&self, index: usize) -> usize {
        assert!(index < self.len, "sample {index} of a range of {}", self.len);
        self.set.label(self.start + index)
    }

    fn prefetch(&self, index: usize) {
        if index < self.len {
            self.set.prefetch(self.start + index);
        }
    }
}

/// MNIST: the official training and test sets.
#[derive(Clone, Debug, PartialEq)]
pub struct Mnist {
    /// The 60 000 training images (fewer with a sample limit).
    pub train: IdxSet,
    /// The 10 000 test images (fewer with a sample limit).
    pub test: IdxSet,
}

impl Mnist {
    /// The training set without its last `n` images, and those `n` images
    /// as a validation set: two views, nothing copied.
    pub fn validation_split(&self, n: usize) -> Result<(IdxRange<'_>, IdxRange<'_>), IdxError> {
        let len = self.train.len();
        if n == 0 || n >= len {
            return Err(IdxError::Validation { requested: n, available: len });
        }
        Ok((self.train.range(0..len - n), self.train.range(len - n..len)))
    }
}

/// MNIST's training images then its test images as one [`Table`] of bytes
/// (on huge pages: [`crate::pages`]), divided by `divisor` when read,
/// with the official split: the training images come first.
pub fn into_table(mnist: Mnist, origin: Origin, divisor: f32) -> Table {
    let Mnist { train, test } = mnist;
    let features = train.rows * train.cols;
    let split = train.len();
    // The training images' buffer (huge pages, read in place) grows to take
    // the test images: the allocator remaps a buffer this big rather than copying it.
    let mut pixels = train.pixels;
    pixels.reserve_exact(test.pixels.len());
    pixels.extend_from_slice(&test.pixels);
    drop(test.pixels);
    let labels = train.labels.iter().chain(&test.labels).map(|&l| u16::from(l)).collect();
    let mut table = Table::of_bytes(origin, features, CLASSES, pixels, labels, Some(split));
    table.set_transform(Transform::Divide(divisor));
    table
}

/// Why an IDX file or directory could not be read.
#[derive(Debug)]
#[non_exhaustive]
pub enum IdxError {
    /// Neither `stem` nor `stem.gz` is in the directory.
    Missing {
        /// The directory searched.
        dir: PathBuf,
        /// The standard file name, without `.gz`.
        stem: &'static str,
    },
    /// Opening or reading failed.
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: io::Error,
    },
    /// The gzip data is corrupt or ends early.
    Gzip {
        /// The file.
        path: PathBuf,
        /// What the decompressor said.
        source: io::Error,
    },
    /// The header is not the expected kind of IDX file.
    Magic {
        /// The file.
        path: PathBuf,
        /// The magic number found (the first four bytes, big-endian).
        found: u32,
        /// The one expected.
        expected: u32,
    },
    /// A dimension is not what the data set needs.
    Dimension {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// The data is shorter than its header says.
    Truncated {
        /// The file.
        path: PathBuf,
        /// Bytes the header promises (header included).
        expected: u64,
        /// Bytes present.
        found: u64,
    },
    /// Bytes follow the data the header describes.
    TrailingData {
        /// The file.
        path: PathBuf,
        /// Bytes the header describes (header included).
        expected: u64,
    },
    /// An images file and its labels file disagree on the count.
    CountMismatch {
        /// The images file.
        images: PathBuf,
        /// Its image count.
        image_count: usize,
        /// The labels file.
        labels: PathBuf,
        /// Its label count.
        label_count: usize,
    },
    /// A label that is not a digit.
    Label {
        /// The labels file.
        path: PathBuf,
        /// 0-based index of the label.
        index: usize,
        /// Its value.
        value: u8,
    },
    /// A file holds no samples.
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// A validation slice that leaves nothing to train on.
    Validation {
        /// Images asked for.
        requested: usize,
        /// Training images available.
        available: usize,
    },
}

impl fmt::Display for IdxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdxError::Missing { dir, stem } => {
                write!(f, "{}: neither {stem} nor {stem}.gz is there (an MNIST directory holds ", dir.display())?;
                write!(f, "{})", FILE_STEMS.join(", "))
            }
            IdxError::Io { path, source } => write!(f, "cannot read {}: {source}", path.display()),
            IdxError::Gzip { path, source } => {
                write!(f, "{}: corrupt or truncated gzip data: {source}", path.display())
            }
            IdxError::Magic { path, found, expected } => write!(
                f,
                "{}: not an IDX {} file: magic number {found:#010x}, expected {expected:#010x}",
                path.display(),
                if *expected == IMAGES_MAGIC { "images" } else { "labels" }
            ),
            IdxError::Dimension { path, problem } => write!(f, "{}: {problem}", path.display()),
            IdxError::Truncated { path, expected, found } => {
                write!(f, "{}: truncated: the header describes {expected} bytes, the file has {found}", path.display())
            }
            IdxError::TrailingData { path, expected } => {
                write!(f, "{}: more data than the header's {expected} bytes", path.display())
            }
            IdxError::CountMismatch { images, image_count, labels, label_count } => write!(
                f,
                "{} has {image_count} images but {} has {label_count} labels",
                images.display(),
                labels.display()
            ),
            IdxError::Label { path, index, value } => {
                write!(f, "{}: label {index} is {value}, not a digit 0..=9", path.display())
            }
            IdxError::Empty { path } => write!(f, "{}: no samples", path.display()),
            IdxError::Validation { requested, available } => write!(
                f,
                "invalid validation size {requested}: must be between 1 and {} (the training set has {available} images)",
                available.saturating_sub(1)
            ),
        }
    }
}

// Messages include their I/O causes, so there is no `source()`: a `{:#}`
// chain would print each cause twice.
impl std::error::Error for IdxError {}

/// Reads the official training and test sets from `dir` (the four
/// [`FILE_STEMS`], each plain or with `.gz`), at most `max_samples` images
/// of each when given (the first ones of each file; reading stops there).
pub fn load_mnist(dir: &Path, max_samples: Option<usize>) -> Result<Mnist, IdxError> {
    let [train_images, train_labels, test_images, test_labels] = FILE_STEMS.map(|stem| locate(dir, stem));
    let (train_images, test_images) = (train_images?, test_images?);
    let train = load_pair(&train_images, &train_labels?, max_samples)?;
    let test = load_pair(&test_images, &test_labels?, max_samples)?;
    for (set, path) in [(&train, train_images), (&test, test_images)] {
        if (set.rows, set.cols) != (SIDE, SIDE) {
            let problem = format!("images are {}×{} pixels; MNIST's are {SIDE}×{SIDE}", set.rows, set.cols);
            return Err(IdxError::Dimension { path, problem });
        }
    }
    Ok(Mnist { train, test })
}

/// The file for `stem` in `dir`: `stem.gz` if present, else `stem`.
pub fn locate(dir: &Path, stem: &'static str) -> Result<PathBuf, IdxError> {
    let gz = dir.join(format!("{stem}.gz"));
    if gz.is_file() {
        return Ok(gz);
    }
    let plain = dir.join(stem);
    if plain.is_file() {
        return Ok(plain);
    }
    Err(IdxError::Missing { dir: dir.to_owned(), stem })
}

/// Reads an images file and its labels file (at most `max_samples` of
/// each) and checks that they match and that every label is a digit.
pub fn load_pair(images: &Path, labels: &Path, max_samples: Option<usize>) -> Result<IdxSet, IdxError> {
    let (image_dims, pixels) = read_idx(images, IMAGES_MAGIC, 3, max_samples)?;
    let (label_dims, label_bytes) = read_idx(labels, LABELS_MAGIC, 1, max_samples)?;
    let (image_count, label_count) = (image_dims[0], label_dims[0]);
    if image_count != label_count {
        return Err(IdxError::CountMismatch {
            images: images.to_owned(),
            image_count,
            labels: labels.to_owned(),
            label_count,
        });
    }
    if let Some(index) = label_bytes.iter().position(|&l| usize::from(l) >= CLASSES) {
        return Err(IdxError::Label { path: labels.to_owned(), index, value: label_bytes[index] });
    }
    let kept = max_samples.map_or(image_count, |m| m.min(image_count));
    let (rows, cols) = (image_dims[1], image_dims[2]);
    Ok(IdxSet { pixels, labels: label_bytes[..kept].to_vec(), rows, cols })
}

/// Reads one IDX file of `u8` values: checks its magic (which fixes the
/// number of dimensions) and returns its dimensions and the values of its
/// first `max_items` items (all of them if `None`); the rest of the file is
/// still read through and checked, so a truncated or corrupt file is refused
/// whatever the limit.
pub fn read_idx(
    path: &Path,
    magic: u32,
    dimensions: usize,
    max_items: Option<usize>,
) -> Result<(Vec<usize>, Vec<u8>), IdxError> {
    let io_error = |source| IdxError::Io { path: path.to_owned(), source };
    let mut file = BufReader::new(File::open(path).map_err(io_error)?);
    let head = file.fill_buf().map_err(io_error)?;
    if head.starts_with(&GZIP_MAGIC) {
        let mut gz = MultiGzDecoder::new(file);
        read_values(&mut gz, path, magic, dimensions, max_items)
            .map_err(|e| e.or_gzip(|source| IdxError::Gzip { path: path.to_owned(), source }))
    } else if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("gz")) {
        let problem = "the name ends in .gz but the data lacks the gzip header".to_owned();
        Err(IdxError::Dimension { path: path.to_owned(), problem })
    } else {
        read_values(&mut file, path, magic, dimensions, max_items).map_err(|e| e.or_gzip(io_error))
    }
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// A read failure before it is told apart as I/O or gzip trouble.
enum ReadFailure {
    /// The stream failed (a gzip stream's failures are gzip errors).
    Stream(io::Error),
    /// The content is wrong.
    Content(IdxError),
}

impl ReadFailure {
    fn or_gzip(self, stream: impl FnOnce(io::Error) -> IdxError) -> IdxError {
        match self {
            ReadFailure::Stream(e) => stream(e),
            ReadFailure::Content(e) => e,
        }
    }
}

fn read_values(
    input: &mut impl Read,
    path: &Path,
    magic: u32,
    dimensions: usize,
    max_items: Option<usize>,
) -> Result<(Vec<usize>, Vec<u8>), ReadFailure> {
    let content = |e| ReadFailure::Content(e);
    let header_bytes = 4 + 4 * dimensions as u64;
    let mut word = [0u8; 4];
    let got = read_full(input, &mut word).map_err(ReadFailure::Stream)?;
    if got < 4 {
        return Err(content(IdxError::Truncated { path: path.to_owned(), expected: header_bytes, found: got as u64 }));
    }
    let found = u32::from_be_bytes(word);
    if found != magic {
        return Err(content(IdxError::Magic { path: path.to_owned(), found, expected: magic }));
    }
    let mut dims = Vec::with_capacity(dimensions);
    for k in 0..dimensions {
        let got = read_full(input, &mut word).map_err(ReadFailure::Stream)?;
        if got < 4 {
            let found = 4 + 4 * k as u64 + got as u64;
            return Err(content(IdxError::Truncated { path: path.to_owned(), expected: header_bytes, found }));
        }
        dims.push(u32::from_be_bytes(word) as usize);
    }
    if dims[0] == 0 {
        return Err(content(IdxError::Empty { path: path.to_owned() }));
    }
    if let Some(k) = dims[1..].iter().position(|&d| d == 0) {
        let problem = format!("dimension {} is 0", k + 2);
        return Err(content(IdxError::Dimension { path: path.to_owned(), problem }));
    }
    // u64 arithmetic: three u32 dimensions cannot overflow it.
    let item_bytes: u64 = dims[1..].iter().map(|&d| d as u64).product();
    let data_bytes = dims[0] as u64 * item_bytes;
    let expected = header_bytes + data_bytes;
    let kept_items = max_items.map_or(dims[0], |m| m.min(dims[0]));
    let kept_bytes = kept_items as u64 * item_bytes;
    let too_big = |_| {
        let problem = format!("{kept_bytes} bytes of data do not fit in memory");
        content(IdxError::Dimension { path: path.to_owned(), problem })
    };
    let kept_len = usize::try_from(kept_bytes).map_err(too_big)?;
    // Grown as the data arrives, so a lying header cannot reserve gigabytes up
    // front; on huge pages, since an epoch reads images in random order.
    let mut values = crate::pages::huge_page_vec(kept_len.min(1 << 26));
    let read = input.take(kept_bytes).read_to_end(&mut values).map_err(ReadFailure::Stream)? as u64;
    // The rest is read through in chunks, so that a limit still checks the whole file.
    let mut rest = 0u64;
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        let n = input.read(&mut chunk).map_err(ReadFailure::Stream)?;
        if n == 0 {
            break;
        }
        rest += n as u64;
        if read + rest > data_bytes {
            return Err(content(IdxError::TrailingData { path: path.to_owned(), expected }));
        }
    }
    if read + rest < data_bytes {
        let found = header_bytes + read + rest;
        return Err(content(IdxError::Truncated { path: path.to_owned(), expected, found }));
    }
    Ok((dims, values))
}

/// Reads until `buf` is full or the stream ends; returns the bytes read.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn header(magic: u32, dims: &[u32]) -> Vec<u8> {
        let mut bytes = magic.to_be_bytes().to_vec();
        for d in dims {
            bytes.extend_from_slice(&d.to_be_bytes());
        }
        bytes
    }

    /// `n` images of 28×28 whose pixels are `(i + k) % 256`, labels `i % 10`.
    fn files(n: u32) -> (Vec<u8>, Vec<u8>) {
        let mut images = header(IMAGES_MAGIC, &[n, 28, 28]);
        for i in 0..n as usize {
            images.extend((0..784).map(|k| ((i + k) % 256) as u8));
        }
        let mut labels = header(LABELS_MAGIC, &[n]);
        labels.extend((0..n as usize).map(|i| (i % 10) as u8));
        (images, labels)
    }

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// A directory with train sets of `n` and test sets of 3, the training images gzipped.
    fn mnist_dir(n: u32) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let (images, labels) = files(n);
        write(dir.path(), "train-images-idx3-ubyte.gz", &gz(&images));
        write(dir.path(), "train-labels-idx1-ubyte", &labels);
        let (images, labels) = files(3);
        write(dir.path(), "t10k-images-idx3-ubyte", &images);
        write(dir.path(), "t10k-labels-idx1-ubyte.gz", &gz(&labels));
        dir
    }

    #[test]
    fn reads_both_sets_plain_or_gzipped() {
        let dir = mnist_dir(7);
        let mnist = load_mnist(dir.path(), None).unwrap();
        assert_eq!((mnist.train.len(), mnist.test.len()), (7, 3));
        assert_eq!(mnist.train.image(2)[..3], [2, 3, 4]);
        assert_eq!(mnist.train.label(6), 6);
        assert_eq!(mnist.train.feature_count(), 784);
        let mut x = vec![0.0; 784];
        mnist.train.features_into(1, &mut x);
        assert_eq!(x[0], (1.0f64 / 255.0) as f32);
        assert_eq!(x[254], 1.0);
        assert_eq!(x[255], 0.0);
        let limited = load_mnist(dir.path(), Some(2)).unwrap();
        assert_eq!((limited.train.len(), limited.test.len()), (2, 2));
        assert_eq!(limited.train.pixels, mnist.train.pixels[..2 * 784]);
    }

    #[test]
    fn as_a_table_the_test_images_follow_the_training_images_with_the_same_inputs() {
        let dir = mnist_dir(7);
        let mnist = load_mnist(dir.path(), None).unwrap();
        let table = into_table(mnist.clone(), Origin::File(dir.path().into()), 255.0);
        assert_eq!((table.len(), table.official_split(), table.class_count()), (10, Some(7), 10));
        let (mut expected, mut got) = (vec![0.0; 784], vec![0.0; 784]);
        for i in 0..10 {
            let (set, j) = if i < 7 { (&mnist.train, i) } else { (&mnist.test, i - 7) };
            set.features_into(j, &mut expected);
            table.features_into(i, &mut got);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&expected), "image {i}");
            assert_eq!(table.label(i), set.label(j));
        }
        assert_eq!(table.heap_bytes(), 10 * 784 + 10 * 2);
    }

    #[test]
    fn scaling_is_the_peers_division() {
        // The peers divide in f64 and round once; for bytes that is also f32's own division.
        for p in 0..=255u8 {
            assert_eq!(SCALE[usize::from(p)], (f64::from(p) / 255.0) as f32);
            assert_eq!(SCALE[usize::from(p)], f32::from(p) / 255.0, "{p}");
        }
    }

    #[test]
    fn a_validation_slice_is_the_end_of_the_training_set() {
        let mnist = load_mnist(mnist_dir(10).path(), None).unwrap();
        let (train, validation) = mnist.validation_split(3).unwrap();
        assert_eq!((train.len(), validation.len(), validation.start()), (7, 3, 7));
        assert_eq!(validation.label(0), 7);
        let (mut a, mut b) = (vec![0.0; 784], vec![0.0; 784]);
        validation.features_into(2, &mut a);
        mnist.train.features_into(9, &mut b);
        assert_eq!(a, b);
        for n in [0, 10, 11] {
            let e = mnist.validation_split(n).unwrap_err().to_string();
            assert!(e.contains(&format!("invalid validation size {n}: must be between 1 and 9")), "{e}");
        }
    }

    fn error(images: &[u8], labels: &[u8]) -> String {
        let dir = tempfile::tempdir().unwrap();
        let images = write(dir.path(), "images", images);
        let labels = write(dir.path(), "labels", labels);
        load_pair(&images, &labels, None).unwrap_err().to_string()
    }

    #[test]
    fn every_malformed_file_is_refused_with_its_name() {
        let (images, labels) = files(4);
        let e = error(&labels, &labels);
        assert!(e.contains("/images: not an IDX images file: magic number 0x00000801, expected 0x00000803"), "{e}");
        let e = error(&images, &images);
        assert!(e.contains("/labels: not an IDX labels file: magic number 0x00000803"), "{e}");
        let e = error(&images[..images.len() - 1], &labels);
        assert!(e.contains("/images: truncated: the header describes 3152 bytes, the file has 3151"), "{e}");
        let e = error(&images[..10], &labels);
        assert!(e.contains("/images: truncated: the header describes 16 bytes, the file has 10"), "{e}");
        let e = error(&[images.as_slice(), &[0]].concat(), &labels);
        assert!(e.contains("/images: more data than the header's 3152 bytes"), "{e}");
        let (_, five_labels) = files(5);
        let e = error(&images, &five_labels);
        assert!(e.contains("/images has 4 images but") && e.contains("/labels has 5 labels"), "{e}");
        let mut bad_label = labels.clone();
        bad_label[8 + 2] = 10;
        let e = error(&images, &bad_label);
        assert!(e.contains("/labels: label 2 is 10, not a digit 0..=9"), "{e}");
        let e = error(&header(IMAGES_MAGIC, &[0, 28, 28]), &header(LABELS_MAGIC, &[0]));
        assert!(e.contains("/images: no samples"), "{e}");
        let e = error(&header(IMAGES_MAGIC, &[1, 0, 28]), &labels);
        assert!(e.contains("/images: dimension 2 is 0"), "{e}");
    }

    #[test]
    fn broken_gzip_is_refused_with_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let (images, labels) = files(20);
        let packed = gz(&images);
        let cut = write(dir.path(), "cut.gz", &packed[..packed.len() / 2]);
        let labels = write(dir.path(), "labels", &labels);
        let e = load_pair(&cut, &labels, None).unwrap_err().to_string();
        assert!(e.contains("/cut.gz: corrupt or truncated gzip data"), "{e}");
        // A limit does not hide the damage: the rest of the file is still read.
        let e = load_pair(&cut, &labels, Some(1)).unwrap_err().to_string();
        assert!(e.contains("/cut.gz: corrupt or truncated gzip data"), "{e}");
        let mut flipped = packed.clone();
        let middle = flipped.len() / 2;
        flipped[middle] ^= 0xff;
        let flipped = write(dir.path(), "flipped.gz", &flipped);
        let e = load_pair(&flipped, &labels, None).unwrap_err().to_string();
        assert!(e.contains("/flipped.gz: corrupt or truncated gzip data"), "{e}");
        let not_gz = write(dir.path(), "plain.gz", &images);
        let e = load_pair(&not_gz, &labels, None).unwrap_err().to_string();
        assert!(e.contains("/plain.gz: the name ends in .gz but the data lacks the gzip header"), "{e}");
    }

    #[test]
    fn a_missing_file_or_wrong_size_is_named() {
        let dir = mnist_dir(4);
        std::fs::remove_file(dir.path().join("t10k-labels-idx1-ubyte.gz")).unwrap();
        let e = load_mnist(dir.path(), None).unwrap_err().to_string();
        assert!(e.contains("neither t10k-labels-idx1-ubyte nor t10k-labels-idx1-ubyte.gz is there"), "{e}");
        let dir = mnist_dir(4);
        let mut small = header(IMAGES_MAGIC, &[3, 8, 8]);
        small.extend([0; 3 * 64]);
        write(dir.path(), "t10k-images-idx3-ubyte", &small);
        let e = load_mnist(dir.path(), None).unwrap_err().to_string();
        assert!(e.contains("t10k-images-idx3-ubyte: images are 8×8 pixels; MNIST's are 28×28"), "{e}");
    }
}
