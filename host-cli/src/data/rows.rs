//! The shipped data sets' own layout ([`CsvFormat`]): so many numbers in a
//! known range, then a class, on each line. Parsed one bounded line at a
//! time as the text is decompressed, so a corrupt or hostile file fails at
//! its first bad line without filling memory.

use std::io::{BufRead, Read};

use super::input::Input;
use super::{CsvFormat, DataError, LineProblem, Origin, Table, Transform};

/// Longest line accepted: ample for `features + 1` numbers, yet a corrupt file
/// cannot make one line fill memory.
pub(super) fn max_line_bytes(format: &CsvFormat) -> usize {
    (format.features + 1) * 64 + 1024
}

/// Reads `input` in `format`, at most `max_samples` samples. Lines may end in
/// `\r\n`; blank lines are skipped; a UTF-8 byte-order mark before the first
/// line is ignored.
pub(super) fn read(
    mut input: Input,
    origin: &Origin,
    format: &CsvFormat,
    max_samples: Option<usize>,
) -> Result<Table, DataError> {
    let mut table = Table::classes(origin.clone(), format.features, format.classes);
    table.set_transform(Transform::Divide(format.divisor as f32));
    let limit = max_line_bytes(format);
    let mut bytes = Vec::new();
    let mut row = Vec::with_capacity(format.features);
    for line_no in 1.. {
        if max_samples.is_some_and(|max| table.len() >= max) {
            // Stopped early: whether anything but blank lines is left decides "truncated".
            table.set_truncated(has_more_samples(&mut input, limit));
            break;
        }
        bytes.clear();
        // Room for the limit and a `\r\n`: a line cut short by `take` keeps
        // more than `limit` bytes once its (missing) terminator is stripped.
        let read = (&mut input.reader)
            .take(limit as u64 + 2)
            .read_until(b'\n', &mut bytes)
            .map_err(|e| input.read_error(origin, e))?;
        if read == 0 {
            break;
        }
        let fail = |problem| DataError::Line { origin: origin.clone(), line: line_no, problem };
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
        let label = parse_line(line, format, &mut row).map_err(fail)?;
        table.push_class(&row, label);
    }
    if table.is_empty() {
        return Err(DataError::Empty { origin: origin.clone() });
    }
    table.shrink_to_fit();
    Ok(table)
}

/// Whether a non-blank line follows (a read error counts as more: the
/// samples read are still the first ones).
fn has_more_samples(input: &mut Input, limit: usize) -> bool {
    let mut bytes = Vec::new();
    loop {
        bytes.clear();
        match (&mut input.reader).take(limit as u64 + 2).read_until(b'\n', &mut bytes) {
            Ok(0) => return false,
            Ok(_) if bytes.iter().all(u8::is_ascii_whitespace) => {}
            _ => return true,
        }
    }
}

/// One non-blank line: its raw features into `row`, and its label.
fn parse_line(line: &str, format: &CsvFormat, row: &mut Vec<f32>) -> Result<usize, LineProblem> {
    let expected = format.features + 1;
    let found = line.split(',').count();
    if found != expected {
        return Err(LineProblem::FieldCount { expected, found });
    }
    let mut fields = line.split(',').map(str::trim);
    row.clear();
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
        row.push(value as f32);
    }
    let text = fields.next().unwrap_or_default();
    parse_label(text, format.classes).ok_or_else(|| LineProblem::BadLabel {
        field: expected,
        text: text.to_owned(),
        classes: format.classes,
    })
}

/// A class in `0..classes`, written as an integer (`3`) or as a float with no
/// fraction (`3.0`, as spreadsheets and numpy export labels).
pub(super) fn parse_label(text: &str, classes: usize) -> Option<usize> {
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

    fn parse(text: &str) -> Result<Table, DataError> {
        parse_max(text, None)
    }

    fn parse_max(text: &str, max: Option<usize>) -> Result<Table, DataError> {
        let bytes: &'static [u8] = Box::leak(text.as_bytes().to_vec().into_boxed_slice());
        read(super::super::input::open_bytes(bytes), &Origin::Generated("text".into()), &TINY, max)
    }

    fn problem(text: &str) -> (usize, LineProblem) {
        match parse(text) {
            Err(DataError::Line { line, problem, .. }) => (line, problem),
            other => panic!("expected a line problem, got {other:?}"),
        }
    }

    #[test]
    fn parses_and_scales() {
        let t = parse("0,16,2\r\n8,4,0\n\n").unwrap();
        assert_eq!(t.to_samples().features, [0.0, 1.0, 0.5, 0.25]);
        assert_eq!(t.to_samples().labels, [2, 0]);
        assert_eq!(t.class_counts(), [1, 0, 1]);
        assert!(!t.truncated());
    }

    #[test]
    fn max_samples_stops_reading_and_says_whether_more_were_left() {
        let t = parse_max("0,16,2\n8,4,0\n1,1,1\n", Some(2)).unwrap();
        assert_eq!((t.len(), t.truncated()), (2, true));
        let t = parse_max("0,16,2\n8,4,0\n\n \n", Some(2)).unwrap();
        assert_eq!((t.len(), t.truncated()), (2, false));
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
        assert!(matches!(parse("\n \n"), Err(DataError::Empty { .. })));
    }

    #[test]
    fn accepts_byte_order_mark_and_float_labels() {
        let t = parse("\u{feff}0,16,2.0\n8,4,1\n").unwrap();
        assert_eq!(t.to_samples().labels, [2, 1]);
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
            assert_eq!(parse(&fits).unwrap().to_samples().labels, [1], "{ending:?}");
            let over = format!(" {fits}");
            assert_eq!(problem(&over), (1, LineProblem::TooLong { limit }), "{ending:?}");
        }
        let long = format!("0,0,1\n{}", "0,".repeat(1 << 20));
        assert_eq!(problem(&long), (2, LineProblem::TooLong { limit }));
    }

    #[test]
    fn non_utf8_line_is_named() {
        let bytes: &'static [u8] = b"0,0,0\n\xff,0,0\n";
        let result = read(super::super::input::open_bytes(bytes), &Origin::Generated("t".into()), &TINY, None);
        assert!(matches!(result, Err(DataError::Line { line: 2, problem: LineProblem::NotUtf8, .. })));
    }
}
