//! Bytes in: a file or a copy built into the binary, gzip or plain (told
//! apart by the magic bytes), decompressed as it is read.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use flate2::bufread::GzDecoder;

use super::{DataError, LineProblem, Origin};

pub(super) const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// An opened input: its text as a buffered reader, and whether it is gzip
/// (a read error is then a corrupt stream rather than the disk's).
pub(super) struct Input {
    /// The decompressed text.
    pub reader: Box<dyn BufRead>,
    /// Whether the bytes are gzip.
    pub gzip: bool,
}

impl Input {
    /// The error for a failed read of this input.
    pub fn read_error(&self, origin: &Origin, source: io::Error) -> DataError {
        read_error(origin, self.gzip, source)
    }
}

/// The error for a failed read of an input (gzip or not): a line too long
/// for the parser, a corrupt gzip stream, or the disk's error.
pub(super) fn read_error(origin: &Origin, gzip: bool, source: io::Error) -> DataError {
    if let Some(too_long) = source.get_ref().and_then(|e| e.downcast_ref::<LineTooLong>()) {
        return DataError::Line {
            origin: origin.clone(),
            line: too_long.line,
            problem: LineProblem::TooLong { limit: too_long.limit },
        };
    }
    if gzip {
        DataError::BadGzip { origin: origin.clone(), source }
    } else {
        DataError::Io { origin: origin.clone(), source }
    }
}

/// Opens `path`: gzip when it starts with the gzip magic bytes; a name ending
/// in `.gz` must hold gzip data; an empty file is refused.
pub(super) fn open_file(path: &Path) -> Result<Input, DataError> {
    let origin = Origin::File(path.to_owned());
    let io_error = |source| DataError::Io { origin: origin.clone(), source };
    if path.is_dir() {
        return Err(io_error(io::Error::other("it is a directory")));
    }
    let mut file = BufReader::new(File::open(path).map_err(io_error)?);
    let head = file.fill_buf().map_err(io_error)?;
    let (is_gzip, is_empty) = (head.starts_with(&GZIP_MAGIC), head.is_empty());
    let named_gz = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("gz"));
    if is_empty {
        return Err(DataError::Empty { origin });
    }
    if is_gzip {
        Ok(Input { reader: Box::new(BufReader::new(GzipMembers::new(file))), gzip: true })
    } else if named_gz {
        Err(DataError::NotGzip { origin })
    } else {
        Ok(Input { reader: Box::new(file), gzip: false })
    }
}

/// Opens bytes built into the binary, gzip or plain.
pub(super) fn open_bytes(bytes: &'static [u8]) -> Input {
    if bytes.starts_with(&GZIP_MAGIC) {
        Input { reader: Box::new(BufReader::new(GzipMembers::new(bytes))), gzip: true }
    } else {
        Input { reader: Box::new(bytes), gzip: false }
    }
}

/// The decompressed text of one or more concatenated gzip members, read as
/// `gzip -d` reads them: zero bytes after the last member (padding some
/// writers add) are ignored; anything else there is an error.
pub(super) struct GzipMembers<R: BufRead> {
    /// The member being read; `None` once the input is exhausted.
    member: Option<GzDecoder<R>>,
}

impl<R: BufRead> GzipMembers<R> {
    pub fn new(input: R) -> Self {
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

/// A line longer than a reader allows, reported through `io::Error` from
/// inside a parser that only sees bytes (the `csv` crate's).
#[derive(Debug)]
pub(super) struct LineTooLong {
    /// 1-based line number.
    pub line: usize,
    /// Bytes allowed.
    pub limit: usize,
}

impl std::fmt::Display for LineTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {} is longer than {} bytes", self.line, self.limit)
    }
}

impl std::error::Error for LineTooLong {}

/// Passes bytes through until a line (ended by `\n`) runs longer than
/// `limit` bytes, then fails: a parser that grows its buffer to hold a
/// record can then not be made to fill memory by a file without newlines.
pub(super) struct LineLimit<R> {
    inner: R,
    limit: usize,
    /// 1-based number of the line being read.
    line: usize,
    /// Bytes of that line so far.
    run: usize,
    /// Whether the last byte was a `\r` not yet counted.
    pending_cr: bool,
}

impl<R: Read> LineLimit<R> {
    pub fn new(inner: R, limit: usize) -> Self {
        LineLimit { inner, limit, line: 1, run: 0, pending_cr: false }
    }
}

impl<R: Read> Read for LineLimit<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        for &b in &buf[..read] {
            match b {
                b'\n' => {
                    self.line += 1;
                    self.run = 0;
                    self.pending_cr = false;
                }
                // A `\r` before the `\n` is part of the line ending, not of the
                // line: it counts only once something other than `\n` follows.
                b'\r' if !self.pending_cr => self.pending_cr = true,
                _ => {
                    self.run += 1;
                    if b != b'\r' {
                        self.run += usize::from(std::mem::take(&mut self.pending_cr));
                    }
                }
            }
            if self.run > self.limit {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    LineTooLong { line: self.line, limit: self.limit },
                ));
            }
        }
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn the_line_limit_names_the_line() {
        let mut text = String::new();
        let ok = LineLimit::new("abc\r\nabcd\r\n\r\r\r\r\n".as_bytes(), 4).read_to_string(&mut text);
        assert!(ok.is_ok());
        assert!(LineLimit::new("abcd\r\r\n".as_bytes(), 4).read_to_string(&mut text).is_err());
        let error = LineLimit::new("abc\nabcdef\n".as_bytes(), 4).read_to_string(&mut String::new()).unwrap_err();
        let too_long = error.get_ref().and_then(|e| e.downcast_ref::<LineTooLong>()).unwrap();
        assert_eq!((too_long.line, too_long.limit), (2, 4));
    }
}
