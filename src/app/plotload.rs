//! Reading a run's plots for the backend: where a phase's output is (on this machine, or in the
//! project's S3 store when it is not), its snapshot files, and one file read (a .npy by ranges)
//! and parsed off the UI task.

use super::msg::PlotData;
use crate::pipeline::{executor, Workspace};
use crate::plot::source::Source;
use crate::project::{PlotKind, PlotSpec, Project};
use crate::storage::ObjectStore;
use std::path::Path;
use std::sync::Arc;

/// Where the output of a plot's phase in a run is: a directory on this machine (the local
/// runner's, or the staged copy of an S3 run), else its prefix in the project's S3 store (a run
/// on a cluster, or one whose staged copy is gone).
pub fn source(
    ws: &Workspace,
    p: &Project,
    store: Option<Arc<dyn ObjectStore>>,
    run_id: &str,
    spec: &PlotSpec,
) -> Result<Source, String> {
    let run = ws
        .journal
        .get(run_id)
        .ok()
        .flatten()
        .ok_or_else(|| format!("run {run_id} is not in the journal"))?;
    if let Some(d) = executor::output_dir(ws, p, &run, spec.phase) {
        return Ok(Source::Dir(d));
    }
    let location = run.phase(spec.phase).map(|x| x.output.clone());
    match (store, location) {
        (Some(store), Some(loc)) if p.storage.s3 => Source::store(store, &loc)
            .ok_or_else(|| format!("the run's {} output has no location", spec.phase.as_str())),
        _ => Err("the run's output is not on this machine".into()),
    }
}

/// The files of plot `plot` in a run, sorted (snapshots in order).
pub async fn files(
    ws: &Workspace,
    p: &Project,
    store: Option<Arc<dyn ObjectStore>>,
    run_id: &str,
    plot: usize,
) -> Result<Vec<String>, String> {
    let spec = p.plots.get(plot).ok_or("no such plot")?;
    source(ws, p, store, run_id, spec)?.files(&spec.file).await
}

/// One file of plot `plot` in a run, read and parsed (parsing off the async workers).
pub async fn load(
    ws: &Workspace,
    p: &Project,
    store: Option<Arc<dyn ObjectStore>>,
    run_id: &str,
    plot: usize,
    file: &str,
) -> Result<PlotData, String> {
    let spec = p.plots.get(plot).ok_or("no such plot")?.clone();
    let src = source(ws, p, store, run_id, &spec)?;
    let fetched = src.read(file).await?;
    let (name, file) = (src.name(file), file.to_string());
    tokio::task::spawn_blocking(move || parse(&spec, &name, &file, &fetched.bytes))
        .await
        .map_err(|e| e.to_string())?
}

/// A plot's data from a file's bytes; `name` is the file as messages show it, `file` as the
/// panel's title does (relative to the phase output).
pub fn parse(spec: &PlotSpec, name: &str, file: &str, bytes: &[u8]) -> Result<PlotData, String> {
    let path = Path::new(name);
    match spec.kind {
        PlotKind::Heatmap => crate::plot::read::parse_field(path, bytes)
            .map(|field| PlotData::Field {
                stats: crate::plot::FieldStats::of(&field),
                field,
                file: file.to_string(),
            })
            .map_err(|e| e.to_string()),
        PlotKind::Slice => {
            let field = crate::plot::read::parse_field(path, bytes).map_err(|e| e.to_string())?;
            let series = field
                .slice(spec.row, spec.col)
                .map_err(|e| format!("{file}: {e}"))?;
            let which = match (spec.row, spec.col) {
                (_, Some(c)) => format!("column {c}"),
                (r, None) => format!("row {}", r.unwrap_or(field.rows / 2)),
            };
            Ok(PlotData::Series {
                series: Arc::new(series),
                file: format!("{file} · {which} of {}x{}", field.cols, field.rows),
            })
        }
        PlotKind::Line => crate::plot::read::parse_series(path, bytes)
            .map(|series| PlotData::Series {
                series: Arc::new(series),
                file: file.to_string(),
            })
            .map_err(|e| e.to_string()),
    }
}

/// One run's plot, or with `compare` the same file of another run too: side by side (fields) or
/// overlaid (series), or with `diff` this run's field minus the other's. Both files are read at once.
#[allow(clippy::too_many_arguments)]
pub async fn load_compared(
    ws: &Workspace,
    p: &Project,
    store: Option<Arc<dyn ObjectStore>>,
    run_id: &str,
    plot: usize,
    file: &str,
    compare: Option<&str>,
    diff: bool,
) -> Result<PlotData, String> {
    let this = load(ws, p, store.clone(), run_id, plot, file);
    let Some(other) = compare else {
        return this.await;
    };
    let that = async {
        load(ws, p, store.clone(), other, plot, file)
            .await
            .map_err(|e| format!("run {other}: {e}"))
    };
    let (a, b) = tokio::join!(this, that);
    let (a, b) = (a?, b?);
    if diff {
        tokio::task::spawn_blocking(move || super::plots::difference_of(a, b))
            .await
            .map_err(|e| e.to_string())?
    } else {
        Ok(PlotData::Compare {
            a: Box::new(a),
            b: Box::new(b),
            other: other.to_string(),
        })
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
/// scale, their difference, or series overlaid. A series' x is the plot's `x` (else its first
/// column), its y the plot's `y` (else up to three other columns).
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
    let cmap = super::plots::shown_cmap(&spec.cmap, how.diff);
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
        PlotData::Compare { a, b, other } => match (a.as_ref(), b.as_ref()) {
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
                lines(spec, &[(how.label, sa), (other, sb)], how, out)
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
    let first = runs.first().map(|r| r.1);
    let x = spec
        .x
        .clone()
        .or_else(|| first.and_then(|s| s.columns.first().cloned()))
        .unwrap_or_default();
    let y: Vec<String> = if spec.y.is_empty() {
        first
            .map(|s| {
                s.columns
                    .iter()
                    .filter(|c| **c != x)
                    .take(3)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    } else {
        spec.y.clone()
    };
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
