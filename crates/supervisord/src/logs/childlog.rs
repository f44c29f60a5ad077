//! Child log files: AUTO names in `childlogdir`, the start-up cleanup of old AUTO logs,
//! and [`ChannelLogger`], which runs one output channel (scanner, file, syslog).

use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rand::Rng;
use supervisor_config::{LogChannelConfig, LogFile, LogLevel};

use super::capture::{OutputScanner, ScanOutput};
use super::framer::LineFramer;
use super::rotating::{RotateOptions, Rotated, RotatingFile, WriteFailure};
use super::syslog;

/// Which output channel of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    /// The child's stdout.
    Stdout,
    /// The child's stderr.
    Stderr,
}

impl Channel {
    /// `stdout` / `stderr`, as used in file names, events and log lines.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Stdout => "stdout",
            Channel::Stderr => "stderr",
        }
    }
}

/// The characters of the random part of an AUTO log name (Python `tempfile`'s).
const RANDOM_CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789_";

/// A fresh AUTO log path: `<childlogdir>/<name>-<channel>---<identifier>-<8 random chars>.log`
/// (the random part drawn from Python `tempfile`'s alphabet). Nothing is created.
pub fn auto_log_path(
    childlogdir: &Path,
    process_name: &str,
    channel: Channel,
    identifier: &str,
) -> PathBuf {
    let mut rng = rand::thread_rng();
    let random: String = (0..8)
        .map(|_| RANDOM_CHARS[rng.gen_range(0..RANDOM_CHARS.len())] as char)
        .collect();
    childlogdir.join(format!(
        "{}-{}---{}-{}.log",
        process_name,
        channel.as_str(),
        identifier,
        random
    ))
}

/// Creates `path` exclusively with mode 0600, like `mkstemp` does for its name.
fn create_exclusive(path: &Path) -> io::Result<()> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
        .map(drop)
}

/// Creates an AUTO child log file like `mkstemp` (see [`auto_log_path`]), exclusively,
/// with a new random part on collision. Returns its path.
pub fn create_auto_log(
    childlogdir: &Path,
    process_name: &str,
    channel: Channel,
    identifier: &str,
) -> io::Result<PathBuf> {
    let mut last_err = None;
    for _ in 0..100 {
        let path = auto_log_path(childlogdir, process_name, channel, identifier);
        match create_exclusive(&path) {
            Ok(()) => return Ok(path),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last_err = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last_err.unwrap_or_else(|| io::ErrorKind::AlreadyExists.into()))
}

/// An AUTO log file whose name is chosen but which may not exist yet: at start-up the
/// daemon names every AUTO log at once and lets [`create_in_background`] create them on
/// another thread while the loop thread spawns the programs (creating thousands of files
/// costs as much as spawning as many programs). Whichever side comes first creates the
/// file; [`AutoLogFile::create`] waits if the other side is creating it right now.
#[derive(Debug)]
pub struct AutoLogFile {
    path: PathBuf,
    process_name: String,
    channel: Channel,
    identifier: String,
    state: std::sync::Mutex<AutoState>,
    changed: std::sync::Condvar,
}

#[derive(Debug)]
enum AutoState {
    Pending,
    Creating,
    Done(Result<(), io::ErrorKind>, Option<String>),
}

impl AutoLogFile {
    /// Names an AUTO log of `process_name`'s `channel` in `childlogdir` (no file yet).
    pub fn reserve(
        childlogdir: &Path,
        process_name: &str,
        channel: Channel,
        identifier: &str,
    ) -> std::sync::Arc<AutoLogFile> {
        std::sync::Arc::new(AutoLogFile {
            path: auto_log_path(childlogdir, process_name, channel, identifier),
            process_name: process_name.to_string(),
            channel,
            identifier: identifier.to_string(),
            state: std::sync::Mutex::new(AutoState::Pending),
            changed: std::sync::Condvar::new(),
        })
    }

    /// The reserved path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Creates the file unless that was done already, waiting if the other thread is
    /// creating it. Returns the path of the created file: the reserved one, or a new
    /// name if the reserved one was taken meanwhile. Every call returns the same outcome.
    pub fn create(&self) -> io::Result<PathBuf> {
        fn lock(m: &std::sync::Mutex<AutoState>) -> std::sync::MutexGuard<'_, AutoState> {
            m.lock().unwrap_or_else(|e| e.into_inner())
        }
        let mut state = lock(&self.state);
        loop {
            match &*state {
                AutoState::Pending => {
                    *state = AutoState::Creating;
                    drop(state);
                    let outcome = self.create_now();
                    let mut state = lock(&self.state);
                    *state = match &outcome {
                        Ok(p) if *p == self.path => AutoState::Done(Ok(()), None),
                        Ok(p) => AutoState::Done(Ok(()), Some(p.to_string_lossy().into_owned())),
                        Err(e) => AutoState::Done(Err(e.kind()), Some(e.to_string())),
                    };
                    self.changed.notify_all();
                    return outcome;
                }
                AutoState::Creating => {
                    state = self.changed.wait(state).unwrap_or_else(|e| e.into_inner());
                }
                AutoState::Done(Ok(()), None) => return Ok(self.path.clone()),
                AutoState::Done(Ok(()), Some(other)) => return Ok(PathBuf::from(other)),
                AutoState::Done(Err(kind), text) => {
                    return Err(io::Error::new(*kind, text.clone().unwrap_or_default()))
                }
            }
        }
    }

    fn create_now(&self) -> io::Result<PathBuf> {
        match create_exclusive(&self.path) {
            Ok(()) => Ok(self.path.clone()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let dir = self.path.parent().unwrap_or(Path::new("."));
                create_auto_log(dir, &self.process_name, self.channel, &self.identifier)
            }
            Err(e) => Err(e),
        }
    }
}

/// Creates `files` in order on a new thread, then calls `done`. Falls back to creating
/// them on this thread if no thread can be started.
pub fn create_in_background(
    files: Vec<std::sync::Arc<AutoLogFile>>,
    done: impl FnOnce() + Send + 'static,
) {
    let work = move || {
        for f in &files {
            let _ = f.create();
        }
        done();
    };
    // The job reaches the thread through a channel so that it is still here to run if
    // the thread cannot be started (`spawn` consumes its closure even when it fails).
    let (tx, rx) = std::sync::mpsc::channel::<Box<dyn FnOnce() + Send>>();
    let spawned = std::thread::Builder::new()
        .name("autolog".into())
        .spawn(move || {
            if let Ok(job) = rx.recv() {
                job();
            }
        });
    match spawned {
        Ok(_) => {
            let _ = tx.send(Box::new(work));
        }
        Err(_) => work(),
    }
}

/// True if `file_name` looks like an AUTO log of `identifier`, by the reference's rule
/// (`re.match(r'.+?---<identifier>-\S+\.log\.{0,1}\d{0,4}')`, the identifier taken
/// literally).
pub fn is_auto_log_name(file_name: &str, identifier: &str) -> bool {
    let marker = format!("---{identifier}-");
    let mut from = 0;
    while let Some(rel) = file_name[from..].find(&marker) {
        let at = from + rel;
        let head = &file_name[..at];
        if at >= 1 && !head.contains('\n') {
            let rest = &file_name[at + marker.len()..];
            // \S+ then ".log": a ".log" after at least one char, with no whitespace before it.
            let mut search = 1;
            while let Some(pos) = rest.get(search..).and_then(|r| r.find(".log")) {
                let end = search + pos;
                if !rest[..end].chars().any(char::is_whitespace) {
                    return true;
                }
                search = end + 1;
            }
        }
        from = at + 1;
    }
    false
}

/// Deletes old AUTO logs of `identifier` in `childlogdir` (start-up, unless `nocleanup`).
/// Returns the warnings to log: `Could not clear childlog dir` or
/// `Failed to clean up '<path>'`.
pub fn clean_auto_logs(childlogdir: &Path, identifier: &str) -> Vec<String> {
    let entries = match std::fs::read_dir(childlogdir) {
        Ok(e) => e,
        Err(_) => return vec!["Could not clear childlog dir".to_string()],
    };
    let mut warnings = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if is_auto_log_name(name, identifier) {
            let path = childlogdir.join(name);
            if std::fs::remove_file(&path).is_err() {
                warnings.push(format!(
                    "Failed to clean up {}",
                    crate::spawn::pyfmt::py_repr(&path.to_string_lossy())
                ));
            }
        }
    }
    warnings
}

/// Resolves a channel's `*_logfile`: `AUTO` creates a file in `childlogdir`, a path is
/// used as is, NONE/syslog give `None`.
pub fn resolve_log_path(
    config: &LogChannelConfig,
    childlogdir: &Path,
    process_name: &str,
    channel: Channel,
    identifier: &str,
) -> io::Result<Option<PathBuf>> {
    match &config.logfile {
        LogFile::Auto => create_auto_log(childlogdir, process_name, channel, identifier).map(Some),
        LogFile::Path(p) => Ok(Some(p.clone())),
        LogFile::None | LogFile::Syslog => Ok(None),
    }
}

/// One output channel of one process: capture scanner, log file, syslog copy.
#[derive(Debug)]
pub struct ChannelLogger {
    process_name: String,
    channel: Channel,
    file: Option<RotatingFile>,
    /// `*_log_prefix` (empty: none).
    prefix: String,
    /// `*_logfile_rotate` is `daily` or `hourly` (the rotation timer looks at it).
    time_rotated: bool,
    /// Prefixes lines and, for a stream target, holds a partial last line back
    /// (`None`: the data is written as it comes, like the reference).
    framer: Option<LineFramer>,
    /// An AUTO file not created yet (see [`AutoLogFile`]): opened on first use.
    pending: Option<PendingAuto>,
    syslog: bool,
    scanner: OutputScanner,
    /// Whether the log file is failing, and how many bytes it lost since.
    loss: Loss,
    /// Main-log lines about the file failing and recovering, for the caller to log
    /// ([`take_notices`](ChannelLogger::take_notices)). At most [`MAX_NOTICES`].
    notices: Vec<(LogLevel, String)>,
}

/// How long a partial line of a stream target is held back for its newline before it
/// is written on a line of its own.
pub const PARTIAL_LINE_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(500);

/// Bound of the queued notices (a failure and a recovery per write, taken after every
/// read of output, so more than a few only pile up if nobody takes them).
const MAX_NOTICES: usize = 8;

/// The state of a channel's log file writes: ok, or failing since some write with
/// `lost` bytes of output dropped so far.
#[derive(Debug, Default)]
struct Loss {
    failing: bool,
    lost: u64,
}

#[derive(Debug)]
struct PendingAuto {
    auto: std::sync::Arc<AutoLogFile>,
    options: RotateOptions,
}

fn rotate_options(config: &LogChannelConfig) -> RotateOptions {
    RotateOptions {
        maxbytes: config.logfile_maxbytes,
        backups: config.logfile_backups,
        rotation: config.rotation.clone(),
    }
}

/// Opens a child log file whose descriptor lives in the daemon's bounded cache of open
/// log files ([`super::filecache`]): thousands of programs fit in a normal fd limit.
fn open_cached(path: &Path, options: &RotateOptions) -> io::Result<RotatingFile> {
    let mut file = RotatingFile::open_with(path, options)?;
    file.use_cache(super::filecache::FileCache::shared());
    Ok(file)
}

/// The framer a channel writing `file` with `prefix` needs: one that holds partial
/// lines for a stream, one that only prefixes for a regular file with a prefix.
fn framer_for(file: Option<&RotatingFile>, prefix: &str) -> Option<LineFramer> {
    let stream = file.is_some_and(RotatingFile::is_stream);
    (stream || (!prefix.is_empty() && file.is_some())).then(|| LineFramer::new(prefix, stream))
}

impl ChannelLogger {
    /// Opens the channel's log file (`path` from [`resolve_log_path`]).
    pub fn open(
        process_name: &str,
        channel: Channel,
        config: &LogChannelConfig,
        path: Option<&Path>,
        strip_ansi: bool,
    ) -> io::Result<Self> {
        let file = match path {
            Some(p) => Some(open_cached(p, &rotate_options(config))?),
            None => None,
        };
        Ok(ChannelLogger {
            process_name: process_name.to_string(),
            channel,
            framer: framer_for(file.as_ref(), &config.prefix),
            prefix: config.prefix.clone(),
            time_rotated: config.rotation.when != supervisor_config::RotateWhen::Size,
            file,
            pending: None,
            syslog: config.syslog || config.logfile == LogFile::Syslog,
            scanner: OutputScanner::new(config.capture_maxbytes, strip_ansi),
            loss: Loss::default(),
            notices: Vec::new(),
        })
    }

    /// A channel whose AUTO log file is named by `auto` but may not exist yet: it is
    /// created (or its creation awaited) and opened on first use, or by
    /// [`resolve`](ChannelLogger::resolve).
    pub fn open_pending(
        process_name: &str,
        channel: Channel,
        config: &LogChannelConfig,
        auto: std::sync::Arc<AutoLogFile>,
        strip_ansi: bool,
    ) -> Self {
        ChannelLogger {
            process_name: process_name.to_string(),
            channel,
            file: None,
            prefix: config.prefix.clone(),
            time_rotated: config.rotation.when != supervisor_config::RotateWhen::Size,
            framer: None,
            pending: Some(PendingAuto {
                auto,
                options: rotate_options(config),
            }),
            syslog: config.syslog || config.logfile == LogFile::Syslog,
            scanner: OutputScanner::new(config.capture_maxbytes, strip_ansi),
            loss: Loss::default(),
            notices: Vec::new(),
        }
    }

    /// Creates and opens a pending AUTO file now. `Ok(true)` if it was pending; an error
    /// leaves the channel without a file (its path then reads as none).
    pub fn resolve(&mut self) -> io::Result<bool> {
        let Some(p) = self.pending.take() else {
            return Ok(false);
        };
        let path = p.auto.create()?;
        self.file = Some(open_cached(&path, &p.options)?);
        self.framer = framer_for(self.file.as_ref(), &self.prefix);
        Ok(true)
    }

    /// The channel.
    pub fn channel(&self) -> Channel {
        self.channel
    }

    /// The log file path, if logging to a file.
    pub fn path(&self) -> Option<&Path> {
        match (&self.file, &self.pending) {
            (Some(f), _) => Some(f.path()),
            (None, Some(p)) => Some(p.auto.path()),
            (None, None) => None,
        }
    }

    /// Bytes written to the log file and rotations of it since it was opened (0, 0 without
    /// a file).
    pub fn file_counters(&self) -> (u64, u64) {
        self.file
            .as_ref()
            .map_or((0, 0), |f| (f.bytes_written(), f.rotations()))
    }

    /// Moves what `pipe` holds now straight into the log file with splice(2)
    /// ([`super::splice`]) if this channel's bytes need no inspection here: no capture
    /// mode, no ANSI stripping, no line prefix or stream target (no framing), no syslog
    /// copy, a working regular file. `None`: read and [`feed`](ChannelLogger::feed)
    /// instead. `moved` grows by the bytes spliced.
    pub fn splice_from(
        &mut self,
        pipe: std::os::fd::RawFd,
        moved: &mut u64,
    ) -> Option<super::splice::Pumped> {
        if self.syslog || self.loss.failing || !self.scanner.passthrough() {
            return None;
        }
        self.resolve().ok()?;
        if self.framer.is_some() {
            return None;
        }
        let file = self.file.as_mut()?;
        Some(super::splice::pump(pipe, file, moved))
    }

    /// Of the bytes written to the log file since it was opened, those moved by
    /// splice(2) (for `/metrics`).
    pub fn bytes_spliced(&self) -> u64 {
        self.file.as_ref().map_or(0, RotatingFile::bytes_spliced)
    }

    /// Handles one read of child output: writes what belongs to the log file and syslog,
    /// and appends to `out` what the loop may need (main-log debug copy, PROCESS_LOG and
    /// PROCESS_COMMUNICATION events). Returns the first file write error, if any (the
    /// data is still scanned).
    pub fn feed(&mut self, data: &[u8], out: &mut Vec<ScanOutput>) -> io::Result<()> {
        let start = out.len();
        self.scanner.feed(data, out);
        self.deliver(start, out)
    }

    /// At EOF: releases bytes held back by capture mode as ordinary output, and a
    /// partial last line held back for a stream target.
    pub fn finish(&mut self, out: &mut Vec<ScanOutput>) -> io::Result<()> {
        let start = out.len();
        self.scanner.flush_pending(out);
        let result = self.deliver(start, out);
        let flushed = self.flush_partial();
        result.and(flushed)
    }

    /// True while a partial line is held back (a stream target waits for its newline;
    /// the reader flushes it after [`PARTIAL_LINE_TIMEOUT`] without output).
    pub fn has_partial(&self) -> bool {
        self.framer.as_ref().is_some_and(LineFramer::has_partial)
    }

    /// Writes a held partial line now, ended with a newline.
    pub fn flush_partial(&mut self) -> io::Result<()> {
        let Some(framer) = &mut self.framer else {
            return Ok(());
        };
        if !framer.has_partial() {
            return Ok(());
        }
        let mut buf = Vec::new();
        framer.flush(&mut buf);
        self.write_file(&buf).map_or(Ok(()), Err)
    }

    /// Writes `data` (already framed) to the file, accounting for failures.
    fn write_file(&mut self, data: &[u8]) -> Option<io::Error> {
        let f = self.file.as_mut()?;
        let outcome = f.write_counted(data);
        self.account(data.len(), outcome)
    }

    /// A channel writing `file` (tests of the rotation timer).
    #[cfg(test)]
    pub(crate) fn for_file(process_name: &str, file: RotatingFile, time_rotated: bool) -> Self {
        ChannelLogger {
            process_name: process_name.to_string(),
            channel: Channel::Stdout,
            framer: None,
            prefix: String::new(),
            time_rotated,
            file: Some(file),
            pending: None,
            syslog: false,
            scanner: OutputScanner::new(0, false),
            loss: Loss::default(),
            notices: Vec::new(),
        }
    }

    /// True if the file rotates daily or hourly (also while an AUTO file is not created).
    pub fn time_rotated(&self) -> bool {
        self.time_rotated
    }

    /// When the log file's current day/hour ends (`None`: no time-based rotation, or no
    /// file yet).
    pub fn next_rotation(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.file.as_ref().and_then(RotatingFile::next_rotation)
    }

    /// The rotation timer's turn: rotates the file if its day/hour is over (a failure is
    /// queued as a notice, like a failed write).
    pub fn rotate_if_due(&mut self) {
        let Some(f) = &mut self.file else {
            return;
        };
        if let Err(e) = f.rotate_if_due() {
            let msg = format!("{}: timed rotation failed: {e}", self.describe());
            self.notice(msg);
        }
    }

    /// Rotates the log file now (`supervisorctl rotate`).
    pub fn rotate_now(&mut self) -> io::Result<Option<Rotated>> {
        self.resolve()?;
        match &mut self.file {
            Some(f) => f.rotate_now().map(Some),
            None => Ok(None),
        }
    }

    fn deliver(&mut self, start: usize, out: &[ScanOutput]) -> io::Result<()> {
        let mut result = if out.len() > start {
            self.resolve().map(drop)
        } else {
            Ok(())
        };
        for item in &out[start..] {
            if let ScanOutput::Output {
                data,
                captured: false,
            } = item
            {
                if self.file.is_some() {
                    let framed;
                    let bytes: &[u8] = match &mut self.framer {
                        Some(framer) => {
                            let mut buf = Vec::with_capacity(data.len() + 64);
                            framer.frame(data, &mut buf);
                            framed = buf;
                            &framed
                        }
                        None => data,
                    };
                    let failed = if bytes.is_empty() {
                        None
                    } else {
                        self.write_file(bytes)
                    };
                    if let Some(e) = failed {
                        if result.is_ok() {
                            result = Err(e);
                        }
                    }
                }
                if self.syslog {
                    syslog::send_lines(&format!("{} ", self.process_name), data);
                }
            }
        }
        result
    }

    /// Records the outcome of writing `len` bytes to the file: the first failure queues a
    /// WARN notice naming the process, channel, file and error; later failures only
    /// count the bytes that did not reach the file; the first complete write after that
    /// queues a WARN notice with the number of bytes lost. Returns the error, if any.
    fn account(&mut self, len: usize, outcome: Result<(), WriteFailure>) -> Option<io::Error> {
        match outcome {
            Ok(()) => {
                if self.loss.failing {
                    let lost = std::mem::take(&mut self.loss.lost);
                    self.loss.failing = false;
                    let msg = format!(
                        "{}: writing works again; {lost} bytes of output were lost",
                        self.describe()
                    );
                    self.notice(msg);
                }
                None
            }
            Err(f) => {
                let dropped = len.saturating_sub(f.written) as u64;
                self.loss.lost = self.loss.lost.saturating_add(dropped);
                if !self.loss.failing {
                    self.loss.failing = true;
                    let msg = format!(
                        "{}: {} failed: {}; output that cannot be written is dropped \
                         (the loss is logged when writing resumes)",
                        self.describe(),
                        f.op.as_str(),
                        f.error
                    );
                    self.notice(msg);
                }
                Some(f.error)
            }
        }
    }

    /// `stdout log of 'web' (/path)`.
    fn describe(&self) -> String {
        format!(
            "{} log of {} ({})",
            self.channel.as_str(),
            crate::spawn::pyfmt::py_repr(&self.process_name),
            self.path()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default()
        )
    }

    fn notice(&mut self, msg: String) {
        if self.notices.len() < MAX_NOTICES {
            self.notices.push((LogLevel::Warn, msg));
        }
    }

    /// The main-log lines queued by writes since the last call: a channel's log file
    /// starting to fail (with the error) and working again (with the bytes lost).
    pub fn take_notices(&mut self) -> Vec<(LogLevel, String)> {
        if let Some(f) = &self.file {
            for e in f.jobs().take_errors() {
                self.notice(e);
            }
        }
        std::mem::take(&mut self.notices)
    }

    /// Bytes of output lost since the log file started failing (0 while it works).
    pub fn bytes_lost(&self) -> u64 {
        self.loss.lost
    }

    /// Reopens the log file (SIGUSR2). If the path now is another kind of target (a
    /// regular file where a FIFO was), the line handling follows it.
    pub fn reopen(&mut self) -> io::Result<()> {
        self.resolve()?;
        let was_stream = self.file.as_ref().is_some_and(RotatingFile::is_stream);
        let result = match &mut self.file {
            Some(f) => f.reopen(),
            None => Ok(()),
        };
        if self.file.as_ref().is_some_and(RotatingFile::is_stream) != was_stream {
            let _ = self.flush_partial();
            self.framer = framer_for(self.file.as_ref(), &self.prefix);
        }
        result
    }

    /// Removes and reopens the log file (`clearProcessLogs`).
    pub fn clear(&mut self) -> io::Result<()> {
        self.resolve()?;
        match &mut self.file {
            Some(f) => f.clear(),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_log_names_and_cleanup() {
        let dir = tempfile::tempdir().unwrap();
        let p = create_auto_log(dir.path(), "web", Channel::Stdout, "supervisor").unwrap();
        let name = p.file_name().unwrap().to_str().unwrap().to_string();
        assert!(name.starts_with("web-stdout---supervisor-"), "{name}");
        assert!(name.ends_with(".log"));
        assert_eq!(name.len(), "web-stdout---supervisor-".len() + 8 + 4);
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let q = create_auto_log(dir.path(), "web", Channel::Stdout, "supervisor").unwrap();
        assert_ne!(p, q);

        std::fs::write(dir.path().join("keep.log"), "").unwrap();
        std::fs::write(dir.path().join("x-stdout---other-abcdefgh.log"), "").unwrap();
        std::fs::write(dir.path().join("x-stdout---supervisor-abcdefgh.log.3"), "").unwrap();
        assert!(clean_auto_logs(dir.path(), "supervisor").is_empty());
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, ["keep.log", "x-stdout---other-abcdefgh.log"]);
        assert_eq!(
            clean_auto_logs(Path::new("/nonexistent-dir"), "supervisor"),
            ["Could not clear childlog dir"]
        );
    }

    #[test]
    fn reserved_auto_log_is_created_once_by_whichever_thread_comes_first() {
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<_> = (0..50)
            .map(|i| AutoLogFile::reserve(dir.path(), &format!("p{i}"), Channel::Stdout, "id"))
            .collect();
        for f in &files {
            assert!(!f.path().exists(), "reserving creates nothing");
        }
        let (tx, rx) = std::sync::mpsc::channel();
        create_in_background(files.clone(), move || tx.send(()).unwrap());
        // Meanwhile this thread takes the files from the end.
        for f in files.iter().rev() {
            assert_eq!(f.create().unwrap(), f.path());
        }
        rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 50);
        for f in &files {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(f.path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            assert_eq!(f.create().unwrap(), f.path(), "the outcome is kept");
        }
    }

    #[test]
    fn reserved_auto_log_taken_meanwhile_gets_a_new_name_and_errors_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let f = AutoLogFile::reserve(dir.path(), "web", Channel::Stderr, "supervisor");
        std::fs::write(f.path(), "someone else's").unwrap();
        let got = f.create().unwrap();
        assert_ne!(got, f.path());
        let name = got.file_name().unwrap().to_str().unwrap();
        assert!(name.starts_with("web-stderr---supervisor-"), "{name}");
        assert_eq!(std::fs::read(f.path()).unwrap(), b"someone else's");
        assert_eq!(f.create().unwrap(), got);

        let gone = AutoLogFile::reserve(&dir.path().join("missing"), "x", Channel::Stdout, "i");
        let e = gone.create().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert_eq!(gone.create().unwrap_err().kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn pending_channel_creates_its_file_on_first_output_only() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = LogChannelConfig {
            logfile: LogFile::Auto,
            logfile_maxbytes: 0,
            logfile_backups: 0,
            capture_maxbytes: 0,
            events_enabled: false,
            syslog: false,
            ..Default::default()
        };
        let auto = AutoLogFile::reserve(dir.path(), "p", Channel::Stdout, "supervisor");
        let path = auto.path().to_path_buf();
        let mut ch = ChannelLogger::open_pending("p", Channel::Stdout, &cfg, auto, false);
        assert_eq!(ch.path(), Some(path.as_path()));
        let mut out = Vec::new();
        ch.feed(b"", &mut out).unwrap();
        assert!(!path.exists(), "no output, no file yet");
        ch.feed(b"hello\n", &mut out).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"hello\n");
        assert!(!ch.resolve().unwrap(), "already resolved");
        assert_eq!(ch.path(), Some(path.as_path()));
    }

    #[test]
    fn auto_log_regex_rules() {
        let id = "supervisor";
        assert!(is_auto_log_name("a---supervisor-x.log", id));
        assert!(is_auto_log_name("a---supervisor-x.log.10", id));
        assert!(is_auto_log_name("a---supervisor-x.logfoo", id));
        assert!(!is_auto_log_name("---supervisor-x.log", id)); // needs 1+ char before
        assert!(!is_auto_log_name("a---supervisor-.log", id)); // needs 1+ char in \S+
        assert!(!is_auto_log_name("a---supervisor-x y.log", id));
        assert!(!is_auto_log_name("a---supervisorx.log", id));
        assert!(is_auto_log_name("a---supervisor----supervisor-x.log", id));
    }

    #[test]
    fn channel_logger_writes_file_and_reports_output() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.log");
        let cfg = LogChannelConfig {
            logfile: LogFile::Path(path.clone()),
            logfile_maxbytes: 0,
            logfile_backups: 0,
            capture_maxbytes: 1000,
            events_enabled: false,
            syslog: false,
            ..Default::default()
        };
        let mut ch = ChannelLogger::open("p", Channel::Stdout, &cfg, Some(&path), true).unwrap();
        let mut out = Vec::new();
        ch.feed(
            b"\x1b[1mbold\x1b[0m <!--XSUPERVISOR:BEGIN-->secret<!--XSUPERVISOR:END--> end of it\n",
            &mut out,
        )
        .unwrap();
        ch.feed(b"tail\n", &mut out).unwrap();
        ch.finish(&mut out).unwrap();
        assert_eq!(
            std::fs::read(&path).unwrap(),
            b"bold  end of it\ntail\n".to_vec()
        );
        assert!(out.contains(&ScanOutput::Communication(b"secret".to_vec())));
    }

    /// A channel whose file is a real failing writer (a symlink to `/dev/full`, every
    /// write ENOSPC) says so once, counts silently, and reports the exact loss once the
    /// file works again (after SIGUSR2's reopen found a regular file at the path).
    #[test]
    fn failing_log_file_is_reported_once_and_its_loss_counted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.log");
        std::os::unix::fs::symlink("/dev/full", &path).unwrap();
        let cfg = LogChannelConfig {
            logfile: LogFile::Path(path.clone()),
            logfile_maxbytes: 0,
            logfile_backups: 0,
            capture_maxbytes: 0,
            events_enabled: false,
            syslog: false,
            ..Default::default()
        };
        let mut ch = ChannelLogger::open("web", Channel::Stderr, &cfg, Some(&path), false).unwrap();
        let mut out = Vec::new();
        let err = ch.feed(b"hello\n", &mut out).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOSPC));
        let notices = ch.take_notices();
        assert_eq!(notices.len(), 1, "{notices:?}");
        assert_eq!(notices[0].0, LogLevel::Warn);
        let expected = format!(
            "stderr log of 'web' ({}): write failed: {}; output that cannot be written is \
             dropped (the loss is logged when writing resumes)",
            path.display(),
            io::Error::from_raw_os_error(libc::ENOSPC)
        );
        assert_eq!(notices[0].1, expected);
        for _ in 0..100 {
            assert!(ch.feed(b"more output\n", &mut out).is_err());
        }
        assert!(ch.take_notices().is_empty(), "counted silently");
        assert_eq!(ch.bytes_lost(), 6 + 100 * 12);
        assert_eq!(
            out.len(),
            101,
            "the data is still handed on (events, main log)"
        );

        std::fs::remove_file(&path).unwrap();
        ch.reopen().unwrap();
        ch.feed(b"ok\n", &mut out).unwrap();
        let notices = ch.take_notices();
        assert_eq!(
            notices,
            [(
                LogLevel::Warn,
                format!(
                    "stderr log of 'web' ({}): writing works again; 1206 bytes of output \
                     were lost",
                    path.display()
                )
            )]
        );
        assert_eq!(ch.bytes_lost(), 0);
        assert_eq!(std::fs::read(&path).unwrap(), b"ok\n");
        ch.feed(b"fine\n", &mut out).unwrap();
        assert!(ch.take_notices().is_empty());
    }
}
