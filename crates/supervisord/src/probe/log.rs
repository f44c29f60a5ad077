//! `log:REGEX` checks: the pipe readers of a process hand every chunk of output to its
//! [`LogWatch`] (one per process) through a per-channel [`LineFeed`]; while the watch is
//! armed for the reader's child, complete lines are matched as they arrive, and the first
//! match reports the pass and disarms the watch. Unarmed, a feed costs one comparison.
//!
//! The match sees the raw bytes of each line (without `\n` and a trailing `\r`), before
//! any log-file handling, so it does not depend on the log file, its rotation or
//! `*_logfile=NONE`. A line longer than [`MAX_LINE`] is matched in pieces of that size.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use crate::core::{ProbeKind, ProbeReport, ProcKey};
use supervisor_config::LogPattern;

use super::{ProbeMsg, ProbeTx};

/// The most bytes of one line kept while waiting for its end.
pub const MAX_LINE: usize = 64 * 1024;

/// The `log:` check of one process.
#[derive(Debug)]
pub struct LogWatch {
    key: ProcKey,
    kind: ProbeKind,
    pattern: LogPattern,
    tx: ProbeTx,
    /// The child whose output is being matched; 0 = not armed.
    armed: Cell<i32>,
}

impl LogWatch {
    /// A watch for `key` reporting to `tx`, not armed.
    pub fn new(key: ProcKey, kind: ProbeKind, pattern: LogPattern, tx: ProbeTx) -> LogWatch {
        LogWatch {
            key,
            kind,
            pattern,
            tx,
            armed: Cell::new(0),
        }
    }

    /// Starts matching the output of child `pid`.
    pub fn arm(&self, pid: i32) {
        self.armed.set(pid);
    }

    /// Stops matching.
    pub fn disarm(&self) {
        self.armed.set(0);
    }

    /// Whether output of child `pid` is being matched.
    pub fn is_armed_for(&self, pid: i32) -> bool {
        pid != 0 && self.armed.get() == pid
    }

    fn matched(&self, pid: i32) {
        self.disarm();
        let _ = self.tx.send(ProbeMsg {
            key: self.key,
            pid,
            kind: self.kind,
            report: ProbeReport::Passed,
        });
    }
}

/// One output channel's feed into a [`LogWatch`]: the partial line so far.
#[derive(Debug)]
pub struct LineFeed {
    watch: Rc<LogWatch>,
    pid: i32,
    partial: RefCell<Vec<u8>>,
}

impl LineFeed {
    /// A feed of child `pid`'s output into `watch`.
    pub fn new(watch: Rc<LogWatch>, pid: i32) -> LineFeed {
        LineFeed {
            watch,
            pid,
            partial: RefCell::new(Vec::new()),
        }
    }

    /// Whether this feed's output is being matched now (while it is not, the bytes need
    /// not be seen: the pipe reader may splice them, see `logs::splice`).
    pub fn armed(&self) -> bool {
        self.watch.is_armed_for(self.pid)
    }

    /// A chunk of output as it was read.
    pub fn feed(&self, data: &[u8]) {
        if !self.watch.is_armed_for(self.pid) {
            let mut p = self.partial.borrow_mut();
            if !p.is_empty() {
                *p = Vec::new();
            }
            return;
        }
        let mut partial = self.partial.borrow_mut();
        let mut rest = data;
        while let Some(i) = memchr(b'\n', rest) {
            let (line, tail) = rest.split_at(i);
            rest = &tail[1..];
            let hit = if partial.is_empty() {
                self.is_match(line)
            } else {
                partial.extend_from_slice(line);
                let hit = self.is_match(&partial);
                partial.clear();
                hit
            };
            if hit {
                *partial = Vec::new();
                self.watch.matched(self.pid);
                return;
            }
        }
        partial.extend_from_slice(rest);
        while partial.len() >= MAX_LINE {
            let piece: Vec<u8> = partial.drain(..MAX_LINE).collect();
            if self.is_match(&piece) {
                *partial = Vec::new();
                self.watch.matched(self.pid);
                return;
            }
        }
    }

    fn is_match(&self, line: &[u8]) -> bool {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        self.watch.pattern.is_match(line)
    }
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&b| b == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::mpsc;

    fn feed_of(pattern: &str) -> (LineFeed, mpsc::UnboundedReceiver<ProbeMsg>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let w = Rc::new(LogWatch::new(
            7,
            ProbeKind::Ready,
            LogPattern::new(pattern).unwrap(),
            tx,
        ));
        (LineFeed::new(w, 42), rx)
    }

    #[test]
    fn matches_whole_lines_across_chunks_only_while_armed() {
        let (f, mut rx) = feed_of("^ready on port \\d+$");
        f.feed(b"ready on port 5\n"); // not armed yet
        assert!(rx.try_recv().is_err());
        f.watch.arm(42);
        f.feed(b"booting\nready on ");
        assert!(rx.try_recv().is_err());
        f.feed(b"port 80");
        assert!(rx.try_recv().is_err(), "no end of line yet");
        f.feed(b"80\r\nmore\n");
        let m = rx.try_recv().unwrap();
        assert_eq!((m.key, m.pid, m.report), (7, 42, ProbeReport::Passed));
        assert!(!f.watch.is_armed_for(42), "disarmed after the match");
        f.feed(b"ready on port 1\n");
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn another_childs_output_does_not_count_and_long_lines_are_bounded() {
        let (f, mut rx) = feed_of("needle");
        f.watch.arm(43); // a newer child
        f.feed(b"needle\n");
        assert!(rx.try_recv().is_err());
        f.watch.arm(42);
        let big = vec![b'x'; 3 * MAX_LINE];
        f.feed(&big);
        assert!(f.partial.borrow().len() < MAX_LINE);
        f.feed(b"needle");
        assert!(rx.try_recv().is_err());
        f.feed(b"\n");
        assert!(rx.try_recv().is_ok());
    }
}
