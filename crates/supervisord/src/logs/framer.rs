//! [`LineFramer`]: puts `*_log_prefix` before every line of a child's output and, for
//! stream targets (`/dev/stdout`, pipes, terminals, sockets), holds a partial last line
//! back until its newline, so that lines of programs sharing one stdout never mix.

/// A held partial line is written (ended with a newline) once it reaches this size.
pub const MAX_PARTIAL: usize = 16 * 1024;

/// Splits output into lines, prefixes each, and (in holding mode) keeps the unfinished
/// last line until it is finished, it grows past [`MAX_PARTIAL`], or
/// [`flush`](LineFramer::flush) is called (the reader's idle timeout, EOF).
#[derive(Debug)]
pub struct LineFramer {
    prefix: Vec<u8>,
    hold: bool,
    /// Held bytes of the unfinished line (holding mode only; without the prefix).
    partial: Vec<u8>,
    /// Not holding: the next byte written starts a line (gets the prefix).
    at_line_start: bool,
}

impl LineFramer {
    /// A framer writing `prefix` before each line; `hold` keeps partial lines back.
    pub fn new(prefix: &str, hold: bool) -> LineFramer {
        LineFramer {
            prefix: prefix.as_bytes().to_vec(),
            hold,
            partial: Vec::new(),
            at_line_start: true,
        }
    }

    /// True when a partial line is held back.
    pub fn has_partial(&self) -> bool {
        !self.partial.is_empty()
    }

    /// Appends to `out` what can be written now for `data`.
    pub fn frame(&mut self, data: &[u8], out: &mut Vec<u8>) {
        if !self.hold {
            for chunk in data.split_inclusive(|&b| b == b'\n') {
                if self.at_line_start {
                    out.extend_from_slice(&self.prefix);
                }
                out.extend_from_slice(chunk);
                self.at_line_start = chunk.ends_with(b"\n");
            }
            return;
        }
        let mut rest = data;
        while let Some(i) = rest.iter().position(|&b| b == b'\n') {
            out.extend_from_slice(&self.prefix);
            out.append(&mut self.partial);
            out.extend_from_slice(&rest[..=i]);
            rest = &rest[i + 1..];
        }
        self.partial.extend_from_slice(rest);
        if self.partial.len() >= MAX_PARTIAL {
            self.flush(out);
        }
    }

    /// Writes a held partial line out now, ended with a newline (what follows it
    /// starts a new, prefixed line).
    pub fn flush(&mut self, out: &mut Vec<u8>) {
        if self.partial.is_empty() {
            return;
        }
        out.extend_from_slice(&self.prefix);
        out.append(&mut self.partial);
        out.push(b'\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(f: &mut LineFramer, parts: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for p in parts {
            f.frame(p, &mut out);
        }
        out
    }

    #[test]
    fn prefixes_each_line_without_holding() {
        let mut f = LineFramer::new("web | ", false);
        let out = run(&mut f, &[b"a\nb", b"c\n\nd"]);
        assert_eq!(out, b"web | a\nweb | bc\nweb | \nweb | d");
        assert!(!f.has_partial());
    }

    #[test]
    fn holds_partial_lines_until_their_newline() {
        let mut f = LineFramer::new("w ", true);
        let mut out = Vec::new();
        f.frame(b"one\ntw", &mut out);
        assert_eq!(out, b"w one\n");
        assert!(f.has_partial());
        f.frame(b"o", &mut out);
        assert_eq!(out, b"w one\n");
        f.frame(b"\nthree\n", &mut out);
        assert_eq!(out, b"w one\nw two\nw three\n");
        assert!(!f.has_partial());
        f.frame(b"half", &mut out);
        f.flush(&mut out);
        assert_eq!(out, b"w one\nw two\nw three\nw half\n");
        f.flush(&mut out);
        assert_eq!(out, b"w one\nw two\nw three\nw half\n");
    }

    #[test]
    fn a_long_partial_line_is_bounded() {
        let mut f = LineFramer::new("", true);
        let mut out = Vec::new();
        f.frame(&vec![b'x'; MAX_PARTIAL - 1], &mut out);
        assert!(out.is_empty());
        f.frame(b"y", &mut out);
        assert_eq!(out.len(), MAX_PARTIAL + 1);
        assert!(out.ends_with(b"y\n"));
        assert!(!f.has_partial());
    }
}
