//! Tail log files by byte offset: each poll reads only the bytes added since the last one.

use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

#[derive(Debug)]
pub struct FileTail {
    pub path: PathBuf,
    offset: u64,
    partial: Vec<u8>,
}

/// A line longer than this is cut (the rest is dropped with a marker) so one runaway line cannot
/// stall the view.
pub const MAX_LINE: usize = 64 * 1024;

impl FileTail {
    pub fn new(path: PathBuf) -> FileTail {
        FileTail {
            path,
            offset: 0,
            partial: Vec::new(),
        }
    }

    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// New complete lines since the last call (sanitised), at most `max_bytes` read per call.
    /// With `flush`, a trailing partial line is returned too.
    pub fn poll(&mut self, max_bytes: u64, flush: bool) -> std::io::Result<Vec<String>> {
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
                let mut line = std::mem::take(&mut self.partial);
                line.extend_from_slice(&buf[start..nl]);
                out.push(finish(&line));
                start = nl + 1;
            }
            self.partial.extend_from_slice(&buf[start..]);
            if self.partial.len() > MAX_LINE {
                out.push(finish(&self.partial));
                self.partial.clear();
            }
        }
        if flush && !self.partial.is_empty() {
            out.push(finish(&self.partial));
            self.partial.clear();
        }
        Ok(out)
    }
}

fn finish(line: &[u8]) -> String {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.len() > MAX_LINE {
        let mut s = super::sanitize_bytes(&line[..MAX_LINE]);
        s.push_str(&format!(" … [{} more bytes]", line.len() - MAX_LINE));
        s
    } else {
        super::sanitize_bytes(line)
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
        assert_eq!(t.poll(1 << 20, false).unwrap(), ["one"]);
        f.write_all(b"o\n\x1b[2Jthree\n").unwrap();
        assert_eq!(t.poll(1 << 20, false).unwrap(), ["two", "\\e[2Jthree"]);
        assert_eq!(t.offset(), 18);
        assert!(t.poll(1 << 20, false).unwrap().is_empty());
    }
}
