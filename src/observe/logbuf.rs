//! A bounded ring buffer of log lines with stable sequence numbers.

use super::ansi::{Look, Shown, Span};
use crate::project::PhaseId;
use std::collections::VecDeque;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub phase: PhaseId,
    pub stderr: bool,
    /// The element of the phase's sweep that wrote it (None: the phase itself, or tandem).
    pub element: Option<u32>,
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
            element: None,
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
    /// The line with every byte that is not plain text escaped, nothing acted on (empty when a
    /// buffer let it go: see [`LogLine::raw_kept`]).
    pub fn raw(&self) -> std::borrow::Cow<'_, str> {
        match &self.look {
            Some(l) => l.raw().into(),
            None => self.text.as_str().into(),
        }
    }
    /// Whether the raw form is still here (a [`LogBuffer`] keeps only its newest lines' raw
    /// forms, [`RAW_BUDGET`] bytes of them).
    pub fn raw_kept(&self) -> bool {
        self.look.as_ref().is_none_or(|l| !l.bytes.is_empty())
    }
    fn raw_len(&self) -> usize {
        self.look.as_ref().map_or(0, |l| l.bytes.len())
    }
    /// Let the raw form go; its length.
    fn drop_raw(&mut self) -> usize {
        match self.look.as_mut() {
            Some(l) => std::mem::take(&mut l.bytes).len(),
            None => 0,
        }
    }
    /// Whether `o` comes from the same place (phase, element, stream, CloudWatch stream).
    fn same_source(&self, o: &LogLine) -> bool {
        self.phase == o.phase
            && self.element == o.element
            && self.stderr == o.stderr
            && self.tag == o.tag
    }
}

#[derive(Debug, Clone)]
pub struct LogBuffer {
    lines: VecDeque<LogLine>,
    /// Bytes of raw forms kept, and the index of the oldest line that may still have one (the
    /// lines before it had theirs let go).
    raw_bytes: usize,
    raw_from: usize,
    /// The line each source is writing now (a progress bar redrawn in place), not yet ended by a
    /// newline: shown after the lines, replaced as it changes, gone when it ends.
    live: Vec<LogLine>,
    cap: usize,
    /// Sequence number of `lines[0]`.
    first_seq: u64,
}

pub const DEFAULT_CAP: usize = 100_000;

/// Most bytes of raw forms (the `R` view's) a buffer keeps: those of its newest lines. A styled
/// line's raw form is as long again as its text or longer (a progress bar's holds every redraw),
/// so keeping every one would double what a full buffer of coloured lines takes.
pub const RAW_BUDGET: usize = 8 << 20;

impl Default for LogBuffer {
    fn default() -> Self {
        LogBuffer::new(DEFAULT_CAP)
    }
}

impl LogBuffer {
    pub fn new(cap: usize) -> LogBuffer {
        LogBuffer {
            // its full size at once: a buffer that doubled as it filled would hold up to
            // twice the slots it needs (the pages are only taken as lines arrive)
            lines: VecDeque::with_capacity(cap.clamp(1, DEFAULT_CAP)),
            raw_bytes: 0,
            raw_from: 0,
            live: Vec::new(),
            cap: cap.max(1),
            first_seq: 0,
        }
    }
    pub fn push(&mut self, l: LogLine) {
        if !self.live.is_empty() {
            self.live.retain(|x| !x.same_source(&l));
        }
        self.evict_if_full();
        self.raw_bytes += l.raw_len();
        self.lines.push_back(l);
        self.trim_raw();
    }
    /// Make room for one line: the oldest goes.
    fn evict_if_full(&mut self) {
        if self.lines.len() == self.cap {
            if let Some(old) = self.lines.pop_front() {
                if self.raw_from > 0 {
                    self.raw_from -= 1;
                } else {
                    self.raw_bytes -= old.raw_len();
                }
            }
            self.first_seq += 1;
        }
    }
    /// The oldest raw forms let go until those kept fit [`RAW_BUDGET`].
    fn trim_raw(&mut self) {
        while self.raw_bytes > RAW_BUDGET && self.raw_from < self.lines.len() {
            self.raw_bytes -= self.lines[self.raw_from].drop_raw();
            self.raw_from += 1;
        }
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
        self.evict_if_full();
        // from the end: late lines are usually only a little late
        let mut i = self.lines.len();
        while i > 0 && self.lines[i - 1].at > at {
            i -= 1;
        }
        let mut l = l;
        if i < self.raw_from {
            // among the lines whose raw forms went
            l.drop_raw();
            self.raw_from += 1;
        } else {
            self.raw_bytes += l.raw_len();
        }
        self.lines.insert(i, l);
        self.trim_raw();
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
        self.raw_bytes = 0;
        self.raw_from = 0;
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
    fn only_the_newest_raw_forms_are_kept_within_the_budget() {
        let styled = |i: usize| {
            let bytes = format!("\x1b[32mline {i}\x1b[0m {}", "x".repeat(1000));
            LogLine::read(
                PhaseId::Solve,
                false,
                crate::observe::ansi::log_line(bytes.as_bytes()),
                0,
            )
        };
        let mut b = LogBuffer::new(20_000);
        for i in 0..20_000 {
            b.push(styled(i));
        }
        let kept = b.iter().filter(|(_, l)| l.raw_kept()).count();
        let raw: usize = b.iter().map(|(_, l)| l.raw_len()).sum();
        assert!(raw <= RAW_BUDGET && raw > RAW_BUDGET - 2000, "{raw}");
        assert!(kept > 7000 && kept < 9000, "{kept}");
        // the newest keep theirs; every line keeps its text and styles
        assert!(b.get(b.end_seq() - 1).unwrap().raw().contains(r"\e[32m"));
        assert!(!b.get(b.first_seq()).unwrap().raw_kept());
        assert!(b.iter().all(|(_, l)| l.spans().len() == 1));
        // the ring goes on turning with the count right
        for i in 0..30_000 {
            b.push(styled(i));
        }
        let raw: usize = b.iter().map(|(_, l)| l.raw_len()).sum();
        assert_eq!(raw, b.raw_bytes);
        assert!(raw <= RAW_BUDGET);
        b.clear();
        assert_eq!((b.raw_bytes, b.raw_from), (0, 0));
    }

    #[test]
    fn evicts_oldest_and_keeps_sequence() {
        let mut b = LogBuffer::new(2);
        for i in 0..5 {
            b.push(LogLine {
                phase: PhaseId::Solve,
                stderr: false,
                element: None,
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
            element: None,
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
