//! The Datasets preview of an object: read from its head (or, for Parquet, its footer), never
//! whole: CSV as a table, JSON pretty, NPY's dtype, shape, order and a summary of its first values,
//! Parquet's schema and row groups, text, else hex.

use super::{ObjectStore, StoreError};
use crate::observe::sanitize;

/// How many bytes of an object's head a preview reads.
pub const HEAD: u64 = 64 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub enum Preview {
    Text {
        lines: Vec<String>,
        truncated: bool,
    },
    Table {
        header: Vec<String>,
        rows: Vec<Vec<String>>,
        truncated: bool,
    },
    Binary {
        hex: Vec<String>,
        size: u64,
    },
}

/// The preview of `bucket/key`: its size asked, then its head read (a Parquet file's footer).
pub async fn preview(
    store: &dyn ObjectStore,
    bucket: &str,
    key: &str,
) -> Result<Preview, StoreError> {
    let meta = store.head(bucket, key).await?;
    if key.to_ascii_lowercase().ends_with(".parquet") {
        return parquet_preview(store, bucket, key, meta.size).await;
    }
    let head = store.get_range(bucket, key, 0..HEAD).await?;
    Ok(make_preview(key, &head, meta.size))
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
    if key.to_ascii_lowercase().ends_with(".csv") {
        let mut rdr = csv::ReaderBuilder::new()
            .flexible(true)
            .has_headers(false)
            .from_reader(body);
        let mut rows: Vec<Vec<String>> = rdr
            .records()
            .take(200)
            .filter_map(Result::ok)
            .map(|r| r.iter().map(|c| sanitize(c).into_owned()).collect())
            .collect();
        if !rows.is_empty() {
            let header = rows.remove(0);
            return Preview::Table {
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

/// The header of an .npy head (dtype, shape, order) and statistics of the values it holds.
pub fn npy_summary(head: &[u8], size: u64) -> Option<Vec<String>> {
    let h = crate::plot::npy::Header::parse(head).ok()?;
    let (major, minor) = (h.version, 0);
    let descr = h.descr();
    let fortran = h.fortran;
    let count = h.count();
    let shape = format!(
        "({})",
        h.shape
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    let data = head.get(h.data_offset as usize..)?;
    let whole = h
        .item_bytes()
        .map_or(0, |n| data.len() / n.max(1) as usize * n as usize);
    let vals = crate::plot::read::decode_values(&descr, &data[..whole]).unwrap_or_default();
    let mut lines = vec![
        format!(
            "NPY v{major}.{minor} · dtype {} · shape {} · {} order",
            sanitize(&descr),
            sanitize(&shape),
            if fortran { "Fortran" } else { "C" }
        ),
        format!("{count} values, {} bytes", size),
    ];
    let finite: Vec<f64> = vals.iter().copied().filter(|v| v.is_finite()).collect();
    if let Some((lo, hi)) = crate::plot::finite_range(&finite) {
        let mean = finite.iter().sum::<f64>() / finite.len() as f64;
        lines.push(format!(
            "first {} values: min {lo:.6} · max {hi:.6} · mean {mean:.6}{}",
            vals.len(),
            if finite.len() < vals.len() {
                format!(" · {} NaN/inf", vals.len() - finite.len())
            } else {
                String::new()
            }
        ));
    } else if vals.is_empty() {
        lines.push(format!(
            "statistics: dtype {} is not summarised",
            sanitize(&descr)
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

/// A Parquet object's schema and row groups from its footer: one ranged read of the tail, and a
/// second only when the footer is larger than that.
async fn parquet_preview(
    store: &dyn ObjectStore,
    bucket: &str,
    key: &str,
    size: u64,
) -> Result<Preview, StoreError> {
    use super::parquet::{footer_len, summary, TAIL};
    let mut tail = store
        .get_range(bucket, key, size.saturating_sub(TAIL)..size)
        .await?;
    if let Ok(n) = footer_len(&tail) {
        if n + 8 > tail.len() as u64 && n + 8 <= size {
            tail = store.get_range(bucket, key, size - n - 8..size).await?;
        }
    }
    let lines = summary(&tail, size).unwrap_or_else(|e| vec![e]);
    Ok(Preview::Text {
        lines,
        truncated: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::local::LocalStore;

    #[tokio::test]
    async fn parquet_preview_reads_only_the_footer() {
        let d = tempfile::tempdir().unwrap();
        let store = LocalStore::new(d.path());
        std::fs::create_dir_all(d.path().join("lake")).unwrap();
        let mut f = vec![0u8; 200_000]; // a big body in front, as if of data pages
        f.extend(crate::storage::parquet::tests::sample().iter().skip(4));
        let size = f.len() as u64;
        store.put("lake", "t.parquet", f).await.unwrap();
        let p = parquet_preview(&store, "lake", "t.parquet", size)
            .await
            .unwrap();
        let Preview::Text { lines, .. } = p else {
            panic!()
        };
        assert!(lines[0].starts_with("Parquet · 6 rows"), "{lines:?}");
    }
}
