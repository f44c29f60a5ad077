//! Log targets that are not regular files: `/dev/stdout`, `/dev/stderr`, `/dev/fd/N`,
//! pipes, FIFOs, terminals and sockets (the container case).
//!
//! * `/dev/stdout`, `/dev/stderr`, `/dev/fd/N` and `/proc/self/fd/N` name one of the
//!   daemon's own descriptors. They are never opened as files: a socket behind them
//!   cannot be opened at all (ENXIO), a regular file behind them would be truncated or
//!   rotated under the name of a symlink. Instead a pipe or terminal behind them is opened
//!   again through `/proc/self/fd/N` (a description of our own, which may be made
//!   non-blocking without changing the daemon's fd N for anybody else), and anything else
//!   (a socket, a regular file) is duplicated.
//! * Writes never block the loop for long: our own descriptions are non-blocking, and a
//!   socket is written with `MSG_DONTWAIT`. When the reader does not keep up, a write
//!   waits for room ([`STALL_WAIT`] at most per stall); if the reader still takes
//!   nothing, the output is dropped and counted until it reads again (the log's owner
//!   reports the loss, like a full disk).
//! * Data is written in pieces of whole lines of at most `PIPE_BUF` bytes (a longer line
//!   is written alone), so writes from other processes sharing the pipe never land in
//!   the middle of a line.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

/// How long a write waits in total for a reader that does not read, before the output
/// is dropped (and counted) until the reader takes data again.
pub const STALL_WAIT: Duration = Duration::from_secs(3);

/// Writes up to this size are atomic on a pipe (Linux `PIPE_BUF`).
pub const PIPE_BUF: usize = 4096;

/// The daemon descriptor a path names, if it is one of the aliases of a descriptor.
pub fn fd_alias(path: &Path) -> Option<i32> {
    let s = path.to_str()?;
    match s {
        "/dev/stdout" => return Some(1),
        "/dev/stderr" => return Some(2),
        "/dev/stdin" => return Some(0),
        _ => {}
    }
    let n = s
        .strip_prefix("/dev/fd/")
        .or_else(|| s.strip_prefix("/proc/self/fd/"))?;
    if n.is_empty() || n.len() > 9 || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    n.parse().ok()
}

/// What kind of stream a descriptor is, for writing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    /// A socket: written with `send(MSG_DONTWAIT | MSG_NOSIGNAL)`.
    Socket,
    /// Anything else written with `write(2)` on a non-blocking description of our own.
    NonBlocking,
    /// A shared, blocking description (the fallback when no description of our own
    /// could be had): writes may block while its reader does not read.
    Blocking,
}

/// An open stream target.
#[derive(Debug)]
pub struct Stream {
    /// The descriptor.
    pub file: File,
    /// How to write it.
    pub kind: StreamKind,
    /// True after a stall ran out of [`STALL_WAIT`]: writes do not wait any more until
    /// one goes through.
    stalled: bool,
    /// True when the last piece written did not end a line (a stall cut it).
    mid_line: bool,
}

fn is_socket(file: &File) -> bool {
    file.metadata()
        .map(|m| m.file_type().is_socket())
        .unwrap_or(false)
}

fn set_nonblocking(file: &File) -> bool {
    let fd = file.as_raw_fd();
    // SAFETY: fcntl(2) F_GETFL/F_SETFL on a descriptor we own; no memory is passed.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        flags >= 0 && libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) == 0
    }
}

impl Stream {
    /// Opens the descriptor `fd` of the daemon as a stream (see the module doc).
    pub fn from_daemon_fd(fd: i32) -> io::Result<Stream> {
        // SAFETY: F_DUPFD_CLOEXEC makes a new descriptor (or fails); it takes no memory.
        let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
        if dup < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `dup` is a descriptor we just created and own from here on.
        let dup = File::from(unsafe { OwnedFd::from_raw_fd(dup) });
        if is_socket(&dup) {
            return Ok(Stream::new(dup, StreamKind::Socket));
        }
        let ft = dup.metadata()?.file_type();
        if ft.is_fifo() || ft.is_char_device() {
            let own = OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_CLOEXEC | libc::O_NONBLOCK | libc::O_NOCTTY)
                .open(format!("/proc/self/fd/{fd}"));
            if let Ok(own) = own {
                return Ok(Stream::new(own, StreamKind::NonBlocking));
            }
        }
        // A regular file (or anything else) behind the descriptor: the duplicate shares
        // its description, so its offset too: writes through fd 1 itself and through us
        // never overwrite each other.
        Ok(Stream::new(dup, StreamKind::Blocking))
    }

    /// Makes a stream of a file opened by path that turned out not to be a regular
    /// file (a FIFO, a terminal, `/dev/null`, a character device): the description is
    /// our own, so it is made non-blocking.
    pub fn from_opened(file: File) -> Stream {
        let kind = if set_nonblocking(&file) {
            StreamKind::NonBlocking
        } else {
            StreamKind::Blocking
        };
        Stream::new(file, kind)
    }

    fn new(file: File, kind: StreamKind) -> Stream {
        Stream {
            file,
            kind,
            stalled: false,
            mid_line: false,
        }
    }

    fn raw_write(&self, data: &[u8]) -> io::Result<usize> {
        let fd = self.file.as_raw_fd();
        let n = match self.kind {
            // SAFETY: send(2) of a valid buffer on a descriptor we own.
            StreamKind::Socket => unsafe {
                libc::send(
                    fd,
                    data.as_ptr().cast(),
                    data.len(),
                    libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
                )
            },
            // SAFETY: write(2) of a valid buffer on a descriptor we own.
            _ => unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) },
        };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    }

    /// Waits until the descriptor takes data or `deadline` passes. True if writable.
    fn wait_writable(&self, deadline: Instant) -> bool {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            // Rounded up: poll's milliseconds must not end the wait early.
            let ms = left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
            let mut pfd = libc::pollfd {
                fd: self.file.as_raw_fd(),
                events: libc::POLLOUT,
                revents: 0,
            };
            // SAFETY: poll(2) on one pollfd that lives on this stack frame.
            let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
            if rc > 0 {
                return true;
            }
            if rc == 0 {
                if Instant::now() < deadline {
                    continue;
                }
                return false;
            }
            if io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                return false;
            }
        }
    }

    /// Writes all of `data` in pieces of whole lines (see the module doc). On failure
    /// returns how many bytes were written and the error; `WouldBlock` means the reader
    /// stalled past [`STALL_WAIT`] (or is still stalled).
    pub fn write_all_lines(&mut self, data: &[u8]) -> Result<(), (usize, io::Error)> {
        if self.mid_line && !data.is_empty() {
            // A stall cut the last line: end it, so this output starts a line of its own.
            match self.write_piece(b"\n") {
                Ok(()) => self.mid_line = false,
                Err((_, e)) => return Err((0, e)),
            }
        }
        let mut off = 0;
        while off < data.len() {
            let end = piece_end(data, off);
            if let Err((n, e)) = self.write_piece(&data[off..end]) {
                if n > 0 {
                    self.mid_line = data[off + n - 1] != b'\n';
                }
                return Err((off + n, e));
            }
            off = end;
        }
        Ok(())
    }

    fn write_piece(&mut self, piece: &[u8]) -> Result<(), (usize, io::Error)> {
        let mut off = 0;
        let mut deadline = None;
        while off < piece.len() {
            match self.raw_write(&piece[off..]) {
                Ok(0) => return Err((off, io::ErrorKind::WriteZero.into())),
                Ok(n) => {
                    off += n;
                    self.stalled = false;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if self.stalled {
                        return Err((off, e));
                    }
                    let d = *deadline.get_or_insert_with(|| Instant::now() + STALL_WAIT);
                    if !self.wait_writable(d) {
                        self.stalled = true;
                        return Err((off, e));
                    }
                }
                Err(e) => return Err((off, e)),
            }
        }
        Ok(())
    }
}

/// The end of the next piece starting at `off`: as many whole lines as fit in
/// [`PIPE_BUF`], or one longer line alone, or the rest.
fn piece_end(data: &[u8], off: usize) -> usize {
    let rest = &data[off..];
    if rest.len() <= PIPE_BUF {
        return data.len();
    }
    match rest[..PIPE_BUF].iter().rposition(|&b| b == b'\n') {
        Some(i) => off + i + 1,
        None => match rest.iter().position(|&b| b == b'\n') {
            Some(i) => off + i + 1,
            None => data.len(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn aliases() {
        assert_eq!(fd_alias(Path::new("/dev/stdout")), Some(1));
        assert_eq!(fd_alias(Path::new("/dev/stderr")), Some(2));
        assert_eq!(fd_alias(Path::new("/dev/fd/7")), Some(7));
        assert_eq!(fd_alias(Path::new("/proc/self/fd/12")), Some(12));
        assert_eq!(fd_alias(Path::new("/dev/fd/")), None);
        assert_eq!(fd_alias(Path::new("/dev/fd/x")), None);
        assert_eq!(fd_alias(Path::new("/tmp/stdout")), None);
    }

    #[test]
    fn pieces_are_whole_lines_within_pipe_buf() {
        let mut data = Vec::new();
        for i in 0..2000 {
            data.extend_from_slice(format!("line {i}\n").as_bytes());
        }
        let long = vec![b'x'; 10_000];
        data.extend_from_slice(&long);
        data.push(b'\n');
        data.extend_from_slice(b"tail");
        let mut off = 0;
        let mut pieces = Vec::new();
        while off < data.len() {
            let end = piece_end(&data, off);
            pieces.push(&data[off..end]);
            off = end;
        }
        assert_eq!(pieces.concat(), data);
        for p in &pieces[..pieces.len() - 1] {
            assert!(p.ends_with(b"\n"));
            assert!(p.len() <= PIPE_BUF || !p[..p.len() - 1].contains(&b'\n'));
        }
        assert!(pieces.iter().any(|p| p.len() == 10_001));
    }

    fn pipe() -> (File, File) {
        let (r, w) = nix::unistd::pipe().unwrap();
        (File::from(r), File::from(w))
    }

    /// A reader that stops: the write waits (bounded), gives up with WouldBlock, later
    /// writes fail at once, and once the reader drains the pipe writing works again,
    /// starting on a fresh line.
    #[test]
    fn stalled_reader_is_bounded_and_recovers() {
        let (mut r, w) = pipe();
        let mut s = Stream::from_opened(w);
        assert_eq!(s.kind, StreamKind::NonBlocking);
        let line = vec![b'a'; 1000];
        let mut full = line.clone();
        full.push(b'\n');
        let started = Instant::now();
        let err = loop {
            if let Err(e) = s.write_all_lines(&full) {
                break e;
            }
        };
        assert_eq!(err.1.kind(), io::ErrorKind::WouldBlock);
        let waited = started.elapsed();
        assert!(
            waited >= STALL_WAIT && waited < STALL_WAIT * 3,
            "{waited:?}"
        );
        let again = Instant::now();
        assert!(s.write_all_lines(&full).is_err(), "still no room for it");
        assert!(
            again.elapsed() < Duration::from_millis(500),
            "no second wait"
        );
        // Drain, then write again.
        let mut buf = vec![0u8; 1 << 20];
        let mut got = Vec::new();
        set_nonblocking(&r);
        while let Ok(n) = r.read(&mut buf) {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        assert!(got.len() >= 1001);
        s.write_all_lines(b"back\n").unwrap();
        let n = r.read(&mut buf).unwrap();
        let tail = &buf[..n];
        assert!(
            tail.ends_with(b"back\n"),
            "{:?}",
            String::from_utf8_lossy(tail)
        );
        // Everything read is whole lines (pipe writes of whole lines are atomic).
        let mut all = got;
        all.extend_from_slice(tail);
        for l in all.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            assert!(l == line.as_slice() || l == b"back", "{}", l.len());
        }
    }

    #[test]
    fn socket_behind_a_descriptor_is_duplicated_and_written() {
        let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
        let mut s = Stream::from_daemon_fd(a.as_raw_fd()).unwrap();
        assert_eq!(s.kind, StreamKind::Socket);
        drop(a);
        s.write_all_lines(b"hello\n").unwrap();
        let mut buf = [0u8; 16];
        let n = b.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"hello\n");
    }

    #[test]
    fn pipe_behind_a_descriptor_gets_its_own_nonblocking_description() {
        let (mut r, w) = pipe();
        let mut s = Stream::from_daemon_fd(w.as_raw_fd()).unwrap();
        assert_eq!(s.kind, StreamKind::NonBlocking);
        // The daemon's own descriptor stays blocking.
        // SAFETY: F_GETFL on a descriptor this test owns.
        let flags = unsafe { libc::fcntl(w.as_raw_fd(), libc::F_GETFL) };
        assert_eq!(flags & libc::O_NONBLOCK, 0);
        s.write_all_lines(b"x\n").unwrap();
        let mut buf = [0u8; 4];
        assert_eq!(r.read(&mut buf).unwrap(), 2);
    }
}
