//! `{name}` placeholders in project strings. The set of names is closed, so an unknown placeholder is a
//! validation error with its position rather than a surprise at run time. A phase with a sweep adds
//! `{element}` and one `{param.NAME}` per parameter of its sweep.

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

/// What each placeholder becomes, for one phase (and one element of its sweep).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Vars(BTreeMap<String, String>);

impl Vars {
    pub fn new() -> Vars {
        Vars::default()
    }
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.insert(name.into(), value.into());
    }
    pub fn get(&self, name: &str) -> Option<&String> {
        self.0.get(name)
    }
}

/// Byte offset (relative to `s`) and why, of the first placeholder that is not known, or of an
/// unclosed brace. `sweep` is the parameters of the phase's sweep (None: the phase has none).
pub fn check(s: &str, sweep: Option<&[String]>) -> Result<(), (usize, String)> {
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
        if let Some(param) = name.strip_prefix("param.") {
            match sweep {
                None => {
                    return Err((
                        base + open,
                        format!("`{{{name}}}`: this phase has no sweep that defines `{param}`"),
                    ))
                }
                Some(names) if !names.iter().any(|n| n == param) => {
                    return Err((
                        base + open,
                        format!(
                        "`{{{name}}}`: no element of the sweep defines `{param}` (it defines {})",
                        names.join(", ")
                    ),
                    ))
                }
                Some(_) => {}
            }
        } else if name == "element" && sweep.is_none() {
            return Err((
                base + open,
                "`{element}` is the index of a sweep's element: this phase has no sweep".into(),
            ));
        } else if name != "element" && !PLACEHOLDERS.iter().any(|(n, _)| *n == name) {
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
        v.insert("run", "r1");
        assert_eq!(render("runs/{run}/x{{y}", &v), "runs/r1/x{y}");
        assert!(check("runs/{run}/out", None).is_ok());
        assert!(check("a {{literal}}", None).is_ok());
    }

    #[test]
    fn unknown_and_unclosed_are_errors() {
        assert_eq!(check("ab{nope}", None).unwrap_err().0, 2);
        assert!(check("x{run", None).unwrap_err().1.contains("unclosed"));
    }

    #[test]
    fn sweep_placeholders_need_a_sweep_that_defines_them() {
        let names = vec!["alpha".to_string(), "t_edge".to_string()];
        assert!(check("a={param.alpha} e={element}", Some(&names)).is_ok());
        let (at, why) = check("x {param.beta}", Some(&names)).unwrap_err();
        assert_eq!(at, 2);
        assert!(
            why.contains("no element of the sweep defines `beta`"),
            "{why}"
        );
        assert!(why.contains("alpha, t_edge"), "{why}");
        assert!(check("{param.alpha}", None)
            .unwrap_err()
            .1
            .contains("no sweep"));
        assert!(check("{element}", None).unwrap_err().1.contains("no sweep"));
        let mut v = Vars::new();
        v.insert("param.alpha", "0.5");
        assert_eq!(render("a{param.alpha}", &v), "a0.5");
    }
}
