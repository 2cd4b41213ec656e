//! Reading a run's plots, for the TUI's Plots view and `tandem plot` alike: where a phase's output
//! is (on this machine, or in the project's S3 store when it is not), its snapshot files, one file
//! read (a .npy by ranges, straight to what the screen shows) and parsed off the async workers, two
//! runs' outputs compared, and what is on screen drawn to a PNG or SVG.

use super::prepare::{crop, difference_of, shown_cmap};
use super::source::{ReadStats, Source};
use super::{Field, FieldStats, Series};
use crate::pipeline::Workspace;
use crate::project::{PlotKind, PlotSpec, Project};
use crate::storage::ObjectStore;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq)]
pub enum PlotData {
    /// `field` may be a block-averaged copy sized for the screen; `stats` are the full field's.
    Field {
        field: Field,
        file: String,
        stats: FieldStats,
        /// Of a .npy: what the array is (its slices, fields, complex parts).
        about: Option<Arc<super::npy::About>>,
    },
    /// Shared: re-decimating it for a zoom sends the backend a pointer, not the points.
    Series { series: Arc<Series>, file: String },
    /// `c`: the same plot of this run (`a`) and another (`b`, of run `other`): two fields side
    /// by side on one colour scale, or series overlaid.
    Compare {
        a: Box<PlotData>,
        b: Box<PlotData>,
        other: String,
        /// `C`: more runs' series overlaid too (series only), with their run ids.
        more: Vec<(String, PlotData)>,
        /// The others are elements of this run's sweep, named by their parameters (not runs).
        elements: bool,
    },
}

impl PlotData {
    /// A field, or fields compared (as opposed to series).
    pub fn is_field(&self) -> bool {
        match self {
            PlotData::Field { .. } => true,
            PlotData::Compare { a, .. } => a.is_field(),
            PlotData::Series { .. } => false,
        }
    }
}

/// Where the output of a plot's phase in a run is: a directory on this machine (the local
/// runner's, or the staged copy of an S3 run), else its prefix in the project's S3 store (a run
/// on a cluster, or one whose staged copy is gone).
pub fn source(
    ws: &Workspace,
    p: &Project,
    store: Option<Arc<dyn ObjectStore>>,
    run_id: &str,
    spec: &PlotSpec,
    element: Option<u32>,
) -> Result<Source, String> {
    let run = ws
        .journal
        .get(run_id)
        .ok()
        .flatten()
        .ok_or_else(|| format!("run {run_id} is not in the journal"))?;
    // a swept phase wrote into its elements' outputs: element `element`'s (default the first)
    if let Some(e) = run.phase(spec.phase).and_then(|x| {
        let els = &x.elements;
        element
            .and_then(|i| els.iter().find(|e| e.index == i))
            .or(els.first())
    }) {
        let part = crate::pipeline::Part::element(spec.phase, e.index);
        let (b, k) = crate::storage::split_location(&e.output);
        let here = if p.storage.s3 {
            Some(ws.stage_dir(&run.id, part, "output")).filter(|d| d.is_dir())
        } else {
            ws.store_for(p, &run.target)
                .local_path(b, k.trim_end_matches('/'))
        };
        if let Some(d) = here {
            return Ok(Source::Dir(d));
        }
        return match store {
            Some(store) if p.storage.s3 => Source::store(store, &e.output)
                .ok_or_else(|| format!("element {} has no output location", e.index)),
            _ => Err("the run's output is not on this machine".into()),
        };
    }
    if let Some(d) = crate::pipeline::phase::output_dir(ws, p, &run, spec.phase) {
        return Ok(Source::Dir(d));
    }
    let location = run.phase(spec.phase).map(|x| x.output.clone());
    match (store, location) {
        (Some(store), Some(loc)) if p.storage.s3 => Source::store(store, &loc)
            .ok_or_else(|| format!("the run's {} output has no location", spec.phase.as_str())),
        _ => Err("the run's output is not on this machine".into()),
    }
}

/// What reads a project's plots: the workspace (journal, run directories), the project's store
/// (S3 when the storage root is), and the series read so far (so a growing CSV is read from where
/// the last read stopped, not again from its start).
#[derive(Clone)]
pub struct Reader {
    pub ws: Workspace,
    pub project: Arc<Project>,
    pub store: Option<Arc<dyn ObjectStore>>,
    pub tails: Tails,
    /// A plot's array read with this pick instead of its own (the keys that step through an
    /// array's slices, fields and complex parts).
    pub pick: Option<(usize, crate::project::ArrayPick)>,
    /// Of a swept phase: the element whose output is read (None: every element's series
    /// overlaid, the first element's field).
    pub element: Option<u32>,
}

/// Most elements of a sweep whose series are overlaid in one line plot.
pub const SWEEP_OVERLAY: usize = 8;

/// Series read so far, by file (as [`Source::name`] names it).
pub type Tails = Arc<std::sync::Mutex<HashMap<String, SeriesTail>>>;

/// How many growing series are remembered (the ones on screen and compared).
const TAILS: usize = 8;

/// A series CSV read up to `offset` (just past its last complete line): its header line and rows.
#[derive(Clone, Debug)]
pub struct SeriesTail {
    pub offset: u64,
    pub header: Vec<u8>,
    pub series: Arc<crate::plot::Series>,
}

impl Reader {
    pub fn new(
        ws: Workspace,
        project: Arc<Project>,
        store: Option<Arc<dyn ObjectStore>>,
    ) -> Reader {
        Reader {
            ws,
            project,
            store,
            tails: Tails::default(),
            pick: None,
            element: None,
        }
    }

    /// Where `spec`'s files of run `run_id` are (of this reader's element, if the phase is swept).
    fn source(&self, run_id: &str, spec: &PlotSpec) -> Result<Source, String> {
        source(
            &self.ws,
            &self.project,
            self.store.clone(),
            run_id,
            spec,
            self.element,
        )
    }

    /// This reader, reading element `element` of a swept phase (None: see [`Reader::element`]).
    pub fn at_element(mut self, element: Option<u32>) -> Reader {
        self.element = element;
        self
    }

    /// This reader, plot `plot`'s array read with `pick` (None: the plot's own).
    pub fn picking(mut self, plot: usize, pick: Option<crate::project::ArrayPick>) -> Reader {
        self.pick = pick.map(|p| (plot, p));
        self
    }

    fn spec(&self, plot: usize) -> Result<PlotSpec, String> {
        let mut spec = self
            .project
            .plots
            .get(plot)
            .cloned()
            .ok_or_else(|| "no such plot".to_string())?;
        if let Some((_, pick)) = self.pick.as_ref().filter(|(p, _)| *p == plot) {
            spec.pick = pick.clone();
        }
        Ok(spec)
    }

    /// The files of plot `plot` in a run, sorted (snapshots in order).
    pub async fn files(&self, run_id: &str, plot: usize) -> Result<Vec<String>, String> {
        let spec = self.spec(plot)?;
        self.source(run_id, &spec)?.files(&spec.file).await
    }

    /// One file of plot `plot` in a run, read and parsed (parsing off the async workers). A
    /// line plot's CSV read before is read only from where that read stopped.
    pub async fn load(&self, run_id: &str, plot: usize, file: &str) -> Result<PlotData, String> {
        self.load_fit(run_id, plot, file, None).await
    }

    /// [`Reader::load`], a heatmap's field read straight to what `fit` asks for.
    async fn load_fit(
        &self,
        run_id: &str,
        plot: usize,
        file: &str,
        fit: Option<crate::plot::Fit>,
    ) -> Result<PlotData, String> {
        let spec = self.spec(plot)?;
        let src = self.source(run_id, &spec)?;
        if spec.kind == PlotKind::Line {
            return load_series(&self.tails, &src, file).await;
        }
        read_data(&src, &spec, file, fit).await.map(|(d, _)| d)
    }

    /// One run's plot, or with `compare` the same file of another run too: side by side
    /// (fields) or overlaid (series), or with `diff` this run's field minus the other's. Both
    /// files are read at once. With `fit` (the part in view and the size it is shown at), one
    /// run's field is read straight to it; compared fields are read whole and cut to its window
    /// (they are sized for the screen by whoever draws them, side by side).
    #[allow(clippy::too_many_arguments)]
    pub async fn load_compared(
        &self,
        run_id: &str,
        plot: usize,
        file: &str,
        compare: Option<&str>,
        more: &[String],
        diff: bool,
        fit: Option<crate::plot::Fit>,
    ) -> Result<PlotData, String> {
        let Some(other) = compare else {
            if let Some(swept) = self.sweep_overlay(run_id, plot, file).await {
                return swept;
            }
            return self.load_fit(run_id, plot, file, fit).await;
        };
        let this = self.load(run_id, plot, file);
        let run = |r: &str| {
            let r = r.to_string();
            async move {
                self.load(&r, plot, file)
                    .await
                    .map(|d| (r.clone(), d))
                    .map_err(|e| format!("run {r}: {e}"))
            }
        };
        // `more` overlays series only; a difference is of two fields
        let more = if diff { &[][..] } else { more };
        let (a, b, more) = tokio::join!(
            this,
            run(other),
            futures::future::join_all(more.iter().map(|r| run(r)))
        );
        let (a, (_, b)) = (a?, b?);
        let more = more.into_iter().collect::<Result<Vec<_>, _>>()?;
        let other = other.to_string();
        let window = fit.map(|f| f.window);
        tokio::task::spawn_blocking(move || {
            let mut data = if diff {
                difference_of(a, b)?
            } else {
                PlotData::Compare {
                    a: Box::new(a),
                    b: Box::new(b),
                    other,
                    more,
                    elements: false,
                }
            };
            // zoomed: the part in view (the range stays the whole fields', so colours mean the
            // same zoomed in or out)
            if let Some(w) = window.filter(|w| *w != crate::plot::Window::ALL) {
                crop(&mut data, w);
            }
            Ok(data)
        })
        .await
        .map_err(|e| e.to_string())?
    }
}

impl Reader {
    /// The last finite value of each column of each line plot of a run, as (plot, column, value):
    /// what `tandem runs diff` puts side by side (of a sweep: its first element's).
    pub async fn last_values(&self, run_id: &str) -> Vec<(String, String, f64)> {
        let mut out = Vec::new();
        for (i, spec) in self.project.plots.iter().enumerate() {
            if spec.kind != PlotKind::Line {
                continue;
            }
            let Ok(files) = self.files(run_id, i).await else {
                continue;
            };
            let Some(file) = files.last() else { continue };
            let Ok(PlotData::Series { series, .. }) = self.load_fit(run_id, i, file, None).await
            else {
                continue;
            };
            let (_, ys) = super::prepare::axes(spec, &series);
            for y in ys {
                if let Some(v) = series
                    .column(&y)
                    .and_then(|c| c.iter().rev().find(|v| v.is_finite()))
                {
                    out.push((spec.name.clone(), y, *v));
                }
            }
        }
        out
    }

    /// Runs `a` and `b` compared from the journal (see [`crate::pipeline::diff`]), with the last
    /// value of each plotted series column of both put beside: what `tandem runs diff` prints
    /// and `=` in the Runs view shows.
    pub async fn diff_runs(
        &self,
        a: &str,
        b: &str,
    ) -> Result<crate::pipeline::diff::RunDiff, crate::pipeline::diff::DiffError> {
        use crate::pipeline::diff::SeriesLast;
        let j = self.ws.journal.clone();
        let (ja, jb) = (a.to_string(), b.to_string());
        let mut d = tokio::task::spawn_blocking(move || crate::pipeline::diff::diff(&j, &ja, &jb))
            .await
            .map_err(|e| crate::pipeline::diff::DiffError::Journal(std::io::Error::other(e)))??;
        let (la, lb) = tokio::join!(self.last_values(a), self.last_values(b));
        let mut seen = std::collections::HashSet::new();
        for (plot, column, _) in la.iter().chain(&lb) {
            if !seen.insert((plot.clone(), column.clone())) {
                continue;
            }
            let find = |l: &[(String, String, f64)]| {
                l.iter()
                    .find(|(p, c, _)| p == plot && c == column)
                    .map(|x| x.2)
            };
            d.series.push(SeriesLast {
                plot: plot.clone(),
                column: column.clone(),
                a: find(&la),
                b: find(&lb),
            });
        }
        Ok(d)
    }

    /// A line plot of a swept phase with no element chosen: the series of its first
    /// [`SWEEP_OVERLAY`] elements overlaid, each named by its parameters (None: not such a
    /// plot).
    async fn sweep_overlay(
        &self,
        run_id: &str,
        plot: usize,
        file: &str,
    ) -> Option<Result<PlotData, String>> {
        let spec = self.spec(plot).ok()?;
        if self.element.is_some() || spec.kind != PlotKind::Line {
            return None;
        }
        let run = self.ws.journal.get(run_id).ok().flatten()?;
        let els = &run.phase(spec.phase)?.elements;
        if els.len() < 2 {
            return None;
        }
        let loads = els.iter().take(SWEEP_OVERLAY).map(|e| {
            let r = self.clone().at_element(Some(e.index));
            async move {
                r.load(run_id, plot, file)
                    .await
                    .map(|d| (e.label(), d))
                    .map_err(|why| format!("element {} ({}): {why}", e.index, e.label()))
            }
        });
        let all = futures::future::join_all(loads).await;
        let mut all = match all.into_iter().collect::<Result<Vec<_>, _>>() {
            Ok(v) => v.into_iter(),
            Err(e) => return Some(Err(e)),
        };
        let (Some((_, a)), Some((other, b))) = (all.next(), all.next()) else {
            return None;
        };
        Some(Ok(PlotData::Compare {
            a: Box::new(a),
            b: Box::new(b),
            other,
            more: all.collect(),
            elements: true,
        }))
    }
}

/// A series CSV: what was appended since the last read (checked by the newline before it:
/// a file rewritten shorter is read again whole), parsed and added to the rows read before.
/// Only complete lines are kept; a last line still being written is shown but read again.
pub async fn load_series(tails: &Tails, src: &Source, file: &str) -> Result<PlotData, String> {
    let name = src.name(file);
    let known = tails.lock().ok().and_then(|t| t.get(&name).cloned());
    let (base, bytes) = match known {
        Some(t) => {
            let new = src.read_from(file, t.offset.saturating_sub(1)).await?;
            match new.split_first() {
                Some((b'\n', rest)) => (Some(t), rest.to_vec()),
                _ => (None, src.read(file).await?.bytes),
            }
        }
        None => (None, src.read(file).await?.bytes),
    };
    let (path, shown) = (name.clone(), file.to_string());
    let tail = tokio::task::spawn_blocking(move || append(base, &path, &bytes))
        .await
        .map_err(|e| e.to_string())??;
    let (tail, series) = tail;
    if let Ok(mut t) = tails.lock() {
        if t.len() >= TAILS && !t.contains_key(&name) {
            t.clear();
        }
        t.insert(name, tail);
    }
    Ok(PlotData::Series {
        series,
        file: shown,
    })
}

/// `bytes` (a whole CSV, or with `base` what follows its complete lines) parsed: the new tail
/// (complete lines only) and the series to show (with a last line not yet complete, if any).
fn append(
    base: Option<SeriesTail>,
    name: &str,
    bytes: &[u8],
) -> Result<(SeriesTail, Arc<crate::plot::Series>), String> {
    use crate::plot::read::parse_series;
    let path = Path::new(name);
    let with_header = |header: &[u8], rows: &[u8]| {
        let mut text = header.to_vec();
        text.extend_from_slice(rows);
        parse_series(path, &text).map_err(|e| e.to_string())
    };
    let add = |s: &mut crate::plot::Series, rows: crate::plot::Series| {
        for (col, new) in s.values.iter_mut().zip(rows.values) {
            col.extend(new);
        }
    };
    // up to the end of the last complete line
    let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let (tail, used) = match base {
        Some(t) => {
            let mut s = Arc::unwrap_or_clone(t.series);
            if complete > 0 {
                add(&mut s, with_header(&t.header, &bytes[..complete])?);
            }
            let tail = SeriesTail {
                offset: t.offset + complete as u64,
                header: t.header,
                series: Arc::new(s),
            };
            (tail, complete)
        }
        None => {
            let header_end = bytes
                .iter()
                .position(|b| *b == b'\n')
                .map_or(bytes.len(), |i| i + 1);
            let end = complete.max(header_end);
            let tail = SeriesTail {
                offset: end as u64,
                header: bytes[..header_end].to_vec(),
                series: Arc::new(parse_series(path, &bytes[..end]).map_err(|e| e.to_string())?),
            };
            (tail, end)
        }
    };
    let partial = &bytes[used..];
    if partial.iter().all(u8::is_ascii_whitespace) {
        let shown = tail.series.clone();
        return Ok((tail, shown));
    }
    // a last line without its newline yet: shown now, read again next time
    let mut shown = (*tail.series).clone();
    add(&mut shown, with_header(&tail.header, partial)?);
    Ok((tail, Arc::new(shown)))
}

/// One file's plot data from `src`, and what reading it took: a field on this machine is parsed
/// as it is read (never held in memory twice), anything else is fetched (a .npy by ranges) and
/// parsed. Parsing runs off the async workers. With `fit`, a heatmap's field is only what the
/// screen shows of it (its stats are still the whole field's).
pub async fn read_data(
    src: &Source,
    spec: &PlotSpec,
    file: &str,
    fit: Option<crate::plot::Fit>,
) -> Result<(PlotData, ReadStats), String> {
    enum Input {
        File(std::path::PathBuf),
        Bytes(crate::plot::source::Fetched),
    }
    let input = match src {
        Source::Dir(dir) if spec.kind != PlotKind::Line => Input::File(dir.join(file)),
        _ => Input::Bytes(src.read_for(file, &spec.pick).await?),
    };
    // a slice needs its whole row or column
    let fit = fit.filter(|_| spec.kind == PlotKind::Heatmap);
    let (spec, name, file) = (spec.clone(), src.name(file), file.to_string());
    tokio::task::spawn_blocking(move || match input {
        Input::File(path) => {
            let size = std::fs::metadata(&path).map_or(u64::MAX, |m| m.len());
            let (array, bytes) =
                crate::plot::read::read_field_counted(&path, fit.as_ref(), &spec.pick)
                    .map_err(|e| e.to_string())?;
            let read = ReadStats {
                bytes,
                ranged: bytes < size,
            };
            Ok((of_array(&spec, &file, array)?, read))
        }
        Input::Bytes(fetched) => {
            let read = ReadStats {
                bytes: fetched.bytes.len() as u64,
                ranged: fetched.ranged,
            };
            let path = Path::new(&name);
            let data = match spec.kind {
                PlotKind::Heatmap | PlotKind::Slice => {
                    let array = crate::plot::read::read_field_from(
                        path,
                        &fetched.bytes[..],
                        fit.as_ref(),
                        &spec.pick,
                        fetched.skipped,
                    )
                    .map_err(|e| e.to_string())?;
                    of_array(&spec, &file, array)?
                }
                PlotKind::Line => crate::plot::read::parse_series(path, &fetched.bytes)
                    .map(|series| PlotData::Series {
                        series: Arc::new(series),
                        file: file.to_string(),
                    })
                    .map_err(|e| e.to_string())?,
            };
            Ok((data, read))
        }
    })
    .await
    .map_err(|e| e.to_string())?
}

/// What an array read gives to draw: a field as the plot's kind asks, a 1-D array's line, and a
/// 0-D array's value said (there is nothing to draw).
fn of_array(
    spec: &PlotSpec,
    file: &str,
    array: crate::plot::read::Array,
) -> Result<PlotData, String> {
    use crate::plot::read::Array;
    match array {
        Array::Field(field, stats, about) => of_field(spec, file, field, stats, about),
        Array::Series(series) => Ok(PlotData::Series {
            series: Arc::new(series),
            file: format!("{file} · 1-D"),
        }),
        Array::Value(v) => Err(format!(
            "{file} holds one value (a 0-D array): {v} — nothing to draw"
        )),
    }
}

/// A heatmap or slice plot's data from its field and the whole field's stats.
fn of_field(
    spec: &PlotSpec,
    file: &str,
    field: crate::plot::Field,
    stats: crate::plot::FieldStats,
    about: Option<super::npy::About>,
) -> Result<PlotData, String> {
    let label = match about.as_ref().map(|a| a.label()) {
        Some(l) if !l.is_empty() => format!("{file} · {l}"),
        _ => file.to_string(),
    };
    match spec.kind {
        PlotKind::Heatmap | PlotKind::Line => Ok(PlotData::Field {
            stats,
            field,
            file: label,
            about: about.map(Arc::new),
        }),
        PlotKind::Slice => {
            let series = field
                .slice(spec.row, spec.col)
                .map_err(|e| format!("{file}: {e}"))?;
            let which = match (spec.row, spec.col) {
                (_, Some(c)) => format!("column {c}"),
                (r, None) => format!("row {}", r.unwrap_or(field.rows / 2)),
            };
            Ok(PlotData::Series {
                series: Arc::new(series),
                file: format!("{label} · {which} of {}x{}", field.cols, field.rows),
            })
        }
    }
}

/// How a plot is drawn to a file: `label` names this run (or file) when two are compared, `diff`
/// says the field is a difference (coolwarm, on its own range centred on zero), `hold` is a colour
/// range held on screen (it wins over the plot's own `range`).
pub struct ExportAs<'a> {
    pub label: &'a str,
    pub diff: bool,
    pub hold: Option<(f64, f64)>,
    pub title: &'a str,
    pub size: (u32, u32),
}

/// Draw `data` to `out` (PNG or SVG): one run's plot, two runs' fields side by side on one colour
/// scale, their difference, or series overlaid, on the columns [`axes`](super::prepare::axes)
/// names.
pub fn export(spec: &PlotSpec, data: &PlotData, how: &ExportAs, out: &Path) -> Result<(), String> {
    use crate::plot::export::{export, Plot};
    let range = if how.diff {
        match data {
            PlotData::Field { stats, .. } => how.hold.or(Some(stats.range)),
            _ => None,
        }
    } else {
        how.hold.or(spec.range)
    };
    let cmap = shown_cmap(&spec.cmap, how.diff);
    let drawn = match data {
        PlotData::Field { field, .. } => export(
            &Plot::Heatmap {
                fields: &[(how.label, field)],
                cmap,
                range,
            },
            how.title,
            out,
            how.size,
        ),
        PlotData::Compare {
            a, b, other, more, ..
        } => match (a.as_ref(), b.as_ref()) {
            (PlotData::Field { field: fa, .. }, PlotData::Field { field: fb, .. }) => export(
                &Plot::Heatmap {
                    fields: &[(how.label, fa), (other, fb)],
                    cmap,
                    range,
                },
                how.title,
                out,
                how.size,
            ),
            (PlotData::Series { series: sa, .. }, PlotData::Series { series: sb, .. }) => {
                let mut runs: Vec<(&str, &crate::plot::Series)> =
                    vec![(how.label, sa), (other, sb)];
                runs.extend(more.iter().filter_map(|(r, d)| match d {
                    PlotData::Series { series, .. } => Some((r.as_str(), series.as_ref())),
                    _ => None,
                }));
                lines(spec, &runs, how, out)
            }
            _ => return Err("a field and a series cannot be compared".into()),
        },
        PlotData::Series { series, .. } => lines(spec, &[(how.label, series)], how, out),
    };
    drawn.map_err(|e| format!("exporting {}: {e}", out.display()))
}

fn lines(
    spec: &PlotSpec,
    runs: &[(&str, &crate::plot::Series)],
    how: &ExportAs,
    out: &Path,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let (x, y) = runs
        .first()
        .map(|r| super::prepare::axes(spec, r.1))
        .unwrap_or_default();
    crate::plot::export::export(
        &crate::plot::export::Plot::Lines {
            series: runs,
            x: &x,
            y: &y,
            log_y: spec.log_y,
        },
        how.title,
        out,
        how.size,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(d: &PlotData, c: usize) -> Vec<f64> {
        match d {
            PlotData::Series { series, .. } => series.values[c].clone(),
            other => panic!("{other:?}"),
        }
    }

    /// A heatmap's field read to a fit: the part in view at the size asked, on this machine
    /// (parsed as it is read) and from a store (fetched by ranges); the stats are the whole
    /// field's either way; a slice is read whole whatever the fit.
    #[tokio::test]
    async fn a_heatmap_is_read_to_its_fit_here_and_from_a_store() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("b/run/solve");
        std::fs::create_dir_all(&dir).unwrap();
        let (rows, cols) = (48usize, 64usize);
        let data: Vec<f64> = (0..rows * cols).map(|i| (i % cols) as f64).collect();
        crate::tools::heat2d::write_npy(&dir.join("f.npy"), rows, cols, &data).unwrap();
        let mut spec = PlotSpec {
            name: "f".into(),
            kind: PlotKind::Heatmap,
            phase: crate::project::PhaseId::Solve,
            file: "f.npy".into(),
            x: None,
            y: vec![],
            log_y: false,
            cmap: "viridis".into(),
            row: None,
            col: None,
            range: None,
            pick: Default::default(),
        };
        let store = Arc::new(crate::storage::local::LocalStore::new(
            root.path().to_path_buf(),
        ));
        let fit = crate::plot::Fit {
            window: crate::plot::Window::ALL.scaled(2.0),
            within: (6, 100),
        };
        for src in [
            Source::Dir(dir.clone()),
            Source::store(store, "b/run/solve/").unwrap(),
        ] {
            let (d, _) = read_data(&src, &spec, "f.npy", Some(fit)).await.unwrap();
            let PlotData::Field { field, stats, .. } = d else {
                panic!("{d:?}")
            };
            // the middle half (24 x 32), fitted in 6 rows: 6 x 8, each cell its block's mean
            assert_eq!((field.rows, field.cols), (6, 8), "{}", src.name("f.npy"));
            assert_eq!(field.data[0], 17.5, "columns 16..20");
            assert_eq!((stats.rows, stats.cols, stats.range), (48, 64, (0.0, 63.0)));
        }
        spec.kind = PlotKind::Slice;
        let (d, _) = read_data(&Source::Dir(dir), &spec, "f.npy", Some(fit))
            .await
            .unwrap();
        assert_eq!(column(&d, 1).len(), cols, "the whole middle row");
    }

    /// A growing CSV is read from where the last read stopped: rows added, a line still being
    /// written shown but read again, bytes before the stop never read again, and a file
    /// rewritten shorter read whole.
    #[tokio::test]
    async fn a_growing_series_is_read_from_where_the_last_read_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("s.csv");
        let src = Source::Dir(dir.path().to_path_buf());
        let tails = Tails::default();
        let write = |t: &str| std::fs::write(&f, t).unwrap();
        write("t,v\n0,1\n1,2\n");
        let d = load_series(&tails, &src, "s.csv").await.unwrap();
        assert_eq!(column(&d, 1), [1.0, 2.0]);
        // appended: a complete row and one being written
        write("t,v\n0,1\n1,2\n2,3\n3,");
        let d = load_series(&tails, &src, "s.csv").await.unwrap();
        assert_eq!(column(&d, 0), [0.0, 1.0, 2.0, 3.0]);
        assert!(column(&d, 1)[3].is_nan());
        // the row is finished; an earlier row changed in place is not read again
        write("t,v\n0,9\n1,2\n2,3\n3,4\n");
        let d = load_series(&tails, &src, "s.csv").await.unwrap();
        assert_eq!(column(&d, 1), [1.0, 2.0, 3.0, 4.0]);
        let t = tails.lock().unwrap().values().next().unwrap().clone();
        assert_eq!(t.offset, std::fs::metadata(&f).unwrap().len());
        assert_eq!(t.series.rows(), 4);
        // rewritten shorter: read whole
        write("t,v\n5,6\n");
        let d = load_series(&tails, &src, "s.csv").await.unwrap();
        assert_eq!(column(&d, 1), [6.0]);
        // nothing new: the same rows
        let d = load_series(&tails, &src, "s.csv").await.unwrap();
        assert_eq!(column(&d, 1), [6.0]);
    }
}
