//! The capture-mode scanner of a child output channel (§6.5, PROCESS_COMMUNICATION).
//!
//! A pure state machine: bytes in, [`ScanOutput`]s out. With `capture_maxbytes == 0` it
//! passes every chunk straight through. Otherwise it looks for
//! `<!--XSUPERVISOR:BEGIN-->` / `<!--XSUPERVISOR:END-->` and follows the reference's rules:
//! output between the tokens goes to a bounded capture buffer instead of the log file, a
//! possible partial token at the end of a read is held back, and any pending output no
//! longer than the awaited token is held until more arrives. Optional ANSI stripping is
//! applied to what is logged or captured (never to the token search).

use super::ansi::AnsiStripper;

/// The token that starts a captured communication.
pub const BEGIN_TOKEN: &[u8] = b"<!--XSUPERVISOR:BEGIN-->";
/// The token that ends it.
pub const END_TOKEN: &[u8] = b"<!--XSUPERVISOR:END-->";

/// What the caller must do with scanned output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanOutput {
    /// Output to log: into the channel's log file when `captured == false`; when
    /// `captured == true` it went to the capture buffer instead (the main-log debug copy
    /// and PROCESS_LOG events still see it).
    Output {
        /// The bytes (ANSI-stripped if enabled).
        data: Vec<u8>,
        /// True while in capture mode.
        captured: bool,
    },
    /// An end token closed a capture: emit `PROCESS_COMMUNICATION_<CHANNEL>` with these
    /// bytes and log `'<name>' <channel> emitted a comm event` at debug.
    Communication(Vec<u8>),
}

/// The per-channel scanner.
#[derive(Debug, Clone)]
pub struct OutputScanner {
    capture_maxbytes: usize,
    capturing: bool,
    pending: Vec<u8>,
    capture: Vec<u8>,
    strip: Option<AnsiStripper>,
}

impl OutputScanner {
    /// A scanner; `capture_maxbytes == 0` disables capture mode.
    pub fn new(capture_maxbytes: u64, strip_ansi: bool) -> Self {
        OutputScanner {
            capture_maxbytes: usize::try_from(capture_maxbytes).unwrap_or(usize::MAX),
            capturing: false,
            pending: Vec::new(),
            capture: Vec::new(),
            strip: strip_ansi.then(AnsiStripper::new),
        }
    }

    /// True when output passes through unchanged (no capture mode, no ANSI stripping).
    pub fn passthrough(&self) -> bool {
        self.capture_maxbytes == 0 && self.strip.is_none()
    }

    /// True while between a begin and an end token.
    pub fn capturing(&self) -> bool {
        self.capturing
    }

    /// Bytes currently held back waiting for more output.
    pub fn pending(&self) -> &[u8] {
        &self.pending
    }

    /// Feeds one read's worth of output.
    pub fn feed(&mut self, data: &[u8], out: &mut Vec<ScanOutput>) {
        if self.capture_maxbytes == 0 {
            self.emit(data.to_vec(), out);
            return;
        }
        self.pending.extend_from_slice(data);
        loop {
            let token = if self.capturing {
                END_TOKEN
            } else {
                BEGIN_TOKEN
            };
            if self.pending.len() <= token.len() {
                return;
            }
            let buf = std::mem::take(&mut self.pending);
            match find(&buf, token) {
                Some(at) => {
                    self.emit(buf[..at].to_vec(), out);
                    self.toggle(out);
                    self.pending = buf[at + token.len()..].to_vec();
                    if self.pending.is_empty() {
                        return;
                    }
                }
                None => {
                    let keep = partial_token_at_end(&buf, token);
                    let cut = buf.len() - keep;
                    self.pending = buf[cut..].to_vec();
                    self.emit(buf[..cut].to_vec(), out);
                    return;
                }
            }
        }
    }

    /// Releases held-back bytes as ordinary output (at EOF). The reference drops them;
    /// the caller chooses.
    pub fn flush_pending(&mut self, out: &mut Vec<ScanOutput>) {
        let buf = std::mem::take(&mut self.pending);
        self.emit(buf, out);
    }

    fn toggle(&mut self, out: &mut Vec<ScanOutput>) {
        self.capturing = !self.capturing;
        if !self.capturing {
            out.push(ScanOutput::Communication(std::mem::take(&mut self.capture)));
        }
    }

    fn emit(&mut self, data: Vec<u8>, out: &mut Vec<ScanOutput>) {
        if data.is_empty() {
            return;
        }
        let data = match &mut self.strip {
            Some(s) => s.strip(&data),
            None => data,
        };
        if data.is_empty() {
            return;
        }
        if self.capturing {
            // The reference's bounded buffer: when a write would overflow, drop as many
            // of the oldest bytes as the write is long, then append.
            if self.capture.len() + data.len() > self.capture_maxbytes {
                let drop = data.len().min(self.capture.len());
                self.capture.drain(..drop);
            }
            self.capture.extend_from_slice(&data);
        }
        out.push(ScanOutput::Output {
            data,
            captured: self.capturing,
        });
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Length of the longest proper prefix of `token` that `buf` ends with.
fn partial_token_at_end(buf: &[u8], token: &[u8]) -> usize {
    (1..token.len())
        .rev()
        .find(|&n| buf.len() >= n && buf.ends_with(&token[..n]))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(s: &mut OutputScanner, chunks: &[&[u8]]) -> Vec<ScanOutput> {
        let mut out = Vec::new();
        for c in chunks {
            s.feed(c, &mut out);
        }
        out
    }

    fn logged(d: &[u8]) -> ScanOutput {
        ScanOutput::Output {
            data: d.to_vec(),
            captured: false,
        }
    }

    fn captured(d: &[u8]) -> ScanOutput {
        ScanOutput::Output {
            data: d.to_vec(),
            captured: true,
        }
    }

    #[test]
    fn passthrough_without_capture() {
        let mut s = OutputScanner::new(0, false);
        let out = run(&mut s, &[b"a", b"<!--XSUPERVISOR:BEGIN-->x"]);
        assert_eq!(
            out,
            vec![logged(b"a"), logged(b"<!--XSUPERVISOR:BEGIN-->x")]
        );
    }

    #[test]
    fn captures_between_tokens() {
        let mut s = OutputScanner::new(100, false);
        let out = run(
            &mut s,
            &[b"before\n<!--XSUPERVISOR:BEGIN-->hello<!--XSUPERVISOR:END-->after and more output here\n"],
        );
        assert_eq!(
            out,
            vec![
                logged(b"before\n"),
                captured(b"hello"),
                ScanOutput::Communication(b"hello".to_vec()),
                logged(b"after and more output here\n"),
            ]
        );
        assert!(!s.capturing());
    }

    #[test]
    fn short_output_is_held_back() {
        let mut s = OutputScanner::new(100, false);
        let out = run(&mut s, &[b"after\n"]);
        assert!(out.is_empty());
        assert_eq!(s.pending(), b"after\n");
        let mut out = Vec::new();
        s.flush_pending(&mut out);
        assert_eq!(out, vec![logged(b"after\n")]);
    }

    #[test]
    fn token_split_across_reads() {
        let mut s = OutputScanner::new(100, false);
        let out = run(
            &mut s,
            &[
                b"some leading output <!--XSUPER",
                b"VISOR:BEGIN-->data",
                b" more captured <!--XSUPERVISOR:E",
                b"ND-->tail of the output here and more",
            ],
        );
        assert_eq!(
            out,
            vec![
                logged(b"some leading output "),
                captured(b"data more captured "),
                ScanOutput::Communication(b"data more captured ".to_vec()),
                logged(b"tail of the output here and more"),
            ]
        );
    }

    #[test]
    fn capture_buffer_is_bounded_like_the_reference() {
        let mut s = OutputScanner::new(10, false);
        let mut out = Vec::new();
        s.feed(
            b"<!--XSUPERVISOR:BEGIN-->0123456789abcdefghijklmnopqrstuvwxyz",
            &mut out,
        );
        s.feed(b"<!--XSUPERVISOR:END-->", &mut out);
        s.feed(b"!", &mut out);
        let comm: Vec<_> = out
            .iter()
            .filter_map(|o| match o {
                ScanOutput::Communication(d) => Some(d.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(comm.len(), 1);
        // A single oversized write replaces the (empty) buffer wholesale.
        assert_eq!(comm[0], b"0123456789abcdefghijklmnopqrstuvwxyz");
    }

    #[test]
    fn strips_ansi_in_logged_output() {
        let mut s = OutputScanner::new(0, true);
        let out = run(&mut s, &[b"\x1b[31mred\x1b[0m"]);
        assert_eq!(out, vec![logged(b"red")]);
    }
}
