//! Every example in README.md works as written. Each ```toml block loads: a whole project as it
//! is, a block of targets inside the bundled sample (as README tells users to add them). Each
//! ```sh block that README marks `<!-- runs offline -->` runs, line by line, against the bundled
//! sample in a fresh data dir, with no AWS and no services: every line must succeed.

use std::path::{Path, PathBuf};
use std::process::Command;

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap()
}

/// The fenced blocks of `lang`, with the line of README each starts on and whether the line
/// before the fence marks it as runnable offline.
fn blocks(text: &str, lang: &str) -> Vec<(usize, String, bool)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim() == format!("```{lang}") {
            let marked = i > 0 && lines[i - 1].trim() == "<!-- runs offline -->";
            let start = i + 1;
            let mut j = start;
            while j < lines.len() && lines[j].trim() != "```" {
                j += 1;
            }
            out.push((start + 1, lines[start..j].join("\n"), marked));
            i = j;
        }
        i += 1;
    }
    out
}

#[test]
fn every_toml_example_loads() {
    let sample = tandem::project::sample_project_path();
    let base = std::fs::read_to_string(&sample).unwrap();
    let text = readme();
    let found = blocks(&text, "toml");
    assert!(found.len() >= 4, "README has {} toml blocks", found.len());
    let mut bad = Vec::new();
    for (line, block, _) in found {
        // a whole project is loaded as it is; targets go into the sample, as README says
        let src = if block.contains("[project]") {
            block.clone()
        } else {
            format!("{base}\n{block}\n")
        };
        if let Err(e) = tandem::project::parse(&sample, &src) {
            bad.push(format!("README.md:{line}: {e}"));
        }
    }
    assert!(bad.is_empty(), "\n{}", bad.join("\n"));
}

#[test]
fn every_offline_shell_example_runs() {
    let text = readme();
    let runnable: Vec<(usize, String)> = blocks(&text, "sh")
        .into_iter()
        .filter(|b| b.2)
        .map(|b| (b.0, b.1))
        .collect();
    assert!(
        !runnable.is_empty(),
        "README marks no block `<!-- runs offline -->`"
    );
    let d = tempfile::tempdir().unwrap();
    // `tandem` on PATH is the binary under test
    let bin = d.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_tandem"), bin.join("tandem")).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let work: PathBuf = d.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    for (start, block) in runnable {
        for (k, line) in block.lines().enumerate() {
            let cmd = line.trim();
            if cmd.is_empty() || cmd.starts_with('#') {
                continue;
            }
            let o = Command::new("sh")
                .arg("-c")
                .arg(cmd)
                .current_dir(&work)
                .env("PATH", &path)
                .env("TANDEM_HOME", d.path().join("home"))
                .env_remove("AWS_PROFILE")
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "README.md:{}: `{cmd}` failed ({:?}):\n{}{}",
                start + k,
                o.status.code(),
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }
}
