//! The Datasets view: the project's store browsed by bucket and prefix, listed a page at a time
//! (a listing of a million keys is held in memory whole, in small rows), sorted, filtered, an
//! object's head previewed, a listing that stopped continued.

use super::command::Command;
use super::layout::{list_rows, move_sel};
use super::msg::Action;
use super::state::{AppState, Level, View};
use super::status::set_status;
use crate::observe::sanitize;
use crate::storage::preview::Preview;
use crate::storage::{BucketInfo, Entry, StoreError};
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    Bucket,
    Prefix,
    Object,
}

/// One row of the Datasets list, kept small: a listing of a million keys is held in memory whole
/// (about 130 bytes a row), so the key is stored once and the shown name is a view into it.
#[derive(Debug, Clone, PartialEq)]
pub struct DsRow {
    pub kind: RowKind,
    /// Bucket name, or the full key, raw as the store has it.
    pub key: Box<str>,
    /// Where the shown name starts in `key` (after the listed prefix).
    pub name_at: u16,
    pub size: Option<u64>,
    pub modified: Option<DateTime<Utc>>,
    /// S3 storage class (shared between rows) and ETag, when the store reports them.
    pub class: Option<std::sync::Arc<str>>,
    pub etag: Option<ETag>,
}

impl DsRow {
    pub fn new(kind: RowKind, key: String, prefix: &str) -> DsRow {
        let name_at = if key.starts_with(prefix) && prefix.len() <= u16::MAX as usize {
            prefix.len() as u16
        } else {
            0
        };
        DsRow {
            kind,
            key: key.into_boxed_str(),
            name_at,
            size: None,
            modified: None,
            class: None,
            etag: None,
        }
    }
    /// What the list shows: the key after the listed prefix, sanitised.
    pub fn name(&self) -> std::borrow::Cow<'_, str> {
        crate::observe::sanitize(self.key.get(self.name_at as usize..).unwrap_or(&self.key))
    }
}

/// An ETag: the common MD5 form in 16 bytes, anything else (multipart `…-N`, other stores) as text.
#[derive(Debug, Clone, PartialEq)]
pub enum ETag {
    Md5([u8; 16]),
    Other(Box<str>),
}

impl ETag {
    pub fn parse(s: &str) -> ETag {
        let t = s.trim_matches('"');
        let mut b = [0u8; 16];
        if t.len() == 32 {
            let ok = (0..16).all(|i| {
                match u8::from_str_radix(t.get(2 * i..2 * i + 2).unwrap_or("x"), 16) {
                    Ok(v) => {
                        b[i] = v;
                        true
                    }
                    Err(_) => false,
                }
            });
            // only lowercase hex round-trips exactly
            if ok && !t.bytes().any(|c| c.is_ascii_uppercase()) {
                return ETag::Md5(b);
            }
        }
        ETag::Other(crate::observe::sanitize(t).into_owned().into_boxed_str())
    }
}

impl std::fmt::Display for ETag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ETag::Md5(b) => b.iter().try_for_each(|x| write!(f, "{x:02x}")),
            ETag::Other(s) => f.write_str(s),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortBy {
    Name,
    Size,
    Time,
}

#[derive(Debug, Clone)]
pub struct DatasetsState {
    pub bucket: Option<String>,
    pub prefix: String,
    pub rows: Vec<DsRow>,
    pub loading: bool,
    pub req: u64,
    pub selected: usize,
    pub filter: String,
    pub sort: SortBy,
    pub preview: Option<(String, Result<Preview, String>)>,
    /// `<`/`>`: the first column of a table preview shown (wide files scroll by column).
    pub preview_col: usize,
    pub error: Option<String>,
    /// The page a listing stopped before (failed or cancelled); `R` continues from it.
    pub next: Option<String>,
}

impl Default for DatasetsState {
    fn default() -> Self {
        DatasetsState {
            bucket: None,
            prefix: String::new(),
            rows: vec![],
            loading: false,
            req: 0,
            selected: 0,
            filter: String::new(),
            sort: SortBy::Name,
            preview: None,
            preview_col: 0,
            error: None,
            next: None,
        }
    }
}

impl DatasetsState {
    /// Rows that pass the filter, in display order.
    pub fn visible(&self) -> Vec<&DsRow> {
        let f = self.filter.to_lowercase();
        let mut v: Vec<&DsRow> = self
            .rows
            .iter()
            .filter(|r| f.is_empty() || r.name().to_lowercase().contains(&f))
            .collect();
        match self.sort {
            SortBy::Name => {}
            SortBy::Size => v.sort_by_key(|r| std::cmp::Reverse(r.size)),
            SortBy::Time => v.sort_by_key(|r| std::cmp::Reverse(r.modified)),
        }
        v
    }
}

/// Msg::Buckets: the store's buckets, when the view is at the top.
pub fn on_buckets(s: &mut AppState, r: Result<Vec<BucketInfo>, StoreError>) {
    if s.datasets.bucket.is_some() {
        return;
    }
    s.datasets.loading = false;
    match r {
        Ok(bs) => {
            s.datasets.error = None;
            s.datasets.rows = bs
                .into_iter()
                .map(|b| DsRow {
                    modified: b.created,
                    ..DsRow::new(RowKind::Bucket, b.name, "")
                })
                .collect();
        }
        Err(e) => s.datasets.error = Some(sanitize(&e.to_string()).into_owned()),
    }
}

/// Msg::StorePage: one page of the listing on screen (a page of another listing is dropped).
pub fn on_page(
    s: &mut AppState,
    req: u64,
    entries: Vec<Entry>,
    next: Option<String>,
) -> Vec<Command> {
    if req != s.datasets.req {
        return vec![];
    }
    let done = next.is_none();
    s.datasets.next = next;
    let first = s.datasets.rows.is_empty();
    let prefix = s.datasets.prefix.clone();
    // rows share one copy of each storage class
    let mut class: Option<std::sync::Arc<str>> = None;
    s.datasets.rows.reserve(entries.len());
    for e in entries {
        let row = match e {
            Entry::Prefix { prefix: p } => DsRow::new(RowKind::Prefix, p, &prefix),
            Entry::Object(o) => DsRow {
                size: Some(o.size),
                modified: o.modified,
                class: o.storage_class.as_deref().map(|c| match &class {
                    Some(k) if &**k == c => k.clone(),
                    _ => {
                        let k: std::sync::Arc<str> = sanitize(c).into();
                        class = Some(k.clone());
                        k
                    }
                }),
                etag: o.etag.as_deref().map(ETag::parse),
                ..DsRow::new(RowKind::Object, o.key, &prefix)
            },
        };
        s.datasets.rows.push(row);
    }
    s.datasets.loading = !done;
    if first {
        preview_selected(s)
    } else {
        vec![]
    }
}

/// Msg::StoreError: the listing stopped; `R` retries or continues.
pub fn on_error(s: &mut AppState, req: u64, error: StoreError) {
    if req == s.datasets.req {
        s.datasets.loading = false;
        let more = if s.datasets.rows.is_empty() {
            "R retries"
        } else {
            "R continues from here"
        };
        s.datasets.error = Some(format!("{} — {more}", sanitize(&error.to_string())));
    }
}

pub fn on_preview(s: &mut AppState, key: String, result: Result<Preview, StoreError>) {
    s.datasets.preview_col = 0;
    s.datasets.preview = Some((key, result.map_err(|e| e.to_string())));
}

/// `<`/`>` (Shift+←/→): a table preview scrolled by a column.
pub fn scroll_columns(s: &mut AppState, back: bool) -> Vec<Command> {
    let n = match &s.datasets.preview {
        Some((_, Ok(Preview::Table { header, rows, .. }))) => rows
            .iter()
            .map(Vec::len)
            .chain([header.len()])
            .max()
            .unwrap_or(0),
        _ => return vec![],
    };
    let c = &mut s.datasets.preview_col;
    *c = if back {
        c.saturating_sub(1)
    } else {
        (*c + 1).min(n.saturating_sub(1))
    };
    vec![]
}

/// The view comes on screen: the project's storage root, listed, the first time.
pub fn shown(s: &mut AppState) -> Vec<Command> {
    if !s.datasets.rows.is_empty() || s.datasets.loading {
        return vec![];
    }
    if let Ok(p) = &s.project {
        if s.datasets.bucket.is_none() && s.datasets.error.is_none() {
            s.datasets.bucket = Some(p.storage.bucket.clone());
            s.datasets.prefix = if p.storage.prefix.is_empty() {
                String::new()
            } else {
                format!("{}/", p.storage.prefix)
            };
        }
    }
    list_datasets(s)
}

/// ↑↓ PgUp PgDn g G: move, and preview what the selection lands on.
pub fn nav(s: &mut AppState, a: &Action) -> Vec<Command> {
    let len = s.datasets.visible().len();
    let page = list_rows(s);
    move_sel(&mut s.datasets.selected, len, a, page);
    preview_selected(s)
}

/// Enter: into a bucket or prefix, or preview an object.
pub fn enter(s: &mut AppState) -> Vec<Command> {
    let vis = s.datasets.visible();
    let Some(row) = vis.get(s.datasets.selected).map(|r| (*r).clone()) else {
        return vec![];
    };
    match row.kind {
        RowKind::Bucket => {
            s.datasets.bucket = Some(row.key.into());
            s.datasets.prefix.clear();
        }
        RowKind::Prefix => s.datasets.prefix = row.key.into(),
        RowKind::Object => return preview_selected(s),
    }
    s.datasets.filter.clear();
    list_datasets(s)
}

/// Esc / ←: stop a listing in flight, else up one level (prefix, then the bucket list). `None`
/// when already at the top (the view history goes back instead).
pub fn back(s: &mut AppState) -> Option<Vec<Command>> {
    if s.datasets.loading {
        s.datasets.loading = false;
        s.datasets.req += 1;
        set_status(s, Level::Info, "listing cancelled — R continues it".into());
        return Some(vec![Command::CancelList]);
    }
    s.datasets.bucket.as_ref()?;
    let p = s.datasets.prefix.trim_end_matches('/');
    if p.is_empty() {
        s.datasets.bucket = None;
    } else {
        s.datasets.prefix = match p.rfind('/') {
            Some(i) => p[..=i].to_string(),
            None => String::new(),
        };
    }
    s.datasets.filter.clear();
    Some(list_datasets(s))
}

/// `o`: sort by name, size, time.
pub fn sort_next(s: &mut AppState) {
    s.datasets.sort = match s.datasets.sort {
        SortBy::Name => SortBy::Size,
        SortBy::Size => SortBy::Time,
        SortBy::Time => SortBy::Name,
    };
    s.datasets.selected = 0;
}

/// `/` typed: filter the rows shown.
pub fn set_filter(s: &mut AppState, text: String) {
    s.datasets.filter = text;
    s.datasets.selected = 0;
}

/// After a prompt: preview what is selected now, when this view is on screen.
pub fn after_prompt(s: &mut AppState) -> Vec<Command> {
    if s.view == View::Datasets {
        preview_selected(s)
    } else {
        vec![]
    }
}

pub fn preview_selected(s: &mut AppState) -> Vec<Command> {
    let Some(bucket) = s.datasets.bucket.clone() else {
        return vec![];
    };
    let vis = s.datasets.visible();
    match vis.get(s.datasets.selected) {
        Some(r) if r.kind == RowKind::Object => {
            let key = r.key.clone();
            if s.datasets
                .preview
                .as_ref()
                .is_some_and(|(k, _)| **k == *key)
            {
                return vec![];
            }
            vec![Command::Preview {
                bucket,
                key: key.into(),
            }]
        }
        _ => {
            s.datasets.preview = None;
            vec![]
        }
    }
}

/// List the current location of the Datasets view from the start.
pub fn list_datasets(s: &mut AppState) -> Vec<Command> {
    s.datasets.req += 1;
    s.datasets.rows.clear();
    s.datasets.selected = 0;
    s.datasets.preview = None;
    s.datasets.error = None;
    s.datasets.loading = true;
    s.datasets.next = None;
    match s.datasets.bucket.clone() {
        None => vec![Command::CancelList, Command::ListBuckets],
        Some(b) => vec![
            Command::CancelList,
            Command::List {
                req: s.datasets.req,
                bucket: b,
                prefix: s.datasets.prefix.clone(),
                token: None,
            },
        ],
    }
}

/// `R` in Datasets: a listing that stopped part-way (an error, or Esc) continues from the page it
/// stopped before, keeping the rows it has; a complete one is listed again.
pub fn relist_datasets(s: &mut AppState) -> Vec<Command> {
    match (s.datasets.bucket.clone(), s.datasets.next.clone()) {
        (Some(bucket), Some(token)) if !s.datasets.loading && !s.datasets.rows.is_empty() => {
            s.datasets.req += 1;
            s.datasets.error = None;
            s.datasets.loading = true;
            vec![Command::List {
                req: s.datasets.req,
                bucket,
                prefix: s.datasets.prefix.clone(),
                token: Some(token),
            }]
        }
        _ => list_datasets(s),
    }
}
