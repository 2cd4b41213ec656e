//! Parquet previews: the last 8 bytes give the footer's length, one ranged read fetches it, and
//! the metadata it holds (schema with its logical types, row groups, writer) is summarised; then
//! the first rows of the first row group, from ranged reads of just the column chunks they need
//! (at most [`ROWS_BUDGET`] bytes; a column whose chunk is larger is left out and said to be).

use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};
use parquet::schema::types::Type;
use std::sync::Arc;

/// Bytes read from the end of a `.parquet` object for a preview: the whole footer of most files.
pub const TAIL: u64 = 64 * 1024;

/// The most bytes of column chunks read for a preview's rows.
pub const ROWS_BUDGET: u64 = 8 << 20;

/// What an encrypted-footer file ends with instead of `PAR1`.
const ENCRYPTED: &[u8; 4] = b"PARE";

/// The length of the footer metadata, from the object's last 8 bytes (`len` LE u32, then `PAR1`).
pub fn footer_len(last8: &[u8]) -> Result<u64, String> {
    let tail: &[u8; 8] = last8
        .get(last8.len().saturating_sub(8)..)
        .and_then(|s| s.try_into().ok())
        .ok_or("shorter than a Parquet footer")?;
    if &tail[4..] == ENCRYPTED {
        return Err(
            "an encrypted Parquet file (its footer is encrypted): the schema and rows need its key"
                .into(),
        );
    }
    parquet::file::metadata::FooterTail::try_from(*tail)
        .map(|t| t.metadata_length() as u64)
        .map_err(|e| format!("not a Parquet file: {e}"))
}

/// The metadata of the file whose last bytes are `tail` (which must hold the whole footer).
pub fn metadata(tail: &[u8]) -> Result<ParquetMetaData, String> {
    let meta_len = footer_len(tail)? as usize;
    if tail.len() < meta_len + 8 {
        return Err(format!(
            "footer of {meta_len} bytes not in the {} bytes read",
            tail.len()
        ));
    }
    let meta = &tail[tail.len() - 8 - meta_len..tail.len() - 8];
    ParquetMetaDataReader::decode_metadata(meta)
        .map_err(|e| format!("unreadable Parquet footer: {e}"))
}

/// A summary of the file whose last bytes are `tail` (which must hold the whole footer).
pub fn summary(tail: &[u8], size: u64) -> Result<Vec<String>, String> {
    Ok(describe(&metadata(tail)?, size))
}

/// A file's metadata summarised: its size, writer, schema (nested, with logical types) and row
/// groups.
pub fn describe(md: &ParquetMetaData, size: u64) -> Vec<String> {
    let fm = md.file_metadata();
    let clean = |s: &str| crate::observe::sanitize(s).into_owned();
    let mut out = vec![
        format!(
            "Parquet · {} rows · {} row groups · {} columns · {} bytes",
            fm.num_rows(),
            md.num_row_groups(),
            fm.schema_descr().num_columns(),
            size
        ),
        format!(
            "written by {}",
            clean(fm.created_by().unwrap_or("(unknown writer)"))
        ),
        String::new(),
        "schema".into(),
    ];
    for f in fm.schema().get_fields() {
        schema_lines(f, 1, &mut out);
    }
    out.push(String::new());
    out.push("row groups".into());
    for (i, rg) in md.row_groups().iter().enumerate().take(200) {
        let codecs: std::collections::BTreeSet<String> = rg
            .columns()
            .iter()
            .map(|c| format!("{:?}", c.compression()))
            .collect();
        out.push(format!(
            "  #{i:<4} {:>10} rows  {:>10} bytes  {:>10} compressed  {}",
            rg.num_rows(),
            rg.total_byte_size(),
            rg.compressed_size(),
            codecs.into_iter().collect::<Vec<_>>().join(",")
        ));
    }
    if md.num_row_groups() > 200 {
        out.push(format!("  … {} more", md.num_row_groups() - 200));
    }
    out
}

/// One schema field as a line (and its children below it): its name, its type as a person reads
/// it (STRING, TIMESTAMP(us, UTC), DECIMAL(9,2), LIST, MAP, STRUCT; else the physical type) and
/// whether it may be null or repeats.
fn schema_lines(t: &Type, depth: usize, out: &mut Vec<String>) {
    let info = t.get_basic_info();
    let rep = match info.repetition() {
        parquet::basic::Repetition::REQUIRED => " required",
        parquet::basic::Repetition::REPEATED => " repeated",
        _ => "",
    };
    let indent = "  ".repeat(depth);
    let name = crate::observe::sanitize(t.name()).into_owned();
    let width = 28usize.saturating_sub(indent.len() - 2);
    out.push(format!("{indent}{name:<width$} {}{rep}", type_name(t)));
    if t.is_group() {
        for f in t.get_fields() {
            schema_lines(f, depth + 1, out);
        }
    }
}

/// A schema type as a person reads it.
pub fn type_name(t: &Type) -> String {
    use parquet::basic::{ConvertedType as C, LogicalType as L, TimeUnit};
    let info = t.get_basic_info();
    let unit = |u: &TimeUnit| match u {
        TimeUnit::MILLIS => "ms",
        TimeUnit::MICROS => "us",
        TimeUnit::NANOS => "ns",
    };
    if let Some(l) = info.logical_type_ref() {
        return match l {
            L::String => "STRING".into(),
            L::Enum => "ENUM".into(),
            L::Json => "JSON".into(),
            L::Bson => "BSON".into(),
            L::Uuid => "UUID".into(),
            L::Date => "DATE".into(),
            L::Float16 => "FLOAT16".into(),
            L::Decimal { scale, precision } => format!("DECIMAL({precision},{scale})"),
            L::Time {
                is_adjusted_to_u_t_c,
                unit: u,
            } => format!(
                "TIME({}{})",
                unit(u),
                if *is_adjusted_to_u_t_c { ", UTC" } else { "" }
            ),
            L::Timestamp {
                is_adjusted_to_u_t_c,
                unit: u,
            } => format!(
                "TIMESTAMP({}{})",
                unit(u),
                if *is_adjusted_to_u_t_c { ", UTC" } else { "" }
            ),
            L::Integer {
                bit_width,
                is_signed,
            } => format!("{}INT{bit_width}", if *is_signed { "" } else { "U" }),
            L::List => "LIST".into(),
            L::Map => "MAP".into(),
            L::Unknown => "NULL".into(),
            other => format!("{other:?}").to_uppercase(),
        };
    }
    match info.converted_type() {
        C::UTF8 => return "STRING".into(),
        C::LIST => return "LIST".into(),
        C::MAP | C::MAP_KEY_VALUE => return "MAP".into(),
        C::DECIMAL => {
            if let Type::PrimitiveType {
                scale, precision, ..
            } = t
            {
                return format!("DECIMAL({precision},{scale})");
            }
        }
        C::DATE => return "DATE".into(),
        C::TIMESTAMP_MILLIS => return "TIMESTAMP(ms)".into(),
        C::TIMESTAMP_MICROS => return "TIMESTAMP(us)".into(),
        _ => {}
    }
    match t {
        Type::GroupType { .. } => "STRUCT".into(),
        Type::PrimitiveType { physical_type, .. } => match physical_type {
            parquet::basic::Type::INT96 => "INT96 (a legacy timestamp)".into(),
            parquet::basic::Type::BYTE_ARRAY => "BINARY".into(),
            p => format!("{p:?}"),
        },
    }
}

/// The first rows of a file: which column chunks of its first row group to read (the top-level
/// columns whose chunks fit in `budget` bytes together, in schema order), then those rows from
/// their bytes.
pub struct RowsPlan {
    /// Top-level fields read, by index into the schema root's fields.
    pub fields: Vec<usize>,
    /// Byte ranges of the file to read.
    pub ranges: Vec<std::ops::Range<u64>>,
    /// Top-level fields left out: a chunk larger than what was left of the budget.
    pub left_out: Vec<(String, u64)>,
}

/// Which column chunks of the first row group the first rows need, within `budget` bytes.
pub fn plan_rows(md: &ParquetMetaData, budget: u64) -> Option<RowsPlan> {
    let rg = md.row_groups().first()?;
    let schema = md.file_metadata().schema_descr();
    let roots = schema.root_schema().get_fields();
    let mut per_root: Vec<Vec<std::ops::Range<u64>>> = vec![Vec::new(); roots.len()];
    for (i, c) in rg.columns().iter().enumerate() {
        let root = schema.get_column_root_idx(i);
        let (start, len) = c.byte_range();
        per_root[root].push(start..start + len);
    }
    let mut plan = RowsPlan {
        fields: Vec::new(),
        ranges: Vec::new(),
        left_out: Vec::new(),
    };
    let mut used = 0u64;
    for (i, ranges) in per_root.into_iter().enumerate() {
        let n: u64 = ranges.iter().map(|r| r.end - r.start).sum();
        if used + n > budget {
            plan.left_out.push((roots[i].name().to_string(), n));
            continue;
        }
        used += n;
        plan.fields.push(i);
        plan.ranges.extend(ranges);
    }
    Some(plan)
}

/// The parts of a file that were read, as the Parquet reader reads files: a read outside them
/// is an error (the plan read all the reader needs).
struct Parts {
    size: u64,
    parts: Vec<(u64, bytes::Bytes)>,
}

impl parquet::file::reader::Length for Parts {
    fn len(&self) -> u64 {
        self.size
    }
}

impl parquet::file::reader::ChunkReader for Parts {
    type T = bytes::buf::Reader<bytes::Bytes>;
    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        use bytes::Buf;
        let (at, b) = self.part(start, 0)?;
        Ok(b.slice((start - at) as usize..).reader())
    }
    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<bytes::Bytes> {
        let (at, b) = self.part(start, length)?;
        let off = (start - at) as usize;
        Ok(b.slice(off..off + length))
    }
}

impl Parts {
    fn part(&self, start: u64, length: usize) -> parquet::errors::Result<(u64, &bytes::Bytes)> {
        self.parts
            .iter()
            // a read from `start` on needs at least its first byte in the part
            .find(|(at, b)| start >= *at && start + length.max(1) as u64 <= at + b.len() as u64)
            .map(|(at, b)| (*at, b))
            .ok_or_else(|| {
                parquet::errors::ParquetError::General(format!(
                    "bytes {start}..{} were not read",
                    start + length as u64
                ))
            })
    }
}

/// The first `n` rows of the first row group, from the bytes read for `plan` (`parts`: each
/// range's offset and bytes): a header of the columns read and their cells as text (a string
/// without its quotes, a nested value as Parquet writes it).
pub fn first_rows(
    md: &ParquetMetaData,
    plan: &RowsPlan,
    size: u64,
    parts: Vec<(u64, bytes::Bytes)>,
    n: usize,
) -> Result<(Vec<String>, Vec<Vec<String>>), String> {
    use parquet::file::reader::RowGroupReader;
    use parquet::file::serialized_reader::SerializedRowGroupReader;
    let Some(rg) = md.row_groups().first() else {
        return Ok((Vec::new(), Vec::new()));
    };
    let roots = md.file_metadata().schema_descr().root_schema().get_fields();
    let header: Vec<String> = plan
        .fields
        .iter()
        .map(|i| crate::observe::sanitize(roots[*i].name()).into_owned())
        .collect();
    if plan.fields.is_empty() {
        return Ok((header, Vec::new()));
    }
    let root = md.file_metadata().schema_descr().root_schema();
    let projection = Type::group_type_builder(root.name())
        .with_fields(plan.fields.iter().map(|i| roots[*i].clone()).collect())
        .build()
        .map_err(|e| e.to_string())?;
    let reader = SerializedRowGroupReader::new(
        Arc::new(Parts { size, parts }),
        rg,
        None,
        Arc::new(parquet::file::properties::ReaderProperties::builder().build()),
    )
    .map_err(|e| format!("reading the first row group: {e}"))?;
    let rows = reader
        .get_row_iter(Some(projection))
        .map_err(|e| format!("reading the first row group: {e}"))?;
    let mut out = Vec::new();
    for row in rows.take(n) {
        let row = row.map_err(|e| format!("reading the first row group: {e}"))?;
        out.push(
            row.get_column_iter()
                .map(|(_, f)| crate::observe::sanitize(&cell(f)).into_owned())
                .collect(),
        );
    }
    Ok((header, out))
}

/// A cell as text: a string as it is, bytes as their length and first bytes, a float as the
/// shortest text that reads back the same (`-3.0`, `0.25`; Parquet's record API writes `-3E0`),
/// nested values as `[a, b]`, `{field: v}` and `{key -> v}` with their strings quoted, the rest as
/// Parquet's record API writes it (dates, timestamps with their offset, decimals).
fn cell(f: &parquet::record::Field) -> String {
    use parquet::record::Field as F;
    match f {
        F::Str(s) => s.clone(),
        F::Bytes(b) => {
            let d = b.data();
            let hex: String = d.iter().take(8).map(|x| format!("{x:02x}")).collect();
            format!(
                "{} bytes {hex}{}",
                d.len(),
                if d.len() > 8 { "…" } else { "" }
            )
        }
        other => nested(other),
    }
}

/// A value inside a cell (see [`cell`]): strings quoted.
fn nested(f: &parquet::record::Field) -> String {
    use parquet::record::Field as F;
    let join = |parts: Vec<String>| parts.join(", ");
    match f {
        F::Float(x) => format!("{x:?}"),
        F::Double(x) => format!("{x:?}"),
        F::Group(row) => format!(
            "{{{}}}",
            join(
                row.get_column_iter()
                    .map(|(k, v)| format!("{k}: {}", nested(v)))
                    .collect()
            )
        ),
        F::ListInternal(list) => {
            format!("[{}]", join(list.elements().iter().map(nested).collect()))
        }
        F::MapInternal(map) => format!(
            "{{{}}}",
            join(
                map.entries()
                    .iter()
                    .map(|(k, v)| format!("{} -> {}", nested(k), nested(v)))
                    .collect()
            )
        ),
        F::Bytes(_) => cell(f),
        other => other.to_string(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use parquet::data_type::{DoubleType, Int64Type};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::parser::parse_message_type;
    use std::sync::Arc;

    /// A Parquet file written with the crate's own writer: two row groups of two columns.
    pub fn sample() -> Vec<u8> {
        let schema = Arc::new(
            parse_message_type("message m { required int64 sensor; optional double temperature; }")
                .unwrap(),
        );
        let mut buf = Vec::new();
        let mut w = SerializedFileWriter::new(
            &mut buf,
            schema,
            Arc::new(WriterProperties::builder().build()),
        )
        .unwrap();
        for g in 0..2i64 {
            let mut rg = w.next_row_group().unwrap();
            let mut c = rg.next_column().unwrap().unwrap();
            c.typed::<Int64Type>()
                .write_batch(&[g * 10, g * 10 + 1, g * 10 + 2], None, None)
                .unwrap();
            c.close().unwrap();
            let mut c = rg.next_column().unwrap().unwrap();
            c.typed::<DoubleType>()
                .write_batch(&[20.5, 21.0], Some(&[1, 0, 1]), None)
                .unwrap();
            c.close().unwrap();
            rg.close().unwrap();
        }
        w.close().unwrap();
        buf
    }

    #[test]
    fn summary_from_the_footer() {
        let f = sample();
        let lines = summary(&f[f.len().saturating_sub(TAIL as usize)..], f.len() as u64).unwrap();
        let text = lines.join("\n");
        assert!(
            text.starts_with("Parquet · 6 rows · 2 row groups · 2 columns"),
            "{text}"
        );
        assert!(
            text.contains("sensor") && text.contains("INT64 required"),
            "{text}"
        );
        assert!(text.contains("temperature") && text.contains("DOUBLE"));
        assert!(text.contains("#1 ") && text.contains("3 rows"), "{text}");
        // only the tail: the 8 last bytes say how much more to read
        assert!(footer_len(&f[f.len() - 8..]).unwrap() < 2000);
        // not parquet, truncated
        assert!(summary(b"hello world, plain text", 23)
            .unwrap_err()
            .contains("not a Parquet"));
        assert!(summary(&f[f.len() - 20..], f.len() as u64)
            .unwrap_err()
            .contains("not in the"));
    }

    #[test]
    fn first_rows_from_just_their_column_chunks() {
        let f = sample();
        let md = metadata(&f).unwrap();
        let plan = plan_rows(&md, ROWS_BUDGET).unwrap();
        assert_eq!(plan.fields, [0, 1]);
        let parts = plan
            .ranges
            .iter()
            .map(|r| {
                (
                    r.start,
                    bytes::Bytes::copy_from_slice(&f[r.start as usize..r.end as usize]),
                )
            })
            .collect();
        let (header, rows) = first_rows(&md, &plan, f.len() as u64, parts, 2).unwrap();
        assert_eq!(header, ["sensor", "temperature"]);
        assert_eq!(rows, [["0", "20.5"], ["1", "null"]]);
        // a budget smaller than a chunk: that column left out, and said to be
        let small = plan_rows(&md, 60).unwrap();
        assert!(small.fields.len() < 2, "{:?}", small.left_out);
        assert!(!small.left_out.is_empty());
        // an encrypted footer is named as such
        let mut enc = f.clone();
        let n = enc.len();
        enc[n - 4..].copy_from_slice(b"PARE");
        assert!(summary(&enc, n as u64).unwrap_err().contains("encrypted"));
    }
}
