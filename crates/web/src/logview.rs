//! The log viewer's reads (`GET /api/log.json`): pieces of a process log in whole lines,
//! with the byte offsets the page needs to ask for the piece before (scrolling up) or after
//! (following new output). Built on `tailProcess*Log` (for the size and the last bytes) and
//! `readProcess*Log` (for a byte range), run through the caller's RPC closure.
//!
//! Offsets are bytes of the log file. They are exact while the log is valid UTF-8; the
//! daemon turns invalid bytes into U+FFFD, and a piece that contains some may then be off by
//! a few bytes at its start.

use std::future::Future;

use serde::Serialize;
use supervisor_protocol::{Fault, Value};

use crate::route::Channel;

/// How many bytes one piece covers (before it is cut back to a line start).
pub const CHUNK: u64 = 64 * 1024;
/// How far back a piece may reach to find the start of a line before it gives up and shows
/// the line cut (flagged with `cut`).
pub const MAX_LINE: u64 = 1024 * 1024;

/// Which piece of the log the page asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// The last [`CHUNK`] bytes (the viewer's first screen).
    Last,
    /// The [`CHUNK`] bytes that end at this offset (the history before what is shown).
    Before(u64),
    /// What was written from this offset on (at most [`CHUNK`] bytes, the newest).
    After(u64),
}

/// A piece of a log, as `api/log.json` answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogPiece {
    /// The text. It starts at a line start unless `cut` is set.
    pub text: String,
    /// Byte offset of the text's first byte in the log file.
    pub start: u64,
    /// Byte offset just after the text (for `After`: the log's size).
    pub end: u64,
    /// Older text exists before `start`.
    pub more: bool,
    /// The first line is cut: no line start was found within [`MAX_LINE`] bytes.
    pub cut: bool,
    /// `After` only: the log is now shorter than the offset asked for (cleared or rotated);
    /// the page should start again from [`Want::Last`].
    pub reset: bool,
    /// `After` only: bytes left out because more than [`CHUNK`] arrived at once.
    pub skipped: u64,
}

fn int(v: u64) -> Value {
    Value::Int(i32::try_from(v).unwrap_or(i32::MAX))
}

fn methods(channel: Channel) -> (&'static str, &'static str) {
    match channel {
        Channel::Stdout => (
            "supervisor.tailProcessStdoutLog",
            "supervisor.readProcessStdoutLog",
        ),
        Channel::Stderr => (
            "supervisor.tailProcessStderrLog",
            "supervisor.readProcessStderrLog",
        ),
    }
}

/// `tailProcess*Log(ns, 0, length)`: (text, offset after it).
async fn tail<F, Fut>(
    rpc: &mut F,
    method: &'static str,
    ns: &str,
    length: u64,
) -> Result<(String, u64), Fault>
where
    F: FnMut(&'static str, Vec<Value>) -> Fut,
    Fut: Future<Output = Result<Value, Fault>>,
{
    let v = rpc(
        method,
        vec![Value::String(ns.to_string()), Value::Int(0), int(length)],
    )
    .await?;
    let Value::Array(items) = v else {
        return Ok((String::new(), 0));
    };
    let text = items
        .first()
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let offset = items
        .get(1)
        .and_then(Value::as_int)
        .map_or(0, |o| u64::try_from(o).unwrap_or(0));
    Ok((text, offset))
}

/// `readProcess*Log(ns, start, length)`.
async fn read<F, Fut>(
    rpc: &mut F,
    method: &'static str,
    ns: &str,
    start: u64,
    length: u64,
) -> Result<String, Fault>
where
    F: FnMut(&'static str, Vec<Value>) -> Fut,
    Fut: Future<Output = Result<Value, Fault>>,
{
    if length == 0 {
        return Ok(String::new());
    }
    let v = rpc(
        method,
        vec![Value::String(ns.to_string()), int(start), int(length)],
    )
    .await?;
    Ok(v.as_str().unwrap_or("").to_string())
}

/// Cuts `text` (which starts at byte `start` of the log) back to its first line start:
/// nothing to do at offset 0, else everything up to the first newline goes. Returns the
/// text, its new start and whether no newline was found (the text is left as it is).
pub fn from_line_start(text: String, start: u64) -> (String, u64, bool) {
    if start == 0 {
        return (text, 0, false);
    }
    match line_start(&text) {
        Some(i) => (text[i..].to_string(), start + i as u64, false),
        None => (text, start, true),
    }
}

/// Where the first whole line of `text` starts: just after its first newline, unless that
/// newline ends the text (then nothing would be left to show).
fn line_start(text: &str) -> Option<usize> {
    text.find('\n').map(|i| i + 1).filter(|&i| i < text.len())
}

/// Reads the piece `want` of the log of `ns` (`channel`) through `rpc`.
pub async fn read_piece<F, Fut>(
    rpc: &mut F,
    ns: &str,
    channel: Channel,
    want: Want,
) -> Result<LogPiece, Fault>
where
    F: FnMut(&'static str, Vec<Value>) -> Fut,
    Fut: Future<Output = Result<Value, Fault>>,
{
    let (tail_m, read_m) = methods(channel);
    let mut piece = LogPiece {
        text: String::new(),
        start: 0,
        end: 0,
        more: false,
        cut: false,
        reset: false,
        skipped: 0,
    };
    let (mut text, mut start, end) = match want {
        Want::Last => {
            // The tail never ends inside a character and skips stray continuation bytes at
            // its start, so the text's length gives its start exactly.
            let (text, end) = tail(rpc, tail_m, ns, CHUNK).await?;
            let start = end.saturating_sub(text.len() as u64);
            (text, start, end)
        }
        Want::Before(end) => {
            let start = end.saturating_sub(CHUNK);
            (read(rpc, read_m, ns, start, end - start).await?, start, end)
        }
        Want::After(after) => {
            let (_, size) = tail(rpc, tail_m, ns, 0).await?;
            piece.end = size;
            if size < after {
                piece.reset = true;
                piece.start = size;
                return Ok(piece);
            }
            let start = after.max(size.saturating_sub(CHUNK));
            piece.skipped = start - after;
            let text = read(rpc, read_m, ns, start, size - start).await?;
            if piece.skipped == 0 {
                piece.text = text;
                piece.start = after;
                return Ok(piece);
            }
            (text, start, size)
        }
    };
    // A piece that starts inside the file is cut back to a line start; when it holds no
    // newline, older bytes are added until one turns up (or MAX_LINE is reached).
    while start > 0 && line_start(&text).is_none() && end - start < MAX_LINE {
        let older = start.saturating_sub(CHUNK);
        let before = read(rpc, read_m, ns, older, start - older).await?;
        if before.is_empty() {
            break;
        }
        text = before + &text;
        start = older;
    }
    let (text, start, cut) = from_line_start(text, start);
    piece.text = text;
    piece.start = start;
    piece.end = end;
    piece.cut = cut;
    piece.more = start > 0;
    Ok(piece)
}

/// The JSON body of `api/log.json`: the piece, or `{"error": "..."}`.
pub fn log_json(result: &Result<LogPiece, Fault>) -> String {
    #[derive(Serialize)]
    struct Failure<'a> {
        error: &'a str,
    }
    match result {
        Ok(piece) => crate::escape::json_for_html(piece),
        Err(f) => crate::escape::json_for_html(&Failure { error: &f.string }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::{ready, Ready};
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    fn block_on<T>(f: impl Future<Output = T>) -> T {
        let mut f = pin!(f);
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }

    /// A log file behind the two RPC methods, with the reference's tail arithmetic.
    fn fake(
        log: &[u8],
    ) -> impl FnMut(&'static str, Vec<Value>) -> Ready<Result<Value, Fault>> + '_ {
        move |method, params| {
            let n = |i: usize| params.get(i).and_then(Value::as_int).unwrap_or(0) as i64;
            let size = log.len() as i64;
            let s = |b: &[u8]| Value::String(String::from_utf8_lossy(b).into_owned());
            ready(Ok(if method.contains("tail") {
                let (off, len) = (n(1), n(2));
                let (mut o, mut l) = (off, len);
                if size > o + l {
                    o = size - 1;
                }
                if o + l > size {
                    if o > size - 1 {
                        l = 0;
                    }
                    o = size - l;
                }
                let (o, l) = (o.max(0) as usize, l.max(0) as usize);
                Value::Array(vec![
                    s(&log[o..(o + l).min(log.len())]),
                    Value::Int(size as i32),
                    Value::Bool(false),
                ])
            } else {
                let (o, l) = (n(1) as usize, n(2) as usize);
                let o = o.min(log.len());
                s(&log[o..(o + l).min(log.len())])
            }))
        }
    }

    fn lines(n: usize) -> Vec<u8> {
        (0..n)
            .flat_map(|i| format!("line {i:05} of the log\n").into_bytes())
            .collect()
    }

    #[test]
    fn last_piece_starts_at_a_line() {
        let log = lines(10_000); // 22 bytes a line
        let p = block_on(read_piece(
            &mut fake(&log),
            "a",
            Channel::Stdout,
            Want::Last,
        ))
        .unwrap();
        assert!(p.text.starts_with("line ") && p.text.ends_with("line 09999 of the log\n"));
        assert_eq!(p.end, log.len() as u64);
        assert_eq!(&log[p.start as usize..], p.text.as_bytes());
        assert!(p.more && !p.cut);
        assert!(log.len() as u64 - p.start <= CHUNK);
        // Paging back joins up exactly, down to the first line.
        let mut start = p.start;
        let mut all = p.text;
        while start > 0 {
            let q = block_on(read_piece(
                &mut fake(&log),
                "a",
                Channel::Stdout,
                Want::Before(start),
            ))
            .unwrap();
            assert_eq!(q.end, start);
            assert!(q.text.starts_with("line ") && q.text.ends_with('\n'));
            all = q.text + &all;
            start = q.start;
            assert_eq!(q.more, start > 0);
        }
        assert_eq!(all.as_bytes(), &log[..]);
    }

    #[test]
    fn small_logs_and_new_output() {
        let log = b"one\ntwo\nthr".to_vec();
        let p = block_on(read_piece(
            &mut fake(&log),
            "a",
            Channel::Stdout,
            Want::Last,
        ))
        .unwrap();
        assert_eq!(
            (p.text.as_str(), p.start, p.end, p.more),
            ("one\ntwo\nthr", 0, 11, false)
        );
        let a = block_on(read_piece(
            &mut fake(&log),
            "a",
            Channel::Stdout,
            Want::After(8),
        ))
        .unwrap();
        assert_eq!(
            (a.text.as_str(), a.start, a.end, a.reset),
            ("thr", 8, 11, false)
        );
        let none = block_on(read_piece(
            &mut fake(&log),
            "a",
            Channel::Stdout,
            Want::After(11),
        ))
        .unwrap();
        assert_eq!((none.text.as_str(), none.end), ("", 11));
        let gone = block_on(read_piece(
            &mut fake(&log),
            "a",
            Channel::Stdout,
            Want::After(50),
        ))
        .unwrap();
        assert!(gone.reset && gone.text.is_empty());
        // Far behind: the newest CHUNK, from a line start, with the gap counted.
        let big = lines(10_000);
        let b = block_on(read_piece(
            &mut fake(&big),
            "a",
            Channel::Stderr,
            Want::After(10),
        ))
        .unwrap();
        assert!(b.skipped > 0 && b.text.starts_with("line "));
        assert_eq!(&big[b.start as usize..], b.text.as_bytes());
    }

    #[test]
    fn a_huge_line_is_read_back_to_its_start_or_flagged() {
        let mut log = b"first\n".to_vec();
        log.extend(std::iter::repeat_n(b'x', 200_000));
        log.push(b'\n');
        let p = block_on(read_piece(
            &mut fake(&log),
            "a",
            Channel::Stdout,
            Want::Last,
        ))
        .unwrap();
        // Read back to the start of the file, which is where the long line's start was found.
        assert_eq!((p.start, p.text.len()), (0, 200_007));
        assert!(!p.cut && !p.more && p.text.starts_with("first\nxxx"));
        let mut far = vec![b'z'; 300_000];
        far.extend_from_slice(&log);
        let p = block_on(read_piece(
            &mut fake(&far),
            "a",
            Channel::Stdout,
            Want::Last,
        ))
        .unwrap();
        assert!(!p.cut && p.more && p.text.starts_with("xxx") && p.text.len() == 200_001);
        log.extend_from_slice(b"end\n");
        let p = block_on(read_piece(
            &mut fake(&log),
            "a",
            Channel::Stdout,
            Want::Last,
        ))
        .unwrap();
        assert_eq!((p.start, p.text.as_str()), (200_007, "end\n"));
        let mut long = vec![b'y'; (MAX_LINE + 3 * CHUNK) as usize];
        long.push(b'\n');
        let p = block_on(read_piece(
            &mut fake(&long),
            "a",
            Channel::Stdout,
            Want::Last,
        ))
        .unwrap();
        assert!(p.cut && p.more);
    }

    #[test]
    fn json_escapes_and_reports_faults() {
        let ok = Ok(LogPiece {
            text: "</script>".into(),
            start: 1,
            end: 10,
            more: true,
            cut: false,
            reset: false,
            skipped: 0,
        });
        let j = log_json(&ok);
        assert!(!j.contains("</script>"));
        let v: serde_json::Value = serde_json::from_str(&j).unwrap();
        assert_eq!(v["text"], "</script>");
        assert_eq!(v["end"], 10);
        let err = Err(Fault::new(supervisor_protocol::FaultCode::BadName, "x"));
        assert_eq!(log_json(&err), r#"{"error":"BAD_NAME: x"}"#);
    }
}
