//! Phase 2 of the sample: the 2D transient heat equation u_t = alpha (u_xx + u_yy) on the unit square.
//!
//! Cell-centred grid of `nx` x `ny` cells with one ghost layer; explicit (FTCS) time stepping, second
//! order in space. Dirichlet edges set the ghost to `2g - u` (the face value is `g`); insulated edges
//! mirror (`ghost = u`), which conserves the total heat exactly up to rounding. Rows are updated in
//! parallel with rayon; the series (residual, energy, peak) is fused into the update on output steps so
//! that it costs no extra pass over memory.

use rayon::prelude::*;
use std::io::Write;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Edges {
    /// Fixed temperatures on the edges (from phase 1's boundary table).
    Dirichlet,
    /// No heat crosses the edges.
    Insulated,
}

/// Edge temperatures at each boundary face: left/right have `ny` values, bottom/top `nx`.
#[derive(Debug, Clone)]
pub struct Boundary {
    pub left: Vec<f64>,
    pub right: Vec<f64>,
    pub bottom: Vec<f64>,
    pub top: Vec<f64>,
}

impl Boundary {
    pub fn zero(nx: usize, ny: usize) -> Boundary {
        Boundary {
            left: vec![0.0; ny],
            right: vec![0.0; ny],
            bottom: vec![0.0; nx],
            top: vec![0.0; nx],
        }
    }
}

/// The field with its ghost layer: `(ny + 2)` rows of `(nx + 2)` values, row-major, y up.
#[derive(Debug, Clone)]
pub struct Grid {
    pub nx: usize,
    pub ny: usize,
    pub u: Vec<f64>,
}

impl Grid {
    pub fn new(nx: usize, ny: usize, init: impl Fn(f64, f64) -> f64) -> Grid {
        let w = nx + 2;
        let mut u = vec![0.0; w * (ny + 2)];
        for j in 0..ny {
            let y = (j as f64 + 0.5) / ny as f64;
            for i in 0..nx {
                let x = (i as f64 + 0.5) / nx as f64;
                u[(j + 1) * w + i + 1] = init(x, y);
            }
        }
        Grid { nx, ny, u }
    }

    pub fn at(&self, i: usize, j: usize) -> f64 {
        self.u[(j + 1) * (self.nx + 2) + i + 1]
    }

    /// The interior, row-major (`ny` rows of `nx`), as written to snapshots.
    pub fn interior(&self) -> Vec<f64> {
        let w = self.nx + 2;
        let mut out = Vec::with_capacity(self.nx * self.ny);
        for j in 0..self.ny {
            out.extend_from_slice(&self.u[(j + 1) * w + 1..(j + 1) * w + 1 + self.nx]);
        }
        out
    }

    fn fill_ghosts(&mut self, edges: Edges, b: &Boundary) {
        let (nx, ny, w) = (self.nx, self.ny, self.nx + 2);
        let u = &mut self.u;
        for j in 1..=ny {
            let (l, r) = (u[j * w + 1], u[j * w + nx]);
            match edges {
                Edges::Dirichlet => {
                    u[j * w] = 2.0 * b.left[j - 1] - l;
                    u[j * w + nx + 1] = 2.0 * b.right[j - 1] - r;
                }
                Edges::Insulated => {
                    u[j * w] = l;
                    u[j * w + nx + 1] = r;
                }
            }
        }
        for i in 1..=nx {
            let (bo, to) = (u[w + i], u[ny * w + i]);
            match edges {
                Edges::Dirichlet => {
                    u[i] = 2.0 * b.bottom[i - 1] - bo;
                    u[(ny + 1) * w + i] = 2.0 * b.top[i - 1] - to;
                }
                Edges::Insulated => {
                    u[i] = bo;
                    u[(ny + 1) * w + i] = to;
                }
            }
        }
    }
}

/// Statistics of one step: max |du/dt|, total heat (sum u dx dy), max u.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    pub residual: f64,
    pub energy: f64,
    pub max: f64,
}

/// The largest stable time step for FTCS on this grid.
pub fn stable_dt(nx: usize, ny: usize, alpha: f64) -> f64 {
    let (dx, dy) = (1.0 / nx as f64, 1.0 / ny as f64);
    1.0 / (2.0 * alpha * (1.0 / (dx * dx) + 1.0 / (dy * dy)))
}

/// One explicit step from `cur` into `next` (both with ghosts; `cur`'s ghosts must be filled).
/// With `stats`, also returns the step's statistics, computed in the same pass.
pub fn step(cur: &Grid, next: &mut Grid, alpha: f64, dt: f64, stats: bool) -> Option<Stats> {
    let (nx, ny, w) = (cur.nx, cur.ny, cur.nx + 2);
    let rx = alpha * dt * (nx * nx) as f64;
    let ry = alpha * dt * (ny * ny) as f64;
    let u = &cur.u;
    // interior row j of `next` from rows j-1, j, j+1 of `cur`; returns the row it read as centre
    let update = |j0: usize, out: &mut [f64]| -> std::ops::Range<usize> {
        let j = j0 + 1;
        let (dn, mid, up) = (
            &u[(j - 1) * w..j * w],
            &u[j * w..(j + 1) * w],
            &u[(j + 1) * w..(j + 2) * w],
        );
        update_row(&mut out[1..=nx], dn, mid, up, rx, ry);
        j * w..(j + 1) * w
    };
    let rows = next.u[w..(ny + 1) * w].par_chunks_mut(w).enumerate();
    if !stats {
        rows.for_each(|(j0, out)| {
            update(j0, out);
        });
        return None;
    }
    let (res, sum, max) = rows
        .map(|(j0, out)| {
            let mid = &u[update(j0, out)];
            let (mut r, mut s, mut m) = (0.0f64, 0.0f64, f64::NEG_INFINITY);
            for (o, c) in out[1..=nx].iter().zip(&mid[1..=nx]) {
                r = r.max((o - c).abs());
                s += o;
                m = m.max(*o);
            }
            (r, s, m)
        })
        .reduce(
            || (0.0, 0.0, f64::NEG_INFINITY),
            |a, b| (a.0.max(b.0), a.1 + b.1, a.2.max(b.2)),
        );
    Some(Stats {
        residual: res / dt,
        energy: sum / (nx * ny) as f64,
        max,
    })
}

#[inline]
fn update_row(out: &mut [f64], dn: &[f64], mid: &[f64], up: &[f64], rx: f64, ry: f64) {
    let n = out.len();
    let (l, c, r) = (&mid[0..n], &mid[1..n + 1], &mid[2..n + 2]);
    let (d, t) = (&dn[1..n + 1], &up[1..n + 1]);
    for i in 0..n {
        out[i] = c[i] + rx * (l[i] - 2.0 * c[i] + r[i]) + ry * (d[i] - 2.0 * c[i] + t[i]);
    }
}

/// Heat of a field without ghosts.
pub fn energy_of(g: &Grid) -> f64 {
    g.interior().iter().sum::<f64>() / (g.nx * g.ny) as f64
}

#[derive(Debug, Clone)]
pub struct Config {
    pub alpha: f64,
    pub t_end: f64,
    /// Fraction of the stability limit used for the time step.
    pub cfl: f64,
    pub edges: Edges,
    pub snapshots: usize,
    pub series_rows: usize,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Outcome {
    pub steps: usize,
    pub dt: f64,
    pub t: f64,
    pub seconds: f64,
    pub cell_updates_per_s: f64,
    pub snapshots: Vec<String>,
    pub final_energy: f64,
    pub final_max: f64,
}

/// Integrate to `cfg.t_end`; `on_series` gets (step, t, stats) rows, `on_snapshot` gets (index, grid).
pub fn solve(
    mut grid: Grid,
    boundary: &Boundary,
    cfg: &Config,
    mut on_series: impl FnMut(usize, f64, Stats),
    mut on_snapshot: impl FnMut(usize, &Grid) -> std::io::Result<()>,
) -> std::io::Result<Outcome> {
    let dt_max = stable_dt(grid.nx, grid.ny, cfg.alpha) * cfg.cfl.clamp(0.01, 1.0);
    let steps = ((cfg.t_end / dt_max).ceil() as usize).max(1);
    let dt = cfg.t_end / steps as f64;
    let snaps = cfg.snapshots.max(2);
    let snap_step = |k: usize| k * steps / (snaps - 1);
    let series_every = (steps / cfg.series_rows.max(1)).max(1);
    let mut next = grid.clone();
    let t0 = std::time::Instant::now();
    grid.fill_ghosts(cfg.edges, boundary);
    let e0 = energy_of(&grid);
    let m0 = grid
        .interior()
        .iter()
        .cloned()
        .fold(f64::NEG_INFINITY, f64::max);
    on_series(
        0,
        0.0,
        Stats {
            residual: 0.0,
            energy: e0,
            max: m0,
        },
    );
    on_snapshot(0, &grid)?;
    let mut k = 1;
    let mut last = Stats {
        residual: 0.0,
        energy: e0,
        max: m0,
    };
    for n in 1..=steps {
        let want_stats = n % series_every == 0 || n == steps;
        if let Some(s) = step(&grid, &mut next, cfg.alpha, dt, want_stats) {
            on_series(n, n as f64 * dt, s);
            last = s;
        }
        std::mem::swap(&mut grid, &mut next);
        grid.fill_ghosts(cfg.edges, boundary);
        while k < snaps && snap_step(k) == n {
            on_snapshot(k, &grid)?;
            k += 1;
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    Ok(Outcome {
        steps,
        dt,
        t: steps as f64 * dt,
        seconds: secs,
        cell_updates_per_s: (grid.nx * grid.ny * steps) as f64 / secs.max(1e-9),
        snapshots: Vec::new(),
        final_energy: last.energy,
        final_max: last.max,
    })
}

// ---------------------------------------------------------------------------------------------------
// Reading phase 1's tables.

/// Linear interpolation of (position, value) samples at `p`, held constant past the ends.
fn interp(samples: &[(f64, f64)], p: f64) -> f64 {
    match samples {
        [] => 0.0,
        [only] => only.1,
        _ => {
            if p <= samples[0].0 {
                return samples[0].1;
            }
            for w in samples.windows(2) {
                if p <= w[1].0 {
                    let f = (p - w[0].0) / (w[1].0 - w[0].0).max(1e-12);
                    return w[0].1 + f * (w[1].1 - w[0].1);
                }
            }
            samples[samples.len() - 1].1
        }
    }
}

/// Read boundary.csv (side,position,temperature,...) into face values for an `nx` x `ny` grid.
pub fn read_boundary(path: &Path, nx: usize, ny: usize) -> anyhow::Result<Boundary> {
    let mut sides: std::collections::BTreeMap<String, Vec<(f64, f64)>> = Default::default();
    let mut rdr =
        csv::Reader::from_path(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let bad = || {
            anyhow::anyhow!(
                "{}:{}: expected side,position,temperature",
                path.display(),
                i + 2
            )
        };
        let side = rec.get(0).ok_or_else(bad)?.to_string();
        let p: f64 = rec.get(1).and_then(|s| s.parse().ok()).ok_or_else(bad)?;
        let t: f64 = rec.get(2).and_then(|s| s.parse().ok()).ok_or_else(bad)?;
        sides.entry(side).or_default().push((p, t));
    }
    for v in sides.values_mut() {
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    let face = |side: &str, n: usize| -> anyhow::Result<Vec<f64>> {
        let s = sides
            .get(side)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| anyhow::anyhow!("{}: no `{side}` edge samples", path.display()))?;
        Ok((0..n)
            .map(|k| interp(s, (k as f64 + 0.5) / n as f64))
            .collect())
    };
    Ok(Boundary {
        left: face("left", ny)?,
        right: face("right", ny)?,
        bottom: face("bottom", nx)?,
        top: face("top", nx)?,
    })
}

/// Read initial.csv (x,y,temperature,...) as scattered points.
pub fn read_initial(path: &Path) -> anyhow::Result<Vec<(f64, f64, f64)>> {
    let mut out = Vec::new();
    let mut rdr =
        csv::Reader::from_path(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let num = |k| rec.get(k).and_then(|s: &str| s.parse::<f64>().ok());
        match (num(0), num(1), num(2)) {
            (Some(x), Some(y), Some(t)) => out.push((x, y, t)),
            _ => anyhow::bail!("{}:{}: expected x,y,temperature", path.display(), i + 2),
        }
    }
    anyhow::ensure!(!out.is_empty(), "{}: no interior samples", path.display());
    Ok(out)
}

/// Inverse-distance-weighted (power 2) interpolation of scattered points.
pub fn idw(points: &[(f64, f64, f64)]) -> impl Fn(f64, f64) -> f64 + '_ {
    move |x, y| {
        let (mut num, mut den) = (0.0, 0.0);
        for &(px, py, t) in points {
            let d2 = (x - px).powi(2) + (y - py).powi(2);
            if d2 < 1e-14 {
                return t;
            }
            let w = 1.0 / d2;
            num += w * t;
            den += w;
        }
        num / den
    }
}

/// Write a 2D f64 field as .npy (C order, shape (ny, nx)).
pub fn write_npy(path: &Path, ny: usize, nx: usize, data: &[f64]) -> std::io::Result<()> {
    use npyz::WriterBuilder;
    let mut buf = Vec::with_capacity(data.len() * 8 + 128);
    {
        let mut w = npyz::WriteOptions::<f64>::new()
            .default_dtype()
            .shape(&[ny as u64, nx as u64])
            .writer(&mut buf)
            .begin_nd()?;
        w.extend(data.iter().copied())?;
        w.finish()?;
    }
    crate::storage::local::write_atomic(path, &buf)
}

pub struct RunArgs<'a> {
    pub input: &'a Path,
    pub output: &'a Path,
    pub nx: usize,
    pub ny: usize,
    pub cfg: Config,
    /// Every edge held at this temperature instead of phase 1's boundary.
    pub edge_temp: Option<f64>,
}

/// Run phase 2 from phase 1's tables, writing snapshots/field_NNNN.npy, series.csv, manifest.json and _SUCCESS.
pub fn run(a: RunArgs<'_>) -> anyhow::Result<Outcome> {
    anyhow::ensure!(a.nx >= 4 && a.ny >= 4, "the grid needs at least 4x4 cells");
    let boundary = match a.edge_temp {
        Some(t) => {
            let mut b = Boundary::zero(a.nx, a.ny);
            for v in [&mut b.left, &mut b.right, &mut b.bottom, &mut b.top] {
                v.fill(t);
            }
            b
        }
        None => read_boundary(&a.input.join("boundary.csv"), a.nx, a.ny)?,
    };
    let points = read_initial(&a.input.join("initial.csv"))?;
    println!(
        "heat2d: {}x{} grid, alpha {}, t_end {}, edges {:?}{}",
        a.nx,
        a.ny,
        a.cfg.alpha,
        a.cfg.t_end,
        a.cfg.edges,
        a.edge_temp.map(|t| format!(" at {t}")).unwrap_or_default()
    );
    let grid = Grid::new(a.nx, a.ny, idw(&points));
    let snap_dir = a.output.join("snapshots");
    std::fs::create_dir_all(&snap_dir)?;
    let series = std::cell::RefCell::new(String::from(
        "step,time,residual,total_energy,max_temperature\n",
    ));
    let mut snaps = Vec::new();
    let series_path = a.output.join("series.csv");
    let mut last_print = std::time::Instant::now();
    let mut out = solve(
        grid,
        &boundary,
        &a.cfg,
        |n, t, s| {
            series.borrow_mut().push_str(&format!(
                "{n},{t:.6e},{:.6e},{:.9e},{:.6}\n",
                s.residual, s.energy, s.max
            ));
            if last_print.elapsed().as_millis() >= 200 || n == 0 {
                println!(
                    "heat2d: step {n} t={t:.5} residual={:.3e} energy={:.4} max={:.3}",
                    s.residual, s.energy, s.max
                );
                let _ = std::io::stdout().flush();
                last_print = std::time::Instant::now();
            }
        },
        |k, g| {
            let name = format!("field_{k:04}.npy");
            write_npy(&snap_dir.join(&name), g.ny, g.nx, &g.interior())?;
            // keep the series file current so a live plot can follow it
            crate::storage::local::write_atomic(&series_path, series.borrow().as_bytes())?;
            println!("heat2d: snapshot {name}");
            snaps.push(format!("snapshots/{name}"));
            Ok(())
        },
    )?;
    crate::storage::local::write_atomic(&series_path, series.borrow().as_bytes())?;
    out.snapshots = snaps;
    let manifest = serde_json::json!({
        "tool": "tandem tool heat2d",
        "version": env!("CARGO_PKG_VERSION"),
        "grid": [a.nx, a.ny],
        "alpha": a.cfg.alpha,
        "edges": format!("{:?}", a.cfg.edges).to_lowercase(),
        "outcome": out,
    });
    crate::storage::local::write_atomic(
        &a.output.join("manifest.json"),
        serde_json::to_string_pretty(&manifest)?.as_bytes(),
    )?;
    crate::storage::local::write_atomic(&a.output.join("_SUCCESS"), b"")?;
    println!(
        "heat2d: done, {} steps (dt {:.3e}) in {:.2}s, {:.1} M cell updates/s",
        out.steps,
        out.dt,
        out.seconds,
        out.cell_updates_per_s / 1e6
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    fn cfg(edges: Edges, t_end: f64) -> Config {
        Config {
            alpha: 1.0,
            t_end,
            cfl: 0.9,
            edges,
            snapshots: 2,
            series_rows: 10,
        }
    }

    /// A single Fourier mode with zero edges decays as exp(-2 pi^2 alpha t). Tolerance: 0.5% of the
    /// initial amplitude at 64x64 (the scheme is second order; the error measured here is ~0.03%).
    #[test]
    fn fourier_mode_matches_analytic_decay() {
        let n = 64;
        let t_end = 0.05;
        let mut last = None;
        let out = solve(
            Grid::new(n, n, |x, y| (PI * x).sin() * (PI * y).sin()),
            &Boundary::zero(n, n),
            &cfg(Edges::Dirichlet, t_end),
            |_, _, _| {},
            |_, g| {
                last = Some(g.clone());
                Ok(())
            },
        )
        .unwrap();
        let g = last.unwrap();
        let amp = (-2.0 * PI * PI * out.t).exp();
        let mut worst: f64 = 0.0;
        for j in 0..n {
            for i in 0..n {
                let (x, y) = ((i as f64 + 0.5) / n as f64, (j as f64 + 0.5) / n as f64);
                worst = worst.max((g.at(i, j) - amp * (PI * x).sin() * (PI * y).sin()).abs());
            }
        }
        assert!(worst < 5e-3, "max error {worst} against amplitude {amp}");
    }

    /// Insulated edges: no heat leaves, so the total stays put to rounding (relative 1e-12).
    #[test]
    fn insulated_plate_conserves_energy() {
        let n = 48;
        let mut energies = Vec::new();
        solve(
            Grid::new(n, n, |x, y| {
                20.0 + 70.0 * (-((x - 0.3).powi(2) + (y - 0.6).powi(2)) / 0.01).exp()
            }),
            &Boundary::zero(n, n),
            &cfg(Edges::Insulated, 0.02),
            |_, _, s| energies.push(s.energy),
            |_, _| Ok(()),
        )
        .unwrap();
        let e0 = energies[0];
        for e in &energies {
            assert!(((e - e0) / e0).abs() < 1e-12, "{e} vs {e0}");
        }
        assert!(energies.len() >= 10);
    }

    #[test]
    fn hot_edge_heats_the_plate() {
        let n = 16;
        let mut b = Boundary::zero(n, n);
        b.left = vec![100.0; n];
        let mut maxes = Vec::new();
        solve(
            Grid::new(n, n, |_, _| 0.0),
            &b,
            &cfg(Edges::Dirichlet, 0.05),
            |_, _, s| maxes.push(s.max),
            |_, _| Ok(()),
        )
        .unwrap();
        assert!(maxes.last().unwrap() > &10.0 && maxes.last().unwrap() < &100.0);
    }
}

/// Stencil throughput against a plain copy of the same arrays, measured in the same process.
#[derive(Debug, serde::Serialize)]
pub struct Bench {
    pub nx: usize,
    pub ny: usize,
    pub steps: usize,
    pub threads: usize,
    pub cell_updates_per_s: f64,
    /// Bytes the stencil must move per cell update at least: read one f64, write one f64.
    pub stencil_gb_per_s: f64,
    /// A plain parallel copy of the same array (read + write).
    pub copy_gb_per_s: f64,
    pub fraction_of_copy_bandwidth: f64,
}

pub fn bench(nx: usize, ny: usize, steps: usize) -> Bench {
    let mut g = Grid::new(nx, ny, |x, y| (x * 3.0).sin() + y);
    let b = Boundary::zero(nx, ny);
    let mut next = g.clone();
    let dt = stable_dt(nx, ny, 1.0) * 0.9;
    g.fill_ghosts(Edges::Dirichlet, &b);
    // warm up
    step(&g, &mut next, 1.0, dt, false);
    let t0 = std::time::Instant::now();
    for _ in 0..steps {
        step(&g, &mut next, 1.0, dt, false);
        std::mem::swap(&mut g, &mut next);
        g.fill_ghosts(Edges::Dirichlet, &b);
    }
    let st = t0.elapsed().as_secs_f64();
    let cells = (nx * ny * steps) as f64;
    let src = g.u.clone();
    let mut dst = vec![0.0f64; src.len()];
    let chunk = (nx + 2) * 16;
    dst.par_chunks_mut(chunk)
        .zip(src.par_chunks(chunk))
        .for_each(|(d, s)| d.copy_from_slice(s));
    let t1 = std::time::Instant::now();
    for _ in 0..steps {
        dst.par_chunks_mut(chunk)
            .zip(src.par_chunks(chunk))
            .for_each(|(d, s)| d.copy_from_slice(s));
        std::hint::black_box(&mut dst);
    }
    let ct = t1.elapsed().as_secs_f64();
    let bytes = (src.len() * 16 * steps) as f64;
    let stencil = cells * 16.0 / st / 1e9;
    let copy = bytes / ct / 1e9;
    Bench {
        nx,
        ny,
        steps,
        threads: rayon::current_num_threads(),
        cell_updates_per_s: cells / st,
        stencil_gb_per_s: stencil,
        copy_gb_per_s: copy,
        fraction_of_copy_bandwidth: stencil / copy,
    }
}
