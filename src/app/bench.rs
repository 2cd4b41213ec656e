//! What the TUI's own paths cost, measured by running them (`tandem tool bench-listing`).

use super::msg::Msg;
use super::state::{AppState, View};
use crate::storage::Entry;

/// Feed `n` keys through the Datasets view as 1000-key pages (keys, sizes, times, ETags and storage
/// classes shaped like S3's) and report peak RSS and time: what a listing of `n` keys costs the TUI.
pub fn listing(n: usize) -> serde_json::Value {
    use crate::storage::ObjectMeta;
    let t0 = std::time::Instant::now();
    let mut s = AppState::new(
        Err(crate::project::ProjectError {
            file: "bench".into(),
            pos: None,
            key: None,
            message: String::new(),
        }),
        "local".into(),
        String::new(),
        crate::theme::Theme::embedded("dark"),
        chrono::Utc::now(),
    );
    s.view = View::Datasets;
    s.datasets.bucket = Some("bench".into());
    s.datasets.prefix = "data/2024/".into();
    s.datasets.req = 1;
    s.datasets.loading = true;
    let now = chrono::Utc::now();
    let mut i = 0;
    while i < n {
        let page: Vec<Entry> = (i..(i + 1000).min(n))
            .map(|k| {
                Entry::Object(ObjectMeta {
                    key: format!("data/2024/part-{k:08}.csv"),
                    size: 1000 + k as u64,
                    modified: Some(now),
                    etag: Some(format!("\"{:032x}\"", k as u128 * 0x9e3779b97f4a7c15)),
                    storage_class: Some("STANDARD".into()),
                })
            })
            .collect();
        i += page.len();
        let next = (i < n).then(|| format!("token-{i}"));
        super::update::update(
            &mut s,
            Msg::StorePage {
                req: 1,
                entries: page,
                next,
            },
        );
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let hwm = crate::tools::peak_rss_kib();
    serde_json::json!({
        "keys": s.datasets.rows.len(),
        "seconds": elapsed,
        "peak_rss_mib": hwm / 1024.0,
        "bytes_per_row": hwm * 1024.0 / n.max(1) as f64,
    })
}
