//! Reading log files for `readLog`, `readProcess*Log` and `tailProcess*Log`: pure functions
//! over a path, byte-exact offsets as the reference computes them.
//!
//! The bytes are turned into a string losslessly where possible: valid UTF-8 is kept as is;
//! each invalid sequence becomes U+FFFD (the reference raises a decode error instead, which
//! clients see as a broken call). Characters XML cannot carry (C0 controls, U+FFFE/U+FFFF)
//! are replaced when the answer is written (see
//! [`escape_into`](supervisor_protocol::xmlrpc::escape_into)); offsets and lengths always
//! count bytes of the file, never characters of the answer. A tail never splits a
//! character: an incomplete sequence at the end is held back (the returned offset stops
//! before it, so the next tail returns the whole character), and stray continuation bytes
//! where an overflowing tail starts are skipped.
//!
//! Every read is told the room its answer has (see [`budget`](super::budget)) and is
//! refused with [`ReadError::TooLarge`] before any byte is read when what it would return
//! does not fit.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// Why a read failed, mapped to a fault by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadError {
    /// The offset/length combination is not allowed (`BAD_ARGUMENTS`).
    BadArguments,
    /// The file could not be opened or read (`FAILED`).
    Failed,
    /// The bytes asked for do not fit in the room the answer has left.
    TooLarge,
}

/// The most bytes one read or tail call returns, whatever the client asks for (bounds the
/// daemon's memory; the reference has no bound). Clients page with offsets anyway.
pub const MAX_READ: u64 = 64 * 1024 * 1024;

/// Converts log bytes to a string: valid UTF-8 unchanged, each invalid sequence as U+FFFD.
pub fn bytes_to_string(data: Vec<u8>) -> String {
    match String::from_utf8(data) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

/// Reads exactly the `count` bytes at `pos` (fewer if the file shrank meanwhile).
fn read_at(f: &mut File, pos: u64, count: u64) -> std::io::Result<Vec<u8>> {
    f.seek(SeekFrom::Start(pos))?;
    let mut buf = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    f.take(count).read_to_end(&mut buf)?;
    Ok(buf)
}

/// `readLog(offset, length)` semantics (§4.8):
/// offset ≥ 0, length 0: offset to EOF; offset ≥ 0, length > 0: up to `length` bytes;
/// offset < 0, length 0: the last `-offset` bytes; any other sign combination: BAD_ARGUMENTS.
/// At most [`MAX_READ`] bytes are returned; more than `room` is [`ReadError::TooLarge`].
pub fn read_file(path: &Path, offset: i64, length: i64, room: u64) -> Result<Vec<u8>, ReadError> {
    if offset < 0 && length != 0 {
        return Err(ReadError::BadArguments);
    }
    if offset >= 0 && length < 0 {
        return Err(ReadError::BadArguments);
    }
    let mut f = File::open(path).map_err(|_| ReadError::Failed)?;
    let size = f.metadata().map_err(|_| ReadError::Failed)?.len();
    let (pos, want) = if offset < 0 {
        let back = offset.unsigned_abs();
        (size.saturating_sub(back), back)
    } else if length == 0 {
        (offset as u64, u64::MAX)
    } else {
        (offset as u64, length as u64)
    };
    let count = want.min(MAX_READ).min(size.saturating_sub(pos));
    if count > room {
        return Err(ReadError::TooLarge);
    }
    if count == 0 {
        return Ok(Vec::new());
    }
    read_at(&mut f, pos, count).map_err(|_| ReadError::Failed)
}

/// The result of a tail: data, the new offset (the file size) and the overflow flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tail {
    /// The bytes returned.
    pub data: Vec<u8>,
    /// What the client passes as `offset` next time: always the current size.
    pub offset: i64,
    /// True when more than `length` bytes were available after `offset`.
    pub overflow: bool,
}

/// The reference's tail arithmetic on a file of `size` bytes: the byte range to return
/// (start, length) and the overflow flag.
pub fn tail_range(size: i64, offset: i64, length: i64) -> (i64, i64, bool) {
    let mut offset = offset;
    let mut length = length;
    let mut overflow = false;
    if size > offset.saturating_add(length) {
        overflow = true;
        offset = size - 1;
    }
    if offset.saturating_add(length) > size {
        if offset > size - 1 {
            length = 0;
        }
        offset = size - length;
    }
    (offset.max(0), length.max(0), overflow)
}

/// `tailProcess*Log(offset, length)` semantics (§4.8). A file that cannot be read gives
/// `['', offset, false]` as in the reference. At most [`MAX_READ`] bytes are returned; more
/// than `room` is [`ReadError::TooLarge`] (the only error).
pub fn tail_file(path: &Path, offset: i64, length: i64, room: u64) -> Result<Tail, ReadError> {
    let fail = Tail {
        data: Vec::new(),
        offset,
        overflow: false,
    };
    let Ok(mut f) = File::open(path) else {
        return Ok(fail);
    };
    let Ok(meta) = f.metadata() else {
        return Ok(fail);
    };
    let size = i64::try_from(meta.len()).unwrap_or(i64::MAX);
    let (start, len, overflow) = tail_range(size, offset, length);
    let count = (len as u64)
        .min(MAX_READ)
        .min(size.saturating_sub(start).max(0) as u64);
    if count > room {
        return Err(ReadError::TooLarge);
    }
    let mut data = if count == 0 {
        Vec::new()
    } else {
        match read_at(&mut f, start as u64, count) {
            Ok(d) => d,
            Err(_) => return Ok(fail),
        }
    };
    let mut offset = size;
    // Only when the data reaches EOF can the held-back bytes be re-read next time.
    if start + data.len() as i64 == size {
        let keep = complete_prefix_len(&data);
        offset -= (data.len() - keep) as i64;
        data.truncate(keep);
    }
    let skip = data
        .iter()
        .take(3)
        .take_while(|b| (**b & 0xC0) == 0x80)
        .count();
    data.drain(..skip);
    Ok(Tail {
        data,
        offset,
        overflow,
    })
}

/// The length of `data` without an incomplete UTF-8 sequence at its end (a lead byte
/// followed by fewer continuation bytes than it announces).
pub fn complete_prefix_len(data: &[u8]) -> usize {
    let n = data.len();
    // The last lead byte (or ASCII) among the final four bytes.
    for back in 1..=n.min(4) {
        let b = data[n - back];
        if (b & 0xC0) == 0x80 {
            continue;
        }
        let need = match b {
            0xC2..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF4 => 4,
            _ => 1,
        };
        return if need > back { n - back } else { n };
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(content: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut f, content).unwrap();
        f
    }

    #[test]
    fn read_rules() {
        let f = file(b"0123456789");
        let p = f.path();
        assert_eq!(read_file(p, 0, 0, u64::MAX).unwrap(), b"0123456789");
        assert_eq!(read_file(p, 3, 0, u64::MAX).unwrap(), b"3456789");
        assert_eq!(read_file(p, 3, 2, u64::MAX).unwrap(), b"34");
        assert_eq!(read_file(p, 8, 5, u64::MAX).unwrap(), b"89");
        assert_eq!(read_file(p, 20, 5, u64::MAX).unwrap(), b"");
        assert_eq!(read_file(p, -3, 0, u64::MAX).unwrap(), b"789");
        assert_eq!(read_file(p, -30, 0, u64::MAX).unwrap(), b"0123456789");
        assert_eq!(read_file(p, -3, 1, u64::MAX), Err(ReadError::BadArguments));
        assert_eq!(read_file(p, 0, -1, u64::MAX), Err(ReadError::BadArguments));
        assert_eq!(
            read_file(Path::new("/nonexistent/x"), 0, 0, u64::MAX),
            Err(ReadError::Failed)
        );
    }

    #[test]
    fn tail_rules_match_reference_examples() {
        let content = b"abcdefghijklmnopqrstuvi\n"; // 24 bytes
        let f = file(content);
        let t = tail_file(f.path(), 0, 100, u64::MAX).unwrap();
        assert_eq!(
            (t.data.as_slice(), t.offset, t.overflow),
            (&content[..], 24, false)
        );
        let t = tail_file(f.path(), 0, 2, u64::MAX).unwrap();
        assert_eq!(
            (t.data.as_slice(), t.offset, t.overflow),
            (&b"i\n"[..], 24, true)
        );
        let t = tail_file(f.path(), 100, 2, u64::MAX).unwrap();
        assert_eq!(
            (t.data.as_slice(), t.offset, t.overflow),
            (&b""[..], 24, false)
        );
        // Like the reference: a window reaching past EOF is slid back to end at EOF.
        let t = tail_file(f.path(), 20, 100, u64::MAX).unwrap();
        assert_eq!(
            (t.data.as_slice(), t.offset, t.overflow),
            (&content[..], 24, false)
        );
        let t = tail_file(f.path(), 20, 3, u64::MAX).unwrap();
        assert_eq!(
            (t.data.as_slice(), t.offset, t.overflow),
            (&b"vi\n"[..], 24, true)
        );
        let t = tail_file(Path::new("/nonexistent/x"), 7, 2, u64::MAX).unwrap();
        assert_eq!((t.data.len(), t.offset, t.overflow), (0, 7, false));
    }

    #[test]
    fn tail_range_edge_cases() {
        // Empty file.
        assert_eq!(tail_range(0, 0, 100), (0, 0, false));
        // Negative length never reads.
        assert_eq!(tail_range(10, 0, -5).1, 0);
        // Offset exactly at the end.
        assert_eq!(tail_range(10, 10, 5), (10, 0, false));
    }

    #[test]
    fn tails_never_split_characters() {
        let f = file("ab\u{e9}".as_bytes()); // a b 0xC3 0xA9
        let p = f.path();
        // Only the first byte of 'é' is written so far.
        std::fs::write(p, b"ab\xc3").unwrap();
        let t = tail_file(p, 0, 100, u64::MAX).unwrap();
        assert_eq!(
            (t.data.as_slice(), t.offset, t.overflow),
            (&b"ab"[..], 2, false)
        );
        std::fs::write(p, "ab\u{e9}z".as_bytes()).unwrap();
        let t = tail_file(p, t.offset, 3, u64::MAX).unwrap();
        assert_eq!(bytes_to_string(t.data), "\u{e9}z");
        assert_eq!(t.offset, 5);
        // An overflowing tail that starts inside a character skips its tail bytes.
        let t = tail_file(p, 0, 2, u64::MAX).unwrap();
        assert!(t.overflow);
        assert_eq!(bytes_to_string(t.data), "z");
        assert_eq!(complete_prefix_len("\u{1f600}".as_bytes()), 4);
        assert_eq!(complete_prefix_len(&"\u{1f600}".as_bytes()[..3]), 0);
        assert_eq!(complete_prefix_len(b"a\xff"), 2);
        assert_eq!(complete_prefix_len(b""), 0);
    }

    #[test]
    fn reads_are_refused_before_reading_when_they_do_not_fit() {
        let f = file(b"0123456789");
        let p = f.path();
        // The count is what the read would return, not what was asked for.
        assert_eq!(read_file(p, 0, 0, 10).unwrap(), b"0123456789");
        assert_eq!(read_file(p, 0, 0, 9), Err(ReadError::TooLarge));
        assert_eq!(read_file(p, 8, 1000, 2).unwrap(), b"89");
        assert_eq!(read_file(p, -3, 0, 3).unwrap(), b"789");
        assert_eq!(read_file(p, -3, 0, 2), Err(ReadError::TooLarge));
        assert_eq!(read_file(p, 20, 5, 0).unwrap(), b"");
        // Argument errors come first.
        assert_eq!(read_file(p, -3, 1, 0), Err(ReadError::BadArguments));
        assert_eq!(tail_file(p, 0, 4, 4).unwrap().data, b"6789");
        assert_eq!(tail_file(p, 0, 4, 3), Err(ReadError::TooLarge));
        assert_eq!(tail_file(p, 0, 1000, 10).unwrap().data, b"0123456789");
        assert_eq!(tail_file(p, 10, 1000, 0).unwrap().offset, 10);
        // A missing file is the reference's empty tail, whatever the room.
        let t = tail_file(Path::new("/nonexistent/x"), 7, 2, 0).unwrap();
        assert_eq!((t.data.len(), t.offset), (0, 7));
    }

    #[test]
    fn lossless_text() {
        assert_eq!(bytes_to_string(b"caf\xc3\xa9".to_vec()), "caf\u{e9}");
        assert_eq!(bytes_to_string(b"a\xffb".to_vec()), "a\u{fffd}b");
    }
}
