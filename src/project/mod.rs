//! The project file, `tandem.toml`: parsing with file/line:col errors, validation, templating.
//!
//! A project is read in two steps: serde reads the TOML into raw structs (unknown keys and wrong types
//! are errors with the position toml reports), then [`validate`] checks what serde cannot (references
//! between sections, placeholders, names) using the spans kept with `toml::Spanned`.

pub mod edit;
mod model;
mod raw;
pub mod sweep;
mod target;
mod template;
mod validate;

pub use model::*;
pub use sweep::{Element, Sweep};
pub use target::*;
pub use template::{render, Vars, PLACEHOLDERS};
pub use validate::expand_tilde;

use std::fmt;
use std::path::{Path, PathBuf};

/// Where in a file a problem is: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

/// A project file that could not be used, with where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectError {
    pub file: PathBuf,
    pub pos: Option<Pos>,
    /// Dotted key path where known, e.g. `phases.solve.engine`.
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for ProjectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(p) = self.pos {
            write!(f, ":{}:{}", p.line, p.col)?;
        }
        write!(f, ": ")?;
        if let Some(k) = &self.key {
            write!(f, "`{k}`: ")?;
        }
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for ProjectError {}

/// Line and column (1-based, in characters) of byte offset `at` in `src`.
pub fn pos_of(src: &str, at: usize) -> Pos {
    let at = at.min(src.len());
    let before = &src[..floor_char_boundary(src, at)];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    Pos {
        line,
        col: before[line_start..].chars().count() + 1,
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The dotted key a line of TOML sets: the last `[table]` header above it plus the key before `=`.
/// Used to name the key in errors that serde reports by position only.
fn key_at(src: &str, line: usize) -> Option<String> {
    let lines: Vec<&str> = src.lines().collect();
    let this = lines.get(line.checked_sub(1)?)?.trim();
    let key = this
        .split_once('=')
        .map(|(k, _)| k.trim().trim_matches('"').to_string())
        .filter(|k| !k.is_empty() && !k.starts_with('['))?;
    let table = lines[..line - 1]
        .iter()
        .rev()
        .map(|l| l.trim())
        .find(|l| l.starts_with('['))
        .map(|l| {
            l.trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or("")
                .trim()
                .to_string()
        });
    Some(match table {
        Some(t) if !t.is_empty() => format!("{t}.{key}"),
        _ => key,
    })
}

/// The file name tandem looks for in a directory.
pub const FILE_NAME: &str = "tandem.toml";

/// Resolve what the user named (a file, a directory holding tandem.toml, or nothing) to a project file.
/// Nothing means: `./tandem.toml` if present, else the bundled sample.
pub fn locate(arg: Option<&Path>) -> PathBuf {
    match arg {
        Some(p) if p.is_dir() => p.join(FILE_NAME),
        Some(p) => p.to_path_buf(),
        None => {
            let here = PathBuf::from(FILE_NAME);
            if here.is_file() {
                here
            } else {
                sample_project_path()
            }
        }
    }
}

/// The bundled sample project. Looked for beside the binary's source tree first (cargo run), then next
/// to the executable (an installed copy with sample-projects beside it).
pub fn sample_project_path() -> PathBuf {
    let rel = Path::new("sample-projects")
        .join("heat-diffusion")
        .join(FILE_NAME);
    let from_src = Path::new(env!("CARGO_MANIFEST_DIR")).join(&rel);
    if from_src.is_file() {
        return from_src;
    }
    if let Ok(exe) = std::env::current_exe() {
        for dir in exe.ancestors().skip(1).take(4) {
            let p = dir.join(&rel);
            if p.is_file() {
                return p;
            }
        }
    }
    from_src
}

/// Read and validate a project file.
pub fn load(path: &Path) -> Result<Project, ProjectError> {
    let src = std::fs::read_to_string(path).map_err(|e| ProjectError {
        file: path.to_path_buf(),
        pos: None,
        key: None,
        message: format!("cannot read the project file: {e}"),
    })?;
    parse(path, &src)
}

/// Parse and validate project text; `path` is used for messages and to resolve relative paths.
pub fn parse(path: &Path, src: &str) -> Result<Project, ProjectError> {
    let raw: raw::RawProject = toml::from_str(src).map_err(|e| {
        let pos = e.span().map(|s| pos_of(src, s.start));
        ProjectError {
            file: path.to_path_buf(),
            pos,
            key: pos.and_then(|p| key_at(src, p.line)),
            message: e.message().trim().to_string(),
        }
    })?;
    validate::validate(path, src, raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_chars() {
        let s = "ab\nçd = 1\n";
        assert_eq!(pos_of(s, 0), Pos { line: 1, col: 1 });
        assert_eq!(pos_of(s, 3), Pos { line: 2, col: 1 });
        assert_eq!(pos_of(s, 6), Pos { line: 2, col: 3 });
    }

    #[test]
    fn sample_project_is_valid() {
        let p = load(&sample_project_path()).expect("sample project loads");
        assert_eq!(p.name, "heat-diffusion");
        assert_eq!(p.preprocess().engine, Engine::Ray);
        assert_eq!(p.solve().engine, Engine::Slurm);
    }

    #[test]
    fn the_samples_sweep_is_valid_and_makes_six_elements() {
        let f = sample_project_path().with_file_name("sweep.toml");
        let p = load(&f).expect("the sample's sweep loads");
        let sw = p.solve().sweep.as_ref().expect("solve is swept");
        assert_eq!(sw.len(), 6);
        assert_eq!(sw.max_parallel, Some(2));
        assert_eq!(
            p.solve().output_template(Some(&sw.element(4))),
            "runs/{run}/sweep/alpha=1.0/edge_temp=50/"
        );
    }
}
