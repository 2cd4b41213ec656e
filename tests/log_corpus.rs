//! Logs real tools wrote (tests/fixtures/logs: tqdm, curl, pip, pytest, ls, a Ray job), read as
//! tandem reads a followed log: appended to a file in pieces and tailed, the line being written
//! looked at between pieces. What shows holds no control character, progress bars show their last
//! state, and colours come through as styles.

use std::io::Write;
use std::path::Path;
use tandem::observe::ansi::{Color, Shown, BOLD};
use tandem::observe::tail::FileTail;

/// Every line of `name` as tailing it shows them, the file written `chunk` bytes at a time, and the
/// live lines seen on the way.
fn tail(name: &str, chunk: usize) -> (Vec<Shown>, Vec<Shown>) {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/logs")
        .join(name);
    let bytes = std::fs::read(&fixture).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    let mut f = std::fs::File::create(&path).unwrap();
    let mut t = FileTail::new(path);
    let (mut lines, mut live) = (Vec::new(), Vec::new());
    for piece in bytes.chunks(chunk) {
        f.write_all(piece).unwrap();
        f.flush().unwrap();
        lines.extend(t.poll(1 << 20, false).unwrap());
        live.extend(t.live());
    }
    lines.extend(t.poll(1 << 20, true).unwrap());
    for l in lines.iter().chain(&live) {
        let bad: Vec<char> = l
            .text
            .chars()
            .filter(|c| c.is_control() || ('\u{202a}'..='\u{202e}').contains(c))
            .collect();
        assert!(bad.is_empty(), "{name}: {bad:?} left in {:?}", l.text);
    }
    (lines, live)
}

fn texts(lines: &[Shown]) -> Vec<&str> {
    lines.iter().map(|l| l.text.as_str()).collect()
}

/// The colours of the parts of `l` that show `part`.
fn colours_of(l: &Shown, part: &str) -> Vec<(Option<Color>, u8)> {
    let at = l.text.find(part).unwrap() as u32;
    l.spans()
        .iter()
        .filter(|s| s.start <= at && at < s.end)
        .map(|s| (s.style.fg, s.style.attrs))
        .collect()
}

#[test]
fn tqdm_shows_its_last_state_on_one_line_and_updates_it_while_written() {
    let (lines, live) = tail("tqdm.log", 97);
    assert_eq!(lines.len(), 1, "{:?}", texts(&lines));
    let last = &lines[0];
    assert!(
        last.text.starts_with("100%|██████████| 3000000/3000000"),
        "{}",
        last.text
    );
    assert_eq!(colours_of(last, "██"), [(Some(Color::Basic(2)), 0)]);
    // followed, the bar moved forward in place
    assert!(live.len() > 10, "{}", live.len());
    assert!(live
        .iter()
        .any(|l| l.text.contains("%|") && !l.text.starts_with("100%")));
    // the raw view keeps every byte, escaped
    assert!(last.look.as_ref().unwrap().raw().contains(r"\e[32m"));
}

#[test]
fn nested_tqdm_bars_keep_the_written_lines_and_the_outer_bar_finishes() {
    let (lines, _) = tail("tqdm-nested.log", 256);
    let t = texts(&lines);
    for epoch in [
        "epoch 0: loss 1.000",
        "epoch 1: loss 0.500",
        "epoch 2: loss 0.333",
    ] {
        assert!(t.contains(&epoch), "{t:?}");
    }
    let last = t.iter().rev().find(|l| !l.trim().is_empty()).unwrap();
    assert!(last.starts_with("epoch: 100%|"), "{last}");
}

#[test]
fn curl_progress_meter_ends_at_one_hundred_percent() {
    let (lines, _) = tail("curl.log", 64);
    let t = texts(&lines);
    assert!(t[0].contains("% Total"), "{t:?}");
    let meter = t.last().unwrap();
    // the last redraw only: 19.0M of 19.0M received
    assert!(
        meter.trim_start().starts_with("100 19.0M  100 19.0M"),
        "{meter}"
    );
}

#[test]
fn pips_rich_bar_on_a_terminal_shows_its_end_in_its_256_colours() {
    let (lines, _) = tail("pip.log", 500);
    let t = texts(&lines);
    let bar = lines
        .iter()
        .find(|l| l.text.contains("16.3/16.3 MB"))
        .unwrap_or_else(|| panic!("{t:?}"));
    assert!(!bar.text.contains("0.0/16.3"), "{}", bar.text);
    assert_eq!(colours_of(bar, "━"), [(Some(Color::Indexed(70)), 0)]);
    assert!(t.contains(&"Successfully downloaded numpy"), "{t:?}");
}

#[test]
fn pytest_colours_come_through_as_styles() {
    let (lines, _) = tail("pytest.log", 128);
    let summary = lines
        .iter()
        .rev()
        .find(|l| l.text.contains("1 failed"))
        .unwrap();
    assert_eq!(
        colours_of(summary, "1 failed"),
        [(Some(Color::Basic(1)), BOLD)]
    );
    assert_eq!(
        colours_of(summary, "1 passed"),
        [(Some(Color::Basic(2)), 0)]
    );
    assert_eq!(
        colours_of(summary, "1 skipped"),
        [(Some(Color::Basic(3)), 0)]
    );
    assert!(summary.text.starts_with("===="), "{}", summary.text);
}

#[test]
fn ls_colours_name_folders_links_and_programs() {
    let (lines, _) = tail("ls.log", 40);
    let line = |name: &str| lines.iter().find(|l| l.text.ends_with(name)).unwrap();
    assert_eq!(
        colours_of(line("data"), "data"),
        [(Some(Color::Basic(4)), BOLD)]
    );
    assert_eq!(
        colours_of(line("run.sh"), "run.sh"),
        [(Some(Color::Basic(2)), BOLD)]
    );
    let link = lines.iter().find(|l| l.text.contains("latest")).unwrap();
    assert_eq!(colours_of(link, "latest"), [(Some(Color::Basic(6)), BOLD)]);
    assert!(link.text.ends_with("latest -> data"), "{}", link.text);
}

#[test]
fn ray_job_driver_log_shows_each_tasks_bar_finished_and_its_coloured_prefix() {
    // Ray's log monitor turns each redraw into a line of its own, prefixed by the task
    let (lines, _) = tail("ray-tqdm.log", 333);
    let t = texts(&lines);
    for shard in 0..3 {
        let bar = format!("shard {shard}:");
        assert!(t.iter().any(|l| l.starts_with(&bar)), "{bar} not in {t:?}");
    }
    // (Ray's log monitor did not pass on shard 0's last redraw; the others')
    for shard in 1..3 {
        let done = format!("shard {shard}: 100%|██████████| 40/40");
        assert!(
            t.iter().any(|l| l.starts_with(&done)),
            "{done} not in {t:?}"
        );
    }
    let prefix = lines
        .iter()
        .find(|l| l.text.starts_with("(shard pid="))
        .unwrap();
    assert_eq!(colours_of(prefix, "(shard"), [(Some(Color::Basic(6)), 0)]);
    assert!(t.iter().any(|l| l.starts_with("merge: 100%|")), "{t:?}");
    assert!(t.contains(&"all shards done"), "{t:?}");
}
