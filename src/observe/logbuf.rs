//! A bounded ring buffer of log lines with stable sequence numbers.

use super::ansi::{Look, Shown, Span};
use crate::project::PhaseId;
use std::collections::VecDeque;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub phase: PhaseId,
    pub stderr: bool,
    /// What a person sees (colours and redraws interpreted, anything else escaped): what search
    /// and filters match.
    pub text: String,
    /// Its styles and raw form where the line held more than plain text.
    pub look: Option<Box<Look>>,
    /// When tandem read it, or a CloudWatch event's own time: milliseconds since the epoch (0:
    /// unknown).
    pub at: i64,
    /// Where a line from outside the run's own logs came from (a CloudWatch stream: `cw:NAME`);
    /// None for the phase's stdout and stderr.
    pub tag: Option<std::sync::Arc<str>>,
}

impl LogLine {
    /// A phase's line as read.
    pub fn read(phase: PhaseId, stderr: bool, shown: Shown, at: i64) -> LogLine {
        LogLine {
            phase,
            stderr,
            text: shown.text,
            look: shown.look,
            at,
            tag: None,
        }
    }
    /// The styled parts of `text`.
    pub fn spans(&self) -> &[Span] {
        self.look.as_ref().map_or(&[], |l| &l.spans)
    }
    /// The line with every byte that is not plain text escaped, nothing acted on.
    pub fn raw(&self) -> &str {
        self.look.as_ref().map_or(&self.text, |l| &l.raw)
    }
    /// Whether `o` comes from the same place (phase, stream, CloudWatch stream).
    fn same_source(&self, o: &LogLine) -> bool {
        self.phase == o.phase && self.stderr == o.stderr && self.tag == o.tag
    }
}

#[derive(Debug, Clone)]
pub struct LogBuffer {
    lines: VecDeque<LogLine>,
    /// The line each source is writing now (a progress bar redrawn in place), not yet ended by a
    /// newline: shown after the lines, replaced as it changes, gone when it ends.
    live: Vec<LogLine>,
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
            live: Vec::new(),
            cap: cap.max(1),
            first_seq: 0,
        }
    }
    pub fn push(&mut self, l: LogLine) {
        if !self.live.is_empty() {
            self.live.retain(|x| !x.same_source(&l));
        }
        if self.lines.len() == self.cap {
            self.lines.pop_front();
            self.first_seq += 1;
        }
        self.lines.push_back(l);
    }
    /// Add a line in time order (by `at`): appended when it is not older than the newest, else
    /// inserted after the last line not newer than it (a CloudWatch event read after lines that
    /// were written later). Returns whether it went anywhere but the end; the sequence numbers of
    /// the lines after it then move up by one.
    pub fn insert_by_time(&mut self, l: LogLine) -> bool {
        let at = l.at;
        if self.lines.back().is_none_or(|b| b.at <= at) {
            self.push(l);
            return false;
        }
        if self.lines.len() == self.cap {
            self.lines.pop_front();
            self.first_seq += 1;
        }
        // from the end: late lines are usually only a little late
        let mut i = self.lines.len();
        while i > 0 && self.lines[i - 1].at > at {
            i -= 1;
        }
        self.lines.insert(i, l);
        true
    }
    /// The most lines kept.
    pub fn cap(&self) -> usize {
        self.cap
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
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (u64, &LogLine)> + ExactSizeIterator {
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
        self.live.clear();
    }
    /// A source's line in the writing, in place of the one it had.
    pub fn set_live(&mut self, l: LogLine) {
        match self.live.iter_mut().find(|x| x.same_source(&l)) {
            Some(x) => *x = l,
            None => self.live.push(l),
        }
    }
    /// The lines in the writing, one per source at most.
    pub fn live(&self) -> &[LogLine] {
        &self.live
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
                look: None,
                at: 0,
                tag: None,
            });
        }
        assert_eq!(b.len(), 2);
        assert_eq!(b.first_seq(), 3);
        assert_eq!(b.get(4).unwrap().text, "4");
        assert!(b.get(2).is_none());
    }

    #[test]
    fn late_lines_go_in_time_order() {
        let mut b = LogBuffer::new(4);
        let l = |at: i64| LogLine {
            phase: PhaseId::Solve,
            stderr: false,
            text: at.to_string(),
            look: None,
            at,
            tag: None,
        };
        assert!(!b.insert_by_time(l(10)));
        assert!(!b.insert_by_time(l(30)));
        assert!(b.insert_by_time(l(20)));
        assert!(!b.insert_by_time(l(30)));
        let order: Vec<i64> = b.iter().map(|(_, x)| x.at).collect();
        assert_eq!(order, [10, 20, 30, 30]);
        // full: the oldest goes, the late line still lands in order
        assert!(b.insert_by_time(l(25)));
        let order: Vec<i64> = b.iter().map(|(_, x)| x.at).collect();
        assert_eq!(order, [20, 25, 30, 30]);
        assert_eq!(b.first_seq(), 1);
    }

    #[test]
    fn a_line_in_the_writing_is_replaced_then_ended() {
        let mut b = LogBuffer::new(8);
        let shown = |t: &[u8]| crate::observe::ansi::log_line(t);
        b.set_live(LogLine::read(PhaseId::Solve, true, shown(b" 10%|#"), 1));
        b.set_live(LogLine::read(
            PhaseId::Solve,
            true,
            shown(b" 10%|#\r 50%|#####"),
            2,
        ));
        b.set_live(LogLine::read(PhaseId::Preprocess, false, shown(b"pre"), 2));
        assert_eq!(b.live().len(), 2);
        assert_eq!(b.live()[0].text, " 50%|#####");
        assert_eq!(b.live()[0].raw(), " 10%|#\\r 50%|#####");
        // the line ends: pushed, and no longer in the writing
        b.push(LogLine::read(
            PhaseId::Solve,
            true,
            shown(b"100%|##########"),
            3,
        ));
        assert_eq!(b.live().len(), 1);
        assert_eq!(b.live()[0].phase, PhaseId::Preprocess);
        assert_eq!(b.get(0).unwrap().text, "100%|##########");
    }
}
