//! CSV input (RFC 4180): quoted fields with delimiters, doubled quotes and line
//! breaks inside quotes, an optional header naming the columns. Opened like TSV, so
//! `.gz` and `.zst` files are decompressed.

use std::io;

use csv::{ByteRecord, ReaderBuilder};

use super::{Feed, SourceFile, open};
use crate::error::{Location, Result, WriteError};
use crate::options::{Column, InputOptions};
use crate::record::Origin;

/// Refuses column names when the files have no header (only indexes can work).
pub(super) fn check_columns(input: &InputOptions) -> Result<()> {
    if input.csv_header {
        return Ok(());
    }
    for (what, column) in [("key", &input.key_column), ("value", &input.value_column)] {
        if let Column::Name(name) = column {
            return Err(WriteError::InvalidOptions(format!(
                "{what} column {name:?}: CSV without a header has no column names; \
                 give the column's 0-based index instead"
            )));
        }
    }
    Ok(())
}

/// "1 field", "3 fields".
fn fields(n: usize) -> String {
    if n == 1 {
        "1 field".to_string()
    } else {
        format!("{n} fields")
    }
}

/// The two columns of a file, once its header (or first record) is known.
struct Layout {
    key: usize,
    value: usize,
    /// Fields every record must have.
    fields: usize,
    /// Where that count comes from, for messages: "the header" or "line 1".
    fields_from: String,
    key_name: String,
    value_name: String,
}

impl Layout {
    /// Finds the columns in `first`, the first record of a file (its header when
    /// `header` is true). The error says what is missing.
    fn new(first: &ByteRecord, line: u64, input: &InputOptions) -> Result<Layout, String> {
        let names: Vec<String> = first
            .iter()
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .collect();
        let find = |what: &str, column: &Column| {
            column.find(&names).ok_or_else(|| {
                if input.csv_header {
                    format!(
                        "no {what} column {column} in the header (columns: {})",
                        names.join(", ")
                    )
                } else {
                    format!(
                        "no {what} column {column}: the first record has {}",
                        fields(names.len())
                    )
                }
            })
        };
        let key = find("key", &input.key_column)?;
        let value = find("value", &input.value_column)?;
        let label = |i: usize| {
            if input.csv_header {
                format!("{:?}", names[i])
            } else {
                format!("#{i}")
            }
        };
        Ok(Layout {
            key,
            value,
            fields: names.len(),
            fields_from: if input.csv_header {
                "the header".to_string()
            } else {
                format!("line {line}")
            },
            key_name: label(key),
            value_name: label(value),
        })
    }

    /// The key and value fields of `record`, decoded.
    fn pick<'a>(
        &self,
        record: &'a ByteRecord,
        input: &InputOptions,
        bufs: &'a mut (Vec<u8>, Vec<u8>),
    ) -> Result<(&'a [u8], &'a [u8]), String> {
        if record.len() != self.fields {
            return Err(format!(
                "{} in this record, but {} has {}",
                fields(record.len()),
                self.fields_from,
                self.fields
            ));
        }
        let field = |i| record.get(i).expect("the field count was checked");
        let (key_buf, value_buf) = bufs;
        let key = input
            .key_encoding
            .decode_into(field(self.key), key_buf, "key")
            .map_err(|e| format!("column {}: {e}", self.key_name))?;
        let value = input
            .value_encoding
            .decode_into(field(self.value), value_buf, "value")
            .map_err(|e| format!("column {}: {e}", self.value_name))?;
        Ok((key, value))
    }
}

/// Reads one CSV file into `feed`. Records are numbered by the line they start on.
pub(super) fn read(
    file: &SourceFile,
    source: u32,
    input: &InputOptions,
    feed: &mut Feed,
) -> Result<()> {
    let reader = open(file, feed.count())?;
    let mut csv = ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(input.csv_delimiter)
        .from_reader(reader);
    let location = |line: u64| Location::Line {
        source: file.name.clone(),
        line,
    };
    let mut record = ByteRecord::new();
    let mut bufs = (Vec::new(), Vec::new());
    let mut layout: Option<Layout> = None;
    let mut last_line = 0;
    loop {
        match csv.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let line = e.position().map_or(last_line + 1, |p| p.line());
                return Err(WriteError::Read {
                    location: location(line),
                    source: if e.is_io_error() {
                        match e.into_kind() {
                            csv::ErrorKind::Io(io) => io,
                            other => io::Error::other(format!("{other:?}")),
                        }
                    } else {
                        io::Error::new(io::ErrorKind::InvalidData, e.to_string())
                    },
                });
            }
        }
        let line = record.position().map_or(last_line + 1, |p| p.line());
        last_line = line;
        let input_error = |detail| WriteError::Input {
            location: location(line),
            detail,
        };
        if layout.is_none() {
            layout = Some(Layout::new(&record, line, input).map_err(input_error)?);
            if input.csv_header {
                continue;
            }
        }
        let columns = layout.as_ref().expect("the first record set the layout");
        let (key, value) = columns
            .pick(&record, input, &mut bufs)
            .map_err(input_error)?;
        feed.push(key, value, Origin { source, line })?;
    }
    Ok(())
}
