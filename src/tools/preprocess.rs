//! Phase 1 of the sample: clean raw sensor CSVs and aggregate them into the solver's boundary and
//! initial conditions.
//!
//! Every input file is memory-mapped and cut into chunks at line ends; rayon parses the chunks in
//! parallel (the `csv` crate's reader over each chunk, one reused record, no allocation per row) into
//! per-sensor sums that are merged at the end. Cleaning: rows with a missing temperature, fields that do
//! not parse, coordinates off the plate or readings outside [-273.15, 1000] are dropped; readings outside
//! the plausible range [-50, 150] are clipped to it.

use rayon::prelude::*;
use serde::Serialize;
use std::path::{Path, PathBuf};

pub const CLIP: (f64, f64) = (-50.0, 150.0);
pub const PHYSICAL: (f64, f64) = (-273.15, 1000.0);
const CHUNK: usize = 8 << 20;
const MAX_SENSOR: u32 = 1_000_000;

#[derive(Debug, Clone, Copy, Default)]
pub struct Agg {
    pub count: u64,
    pub sum: f64,
    pub x: f64,
    pub y: f64,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Counts {
    pub rows_read: u64,
    pub rows_kept: u64,
    pub dropped_missing: u64,
    pub dropped_malformed: u64,
    pub dropped_out_of_range: u64,
    pub clipped: u64,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.rows_read += o.rows_read;
        self.rows_kept += o.rows_kept;
        self.dropped_missing += o.dropped_missing;
        self.dropped_malformed += o.dropped_malformed;
        self.dropped_out_of_range += o.dropped_out_of_range;
        self.clipped += o.clipped;
    }
}

/// Per-sensor aggregates (indexed by sensor number) and counts of what was dropped.
#[derive(Debug, Default)]
pub struct Partial {
    pub sensors: Vec<Agg>,
    pub counts: Counts,
}

impl Partial {
    fn merge(mut self, o: Partial) -> Partial {
        if self.sensors.len() < o.sensors.len() {
            self.sensors.resize(o.sensors.len(), Agg::default());
        }
        for (i, a) in o.sensors.into_iter().enumerate() {
            if a.count > 0 {
                let s = &mut self.sensors[i];
                if s.count == 0 {
                    s.x = a.x;
                    s.y = a.y;
                }
                s.count += a.count;
                s.sum += a.sum;
            }
        }
        self.counts.add(&o.counts);
        self
    }
}

fn parse_f64(b: &[u8]) -> Option<f64> {
    fast_float2::parse::<f64, _>(b)
        .ok()
        .filter(|v: &f64| v.is_finite())
}

fn parse_sensor(b: &[u8]) -> Option<u32> {
    let digits = b.strip_prefix(b"s")?;
    if digits.is_empty() || digits.len() > 7 {
        return None;
    }
    let mut n: u32 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u32::from(d - b'0');
    }
    (n < MAX_SENSOR).then_some(n)
}

/// Parse and aggregate one chunk of CSV text (whole lines; a header line is skipped).
pub fn process_chunk(chunk: &[u8]) -> Partial {
    let mut p = Partial::default();
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(chunk);
    let mut rec = csv::ByteRecord::new();
    loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(_) => {
                p.counts.rows_read += 1;
                p.counts.dropped_malformed += 1;
                continue;
            }
        }
        if rec.get(0) == Some(b"timestamp") {
            continue;
        }
        p.counts.rows_read += 1;
        if rec.len() != 5 {
            p.counts.dropped_malformed += 1;
            continue;
        }
        let t_raw = &rec[4];
        if t_raw.is_empty()
            || t_raw.eq_ignore_ascii_case(b"nan")
            || t_raw.eq_ignore_ascii_case(b"na")
        {
            p.counts.dropped_missing += 1;
            continue;
        }
        let (Some(id), Some(x), Some(y), Some(mut t)) = (
            parse_sensor(&rec[1]),
            parse_f64(&rec[2]),
            parse_f64(&rec[3]),
            parse_f64(t_raw),
        ) else {
            p.counts.dropped_malformed += 1;
            continue;
        };
        if !(0.0..=1.0).contains(&x)
            || !(0.0..=1.0).contains(&y)
            || !(PHYSICAL.0..=PHYSICAL.1).contains(&t)
        {
            p.counts.dropped_out_of_range += 1;
            continue;
        }
        if !(CLIP.0..=CLIP.1).contains(&t) {
            t = t.clamp(CLIP.0, CLIP.1);
            p.counts.clipped += 1;
        }
        let i = id as usize;
        if p.sensors.len() <= i {
            p.sensors.resize(i + 1, Agg::default());
        }
        let s = &mut p.sensors[i];
        if s.count == 0 {
            s.x = x;
            s.y = y;
        }
        s.count += 1;
        s.sum += t;
        p.counts.rows_kept += 1;
    }
    p
}

/// Cut `data` into pieces of about `size` bytes that end at a newline.
pub fn split_lines(data: &[u8], size: usize) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < data.len() {
        let mut end = (start + size).min(data.len());
        if end < data.len() {
            end = match memchr::memchr(b'\n', &data[end..]) {
                Some(i) => end + i + 1,
                None => data.len(),
            };
        }
        out.push(&data[start..end]);
        start = end;
    }
    out
}

#[derive(Debug, Serialize)]
pub struct FileInfo {
    pub file: String,
    pub bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Manifest {
    pub tool: &'static str,
    pub version: &'static str,
    pub inputs: Vec<FileInfo>,
    pub counts: Counts,
    pub sensors_boundary: usize,
    pub sensors_interior: usize,
    pub outputs: Vec<FileInfo>,
    pub seconds: f64,
    pub mb_per_s: f64,
}

/// Inputs: every `*.csv` in `input` (sorted). Errors if there is none.
pub fn input_files(input: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(input)
        .map_err(|e| anyhow::anyhow!("cannot read input directory {}: {e}", input.display()))?
        .filter_map(|d| d.ok().map(|d| d.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    files.sort();
    anyhow::ensure!(!files.is_empty(), "no .csv files in {}", input.display());
    Ok(files)
}

/// Aggregate all inputs in parallel.
pub fn aggregate(files: &[PathBuf]) -> anyhow::Result<(Partial, Vec<FileInfo>)> {
    let maps = files
        .iter()
        .map(|f| {
            let file =
                std::fs::File::open(f).map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?;
            // SAFETY: the map is read-only; tandem does not modify input files while they are mapped.
            let map = unsafe { memmap2::Mmap::map(&file) }
                .map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?;
            Ok(map)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let chunks: Vec<&[u8]> = maps.iter().flat_map(|m| split_lines(m, CHUNK)).collect();
    let total = chunks
        .par_iter()
        .map(|c| process_chunk(c))
        .reduce(Partial::default, Partial::merge);
    let infos = files
        .iter()
        .zip(&maps)
        .map(|(f, m)| FileInfo {
            file: f
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            bytes: m.len() as u64,
            checksum: None,
        })
        .collect();
    Ok((total, infos))
}

const EDGE_EPS: f64 = 1e-9;

/// Which edge a sensor sits on, and its position along it.
pub fn edge_of(x: f64, y: f64) -> Option<(&'static str, f64)> {
    if x <= EDGE_EPS {
        Some(("left", y))
    } else if x >= 1.0 - EDGE_EPS {
        Some(("right", y))
    } else if y <= EDGE_EPS {
        Some(("bottom", x))
    } else if y >= 1.0 - EDGE_EPS {
        Some(("top", x))
    } else {
        None
    }
}

/// Run phase 1: read `input`, write boundary.csv, initial.csv, manifest.json and _SUCCESS to `output`.
pub fn run(input: &Path, output: &Path) -> anyhow::Result<Manifest> {
    let t0 = std::time::Instant::now();
    let files = input_files(input)?;
    println!(
        "preprocess: {} input files in {}",
        files.len(),
        input.display()
    );
    let (agg, inputs) = aggregate(&files)?;
    let c = &agg.counts;
    println!(
        "preprocess: read {} rows, kept {}, dropped {} missing / {} malformed / {} out of range, clipped {}",
        c.rows_read, c.rows_kept, c.dropped_missing, c.dropped_malformed, c.dropped_out_of_range, c.clipped
    );
    std::fs::create_dir_all(output)?;
    let mut boundary = String::from("side,position,temperature,samples\n");
    let mut initial = String::from("x,y,temperature,samples\n");
    let (mut nb, mut ni) = (0, 0);
    for a in agg.sensors.iter().filter(|a| a.count > 0) {
        let mean = a.sum / a.count as f64;
        match edge_of(a.x, a.y) {
            Some((side, p)) => {
                boundary.push_str(&format!("{side},{p:.6},{mean:.6},{}\n", a.count));
                nb += 1;
            }
            None => {
                initial.push_str(&format!("{:.6},{:.6},{mean:.6},{}\n", a.x, a.y, a.count));
                ni += 1;
            }
        }
    }
    anyhow::ensure!(
        nb > 0,
        "no boundary sensors left after cleaning: the solver needs at least one"
    );
    anyhow::ensure!(
        ni > 0,
        "no interior sensors left after cleaning: the solver needs at least one"
    );
    let mut outputs = Vec::new();
    for (name, body) in [("boundary.csv", &boundary), ("initial.csv", &initial)] {
        crate::storage::local::write_atomic(&output.join(name), body.as_bytes())?;
        outputs.push(FileInfo {
            file: name.into(),
            bytes: body.len() as u64,
            checksum: Some(super::fnv1a_hex(body.as_bytes())),
        });
    }
    let secs = t0.elapsed().as_secs_f64();
    let bytes: u64 = inputs.iter().map(|i| i.bytes).sum();
    let manifest = Manifest {
        tool: "tandem tool preprocess",
        version: env!("CARGO_PKG_VERSION"),
        inputs,
        counts: agg.counts.clone(),
        sensors_boundary: nb,
        sensors_interior: ni,
        outputs,
        seconds: secs,
        mb_per_s: bytes as f64 / 1e6 / secs.max(1e-9),
    };
    crate::storage::local::write_atomic(
        &output.join("manifest.json"),
        serde_json::to_string_pretty(&manifest)?.as_bytes(),
    )?;
    crate::storage::local::write_atomic(&output.join("_SUCCESS"), b"")?;
    println!(
        "preprocess: {nb} boundary and {ni} interior sensors -> {} ({:.1} MB/s)",
        output.display(),
        manifest.mb_per_s
    );
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleaning_rules() {
        let csv = b"timestamp,sensor_id,x,y,temperature\n\
            t,s0001,0.0,0.5,80.0\n\
            t,s0001,0.0,0.5,\n\
            t,s0001,0.0,0.5,9999\n\
            t,s0001,0.0,0.5,250\n\
            t,s0002,0.5,oops,20\n\
            t,s0003,1.5,0.5,20\n\
            t,bad,0.5,0.5,20\n\
            short,row\n";
        let p = process_chunk(csv);
        assert_eq!(
            p.counts,
            Counts {
                rows_read: 8,
                rows_kept: 2,
                dropped_missing: 1,
                dropped_malformed: 3,
                dropped_out_of_range: 2,
                clipped: 1
            }
        );
        assert_eq!(p.sensors[1].count, 2);
        assert!((p.sensors[1].sum - (80.0 + 150.0)).abs() < 1e-12);
    }

    #[test]
    fn chunks_end_at_newlines() {
        let data = b"aaa\nbbbb\ncc\nd";
        let parts = split_lines(data, 5);
        assert_eq!(parts.concat(), data);
        assert!(parts[..parts.len() - 1].iter().all(|p| p.ends_with(b"\n")));
    }

    #[test]
    fn recovers_generated_truth() {
        let dir = tempfile::tempdir().unwrap();
        let raw = dir.path().join("raw");
        super::super::gen::generate(&raw, 3, 1.0, 3).unwrap();
        let out = dir.path().join("out");
        let m = run(&raw, &out).unwrap();
        assert_eq!(m.sensors_boundary, 4 * super::super::gen::EDGE_SENSORS);
        assert_eq!(m.sensors_interior, super::super::gen::INTERIOR_SENSORS);
        assert!(
            m.counts.dropped_missing > 0 && m.counts.clipped > 0 && m.counts.dropped_malformed > 0
        );
        // the clipped spikes bias means upward a little; the truth is still within 3 degrees
        let b = std::fs::read_to_string(out.join("boundary.csv")).unwrap();
        for line in b.lines().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            let truth = super::super::gen::edge_truth(f[0], f[1].parse().unwrap());
            let got: f64 = f[2].parse().unwrap();
            assert!((got - truth).abs() < 3.0, "{line}: truth {truth}");
        }
        assert!(out.join("_SUCCESS").exists());
    }
}
