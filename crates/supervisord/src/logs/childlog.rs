//! Child log files: AUTO names in `childlogdir`, the start-up cleanup of old AUTO logs,
//! and [`ChannelLogger`], which runs one output channel (scanner, file, syslog).

use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rand::Rng;
use supervisor_config::{LogChannelConfig, LogFile};

use super::capture::{OutputScanner, ScanOutput};
use super::rotating::RotatingFile;
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

/// Creates an AUTO child log file like `mkstemp`:
/// `<childlogdir>/<name>-<channel>---<identifier>-<8 random chars>.log`, mode 0600,
/// created exclusively (a new random part on collision). Returns its path.
pub fn create_auto_log(
    childlogdir: &Path,
    process_name: &str,
    channel: Channel,
    identifier: &str,
) -> io::Result<PathBuf> {
    let mut rng = rand::thread_rng();
    let mut last_err = None;
    for _ in 0..100 {
        let random: String = (0..8)
            .map(|_| RANDOM_CHARS[rng.gen_range(0..RANDOM_CHARS.len())] as char)
            .collect();
        let name = format!(
            "{}-{}---{}-{}.log",
            process_name,
            channel.as_str(),
            identifier,
            random
        );
        let path = childlogdir.join(name);
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC)
            .open(&path)
        {
            Ok(_) => return Ok(path),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last_err = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last_err.unwrap_or_else(|| io::ErrorKind::AlreadyExists.into()))
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
    syslog: bool,
    scanner: OutputScanner,
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
            Some(p) => Some(RotatingFile::open(
                p,
                config.logfile_maxbytes,
                config.logfile_backups,
            )?),
            None => None,
        };
        Ok(ChannelLogger {
            process_name: process_name.to_string(),
            channel,
            file,
            syslog: config.syslog || config.logfile == LogFile::Syslog,
            scanner: OutputScanner::new(config.capture_maxbytes, strip_ansi),
        })
    }

    /// The channel.
    pub fn channel(&self) -> Channel {
        self.channel
    }

    /// The log file path, if logging to a file.
    pub fn path(&self) -> Option<&Path> {
        self.file.as_ref().map(|f| f.path())
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

    /// At EOF: releases bytes held back by capture mode as ordinary output.
    pub fn finish(&mut self, out: &mut Vec<ScanOutput>) -> io::Result<()> {
        let start = out.len();
        self.scanner.flush_pending(out);
        self.deliver(start, out)
    }

    fn deliver(&mut self, start: usize, out: &[ScanOutput]) -> io::Result<()> {
        let mut result = Ok(());
        for item in &out[start..] {
            if let ScanOutput::Output {
                data,
                captured: false,
            } = item
            {
                if let Some(f) = &mut self.file {
                    if let Err(e) = f.write(data) {
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

    /// Reopens the log file (SIGUSR2).
    pub fn reopen(&mut self) -> io::Result<()> {
        match &mut self.file {
            Some(f) => f.reopen(),
            None => Ok(()),
        }
    }

    /// Removes and reopens the log file (`clearProcessLogs`).
    pub fn clear(&mut self) -> io::Result<()> {
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
}
