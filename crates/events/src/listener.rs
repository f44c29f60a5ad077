//! The event-listener protocol as seen from the daemon: one [`ListenerProtocol`] per
//! listener process, fed with whatever bytes its stdout produced, in whatever pieces the
//! reads returned. It never does I/O; it reports what happened as [`ProtocolEffect`]s.

use supervisor_protocol::ListenerState;

use crate::event::python_bytes_repr;

/// What a listener must write to announce it can take an event.
pub const READY_TOKEN: &[u8] = b"READY\n";

/// How many bytes of a result line (`RESULT <n>`) are kept while waiting for its newline.
/// The reference keeps any amount; a line longer than this is treated as a bad result line
/// so a listener that never writes a newline cannot grow the daemon's memory.
pub const MAX_RESULT_LINE: usize = 1024;

/// How many bytes of a result body are kept (the rest is counted, not stored). The default
/// handler only needs to know whether the body is exactly `OK`.
pub const MAX_KEPT_RESULT: usize = 64;

/// What one call to [`ListenerProtocol::feed`] (or [`ListenerProtocol::event_sent`])
/// caused, in the order the reference logs and acts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtocolEffect {
    /// The listener state changed (logged at DEBG as `<name>: FROM -> TO`; entering
    /// UNKNOWN adds the WARN line about the protocol violation).
    StateChanged {
        /// The previous state.
        from: ListenerState,
        /// The new state.
        to: ListenerState,
    },
    /// The result line could not be parsed (`WARN <name>: bad result line: '<line>'`); the
    /// text is the line without its newline, rendered as the reference does.
    BadResultLine(String),
    /// The result body was `OK`: the event in flight is done (`DEBG <name>: event was processed`).
    Processed,
    /// The result body was something else: `WARN <name>: event was rejected`.
    Rejected,
    /// The event in flight must go back to the head of the pool's buffer (after a
    /// rejection or a bad result line).
    ReturnEvent,
}

/// The protocol state of one listener process.
#[derive(Debug, Clone)]
pub struct ListenerProtocol {
    state: ListenerState,
    /// Bytes received and not yet interpreted.
    pending: Vec<u8>,
    /// The announced result length, once the result line has been read.
    result_len: Option<u64>,
    /// The first bytes of the result body.
    result: Vec<u8>,
    /// How many body bytes have been received so far.
    result_seen: u64,
}

impl Default for ListenerProtocol {
    fn default() -> Self {
        Self::new()
    }
}

impl ListenerProtocol {
    /// A protocol in the ACKNOWLEDGED state, as after a spawn.
    pub fn new() -> ListenerProtocol {
        ListenerProtocol {
            state: ListenerState::Acknowledged,
            pending: Vec::new(),
            result_len: None,
            result: Vec::new(),
            result_seen: 0,
        }
    }

    /// The current listener state.
    pub fn state(&self) -> ListenerState {
        self.state
    }

    /// Forgets everything: the process was (re)spawned and starts in ACKNOWLEDGED.
    /// The reference does this silently (no log line).
    pub fn reset(&mut self) {
        *self = ListenerProtocol::new();
    }

    /// An event was written to the listener: READY becomes BUSY (silently, as in the
    /// reference). Returns false, changing nothing, if the listener was not READY.
    pub fn event_sent(&mut self) -> bool {
        if self.state != ListenerState::Ready {
            return false;
        }
        self.state = ListenerState::Busy;
        self.result_len = None;
        self.result.clear();
        self.result_seen = 0;
        true
    }

    /// The event written to the listener could not be delivered after all (its stdin is
    /// closed): BUSY goes back to READY without a log line, as the reference leaves the
    /// state unchanged when the write fails.
    pub fn event_undelivered(&mut self) {
        if self.state == ListenerState::Busy && self.result_len.is_none() && self.pending.is_empty()
        {
            self.state = ListenerState::Ready;
        }
    }

    /// Interprets bytes read from the listener's stdout, appending what happened to `out`.
    pub fn feed(&mut self, data: &[u8], out: &mut Vec<ProtocolEffect>) {
        if self.state == ListenerState::Unknown {
            return;
        }
        self.pending.extend_from_slice(data);
        self.process(out);
    }

    fn change(&mut self, to: ListenerState, out: &mut Vec<ProtocolEffect>) {
        let from = self.state;
        self.state = to;
        out.push(ProtocolEffect::StateChanged { from, to });
    }

    fn process(&mut self, out: &mut Vec<ProtocolEffect>) {
        // Each pass consumes a token or stops for more input; `pending` only shrinks.
        while !self.pending.is_empty() {
            match self.state {
                ListenerState::Unknown => {
                    self.pending.clear();
                    return;
                }
                ListenerState::Acknowledged => {
                    if self.pending.len() < READY_TOKEN.len() {
                        return;
                    }
                    if self.pending.starts_with(READY_TOKEN) {
                        self.pending.drain(..READY_TOKEN.len());
                        self.change(ListenerState::Ready, out);
                    } else {
                        self.pending.clear();
                        self.change(ListenerState::Unknown, out);
                        return;
                    }
                }
                ListenerState::Ready => {
                    // Anything written while waiting for an event violates the protocol.
                    self.pending.clear();
                    self.change(ListenerState::Unknown, out);
                    return;
                }
                ListenerState::Busy => {
                    if self.busy_step(out) {
                        return;
                    }
                }
            }
        }
        // The reference only looks at the state when there are bytes to look at, so an
        // announced zero-length result is settled by the next bytes that arrive.
    }

    /// One step in BUSY; returns true when more input is needed (or the state ended).
    fn busy_step(&mut self, out: &mut Vec<ProtocolEffect>) -> bool {
        match self.result_len {
            None => {
                let Some(pos) = self.pending.iter().position(|&b| b == b'\n') else {
                    if self.pending.len() > MAX_RESULT_LINE {
                        let line: Vec<u8> = self.pending[..MAX_RESULT_LINE].to_vec();
                        self.bad_result_line(&line, out);
                    }
                    return true;
                };
                if pos > MAX_RESULT_LINE {
                    let line: Vec<u8> = self.pending[..MAX_RESULT_LINE].to_vec();
                    self.bad_result_line(&line, out);
                    return true;
                }
                let line: Vec<u8> = self.pending.drain(..=pos).collect();
                let line = &line[..line.len() - 1];
                // The reference skips the first 7 bytes (`RESULT `) without checking them.
                let number = line.get(7..).unwrap_or(&[]);
                match parse_python_int(number) {
                    Some(n) => {
                        self.result_len = Some(n);
                        false
                    }
                    _ => {
                        self.bad_result_line(line, out);
                        true
                    }
                }
            }
            Some(len) => {
                let needed = len - self.result_seen;
                if needed > 0 {
                    let take = usize::try_from(needed)
                        .unwrap_or(usize::MAX)
                        .min(self.pending.len());
                    let keep = take.min(MAX_KEPT_RESULT.saturating_sub(self.result.len()));
                    self.result.extend_from_slice(&self.pending[..keep]);
                    self.pending.drain(..take);
                    self.result_seen += take as u64;
                }
                if self.result_seen < len {
                    return true;
                }
                let ok = len == 2 && self.result == b"OK";
                self.result_len = None;
                self.result.clear();
                self.result_seen = 0;
                if ok {
                    out.push(ProtocolEffect::Processed);
                    self.change(ListenerState::Acknowledged, out);
                } else {
                    out.push(ProtocolEffect::Rejected);
                    self.change(ListenerState::Acknowledged, out);
                    out.push(ProtocolEffect::ReturnEvent);
                }
                false
            }
        }
    }

    fn bad_result_line(&mut self, line: &[u8], out: &mut Vec<ProtocolEffect>) {
        let text = match std::str::from_utf8(line) {
            Ok(s) => s.to_owned(),
            Err(_) => format!("Undecodable: {}", python_bytes_repr(line)),
        };
        out.push(ProtocolEffect::BadResultLine(text));
        self.pending.clear();
        self.result_len = None;
        self.change(ListenerState::Unknown, out);
        out.push(ProtocolEffect::ReturnEvent);
    }
}

/// Parses a result length the way Python's `int(bytes)` does (surrounding ASCII whitespace,
/// an optional sign, digits with single underscores between them). Negative values, which
/// would leave the reference waiting forever, are refused (treated as a bad result line).
/// Values beyond `i64` saturate to `u64::MAX`: such a result never completes, as in the
/// reference. The reading itself is [`supervisor_protocol::pyint::parse_bytes`].
pub fn parse_python_int(raw: &[u8]) -> Option<u64> {
    use supervisor_protocol::pyint::{self, IntError};
    match pyint::parse_bytes(raw) {
        Ok(v) => u64::try_from(v).ok(),
        Err(IntError::OutOfRange { negative: false }) => Some(u64::MAX),
        Err(IntError::OutOfRange { negative: true } | IntError::Invalid) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ListenerState::*;
    use ProtocolEffect::*;

    fn feed(p: &mut ListenerProtocol, data: &[u8]) -> Vec<ProtocolEffect> {
        let mut out = Vec::new();
        p.feed(data, &mut out);
        out
    }

    fn changed(from: ListenerState, to: ListenerState) -> ProtocolEffect {
        StateChanged { from, to }
    }

    #[test]
    fn ready_then_ok() {
        let mut p = ListenerProtocol::new();
        assert_eq!(feed(&mut p, b"REA"), vec![]);
        assert_eq!(feed(&mut p, b"DY\n"), vec![changed(Acknowledged, Ready)]);
        assert!(p.event_sent());
        assert!(!p.event_sent());
        assert_eq!(p.state(), Busy);
        assert_eq!(feed(&mut p, b"RESULT 2"), vec![]);
        assert_eq!(feed(&mut p, b"\nO"), vec![]);
        assert_eq!(
            feed(&mut p, b"KREADY\n"),
            vec![
                Processed,
                changed(Busy, Acknowledged),
                changed(Acknowledged, Ready)
            ]
        );
    }

    #[test]
    fn fail_is_rejected_and_returned() {
        let mut p = ListenerProtocol::new();
        feed(&mut p, b"READY\n");
        p.event_sent();
        assert_eq!(
            feed(&mut p, b"RESULT 4\nFAIL"),
            vec![Rejected, changed(Busy, Acknowledged), ReturnEvent]
        );
        assert_eq!(p.state(), Acknowledged);
    }

    #[test]
    fn violations_lead_to_unknown() {
        let mut p = ListenerProtocol::new();
        assert_eq!(
            feed(&mut p, b"HELLO\n"),
            vec![changed(Acknowledged, Unknown)]
        );
        assert_eq!(feed(&mut p, b"READY\n"), vec![]);
        assert_eq!(p.state(), Unknown);

        let mut p = ListenerProtocol::new();
        assert_eq!(
            feed(&mut p, b"READY\nx"),
            vec![changed(Acknowledged, Ready), changed(Ready, Unknown)]
        );

        let mut p = ListenerProtocol::new();
        feed(&mut p, b"READY\n");
        p.event_sent();
        assert_eq!(
            feed(&mut p, b"RESULT x\nOK"),
            vec![
                BadResultLine("RESULT x".into()),
                changed(Busy, Unknown),
                ReturnEvent
            ]
        );
        p.reset();
        assert_eq!(p.state(), Acknowledged);
        assert_eq!(feed(&mut p, b"READY\n"), vec![changed(Acknowledged, Ready)]);
    }

    #[test]
    fn undecodable_and_overlong_result_lines() {
        let mut p = ListenerProtocol::new();
        feed(&mut p, b"READY\n");
        p.event_sent();
        let effects = feed(&mut p, b"RESULT \xff\n");
        assert_eq!(
            effects[0],
            BadResultLine("Undecodable: b'RESULT \\xff'".into())
        );

        let mut p = ListenerProtocol::new();
        feed(&mut p, b"READY\n");
        p.event_sent();
        assert_eq!(feed(&mut p, &[b'1'; MAX_RESULT_LINE]), vec![]);
        let effects = feed(&mut p, b"1");
        assert!(matches!(effects[0], BadResultLine(ref l) if l.len() == MAX_RESULT_LINE));
        assert_eq!(p.state(), Unknown);
    }

    #[test]
    fn result_prefix_is_not_checked_and_python_ints_are_accepted() {
        let mut p = ListenerProtocol::new();
        feed(&mut p, b"READY\n");
        p.event_sent();
        assert_eq!(
            feed(&mut p, b"XXXXXXX 0_2\r\nOK"),
            vec![Processed, changed(Busy, Acknowledged)]
        );
    }

    #[test]
    fn zero_length_result_waits_for_more_bytes() {
        let mut p = ListenerProtocol::new();
        feed(&mut p, b"READY\n");
        p.event_sent();
        assert_eq!(feed(&mut p, b"RESULT 0\n"), vec![]);
        assert_eq!(p.state(), Busy);
        assert_eq!(
            feed(&mut p, b"READY\n"),
            vec![
                Rejected,
                changed(Busy, Acknowledged),
                ReturnEvent,
                changed(Acknowledged, Ready)
            ]
        );
    }

    #[test]
    fn large_result_bodies_are_counted_not_stored() {
        let mut p = ListenerProtocol::new();
        feed(&mut p, b"READY\n");
        p.event_sent();
        feed(&mut p, b"RESULT 100000\n");
        for _ in 0..99 {
            assert_eq!(feed(&mut p, &[b'a'; 1000]), vec![]);
        }
        assert!(p.result.len() <= MAX_KEPT_RESULT);
        assert_eq!(
            feed(&mut p, &[b'a'; 1000]),
            vec![Rejected, changed(Busy, Acknowledged), ReturnEvent]
        );
    }

    #[test]
    fn event_undelivered_restores_ready() {
        let mut p = ListenerProtocol::new();
        feed(&mut p, b"READY\n");
        p.event_sent();
        p.event_undelivered();
        assert_eq!(p.state(), Ready);
    }

    #[test]
    fn python_int_rules() {
        assert_eq!(parse_python_int(b" 5\x0b"), Some(5));
        assert_eq!(parse_python_int(b"+5"), Some(5));
        assert_eq!(parse_python_int(b"1_0"), Some(10));
        assert_eq!(parse_python_int(b"-0"), Some(0));
        assert_eq!(parse_python_int(b"0005"), Some(5));
        for bad in [
            &b"_1"[..],
            b"1__0",
            b"1_",
            b"",
            b" ",
            b"\x1c5",
            b"-1",
            b"0x10",
            b"+",
        ] {
            assert_eq!(parse_python_int(bad), None, "{bad:?}");
        }
        assert_eq!(parse_python_int(b"99999999999999999999999"), Some(u64::MAX));
    }
}
