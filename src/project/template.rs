//! `{name}` placeholders in project strings. The set of names is closed, so an unknown placeholder is a
//! validation error with its position rather than a surprise at run time.

use std::collections::BTreeMap;

/// Every placeholder a project string may use, with what it becomes.
pub const PLACEHOLDERS: &[(&str, &str)] = &[
    ("tandem", "path of the running tandem executable"),
    ("run", "the run id"),
    (
        "input",
        "the phase's input location (dataset, or the handoff for the solve phase)",
    ),
    ("output", "the phase's output location"),
    ("run_dir", "the run's directory for logs and metrics"),
    ("project_dir", "the directory holding tandem.toml"),
];

pub type Vars = BTreeMap<&'static str, String>;

/// Byte ranges (relative to `s`) and names of placeholders that are not known, or unclosed braces.
pub fn check(s: &str) -> Result<(), (usize, String)> {
    let mut rest = s;
    let mut base = 0;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        if let Some(stripped) = after.strip_prefix('{') {
            // `{{` is a literal brace
            base += open + 2;
            rest = stripped;
            continue;
        }
        let Some(close) = after.find('}') else {
            return Err((
                base + open,
                "unclosed `{` (write `{{` for a literal brace)".into(),
            ));
        };
        let name = &after[..close];
        if !PLACEHOLDERS.iter().any(|(n, _)| *n == name) {
            let known: Vec<_> = PLACEHOLDERS
                .iter()
                .map(|(n, _)| format!("{{{n}}}"))
                .collect();
            return Err((
                base + open,
                format!(
                    "unknown placeholder `{{{name}}}`, expected one of {}",
                    known.join(", ")
                ),
            ));
        }
        base += open + 1 + close + 1;
        rest = &after[close + 1..];
    }
    Ok(())
}

/// Substitute placeholders. Names missing from `vars` are left as they are.
pub fn render(s: &str, vars: &Vars) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        if let Some(stripped) = after.strip_prefix('{') {
            out.push('{');
            rest = stripped;
            continue;
        }
        match after.find('}') {
            Some(close) => {
                let name = &after[..close];
                match vars.get(name) {
                    Some(v) => out.push_str(v),
                    None => {
                        out.push('{');
                        out.push_str(name);
                        out.push('}');
                    }
                }
                rest = &after[close + 1..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_known_and_literal_braces() {
        let mut v = Vars::new();
        v.insert("run", "r1".into());
        assert_eq!(render("runs/{run}/x{{y}", &v), "runs/r1/x{y}");
        assert!(check("runs/{run}/out").is_ok());
        assert!(check("a {{literal}}").is_ok());
    }

    #[test]
    fn unknown_and_unclosed_are_errors() {
        assert_eq!(check("ab{nope}").unwrap_err().0, 2);
        assert!(check("x{run").unwrap_err().1.contains("unclosed"));
    }
}
