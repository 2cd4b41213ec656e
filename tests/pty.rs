//! The binary on a pseudo-terminal whose other end plays the terminal: tandem asks it which
//! graphics it has; a terminal that answers "kitty" gets the heatmap as a kitty image, keys typed
//! while the question was open are handled, and a terminal that never answers is waited for only
//! until the deadline, with the keys typed meanwhile handled after it.

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Term {
    child: Child,
    out: Arc<Mutex<Vec<u8>>>,
    input: std::fs::File,
    _home: tempfile::TempDir,
}

impl Term {
    fn start(home: tempfile::TempDir) -> Term {
        let size = nix::pty::Winsize {
            ws_row: 30,
            ws_col: 100,
            ws_xpixel: 1000,
            ws_ypixel: 600,
        };
        let pty = nix::pty::openpty(Some(&size), None).unwrap();
        let slave = |fd: &OwnedFd| Stdio::from(fd.try_clone().unwrap());
        let child = Command::new(env!("CARGO_BIN_EXE_tandem"))
            .current_dir(home.path())
            .env("TANDEM_HOME", home.path())
            .env("TERM", "xterm-256color")
            .env_remove("TMUX")
            .env_remove("KITTY_WINDOW_ID")
            .env_remove("TERM_PROGRAM")
            .env_remove("LC_TERMINAL")
            .env_remove("TANDEM_GRAPHICS")
            .stdin(slave(&pty.slave))
            .stdout(slave(&pty.slave))
            .stderr(slave(&pty.slave))
            .spawn()
            .unwrap();
        drop(pty.slave);
        let master = std::fs::File::from(pty.master);
        let input = master.try_clone().unwrap();
        let out = Arc::new(Mutex::new(Vec::new()));
        let sink = out.clone();
        std::thread::spawn(move || {
            let mut m = master;
            let mut buf = [0u8; 65536];
            while let Ok(n) = m.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Term {
            child,
            out,
            input,
            _home: home,
        }
    }

    /// Wait until what tandem wrote, from byte `from` on, holds `what`; the end of it.
    fn wait_for(&self, what: &[u8], from: usize, secs: u64) -> usize {
        let t0 = Instant::now();
        loop {
            {
                let o = self.out.lock().unwrap();
                if let Some(i) = o[from.min(o.len())..]
                    .windows(what.len())
                    .position(|w| w == what)
                {
                    return from + i + what.len();
                }
                assert!(
                    t0.elapsed() < Duration::from_secs(secs),
                    "timed out waiting for {:?}; tandem wrote {} bytes, the last: {:?}",
                    String::from_utf8_lossy(what),
                    o.len(),
                    String::from_utf8_lossy(&o[o.len().saturating_sub(600)..])
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.input.write_all(bytes).unwrap();
        self.input.flush().unwrap();
    }

    fn quit(mut self) {
        self.send(b"q");
        let t0 = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                assert!(st.success(), "{st:?}");
                return;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "tandem did not quit"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Term {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_terminal_that_answers_kitty_gets_the_heatmap_as_a_kitty_image() {
    let home = tempfile::tempdir().unwrap();
    // two finished runs of the sample to plot (the TUI shows the newest; `c` compares)
    for _ in 0..2 {
        let o = Command::new(env!("CARGO_BIN_EXE_tandem"))
            .current_dir(home.path())
            .env("TANDEM_HOME", home.path())
            .arg("run")
            .arg(tandem::project::sample_project_path())
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let mut t = Term::start(home);
    // the question: kitty's graphics query ... then a status report, which ends it
    let kitty_q = t.wait_for(b"\x1b_Gi=31,s=1,v=1,a=q", 0, 30);
    let asked = t.wait_for(b"\x1b[5n", kitty_q, 10);
    // the answer, with `6` (the Plots view) typed in the middle of it
    t.send(b"\x1b_Gi=31;OK\x1b\\6\x1b[?62;22c\x1b[6;20;10t\x1b[0n");
    // the heatmap arrives as a kitty image: a transmission (`a=T`) with the image data
    let img = t.wait_for(b"\x1b_G", asked, 60);
    let o = t.out.lock().unwrap().clone();
    let seq = String::from_utf8_lossy(&o[img..(img + 300).min(o.len())]).into_owned();
    assert!(seq.contains("a=T"), "{seq:?}");
    // compared with the older run: two images side by side
    std::thread::sleep(Duration::from_millis(300));
    let before = t.out.lock().unwrap().len();
    t.send(b"c");
    let first = t.wait_for(b"a=T", before, 60);
    t.wait_for(b"a=T", first, 60);
    t.wait_for(b"this run", before, 10);
    t.quit();
}

#[test]
fn a_terminal_that_never_answers_is_waited_for_until_the_deadline_and_no_key_is_lost() {
    let mut t = Term::start(tempfile::tempdir().unwrap());
    let asked = t.wait_for(b"\x1b[5n", 0, 30);
    // typed while the question is open (no answer ever comes): `:` opens the palette
    t.send(b":");
    let shown = t.wait_for(b"palette", asked, 20);
    // after the deadline keys go straight to the TUI: Esc closes it, then the help
    t.send(b"\x1b");
    std::thread::sleep(Duration::from_millis(300));
    t.send(b"?");
    t.wait_for(b"keys", shown, 20);
    t.send(b"\x1b");
    std::thread::sleep(Duration::from_millis(300));
    t.quit();
}
