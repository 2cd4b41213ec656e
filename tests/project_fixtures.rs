//! Every valid fixture loads; every invalid one fails with the error its first line expects
//! (`# expect: LINE:COL: message`), naming the file, the position and the key.

use std::path::Path;

fn fixtures(kind: &str) -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/projects")
        .join(kind);
    let mut v: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no fixtures in {}", dir.display());
    v
}

#[test]
fn valid_projects_load() {
    for f in fixtures("valid") {
        tandem::project::load(&f).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn invalid_projects_fail_with_position_and_reason() {
    let mut failures = Vec::new();
    for f in fixtures("invalid") {
        let src = std::fs::read_to_string(&f).unwrap();
        let expect = src
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{}: first line must be `# expect: ...`", f.display()));
        match tandem::project::load(&f) {
            Ok(_) => failures.push(format!("{}: loaded, expected an error", f.display())),
            Err(e) => {
                let shown = e.to_string();
                let after_file = shown
                    .strip_prefix(&f.display().to_string())
                    .unwrap_or(&shown);
                if !after_file.contains(expect.trim_end())
                    || !shown.starts_with(&f.display().to_string())
                {
                    failures.push(format!(
                        "{}:\n  expected: {expect}\n  got:      {shown}",
                        f.display()
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
