//! The daemon's main ("activity") log.
//!
//! Lines are `YYYY-MM-DD HH:MM:SS,mmm LEVEL message\n` in local time with the reference's
//! four-letter level tags. Targets: a [`RotatingFile`], `syslog` (`logfile=syslog`), and a
//! copy on stdout when running in the foreground without `silent`.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Local, TimeZone};
use supervisor_config::{LogFile, LogLevel, LogRotation};

use super::rotating::{RotateOptions, Rotated, RotatingFile};
use super::stream::Stream;
use super::syslog;

/// Formats one main-log line (with its trailing newline).
pub fn format_line<Tz: TimeZone>(when: &DateTime<Tz>, level: LogLevel, message: &str) -> String
where
    Tz::Offset: std::fmt::Display,
{
    format!(
        "{},{:03} {} {}\n",
        when.format("%Y-%m-%d %H:%M:%S"),
        when.timestamp_subsec_millis().min(999),
        level.tag(),
        message
    )
}

/// How to open the main log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MainLogConfig {
    /// `logfile=` (a path, `syslog`, or NONE).
    pub logfile: LogFile,
    /// `logfile_maxbytes=` (0 = never rotate).
    pub maxbytes: u64,
    /// `logfile_backups=`.
    pub backups: u32,
    /// `loglevel=`.
    pub level: LogLevel,
    /// Echo every line to stdout (`nodaemon && !silent`).
    pub echo_stdout: bool,
}

/// The foreground copy of the main log on stdout.
#[derive(Debug)]
enum Echo {
    Off,
    /// The daemon's stdout as a [`Stream`]: whole lines, bounded waits for a stalled
    /// reader (a container's stdout).
    Stream(Stream),
    /// `io::stdout()` (when no stream of fd 1 could be made).
    Plain,
}

/// The main logger. Owned by the event loop; every call writes synchronously.
#[derive(Debug)]
pub struct MainLog {
    level: LogLevel,
    file: Option<RotatingFile>,
    syslog: bool,
    echo: Echo,
    /// Set while writes to the file fail: the first error and the bytes lost so far.
    failing: Option<(String, u64)>,
}

impl MainLog {
    /// Opens the targets described by `config`, the file rotating by size only.
    pub fn open(config: &MainLogConfig) -> io::Result<Self> {
        Self::open_rotating(config, &LogRotation::default())
    }

    /// Opens the targets described by `config`, the file rotating as `rotation` says
    /// too (`logfile_rotate=`, `logfile_compress=`, `logfile_maxage=`).
    pub fn open_rotating(config: &MainLogConfig, rotation: &LogRotation) -> io::Result<Self> {
        let (file, syslog) = match &config.logfile {
            LogFile::Path(p) if p.as_os_str() == "syslog" => (None, true),
            LogFile::Path(p) => (
                Some(RotatingFile::open_with(
                    p,
                    &RotateOptions {
                        maxbytes: config.maxbytes,
                        backups: config.backups,
                        rotation: rotation.clone(),
                    },
                )?),
                false,
            ),
            LogFile::Syslog => (None, true),
            LogFile::None | LogFile::Auto => (None, false),
        };
        // `logfile=/dev/stdout` in the foreground: the file already is stdout, so the
        // copy on stdout would print every line twice.
        let echo = if config.echo_stdout
            && !matches!(&config.logfile, LogFile::Path(p) if is_our_stdout(p))
        {
            Stream::from_daemon_fd(1).map_or(Echo::Plain, Echo::Stream)
        } else {
            Echo::Off
        };
        Ok(MainLog {
            level: config.level,
            file,
            syslog,
            echo,
            failing: None,
        })
    }

    /// A logger with no targets (before the real log is open, and in tests).
    pub fn disabled(level: LogLevel) -> Self {
        MainLog {
            level,
            file: None,
            syslog: false,
            echo: Echo::Off,
            failing: None,
        }
    }

    /// The current threshold.
    pub fn level(&self) -> LogLevel {
        self.level
    }

    /// Changes the threshold.
    pub fn set_level(&mut self, level: LogLevel) {
        self.level = level;
    }

    /// True if a message at `level` would be written (check before building costly text).
    pub fn enabled(&self, level: LogLevel) -> bool {
        level >= self.level
    }

    /// The log file path, if the main log goes to a file.
    pub fn path(&self) -> Option<&Path> {
        self.file.as_ref().map(|f| f.path())
    }

    /// Logs `message` at `level` now.
    pub fn log(&mut self, level: LogLevel, message: &str) {
        if !self.enabled(level) {
            return;
        }
        let now = Local::now();
        let line = format_line(&now, level, message);
        self.write_line(&line);
        if self.syslog {
            // Like the reference's syslog handler: one entry per line, each with the prefix.
            for part in message.trim_end_matches('\n').split('\n') {
                syslog::send(format_line(&now, level, part).trim_end_matches('\n'));
            }
        }
    }

    /// When the file's current day/hour ends (`None`: no time-based rotation).
    pub fn next_rotation(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.file.as_ref().and_then(RotatingFile::next_rotation)
    }

    /// The rotation timer's turn: rotates the file if its day/hour is over.
    pub fn rotate_if_due(&mut self) {
        let failed = match &mut self.file {
            Some(f) => f.rotate_if_due().err(),
            None => None,
        };
        if let Some(e) = failed {
            self.warn(&format!("timed rotation of the main log failed: {e}"));
        }
    }

    /// Rotates the file now (`supervisorctl rotate`); `None` without a file.
    pub fn rotate_now(&mut self) -> io::Result<Option<Rotated>> {
        match &mut self.file {
            Some(f) => f.rotate_now().map(Some),
            None => Ok(None),
        }
    }

    /// Writes an already formatted line to the file and stdout targets. Write errors do
    /// not stop the daemon (its log disk may be full): the bytes that could not be
    /// written are counted, and the first line that can be written again is followed by
    /// a WARN line saying how many were lost and why. Nothing here logs recursively.
    pub fn write_line(&mut self, line: &str) {
        if let Some(f) = &mut self.file {
            match f.write_counted(line.as_bytes()) {
                Ok(()) => {
                    if let Some((error, lost)) = self.failing.take() {
                        let note = format_line(
                            &Local::now(),
                            LogLevel::Warn,
                            &format!(
                                "{lost} bytes of this log were lost while it could not be \
                                 written ({error})"
                            ),
                        );
                        // One attempt: if it fails, the loss is counted again from here.
                        if let Err(e) = f.write_counted(note.as_bytes()) {
                            let dropped = note.len().saturating_sub(e.written) as u64;
                            self.failing =
                                Some((format!("{}: {}", e.op.as_str(), e.error), lost + dropped));
                        }
                    }
                }
                Err(e) => {
                    let dropped = line.len().saturating_sub(e.written) as u64;
                    let entry = self
                        .failing
                        .get_or_insert_with(|| (format!("{}: {}", e.op.as_str(), e.error), 0));
                    entry.1 = entry.1.saturating_add(dropped);
                }
            }
        }
        let errors = match &self.file {
            Some(f) if f.jobs().pending() == 0 => f.jobs().take_errors(),
            _ => Vec::new(),
        };
        for e in errors {
            let note = format_line(&Local::now(), LogLevel::Warn, &e);
            if let Some(f) = &mut self.file {
                let _ = f.write_counted(note.as_bytes());
            }
        }
        match &mut self.echo {
            Echo::Off => {}
            // A reader of stdout that stops reading costs at most one bounded wait; what
            // it does not take is dropped (the file has every line).
            Echo::Stream(s) => {
                let _ = s.write_all_lines(line.as_bytes());
            }
            Echo::Plain => {
                let mut out = io::stdout().lock();
                let _ = out.write_all(line.as_bytes());
                let _ = out.flush();
            }
        }
    }

    /// `CRIT`.
    pub fn critical(&mut self, message: &str) {
        self.log(LogLevel::Critical, message)
    }
    /// `ERRO`.
    pub fn error(&mut self, message: &str) {
        self.log(LogLevel::Error, message)
    }
    /// `WARN`.
    pub fn warn(&mut self, message: &str) {
        self.log(LogLevel::Warn, message)
    }
    /// `INFO`.
    pub fn info(&mut self, message: &str) {
        self.log(LogLevel::Info, message)
    }
    /// `DEBG`.
    pub fn debug(&mut self, message: &str) {
        self.log(LogLevel::Debug, message)
    }
    /// `TRAC`.
    pub fn trace(&mut self, message: &str) {
        self.log(LogLevel::Trace, message)
    }
    /// `BLAT`.
    pub fn blather(&mut self, message: &str) {
        self.log(LogLevel::Blather, message)
    }

    /// Reopens the file (SIGUSR2).
    pub fn reopen(&mut self) -> io::Result<()> {
        match &mut self.file {
            Some(f) => f.reopen(),
            None => Ok(()),
        }
    }

    /// Removes and reopens the file (`clearLog`).
    pub fn clear(&mut self) -> io::Result<()> {
        match &mut self.file {
            Some(f) => f.clear(),
            None => Ok(()),
        }
    }
}

/// True if `path` is the daemon's stdout: `/dev/stdout`, `/dev/fd/1`, or a path that
/// is the same file as descriptor 1 (`supervisord -n > x.log` with `logfile=x.log`).
fn is_our_stdout(path: &Path) -> bool {
    if super::stream::fd_alias(path) == Some(1) {
        return true;
    }
    use std::os::unix::fs::MetadataExt;
    let (Ok(a), Ok(b)) = (
        std::fs::metadata(path),
        std::fs::metadata("/proc/self/fd/1"),
    ) else {
        return false;
    };
    a.dev() == b.dev() && a.ino() == b.ino()
}

/// The main-log debug copy of child output: `'<name>' <channel> output:\n<data>`, with
/// undecodable bytes shown as `Undecodable: b'...'` like the reference.
pub fn child_output_message(process_name: &str, channel: &str, data: &[u8]) -> String {
    let text = match std::str::from_utf8(data) {
        Ok(t) => t.to_string(),
        Err(_) => format!("Undecodable: {}", py_bytes_repr(data)),
    };
    format!(
        "{} {} output:\n{}",
        crate::spawn::pyfmt::py_repr(process_name),
        channel,
        text
    )
}

pub use supervisor_protocol::pyrepr::bytes_repr as py_bytes_repr;

/// The default main log path: `supervisord.log` in the current directory.
pub fn default_logfile() -> PathBuf {
    std::env::current_dir()
        .unwrap_or_else(|_| PathBuf::from("/"))
        .join("supervisord.log")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::FixedOffset;

    #[test]
    fn line_format() {
        let t = FixedOffset::east_opt(0)
            .unwrap()
            .with_ymd_and_hms(2026, 11, 21, 18, 0, 0)
            .unwrap()
            + chrono::Duration::milliseconds(123);
        assert_eq!(
            format_line(&t, LogLevel::Info, "spawned: 'web' with pid 42"),
            "2026-11-21 18:00:00,123 INFO spawned: 'web' with pid 42\n"
        );
        assert_eq!(
            format_line(&t, LogLevel::Debug, "a\nb"),
            "2026-11-21 18:00:00,123 DEBG a\nb\n"
        );
    }

    #[test]
    fn filters_by_level_and_writes_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sd.log");
        let mut log = MainLog::open(&MainLogConfig {
            logfile: LogFile::Path(p.clone()),
            maxbytes: 0,
            backups: 0,
            level: LogLevel::Info,
            echo_stdout: false,
        })
        .unwrap();
        log.debug("hidden");
        log.info("shown");
        log.critical("crit");
        let text = std::fs::read_to_string(&p).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].ends_with(" INFO shown"));
        assert!(lines[1].ends_with(" CRIT crit"));
        // 2026-11-21 18:00:00,123 = 23 chars before the level.
        assert_eq!(lines[0].as_bytes()[19], b',');
        assert_eq!(lines[0].len(), 23 + " INFO shown".len());
    }

    #[test]
    fn child_output_copy() {
        assert_eq!(
            child_output_message("web", "stdout", b"hi\n"),
            "'web' stdout output:\nhi\n"
        );
        assert_eq!(
            child_output_message("web", "stderr", b"\xff\n"),
            "'web' stderr output:\nUndecodable: b'\\xff\\n'"
        );
        assert_eq!(py_bytes_repr(b"READY\n"), "b'READY\\n'");
    }

    #[test]
    fn main_log_rotates_reopens_and_clears() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sd.log");
        let mut log = MainLog::open(&MainLogConfig {
            logfile: LogFile::Path(p.clone()),
            maxbytes: 100,
            backups: 2,
            level: LogLevel::Blather,
            echo_stdout: false,
        })
        .unwrap();
        for i in 0..10 {
            log.blather(&format!("message number {i}"));
        }
        let rotated = crate::logs::rotating::numbered(&p, 1);
        assert!(rotated.exists());
        assert!(crate::logs::rotating::numbered(&p, 2).exists());
        assert!(!crate::logs::rotating::numbered(&p, 3).exists());
        let moved = dir.path().join("moved.log");
        std::fs::rename(&p, &moved).unwrap();
        log.reopen().unwrap();
        log.info("after reopen");
        assert!(std::fs::read_to_string(&p)
            .unwrap()
            .ends_with(" INFO after reopen\n"));
        log.clear().unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "");
        assert_eq!(log.path(), Some(p.as_path()));
    }

    /// A main log that cannot be written (a symlink to `/dev/full`) keeps the daemon
    /// going, and once it works again it says how many bytes were lost.
    #[test]
    fn main_log_counts_what_it_could_not_write() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sd.log");
        std::os::unix::fs::symlink("/dev/full", &p).unwrap();
        let mut log = MainLog::open(&MainLogConfig {
            logfile: LogFile::Path(p.clone()),
            maxbytes: 0,
            backups: 0,
            level: LogLevel::Info,
            echo_stdout: false,
        })
        .unwrap();
        log.info("first");
        log.warn("second");
        std::fs::remove_file(&p).unwrap();
        log.reopen().unwrap();
        log.info("back");
        let text = std::fs::read_to_string(&p).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].ends_with(" INFO back"));
        // 23 (time) + " INFO first\n" and 23 + " WARN second\n".
        let lost = 23 + 12 + 23 + 13;
        let want = format!(
            " WARN {lost} bytes of this log were lost while it could not be written \
             (write: {})",
            io::Error::from_raw_os_error(libc::ENOSPC)
        );
        assert!(lines[1].ends_with(&want), "{}", lines[1]);
        log.info("again");
        assert_eq!(std::fs::read_to_string(&p).unwrap().lines().count(), 3);
    }
}
