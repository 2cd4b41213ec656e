//! Line filters for the log view, the way `less` reads `&pattern`: a regular expression (plain words
//! are one too), case-insensitive unless it holds an upper-case letter, a leading `!` keeps the
//! lines that do *not* match. A pattern that is not a valid regex is matched as plain text.

use regex::Regex;

#[derive(Debug, Clone)]
pub struct LineFilter {
    /// What the user typed.
    pub text: String,
    pub invert: bool,
    re: Regex,
    /// The pattern was not a valid regex and is matched literally.
    pub literal: bool,
}

impl PartialEq for LineFilter {
    fn eq(&self, o: &Self) -> bool {
        self.text == o.text
    }
}

impl LineFilter {
    /// `None` for an empty pattern (no filter).
    pub fn parse(text: &str) -> Option<LineFilter> {
        let (invert, pat) = match text.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        if pat.is_empty() {
            return None;
        }
        let ci = if pat.chars().any(char::is_uppercase) {
            ""
        } else {
            "(?i)"
        };
        let (re, literal) = match Regex::new(&format!("{ci}{pat}")) {
            Ok(r) => (r, false),
            Err(_) => (
                Regex::new(&format!("{ci}{}", regex::escape(pat))).ok()?,
                true,
            ),
        };
        Some(LineFilter {
            text: text.to_string(),
            invert,
            re,
            literal,
        })
    }

    pub fn matches(&self, line: &str) -> bool {
        self.re.is_match(line) != self.invert
    }
}

/// What "an error line" means for jumping to the first one: stderr, or these words.
pub fn looks_like_error(line: &str) -> bool {
    static RE: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"(?i)\b(error|exception|traceback|fatal|panic(ked)?|failed|segmentation fault)\b",
        )
        .unwrap_or_else(|_| Regex::new("$^").expect("a valid regex"))
    })
    .is_match(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_smartcase_inverted_and_literal_fallback() {
        let f = LineFilter::parse("err(or)?").unwrap();
        assert!(f.matches("An ERROR here") && f.matches("err") && !f.matches("fine"));
        let f = LineFilter::parse("Error").unwrap();
        assert!(
            f.matches("Error x") && !f.matches("error x"),
            "upper case: exact"
        );
        let f = LineFilter::parse("!debug").unwrap();
        assert!(!f.matches("DEBUG x") && f.matches("info y"));
        let f = LineFilter::parse("f(oo").unwrap();
        assert!(f.literal && f.matches("call f(oo now") && !f.matches("foo"));
        assert!(LineFilter::parse("").is_none() && LineFilter::parse("!").is_none());
        assert!(looks_like_error("Traceback (most recent call last):"));
        assert!(!looks_like_error("errors=0 terrorize"));
    }
}
