//! The TUI's heart: the event loop, the state and its one `update`, each screen's state and
//! handlers in a file of its own, and the backend that performs Commands.
//!
//! One owner of state: terminal events and backend answers become `Msg`s that go through `update`.
//! The loop redraws only when something changed, at most every 16 ms, and sleeps when idle: the clock
//! ticks only while something on screen moves (a running phase, a listing in flight).
//!
//! Shared by the screens: `state` (AppState and the small types every screen uses), `msg`
//! (Msg, Action), `command`, `keys` (the key tables), `status` (the status line), `layout` (screen
//! geometry, moving a selection), `prompt` (popups and prompts).

pub mod backend;
pub mod bench;
pub mod cloudwatch;
pub mod clusters;
pub mod command;
pub mod datasets;
pub mod jobs;
pub mod keys;
pub mod layout;
pub mod logs;
pub mod metrics;
pub mod msg;
pub mod picker;
pub mod pipeline;
pub mod plots;
pub mod prompt;
pub mod runs;
pub mod state;
pub mod status;
pub mod transfers;
pub mod update;

use crate::pipeline::Workspace;
use crate::project::{Project, ProjectError};
use crate::theme::Theme;
use backend::Backend;
use command::Command;
use futures::StreamExt;
use msg::Msg;
use state::AppState;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

pub struct Options {
    pub project: Result<Project, ProjectError>,
    pub target: Option<String>,
    pub theme: String,
    pub workspace: Workspace,
    /// How to reach S3 when the project's storage is `s3://`.
    pub s3: crate::storage::s3::S3Options,
    /// Draw one frame and exit (used to measure start-up time).
    pub first_frame_only: bool,
    /// Lines the Logs view keeps per run.
    pub log_lines: usize,
    /// How plots reach the screen.
    pub graphics: crate::plot::pixels::Graphics,
}

const FRAME: Duration = Duration::from_millis(16);

/// The commands the TUI starts with.
pub fn initial_commands(s: &AppState) -> Vec<Command> {
    let mut v = vec![Command::ReloadRuns];
    if s.project.is_ok() {
        v.push(Command::ListBuckets);
        v.push(Command::ResumeRuns);
    }
    v
}

pub async fn run(opts: Options) -> anyhow::Result<()> {
    let (theme, theme_err) = Theme::load(&opts.theme, Theme::user_dir().as_deref());
    let target = match &opts.project {
        Ok(p) => opts
            .target
            .clone()
            .unwrap_or_else(|| p.default_target.clone()),
        Err(_) => opts.target.clone().unwrap_or_else(|| "local".into()),
    };
    let store = match &opts.project {
        Ok(p) => Some(opts.workspace.open_store(p, &target, &opts.s3).await),
        Err(_) => None,
    };
    let store_desc = store.as_ref().map(|s| s.describe()).unwrap_or_default();
    let mut s = AppState::new(
        opts.project.clone(),
        target.clone(),
        store_desc,
        theme,
        chrono::Utc::now(),
    );
    s.logs.buf = crate::observe::logbuf::LogBuffer::new(opts.log_lines.max(100));
    s.color_depth = crate::theme::ColorDepth::from_env();
    if let Ok(d) = std::env::current_dir() {
        s.download_dir = format!("{}/", d.display());
    }
    if let Some(e) = theme_err {
        s.status = Some(state::Status {
            text: e.to_string(),
            level: state::Level::Error,
            at: s.now,
        });
    }
    let (tx, mut rx) = mpsc::channel::<Msg>(1024);
    let mut backend = Backend::new(
        tx,
        opts.workspace.clone(),
        opts.project.clone().ok(),
        target,
        store,
    )
    .with_aws(crate::aws::AwsOpts {
        profile: opts.s3.profile.clone(),
        region: opts.s3.region.clone(),
        ..Default::default()
    });

    let mut term = crate::tui::init()?;
    let _guard = crate::tui::Guard;
    let size = term.size()?;
    s.size = (size.width, size.height);
    term.draw(|f| crate::views::draw(f, &s))?;
    if opts.first_frame_only {
        return Ok(());
    }
    // the graphics protocol for plots: the flag, else the terminal's answer, else the
    // environment. The terminal is asked now and its answer read off the UI task, for at most
    // QUERY_TIMEOUT, while the loop runs; keys are read from the terminal only after that (the
    // ones typed meanwhile come back with the answer and are handled first).
    let graphics = opts.graphics;
    let asked = crate::plot::pixels::ask(graphics);
    let mut answer = Some(tokio::task::spawn_blocking(move || {
        if asked {
            crate::plot::pixels::read_answer(std::io::stdin(), crate::plot::pixels::QUERY_TIMEOUT)
        } else {
            crate::plot::pixels::Answer::default()
        }
    }));
    for c in initial_commands(&s) {
        backend.perform(c);
    }
    // TANDEM_FRAME_TIMES=FILE: a line a frame (benchmarks): its time on the UI task in
    // microseconds (drawn and handed to the terminal writer), then the time the terminal took
    // to take the frames written since the last line (the one before), and their bytes
    let mut frame_log = std::env::var_os("TANDEM_FRAME_TIMES")
        .and_then(|p| std::fs::File::create(p).ok())
        .map(std::io::BufWriter::new);
    let mut typed: std::collections::VecDeque<Msg> = std::collections::VecDeque::new();
    let mut events: Option<crossterm::event::EventStream> = None;
    let mut dirty = false;
    let mut last_draw = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    // SIGTERM, SIGHUP (the SSH session went away) and SIGINT from outside quit like `q`
    let mut stop = stop_signals();
    loop {
        let needs_tick = s.needs_tick();
        let msg = if let Some(k) = typed.pop_front() {
            Some(k)
        } else {
            let wait_draw = async {
                if dirty {
                    tokio::time::sleep_until((last_draw + FRAME).into()).await
                } else {
                    std::future::pending::<()>().await
                }
            };
            let next_event = async {
                match events.as_mut() {
                    Some(e) => e.next().await,
                    None => std::future::pending().await,
                }
            };
            let answered = async {
                match answer.as_mut() {
                    Some(h) => h.await.unwrap_or_default(),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
            ev = next_event => match ev {
                Some(Ok(crossterm::event::Event::Key(k))) => Some(Msg::Key(k)),
                Some(Ok(crossterm::event::Event::Resize(w, h))) => Some(Msg::Resize(w, h)),
                Some(Ok(_)) => None,
                Some(Err(e)) => Some(Msg::Error(format!("terminal: {e}"))),
                None => Some(Msg::Key(crossterm::event::KeyEvent::new(crossterm::event::KeyCode::Char('c'), crossterm::event::KeyModifiers::CONTROL))),
            },
            a = answered => {
                answer = None;
                let picker = crate::plot::pixels::picker(graphics, &a);
                s.plots.pixels = picker
                    .as_ref()
                    .map(|p| format!("{:?}", p.protocol_type()).to_lowercase());
                backend.set_picker(picker);
                typed.extend(crate::plot::pixels::typed_keys(&a.typed).into_iter().map(Msg::Key));
                events = Some(crossterm::event::EventStream::new());
                // a plot loaded before the protocol was known is asked for again, as an image
                if s.plots.pixels.is_some() && !s.plots.files.is_empty() {
                    for c in plots::load_plot(&mut s) {
                        backend.perform(c);
                    }
                }
                continue;
            }
            m = rx.recv() => m,
            _ = stop.recv() => Some(Msg::Key(crossterm::event::KeyEvent::new(crossterm::event::KeyCode::Char('c'), crossterm::event::KeyModifiers::CONTROL))),
            _ = tick.tick(), if needs_tick => Some(Msg::Tick(chrono::Utc::now())),
            _ = wait_draw => {
                // the terminal still taking the last frame: this one a little later
                if crate::tui::writing() {
                    last_draw = Instant::now() - FRAME + Duration::from_millis(2);
                    continue;
                }
                let t0 = Instant::now();
                term.draw(|f| crate::views::draw(f, &s))?;
                if let Some(w) = frame_log.as_mut() {
                    use std::io::Write;
                    let (bytes, wrote) = crate::tui::last_frame();
                    let _ = writeln!(w, "{} {} {bytes}", t0.elapsed().as_micros(), wrote.as_micros());
                    let _ = w.flush();
                }
                last_draw = Instant::now();
                dirty = false;
                continue;
            }
            }
        };
        let Some(first) = msg else { continue };
        // take everything already waiting before drawing again
        let mut batch = vec![first];
        while let Ok(m) = rx.try_recv() {
            batch.push(m);
            if batch.len() >= 256 {
                break;
            }
        }
        for m in batch {
            for c in update::update(&mut s, m) {
                if c == Command::Quit {
                    // the terminal first (a quit should look instant), then local phases are
                    // stopped and recorded before the process ends
                    drop(term);
                    crate::tui::restore();
                    backend.shutdown().await;
                    return Ok(());
                }
                if let Command::Notify { text } = &c {
                    crate::tui::notify(text);
                    continue;
                }
                if let Command::Copy { text } = &c {
                    crate::tui::send(logs::osc52(text).as_bytes());
                    continue;
                }
                backend.perform(c);
            }
        }
        backend.set_view(s.view);
        dirty = true;
    }
}

/// SIGTERM, SIGHUP and SIGINT, merged: each becomes a quit.
fn stop_signals() -> mpsc::Receiver<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let (tx, rx) = mpsc::channel(1);
    for kind in [
        SignalKind::terminate(),
        SignalKind::hangup(),
        SignalKind::interrupt(),
    ] {
        let Ok(mut s) = signal(kind) else { continue };
        let tx = tx.clone();
        tokio::spawn(async move {
            while s.recv().await.is_some() {
                if tx.send(()).await.is_err() {
                    return;
                }
            }
        });
    }
    rx
}
