//! The binary in a real terminal (tmux): press `r`, wait (polling the pane) until both phases
//! succeeded, open the plots, see the heatmap, quit, and check the terminal was restored.
//! tmux must be installed (the test command installs it); without it this test fails.

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
        s.keys(&format!(
            "TANDEM_HOME={} TERM=xterm-256color {}; echo TANDEM-EXITED-$?",
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
