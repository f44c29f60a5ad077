//! [`RotatingFile`]: an append-only log file rotated by size, like the reference's
//! `RotatingFileHandler` (child logs and the main log share it), and also at local day
//! or hour boundaries (`*logfile_rotate`), with gzip of the backups and deletion by age
//! (`*logfile_compress`, `*logfile_maxage`: see [`super::compress`]). A
//! target that is not a regular file (`/dev/stdout`, a pipe, a terminal, a socket) is a
//! [`Stream`]: never sized, rotated, truncated or removed.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use supervisor_config::{LogRotation, RotateWhen};

use super::compress::{self, Jobs};
use super::filecache::{CachedFile, FileCache};
use super::follow;
use super::schedule;
use super::stream::{self, Stream};

/// How a [`RotatingFile`] rotates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RotateOptions {
    /// Rotate after a write leaves the file at or above this size (0 = never by size).
    pub maxbytes: u64,
    /// Numbered backups kept (0 = a rotation just truncates).
    pub backups: u32,
    /// Time-based rotation, compression and age limit.
    pub rotation: LogRotation,
}

/// The clock of time-based rotation: the current instant.
pub type Clock = fn() -> DateTime<Utc>;
/// The next local day/hour boundary after an instant (see [`schedule`]).
pub type Boundary = fn(RotateWhen, DateTime<Utc>) -> Option<DateTime<Utc>>;

/// What [`RotatingFile::rotate_now`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotated {
    /// The file was rotated.
    Yes,
    /// The file is empty: nothing to rotate.
    Empty,
    /// Not a regular file (`/dev/stdout`, a pipe ...): never rotated.
    NotAFile,
}

#[derive(Debug)]
enum Out {
    File(File),
    /// A regular file whose descriptor lives in a [`FileCache`] (child logs): closed
    /// when the cache needs room, opened again by name at the next write.
    Cached(Box<CachedFile>),
    Stream(Stream),
}

/// A log file that rotates after a write leaves it at or above `maxbytes`.
///
/// * Rotation shifts `<f>.<N-1>` → `<f>.<N>` … `<f>` → `<f>.1` (existing targets replaced)
///   and starts a fresh, empty `<f>`; with `backups == 0` the file is just truncated.
///   With compression the backups are `<f>.1.gz` … `<f>.N.gz`, written by the
///   compression thread.
/// * `daily`/`hourly`: the first write at or after the next local day/hour boundary
///   rotates the file (if it is not empty) before it is written, so each file holds the
///   lines of one period. At open, a non-empty file's period is that of its mtime.
/// * `maxbytes == 0` never rotates by size. A target that is not a regular file never
///   rotates at all and is never asked for its size or position, so `/dev/stdout`,
///   `/dev/fd/1`, pipes, terminals and sockets work.
/// * Each [`write`](RotatingFile::write) puts the whole buffer into one file before a
///   size rotation is considered, so no byte is lost or duplicated across rotations.
/// * Opening in append mode falls back to write mode if the target refuses with ESPIPE.
#[derive(Debug)]
pub struct RotatingFile {
    path: PathBuf,
    out: Out,
    maxbytes: u64,
    backups: u32,
    rotation: LogRotation,
    /// Bytes in the current file (regular files).
    size: u64,
    /// False after the ESPIPE fallback to write mode.
    append: bool,
    /// True when `file` no longer is the file at `path` and must not be written: a
    /// rotation renamed it but could not start the new file, or `clear` removed it but
    /// could not create the new one. Every write first tries to open `path` again.
    detached: bool,
    /// Time-based rotation: when the current period ends.
    next_rotation: Option<DateTime<Utc>>,
    clock: Clock,
    boundary: Boundary,
    /// The compression jobs of this file (with `compress`).
    jobs: Arc<Jobs>,
    /// Bytes written since it was opened, across rotations (for `/metrics`).
    written: u64,
    /// Rotations done since it was opened (for `/metrics`).
    rotations: u64,
    /// The followers' write notice of `path` (logs/follow.rs): bumped after every write,
    /// splice, rotation, clear and reopen.
    notice: Arc<follow::Written>,
    /// Of `written`, the bytes moved by splice(2) (for `/metrics`).
    spliced: u64,
}

/// What a failed [`RotatingFile::write_counted`] was doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOp {
    /// Writing the data.
    Write,
    /// Rotating after the data was written.
    Rotate,
    /// Opening the file again after a failed rotation or clear.
    Reopen,
}

impl WriteOp {
    /// `write`, `rotation`, `reopen` (for log lines).
    pub fn as_str(self) -> &'static str {
        match self {
            WriteOp::Write => "write",
            WriteOp::Rotate => "rotation",
            WriteOp::Reopen => "reopen",
        }
    }
}

/// A [`RotatingFile::write_counted`] that did not fully succeed.
#[derive(Debug)]
pub struct WriteFailure {
    /// How many bytes of the buffer reached the file (all of them when only the
    /// rotation after the write failed).
    pub written: usize,
    /// What failed.
    pub op: WriteOp,
    /// The OS error.
    pub error: io::Error,
}

fn open_append(path: &Path) -> io::Result<(File, bool)> {
    match OpenOptions::new()
        .append(true)
        .create(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
    {
        Ok(f) => Ok((f, true)),
        Err(e) if e.raw_os_error() == Some(libc::ESPIPE) => {
            let f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .custom_flags(libc::O_CLOEXEC)
                .open(path)?;
            Ok((f, false))
        }
        Err(e) => Err(e),
    }
}

/// Opens `path` as a log target: a descriptor alias as a [`Stream`] of the daemon's
/// descriptor, a path by name (a non-regular file then becomes a [`Stream`] too).
fn open_target(path: &Path) -> io::Result<(Out, bool)> {
    if let Some(fd) = stream::fd_alias(path) {
        return Ok((Out::Stream(Stream::from_daemon_fd(fd)?), true));
    }
    let (file, append) = open_append(path)?;
    match file.metadata() {
        Ok(m) if !m.is_file() => Ok((Out::Stream(Stream::from_opened(file)), append)),
        _ => Ok((Out::File(file), append)),
    }
}

impl RotatingFile {
    /// Opens (creating if needed) `path` for appending, rotating by size only.
    pub fn open(path: impl Into<PathBuf>, maxbytes: u64, backups: u32) -> io::Result<Self> {
        Self::open_with(
            path,
            &RotateOptions {
                maxbytes,
                backups,
                rotation: LogRotation::default(),
            },
        )
    }

    /// Opens (creating if needed) `path` for appending, rotating as `options` say.
    pub fn open_with(path: impl Into<PathBuf>, options: &RotateOptions) -> io::Result<Self> {
        Self::open_clocked(path, options, Utc::now, schedule::next_local_boundary)
    }

    /// [`open_with`](RotatingFile::open_with) on another clock and time zone (tests).
    pub fn open_clocked(
        path: impl Into<PathBuf>,
        options: &RotateOptions,
        clock: Clock,
        boundary: Boundary,
    ) -> io::Result<Self> {
        let path = path.into();
        let (out, append) = open_target(&path)?;
        let notice = follow::for_path(&path);
        let mut f = RotatingFile {
            notice,
            path,
            out,
            maxbytes: options.maxbytes,
            backups: options.backups,
            rotation: options.rotation.clone(),
            size: 0,
            append,
            detached: false,
            next_rotation: None,
            clock,
            boundary,
            jobs: Arc::new(Jobs::default()),
            written: 0,
            rotations: 0,
            spliced: 0,
        };
        if let Out::File(file) = &f.out {
            let meta = file.metadata().ok();
            f.size = meta.as_ref().map(|m| m.len()).unwrap_or(0);
            if f.rotation.when != RotateWhen::Size {
                let since = match meta.and_then(|m| m.modified().ok()) {
                    Some(t) if f.size > 0 => DateTime::<Utc>::from(t),
                    _ => (f.clock)(),
                };
                f.next_rotation = (f.boundary)(f.rotation.when, since);
            }
            if f.backups > 0 && f.rotation.compress {
                // A previous daemon died before compressing these: finish its work.
                for staging in compress::leftover_staging(&f.path) {
                    f.hand_off(staging);
                }
            }
            if let Some(age) = f.rotation.maxage_secs {
                if !f.rotation.compress || f.jobs.pending() == 0 {
                    compress::expire(&f.path, f.backups, age, std::time::SystemTime::now());
                }
            }
        }
        Ok(f)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The rotation threshold in bytes (0 = never rotate).
    pub fn maxbytes(&self) -> u64 {
        self.maxbytes
    }

    /// How many numbered backups are kept.
    pub fn backups(&self) -> u32 {
        self.backups
    }

    /// True when the target is not a regular file (never rotated, sized or removed).
    pub fn is_stream(&self) -> bool {
        matches!(self.out, Out::Stream(_))
    }

    /// The compression jobs of this file (queued or running; their errors).
    pub fn jobs(&self) -> &Arc<Jobs> {
        &self.jobs
    }

    /// When the current time-based period ends (`None`: size rotation only).
    pub fn next_rotation(&self) -> Option<DateTime<Utc>> {
        self.next_rotation
    }

    /// Bytes written since the file was opened, across rotations and reopens.
    pub fn bytes_written(&self) -> u64 {
        self.written
    }

    /// Rotations done since the file was opened.
    pub fn rotations(&self) -> u64 {
        self.rotations
    }

    /// Appends all of `data`, then rotates if the file reached `maxbytes`.
    pub fn write(&mut self, data: &[u8]) -> io::Result<()> {
        self.write_counted(data).map_err(|f| f.error)
    }

    /// The followers' write notice of this file's path (logs/follow.rs): a writer that
    /// appends to the file without [`write`](RotatingFile::write) calls `bump()` on it
    /// after each move of bytes, so `tail -f` clients see them at once.
    pub fn written(&self) -> &Arc<follow::Written> {
        &self.notice
    }

    /// Like [`write`](RotatingFile::write), but a failure says how many bytes of `data`
    /// reached the file (a short write on a full disk keeps its first part) and which
    /// step failed. After a failed rotation or clear left no file at the path, each
    /// call first tries to open the path again and drops `data` if that fails.
    pub fn write_counted(&mut self, data: &[u8]) -> Result<(), WriteFailure> {
        if data.is_empty() {
            return Ok(());
        }
        let r = self.write_counted_inner(data);
        self.notice.bump();
        r
    }

    fn write_counted_inner(&mut self, data: &[u8]) -> Result<(), WriteFailure> {
        if let Out::Stream(s) = &mut self.out {
            self.written += data.len() as u64;
            return s
                .write_all_lines(data)
                .map_err(|(written, error)| WriteFailure {
                    written,
                    op: WriteOp::Write,
                    error,
                });
        }
        if self.detached {
            match open_append(&self.path) {
                Ok((file, append)) => {
                    self.size = file.metadata().map(|m| m.len()).unwrap_or(0);
                    self.set_file(file);
                    self.append = append;
                    self.detached = false;
                }
                Err(error) => {
                    return Err(WriteFailure {
                        written: 0,
                        op: WriteOp::Reopen,
                        error,
                    })
                }
            }
        }
        // A new day/hour: this data starts the new file.
        let mut time_failure = None;
        if let Some(end) = self.next_rotation {
            let now = (self.clock)();
            if now >= end {
                self.next_rotation = (self.boundary)(self.rotation.when, now);
                if self.size > 0 {
                    time_failure = self.rotate().err();
                }
            }
        }
        let mut off = 0;
        let (outcome, reopened) = match &mut self.out {
            Out::File(file) => (write_all(file, data, &mut off), None),
            Out::Cached(c) => match c.with(&self.path, |file| write_all(file, data, &mut off)) {
                Ok(r) => r,
                Err(error) => {
                    return Err(WriteFailure {
                        written: 0,
                        op: WriteOp::Reopen,
                        error,
                    })
                }
            },
            Out::Stream(_) => unreachable!("streams returned above"),
        };
        if let Some(size) = reopened {
            // Opened again by name: its size is what the file holds now, before `data`.
            self.size = size;
        }
        self.size += off as u64;
        self.written += off as u64;
        if let Err(error) = outcome {
            return Err(WriteFailure {
                written: off,
                op: WriteOp::Write,
                error,
            });
        }
        if let Some(error) = time_failure {
            return Err(WriteFailure {
                written: off,
                op: WriteOp::Rotate,
                error,
            });
        }
        if self.maxbytes > 0 && self.size >= self.maxbytes {
            self.rotate().map_err(|error| WriteFailure {
                written: off,
                op: WriteOp::Rotate,
                error,
            })?;
        }
        Ok(())
    }

    /// The descriptor and size of the file for [`splice`](super::splice): only a regular
    /// file rotated by size alone (a `daily`/`hourly` file takes the write path, which
    /// checks the boundary before each write), not detached after a failed rotation.
    pub(crate) fn splice_target(&self) -> Option<(std::os::fd::RawFd, u64, bool)> {
        use std::os::fd::AsRawFd;
        match &self.out {
            Out::File(f) if !self.detached && self.next_rotation.is_none() => {
                Some((f.as_raw_fd(), self.size, self.append))
            }
            Out::Cached(c) if !self.detached && self.next_rotation.is_none() => {
                // Open it (again) if the cache closed it; the descriptor stays valid
                // until the cache opens another file, which a splice never does.
                let (fd, reopened) = c.with(&self.path, |f| f.as_raw_fd()).ok()?;
                let size = reopened.unwrap_or(self.size);
                Some((fd, size, self.append))
            }
            _ => None,
        }
    }

    /// Accounts for `n` bytes that [`splice`](super::splice) put into the file, then
    /// rotates if it reached `maxbytes` (like a write does).
    pub(crate) fn spliced(&mut self, n: u64) -> io::Result<()> {
        self.size += n;
        self.written += n;
        self.spliced += n;
        self.notice.bump();
        if self.maxbytes > 0 && self.size >= self.maxbytes {
            self.rotate()?;
        }
        Ok(())
    }

    /// Bytes of [`bytes_written`](RotatingFile::bytes_written) moved by splice(2).
    pub fn bytes_spliced(&self) -> u64 {
        self.spliced
    }

    /// Moves a regular file's descriptor into `cache` (child logs, see
    /// [`super::filecache`]): from then on it is closed when the cache needs room and
    /// opened again by name, in append mode, at the next write. Streams and files opened
    /// in write mode (the ESPIPE fallback) keep their descriptor.
    pub fn use_cache(&mut self, cache: &Arc<FileCache>) {
        if !self.append {
            return;
        }
        let Out::File(file) = &self.out else {
            return;
        };
        // The cache owns its own descriptor of the file (one dup, once per open); the
        // old one is closed by the assignment.
        if let Ok(dup) = file.try_clone() {
            self.out = Out::Cached(Box::new(cache.adopt(dup)));
        }
    }

    /// Whether the file's descriptor is open now (false: closed by the file cache).
    pub fn is_open(&self) -> bool {
        match &self.out {
            Out::Cached(c) => c.is_open(),
            Out::File(_) | Out::Stream(_) => true,
        }
    }

    /// Puts a newly opened regular file in place (into the cache for a cached file).
    fn set_file(&mut self, file: File) {
        match &self.out {
            Out::Cached(c) => c.replace(file),
            _ => self.out = Out::File(file),
        }
    }

    /// Rotates now if there is something to rotate (`supervisorctl rotate`): a regular
    /// file that is not empty.
    pub fn rotate_now(&mut self) -> io::Result<Rotated> {
        if self.is_stream() {
            return Ok(Rotated::NotAFile);
        }
        let len = if self.detached {
            0
        } else {
            fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0)
        };
        if len == 0 && self.size == 0 {
            return Ok(Rotated::Empty);
        }
        self.rotate()?;
        Ok(Rotated::Yes)
    }

    fn hand_off(&self, staging: PathBuf) {
        compress::submit(
            staging,
            &self.path,
            self.backups,
            self.rotation.maxage_secs,
            &self.jobs,
        );
    }

    /// Rotates now (shift backups, start an empty file). A stream is left alone.
    pub fn rotate(&mut self) -> io::Result<()> {
        if self.is_stream() {
            return Ok(());
        }
        if self.backups > 0 {
            if self.rotation.compress {
                let staging = compress::staging_name(&self.path);
                replace(&self.path, &staging)?;
                if staging.exists() {
                    self.hand_off(staging);
                }
            } else {
                for i in existing_backups(&self.path, self.backups) {
                    replace(&numbered(&self.path, i), &numbered(&self.path, i + 1))?;
                }
                replace(&self.path, &numbered(&self.path, 1))?;
                if let Some(age) = self.rotation.maxage_secs {
                    compress::expire(&self.path, self.backups, age, std::time::SystemTime::now());
                }
            }
        }
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .custom_flags(libc::O_CLOEXEC | if self.append { libc::O_APPEND } else { 0 })
            .open(&self.path);
        match file {
            Ok(file) => {
                self.set_file(file);
                self.size = 0;
                self.detached = false;
                self.rotations += 1;
                self.notice.bump();
                Ok(())
            }
            Err(e) => {
                // With backups the old file is `<f>.1` now: writing on into it would grow
                // a backup without bound, so the next write opens `<f>` again instead.
                if self.backups > 0 {
                    self.detached = true;
                }
                Err(e)
            }
        }
    }

    /// Time-based rotation without a write (the rotation timer, `logs::timer`): when the
    /// current day/hour is over, a non-empty file is rotated now and the next boundary
    /// taken. `Ok(true)` if it rotated.
    pub fn rotate_if_due(&mut self) -> io::Result<bool> {
        let Some(end) = self.next_rotation else {
            return Ok(false);
        };
        let now = (self.clock)();
        if now < end {
            return Ok(false);
        }
        self.next_rotation = (self.boundary)(self.rotation.when, now);
        if self.detached || self.size == 0 {
            return Ok(false);
        }
        self.rotate().map(|()| true)
    }

    /// Closes and reopens the file by name (SIGUSR2, after an external logrotate). A
    /// descriptor alias (`/dev/stdout`) keeps its descriptor.
    pub fn reopen(&mut self) -> io::Result<()> {
        if stream::fd_alias(&self.path).is_some() {
            return Ok(());
        }
        let (out, append) = open_target(&self.path)?;
        self.size = match &out {
            Out::File(f) => f.metadata().map(|m| m.len()).unwrap_or(0),
            Out::Cached(_) | Out::Stream(_) => 0,
        };
        match (out, &self.out) {
            (Out::File(file), Out::Cached(c)) if append => c.replace(file),
            (out, _) => self.out = out,
        }
        self.append = append;
        self.detached = false;
        self.notice.bump();
        Ok(())
    }

    /// Removes the file and starts a new empty one (`clearLog`, `clearProcessLogs`).
    /// A stream is not a file to remove: nothing is done.
    pub fn clear(&mut self) -> io::Result<()> {
        if self.is_stream() {
            return Ok(());
        }
        match fs::remove_file(&self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        self.reopen().inspect_err(|_| {
            // The open file is unlinked now: nothing written to it could be read back.
            self.detached = true;
        })
    }

    /// Flushes to the OS (writes are unbuffered, so this is a no-op kept for symmetry).
    pub fn flush(&mut self) -> io::Result<()> {
        match &mut self.out {
            Out::File(f) => f.flush(),
            Out::Cached(_) | Out::Stream(_) => Ok(()),
        }
    }
}

/// Writes all of `data` to `file`, counting in `off` what reached it.
fn write_all(file: &mut File, data: &[u8], off: &mut usize) -> io::Result<()> {
    while *off < data.len() {
        match file.write(&data[*off..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => *off += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// `<path>.<n>`.
pub fn numbered(path: &Path, n: u32) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

/// Up to this many backups, rotation probes `<f>.1 .. <f>.N-1` one by one; past it, one
/// directory listing finds the backups that exist, so a huge `*_logfile_backups` costs no
/// more than the files on disk (a loop over 2^32 names would stall the event loop).
const PROBE_BACKUPS_UP_TO: u32 = 64;

/// The indices `i` in `1..backups` for which `<f>.i` exists, highest first: the backups a
/// rotation shifts to `i + 1` (higher ones are left alone, as the reference does).
fn existing_backups(path: &Path, backups: u32) -> Vec<u32> {
    if backups <= PROBE_BACKUPS_UP_TO {
        return (1..backups)
            .rev()
            .filter(|&i| numbered(path, i).exists())
            .collect();
    }
    let mut found: Vec<u32> = listed_backups(path, false)
        .into_iter()
        .filter(|&i| i < backups)
        .collect();
    found.sort_unstable_by(|a, b| b.cmp(a));
    found
}

/// The `N` of every `<path>.N` in `path`'s directory (with `gz`, of every `<path>.N.gz`
/// too), in no order: one directory listing, whatever the number of backups configured.
pub(crate) fn listed_backups(path: &Path, gz: bool) -> Vec<u32> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Vec::new();
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let mut prefix = name.as_encoded_bytes().to_vec();
    prefix.push(b'.');
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let file = e.file_name();
            let rest = file.as_encoded_bytes().strip_prefix(prefix.as_slice())?;
            let digits = match gz {
                true => rest.strip_suffix(b".gz").unwrap_or(rest),
                false => rest,
            };
            backup_index(digits)
        })
        .collect()
}

/// `N` of a `<f>.N` name as [`numbered`] writes it: decimal digits, no sign, no leading
/// zero, at least 1.
fn backup_index(digits: &[u8]) -> Option<u32> {
    if digits.is_empty() || digits[0] == b'0' || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// Renames `src` over `dst`, ignoring a vanished source like the reference.
fn replace(src: &Path, dst: &Path) -> io::Result<()> {
    match fs::rename(src, dst) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn read(p: &Path) -> Vec<u8> {
        fs::read(p).unwrap_or_default()
    }

    #[test]
    fn rotates_after_write_reaching_maxbytes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        let mut f = RotatingFile::open(&p, 10, 2).unwrap();
        f.write(b"12345").unwrap();
        assert_eq!(read(&p), b"12345");
        f.write(b"67890").unwrap(); // reaches 10 -> rotated
        assert_eq!(read(&p), b"");
        assert_eq!(read(&numbered(&p, 1)), b"1234567890");
        f.write(b"abcdefghijkl").unwrap();
        assert_eq!(read(&numbered(&p, 1)), b"abcdefghijkl");
        assert_eq!(read(&numbered(&p, 2)), b"1234567890");
        f.write(b"0123456789").unwrap();
        assert_eq!(read(&numbered(&p, 2)), b"abcdefghijkl");
        assert!(!numbered(&p, 3).exists());
        // The /metrics counters: every byte and every rotation since the open.
        assert_eq!((f.bytes_written(), f.rotations()), (32, 3));
    }

    #[test]
    fn huge_backup_counts_rotate_by_listing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.log");
        // u32::MAX backups: probing every name would take hours; listing takes no time.
        let mut f = RotatingFile::open(&p, 4, u32::MAX).unwrap();
        let started = std::time::Instant::now();
        for chunk in [b"aaaa", b"bbbb", b"cccc", b"dddd"] {
            f.write(chunk).unwrap();
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        assert_eq!(read(&numbered(&p, 1)), b"dddd");
        assert_eq!(read(&numbered(&p, 2)), b"cccc");
        assert_eq!(read(&numbered(&p, 4)), b"aaaa");
        assert!(!numbered(&p, 5).exists());
        // Names that only look like backups are left alone.
        for other in ["s.log.01", "s.log.x", "s.log.", "s.logs.1"] {
            fs::write(dir.path().join(other), b"keep").unwrap();
        }
        f.write(b"eeee").unwrap();
        assert_eq!(read(&numbered(&p, 5)), b"aaaa");
        for other in ["s.log.01", "s.log.x", "s.log.", "s.logs.1"] {
            assert_eq!(read(&dir.path().join(other)), b"keep");
        }
    }

    #[test]
    fn listing_and_probing_find_the_same_backups() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.log");
        for i in [1u32, 2, 5, 63, 64, 65, 100] {
            fs::write(numbered(&p, i), b"x").unwrap();
        }
        fs::write(dir.path().join("m.log.007"), b"x").unwrap();
        let listed = existing_backups(&p, 1000);
        assert_eq!(listed, vec![100, 65, 64, 63, 5, 2, 1]);
        assert_eq!(existing_backups(&p, 64), vec![63, 5, 2, 1]);
        assert_eq!(existing_backups(&p, 65), vec![64, 63, 5, 2, 1]);
        assert_eq!(backup_index(b"0"), None);
        assert_eq!(backup_index(b"99999999999"), None);
    }

    #[test]
    fn backups_zero_truncates() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        let mut f = RotatingFile::open(&p, 4, 0).unwrap();
        f.write(b"abcdef").unwrap();
        assert_eq!(read(&p), b"");
        assert!(!numbered(&p, 1).exists());
        f.write(b"ab").unwrap();
        assert_eq!(read(&p), b"ab");
    }

    #[test]
    fn existing_size_counts_and_maxbytes_zero_never_rotates() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        fs::write(&p, b"123456789").unwrap();
        let mut f = RotatingFile::open(&p, 10, 1).unwrap();
        f.write(b"x").unwrap();
        assert_eq!(read(&numbered(&p, 1)), b"123456789x");
        let q = dir.path().join("b.log");
        let mut g = RotatingFile::open(&q, 0, 5).unwrap();
        for _ in 0..100 {
            g.write(b"0123456789").unwrap();
        }
        assert_eq!(read(&q).len(), 1000);
        assert!(!numbered(&q, 1).exists());
    }

    #[test]
    fn reopen_after_external_move_and_clear() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        let moved = dir.path().join("moved.log");
        let mut f = RotatingFile::open(&p, 0, 0).unwrap();
        f.write(b"one\n").unwrap();
        fs::rename(&p, &moved).unwrap();
        f.write(b"two\n").unwrap(); // still the old inode
        f.reopen().unwrap();
        f.write(b"three\n").unwrap();
        assert_eq!(read(&moved), b"one\ntwo\n");
        assert_eq!(read(&p), b"three\n");
        f.clear().unwrap();
        assert_eq!(read(&p), b"");
        f.write(b"four\n").unwrap();
        assert_eq!(read(&p), b"four\n");
    }

    #[test]
    fn dev_null_and_pipes_work_without_rotation() {
        let mut f = RotatingFile::open("/dev/null", 0, 10).unwrap();
        f.write(b"data").unwrap();
        f.reopen().unwrap();
        f.write(b"more").unwrap();
        // A named pipe (no size, no seeking): what is written comes out of the pipe, also
        // after a reopen, and nothing is rotated next to it.
        use std::io::Read;
        use std::os::unix::fs::OpenOptionsExt;
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let mut reader = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo)
            .unwrap();
        let mut f = RotatingFile::open(&fifo, 0, 10).unwrap();
        f.write(b"data").unwrap();
        f.reopen().unwrap();
        f.write(b"more").unwrap();
        let mut got = [0u8; 16];
        let n = reader.read(&mut got).unwrap();
        assert_eq!(&got[..n], b"datamore");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn failed_write_reports_what_reached_the_file() {
        let mut f = RotatingFile::open("/dev/full", 0, 0).unwrap();
        let e = f.write_counted(b"data").unwrap_err();
        assert_eq!(e.written, 0);
        assert_eq!(e.op, WriteOp::Write);
        assert_eq!(e.error.raw_os_error(), Some(libc::ENOSPC));
        assert_eq!(
            f.write(b"x").unwrap_err().raw_os_error(),
            Some(libc::ENOSPC)
        );
        assert!(f.write_counted(b"").is_ok(), "nothing to write never fails");
    }

    thread_local! {
        /// The fake clock of the time-rotation tests (each test runs on its own thread).
        static FAKE_NOW: std::cell::Cell<i64> = const { std::cell::Cell::new(0) };
    }

    fn fake_now() -> DateTime<Utc> {
        DateTime::from_timestamp(FAKE_NOW.with(|c| c.get()), 0).unwrap()
    }

    fn set_now(rfc3339: &str) {
        let t = DateTime::parse_from_rfc3339(rfc3339).unwrap().timestamp();
        FAKE_NOW.with(|c| c.set(t));
    }

    fn new_york(when: RotateWhen, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let tz: chrono_tz::Tz = "America/New_York".parse().unwrap();
        schedule::next_boundary(when, &tz, t)
    }

    fn timed(when: RotateWhen, maxbytes: u64, compress: bool) -> RotateOptions {
        RotateOptions {
            maxbytes,
            backups: 100,
            rotation: LogRotation {
                when,
                compress,
                maxage_secs: None,
            },
        }
    }

    /// Hourly rotation on a fake clock across the fall-back night in New York: the
    /// repeated 01:00 hour gets a file of its own; a quiet hour makes no empty file.
    #[test]
    fn hourly_rotation_on_a_fake_clock_across_dst() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("h.log");
        set_now("2026-11-01T04:10:00Z"); // 00:10 EDT
        let mut f = RotatingFile::open_clocked(
            &p,
            &timed(RotateWhen::Hourly, 0, false),
            fake_now,
            new_york,
        )
        .unwrap();
        f.write(b"00:10 EDT\n").unwrap();
        set_now("2026-11-01T04:59:59Z");
        f.write(b"00:59 EDT\n").unwrap();
        assert!(!numbered(&p, 1).exists(), "same hour, same file");
        set_now("2026-11-01T05:00:00Z"); // 01:00 EDT
        f.write(b"01:00 EDT\n").unwrap();
        set_now("2026-11-01T06:00:00Z"); // 01:00 EST, the hour again
        f.write(b"01:00 EST\n").unwrap();
        set_now("2026-11-01T07:30:00Z"); // 02:30 EST
        f.write(b"02:30 EST\n").unwrap();
        set_now("2026-11-01T10:05:00Z"); // 05:05 EST, after quiet hours
        f.write(b"05:05 EST\n").unwrap();
        assert_eq!(read(&numbered(&p, 4)), b"00:10 EDT\n00:59 EDT\n");
        assert_eq!(read(&numbered(&p, 3)), b"01:00 EDT\n");
        assert_eq!(read(&numbered(&p, 2)), b"01:00 EST\n");
        assert_eq!(read(&numbered(&p, 1)), b"02:30 EST\n");
        assert_eq!(read(&p), b"05:05 EST\n");
        assert!(!numbered(&p, 5).exists());
    }

    /// Daily rotation at local midnight over the spring-forward day (23 hours), with
    /// size rotation on top; a file that already has lines of an earlier day (its mtime)
    /// is rotated by the first write of a new day after a restart.
    #[test]
    fn daily_rotation_on_a_fake_clock_with_size_and_restart() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("d.log");
        set_now("2026-03-08T04:00:00Z"); // Mar 7 23:00 EST
        let opts = timed(RotateWhen::Daily, 20, false);
        let mut f = RotatingFile::open_clocked(&p, &opts, fake_now, new_york).unwrap();
        f.write(b"mar 7\n").unwrap();
        set_now("2026-03-08T05:00:00Z"); // Mar 8 00:00 EST
        f.write(b"mar 8 a\n").unwrap();
        f.write(b"mar 8 b, long enough\n").unwrap(); // reaches 20 bytes: size rotation
        set_now("2026-03-09T03:59:59Z"); // Mar 8 23:59:59 EDT
        f.write(b"mar 8 c\n").unwrap();
        set_now("2026-03-09T04:00:00Z"); // Mar 9 00:00 EDT (23 h after the last midnight)
        f.write(b"mar 9\n").unwrap();
        assert_eq!(read(&numbered(&p, 3)), b"mar 7\n");
        assert_eq!(read(&numbered(&p, 2)), b"mar 8 a\nmar 8 b, long enough\n");
        assert_eq!(read(&numbered(&p, 1)), b"mar 8 c\n");
        assert_eq!(read(&p), b"mar 9\n");
        drop(f);
        // Restarts: the file's period is that of its mtime (made 2026-03-09 05:00 EDT
        // here, since the real clock wrote it). The same day: appended to, not rotated.
        let mar9 = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_773_046_800);
        File::options()
            .append(true)
            .open(&p)
            .unwrap()
            .set_modified(mar9)
            .unwrap();
        set_now("2026-03-09T20:00:00Z");
        let mut f = RotatingFile::open_clocked(&p, &opts, fake_now, new_york).unwrap();
        f.write(b"mar 9 b\n").unwrap();
        assert_eq!(read(&p), b"mar 9\nmar 9 b\n");
        drop(f);
        // Two days later: the first write starts a new file.
        File::options()
            .append(true)
            .open(&p)
            .unwrap()
            .set_modified(mar9)
            .unwrap();
        set_now("2026-03-11T12:00:00Z");
        let mut f = RotatingFile::open_clocked(&p, &opts, fake_now, new_york).unwrap();
        f.write(b"mar 11\n").unwrap();
        assert_eq!(read(&numbered(&p, 1)), b"mar 9\nmar 9 b\n");
        assert_eq!(read(&p), b"mar 11\n");
    }

    /// Time rotation with compression on a fake clock: each period's lines end up in
    /// exactly one .N.gz, nothing lost or doubled, the live file keeps the last period.
    #[test]
    fn timed_rotation_with_compression_keeps_every_line_once() {
        use std::io::Read;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.log");
        set_now("2026-06-01T00:00:00Z");
        let mut f =
            RotatingFile::open_clocked(&p, &timed(RotateWhen::Hourly, 0, true), fake_now, new_york)
                .unwrap();
        let mut expected = Vec::new();
        let start = fake_now().timestamp();
        for i in 0..600i64 {
            // one line every 37 s: about 100 lines per hour, ~6 hours
            FAKE_NOW.with(|c| c.set(start + i * 37));
            let line = format!("line {i}\n");
            f.write(line.as_bytes()).unwrap();
            expected.extend_from_slice(line.as_bytes());
        }
        assert!(f.jobs().wait_idle(std::time::Duration::from_secs(30)));
        assert!(f.jobs().take_errors().is_empty());
        let mut n = 0;
        while compress::numbered_gz(&p, n + 1).exists() {
            n += 1;
        }
        assert_eq!(n, 6, "6 full hours rotated out");
        let mut rebuilt = Vec::new();
        for i in (1..=n).rev() {
            let mut d =
                flate2::read::GzDecoder::new(File::open(compress::numbered_gz(&p, i)).unwrap());
            d.read_to_end(&mut rebuilt).unwrap();
        }
        rebuilt.extend_from_slice(&read(&p));
        assert!(
            rebuilt == expected,
            "decompressed backups + live file == every line once"
        );
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.contains("rotating") || n.ends_with(".part"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Concatenating `<f>.N … <f>.1 <f>` reproduces the stream exactly when no backup
        /// has fallen off the end.
        #[test]
        fn rotation_loses_and_duplicates_nothing(
            sizes in proptest::collection::vec(1usize..300, 1..60),
            maxbytes in 1u64..400,
        ) {
            let dir = tempfile::tempdir().unwrap();
            let p = dir.path().join("s.log");
            let backups = 1000u32;
            let mut f = RotatingFile::open(&p, maxbytes, backups).unwrap();
            let mut stream = Vec::new();
            let mut counter = 0u32;
            for n in sizes {
                let chunk: Vec<u8> = (0..n).map(|_| { counter = counter.wrapping_add(1); (counter % 251) as u8 }).collect();
                f.write(&chunk).unwrap();
                stream.extend_from_slice(&chunk);
            }
            let mut rebuilt = Vec::new();
            let mut n = 1;
            while numbered(&p, n).exists() { n += 1; }
            for i in (1..n).rev() {
                let part = read(&numbered(&p, i));
                // Every rotated file reached the threshold; only its last write crossed it.
                prop_assert!(part.len() as u64 >= maxbytes);
                rebuilt.extend_from_slice(&part);
            }
            rebuilt.extend_from_slice(&read(&p));
            prop_assert!(rebuilt == stream);
        }
    }
}
