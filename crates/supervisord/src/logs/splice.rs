//! Zero-copy log capture: a child's output moved from its pipe straight into the log file
//! with splice(2), never through user space.
//!
//! The pipe reader (`runtime::io`) takes this path only while a channel's bytes need no
//! inspection (see [`ChannelLogger::splice_from`](super::ChannelLogger::splice_from) and
//! the reader's own conditions: no PROCESS_LOG subscriber, no main-log debug copy, no
//! armed `log:` readiness check); otherwise, and whenever the kernel refuses, it reads and
//! writes as before. Rotation by `maxbytes` stays exact: one call moves at most the room
//! left in the current file ([`chunk_len`]), so a file never holds more than `maxbytes`
//! bytes and the next byte goes to the next file: nothing is lost or written twice.
//!
//! The log file is opened with `O_APPEND`, which splice(2) refuses (EINVAL), so around a
//! batch of splices the flag is cleared and the batch writes at the file's end as fstat(2)
//! reports it (like an append would); the flag is restored before the write path runs.

use std::io;
use std::os::fd::RawFd;

use super::rotating::RotatingFile;

/// The most one splice(2) call moves (a full grown pipe).
pub const MAX_CHUNK: usize = 1 << 20;

/// The pipe size a busy channel's pipe is grown to (F_SETPIPE_SZ), when the system allows
/// (`/proc/sys/fs/pipe-max-size`, the per-user pipe page limits; refusals are ignored).
pub const GROWN_PIPE_SIZE: i32 = 1 << 20;

/// The pipe size below which a pipe is worth growing: a read of this much in one go means
/// the child fills its pipe faster than it is drained.
pub const GROW_AFTER: usize = 64 * 1024;

/// False when the environment variable `SUPERVISOR_RS_LOG_SPLICE` is `0`, `off` or `no`
/// at start-up: every channel then reads and writes (an escape hatch, and the A/B switch
/// of `scripts/bench-logging.py`).
pub fn enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| {
        std::env::var("SUPERVISOR_RS_LOG_SPLICE")
            .map(|v| !matches!(v.trim().to_ascii_lowercase().as_str(), "0" | "off" | "no"))
            .unwrap_or(true)
    })
}

/// How many bytes the next splice into a file of `size` bytes may move, at most `cap`:
/// with `maxbytes == 0` (never rotated by size) `cap`; else what is left before the file
/// reaches `maxbytes` (0: the file is full and must rotate first).
pub fn chunk_len(maxbytes: u64, size: u64, cap: usize) -> usize {
    if maxbytes == 0 {
        return cap;
    }
    let room = maxbytes.saturating_sub(size);
    usize::try_from(room).map_or(cap, |r| r.min(cap))
}

/// How a [`pump`] ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Pumped {
    /// The pipe is empty (EAGAIN): wait for more output.
    Drained,
    /// The writing end is closed and the pipe is empty.
    Eof,
    /// The kernel refuses splice(2) between these two (EINVAL, ENOSYS, ...): use
    /// read/write for this channel from now on.
    Refused,
    /// Something else failed (a full disk, a failed rotation): read and write what is
    /// left this time, so the write path accounts for the loss as usual.
    Fallback,
}

/// Clears or restores `O_APPEND` on `fd` (returns false if fcntl failed).
fn set_append(fd: RawFd, on: bool) -> bool {
    // SAFETY: fcntl(2) on a descriptor the caller keeps open; no memory is passed.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return false;
    }
    let want = if on {
        flags | libc::O_APPEND
    } else {
        flags & !libc::O_APPEND
    };
    // SAFETY: as above.
    want == flags || unsafe { libc::fcntl(fd, libc::F_SETFL, want) } == 0
}

/// The current length of the file behind `fd`.
fn file_len(fd: RawFd) -> io::Result<u64> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstat(2) fills the buffer we pass on success.
    if unsafe { libc::fstat(fd, st.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fstat succeeded, so the struct is initialised.
    Ok(u64::try_from(unsafe { st.assume_init() }.st_size).unwrap_or(0))
}

/// The file currently being spliced into: its descriptor, where the next byte goes, and
/// whether `O_APPEND` must be restored on it.
struct Target {
    fd: RawFd,
    offset: i64,
    append: bool,
}

impl Target {
    /// Prepares `file` for a batch of splices (`None`: it cannot take them).
    fn open(file: &RotatingFile) -> Option<Target> {
        let (fd, _, append) = file.splice_target()?;
        let offset = i64::try_from(file_len(fd).ok()?).ok()?;
        if append && !set_append(fd, false) {
            return None;
        }
        Some(Target { fd, offset, append })
    }

    fn close(self) {
        if self.append {
            set_append(self.fd, true);
        }
    }
}

/// Moves what `pipe` holds now into `file` with splice(2), rotating at `maxbytes` exactly.
/// `moved` grows by the bytes spliced (all of them are in a file and counted by it).
pub fn pump(pipe: RawFd, file: &mut RotatingFile, moved: &mut u64) -> Pumped {
    let Some(mut target) = Target::open(file) else {
        return Pumped::Fallback;
    };
    let outcome = loop {
        let Some((_, size, _)) = file.splice_target() else {
            break Pumped::Fallback;
        };
        let len = chunk_len(file.maxbytes(), size, MAX_CHUNK);
        if len == 0 {
            // Opened over maxbytes: the write path would rotate after its next write; a
            // splice must not add to a full file, so rotate first.
            target.close();
            if file.rotate().is_err() {
                return Pumped::Fallback;
            }
            match Target::open(file) {
                Some(t) => target = t,
                None => return Pumped::Fallback,
            }
            continue;
        }
        // SAFETY: splice(2) between two descriptors we hold open, with a valid offset
        // pointer for the file; the pipe side has no offset.
        let n = unsafe {
            libc::splice(
                pipe,
                std::ptr::null_mut(),
                target.fd,
                &mut target.offset,
                len,
                libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK,
            )
        };
        if n > 0 {
            let n = n as u64;
            *moved += n;
            let before = file.rotations();
            if file.spliced(n).is_err() {
                break Pumped::Fallback;
            }
            if file.rotations() != before {
                // A new, empty file: the old descriptor is closed already.
                match Target::open(file) {
                    Some(t) => target = t,
                    None => return Pumped::Fallback,
                }
            }
            continue;
        }
        if n == 0 {
            break Pumped::Eof;
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => {}
            Some(libc::EAGAIN) => break Pumped::Drained,
            Some(libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP | libc::EBADF | libc::ESPIPE) => {
                break Pumped::Refused
            }
            _ => break Pumped::Fallback,
        }
    };
    target.close();
    outcome
}

/// Grows a pipe to [`GROWN_PIPE_SIZE`] if the system allows it (quietly keeps its size
/// otherwise). Returns the pipe's size afterwards, if known.
pub fn grow_pipe(fd: RawFd) -> Option<usize> {
    // SAFETY: fcntl(2) on a pipe descriptor the caller holds; no memory is passed.
    let set = |size: i32| unsafe { libc::fcntl(fd, libc::F_SETPIPE_SZ, size) } >= 0;
    if !set(GROWN_PIPE_SIZE) {
        // An unprivileged daemon may not go beyond /proc/sys/fs/pipe-max-size: take that
        // if it is smaller (and still bigger than the default); else keep the pipe as is.
        let max = std::fs::read_to_string("/proc/sys/fs/pipe-max-size")
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok());
        if let Some(max) = max.filter(|&m| m > 65536 && m < GROWN_PIPE_SIZE) {
            set(max);
        }
    }
    // SAFETY: as above.
    usize::try_from(unsafe { libc::fcntl(fd, libc::F_GETPIPE_SZ) }).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    #[test]
    fn chunks_never_cross_maxbytes() {
        assert_eq!(chunk_len(0, 123, MAX_CHUNK), MAX_CHUNK);
        assert_eq!(chunk_len(100, 0, MAX_CHUNK), 100);
        assert_eq!(chunk_len(100, 60, MAX_CHUNK), 40);
        assert_eq!(chunk_len(100, 100, MAX_CHUNK), 0);
        assert_eq!(chunk_len(100, 150, MAX_CHUNK), 0);
        assert_eq!(chunk_len(10 << 20, 5, MAX_CHUNK), MAX_CHUNK);
        assert_eq!(chunk_len(u64::MAX, 0, 7), 7);
        // Any sequence of chunks fills files to exactly maxbytes.
        for maxbytes in [1u64, 7, 4096, 1_000_003] {
            let (mut size, mut total) = (0u64, 0u64);
            while total < 3 * maxbytes + 5 {
                let n = chunk_len(maxbytes, size, 65536) as u64;
                assert!(n > 0 && size + n <= maxbytes);
                size += n;
                total += n;
                if size == maxbytes {
                    size = 0;
                }
            }
        }
    }

    fn pipe() -> (OwnedFd, std::fs::File) {
        let mut fds = [0; 2];
        // SAFETY: pipe2 fills two descriptors we then own.
        let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) };
        assert_eq!(rc, 0);
        // SAFETY: fresh descriptors from pipe2.
        unsafe {
            (
                OwnedFd::from_raw_fd(fds[0]),
                std::fs::File::from_raw_fd(fds[1]),
            )
        }
    }

    /// Numbered lines through a pipe into a rotating file with a maxbytes that splits
    /// lines: every file holds exactly maxbytes (the live one at most), and the files
    /// joined oldest first are the input, byte for byte.
    #[test]
    fn pump_rotates_exactly_and_keeps_every_byte() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.log");
        std::fs::write(&path, b"old\n").unwrap();
        let mut file = RotatingFile::open(&path, 1000, 50).unwrap();
        let (r, mut w) = pipe();
        let mut input = b"old\n".to_vec();
        let mut moved = 0;
        let mut line = 0;
        while input.len() < 20_000 {
            let mut chunk = Vec::new();
            for _ in 0..37 {
                line += 1;
                chunk.extend_from_slice(format!("line {line:06}\n").as_bytes());
            }
            w.write_all(&chunk).unwrap();
            input.extend_from_slice(&chunk);
            assert_eq!(pump(r.as_raw_fd(), &mut file, &mut moved), Pumped::Drained);
        }
        drop(w);
        assert_eq!(pump(r.as_raw_fd(), &mut file, &mut moved), Pumped::Eof);
        assert_eq!(moved + 4, input.len() as u64);
        assert_eq!(file.bytes_spliced(), moved);
        let mut joined = Vec::new();
        let n = file.rotations() as u32;
        assert!(n >= 19, "{n} rotations");
        for i in (1..=n).rev() {
            let part = std::fs::read(crate::logs::rotating::numbered(&path, i)).unwrap();
            assert_eq!(part.len(), 1000, "file .{i}");
            joined.extend_from_slice(&part);
        }
        let live = std::fs::read(&path).unwrap();
        assert!(live.len() < 1000);
        joined.extend_from_slice(&live);
        assert_eq!(joined, input);
        // O_APPEND is back for the write path: a write lands at the end.
        file.write(b"tail\n").unwrap();
        assert!(std::fs::read(&path).unwrap().ends_with(b"tail\n"));
    }

    /// Two files sharing an open-file cache of one (logs/filecache.rs): every pump finds
    /// its file closed by the other's and reopens it; rotation and content stay exact.
    #[test]
    fn pump_through_an_evicting_file_cache() {
        let dir = tempfile::tempdir().unwrap();
        let cache = crate::logs::filecache::FileCache::new(1);
        let paths = [dir.path().join("a.log"), dir.path().join("b.log")];
        let mut files: Vec<RotatingFile> = paths
            .iter()
            .map(|p| {
                let mut f = RotatingFile::open(p, 700, 100).unwrap();
                f.use_cache(&cache);
                f
            })
            .collect();
        let mut pipes = [pipe(), pipe()];
        let mut inputs = [Vec::new(), Vec::new()];
        let mut moved = 0;
        for round in 0..60 {
            for i in 0..2 {
                let chunk = format!("{i} round {round:04} {}\n", "y".repeat(round % 50));
                pipes[i].1.write_all(chunk.as_bytes()).unwrap();
                inputs[i].extend_from_slice(chunk.as_bytes());
                let got = pump(pipes[i].0.as_raw_fd(), &mut files[i], &mut moved);
                assert_eq!(got, Pumped::Drained);
            }
        }
        for i in 0..2 {
            let n = files[i].rotations() as u32;
            assert!(n >= 2, "{n} rotations");
            let mut joined = Vec::new();
            for k in (1..=n).rev() {
                let part = std::fs::read(crate::logs::rotating::numbered(&paths[i], k)).unwrap();
                assert_eq!(part.len(), 700);
                joined.extend_from_slice(&part);
            }
            joined.extend_from_slice(&std::fs::read(&paths[i]).unwrap());
            assert_eq!(joined, inputs[i], "file {i}");
        }
    }

    #[test]
    fn a_stream_target_is_not_spliced() {
        let (r, _w) = pipe();
        let mut file = RotatingFile::open("/dev/null", 0, 0).unwrap();
        let mut moved = 0;
        assert_eq!(pump(r.as_raw_fd(), &mut file, &mut moved), Pumped::Fallback);
        assert_eq!(moved, 0);
    }

    #[test]
    fn grown_pipes_are_bounded() {
        let (r, _w) = pipe();
        let size = grow_pipe(r.as_raw_fd()).unwrap();
        assert!(size >= 4096 && size <= GROWN_PIPE_SIZE as usize, "{size}");
    }
}
