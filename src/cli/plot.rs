//! `tandem plot FILE --out F.png|F.svg`: a field (.npy) or a series (.csv) drawn to an image, from
//! a file, a directory or glob of snapshots, or S3 (a .npy read by ranges); `--compare` and
//! `--diff` draw two runs' outputs on one scale. The same readers and drawing as the Plots view.

use super::{print_json, Failure, Global};
use crate::plot::source::Source;
use crate::project::PlotKind;
use crate::storage::{Location, ObjectStore};
use clap::{Args, ValueEnum};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Args, Debug)]
pub struct PlotArgs {
    file: String,
    /// Another file (or directory, glob, S3 URI; the same --snapshot) drawn beside FILE, or
    /// overlaid on it for series, on one scale. Series: repeat for up to three more.
    #[arg(long)]
    compare: Vec<String>,
    /// With --compare: FILE's field minus the other's (coolwarm, centred on zero).
    #[arg(long, requires = "compare")]
    diff: bool,
    #[arg(long, allow_hyphen_values = true)]
    snapshot: Option<i64>,
    #[arg(long)]
    out: PathBuf,
    #[arg(long, value_enum)]
    kind: Option<KindArg>,
    /// Series: the x column.
    #[arg(long)]
    x: Option<String>,
    /// Series: y columns (repeat or comma-separate).
    #[arg(long, value_delimiter = ',')]
    y: Vec<String>,
    #[arg(long)]
    log_y: bool,
    #[arg(long, default_value = "inferno")]
    cmap: String,
    /// Heatmap: a fixed colour range LOW,HIGH (default: the field's own).
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true, num_args = 1)]
    range: Vec<f64>,
    /// Slice: the row to draw.
    #[arg(long)]
    row: Option<usize>,
    /// Slice: the column to draw.
    #[arg(long, conflicts_with = "row")]
    col: Option<usize>,
    /// A structured array's field to draw.
    #[arg(long)]
    field: Option<String>,
    /// An N-D array's 2-D slice: the index of each axis but the last two (comma-separated;
    /// default 0,0,…: the first slice).
    #[arg(long, value_delimiter = ',')]
    slice: Vec<u64>,
    /// A complex array's part drawn.
    #[arg(long, value_enum, default_value_t = ComplexArg::Abs)]
    complex: ComplexArg,
    #[arg(long, default_value_t = 1200)]
    width: u32,
    #[arg(long, default_value_t = 800)]
    height: u32,
    #[arg(long)]
    json: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum ComplexArg {
    /// The magnitude.
    Abs,
    Re,
    Im,
    /// The phase angle, in radians.
    Arg,
}

impl From<ComplexArg> for crate::project::ComplexPart {
    fn from(c: ComplexArg) -> Self {
        use crate::project::ComplexPart as P;
        match c {
            ComplexArg::Abs => P::Abs,
            ComplexArg::Re => P::Re,
            ComplexArg::Im => P::Im,
            ComplexArg::Arg => P::Arg,
        }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum KindArg {
    Heatmap,
    Line,
    /// A row (`--row`) or column (`--col`) of a field as a line; neither: the middle row.
    Slice,
}

impl PlotArgs {
    pub async fn run(self, g: &Global) -> Result<(), Failure> {
        let PlotArgs {
            file,
            compare,
            diff,
            snapshot,
            out,
            kind,
            x,
            y,
            log_y,
            cmap,
            range,
            row,
            col,
            field,
            slice,
            complex,
            width,
            height,
            json,
        } = self;
        let range = match range.as_slice() {
            [] => None,
            [lo, hi] if lo < hi => Some((*lo, *hi)),
            _ => {
                return Err(Failure::bad(format!(
                    "--range {}: expected LOW,HIGH with LOW < HIGH",
                    range
                        .iter()
                        .map(|v| v.to_string())
                        .collect::<Vec<_>>()
                        .join(",")
                )))
            }
        };
        if crate::plot::export::Format::from_path(&out).is_none() {
            return Err(Failure::bad(format!(
                "{}: the output must end in .png or .svg",
                out.display()
            )));
        }
        if !crate::project::COLOR_MAPS.contains(&cmap.as_str()) {
            return Err(Failure::bad(format!(
                "unknown colour map `{cmap}`, expected one of {}",
                crate::project::COLOR_MAPS.join(", ")
            )));
        }
        let t0 = std::time::Instant::now();
        let (src, name) = plot_file(g, &file, snapshot).await?;
        let kind = match kind {
            Some(KindArg::Heatmap) => PlotKind::Heatmap,
            Some(KindArg::Line) => PlotKind::Line,
            Some(KindArg::Slice) => PlotKind::Slice,
            None if name.ends_with(".npy") => PlotKind::Heatmap,
            None => PlotKind::Line,
        };
        let title = name.rsplit('/').next().unwrap_or(&name).to_string();
        let spec = crate::project::PlotSpec {
            name: title.clone(),
            kind,
            phase: crate::project::PhaseId::Solve,
            file: name.clone(),
            x,
            y,
            log_y,
            cmap,
            row,
            col,
            range,
            pick: crate::project::ArrayPick {
                field,
                slice,
                complex: complex.into(),
            },
        };
        let read = |src: crate::plot::source::Source, name: String| {
            let spec = spec.clone();
            async move {
                let (data, read) = crate::plot::load::read_data(&src, &spec, &name, None)
                    .await
                    .map_err(Failure::bad)?;
                Ok::<_, Failure>((data, src.name(&name), read))
            }
        };
        if compare.len() > 1 && (diff || kind != PlotKind::Line) {
            return Err(Failure::bad(
                "fields and differences compare two files: give one --compare".to_string(),
            ));
        }
        if compare.len() + 1 > crate::plot::prepare::OVERLAY {
            return Err(Failure::bad(format!(
                "at most {} series overlaid: give up to {} --compare",
                crate::plot::prepare::OVERLAY,
                crate::plot::prepare::OVERLAY - 1
            )));
        }
        let (mut data, shown, stats) = read(src, name).await?;
        let mut others = Vec::new();
        for other in &compare {
            let (src_b, name_b) = plot_file(g, other, snapshot).await?;
            let (b, shown_b, _) = read(src_b, name_b).await?;
            others.push((shown_b, b));
        }
        let mut names = vec![shown.clone()];
        names.extend(others.iter().map(|o| o.0.clone()));
        let labels = short_labels(&names);
        let label = labels[0].clone();
        let title = match (&labels[1..], diff) {
            ([], _) => title,
            ([v], true) => format!("{label} − {v}"),
            (vs, _) => format!("{label} vs {}", vs.join(" vs ")),
        };
        let mut others = labels[1..]
            .iter()
            .cloned()
            .zip(others.into_iter().map(|o| o.1));
        if let Some((other, b)) = others.next() {
            data = if diff {
                crate::plot::prepare::difference_of(data, b).map_err(Failure::bad)?
            } else {
                crate::plot::load::PlotData::Compare {
                    a: Box::new(data),
                    b: Box::new(b),
                    other,
                    more: others.collect(),
                    elements: false,
                }
            };
        }
        let how = crate::plot::load::ExportAs {
            label: &label,
            diff,
            hold: None,
            title: &title,
            size: (width, height),
        };
        crate::plot::load::export(&spec, &data, &how, &out).map_err(Failure::failed)?;
        if json {
            print_json(&serde_json::json!({
                "file": shown,
                "out": out,
                "ms": t0.elapsed().as_secs_f64() * 1000.0,
                "bytes_read": stats.bytes,
                "read_by_ranges": stats.ranged,
            }));
        } else {
            eprintln!("wrote {}", out.display());
        }
        Ok(())
    }
}

/// `tandem plot FILE --snapshot N`: FILE itself, or the Nth file (name order) of a directory, a
/// glob or an S3 prefix (`s3://bucket/prefix/`, `s3://bucket/out/field_*.npy`); the last when N is
/// not given. As the source to read it from and its name there.
async fn plot_file(g: &Global, file: &str, n: Option<i64>) -> Result<(Source, String), Failure> {
    let globbed = file.contains(['*', '?', '[']);
    let (src, pattern) = if file.starts_with("s3://") {
        let loc = Location::parse(file);
        let Some(bucket) = loc.bucket.clone() else {
            return Err(Failure::bad(format!("`{file}`: expected s3://bucket/key")));
        };
        let key = loc.key.as_str();
        // the folder part is listed; the rest names the file(s)
        let cut = match key.find(['*', '?', '[']) {
            Some(i) => key[..i].rfind('/').map_or(0, |j| j + 1),
            None => key.rfind('/').map_or(0, |j| j + 1),
        };
        let store: Arc<dyn ObjectStore> =
            Arc::new(crate::storage::s3::S3Store::connect(&g.s3()).await);
        let src = Source::store(store, &format!("{bucket}/{}", &key[..cut]))
            .ok_or_else(|| Failure::bad(format!("`{file}`: expected s3://bucket/key")))?;
        let rest = &key[cut..];
        if rest.is_empty() {
            (src, "*".to_string())
        } else if !globbed {
            return one_snapshot(file, n).map(|_| (src, rest.to_string()));
        } else {
            (src, rest.to_string())
        }
    } else {
        let path = Path::new(file);
        if !globbed && !path.is_dir() {
            let dir = path
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let name = path
                .file_name()
                .map(|x| x.to_string_lossy().into_owned())
                .unwrap_or_default();
            return one_snapshot(file, n).map(|_| (Source::Dir(dir.to_path_buf()), name));
        }
        if globbed {
            // the glob's fixed leading folders are the directory, the rest its pattern
            let cut = file[..file.find(['*', '?', '[']).unwrap_or(0)]
                .rfind('/')
                .map_or(0, |j| j + 1);
            let dir = if cut == 0 { "." } else { &file[..cut] };
            (Source::Dir(dir.into()), file[cut..].to_string())
        } else {
            (Source::Dir(path.to_path_buf()), "*".to_string())
        }
    };
    let mut files: Vec<String> = src
        .files(&pattern)
        .await
        .map_err(|e| Failure::bad(format!("{file}: {e}")))?
        .into_iter()
        .filter(|f| f.ends_with(".npy") || f.ends_with(".csv"))
        .collect();
    if files.is_empty() {
        return Err(Failure::bad(format!("{file}: no .npy or .csv files")));
    }
    let len = files.len() as i64;
    let i = n.unwrap_or(-1);
    let at = if i < 0 { len + i } else { i };
    if !(0..len).contains(&at) {
        return Err(Failure::bad(format!(
            "--snapshot {i}: {file} has {len} snapshots (0..{}, or -1 for the last)",
            len - 1
        )));
    }
    Ok((src, files.swap_remove(at as usize)))
}

/// A single file allows no other snapshot than 0 or -1.
fn one_snapshot(file: &str, n: Option<i64>) -> Result<(), Failure> {
    match n {
        None | Some(0) | Some(-1) => Ok(()),
        Some(n) => Err(Failure::bad(format!(
            "--snapshot {n}: {file} is one file; give a directory, a prefix or a glob of snapshots"
        ))),
    }
}

/// Compared files named by what tells them apart: their names without the folders they share.
fn short_labels(names: &[String]) -> Vec<String> {
    let first = names.first().map(String::as_str).unwrap_or("");
    let common = names[1..]
        .iter()
        .map(|n| {
            first
                .chars()
                .zip(n.chars())
                .take_while(|(x, y)| x == y)
                .map(|(x, _)| x.len_utf8())
                .sum::<usize>()
        })
        .min()
        .unwrap_or(0);
    // back to a folder boundary, so a label starts at a whole name
    let cut = first[..common].rfind('/').map_or(0, |j| j + 1);
    names.iter().map(|n| n[cut..].to_string()).collect()
}
