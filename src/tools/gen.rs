//! Seeded generator of raw sensor readings for the heat-diffusion sample.
//!
//! A plate on the unit square carries sensors along its four edges and scattered inside. Each row is
//! `timestamp,sensor_id,x,y,temperature`. Like real field data, some readings are missing, some are
//! outliers (glitches far out of range, or plausible spikes that preprocess clips) and a few rows are
//! malformed. The same seed always gives the same bytes.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::io::{BufWriter, Write};
use std::path::Path;

pub const HEADER: &str = "timestamp,sensor_id,x,y,temperature";
pub const EDGE_SENSORS: usize = 24;
pub const INTERIOR_SENSORS: usize = 96;

#[derive(Debug, Clone, Copy)]
pub struct Sensor {
    pub id: u32,
    pub x: f64,
    pub y: f64,
    /// The true mean temperature the readings scatter around.
    pub truth: f64,
}

/// True boundary temperature along each edge (position in [0,1]).
pub fn edge_truth(side: &str, p: f64) -> f64 {
    use std::f64::consts::PI;
    match side {
        "left" => 80.0 + 15.0 * (PI * p).sin(),
        "right" => 20.0,
        "bottom" => 20.0 + 60.0 * (1.0 - p),
        _ => 20.0 + 10.0 * p, // top
    }
}

/// True initial temperature inside: a warm blob on a cool plate.
pub fn interior_truth(x: f64, y: f64) -> f64 {
    let r2 = (x - 0.6).powi(2) + (y - 0.4).powi(2);
    20.0 + 70.0 * (-r2 / 0.02).exp()
}

/// The sensor layout for a seed: edge sensors evenly spaced, interior ones at random.
pub fn sensors(seed: u64) -> Vec<Sensor> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5e05_0125);
    let mut out = Vec::new();
    let mut id = 1;
    for side in ["left", "right", "bottom", "top"] {
        for k in 0..EDGE_SENSORS {
            let p = (k as f64 + 0.5) / EDGE_SENSORS as f64;
            let (x, y) = match side {
                "left" => (0.0, p),
                "right" => (1.0, p),
                "bottom" => (p, 0.0),
                _ => (p, 1.0),
            };
            out.push(Sensor {
                id,
                x,
                y,
                truth: edge_truth(side, p),
            });
            id += 1;
        }
    }
    for _ in 0..INTERIOR_SENSORS {
        let x: f64 = rng.random_range(0.05..0.95);
        let y: f64 = rng.random_range(0.05..0.95);
        out.push(Sensor {
            id,
            x,
            y,
            truth: interior_truth(x, y),
        });
        id += 1;
    }
    out
}

/// What the generator wrote.
#[derive(Debug, Clone, serde::Serialize)]
pub struct GenReport {
    pub files: Vec<String>,
    pub rows: u64,
    pub bytes: u64,
}

/// Write `files` CSV files totalling about `size_mb` MB into `dir`.
pub fn generate(dir: &Path, seed: u64, size_mb: f64, files: usize) -> std::io::Result<GenReport> {
    std::fs::create_dir_all(dir)?;
    let files = files.max(1);
    let sensors = sensors(seed);
    let target_bytes = (size_mb.max(0.001) * 1e6) as u64;
    let per_file = target_bytes / files as u64;
    let results: Vec<std::io::Result<(String, u64, u64)>> = (0..files)
        .into_par_iter()
        .map(|f| {
            let name = format!("part-{f:04}.csv");
            let mut rng =
                ChaCha8Rng::seed_from_u64(seed.wrapping_mul(1_000_003).wrapping_add(f as u64));
            let path = dir.join(&name);
            let tmp = dir.join(format!(".tandem-tmp-{name}"));
            let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(&tmp)?);
            let mut written = 0u64;
            let mut rows = 0u64;
            let mut line = String::with_capacity(96);
            writeln!(w, "{HEADER}")?;
            written += HEADER.len() as u64 + 1;
            // one reading per sensor per second, files cover consecutive days
            let mut t: u64 = 1_764_000_000 + f as u64 * 86_400;
            while written < per_file {
                for s in &sensors {
                    line.clear();
                    render_row(&mut line, &mut rng, t, s);
                    w.write_all(line.as_bytes())?;
                    written += line.len() as u64;
                    rows += 1;
                    if written >= per_file {
                        break;
                    }
                }
                t += 1;
            }
            w.flush()?;
            drop(w);
            std::fs::rename(&tmp, &path)?;
            Ok((name, rows, written))
        })
        .collect();
    let mut report = GenReport {
        files: vec![],
        rows: 0,
        bytes: 0,
    };
    for r in results {
        let (n, rows, bytes) = r?;
        report.files.push(n);
        report.rows += rows;
        report.bytes += bytes;
    }
    Ok(report)
}

fn render_row(line: &mut String, rng: &mut ChaCha8Rng, t: u64, s: &Sensor) {
    use std::fmt::Write;
    let secs = t % 86_400;
    let days = t / 86_400;
    let (y, m, d) = civil_from_days(days as i64);
    let ts = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    let roll: f64 = rng.random();
    let noise: f64 = (rng.random::<f64>() + rng.random::<f64>() + rng.random::<f64>() - 1.5) * 0.8;
    let _ = match roll {
        r if r < 0.010 => writeln!(line, "{ts},s{:04},{:.6},{:.6},", s.id, s.x, s.y), // missing
        r if r < 0.013 => writeln!(
            line,
            "{ts},s{:04},{:.6},{:.6},{}",
            s.id,
            s.x,
            s.y,
            if rng.random() { 9999.0 } else { -999.0 }
        ), // glitch
        r if r < 0.016 => writeln!(
            line,
            "{ts},s{:04},{:.6},{:.6},{:.4}",
            s.id,
            s.x,
            s.y,
            s.truth + 200.0
        ), // spike: clipped
        r if r < 0.018 => writeln!(line, "{ts},s{:04},{:.6},oops,{:.4}", s.id, s.x, s.truth), // malformed
        _ => writeln!(
            line,
            "{ts},s{:04},{:.6},{:.6},{:.4}",
            s.id,
            s.x,
            s.y,
            s.truth + noise
        ),
    };
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_417), (2025, 11, 25));
    }

    #[test]
    fn same_seed_same_bytes() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let ra = generate(a.path(), 7, 0.05, 2).unwrap();
        generate(b.path(), 7, 0.05, 2).unwrap();
        assert!(ra.bytes >= 50_000);
        for f in &ra.files {
            assert_eq!(
                std::fs::read(a.path().join(f)).unwrap(),
                std::fs::read(b.path().join(f)).unwrap()
            );
        }
    }
}
