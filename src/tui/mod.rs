//! Terminal set-up and restore. The panic hook restores the terminal before anything else, so a panic
//! never leaves the user's shell in raw mode on the alternate screen.

use crossterm::{
    cursor,
    event::{DisableBracketedPaste, EnableBracketedPaste},
    execute,
    terminal::{disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen},
};
use ratatui::{backend::CrosstermBackend, Terminal};
use std::io::{stdout, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};

pub type Term = Terminal<CrosstermBackend<FrameOut>>;

/// Standard output for the frames (and whatever else the TUI writes to the terminal, so it all
/// arrives in the order written): what a frame draws is gathered and, when ratatui flushes at
/// its end, handed whole to the terminal writer thread, so the UI task never waits for the
/// terminal (tmux or a slow SSH link take a full repaint of a heatmap in several ms) and a frame
/// reaches the terminal in one write, not in standard output's 1 KiB pieces. While a frame is
/// being written no other is drawn ([`writing`]): the terminal is never more than one frame
/// behind. Dropped unflushed it writes nothing (a panic inside a frame leaves no half frame).
#[derive(Default)]
pub struct FrameOut {
    frame: Vec<u8>,
}

impl Write for FrameOut {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.frame.extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.frame.is_empty() {
            return Ok(());
        }
        PENDING.fetch_add(1, Relaxed);
        let frame = std::mem::take(&mut self.frame);
        writer().send(frame).map_err(|_| {
            PENDING.fetch_sub(1, Relaxed);
            std::io::Error::other("the terminal writer has stopped")
        })
    }
}

/// Frames handed to the writer and not yet written.
static PENDING: AtomicUsize = AtomicUsize::new(0);
/// Set by [`restore`]: frames still queued then are dropped, never written over the user's shell.
static CLOSED: AtomicBool = AtomicBool::new(false);
/// The bytes of the frames written since [`last_frame`] was asked, and the microseconds the
/// terminal took to take them.
static WRITTEN_BYTES: AtomicU64 = AtomicU64::new(0);
static WRITTEN_MICROS: AtomicU64 = AtomicU64::new(0);

fn writer() -> &'static std::sync::mpsc::Sender<Vec<u8>> {
    static TX: std::sync::OnceLock<std::sync::mpsc::Sender<Vec<u8>>> = std::sync::OnceLock::new();
    TX.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
        let spawned = std::thread::Builder::new()
            .name("terminal-out".into())
            .spawn(move || {
                for frame in rx {
                    let t0 = std::time::Instant::now();
                    {
                        // standard output's lock: nothing else written lands inside a frame
                        let mut out = stdout().lock();
                        if !CLOSED.load(Relaxed) {
                            let _ = out.write_all(&frame).and_then(|_| out.flush());
                        }
                    }
                    WRITTEN_BYTES.fetch_add(frame.len() as u64, Relaxed);
                    WRITTEN_MICROS.fetch_add(t0.elapsed().as_micros() as u64, Relaxed);
                    PENDING.fetch_sub(1, Relaxed);
                }
            });
        if spawned.is_err() {
            // no thread: the receiver is gone, so frames fail to send and say so
            return std::sync::mpsc::channel().0;
        }
        tx
    })
}

/// Whether a frame is still being written to the terminal (draw the next one after).
pub fn writing() -> bool {
    PENDING.load(Relaxed) > 0
}

/// The bytes written to the terminal since this was last asked, and how long writing them took.
pub fn last_frame() -> (u64, std::time::Duration) {
    (
        WRITTEN_BYTES.swap(0, Relaxed),
        std::time::Duration::from_micros(WRITTEN_MICROS.swap(0, Relaxed)),
    )
}

/// Enter raw mode and the alternate screen, and install the restoring panic hook.
pub fn init() -> std::io::Result<Term> {
    install_panic_hook();
    CLOSED.store(false, Relaxed);
    enable_raw_mode()?;
    if let Err(e) = execute!(
        stdout(),
        EnterAlternateScreen,
        EnableBracketedPaste,
        cursor::Hide
    ) {
        restore();
        return Err(e);
    }
    Terminal::new(CrosstermBackend::new(FrameOut::default())).inspect_err(|_| restore())
}

/// Leave the alternate screen and raw mode. Safe to call more than once.
pub fn restore() {
    // the frames handed over are written first (for a second at most: the terminal may be
    // gone); then, under standard output's lock, any still queued never are
    let t0 = std::time::Instant::now();
    while writing() && t0.elapsed() < std::time::Duration::from_secs(1) {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let out = stdout();
    let _held = out.lock();
    CLOSED.store(true, Relaxed);
    let _ = execute!(
        stdout(),
        DisableBracketedPaste,
        LeaveAlternateScreen,
        cursor::Show
    );
    let _ = disable_raw_mode();
}

fn install_panic_hook() {
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        tracing::error!("panic: {info}");
        prev(info);
    }));
}

/// Restores the terminal when dropped: every exit path of the TUI, early returns included.
pub struct Guard;

impl Drop for Guard {
    fn drop(&mut self) {
        restore();
    }
}

/// The bytes of a notification: BEL, then OSC 9 (kitty, iTerm2, WezTerm, foot and others show it as
/// a desktop notification; terminals that do not know it ignore it). Control characters in the text
/// are dropped so that it cannot end the sequence early.
pub fn notification(text: &str) -> String {
    let clean: String = text.chars().filter(|c| !c.is_control()).take(200).collect();
    format!("\x07\x1b]9;{clean}\x07")
}

/// Ring the bell and raise a notification where the terminal supports one.
pub fn notify(text: &str) {
    send(notification(text).as_bytes());
}

/// Write `bytes` to the terminal after the frames handed over so far (in the order the program
/// wrote them, never inside a frame).
pub fn send(bytes: &[u8]) {
    let mut out = FrameOut::default();
    let _ = out.write_all(bytes).and_then(|_| out.flush());
}

#[cfg(test)]
mod tests {
    #[test]
    fn notifications_cannot_carry_control_sequences() {
        assert_eq!(
            super::notification("solve \x1b]0;x\x07done\n"),
            "\x07\x1b]9;solve ]0;xdone\x07"
        );
    }
}
