//! A bounded ring buffer of log lines with stable sequence numbers.

use crate::project::PhaseId;
use std::collections::VecDeque;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub phase: PhaseId,
    pub stderr: bool,
    /// Already sanitised.
    pub text: String,
    /// When tandem read it, milliseconds since the epoch (0: unknown).
    pub at: i64,
}

#[derive(Debug, Clone)]
pub struct LogBuffer {
    lines: VecDeque<LogLine>,
    cap: usize,
    /// Sequence number of `lines[0]`.
    first_seq: u64,
}

pub const DEFAULT_CAP: usize = 100_000;

impl Default for LogBuffer {
    fn default() -> Self {
        LogBuffer::new(DEFAULT_CAP)
    }
}

impl LogBuffer {
    pub fn new(cap: usize) -> LogBuffer {
        LogBuffer {
            lines: VecDeque::new(),
            cap: cap.max(1),
            first_seq: 0,
        }
    }
    pub fn push(&mut self, l: LogLine) {
        if self.lines.len() == self.cap {
            self.lines.pop_front();
            self.first_seq += 1;
        }
        self.lines.push_back(l);
    }
    pub fn len(&self) -> usize {
        self.lines.len()
    }
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
    pub fn first_seq(&self) -> u64 {
        self.first_seq
    }
    pub fn end_seq(&self) -> u64 {
        self.first_seq + self.lines.len() as u64
    }
    pub fn get(&self, seq: u64) -> Option<&LogLine> {
        seq.checked_sub(self.first_seq)
            .and_then(|i| self.lines.get(i as usize))
    }
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (u64, &LogLine)> {
        self.lines
            .iter()
            .enumerate()
            .map(move |(i, l)| (self.first_seq + i as u64, l))
    }
    /// The lines, oldest first, as the ring's two contiguous parts.
    pub fn as_slices(&self) -> (&[LogLine], &[LogLine]) {
        self.lines.as_slices()
    }
    pub fn clear(&mut self) {
        self.first_seq = self.end_seq();
        self.lines.clear();
    }
    /// The newest line of a phase.
    pub fn last_of(&self, phase: PhaseId) -> Option<&LogLine> {
        self.lines
            .iter()
            .rev()
            .find(|l| l.phase == phase && !l.text.trim().is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_oldest_and_keeps_sequence() {
        let mut b = LogBuffer::new(2);
        for i in 0..5 {
            b.push(LogLine {
                phase: PhaseId::Solve,
                stderr: false,
                text: i.to_string(),
                at: 0,
            });
        }
        assert_eq!(b.len(), 2);
        assert_eq!(b.first_seq(), 3);
        assert_eq!(b.get(4).unwrap().text, "4");
        assert!(b.get(2).is_none());
    }
}
