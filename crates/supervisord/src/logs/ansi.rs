//! Removing ANSI escape sequences from child output (`strip_ansi=true`).
//!
//! A sequence is `ESC [` followed by anything up to and including the first byte in
//! `HfABCDRsuJKhlpm`, the reference's terminator set. [`AnsiStripper`] keeps its state
//! between chunks, so a sequence split across two pipe reads is still removed.

/// Bytes that end an escape sequence.
const TERMINATORS: &[u8] = b"HfABCDRsuJKhlpm";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum State {
    #[default]
    Text,
    /// Saw ESC at the end of the previous chunk.
    Esc,
    /// Inside `ESC [` … waiting for a terminator.
    Sequence,
}

/// A streaming ANSI-escape remover.
#[derive(Debug, Clone, Default)]
pub struct AnsiStripper {
    state: State,
}

impl AnsiStripper {
    /// A stripper in the text state.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `input` without escape sequences to `out`.
    pub fn strip_into(&mut self, input: &[u8], out: &mut Vec<u8>) {
        let mut i = 0;
        while i < input.len() {
            match self.state {
                State::Text => match memchr_esc(&input[i..]) {
                    None => {
                        out.extend_from_slice(&input[i..]);
                        return;
                    }
                    Some(n) => {
                        out.extend_from_slice(&input[i..i + n]);
                        i += n + 1;
                        self.state = State::Esc;
                    }
                },
                State::Esc => {
                    if input[i] == b'[' {
                        self.state = State::Sequence;
                        i += 1;
                    } else {
                        // A lone ESC is ordinary output.
                        out.push(0x1b);
                        self.state = State::Text;
                    }
                }
                State::Sequence => {
                    if TERMINATORS.contains(&input[i]) {
                        self.state = State::Text;
                    }
                    i += 1;
                }
            }
        }
    }

    /// Strips one chunk into a new buffer.
    pub fn strip(&mut self, input: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(input.len());
        self.strip_into(input, &mut out);
        out
    }
}

fn memchr_esc(s: &[u8]) -> Option<usize> {
    s.iter().position(|&b| b == 0x1b)
}

/// Strips a complete buffer (an unterminated sequence at the end is dropped, as the
/// reference does for one read).
pub fn strip_ansi(input: &[u8]) -> Vec<u8> {
    let mut s = AnsiStripper::new();
    let mut out = s.strip(input);
    if s.state == State::Esc {
        out.push(0x1b);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn strips_color_codes() {
        assert_eq!(strip_ansi(b"\x1b[31mred\x1b[0m plain"), b"red plain");
        assert_eq!(strip_ansi(b"a\x1b[2Jb\x1b[10;20Hc"), b"abc");
        assert_eq!(strip_ansi(b"no escapes"), b"no escapes");
        assert_eq!(strip_ansi(b"esc\x1bx"), b"esc\x1bx");
        assert_eq!(strip_ansi(b"open \x1b[31"), b"open ");
    }

    #[test]
    fn sequence_split_across_chunks() {
        let mut s = AnsiStripper::new();
        let mut out = Vec::new();
        s.strip_into(b"a\x1b", &mut out);
        s.strip_into(b"[3", &mut out);
        s.strip_into(b"1mb", &mut out);
        assert_eq!(out, b"ab");
    }

    proptest! {
        #[test]
        fn chunking_does_not_change_result(data in proptest::collection::vec(prop_oneof![Just(0x1bu8), Just(b'['), Just(b'm'), Just(b'x'), any::<u8>()], 0..200), cut in 0usize..200) {
            let cut = cut.min(data.len());
            let whole = { let mut s = AnsiStripper::new(); s.strip(&data) };
            let mut s = AnsiStripper::new();
            let mut parts = s.strip(&data[..cut]);
            parts.extend(s.strip(&data[cut..]));
            prop_assert_eq!(whole, parts);
        }
    }
}
