//! A small harness that runs the real `supervisord` binary in a temp dir: writes a config,
//! starts `supervisord -n -c`, waits (always bounded) on the main log, signals it and
//! stops it by pid. A daemon still running at drop is stopped; if it hangs, it and its
//! live children (checked by parent pid) are killed.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// One running daemon in its own temp dir.
pub struct Sd {
    /// The temp dir (config, logs, files the children write).
    pub dir: tempfile::TempDir,
    /// The daemon process.
    pub child: Child,
    /// The main log path.
    pub log: PathBuf,
    /// The config path.
    pub conf: PathBuf,
}

/// The default wait bound for a log line.
pub const WAIT: Duration = Duration::from_secs(15);

impl Sd {
    /// Writes `[supervisord]` (nodaemon, loglevel=debug, everything inside the temp dir)
    /// plus `body` (with `{dir}` replaced by the temp dir) and starts the daemon.
    pub fn start(body: &str) -> Sd {
        Sd::start_with(body, "")
    }

    /// Like [`Sd::start`], with extra `[supervisord]` lines.
    pub fn start_with(body: &str, supervisord_extra: &str) -> Sd {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path().display().to_string();
        let log = dir.path().join("supervisord.log");
        let conf = dir.path().join("supervisord.conf");
        let text = format!(
            "[supervisord]\nlogfile={d}/supervisord.log\npidfile={d}/supervisord.pid\n\
childlogdir={d}\nnodaemon=true\nloglevel=debug\nsilent=true\n{supervisord_extra}\n\n{}\n",
            body.replace("{dir}", &d)
        );
        std::fs::write(&conf, text).expect("write config");
        let child = Command::new(env!("CARGO_BIN_EXE_supervisord"))
            .arg("-c")
            .arg(&conf)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start supervisord");
        Sd {
            dir,
            child,
            log,
            conf,
        }
    }

    /// The temp dir.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The daemon's pid.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// The main log's text so far.
    pub fn mainlog(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The main log's messages (timestamp and level stripped: `INFO spawned: ...`).
    pub fn messages(&self) -> Vec<String> {
        self.mainlog()
            .lines()
            .filter_map(|l| l.get(24..).map(str::to_string))
            .collect()
    }

    /// Waits until `pred` holds for the main log, or panics after `timeout`.
    pub fn wait_until(&mut self, timeout: Duration, what: &str, pred: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + timeout;
        loop {
            let text = self.mainlog();
            if pred(&text) {
                return;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}; main log:\n{text}");
            }
            if let Ok(Some(st)) = self.child.try_wait() {
                panic!("supervisord exited ({st}) while waiting for {what}; main log:\n{text}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until the main log contains `needle` at least `n` times.
    pub fn wait_count(&mut self, needle: &str, n: usize) {
        let what = format!("{n} x {needle:?}");
        self.wait_until(WAIT, &what, |t| t.matches(needle).count() >= n);
    }

    /// Waits until the main log contains `needle`.
    pub fn wait_for(&mut self, needle: &str) {
        self.wait_count(needle, 1);
    }

    /// How many times `needle` occurs in the main log.
    pub fn count(&self, needle: &str) -> usize {
        self.mainlog().matches(needle).count()
    }

    /// The pids logged in `spawned: '<name>' with pid N` lines, in order.
    pub fn spawned_pids(&self, name: &str) -> Vec<i32> {
        let prefix = format!("spawned: '{name}' with pid ");
        self.mainlog()
            .lines()
            .filter_map(|l| {
                l.split_once(&prefix)
                    .map(|(_, p)| p.trim().parse().unwrap())
            })
            .collect()
    }

    /// Every pid the daemon logged as spawned.
    pub fn all_spawned_pids(&self) -> Vec<i32> {
        self.mainlog()
            .lines()
            .filter(|l| l.contains("spawned: '"))
            .filter_map(|l| {
                l.rsplit_once(" with pid ")
                    .and_then(|(_, p)| p.trim().parse().ok())
            })
            .collect()
    }

    /// Sends `sig` to the daemon.
    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.pid(), sig) };
    }

    /// Waits (bounded) for the daemon to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(st) = self.child.try_wait().expect("try_wait") {
                return st;
            }
            if Instant::now() > deadline {
                panic!("supervisord did not exit; main log:\n{}", self.mainlog());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then a bounded wait for the exit.
    pub fn stop(&mut self) -> ExitStatus {
        self.signal(libc::SIGTERM);
        self.wait_exit(Duration::from_secs(30))
    }
}

/// True while `pid` exists and is not a zombie.
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => {
            let state = s.rsplit_once(") ").and_then(|(_, r)| r.chars().next());
            !matches!(state, Some('Z') | Some('X') | None)
        }
        Err(_) => false,
    }
}

/// Waits (bounded) until `pid` is gone; returns whether it went.
pub fn wait_gone(pid: i32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    !alive(pid)
}

/// Waits (bounded) for a file to exist with non-empty content and returns it.
pub fn wait_file(path: &Path, timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(s) = std::fs::read_to_string(path) {
            if !s.is_empty() && s.ends_with('\n') {
                return s;
            }
        }
        if Instant::now() > deadline {
            panic!("timed out waiting for {}", path.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for Sd {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_some() {
            // It exited (cleanly or not): its children are its own business now, and
            // their pids may already belong to other processes.
            return;
        }
        self.signal(libc::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // A hung daemon: note its live children (by parent pid, so never a reused pid),
        // then kill it and them.
        let daemon = self.pid();
        let children: Vec<i32> = self
            .all_spawned_pids()
            .into_iter()
            .filter(|&p| parent_of(p) == Some(daemon))
            .collect();
        let _ = self.child.kill();
        let _ = self.child.wait();
        for pid in children {
            // SAFETY: kill(2) on a child of our daemon, checked a moment ago.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

/// The parent pid of `pid`, if it exists.
pub fn parent_of(pid: i32) -> Option<i32> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = s.rsplit_once(") ")?.1;
    rest.split(' ').nth(1)?.parse().ok()
}

/// Parses the `HH:MM:SS,mmm` time of a main-log line into seconds of the day.
pub fn line_time(line: &str) -> f64 {
    let t = &line[11..23];
    let h: f64 = t[0..2].parse().unwrap();
    let m: f64 = t[3..5].parse().unwrap();
    let s: f64 = t[6..8].parse().unwrap();
    let ms: f64 = t[9..12].parse().unwrap();
    h * 3600.0 + m * 60.0 + s + ms / 1000.0
}

/// The first full main-log line containing `needle` (after `skip` earlier matches).
pub fn find_line(log: &str, needle: &str, skip: usize) -> Option<String> {
    log.lines()
        .filter(|l| l.contains(needle))
        .nth(skip)
        .map(str::to_string)
}

/// SIGKILLs `pid` only if it is alive and still runs `argv0` (guards against pid reuse).
pub fn kill_if_running(pid: i32, argv0: &str) {
    let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return;
    };
    let first = cmd.split(|b| *b == 0).next().unwrap_or_default();
    if alive(pid) && first == argv0.as_bytes() {
        // SAFETY: kill(2) on a pid just checked to run the expected program.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}
