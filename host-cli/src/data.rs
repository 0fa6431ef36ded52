//! Labelled samples read from CSV text, optionally gzip-compressed.
//!
//! A [`CsvFormat`] says what a row holds (so many features, then a class
//! label) and how raw values become network inputs; a [`DatasetSpec`] names a
//! data set, its file in `fixtures/` and its default hyperparameters. Every
//! error names the file, and for content errors the 1-based line and field.

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::bufread::GzDecoder;

use crate::optim::OptimizerKind;

/// Samples in memory: one row of `feature_count` inputs per sample, and its class.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Samples {
    /// Row-major: sample `i` is `features[i * feature_count..][..feature_count]`.
    pub features: Vec<f32>,
    /// One class in `0..class_count` per sample.
    pub labels: Vec<usize>,
    /// Inputs per sample.
    pub feature_count: usize,
    /// Number of classes the labels are drawn from (some may have no samples).
    pub class_count: usize,
}

impl Samples {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The features of sample `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.features[i * self.feature_count..][..self.feature_count]
    }

    /// How many samples each class has.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.class_count];
        for &label in &self.labels {
            counts[label] += 1;
        }
        counts
    }

    /// The samples at `indices`, in that order.
    pub fn subset(&self, indices: &[usize]) -> Samples {
        let mut features = Vec::with_capacity(indices.len() * self.feature_count);
        for &i in indices {
            features.extend_from_slice(self.row(i));
        }
        Samples {
            features,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            feature_count: self.feature_count,
            class_count: self.class_count,
        }
    }
}

/// The layout of a CSV file of labelled samples: `features` numbers, then the label.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CsvFormat {
    /// Numbers before the label on each line.
    pub features: usize,
    /// Labels are integers in `0..classes`.
    pub classes: usize,
    /// Lines to skip before the data (a header).
    pub header_lines: usize,
    /// Smallest raw feature value accepted.
    pub raw_min: f64,
    /// Largest raw feature value accepted.
    pub raw_max: f64,
    /// Each raw value is divided by this (in `f64`, then rounded to `f32`).
    pub divisor: f64,
    /// What a feature is called in messages ("pixel").
    pub feature_noun: &'static str,
}

/// Hyperparameters that work well for a data set; every one can be overridden by a flag.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Defaults {
    /// Hidden-layer sizes, first to last.
    pub hidden: &'static [usize],
    /// Passes over the training set.
    pub epochs: u32,
    /// Samples per optimizer step.
    pub batch_size: usize,
    /// The base learning rate of each optimizer.
    pub lr: LearningRates,
    /// Momentum of classical and Nesterov momentum.
    pub momentum: f64,
    /// L2 penalty (scikit-learn scaling: `l2 · W / batch` is added to the
    /// gradient); AdamW's default is 0 instead, its weight decay takes the part.
    pub l2: f64,
    /// Fraction of each class held out for testing.
    pub test_fraction: f64,
}

/// A base learning rate per optimizer: the rates differ by orders of
/// magnitude (adaptive rules divide by the gradient's scale).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LearningRates {
    /// Plain SGD.
    pub sgd: f64,
    /// Classical momentum.
    pub momentum: f64,
    /// Nesterov momentum.
    pub nesterov: f64,
    /// Adagrad.
    pub adagrad: f64,
    /// RMSprop.
    pub rmsprop: f64,
    /// Adam.
    pub adam: f64,
    /// AdamW.
    pub adamw: f64,
}

impl LearningRates {
    /// The rate for `kind`.
    pub fn get(&self, kind: OptimizerKind) -> f64 {
        match kind {
            OptimizerKind::Sgd => self.sgd,
            OptimizerKind::Momentum => self.momentum,
            OptimizerKind::Nesterov => self.nesterov,
            OptimizerKind::Adagrad => self.adagrad,
            OptimizerKind::RmsProp => self.rmsprop,
            OptimizerKind::Adam => self.adam,
            OptimizerKind::AdamW => self.adamw,
        }
    }
}

/// A data set the CLI knows: its name, its file under `fixtures/`, its format and defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DatasetSpec {
    /// Name on the command line and in reports.
    pub name: &'static str,
    /// File name inside the fixtures directory.
    pub file_name: &'static str,
    /// Row layout.
    pub format: CsvFormat,
    /// Default hyperparameters.
    pub defaults: Defaults,
}

/// scikit-learn's 8×8 handwritten digits: 1797 rows of 64 pixels in `0..=16`, then the digit.
/// Every data set the CLI knows, by name: a new one is one more entry.
pub const DATASETS: &[&DatasetSpec] = &[&DIGITS];

/// The data set called `name`.
pub fn dataset_named(name: &str) -> Option<&'static DatasetSpec> {
    DATASETS.iter().copied().find(|spec| spec.name == name)
}

pub const DIGITS: DatasetSpec = DatasetSpec {
    name: "digits",
    file_name: "digits.csv.gz",
    format: CsvFormat {
        features: 64,
        classes: 10,
        header_lines: 0,
        raw_min: 0.0,
        raw_max: 16.0,
        divisor: 16.0,
        feature_noun: "pixel",
    },
    defaults: Defaults {
        hidden: &[128],
        epochs: 100,
        batch_size: 32,
        lr: LearningRates {
            sgd: 0.5,
            momentum: 0.1,
            nesterov: 0.1,
            adagrad: 0.05,
            rmsprop: 0.001,
            adam: 0.001,
            adamw: 0.001,
        },
        momentum: 0.9,
        l2: 1e-3,
        test_fraction: 0.2,
    },
};

impl DatasetSpec {
    /// Reads this data set from `path`, or from its file in the fixtures
    /// directory (see [`DatasetSpec::locate`]) when `path` is `None`.
    pub fn load(&self, path: Option<&Path>) -> Result<Samples, DataError> {
        match path {
            Some(path) => load_csv(path, &self.format),
            None => load_csv(&self.locate()?, &self.format),
        }
    }

    /// Finds this data set's file: `./fixtures/` first, then the repository's
    /// `fixtures/` next to this crate.
    pub fn locate(&self) -> Result<PathBuf, DataError> {
        let candidates = fixture_dirs().into_iter().map(|dir| dir.join(self.file_name)).collect::<Vec<_>>();
        match candidates.iter().find(|p| p.is_file()) {
            Some(path) => Ok(path.clone()),
            None => Err(DataError::NotFound { file_name: self.file_name, searched: candidates }),
        }
    }
}

/// Where fixture files are looked for, in order.
pub fn fixture_dirs() -> Vec<PathBuf> {
    let mut dirs = vec![PathBuf::from("fixtures")];
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("fixtures");
    // Keep the fallback readable in messages: `/work/main/fixtures`, not `host-cli/../fixtures`.
    dirs.push(repo.canonicalize().unwrap_or(repo));
    dirs
}

/// Why a data file could not be used.
#[derive(Debug)]
#[non_exhaustive]
pub enum DataError {
    /// The data set's file is in none of the fixture directories.
    NotFound {
        /// The file looked for.
        file_name: &'static str,
        /// Every path tried.
        searched: Vec<PathBuf>,
    },
    /// The file could not be opened or read.
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// The name ends in `.gz` but the content is not gzip.
    NotGzip {
        /// The file.
        path: PathBuf,
    },
    /// The gzip stream is corrupt or truncated.
    BadGzip {
        /// The file.
        path: PathBuf,
        /// What the decoder said.
        source: io::Error,
    },
    /// No data lines.
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// A line that does not follow the format.
    Line {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        problem: LineProblem,
    },
    /// Every line is valid, but the classes cannot be split or learned.
    Classes {
        /// The file.
        path: PathBuf,
        /// What is wrong with them.
        problem: ClassProblem,
    },
}

/// Why a file's classes cannot be split into training and test samples.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ClassProblem {
    /// Every sample has the same label: there is nothing to tell apart.
    OneClass {
        /// The label.
        class: usize,
        /// Its number of samples.
        samples: usize,
    },
    /// A class with one sample cannot be in both the training and the test set.
    SingleSample {
        /// The class.
        class: usize,
    },
}

/// What is wrong with one line of a data file.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum LineProblem {
    /// Not valid UTF-8 text.
    NotUtf8,
    /// Longer than any line of the format could be.
    TooLong {
        /// Bytes allowed.
        limit: usize,
    },
    /// Too few or too many comma-separated fields.
    FieldCount {
        /// Features plus the label.
        expected: usize,
        /// Fields on the line.
        found: usize,
    },
    /// A feature that does not parse as a number.
    NotANumber {
        /// 1-based field (column) number.
        field: usize,
        /// The text of the field.
        text: String,
    },
    /// A feature that is NaN or infinite.
    NotFinite {
        /// 1-based field number.
        field: usize,
        /// The text of the field.
        text: String,
    },
    /// A feature outside the format's raw range.
    OutOfRange {
        /// 1-based field number.
        field: usize,
        /// The value read.
        value: f64,
        /// Allowed minimum.
        min: f64,
        /// Allowed maximum.
        max: f64,
        /// What a feature is called.
        noun: &'static str,
    },
    /// A label that is not an integer class in `0..classes`.
    BadLabel {
        /// 1-based field number.
        field: usize,
        /// The text of the field.
        text: String,
        /// Number of classes.
        classes: usize,
    },
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataError::NotFound { file_name, searched } => {
                write!(f, "cannot find {file_name}; looked for ")?;
                for (k, path) in searched.iter().enumerate() {
                    let sep = if k == 0 { "" } else { " and " };
                    write!(f, "{sep}{}", path.display())?;
                }
                write!(f, " (run from the repository root or pass --data PATH)")
            }
            DataError::Io { path, source } => write!(f, "cannot read {}: {source}", path.display()),
            DataError::NotGzip { path } => {
                write!(
                    f,
                    "{} is not gzip-compressed (its name ends in .gz but it lacks the gzip header)",
                    path.display()
                )
            }
            DataError::BadGzip { path, source } => {
                write!(f, "{} is not a valid gzip stream: {source}", path.display())
            }
            DataError::Empty { path } => write!(f, "{} contains no samples", path.display()),
            DataError::Classes { path, problem: ClassProblem::OneClass { class, samples } } => write!(
                f,
                "{}: all {samples} samples have label {class}; training needs at least two classes",
                path.display()
            ),
            DataError::Classes { path, problem: ClassProblem::SingleSample { class } } => write!(
                f,
                "{}: class {class} has a single sample; every class present needs at least two \
                 (one to train on, one to test)",
                path.display()
            ),
            DataError::Line { path, line, problem } => {
                let path = path.display();
                match problem {
                    LineProblem::NotUtf8 => write!(f, "{path}: line {line}: not valid UTF-8 text"),
                    LineProblem::TooLong { limit } => {
                        write!(f, "{path}: line {line}: longer than {limit} bytes, too long for this data set's format")
                    }
                    LineProblem::FieldCount { expected, found } => write!(
                        f,
                        "{path}: line {line}: expected {expected} comma-separated fields ({} features and a label), found {found}",
                        expected - 1
                    ),
                    LineProblem::NotANumber { field, text } => {
                        write!(f, "{path}: line {line}, field {field}: {text:?} is not a number")
                    }
                    LineProblem::NotFinite { field, text } => {
                        write!(f, "{path}: line {line}, field {field}: {text:?} is not a finite number")
                    }
                    LineProblem::OutOfRange { field, value, min, max, noun } => {
                        write!(f, "{path}: line {line}, field {field}: {noun} value {value} is outside {min}..={max}")
                    }
                    LineProblem::BadLabel { field, text, classes } => write!(
                        f,
                        "{path}: line {line}, field {field} (label): {text:?} is not a class in 0..={}",
                        classes.saturating_sub(1)
                    ),
                }
            }
        }
    }
}

// The messages include their I/O causes, so there is no `source()`: a `{:#}`
// chain would print each cause twice.
impl std::error::Error for DataError {}

/// Reads a CSV file of labelled samples (gzip or plain, told apart by the
/// gzip magic bytes; a name ending in `.gz` must hold gzip data) in the given
/// format, then checks that its classes can be split and learned.
///
/// The file is parsed as it is decompressed, one bounded line at a time, so
/// memory follows the samples read, never the (possibly huge) decompressed text.
pub fn load_csv(path: &Path, format: &CsvFormat) -> Result<Samples, DataError> {
    let io_error = |source| DataError::Io { path: path.to_owned(), source };
    let mut file = BufReader::new(File::open(path).map_err(io_error)?);
    let head = file.fill_buf().map_err(io_error)?;
    let is_gzip = head.starts_with(&GZIP_MAGIC);
    let is_empty = head.is_empty();
    let named_gz = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("gz"));
    if is_empty {
        return Err(DataError::Empty { path: path.to_owned() });
    }
    let samples = if is_gzip {
        read_csv(BufReader::new(GzipMembers::new(file)), format)
            .map_err(|e| e.at(path, |source| DataError::BadGzip { path: path.to_owned(), source }))?
    } else if named_gz {
        return Err(DataError::NotGzip { path: path.to_owned() });
    } else {
        read_csv(file, format).map_err(|e| e.at(path, io_error))?
    };
    check_classes(&samples).map_err(|problem| DataError::Classes { path: path.to_owned(), problem })?;
    Ok(samples)
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The decompressed text of one or more concatenated gzip members, read as
/// `gzip -d` reads them: zero bytes after the last member (padding some
/// writers add) are ignored; anything else there is an error.
struct GzipMembers<R: BufRead> {
    /// The member being read; `None` once the input is exhausted.
    member: Option<GzDecoder<R>>,
}

impl<R: BufRead> GzipMembers<R> {
    fn new(input: R) -> Self {
        GzipMembers { member: Some(GzDecoder::new(input)) }
    }
}

impl<R: BufRead> Read for GzipMembers<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while let Some(member) = &mut self.member {
            let read = member.read(buf)?;
            if read > 0 || buf.is_empty() {
                return Ok(read);
            }
            // The member ended; the buffered decoder has consumed exactly its bytes.
            let Some(member) = self.member.take() else { break };
            let mut input = member.into_inner();
            loop {
                let rest = input.fill_buf()?;
                if rest.is_empty() {
                    break;
                }
                if rest.starts_with(&GZIP_MAGIC[..1]) {
                    self.member = Some(GzDecoder::new(input));
                    break;
                }
                if let Some(at) = rest.iter().position(|&b| b != 0) {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("bytes after the end of the compressed data are not gzip (byte {:#04x})", rest[at]),
                    ));
                }
                let zeros = rest.len();
                input.consume(zeros);
            }
        }
        Ok(0)
    }
}

/// Why a stream could not be parsed, before the file name is attached.
#[derive(Debug)]
pub enum ParseError {
    /// Reading (or decompressing) failed.
    Read(io::Error),
    /// A line does not follow the format.
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        problem: LineProblem,
    },
    /// No data lines.
    Empty,
}

impl ParseError {
    fn at(self, path: &Path, read_error: impl FnOnce(io::Error) -> DataError) -> DataError {
        let path = path.to_owned();
        match self {
            ParseError::Read(source) => read_error(source),
            ParseError::Line { line, problem } => DataError::Line { path, line, problem },
            ParseError::Empty => DataError::Empty { path },
        }
    }
}

/// Longest line accepted: ample for `features + 1` numbers, yet a corrupt file
/// cannot make one line fill memory.
fn max_line_bytes(format: &CsvFormat) -> usize {
    (format.features + 1) * 64 + 1024
}

/// Parses CSV text in the given format. Lines may end in `\r\n`; blank lines
/// are skipped; a UTF-8 byte-order mark before the first line is ignored.
pub fn parse_csv(text: &[u8], format: &CsvFormat) -> Result<Samples, ParseError> {
    read_csv(text, format)
}

fn read_csv(mut reader: impl BufRead, format: &CsvFormat) -> Result<Samples, ParseError> {
    let mut samples = Samples {
        features: Vec::new(),
        labels: Vec::new(),
        feature_count: format.features,
        class_count: format.classes,
    };
    let limit = max_line_bytes(format);
    let mut bytes = Vec::new();
    for line_no in 1.. {
        bytes.clear();
        // Room for the limit and a `\r\n`: a line cut short by `take` keeps
        // more than `limit` bytes once its (missing) terminator is stripped.
        let read = (&mut reader).take(limit as u64 + 2).read_until(b'\n', &mut bytes).map_err(ParseError::Read)?;
        if read == 0 {
            break;
        }
        let fail = |problem| ParseError::Line { line: line_no, problem };
        let content = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        if content.len() > limit {
            return Err(fail(LineProblem::TooLong { limit }));
        }
        if line_no <= format.header_lines {
            continue;
        }
        let line = std::str::from_utf8(content).map_err(|_| fail(LineProblem::NotUtf8))?;
        let line = if line_no == 1 { line.strip_prefix('\u{feff}').unwrap_or(line) } else { line };
        if line.trim().is_empty() {
            continue;
        }
        let (features, label) = parse_line(line, format).map_err(fail)?;
        samples.features.extend_from_slice(&features);
        samples.labels.push(label);
    }
    if samples.is_empty() {
        return Err(ParseError::Empty);
    }
    Ok(samples)
}

/// One non-blank line: its scaled features and its label.
fn parse_line(line: &str, format: &CsvFormat) -> Result<(Vec<f32>, usize), LineProblem> {
    let expected = format.features + 1;
    let found = line.split(',').count();
    if found != expected {
        return Err(LineProblem::FieldCount { expected, found });
    }
    let mut fields = line.split(',').map(str::trim);
    let mut features = Vec::with_capacity(format.features);
    for (k, text) in fields.by_ref().take(format.features).enumerate() {
        let field = k + 1;
        let value: f64 = text.parse().map_err(|_| LineProblem::NotANumber { field, text: text.to_owned() })?;
        if !value.is_finite() {
            return Err(LineProblem::NotFinite { field, text: text.to_owned() });
        }
        if !(format.raw_min..=format.raw_max).contains(&value) {
            return Err(LineProblem::OutOfRange {
                field,
                value,
                min: format.raw_min,
                max: format.raw_max,
                noun: format.feature_noun,
            });
        }
        features.push((value / format.divisor) as f32);
    }
    let text = fields.next().unwrap_or_default();
    let label = parse_label(text, format.classes).ok_or_else(|| LineProblem::BadLabel {
        field: expected,
        text: text.to_owned(),
        classes: format.classes,
    })?;
    Ok((features, label))
}

/// A class in `0..classes`, written as an integer (`3`) or as a float with no
/// fraction (`3.0`, as spreadsheets and numpy export labels).
fn parse_label(text: &str, classes: usize) -> Option<usize> {
    let label = match text.parse::<usize>() {
        Ok(label) => label,
        Err(_) => {
            let value: f64 = text.parse().ok()?;
            if !(value >= 0.0 && value < classes as f64 && value.fract() == 0.0) {
                return None;
            }
            value as usize
        }
    };
    (label < classes).then_some(label)
}

/// Checks that the samples can be split per class and learned: at least two
/// classes, and at least two samples (one to train on, one to test) in every
/// class that has any.
pub fn check_classes(samples: &Samples) -> Result<(), ClassProblem> {
    let counts = samples.class_counts();
    let present: Vec<usize> = (0..counts.len()).filter(|&c| counts[c] > 0).collect();
    if let [only] = present[..] {
        return Err(ClassProblem::OneClass { class: only, samples: counts[only] });
    }
    if let Some(class) = present.iter().copied().find(|&c| counts[c] < 2) {
        return Err(ClassProblem::SingleSample { class });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TINY: CsvFormat = CsvFormat {
        features: 2,
        classes: 3,
        header_lines: 0,
        raw_min: 0.0,
        raw_max: 16.0,
        divisor: 16.0,
        feature_noun: "pixel",
    };

    fn problem(text: &str) -> (usize, LineProblem) {
        match parse_csv(text.as_bytes(), &TINY) {
            Err(ParseError::Line { line, problem }) => (line, problem),
            other => panic!("expected a line problem, got {other:?}"),
        }
    }

    #[test]
    fn parses_and_scales() {
        let s = parse_csv(b"0,16,2\r\n8,4,0\n\n", &TINY).unwrap();
        assert_eq!(s.features, [0.0, 1.0, 0.5, 0.25]);
        assert_eq!(s.labels, [2, 0]);
        assert_eq!(s.class_counts(), [1, 0, 1]);
        assert_eq!(s.subset(&[1]).features, [0.5, 0.25]);
    }

    #[test]
    fn reports_line_and_field() {
        assert_eq!(problem("0,0,0\n1,2\n"), (2, LineProblem::FieldCount { expected: 3, found: 2 }));
        assert_eq!(problem("0,x,1"), (1, LineProblem::NotANumber { field: 2, text: "x".into() }));
        assert_eq!(problem("0,0,0\n0,NaN,1"), (2, LineProblem::NotFinite { field: 2, text: "NaN".into() }));
        assert!(matches!(problem("17,0,1"), (1, LineProblem::OutOfRange { field: 1, .. })));
        assert!(matches!(problem("1,0,3"), (1, LineProblem::BadLabel { field: 3, .. })));
        assert!(matches!(problem("1,0,-1"), (1, LineProblem::BadLabel { .. })));
        assert!(matches!(problem("1,0,1.5"), (1, LineProblem::BadLabel { .. })));
        assert!(matches!(parse_csv(b"\n \n", &TINY), Err(ParseError::Empty)));
    }

    #[test]
    fn accepts_byte_order_mark_and_float_labels() {
        let s = parse_csv("\u{feff}0,16,2.0\n8,4,1\n".as_bytes(), &TINY).unwrap();
        assert_eq!(s.labels, [2, 1]);
        assert!(matches!(problem("0,0,2.5"), (1, LineProblem::BadLabel { .. })));
        assert!(matches!(problem("0,0,3.0"), (1, LineProblem::BadLabel { .. })));
        // A byte-order mark is only a mark at the start of the file.
        assert!(matches!(problem("0,0,0\n\u{feff}0,0,0"), (2, LineProblem::NotANumber { field: 1, .. })));
    }

    #[test]
    fn a_line_longer_than_the_format_allows_is_refused_without_reading_it_all() {
        let limit = max_line_bytes(&TINY);
        for ending in ["\n", "\r\n", ""] {
            let fits = format!("{}0,0,1{ending}", " ".repeat(limit - 5));
            assert_eq!(parse_csv(fits.as_bytes(), &TINY).unwrap().labels, [1], "{ending:?}");
            let over = format!(" {fits}");
            assert_eq!(problem(&over), (1, LineProblem::TooLong { limit }), "{ending:?}");
        }
        let long = format!("0,0,1\n{}", "0,".repeat(1 << 20));
        assert_eq!(problem(&long), (2, LineProblem::TooLong { limit }));
    }

    #[test]
    fn classes_must_be_splittable() {
        let samples = |labels: &[usize]| Samples {
            features: vec![0.0; labels.len() * 2],
            labels: labels.to_vec(),
            feature_count: 2,
            class_count: 3,
        };
        assert_eq!(check_classes(&samples(&[1, 1, 1])), Err(ClassProblem::OneClass { class: 1, samples: 3 }));
        assert_eq!(check_classes(&samples(&[0, 0, 2])), Err(ClassProblem::SingleSample { class: 2 }));
        // An absent class is fine: only classes with samples are split.
        assert_eq!(check_classes(&samples(&[0, 2, 0, 2])), Ok(()));
    }

    fn gzip(text: &str) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        io::Write::write_all(&mut encoder, text.as_bytes()).unwrap();
        encoder.finish().unwrap()
    }

    fn gunzip(bytes: &[u8]) -> io::Result<String> {
        let mut text = String::new();
        GzipMembers::new(bytes).read_to_string(&mut text)?;
        Ok(text)
    }

    #[test]
    fn gzip_members_concatenate_and_trailing_zeros_are_padding() {
        let two = [gzip("0,0,1\n"), gzip("1,1,2\n")].concat();
        assert_eq!(gunzip(&two).unwrap(), "0,0,1\n1,1,2\n");
        let padded = [two.clone(), vec![0; 5000]].concat();
        assert_eq!(gunzip(&padded).unwrap(), "0,0,1\n1,1,2\n");
        let garbage = [two.clone(), vec![0, 0, b'x']].concat();
        let error = gunzip(&garbage).unwrap_err();
        assert!(error.to_string().contains("not gzip (byte 0x78)"), "{error}");
        let truncated = &two[..two.len() - 3];
        assert!(gunzip(truncated).is_err());
        assert_eq!(gunzip(&gzip("")).unwrap(), "");
    }

    #[test]
    fn non_utf8_line_is_named() {
        assert!(matches!(
            parse_csv(b"0,0,0\n\xff,0,0\n", &TINY),
            Err(ParseError::Line { line: 2, problem: LineProblem::NotUtf8 })
        ));
    }

    #[test]
    fn digits_fixture_loads() {
        let s = DIGITS.load(None).unwrap();
        assert_eq!(s.len(), 1797);
        assert_eq!(s.features.len(), 1797 * 64);
        assert!(s.features.iter().all(|&v| (0.0..=1.0).contains(&v)));
        assert_eq!(s.class_counts(), [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]);
    }
}
