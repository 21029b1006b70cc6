//! Writes Parquet files for tests with the parquet crate's own writer (snappy, as
//! Spark writes them).

use std::path::Path;
use std::sync::Arc;

use parquet::basic::Compression;
use parquet::data_type::{ByteArray, ByteArrayType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;

/// One column chunk's cells (`None` = null).
pub enum Cells {
    /// A `BYTE_ARRAY` column (string or binary).
    Bytes(Vec<Option<Vec<u8>>>),
    /// An `INT64` column.
    Long(Vec<Option<i64>>),
}

/// Text cells, all present.
pub fn strings<S: AsRef<str>>(items: &[S]) -> Cells {
    Cells::Bytes(
        items
            .iter()
            .map(|s| Some(s.as_ref().as_bytes().to_vec()))
            .collect(),
    )
}

/// Writes `groups` (each a row group: one `Cells` per leaf column, in schema order)
/// to `path` under the message type `schema`, snappy-compressed.
pub fn write(path: &Path, schema: &str, groups: &[Vec<Cells>]) {
    let schema = Arc::new(parse_message_type(schema).unwrap());
    let props = Arc::new(
        WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .build(),
    );
    let file = std::fs::File::create(path).unwrap();
    let mut writer = SerializedFileWriter::new(file, schema, props).unwrap();
    for group in groups {
        let mut rg = writer.next_row_group().unwrap();
        for cells in group {
            let mut col = rg.next_column().unwrap().expect("a cell list per column");
            match cells {
                Cells::Bytes(items) => {
                    let w = col.typed::<ByteArrayType>();
                    let values: Vec<ByteArray> = items
                        .iter()
                        .flatten()
                        .map(|v| ByteArray::from(v.clone()))
                        .collect();
                    let levels: Vec<i16> = items.iter().map(|v| i16::from(v.is_some())).collect();
                    let optional = w.get_descriptor().max_def_level() > 0;
                    w.write_batch(&values, optional.then_some(&levels[..]), None)
                        .unwrap();
                }
                Cells::Long(items) => {
                    let w = col.typed::<Int64Type>();
                    let values: Vec<i64> = items.iter().flatten().copied().collect();
                    let levels: Vec<i16> = items.iter().map(|v| i16::from(v.is_some())).collect();
                    let optional = w.get_descriptor().max_def_level() > 0;
                    w.write_batch(&values, optional.then_some(&levels[..]), None)
                        .unwrap();
                }
            }
            col.close().unwrap();
        }
        assert!(
            rg.next_column().unwrap().is_none(),
            "a cell list per column"
        );
        rg.close().unwrap();
    }
    writer.close().unwrap();
}

/// Spark's schema for a DataFrame of `key: string, value: string` (both nullable).
pub const SPARK_KV: &str =
    "message spark_schema { optional binary key (STRING); optional binary value (STRING); }";
