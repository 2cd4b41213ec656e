//! `tandem runs`: the journal's runs; `runs show RUN` one run's manifests; `runs resume [RUN]`
//! picks up what a stopped tandem left unfinished.

use super::run::{drive, print_phase_changes, print_run_end};
use super::{journal_run, print_json, Failure, Global};
use crate::fmt::duration as fmt_duration;
use crate::pipeline::resume;
use crate::pipeline::{Manifest, RunState, MANIFEST};
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Args, Debug)]
pub struct RunsArgs {
    #[command(subcommand)]
    cmd: Option<RunsCmd>,
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand, Debug)]
enum RunsCmd {
    /// One run's manifests (what each phase wrote next to its outputs as tandem-manifest.json: the
    /// project's hash, input ETags, commands, engine ids, version, times), else its journal record.
    Show {
        /// Run id (a unique prefix is enough; `last` is the newest).
        run: String,
        #[arg(long)]
        project: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Two runs side by side, from the journal: the project file's keys that changed, where and
    /// how each phase ran, how long, how it ended, a sweep's elements by their parameters, the
    /// inputs that differ by content (ETag), and the last value of each plotted series column.
    Diff {
        /// Run ids (a unique prefix is enough; `last` is the newest).
        a: String,
        b: String,
        /// The project file whose plots name the series (default: the one A was started from).
        #[arg(long)]
        project: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Pick up a run that a stopped tandem left unfinished (re-attach to its jobs, follow their
    /// logs from where they stood, submit what is left, each phase once). Without RUN, every such
    /// run. When another live tandem drives the run, follow it until it ends instead.
    Resume {
        /// Run id (a unique prefix is enough; `last` is the newest).
        run: Option<String>,
        /// The project file (default: the one each run was started from).
        #[arg(long)]
        project: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
}

impl RunsArgs {
    pub fn resumes(&self) -> bool {
        matches!(self.cmd, Some(RunsCmd::Resume { .. }))
    }

    pub async fn run(self, g: &Global) -> Result<(), Failure> {
        match self.cmd {
            Some(RunsCmd::Show { run, project, json }) => {
                show(g, &run, project.as_deref(), json).await
            }
            Some(RunsCmd::Diff {
                a,
                b,
                project,
                json,
            }) => diff(g, &a, &b, project.as_deref(), json).await,
            Some(RunsCmd::Resume { run, project, json }) => {
                resume_runs(g, run.as_deref(), project.as_deref(), json).await
            }
            None => list(g, self.json),
        }
    }
}

fn list(g: &Global, json: bool) -> Result<(), Failure> {
    let ws = g.workspace();
    let l = ws
        .journal
        .load()
        .map_err(|e| Failure::failed(format!("reading {}: {e}", ws.journal.path().display())))?;
    for s in &l.skipped {
        note!("warning: skipped {s}");
    }
    if json {
        print_json(&l.runs);
        return Ok(());
    }
    if l.runs.is_empty() {
        emit!("no runs yet");
        return Ok(());
    }
    let now = chrono::Utc::now();
    emit!(
        "{:<22} {:<10} {:<26} {:<9} {:<8} project",
        "id",
        "state",
        "phases",
        "took",
        "target"
    );
    for r in &l.runs {
        let ph: Vec<String> = r
            .phases
            .iter()
            .map(|p| format!("{}:{}", p.phase, p.state))
            .collect();
        emit!(
            "{:<22} {:<10} {:<26} {:<9} {:<8} {}",
            r.id,
            r.state.as_str(),
            ph.join(" "),
            r.duration(now).map(fmt_duration).unwrap_or_default(),
            r.target,
            crate::observe::sanitize(&r.project)
        );
    }
    Ok(())
}

async fn show(g: &Global, run: &str, project: Option<&Path>, json: bool) -> Result<(), Failure> {
    let ws = g.workspace();
    let r = journal_run(&ws, run)?;
    // the manifests as written next to the outputs; the journal's view where none was written
    let p = resume::project_of(&r, None)
        .or_else(|_| resume::project_of(&r, Some(&crate::project::locate(project))));
    let store = match &p {
        Ok((p, _)) => Some(ws.open_store(p, &r.target, &g.s3()).await),
        Err(_) => None,
    };
    let mut out = Vec::new();
    for ph in &r.phases {
        let (b, k) = ph.output_at();
        let key = format!("{}/{MANIFEST}", k.trim_end_matches('/'));
        let written = match &store {
            Some(s) => match s.head(b, &key).await {
                Ok(meta) => s
                    .get_range(b, &key, 0..meta.size)
                    .await
                    .ok()
                    .and_then(|d| serde_json::from_slice::<Manifest>(&d).ok()),
                Err(_) => None,
            },
            None => None,
        };
        out.push(written.unwrap_or_else(|| Manifest::of(&r, ph.phase, None, vec![])));
    }
    if json {
        print_json(&serde_json::json!({"run": r.id, "phases": out}));
        return Ok(());
    }
    for m in &out {
        emit!(
            "{} {} · {} · {} · engine id {} · {} inputs · project hash {}",
            r.id,
            m.phase,
            m.state.map(|s| s.as_str()).unwrap_or_default(),
            crate::observe::sanitize(m.engine.as_deref().unwrap_or_default()),
            crate::observe::sanitize(m.engine_id.as_deref().unwrap_or("-")),
            m.inputs.len(),
            m.project_hash,
        );
        for e in &m.elements {
            let d = e
                .duration(chrono::Utc::now())
                .map(crate::fmt::duration)
                .unwrap_or_default();
            emit!(
                "  {} [{}] {} · {} {d} · engine id {}{}",
                e.state.glyph(),
                e.index,
                e.label(),
                e.state,
                crate::observe::sanitize(e.engine_id.as_deref().unwrap_or("-")),
                e.message
                    .as_deref()
                    .map(|m| format!(" · {}", crate::observe::sanitize(m)))
                    .unwrap_or_default()
            );
        }
    }
    Ok(())
}

/// `tandem runs diff A B`.
async fn diff(
    g: &Global,
    a: &str,
    b: &str,
    project: Option<&Path>,
    json: bool,
) -> Result<(), Failure> {
    use crate::pipeline::diff::ProjectDiff;
    let ws = g.workspace();
    let (ra, rb) = (journal_run(&ws, a)?, journal_run(&ws, b)?);
    // the last values of the plotted series are read as the Plots view reads them; without the
    // project file, the journal's side alone
    let d = match resume::project_of(&ra, project) {
        Ok((p, _)) => {
            let store = ws.open_store(&p, &ra.target, &g.s3()).await;
            crate::plot::load::Reader::new(ws.clone(), Arc::new(p), Some(store))
                .diff_runs(&ra.id, &rb.id)
                .await
        }
        Err(_) => crate::pipeline::diff::diff(&ws.journal, &ra.id, &rb.id),
    }
    .map_err(|e| Failure::failed(e.to_string()))?;
    if json {
        print_json(&d);
        return Ok(());
    }
    let clean = |s: &str| crate::observe::sanitize(s).into_owned();
    let w = 22;
    emit!("{:<w$} {:<32} {}", "", clean(&d.a), clean(&d.b));
    let row = |f: &crate::pipeline::diff::Field| {
        let mark = if f.differs() { "≠" } else { " " };
        emit!("{mark} {:<20} {:<32} {}", f.name, f.a, f.b);
    };
    d.runs.iter().for_each(row);
    match &d.project {
        ProjectDiff::Same => emit!("  project file: the same"),
        ProjectDiff::NotKept { hash } => {
            emit!("  project file: the text of {hash} was not kept (a run from before tandem kept it)")
        }
        ProjectDiff::Changed { keys } => {
            emit!("  project file: {} key(s) differ", keys.len());
            for k in keys {
                emit!(
                    "≠ {:<40} {:<24} {}",
                    clean(&k.key),
                    clean(k.a.as_deref().unwrap_or("(none)")),
                    clean(k.b.as_deref().unwrap_or("(none)"))
                );
            }
        }
    }
    for ph in &d.phases {
        emit!("{}", ph.phase);
        ph.fields.iter().for_each(row);
        let i = &ph.inputs;
        match &i.note {
            Some(n) if i.same + i.changed.len() + i.only_a.len() + i.only_b.len() == 0 => {
                emit!("  inputs: {n}")
            }
            n => emit!(
                "  inputs: {} the same, {} changed, {} only in A, {} only in B{}",
                i.same,
                i.changed.len(),
                i.only_a.len(),
                i.only_b.len(),
                n.as_ref().map(|n| format!(" ({n})")).unwrap_or_default()
            ),
        }
        for c in i.changed.iter().take(20) {
            emit!("≠ {:<40} {:<24} {}", c.key, c.a, c.b);
        }
        for e in &ph.elements {
            let mark = if e.a != e.b { "≠" } else { " " };
            emit!(
                "{mark} [{}] {:<20} {}",
                e.params,
                e.a.as_deref().unwrap_or("-"),
                e.b.as_deref().unwrap_or("-")
            );
        }
    }
    if !d.series.is_empty() {
        emit!("last values");
        for s in &d.series {
            let v = |x: Option<f64>| x.map(|x| x.to_string()).unwrap_or_else(|| "-".into());
            let mark = if s.a != s.b { "≠" } else { " " };
            emit!(
                "{mark} {:<40} {:<24} {}",
                clean(&format!("{} · {}", s.plot, s.column)),
                v(s.a),
                v(s.b)
            );
        }
    }
    Ok(())
}

/// `tandem runs resume [RUN]`.
async fn resume_runs(
    g: &Global,
    run: Option<&str>,
    project: Option<&Path>,
    json: bool,
) -> Result<(), Failure> {
    let ws = g.workspace();
    let runs = match run {
        Some(id) => vec![journal_run(&ws, id)?],
        None => ws
            .journal
            .orphans()
            .map_err(|e| Failure::failed(format!("reading the journal: {e}")))?,
    };
    if runs.is_empty() && !json {
        note!("nothing to resume: every run in the journal ended or is driven by a live tandem");
    }
    let mut ok = true;
    for r in runs {
        if r.state.is_terminal() {
            if !json {
                note!("run {} already {}", r.id, r.state);
            }
            print_run_end(&r, json);
            ok &= r.state == RunState::Succeeded;
            continue;
        }
        let id = r.id.clone();
        let r = loop {
            if let Ok(Some(who)) = ws.journal.driver(&id) {
                if !json {
                    note!("run {id} is driven by {who}: following it");
                }
                let mut last = Default::default();
                let end =
                    resume::follow_driven(&ws, &id, |r| print_phase_changes(r, &mut last, json))
                        .await
                        .map_err(|e| Failure::failed(format!("reading the journal: {e}")))?;
                match end {
                    Some(end) => {
                        print_run_end(&end, json);
                        break end;
                    }
                    // its driver stopped: take it over
                    None => continue,
                }
            }
            let r = journal_run(&ws, &id)?;
            let (p, changed) =
                resume::project_of(&r, project).map_err(|e| Failure::bad(e.to_string()))?;
            if changed && !json {
                note!(
                    "note: {} changed since run {id} started; its current settings are used",
                    p.file.display()
                );
            }
            if !json {
                note!(
                    "resuming run {id} · {} · target {} · logs in {}",
                    p.name,
                    r.target,
                    ws.run_dir(&id).display()
                );
            }
            let p = Arc::new(p);
            let store = ws.open_store(&p, &r.target, &g.s3()).await;
            let end = drive(ws.clone(), p, store, r, json).await?;
            if end.state.is_terminal() {
                break end;
            }
            // another tandem took the lease between our look and our try: follow it
        };
        ok &= r.state == RunState::Succeeded;
    }
    match ok {
        true => Ok(()),
        false => Err(Failure::failed(String::new())),
    }
}
