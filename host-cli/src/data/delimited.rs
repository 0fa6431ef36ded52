//! Any numeric CSV file with a header (`host-cli train csv FILE`), read with
//! the `csv` crate: quoted fields, any one-byte delimiter (guessed from the
//! header when not given), a byte-order mark, blank lines. Every line is
//! bounded ([`MAX_LINE_BYTES`]), so a file without newlines fails fast
//! instead of filling memory.

use std::io::{BufRead, Cursor, Read};

use super::input::{Input, LineLimit, read_error};
use super::{
    Columns, DataError, HeaderProblem, LineProblem, MAX_CSV_CLASSES, MAX_CSV_FEATURES, Origin, Table, Task,
    check_counts,
};

/// Longest line accepted: far more than 64 numbers and a label need, with
/// room for long column names.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// Which column holds the label (or the regression target).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LabelColumn {
    /// The last column.
    Last,
    /// A header name, or a 1-based column number when no column has that
    /// name (`--label-column 5`).
    Named(String),
}

impl LabelColumn {
    /// How a report names the choice.
    pub fn describe(&self) -> String {
        match self {
            LabelColumn::Last => "the last column".into(),
            LabelColumn::Named(name) => name.clone(),
        }
    }
}

/// How to read a CSV file.
#[derive(Clone, Debug, PartialEq)]
pub struct CsvOptions {
    /// The label column.
    pub label: LabelColumn,
    /// The delimiter; `None` guesses it from the header (`,`, `;` or tab).
    pub delimiter: Option<u8>,
    /// Classes or numeric targets.
    pub task: Task,
    /// Read at most this many samples.
    pub max_samples: Option<usize>,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions { label: LabelColumn::Last, delimiter: None, task: Task::Classification, max_samples: None }
    }
}

/// Reads a CSV file with a header: one column is the label, every other one
/// a numeric feature.
pub(super) fn read(mut input: Input, origin: &Origin, options: &CsvOptions) -> Result<Table, DataError> {
    let header_error = |problem| DataError::Header { origin: origin.clone(), problem };
    // The first non-blank line, to guess the delimiter from; it is then read
    // again as the header record.
    let mut head = Vec::new();
    let mut first_line = Vec::new();
    loop {
        first_line.clear();
        let read = (&mut input.reader)
            .take(MAX_LINE_BYTES as u64 + 2)
            .read_until(b'\n', &mut first_line)
            .map_err(|e| input.read_error(origin, e))?;
        head.extend_from_slice(&first_line);
        if read == 0 {
            return Err(DataError::Empty { origin: origin.clone() });
        }
        if !first_line.iter().all(u8::is_ascii_whitespace) {
            break;
        }
    }
    let delimiter = options.delimiter.unwrap_or_else(|| guess_delimiter(&first_line));
    let gzip = input.gzip;
    let text = LineLimit::new(Cursor::new(head).chain(input.reader), MAX_LINE_BYTES);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .delimiter(delimiter)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text);
    let csv_error = |e: csv::Error| match e.into_kind() {
        csv::ErrorKind::Io(source) => read_error(origin, gzip, source),
        other => DataError::Io { origin: origin.clone(), source: std::io::Error::other(format!("{other:?}")) },
    };

    let mut record = csv::ByteRecord::new();
    if !reader.read_byte_record(&mut record).map_err(csv_error)? {
        return Err(DataError::Empty { origin: origin.clone() });
    }
    let header_line = line_of(&record);
    let mut names = Vec::with_capacity(record.len());
    for (k, field) in record.iter().enumerate() {
        let field = if k == 0 { field.strip_prefix("\u{feff}".as_bytes()).unwrap_or(field) } else { field };
        let name = std::str::from_utf8(field).map_err(|_| DataError::Line {
            origin: origin.clone(),
            line: header_line,
            problem: LineProblem::NotUtf8,
        })?;
        names.push(name.to_owned());
    }
    let columns = names.len();
    if columns < 2 {
        return Err(header_error(HeaderProblem::OneColumn { delimiter }));
    }
    if names.iter().all(|name| name.parse::<f64>().is_ok()) {
        return Err(header_error(HeaderProblem::Numbers));
    }
    let label = label_position(&names, &options.label).map_err(header_error)?;
    let features = columns - 1;
    if features > MAX_CSV_FEATURES {
        return Err(header_error(HeaderProblem::TooWide { features, max: MAX_CSV_FEATURES }));
    }
    for (j, name) in names.iter().enumerate() {
        if let Some(k) = names[..j].iter().position(|other| other == name) {
            return Err(header_error(HeaderProblem::Duplicate { name: name.clone(), first: k + 1, second: j + 1 }));
        }
    }
    let regression = options.task == Task::Regression;
    let mut table = if regression {
        Table::regression(origin.clone(), features)
    } else {
        Table::classes(origin.clone(), features, 0)
    };
    let feature_names: Vec<String> =
        names.iter().enumerate().filter(|&(k, _)| k != label).map(|(_, n)| n.clone()).collect();
    table.set_columns(Columns {
        features: feature_names,
        label: names[label].clone(),
        label_position: label + 1,
        delimiter,
    });

    let mut row = Vec::with_capacity(features);
    let mut largest_class = 0usize;
    loop {
        if options.max_samples.is_some_and(|max| table.len() >= max) {
            let more = reader.read_byte_record(&mut record).map_err(csv_error)?;
            table.set_truncated(more);
            break;
        }
        if !reader.read_byte_record(&mut record).map_err(csv_error)? {
            break;
        }
        let line = line_of(&record);
        let fail = |problem| DataError::Line { origin: origin.clone(), line, problem };
        // A line of spaces trims to one empty field: blank, skipped.
        if record.len() == 1 && record[0].is_empty() {
            continue;
        }
        if record.len() != columns {
            return Err(fail(LineProblem::ColumnCount { expected: columns, found: record.len() }));
        }
        row.clear();
        let mut target = (0.0, "");
        for (k, cell) in record.iter().enumerate() {
            let text = std::str::from_utf8(cell).map_err(|_| fail(LineProblem::NotUtf8))?;
            let cell_error = |problem: fn(usize, String, String) -> LineProblem| {
                fail(problem(k + 1, names[k].clone(), text.to_owned()))
            };
            let value: f64 = text.parse().map_err(|_| {
                if k == label && !regression {
                    // A class name where a class number belongs: say what a label must be.
                    let classes = MAX_CSV_CLASSES;
                    fail(LineProblem::ClassOutOfRange {
                        column: k + 1,
                        name: names[k].clone(),
                        text: text.to_owned(),
                        classes,
                    })
                } else {
                    cell_error(|column, name, text| LineProblem::NotANumberIn { column, name, text })
                }
            })?;
            // Every value must survive the trip to f32, where the network works.
            if !value.is_finite() || !(value as f32).is_finite() {
                return Err(cell_error(|column, name, text| LineProblem::NotFiniteIn { column, name, text }));
            }
            if k == label {
                target = (value, text);
            } else {
                row.push(value as f32);
            }
        }
        if regression {
            table.push_target(&row, target.0 as f32);
        } else {
            let class = super::rows::parse_label(target.1, MAX_CSV_CLASSES).ok_or_else(|| {
                fail(LineProblem::ClassOutOfRange {
                    column: label + 1,
                    name: names[label].clone(),
                    text: target.1.to_owned(),
                    classes: MAX_CSV_CLASSES,
                })
            })?;
            largest_class = largest_class.max(class);
            table.set_class_count(table.class_count().max(class + 1));
            table.push_class(&row, class);
        }
    }
    if table.is_empty() {
        return Err(DataError::Empty { origin: origin.clone() });
    }
    table.shrink_to_fit();
    if regression {
        check_targets(&table)?;
    } else {
        debug_assert_eq!(table.class_count(), largest_class + 1);
        check_counts(&table.class_counts())
            .map_err(|problem| DataError::Classes { origin: origin.clone(), problem })?;
    }
    Ok(table)
}

/// The 1-based line a record starts on.
fn line_of(record: &csv::ByteRecord) -> usize {
    record.position().map_or(0, |p| p.line() as usize)
}

/// The delimiter of a header line: whichever of `,`, `;` and tab occurs
/// most often outside double quotes (`,` when none does).
pub fn guess_delimiter(line: &[u8]) -> u8 {
    let mut counts = [(b',', 0usize), (b';', 0), (b'\t', 0)];
    let mut quoted = false;
    for &b in line {
        if b == b'"' {
            quoted = !quoted;
        } else if !quoted && let Some(entry) = counts.iter_mut().find(|(d, _)| *d == b) {
            entry.1 += 1;
        }
    }
    // The first of the most frequent, so `,` wins ties.
    counts.iter().fold((b',', 0), |best, &(d, n)| if n > best.1 { (d, n) } else { best }).0
}

/// The 0-based position of the label column.
fn label_position(names: &[String], label: &LabelColumn) -> Result<usize, HeaderProblem> {
    let name = match label {
        LabelColumn::Last => return Ok(names.len() - 1),
        LabelColumn::Named(name) => name,
    };
    let matches: Vec<usize> = (0..names.len()).filter(|&k| names[k] == *name).collect();
    match matches[..] {
        [only] => return Ok(only),
        [first, second, ..] => {
            return Err(HeaderProblem::Duplicate { name: name.clone(), first: first + 1, second: second + 1 });
        }
        [] => {}
    }
    match name.trim().parse::<usize>() {
        Ok(position) if (1..=names.len()).contains(&position) => Ok(position - 1),
        _ => Err(HeaderProblem::NoSuchColumn { name: name.clone(), names: names.to_vec() }),
    }
}

/// A regression target must vary: R² of a constant is undefined, and there is nothing to learn.
fn check_targets(table: &Table) -> Result<(), DataError> {
    let first = table.target(0);
    if (1..table.len()).all(|i| table.target(i) == first) {
        let columns = table.columns().cloned().unwrap_or_default();
        return Err(DataError::ConstantTarget {
            origin: table.origin().clone(),
            column: format!("column {} ({})", columns.label_position, columns.label),
            value: f64::from(first),
        });
    }
    if table.len() < 2 {
        return Err(DataError::Classes { origin: table.origin().clone(), problem: super::ClassProblem::NoSamples });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::input::open_bytes;
    use crate::source::SampleSource;

    fn read_text(text: &str, options: &CsvOptions) -> Result<Table, DataError> {
        let bytes: &'static [u8] = Box::leak(text.as_bytes().to_vec().into_boxed_slice());
        read(open_bytes(bytes), &Origin::File("t.csv".into()), options)
    }

    fn error(text: &str, options: &CsvOptions) -> String {
        read_text(text, options).unwrap_err().to_string()
    }

    #[test]
    fn quoted_headers_delimiters_and_a_label_anywhere() {
        let text = "\u{feff}\"width, cm\";label;height\n1;0;2\n\n3;1;4\n5;1;6\n7;0;8\n";
        let options = CsvOptions { label: LabelColumn::Named("label".into()), ..CsvOptions::default() };
        let t = read_text(text, &options).unwrap();
        let columns = t.columns().unwrap();
        assert_eq!(
            (columns.features.clone(), columns.label_position, columns.delimiter),
            (vec!["width, cm".to_owned(), "height".to_owned()], 2, b';')
        );
        assert_eq!((t.len(), t.class_count(), t.raw(1)), (4, 2, vec![3.0, 4.0]));
        assert_eq!(t.feature_column_name(1), "column 3 (height)");
        let by_number = CsvOptions { label: LabelColumn::Named("2".into()), ..CsvOptions::default() };
        assert_eq!(read_text(text, &by_number).unwrap().class_counts(), [2, 2]);
        let tabs = read_text("a\tb\ty\n1\t2\t0\n3\t4\t1\n1\t2\t0\n3\t4\t1\n", &CsvOptions::default()).unwrap();
        assert_eq!((tabs.features(), SampleSource::label(&tabs, 1)), (2, 1));
    }

    #[test]
    fn malformed_files_name_the_line_and_the_column() {
        let d = CsvOptions::default();
        let message = error("a,b,y\n1,2,0\n1,x,1\n", &d);
        assert_eq!(message, "t.csv: line 3, column 2 (b): \"x\" is not a number");
        let message = error("a,b,y\n1,2,0\n1,,1\n", &d);
        assert!(message.contains("line 3, column 2 (b): \"\" is not a number"), "{message}");
        let message = error("a,b,y\n1,2,0\n1,2,cat\n", &d);
        assert!(
            message.contains("line 3, column 3 (y): label \"cat\" is not a class in 0..=9 (labels are whole"),
            "{message}"
        );
        let message = error("a,b,y\n1,2,0\n1,2,12\n", &d);
        assert!(message.contains("line 3, column 3 (y): label \"12\" is not a class in 0..=9"), "{message}");
        let message = error("a,b,y\n1,2,0\n1,2\n", &d);
        assert!(message.contains("line 3: expected 3 columns"), "{message}");
        let message = error("a,b,y\n1,2,0\n1,1e39,1\n", &d);
        assert!(message.contains("line 3, column 2 (b): \"1e39\" is not a finite"), "{message}");
        let message = error("a,b,y\n1,2,1\n3,4,1\n", &d);
        assert!(message.contains("all 2 samples have label 1"), "{message}");
        let message = error("a,b,y\n", &d);
        assert!(message.contains("contains no samples"), "{message}");
        let message = error("1,2,3\n1,2,0\n", &d);
        assert!(message.contains("header"), "{message}");
        let named = CsvOptions { label: LabelColumn::Named("z".into()), ..CsvOptions::default() };
        let message = error("a,b,y\n1,2,0\n", &named);
        assert!(message.contains("no column named \"z\"") && message.contains("a, b, y"), "{message}");
        let wide = (0..66).map(|k| format!("c{k}")).collect::<Vec<_>>().join(",");
        let message = error(&format!("{wide}\n"), &d);
        assert!(message.contains("65 feature columns") && message.contains("at most 64"), "{message}");
        let message = error(&format!("a,b,y\n{}\n", "1".repeat(MAX_LINE_BYTES + 1)), &d);
        assert!(message.contains("line 2") && message.contains("longer than"), "{message}");
    }

    #[test]
    fn regression_targets_are_numbers_that_vary() {
        let options = CsvOptions { task: Task::Regression, ..CsvOptions::default() };
        let t = read_text("x,y\n1,0.5\n2,-3e3\n", &options).unwrap();
        assert!(t.is_regression());
        assert_eq!((t.target(0), t.target(1)), (0.5, -3000.0));
        let message = error("x,y\n1,2\n2,2\n", &options);
        assert!(message.contains("column 2 (y)") && message.contains("constant"), "{message}");
    }

    #[test]
    fn max_samples_reads_the_first_ones() {
        let options = CsvOptions { max_samples: Some(4), ..CsvOptions::default() };
        let t = read_text("a,y\n1,0\n2,1\n3,0\n4,1\n5,0\n", &options).unwrap();
        assert_eq!((t.len(), t.truncated()), (4, true));
    }
}
