//! The log viewer's reads (`GET /api/log.json`): pieces of a process log in whole lines,
//! with the byte offsets the page needs to ask for the piece before (scrolling up) or after
//! (following new output). Built on `tailProcess*Log` (for the size and the last bytes) and
//! `readProcess*Log` (for a byte range), run through the caller's RPC closure.
//!
//! Offsets are bytes of the log file and always exact: every piece is read as an explicit
//! byte range, never derived from the length of the text (the daemon sends invalid UTF-8 as
//! U+FFFD and control bytes as their Control Pictures, so text and bytes differ in length).
//! A piece that starts inside a line says so: the cut fragment comes as `head`, which the page
//! keeps hidden and puts back after the piece before it once that one is read, so lines join
//! up exactly. (A multi-byte character that straddles a piece boundary shows as two
//! U+FFFD, the one artefact left.)

use std::future::Future;

use serde::Serialize;
use supervisor_protocol::{Fault, Value};

use crate::route::Channel;

/// How many bytes one piece covers (before it is cut back to a line start).
pub const CHUNK: u64 = 64 * 1024;
/// The most new output one `After` read returns; when more arrived since, the oldest of
/// it is left out (`skipped`). Larger than [`CHUNK`] so that a page that falls behind a
/// fast writer for a moment catches up without a gap.
pub const MAX_FOLLOW: u64 = 1024 * 1024;
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
    /// What was written from this offset on (at most [`MAX_FOLLOW`] bytes, the newest).
    After(u64),
}

/// A piece of a log, as `api/log.json` answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogPiece {
    /// The bytes from `start` up to the first line start (the end of a line cut by `start`;
    /// empty at offset 0 or when `cut`). Not to be shown before the piece ahead of it is.
    pub head: String,
    /// The text after `head`: whole lines (unless `cut`), up to `end`.
    pub text: String,
    /// Byte offset in the log file where `head` starts.
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
    /// `After` only: bytes left out because more than [`MAX_FOLLOW`] arrived at once.
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

/// The log's size: `tailProcess*Log(ns, 0, 0)` reads nothing and answers the size as its
/// offset (0 when the file does not exist).
async fn size<F, Fut>(rpc: &mut F, method: &'static str, ns: &str) -> Result<u64, Fault>
where
    F: FnMut(&'static str, Vec<Value>) -> Fut,
    Fut: Future<Output = Result<Value, Fault>>,
{
    let v = rpc(
        method,
        vec![Value::String(ns.to_string()), Value::Int(0), Value::Int(0)],
    )
    .await?;
    let Value::Array(items) = v else {
        return Ok(0);
    };
    Ok(items
        .get(1)
        .and_then(Value::as_int)
        .map_or(0, |o| u64::try_from(o).unwrap_or(0)))
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

/// Splits `text`, which starts at byte `start` of the log, at its first line start: at
/// offset 0 the whole text is lines; else everything up to the first newline is the cut
/// fragment. Returns (fragment, lines, cut): `cut` when no line start was found (the whole
/// text is then returned as lines, cut).
pub fn from_line_start(text: String, start: u64) -> (String, String, bool) {
    if start == 0 {
        return (String::new(), text, false);
    }
    match line_start(&text) {
        Some(i) => {
            let mut head = text;
            let lines = head.split_off(i);
            (head, lines, false)
        }
        None => (String::new(), text, true),
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
        head: String::new(),
        text: String::new(),
        start: 0,
        end: 0,
        more: false,
        cut: false,
        reset: false,
        skipped: 0,
    };
    let end = match want {
        Want::Last => size(rpc, tail_m, ns).await?,
        Want::Before(end) => end,
        Want::After(after) => {
            let size = size(rpc, tail_m, ns).await?;
            piece.end = size;
            if size < after {
                piece.reset = true;
                piece.start = size;
                return Ok(piece);
            }
            if size - after <= MAX_FOLLOW {
                piece.text = read(rpc, read_m, ns, after, size - after).await?;
                piece.start = after;
                return Ok(piece);
            }
            piece.skipped = size - MAX_FOLLOW - after;
            size
        }
    };
    let span = if matches!(want, Want::After(_)) {
        MAX_FOLLOW
    } else {
        CHUNK
    };
    let mut start = end.saturating_sub(span);
    let mut text = read(rpc, read_m, ns, start, end - start).await?;
    // A piece that starts inside the file is cut at a line start; when it holds none, older
    // bytes are added until one turns up (or MAX_LINE is reached).
    while start > 0 && line_start(&text).is_none() && end - start < MAX_LINE {
        let older = start.saturating_sub(CHUNK);
        let before = read(rpc, read_m, ns, older, start - older).await?;
        if before.is_empty() {
            break;
        }
        text = before + &text;
        start = older;
    }
    let (head, text, cut) = from_line_start(text, start);
    piece.head = head;
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
        let last = |log: &[u8], want| {
            block_on(read_piece(&mut fake(log), "a", Channel::Stdout, want)).unwrap()
        };
        let p = last(&log, Want::Last);
        assert!(p.text.starts_with("line ") && p.text.ends_with("line 09999 of the log\n"));
        assert!(p.head.ends_with('\n') && !p.head.starts_with("line"));
        assert_eq!(
            (p.start, p.end),
            (log.len() as u64 - CHUNK, log.len() as u64)
        );
        let joined = p.head.clone() + &p.text;
        assert!(&log[p.start as usize..] == joined.as_bytes());
        assert!(p.more && !p.cut);
        // Paging back joins up exactly, down to the first line: each piece, then the head
        // the piece after it held back.
        let (mut all, mut carry, mut start) = (p.text, p.head, p.start);
        while start > 0 {
            let q = last(&log, Want::Before(start));
            assert_eq!(q.end, start);
            assert!(q.text.starts_with("line "));
            all = q.text + &carry + &all;
            carry = q.head;
            start = q.start;
            assert_eq!(q.more, start > 0);
        }
        assert_eq!(carry, "");
        assert!(all.as_bytes() == &log[..]);
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
        let big = lines(60_000);
        let b = block_on(read_piece(
            &mut fake(&big),
            "a",
            Channel::Stderr,
            Want::After(10),
        ))
        .unwrap();
        assert!(b.skipped > 0 && b.text.starts_with("line "));
        assert_eq!(b.skipped + 10 + MAX_FOLLOW, big.len() as u64);
        assert_eq!(&big[b.start as usize..], (b.head + &b.text).as_bytes());
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
        assert_eq!(
            (p.start + p.head.len() as u64, p.text.as_str()),
            (200_007, "end\n")
        );
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
    fn offsets_stay_exact_when_text_and_bytes_differ() {
        // Colour codes: the daemon sends ESC as a 3-byte Control Picture. Pages still join
        // up: the text is exactly what the byte ranges decode to.
        let log: Vec<u8> = (0..5000)
            .flat_map(|i| format!("\x1b[32mok\x1b[0m {i:05} done\n").into_bytes())
            .collect();
        let pictures = |b: &[u8]| {
            String::from_utf8_lossy(b)
                .chars()
                .map(|c| if c == '\x1b' { '\u{241b}' } else { c })
                .collect::<String>()
        };
        let mut rpc = |method: &'static str, params: Vec<Value>| {
            let r = fake(&log)(method, params);
            let v = r.into_inner().unwrap();
            ready(Ok(match v {
                Value::String(t) => Value::String(pictures(t.as_bytes())),
                other => other,
            }))
        };
        let p = block_on(read_piece(&mut rpc, "a", Channel::Stdout, Want::Last)).unwrap();
        let mut all = p.text;
        let (mut carry, mut start) = (p.head, p.start);
        while start > 0 {
            let q = block_on(read_piece(
                &mut rpc,
                "a",
                Channel::Stdout,
                Want::Before(start),
            ))
            .unwrap();
            all = q.text + &carry + &all;
            carry = q.head;
            start = q.start;
        }
        assert_eq!(all, pictures(&log));
    }

    #[test]
    fn json_escapes_and_reports_faults() {
        let ok = Ok(LogPiece {
            head: String::new(),
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
