//! The Datasets preview of an object: read from its head (or, for Parquet, its footer), never
//! whole: CSV as a table, JSON pretty, NPY's dtype, shape, order and a summary of its first values,
//! Parquet's schema and row groups, text, else hex.

use super::{ObjectStore, StoreError};
use crate::observe::sanitize;

/// How many bytes of an object's head a preview reads.
pub const HEAD: u64 = 64 * 1024;

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Preview {
    Text {
        lines: Vec<String>,
        truncated: bool,
    },
    /// A CSV's first rows, or a Parquet file's schema and first rows: what the table is (`about`,
    /// lines shown above it), its header and rows.
    Table {
        about: Vec<String>,
        header: Vec<String>,
        rows: Vec<Vec<String>>,
        truncated: bool,
    },
    Binary {
        hex: Vec<String>,
        size: u64,
    },
}

/// How many rows a preview shows unless asked for another number.
pub const ROWS: usize = 200;

/// The preview of `bucket/key`: its size asked, then its head read (a Parquet file's footer and
/// the first `rows` rows of its first row group).
pub async fn preview(
    store: &dyn ObjectStore,
    bucket: &str,
    key: &str,
    rows: usize,
) -> Result<Preview, StoreError> {
    let meta = store.head(bucket, key).await?;
    if key.to_ascii_lowercase().ends_with(".parquet") {
        return parquet_preview(store, bucket, key, meta.size, rows).await;
    }
    let head = store.get_range(bucket, key, 0..HEAD).await?;
    let mut p = make_preview(key, &head, meta.size);
    if let Preview::Table {
        rows: r, truncated, ..
    } = &mut p
    {
        *truncated |= r.len() > rows;
        r.truncate(rows);
    }
    Ok(p)
}

/// What a Preview looks like for an object head: CSV as a table, text as lines, else hex.
pub fn make_preview(key: &str, head: &[u8], size: u64) -> Preview {
    let truncated = (head.len() as u64) < size;
    let lower = key.to_ascii_lowercase();
    if lower.ends_with(".npy") {
        if let Some(lines) = npy_summary(head, size) {
            return Preview::Text {
                lines,
                truncated: false,
            };
        }
    }
    if lower.ends_with(".json") && !truncated {
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(head) {
            let pretty = serde_json::to_string_pretty(&v).unwrap_or_default();
            let lines = pretty
                .lines()
                .take(500)
                .map(|l| sanitize(l).into_owned())
                .collect();
            return Preview::Text {
                lines,
                truncated: false,
            };
        }
    }
    let printable = head
        .iter()
        .filter(|b| b.is_ascii_graphic() || b.is_ascii_whitespace() || **b >= 0x80)
        .count();
    let text_like = head.is_empty() || printable * 100 / head.len().max(1) >= 95;
    if !text_like {
        let hex = head
            .chunks(16)
            .take(64)
            .enumerate()
            .map(|(i, c)| {
                let hx: Vec<String> = c.iter().map(|b| format!("{b:02x}")).collect();
                let asc: String = c
                    .iter()
                    .map(|b| {
                        if b.is_ascii_graphic() {
                            *b as char
                        } else {
                            '.'
                        }
                    })
                    .collect();
                format!("{:08x}  {:<47}  {asc}", i * 16, hx.join(" "))
            })
            .collect();
        return Preview::Binary { hex, size };
    }
    // drop a cut last line
    let body = if truncated {
        head.rsplit_once_byte(b'\n').unwrap_or(head)
    } else {
        head
    };
    if [".csv", ".tsv", ".psv"].iter().any(|x| lower.ends_with(x)) {
        let dialect = super::csv::Dialect::sniff(body);
        let mut rdr = dialect.reader(body);
        let mut rows: Vec<Vec<String>> = rdr
            .byte_records()
            .take(ROWS + 1)
            .map_while(Result::ok)
            .map(|r| {
                super::csv::cells(&r)
                    .map(|c| sanitize(&c).into_owned())
                    .collect()
            })
            .collect();
        if !rows.is_empty() {
            let header = rows.remove(0);
            let about = vec![format!(
                "CSV · {}-separated · {} columns{}",
                dialect.name(),
                header.len(),
                if body.starts_with(b"\xef\xbb\xbf") {
                    " · UTF-8 with a byte order mark"
                } else {
                    ""
                }
            )];
            return Preview::Table {
                about,
                header,
                rows,
                truncated,
            };
        }
    }
    let lines = body
        .split(|b| *b == b'\n')
        .take(500)
        .map(|l| crate::observe::sanitize_bytes(l.strip_suffix(b"\r").unwrap_or(l)))
        .collect();
    Preview::Text { lines, truncated }
}

/// The header of an .npy head (dtype, shape, order) and statistics of the values it holds: of
/// each numeric field of a structured array, a complex array's magnitudes; an array of Python
/// objects is said to be one (and never unpickled).
pub fn npy_summary(head: &[u8], size: u64) -> Option<Vec<String>> {
    use crate::plot::npy::{decode, Header, NpyError};
    let h = match Header::parse(head) {
        Ok(h) => h,
        Err(e @ NpyError::Objects) => return Some(vec![format!("NPY · {e}")]),
        Err(_) => return None,
    };
    let descr = h.descr();
    let shape = format!(
        "({})",
        h.shape
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut lines = vec![
        format!(
            "NPY v{}.0 · dtype {} · shape {} · {} order",
            h.version,
            sanitize(&descr),
            sanitize(&shape),
            if h.fortran { "Fortran" } else { "C" }
        ),
        format!("{} values, {} bytes", h.count(), size),
    ];
    let layout = match h.layout(&Default::default(), true) {
        Ok(l) => l,
        Err(e) => {
            lines.push(sanitize(&e.to_string()).into_owned());
            return Some(lines);
        }
    };
    let data = head.get(h.data_offset as usize..)?;
    let whole = data.len() / layout.item.max(1) * layout.item;
    let (data, n) = (&data[..whole], (whole / layout.item.max(1)) as u64);
    if h.shape.is_empty() && n == 1 {
        let mut v = Vec::new();
        decode(&layout.elems[0].1, layout.item, data, 1, &mut v);
        lines.push(format!("one value (0-D): {}", v[0]));
        return Some(lines);
    }
    for (name, e) in layout.elems.iter().take(8) {
        let mut vals = Vec::new();
        decode(e, layout.item, data, 1, &mut vals);
        let what = if layout.elems.len() > 1 {
            format!("field {} · ", sanitize(name))
        } else if e.kind.is_complex() {
            "magnitudes · ".to_string()
        } else {
            String::new()
        };
        let finite: Vec<f64> = vals.iter().copied().filter(|v| v.is_finite()).collect();
        if let Some((lo, hi)) = crate::plot::finite_range(&finite) {
            let mean = finite.iter().sum::<f64>() / finite.len() as f64;
            lines.push(format!(
                "{what}first {} values: min {lo:.6} · max {hi:.6} · mean {mean:.6}{}",
                vals.len(),
                if finite.len() < vals.len() {
                    format!(" · {} NaN/inf", vals.len() - finite.len())
                } else {
                    String::new()
                }
            ));
        }
    }
    if h.count() > n {
        lines.push(format!(
            "(statistics of the first {n} values, in the head read)"
        ));
    }
    Some(lines)
}

trait RsplitOnce {
    fn rsplit_once_byte(&self, b: u8) -> Option<&[u8]>;
}

impl RsplitOnce for [u8] {
    fn rsplit_once_byte(&self, b: u8) -> Option<&[u8]> {
        memchr::memrchr(b, self).map(|i| &self[..i])
    }
}

/// A Parquet object's schema and row groups from its footer (one ranged read of the tail, a
/// second only when the footer is larger than that), then its first rows from ranged reads of the
/// column chunks they need (all at once; at most [`ROWS_BUDGET`](super::parquet::ROWS_BUDGET)
/// bytes): what was fetched is said.
async fn parquet_preview(
    store: &dyn ObjectStore,
    bucket: &str,
    key: &str,
    size: u64,
    n: usize,
) -> Result<Preview, StoreError> {
    use super::parquet::{
        describe, first_rows, footer_len, metadata, plan_rows, ROWS_BUDGET, TAIL,
    };
    let mut tail = store
        .get_range(bucket, key, size.saturating_sub(TAIL)..size)
        .await?;
    let mut fetched = tail.len() as u64;
    if let Ok(len) = footer_len(&tail) {
        if len + 8 > tail.len() as u64 && len + 8 <= size {
            tail = store.get_range(bucket, key, size - len - 8..size).await?;
            fetched += tail.len() as u64;
        }
    }
    let md = match metadata(&tail) {
        Ok(md) => md,
        Err(e) => {
            return Ok(Preview::Text {
                lines: vec![e],
                truncated: false,
            })
        }
    };
    let mut about = describe(&md, size);
    let Some(plan) = plan_rows(&md, ROWS_BUDGET).filter(|_| n > 0) else {
        return Ok(Preview::Text {
            lines: about,
            truncated: false,
        });
    };
    // what the tail read holds already is not read again
    let tail_at = size - tail.len() as u64;
    let gets = plan
        .ranges
        .iter()
        .filter(|r| r.start < tail_at)
        .map(|r| async move {
            store
                .get_range(bucket, key, r.clone())
                .await
                .map(|b| (r.start, bytes::Bytes::from(b)))
        });
    let mut parts: Vec<(u64, bytes::Bytes)> = futures::future::try_join_all(gets).await?;
    fetched += parts.iter().map(|p| p.1.len() as u64).sum::<u64>();
    parts.push((tail_at, bytes::Bytes::from(tail)));
    about.push(String::new());
    about.push(format!(
        "first rows of row group #0 · {} fetched of {} (footer and {} column chunks)",
        crate::fmt::bytes(fetched),
        crate::fmt::bytes(size),
        plan.ranges.len()
    ));
    for (name, bytes) in &plan.left_out {
        about.push(format!(
            "  column {} left out: its chunk is {}, more than the {} a preview reads",
            sanitize(name),
            crate::fmt::bytes(*bytes),
            crate::fmt::bytes(ROWS_BUDGET)
        ));
    }
    match first_rows(&md, &plan, size, parts, n) {
        Ok((header, rows)) => Ok(Preview::Table {
            about,
            header,
            rows,
            truncated: md.file_metadata().num_rows() as usize > n,
        }),
        Err(e) => {
            about.push(sanitize(&e).into_owned());
            Ok(Preview::Text {
                lines: about,
                truncated: false,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::local::LocalStore;

    #[tokio::test]
    async fn parquet_preview_reads_the_footer_and_the_first_rows() {
        let d = tempfile::tempdir().unwrap();
        let store = LocalStore::new(d.path());
        std::fs::create_dir_all(d.path().join("lake")).unwrap();
        let f = crate::storage::parquet::tests::sample();
        let size = f.len() as u64;
        store.put("lake", "t.parquet", f).await.unwrap();
        let p = parquet_preview(&store, "lake", "t.parquet", size, 2)
            .await
            .unwrap();
        let Preview::Table {
            about,
            header,
            rows,
            truncated,
        } = p
        else {
            panic!("{p:?}")
        };
        assert!(about[0].starts_with("Parquet · 6 rows"), "{about:?}");
        assert!(about.iter().any(|l| l.contains("fetched")), "{about:?}");
        assert_eq!(header, ["sensor", "temperature"]);
        assert_eq!(rows.len(), 2);
        assert!(truncated);
    }

    #[test]
    fn a_semicolon_csv_is_a_table_and_a_wide_one_keeps_its_rows() {
        let wide: String = (0..300).map(|i| format!("column_{i};")).collect();
        let text = format!("{wide}\n{}\n", "1;".repeat(300));
        let Preview::Table {
            about,
            header,
            rows,
            ..
        } = make_preview("w.csv", text.as_bytes(), text.len() as u64)
        else {
            panic!()
        };
        assert!(about[0].contains("semicolon-separated"), "{about:?}");
        assert_eq!(header.len(), 301);
        assert_eq!(rows[0][0], "1");
    }
}
