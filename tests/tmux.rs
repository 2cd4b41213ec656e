//! The binary in a real terminal (tmux): press `r`, wait (polling the pane) until both phases
//! succeeded, open the plots, see the heatmap, quit, and check the terminal was restored; and a
//! phase printing real tools' colours and progress bars and hostile sequences: styled in the Logs
//! view, the pane's title and screen untouched, `R` showing every byte escaped.
//! tmux must be installed (the test command installs it); without it this test fails.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

struct Session {
    name: String,
    socket: String,
}

impl Session {
    fn tmux(&self, args: &[&str]) -> String {
        let o = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux is required for this test (apt-get install tmux)");
        String::from_utf8_lossy(&o.stdout).into_owned()
    }
    fn pane(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", &self.name])
    }
    fn keys(&self, k: &str) {
        self.tmux(&["send-keys", "-t", &self.name, k]);
    }
    fn wait_for(&self, what: &str, ok: impl Fn(&str) -> bool, secs: u64) -> String {
        let t0 = Instant::now();
        loop {
            let p = self.pane();
            if ok(&p) {
                return p;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(secs),
                "timed out waiting for {what}; the pane shows:\n{p}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Session {
    /// A tmux server of its own (socket in `home`) with a bash prompt in a `w`x`h` pane, tandem
    /// typed into it with TANDEM_HOME=home; the pane prints TANDEM-EXITED-<code> when tandem ends.
    fn start_tandem(name: &str, home: &std::path::Path, w: u16, h: u16) -> Session {
        Session::start_tandem_on(name, home, w, h, None)
    }

    /// As [`Session::start_tandem`], on the project at `project` (default: the bundled sample).
    fn start_tandem_on(
        name: &str,
        home: &std::path::Path,
        w: u16,
        h: u16,
        project: Option<&std::path::Path>,
    ) -> Session {
        let s = Session {
            name: name.into(),
            socket: home.join("tmux.sock").display().to_string(),
        };
        s.tmux(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            name,
            "-x",
            &w.to_string(),
            "-y",
            &h.to_string(),
            "bash",
            "--norc",
            "--noprofile",
        ]);
        let project = project.map_or(String::new(), |p| format!(" '{}'", p.display()));
        s.keys(&format!(
            "TANDEM_HOME={} TERM=xterm-256color {}{project}; echo TANDEM-EXITED-$?",
            home.display(),
            env!("CARGO_BIN_EXE_tandem")
        ));
        s.keys("Enter");
        s
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(["kill-server"])
            .output();
    }
}

#[test]
fn run_the_pipeline_from_the_tui_and_see_the_heatmap() {
    let home = tempfile::tempdir().unwrap();
    let s = Session::start_tandem("tandem-e2e", home.path(), 100, 30);
    s.wait_for(
        "the pipeline view",
        |p| p.contains("1 preprocess") && p.contains("No run yet"),
        30,
    );
    s.keys("r");
    s.wait_for(
        "both phases to succeed",
        |p| p.matches("succeeded").count() >= 2 && p.contains("2 solve"),
        120,
    );
    s.keys("6");
    let p = s.wait_for(
        "the heatmap",
        |p| p.contains("snapshot 12/12") && p.contains("▀"),
        30,
    );
    assert!(p.contains("temperature field"), "{p}");
    s.keys("?");
    s.wait_for("help", |p| p.contains("next snapshot"), 10);
    s.keys("Escape");
    s.keys("q");
    let p = s.wait_for("tandem to exit", |p| p.contains("TANDEM-EXITED-0"), 20);
    // restored: back on the main screen, the TUI gone, the cursor visible
    assert!(
        !p.contains("1 Pipeline"),
        "the TUI is still on screen:\n{p}"
    );
    assert_eq!(
        s.tmux(&["display-message", "-p", "-t", &s.name, "#{alternate_on}"])
            .trim(),
        "0"
    );
    assert_eq!(
        s.tmux(&["display-message", "-p", "-t", &s.name, "#{cursor_flag}"])
            .trim(),
        "1"
    );
}

#[test]
fn ctrl_c_quits_from_a_popup_and_restores_the_terminal() {
    let home = tempfile::tempdir().unwrap();
    let s = Session::start_tandem("tandem-e2e-2", home.path(), 80, 24);
    s.wait_for("the TUI", |p| p.contains("1 Pipe"), 30);
    s.keys(":");
    s.wait_for("the palette", |p| p.contains("palette"), 10);
    s.keys("C-c");
    s.wait_for("tandem to exit", |p| p.contains("TANDEM-EXITED-0"), 20);
    assert_eq!(
        s.tmux(&["display-message", "-p", "-t", &s.name, "#{alternate_on}"])
            .trim(),
        "0"
    );
}

/// A project whose preprocess phase prints what real tools wrote (pytest's colours, a tqdm bar) and
/// sequences that would act on a terminal (a title, a clipboard write, clear screen).
fn noisy_project(dir: &std::path::Path) -> std::path::PathBuf {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/logs");
    let hostile = dir.join("hostile.log");
    std::fs::write(
        &hostile,
        b"before \x1b]0;pwned\x07title \x1b]52;c;cHduZWQ=\x07clip \x1b[2Jcleared \x1b[?1049lscreen\n",
    )
    .unwrap();
    let cat = format!(
        "cat '{}' '{}' '{}'",
        fixtures.join("pytest.log").display(),
        fixtures.join("tqdm.log").display(),
        hostile.display()
    );
    common::local_project(
        dir,
        "noisy",
        &format!("{cat} && mkdir -p {{output}} && touch {{output}}/_SUCCESS"),
        "mkdir -p {output} && touch {output}/done",
        "",
    )
}

#[test]
fn coloured_logs_show_styled_and_hostile_bytes_never_act_on_the_terminal() {
    let home = tempfile::tempdir().unwrap();
    let project = noisy_project(home.path());
    let s = Session::start_tandem_on("tandem-e2e-3", home.path(), 120, 40, Some(&project));
    s.wait_for("the pipeline view", |p| p.contains("1 preprocess"), 30);
    let title = s.tmux(&["display-message", "-p", "-t", &s.name, "#{pane_title}"]);
    s.keys("r");
    s.wait_for(
        "both phases to succeed",
        |p| p.matches("succeeded").count() >= 2,
        120,
    );
    s.keys("4");
    let p = s.wait_for(
        "the logs",
        |p| p.contains("┌ logs") && p.contains("1 failed") && p.contains("cleared"),
        30,
    );
    // the tqdm bar in its last state, one line; pytest's summary in colour
    assert!(p.contains("100%|██████████| 3000000/3000000"), "{p}");
    assert!(
        !p.contains("49609/3000000"),
        "an old redraw of the bar shows:\n{p}"
    );
    let coloured = s.tmux(&["capture-pane", "-p", "-e", "-t", &s.name]);
    let line = coloured.lines().find(|l| l.contains("1 failed")).unwrap();
    assert!(
        line.contains("m1 failed"),
        "pytest's '1 failed' is not drawn in a colour: {line:?}"
    );
    // nothing acted on the terminal: the title is as it was, the screen holds the TUI, the
    // title and clipboard writes are shown escaped
    assert!(p.contains(r"before \e]0;pwned\x07title"), "{p}");
    assert!(p.contains("clip cleared screen"), "{p}");
    assert!(p.contains("4 Logs"), "the TUI is gone:\n{p}");
    assert_eq!(
        s.tmux(&["display-message", "-p", "-t", &s.name, "#{pane_title}"]),
        title
    );
    assert_eq!(
        s.tmux(&["display-message", "-p", "-t", &s.name, "#{alternate_on}"])
            .trim(),
        "1"
    );
    // R: every byte escaped
    s.keys("R");
    let p = s.wait_for("the raw view", |p| p.contains("raw bytes"), 10);
    assert!(p.contains(r"\e[2Jcleared"), "{p}");
    assert!(p.contains(r"\e[31m"), "{p}");
    s.keys("R");
    s.wait_for("the styled view again", |p| !p.contains("raw bytes"), 10);
    s.keys("q");
    s.wait_for("tandem to exit", |p| p.contains("TANDEM-EXITED-0"), 20);
}
