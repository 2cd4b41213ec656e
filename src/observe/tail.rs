//! Tail log files by byte offset: each poll reads only the bytes added since the last one.

use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

#[derive(Debug)]
pub struct FileTail {
    pub path: PathBuf,
    offset: u64,
    partial: Vec<u8>,
    /// Bytes went onto `partial` since [`FileTail::live`] last looked.
    grew: bool,
}

use super::ansi::MAX_LINE;
use super::ansi::{log_line, Shown};

impl FileTail {
    pub fn new(path: PathBuf) -> FileTail {
        FileTail {
            path,
            offset: 0,
            partial: Vec::new(),
            grew: false,
        }
    }

    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// New complete lines since the last call, as they show ([`log_line`]), at most `max_bytes`
    /// read per call. With `flush`, a trailing partial line is returned too.
    pub fn poll(&mut self, max_bytes: u64, flush: bool) -> std::io::Result<Vec<Shown>> {
        let mut out = Vec::new();
        let mut f = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e),
        };
        let len = f.metadata()?.len();
        if len < self.offset {
            // truncated or replaced: start over
            self.offset = 0;
            self.partial.clear();
        }
        if len > self.offset {
            f.seek(SeekFrom::Start(self.offset))?;
            let mut buf = Vec::new();
            f.take(max_bytes).read_to_end(&mut buf)?;
            self.offset += buf.len() as u64;
            let mut start = 0;
            for nl in memchr::memchr_iter(b'\n', &buf) {
                if self.partial.is_empty() {
                    // no copy of a line that came whole
                    out.push(log_line(&buf[start..nl]));
                } else {
                    let mut line = std::mem::take(&mut self.partial);
                    line.extend_from_slice(&buf[start..nl]);
                    out.push(log_line(&line));
                }
                start = nl + 1;
            }
            self.partial.extend_from_slice(&buf[start..]);
            self.grew |= start < buf.len();
            if self.partial.len() > MAX_LINE {
                // a progress bar redrawn for long without a newline: its last redraw is what
                // shows
                if let Some(cr) = memchr::memrchr(b'\r', &self.partial).filter(|cr| *cr > 0) {
                    self.partial.drain(..cr);
                }
            }
            if self.partial.len() > MAX_LINE {
                out.push(log_line(&self.partial));
                self.partial.clear();
            }
        }
        if flush && !self.partial.is_empty() {
            out.push(log_line(&self.partial));
            self.partial.clear();
        }
        Ok(out)
    }

    /// The line being written now (a progress bar redrawn with carriage returns, no newline
    /// yet) as it shows, when it changed since the last look.
    pub fn live(&mut self) -> Option<Shown> {
        let grew = std::mem::take(&mut self.grew);
        (grew && !self.partial.is_empty()).then(|| log_line(&self.partial))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn reads_only_new_bytes_and_joins_partial_lines() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.log");
        let mut f = std::fs::File::create(&p).unwrap();
        let mut t = FileTail::new(p.clone());
        f.write_all(b"one\ntw").unwrap();
        let texts = |t: &mut FileTail| -> Vec<String> {
            t.poll(1 << 20, false)
                .unwrap()
                .into_iter()
                .map(|s| s.text)
                .collect()
        };
        assert_eq!(texts(&mut t), ["one"]);
        f.write_all(b"o\n\x1b[2Jthree\n").unwrap();
        // erase-display only redraws: dropped, the text kept
        assert_eq!(texts(&mut t), ["two", "three"]);
        assert_eq!(t.offset(), 18);
        assert!(texts(&mut t).is_empty());
    }

    #[test]
    fn a_progress_bar_is_seen_while_it_is_redrawn() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.log");
        let mut f = std::fs::File::create(&p).unwrap();
        let mut t = FileTail::new(p.clone());
        f.write_all(b"start\n  0%|    | 0/4").unwrap();
        assert_eq!(t.poll(1 << 20, false).unwrap().len(), 1);
        assert_eq!(t.live().unwrap().text, "  0%|    | 0/4");
        assert!(t.live().is_none(), "unchanged");
        f.write_all(b"\r 50%|##  | 2/4").unwrap();
        assert!(t.poll(1 << 20, false).unwrap().is_empty());
        assert_eq!(t.live().unwrap().text, " 50%|##  | 2/4");
        f.write_all(b"\r100%|####| 4/4\n").unwrap();
        let done = t.poll(1 << 20, false).unwrap();
        assert_eq!(done[0].text, "100%|####| 4/4");
        assert!(t.live().is_none());
        // redrawn past the longest line without a newline: the last redraw is kept
        let mut bar = Vec::new();
        for i in 0..20_000 {
            bar.extend_from_slice(format!("\r{i:>6}/20000").as_bytes());
        }
        f.write_all(&bar).unwrap();
        assert!(t.poll(1 << 20, false).unwrap().is_empty());
        assert_eq!(t.live().unwrap().text, " 19999/20000");
    }
}
