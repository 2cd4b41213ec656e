//! The one sanitiser for untrusted text on its way to the screen.
//!
//! Log lines, object keys, job names and metric labels may hold terminal control sequences. Written to
//! the terminal as they are, they could move the cursor, change the window title, clear the screen or
//! worse. Every such string passes through [`sanitize`], which keeps printable text and shows every
//! control character as a visible escape (`\e`, `\x07`, `\u{9b}`), so that the user sees what was there
//! and nothing is interpreted.

use std::borrow::Cow;
use std::fmt::Write;

/// True if `c` must not reach the terminal as it is.
fn is_hostile(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{8}' | '\u{a}'..='\u{1f}' | '\u{7f}'..='\u{9f}'
        // bidirectional overrides and isolates can reorder what the user reads
        | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
    )
}

/// How a control character is shown: `\e`, `\n`, `\r`, `\xNN` below 0x80, else `\u{NNNN}`.
pub fn escape_into(c: char, out: &mut String) {
    match c {
        '\u{1b}' => out.push_str("\\e"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        c if (c as u32) < 0x80 => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

/// Where tabs stop: every this many columns.
pub const TAB_STOP: usize = 4;

/// Neutralise terminal control sequences; tabs become spaces. Borrowed when nothing needed changing.
pub fn sanitize(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c == '\t' || is_hostile(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    let mut col = 0usize;
    for c in s.chars() {
        if c == '\t' {
            let n = TAB_STOP - col % TAB_STOP;
            out.extend(std::iter::repeat_n(' ', n));
            col += n;
            continue;
        }
        if is_hostile(c) {
            let before = out.len();
            escape_into(c, &mut out);
            col += out.len() - before;
        } else {
            out.push(c);
            col += 1;
        }
    }
    Cow::Owned(out)
}

/// Sanitise bytes that may not be UTF-8 (log files, object heads): invalid bytes show as `\xNN`.
pub fn sanitize_bytes(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len());
    for chunk in b.utf8_chunks() {
        out.push_str(&sanitize(chunk.valid()));
        for byte in chunk.invalid() {
            let _ = write!(out, "\\x{byte:02x}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_text_is_borrowed() {
        assert!(matches!(sanitize("plain key/ünïcode"), Cow::Borrowed(_)));
    }

    #[test]
    fn escapes_are_shown_not_interpreted() {
        let s = sanitize("a\u{1b}[2Jb\u{1b}]0;pwned\u{7}c");
        assert_eq!(s, "a\\e[2Jb\\e]0;pwned\\x07c");
        assert!(!s.contains('\u{1b}'));
    }

    #[test]
    fn c1_bidi_and_newlines() {
        assert_eq!(sanitize("x\u{9b}31m"), "x\\u{9b}31m");
        assert_eq!(sanitize("ab\u{202e}cd"), "ab\\u{202e}cd");
        assert_eq!(sanitize("l1\nl2\r"), "l1\\nl2\\r");
    }

    #[test]
    fn tabs_expand_to_stops() {
        assert_eq!(sanitize("a\tb"), "a   b");
    }

    #[test]
    fn invalid_utf8_shows_hex() {
        assert_eq!(sanitize_bytes(b"ok\xff\x1b"), "ok\\xff\\e");
    }
}
