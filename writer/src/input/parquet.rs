//! Parquet input: the key and value are two top-level `BYTE_ARRAY` columns (string
//! or binary), read one row group at a time in batches of rows: beyond the
//! collector's buffers, memory holds one page (and its dictionary) and one batch of
//! rows of each of the two columns.
//!
//! Only uncompressed and snappy column chunks are read (Spark's default is snappy):
//! each other codec would add a compression library to every build of tusk. A chunk
//! in another codec is refused before any row is read, naming the file, the column
//! and the codec.

use std::fs::File;
use std::io::{self, Read};

use parquet::basic::{Compression, ConvertedType, LogicalType, Repetition, Type as Physical};
use parquet::column::reader::{ColumnReader, ColumnReaderImpl};
use parquet::data_type::{ByteArray, ByteArrayType};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::schema::types::SchemaDescriptor;

use super::{Feed, SourceFile, open_error};
use crate::error::{Location, Result, WriteError};
use crate::options::{Column, Encoding, InputOptions};
use crate::record::Origin;

/// Rows decoded per batch from each of the two columns.
const BATCH_ROWS: usize = 4096;

/// The magic bytes a Parquet file starts (and ends) with.
const MAGIC: &[u8; 4] = b"PAR1";

/// How a column's bytes become key or value bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A string column (`STRING`, `ENUM`, `JSON`): decoded with the encoding option.
    Text,
    /// An unannotated `BYTE_ARRAY`: taken as is.
    Binary,
}

/// One of the two columns, resolved in a file's schema.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Picked {
    /// Index among the leaf columns (what `get_column_reader` takes).
    leaf: usize,
    name: String,
    kind: Kind,
}

/// Finds `column` among the schema's top-level fields and checks that it can be a
/// key or value (`what`). The error names the column and its type.
fn pick(
    schema: &SchemaDescriptor,
    column: &Column,
    what: &str,
    encoding: Encoding,
) -> Result<Picked, String> {
    let fields = schema.root_schema().get_fields();
    let names: Vec<&str> = fields.iter().map(|f| f.name()).collect();
    let index = column
        .find(&names)
        .ok_or_else(|| format!("no {what} column {column} (columns: {})", names.join(", ")))?;
    let name = names[index].to_string();
    let field = &fields[index];
    let expected = "a string or binary (BYTE_ARRAY) column";
    if field.is_group() {
        return Err(format!(
            "{what} column {name:?} is a group (a struct, list or map), expected {expected}"
        ));
    }
    if field.get_basic_info().repetition() == Repetition::REPEATED {
        return Err(format!(
            "{what} column {name:?} is repeated, expected {expected}"
        ));
    }
    let leaf = (0..schema.num_columns())
        .find(|&i| schema.get_column_root_idx(i) == index)
        .ok_or_else(|| format!("{what} column {name:?} has no data column"))?;
    let descr = schema.column(leaf);
    let physical = descr.physical_type();
    let logical = descr.logical_type_ref();
    let converted = descr.converted_type();
    let text = matches!(
        logical,
        Some(LogicalType::String | LogicalType::Enum | LogicalType::Json)
    ) || matches!(
        converted,
        ConvertedType::UTF8 | ConvertedType::ENUM | ConvertedType::JSON
    );
    let binary = logical.is_none() && converted == ConvertedType::NONE;
    let kind = match physical {
        Physical::BYTE_ARRAY if text => Kind::Text,
        Physical::BYTE_ARRAY if binary => Kind::Binary,
        _ => {
            let annotation = match (logical, converted) {
                (Some(l), _) => format!(" ({l:?})"),
                (None, ConvertedType::NONE) => String::new(),
                (None, c) => format!(" ({c})"),
            };
            let hint = match physical {
                Physical::INT32 | Physical::INT64 | Physical::BOOLEAN => {
                    "; cast it to a string in the job that writes the file, e.g. in Spark \
                     `col(...).cast(\"string\")` (its partitioner then matches tusk's)"
                }
                _ => "",
            };
            return Err(format!(
                "{what} column {name:?} has type {physical}{annotation}, expected {expected}{hint}"
            ));
        }
    };
    if kind == Kind::Binary && encoding != Encoding::Utf8 {
        return Err(format!(
            "{what} column {name:?} is binary, but --{what}-encoding is {encoding}: \
             an encoding applies to string columns only (binary bytes are taken as they are)"
        ));
    }
    Ok(Picked { leaf, name, kind })
}

/// Refuses a column chunk compressed with a codec this build cannot read.
fn check_codec(column: &str, codec: Compression) -> Result<(), String> {
    match codec {
        Compression::UNCOMPRESSED | Compression::SNAPPY => Ok(()),
        other => Err(format!(
            "column {column:?} is compressed with {other}; tusk reads uncompressed and \
             snappy Parquet (Spark's default; spark.sql.parquet.compression.codec=snappy)"
        )),
    }
}

/// Parquet needs to seek: its index is at the end of the file.
pub(super) fn stdin_error() -> WriteError {
    WriteError::InvalidOptions(
        "Parquet cannot be read from stdin (its index is at the end of the file): \
         give the file or directory"
            .to_string(),
    )
}

/// An error about the whole file: "cannot open input FILE: DETAIL".
fn file_error(file: &SourceFile, detail: String) -> WriteError {
    WriteError::Open {
        path: file.name.clone(),
        source: io::Error::new(io::ErrorKind::InvalidData, detail),
    }
}

/// Reads one Parquet file into `feed`, row group by row group. Records are numbered
/// by their row in the file, counting from 1.
pub(super) fn read(
    file: &SourceFile,
    source: u32,
    input: &InputOptions,
    feed: &mut Feed,
) -> Result<()> {
    let Some(path) = &file.path else {
        return Err(stdin_error());
    };
    let mut handle = File::open(path).map_err(|e| open_error(path, e))?;
    let file_len = handle.metadata().map_err(|e| open_error(path, e))?.len();
    let mut magic = [0u8; 4];
    let head = handle.read_exact(&mut magic);
    if head.is_err() || &magic != MAGIC {
        return Err(file_error(
            file,
            "not a Parquet file (it does not start with PAR1)".to_string(),
        ));
    }
    let reader = SerializedFileReader::new(handle)
        .map_err(|e| file_error(file, format!("invalid Parquet file: {e}")))?;
    let meta = reader.metadata();
    let schema = meta.file_metadata().schema_descr();
    let key = pick(schema, &input.key_column, "key", input.key_encoding)
        .map_err(|e| file_error(file, e))?;
    let value = pick(schema, &input.value_column, "value", input.value_encoding)
        .map_err(|e| file_error(file, e))?;
    for (g, group) in meta.row_groups().iter().enumerate() {
        for column in [&key, &value] {
            check_codec(&column.name, group.column(column.leaf).compression())
                .map_err(|e| file_error(file, format!("row group {}: {e}", g + 1)))?;
        }
    }

    let mut rows = Rows {
        file,
        source,
        input,
        row: 0,
        group: 0,
        key: Batch::default(),
        value: Batch::default(),
        bufs: (Vec::new(), Vec::new()),
    };
    let mut counted = 0u64;
    for g in 0..reader.num_row_groups() {
        rows.group = g + 1;
        let group = reader
            .get_row_group(g)
            .map_err(|e| rows.read_error(format!("{e}")))?;
        let mut keys = typed(group.get_column_reader(key.leaf), &rows)?;
        let mut values = typed(group.get_column_reader(value.leaf), &rows)?;
        let mut in_group = 0u64;
        loop {
            let n = rows.key.fill(&mut keys).map_err(|e| rows.read_error(e))?;
            let m = rows
                .value
                .fill(&mut values)
                .map_err(|e| rows.read_error(e))?;
            if n != m {
                return Err(rows.read_error(format!(
                    "columns {:?} and {:?} have different row counts",
                    key.name, value.name
                )));
            }
            if n == 0 {
                break;
            }
            rows.push_batch(n, in_group, &key, &value, feed)?;
            in_group += n as u64;
        }
        let group_bytes = u64::try_from(group.metadata().compressed_size()).unwrap_or(0);
        counted += group_bytes;
        feed.add_bytes(group_bytes);
    }
    // The footer and magic bytes: the file is read whole, so progress reaches the
    // input size the writer announced (the sum of the files' sizes).
    feed.add_bytes(file_len.saturating_sub(counted));
    Ok(())
}

/// The typed reader of a `BYTE_ARRAY` column (its type was checked by [`pick`]).
fn typed(
    reader: parquet::errors::Result<ColumnReader>,
    rows: &Rows,
) -> Result<ColumnReaderImpl<ByteArrayType>> {
    match reader {
        Ok(ColumnReader::ByteArrayColumnReader(r)) => Ok(r),
        Ok(_) => Err(rows.read_error("column is not BYTE_ARRAY".to_string())),
        Err(e) => Err(rows.read_error(format!("{e}"))),
    }
}

/// One batch of one column: definition levels (0 = null; left empty for a required
/// column) and the non-null values, packed.
#[derive(Default)]
struct Batch {
    levels: Vec<i16>,
    values: Vec<ByteArray>,
}

impl Batch {
    /// Reads up to [`BATCH_ROWS`] rows; returns how many.
    fn fill(&mut self, reader: &mut ColumnReaderImpl<ByteArrayType>) -> Result<usize, String> {
        self.levels.clear();
        self.values.clear();
        let (records, _, _) = reader
            .read_records(BATCH_ROWS, Some(&mut self.levels), None, &mut self.values)
            .map_err(|e| e.to_string())?;
        Ok(records)
    }
}

/// Where the reading is, for records and messages.
struct Rows<'a> {
    file: &'a SourceFile,
    source: u32,
    input: &'a InputOptions,
    /// Rows of the file before the current batch.
    row: u64,
    /// The current row group, counting from 1.
    group: usize,
    key: Batch,
    value: Batch,
    bufs: (Vec<u8>, Vec<u8>),
}

impl Rows<'_> {
    fn location(&self, row: u64) -> Location {
        Location::Line {
            source: self.file.name.clone(),
            line: row,
        }
    }

    /// A failure to read or decode the current row group.
    fn read_error(&self, detail: String) -> WriteError {
        WriteError::Read {
            location: self.location(self.row + 1),
            source: io::Error::new(
                io::ErrorKind::InvalidData,
                format!("row group {}: {detail}", self.group),
            ),
        }
    }

    /// Pushes the `n` rows of the current batches; `in_group` rows of the group came
    /// before them.
    fn push_batch(
        &mut self,
        n: usize,
        in_group: u64,
        key: &Picked,
        value: &Picked,
        feed: &mut Feed,
    ) -> Result<()> {
        let Rows {
            file,
            source,
            input,
            row,
            group,
            key: keys,
            value: values,
            bufs,
        } = self;
        let (mut next_key, mut next_value) = (0, 0);
        for i in 0..n {
            let line = *row + 1 + i as u64;
            let place = |detail: String| WriteError::Input {
                location: Location::Line {
                    source: file.name.clone(),
                    line,
                },
                detail: format!(
                    "row group {group}, row {}: {detail}",
                    in_group + 1 + i as u64
                ),
            };
            let k = take(keys, i, &mut next_key)
                .ok_or_else(|| place(format!("null key in column {:?}", key.name)))?;
            let v = take(values, i, &mut next_value)
                .ok_or_else(|| place(format!("null value in column {:?}", value.name)))?;
            let (key_buf, value_buf) = bufs;
            let k = decode(k, key, input.key_encoding, key_buf, "key").map_err(&place)?;
            let v = decode(v, value, input.value_encoding, value_buf, "value").map_err(&place)?;
            feed.push(
                k,
                v,
                Origin {
                    source: *source,
                    line,
                },
            )?;
        }
        *row += n as u64;
        Ok(())
    }
}

/// The `i`-th row's bytes of a batch, `None` when null; `next` walks the packed
/// non-null values.
fn take<'b>(batch: &'b Batch, i: usize, next: &mut usize) -> Option<&'b [u8]> {
    if batch.levels.get(i).is_some_and(|&l| l == 0) {
        return None;
    }
    let value = batch.values.get(*next)?;
    *next += 1;
    Some(value.data())
}

fn decode<'a>(
    bytes: &'a [u8],
    column: &Picked,
    encoding: Encoding,
    buf: &'a mut Vec<u8>,
    what: &str,
) -> Result<&'a [u8], String> {
    match column.kind {
        Kind::Binary => Ok(bytes),
        Kind::Text => encoding
            .decode_into(bytes, buf, what)
            .map_err(|e| format!("column {:?}: {e}", column.name)),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use parquet::basic::{GzipLevel, ZstdLevel};
    use parquet::schema::parser::parse_message_type;

    use super::*;

    fn schema(message: &str) -> SchemaDescriptor {
        SchemaDescriptor::new(Arc::new(parse_message_type(message).unwrap()))
    }

    fn pick_name(s: &SchemaDescriptor, name: &str) -> Result<Picked, String> {
        pick(s, &Column::Name(name.into()), "key", Encoding::Utf8)
    }

    #[test]
    fn only_top_level_byte_array_columns_are_picked() {
        let s = schema(
            "message m { required int32 n; optional group g { optional binary x (STRING); } \
             repeated binary r; required binary s (STRING); required binary j (JSON); \
             optional binary b; required fixed_len_byte_array(16) u; \
             required binary d (DECIMAL(10, 2)); required int32 day (DATE); }",
        );
        let leaf = |name| pick_name(&s, name).map(|p| (p.leaf, p.kind));
        // Leaves: n=0, g.x=1, r=2, s=3, j=4, b=5, u=6, d=7, day=8.
        assert_eq!(leaf("s"), Ok((3, Kind::Text)));
        assert_eq!(leaf("j"), Ok((4, Kind::Text)));
        assert_eq!(leaf("b"), Ok((5, Kind::Binary)));
        let err = |name| pick_name(&s, name).unwrap_err();
        assert!(err("n").starts_with("key column \"n\" has type INT32, expected"));
        assert!(err("n").contains("cast(\"string\")"), "{}", err("n"));
        assert!(err("g").contains("is a group"), "{}", err("g"));
        assert!(err("r").contains("is repeated"), "{}", err("r"));
        assert!(
            err("u").contains("has type FIXED_LEN_BYTE_ARRAY"),
            "{}",
            err("u")
        );
        assert!(!err("u").contains("cast"), "{}", err("u"));
        assert!(
            err("d").contains("has type BYTE_ARRAY (Decimal"),
            "{}",
            err("d")
        );
        assert!(
            err("day").contains("has type INT32 (Date)"),
            "{}",
            err("day")
        );
        assert_eq!(
            err("zz"),
            "no key column \"zz\" (columns: n, g, r, s, j, b, u, d, day)"
        );
        // By index: the top-level field's position, not the leaf's.
        let by_index = pick(&s, &Column::Index(3), "key", Encoding::Utf8).unwrap();
        assert_eq!((by_index.name.as_str(), by_index.leaf), ("s", 3));
        let binary = pick(&s, &Column::Name("b".into()), "value", Encoding::Hex).unwrap_err();
        assert!(binary.contains("--value-encoding is hex"), "{binary}");
    }

    #[test]
    fn only_uncompressed_and_snappy_chunks_are_read() {
        assert_eq!(check_codec("k", Compression::SNAPPY), Ok(()));
        assert_eq!(check_codec("k", Compression::UNCOMPRESSED), Ok(()));
        for codec in [
            Compression::ZSTD(ZstdLevel::default()),
            Compression::GZIP(GzipLevel::default()),
            Compression::LZ4_RAW,
        ] {
            let err = check_codec("value", codec).unwrap_err();
            assert!(
                err.starts_with(&format!("column \"value\" is compressed with {codec}"))
                    && err.contains("snappy"),
                "{err}"
            );
        }
    }
}
