//! Terminal set-up and restore. The panic hook restores the terminal before anything else, so a panic
//! never leaves the user's shell in raw mode on the alternate screen.

use crossterm::{
    cursor,
    event::{DisableBracketedPaste, EnableBracketedPaste},
    execute,
    terminal::{disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen},
};
use ratatui::{backend::CrosstermBackend, Terminal};
use std::io::{stdout, Stdout};

pub type Term = Terminal<CrosstermBackend<Stdout>>;

/// Enter raw mode and the alternate screen, and install the restoring panic hook.
pub fn init() -> std::io::Result<Term> {
    install_panic_hook();
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
    Terminal::new(CrosstermBackend::new(stdout())).inspect_err(|_| restore())
}

/// Leave the alternate screen and raw mode. Safe to call more than once.
pub fn restore() {
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
    use std::io::Write;
    let mut out = std::io::stdout();
    let _ = out.write_all(notification(text).as_bytes());
    let _ = out.flush();
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
