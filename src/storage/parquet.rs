//! Parquet previews from the footer alone: the last 8 bytes give the footer's length, one ranged read
//! fetches it, and the metadata it holds (schema, row groups, writer) is summarised. The data pages
//! are never read.

use parquet::file::metadata::ParquetMetaDataReader;

/// Bytes read from the end of a `.parquet` object for a preview: the whole footer of most files.
pub const TAIL: u64 = 64 * 1024;

/// The length of the footer metadata, from the object's last 8 bytes (`len` LE u32, then `PAR1`).
pub fn footer_len(last8: &[u8]) -> Result<u64, String> {
    let tail: &[u8; 8] = last8
        .get(last8.len().saturating_sub(8)..)
        .and_then(|s| s.try_into().ok())
        .ok_or("shorter than a Parquet footer")?;
    parquet::file::metadata::FooterTail::try_from(*tail)
        .map(|t| t.metadata_length() as u64)
        .map_err(|e| format!("not a Parquet file: {e}"))
}

/// A summary of the file whose last bytes are `tail` (which must hold the whole footer).
pub fn summary(tail: &[u8], size: u64) -> Result<Vec<String>, String> {
    let meta_len = footer_len(tail)? as usize;
    if tail.len() < meta_len + 8 {
        return Err(format!(
            "footer of {meta_len} bytes not in the {} bytes read",
            tail.len()
        ));
    }
    let meta = &tail[tail.len() - 8 - meta_len..tail.len() - 8];
    let md = ParquetMetaDataReader::decode_metadata(meta)
        .map_err(|e| format!("unreadable Parquet footer: {e}"))?;
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
    for c in fm.schema_descr().columns() {
        let logical = c
            .logical_type_ref()
            .map(|l| format!(" ({l:?})"))
            .unwrap_or_default();
        out.push(format!(
            "  {:<28} {:?}{}{}",
            clean(&c.path().string()),
            c.physical_type(),
            logical,
            if c.max_def_level() > 0 {
                ""
            } else {
                " required"
            }
        ));
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
    Ok(out)
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
        assert!(text.contains("sensor") && text.contains("INT64") && text.contains("required"));
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
}
