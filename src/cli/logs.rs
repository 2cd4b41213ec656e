//! `tandem logs`: a run's own logs merged with its target's CloudWatch log groups (through the
//! same follower the TUI's Logs view uses), or one group (`--group G`), or what groups and
//! streams there are (`--list`).

use super::{journal_run, load_project, print_json, Failure, Global, PhaseArg};
use crate::aws::FailureKind;
use crate::fmt::{parse_when, stamp};
use crate::observe::cloudwatch::{self, CwLogs, Meter, TailSpec};
use crate::observe::filter::LineFilter;
use crate::observe::logbuf::LogLine;
use crate::pipeline::follow::{Follow, FollowError};
use crate::project::PhaseId;
use clap::Args;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Args, Debug, Default)]
pub struct LogsArgs {
    /// Run id (a unique prefix is enough; `last` is the newest).
    run: Option<String>,
    #[arg(long, value_enum)]
    phase: Option<PhaseArg>,
    /// A CloudWatch log group to tail (FilterLogEvents, de-duplicated by event id).
    #[arg(long)]
    group: Option<String>,
    /// Only these streams of --group (repeat; up to 100). With --list: a stream name prefix.
    #[arg(long = "stream")]
    streams: Vec<String>,
    /// With --group: a CloudWatch filter pattern. For a run: a regular expression (smart
    /// case; `!re` keeps the lines that do not match), over every source.
    #[arg(long)]
    filter: Option<String>,
    /// From when: 30s, 10m, 2h, 1d ago, epoch ms, or a time (2026-11-26T05:00:00Z).
    /// Default: 10 minutes ago for a group, the run's start for a run.
    #[arg(long)]
    since: Option<String>,
    /// Until when (same forms): a window instead of the newest events.
    #[arg(long)]
    until: Option<String>,
    /// A run's sources: pre, sol, cw (repeat or comma-separate; default all).
    #[arg(long = "source", value_delimiter = ',')]
    sources: Vec<String>,
    /// List log groups, or the streams of --group.
    #[arg(long)]
    list: bool,
    /// Seconds between CloudWatch polls while following (doubled on throttling).
    #[arg(long, default_value_t = 2.0)]
    poll: f64,
    #[arg(long, short)]
    follow: bool,
    /// Every byte as written, escaped (colours and progress redraws not interpreted); with
    /// --json, a `raw` field beside `line`.
    #[arg(long)]
    raw: bool,
    #[arg(long)]
    project: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

/// How lines are printed: as JSON (the text a person sees, styles stripped; the raw form with
/// `--raw`), or as text, coloured with SGR made from the line's styles when stdout is a terminal,
/// a line in the writing (a progress bar) redrawn in place there.
struct Printer {
    json: bool,
    raw: bool,
    tty: bool,
    /// A line in the writing is on the terminal's last row.
    live: bool,
}

impl Printer {
    fn new(json: bool, raw: bool) -> Printer {
        use std::io::IsTerminal;
        let tty = !json && std::io::stdout().is_terminal();
        Printer {
            json,
            raw,
            tty,
            live: false,
        }
    }

    /// One line: time, source (`pre`, `sol`, a CloudWatch stream), `!` for stderr, text.
    fn line(&mut self, l: &LogLine) {
        let source = match &l.tag {
            Some(t) => t.to_string(),
            None => l.phase.as_str()[..3].to_string(),
        };
        if self.json {
            let mut j = serde_json::json!({"at": l.at, "source": source, "stream": if l.stderr {"stderr"} else {"stdout"}, "line": l.text});
            if self.raw {
                j["raw"] = l.raw().into();
            }
            println!("{j}");
            return;
        }
        self.clear_live();
        println!("{}", self.text_of(l, &source));
    }

    /// A line in the writing: on a terminal, drawn over the last one; elsewhere not printed (it
    /// is printed once it ends).
    fn live(&mut self, l: &LogLine) {
        if !self.tty || self.raw {
            return;
        }
        let source = l.phase.as_str()[..3].to_string();
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = write!(out, "\r\x1b[2K{}", self.text_of(l, &source));
        let _ = out.flush();
        self.live = true;
    }

    fn clear_live(&mut self) {
        if std::mem::take(&mut self.live) {
            print!("\r\x1b[2K");
        }
    }

    fn text_of(&self, l: &LogLine, source: &str) -> String {
        let text = if self.raw {
            l.raw().to_string()
        } else if self.tty {
            crate::observe::ansi::to_sgr(&l.text, l.spans())
        } else {
            l.text.clone()
        };
        format!(
            "{} {}{} {}",
            stamp(l.at),
            source,
            if l.stderr { "!" } else { " " },
            text
        )
    }
}

impl LogsArgs {
    pub async fn run(self, g: &Global) -> Result<(), Failure> {
        if self.list || (self.run.is_none() && self.group.is_none()) {
            return self.list(g).await;
        }
        let now = chrono::Utc::now().timestamp_millis();
        let when = |s: &Option<String>| {
            s.as_deref()
                .map(|s| parse_when(s, now))
                .transpose()
                .map_err(Failure::bad)
        };
        let (since, until) = (when(&self.since)?, when(&self.until)?);
        if self.streams.len() > 100 {
            return Err(Failure::bad("at most 100 --stream (CloudWatch's limit)"));
        }
        let poll = Duration::from_secs_f64(self.poll.clamp(0.2, 3600.0));
        let every: crate::pipeline::follow::Every = Arc::new(move || poll);
        let (mut follow, filter) = match &self.run {
            None => {
                let cw = CwLogs::new(&g.aws(), Meter::default()).await;
                let spec = TailSpec {
                    group: self.group.clone().unwrap_or_default(),
                    streams: self.streams.clone(),
                    pattern: self.filter.clone(),
                    start_ms: since.unwrap_or(now - 600_000),
                    end_ms: until,
                    lookback_ms: 0,
                };
                (Follow::groups(cw, vec![spec], every), None)
            }
            Some(run) => (
                self.run_follow(g, run, since, until, every).await?,
                self.filter.as_deref().and_then(LineFilter::parse),
            ),
        };
        follow = follow.follow(self.follow);
        let mut out = Printer::new(self.json, self.raw);
        while let Some(b) = follow.next().await {
            for e in &b.errors {
                match e {
                    // throttled while following: said, and the next poll waits longer
                    FollowError::Cloud(c) if c.kind == FailureKind::Throttled && self.follow => {
                        eprintln!("{e} (polls slow down)")
                    }
                    // one group alone: its errors end the command
                    FollowError::Cloud(_) if self.run.is_none() => {
                        return Err(Failure::failed(e.to_string()))
                    }
                    _ => eprintln!("{e}"),
                }
            }
            let mut lines = b.lines;
            lines.sort_by_key(|l| l.at);
            let shown = |l: &LogLine| filter.as_ref().is_none_or(|f| f.matches(&l.text));
            for l in lines.iter().filter(|l| shown(l)) {
                out.line(l);
            }
            if let Some(l) = b.live.iter().rev().find(|l| shown(l)) {
                out.live(l);
            }
        }
        out.clear_live();
        Ok(())
    }

    /// A run's logs: its phases' stdout and stderr, and with `--source cw` (or a target that names
    /// log groups and no `--source`) its target's CloudWatch groups from the run's start.
    async fn run_follow(
        &self,
        g: &Global,
        run: &str,
        since: Option<i64>,
        until: Option<i64>,
        every: crate::pipeline::follow::Every,
    ) -> Result<Follow, Failure> {
        let ws = g.workspace();
        let r = journal_run(&ws, run)?;
        for s in &self.sources {
            if !["pre", "sol", "cw", "preprocess", "solve"].contains(&s.as_str()) {
                return Err(Failure::bad(format!(
                    "--source {s}: expected pre, sol or cw (repeat or comma-separate)"
                )));
            }
        }
        let want = |s: &str| self.sources.is_empty() || self.sources.iter().any(|x| x == s);
        let only: Option<PhaseId> = self.phase.map(Into::into);
        let phases: Vec<PhaseId> = r
            .phases
            .iter()
            .map(|p| p.phase)
            .filter(|p| only.is_none_or(|q| q == *p))
            .filter(|p| want(&p.as_str()[..3]) || want(p.as_str()))
            .collect();
        let mut f = Follow::run(&ws, &r.id, &r.parts(&phases));
        if want("cw") {
            let watch = load_project(self.project.as_deref())
                .ok()
                .and_then(|p| p.targets.get(&r.target).map(|t| t.cloudwatch.clone()));
            match watch {
                Some(w) if !w.log_groups.is_empty() => {
                    let start = since.unwrap_or(r.created.timestamp_millis() - 60_000);
                    let cw = CwLogs::new(&w.aws(&g.aws()), Meter::default()).await;
                    let specs = w
                        .log_groups
                        .iter()
                        .map(|grp| TailSpec {
                            group: grp.clone(),
                            start_ms: start,
                            end_ms: until,
                            ..Default::default()
                        })
                        .collect();
                    f = f.with_cloud(cw, specs, every, Duration::ZERO);
                }
                _ if self.sources.iter().any(|s| s == "cw") => {
                    return Err(Failure::bad(format!(
                        "--source cw: target `{}` names no log_groups in the project file",
                        r.target
                    )))
                }
                _ => {}
            }
        }
        Ok(f)
    }

    /// `tandem logs --list`: log groups (under --group as a prefix), or with `--group G` and
    /// `--stream PREFIX`... the streams of G.
    async fn list(&self, g: &Global) -> Result<(), Failure> {
        let cw = CwLogs::new(&g.aws(), Meter::default()).await;
        let fail = |e: cloudwatch::CwError| Failure::failed(e.to_string());
        match (&self.group, self.list) {
            (Some(grp), true) if !grp.ends_with('/') || !self.streams.is_empty() => {
                let prefix = self.streams.first().map(String::as_str);
                let streams = cw.streams(grp, prefix, 1000).await.map_err(fail)?;
                if self.json {
                    print_json(&streams);
                } else {
                    for s in &streams {
                        println!(
                            "{}  {}",
                            s.last_event_ms.map(stamp).unwrap_or_else(|| "-".repeat(12)),
                            s.name
                        );
                    }
                }
            }
            _ => {
                let prefix = self.group.as_deref();
                let groups = cw.groups(prefix, 1000).await.map_err(fail)?;
                if self.json {
                    print_json(&groups);
                } else {
                    if groups.is_empty() {
                        println!(
                            "no log groups{} (ParallelCluster writes {}…, HyperPod {}…)",
                            prefix.map(|p| format!(" under {p}")).unwrap_or_default(),
                            cloudwatch::SUGGESTED_GROUP_PREFIXES[0],
                            cloudwatch::SUGGESTED_GROUP_PREFIXES[1]
                        );
                    }
                    for gr in &groups {
                        println!(
                            "{:>10}  {}",
                            crate::fmt::bytes(gr.stored_bytes.max(0) as u64),
                            gr.name
                        );
                    }
                }
            }
        }
        Ok(())
    }
}
