//! The daemon as PID 1 of a container, or as a child subreaper (issue 17).
//!
//! * The signals the loop acts on (TERM, INT, QUIT, HUP, USR2, CHLD) are blocked at the
//!   top of `main` ([`block_loop_signals`]) and unblocked only once the loop's handlers
//!   are installed ([`unblock_loop_signals`]), before the first spawn: a signal that
//!   arrives while the daemon starts (or between two runs, on a restart) stays pending
//!   and is acted on by the loop, never lost. (PID 1 has no default action for them: an
//!   unhandled SIGTERM would simply vanish.) Children start with an empty mask.
//! * `[supervisord] subreaper = true` makes the daemon the child subreaper of its
//!   descendants when it is not PID 1 ([`set_subreaper`]), so a double-forked program
//!   is re-parented to it instead of to init.
//! * Either way the loop reaps with `waitpid(-1)`: orphans are reaped and logged at DEBUG
//!   only (`reaped unknown pid`).
//! * At the end of a shutdown, whatever orphans are left (processes the daemon did not
//!   spawn, re-parented to it) get SIGTERM, then SIGKILL after [`ORPHAN_GRACE`]
//!   ([`end_orphans`]), so nothing outlives the daemon unnoticed.

use std::time::{Duration, Instant};

use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use supervisor_config::LogLevel;

/// The signals the event loop handles.
fn loop_signals() -> SigSet {
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGQUIT,
        Signal::SIGHUP,
        Signal::SIGUSR2,
        Signal::SIGCHLD,
    ] {
        set.add(s);
    }
    set
}

/// Blocks the loop's signals on this thread (and on the threads it starts later): they
/// stay pending until [`unblock_loop_signals`].
pub fn block_loop_signals() {
    let _ = nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&loop_signals()), None);
}

/// Unblocks the loop's signals (call it once the loop's handlers are installed): the
/// pending ones are delivered now.
pub fn unblock_loop_signals() {
    let _ = nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_UNBLOCK, Some(&loop_signals()), None);
}

/// True when `stream` has a signal delivered and not yet received (without waiting; the
/// caller yields first so the runtime's driver has dispatched what the handler saw).
pub async fn signal_pending(stream: &mut tokio::signal::unix::Signal) -> bool {
    matches!(
        tokio::time::timeout(Duration::ZERO, stream.recv()).await,
        Ok(Some(()))
    )
}

/// True when this process is PID 1 (of its pid namespace).
pub fn is_pid1() -> bool {
    std::process::id() == 1
}

/// Applies `subreaper = true` (nothing as PID 1, which reaps every orphan anyway).
/// Returns the line to log.
pub fn set_subreaper(wanted: bool) -> Option<(LogLevel, String)> {
    if !wanted {
        return None;
    }
    if is_pid1() {
        return Some((
            LogLevel::Info,
            "running as PID 1: every orphan is reaped here (subreaper not needed)".into(),
        ));
    }
    Some(match nix::sys::prctl::set_child_subreaper(true) {
        Ok(()) => (
            LogLevel::Info,
            "set as child subreaper: orphaned descendants are reaped here".into(),
        ),
        Err(e) => (
            LogLevel::Warn,
            format!("could not become a child subreaper: {}", e.desc()),
        ),
    })
}

/// How long orphans left at the end of a shutdown get between SIGTERM and SIGKILL.
pub const ORPHAN_GRACE: Duration = Duration::from_secs(2);

/// The pids of this process's remaining children (from `/proc/self/task/*/children`),
/// `None` when the kernel does not provide that file (`CONFIG_PROC_CHILDREN` off).
fn children() -> Option<Vec<i32>> {
    let tasks = std::fs::read_dir("/proc/self/task").ok()?;
    let mut out = Vec::new();
    let mut readable = false;
    for t in tasks.flatten() {
        if let Ok(text) = std::fs::read_to_string(t.path().join("children")) {
            readable = true;
            out.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse::<i32>().ok()),
            );
        }
    }
    if !readable {
        return None;
    }
    out.sort_unstable();
    out.dedup();
    Some(out)
}

/// Reaps every exited child without waiting. Returns false once no child is left at all
/// (`ECHILD`), true while some still run.
fn reap_all() -> bool {
    loop {
        match nix::sys::wait::waitpid(None, Some(nix::sys::wait::WaitPidFlag::WNOHANG)) {
            Ok(nix::sys::wait::WaitStatus::StillAlive) => return true,
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return false,
        }
    }
}

/// Who is left to signal: the listed children, or (PID 1 without the `children` files)
/// every process of the namespace (`kill(-1)`).
enum Left {
    Pids(Vec<i32>),
    Everyone,
}

impl Left {
    fn now(pid1: bool) -> Option<Left> {
        if !reap_all() {
            return None;
        }
        match children() {
            Some(p) if p.is_empty() => None,
            Some(p) => Some(Left::Pids(p)),
            None if pid1 => Some(Left::Everyone),
            None => None,
        }
    }

    fn signal(&self, sig: Signal) {
        match self {
            Left::Pids(pids) => {
                for &pid in pids {
                    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig);
                }
            }
            // As PID 1, -1 is every other process of the namespace.
            Left::Everyone => {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(-1), sig);
            }
        }
    }

    fn describe(&self) -> String {
        match self {
            Left::Pids(p) => format!(
                "{} orphaned process(es) left: {}",
                p.len(),
                p.iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Left::Everyone => "every orphaned process left".to_string(),
        }
    }
}

/// Waits up to `limit` for every child to be gone, reaping; true when none is left.
fn wait_gone(pid1: bool, limit: Duration) -> bool {
    let until = Instant::now() + limit;
    loop {
        if Left::now(pid1).is_none() {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// At the end of a shutdown, as PID 1 or subreaper: SIGTERM to every child left (they
/// are orphans the daemon adopted: its own programs are all stopped by now), then SIGKILL
/// to those still there after [`ORPHAN_GRACE`]; everything is reaped. Returns the lines
/// to log. Does nothing for a daemon that is neither.
pub fn end_orphans(subreaper: bool) -> Vec<(LogLevel, String)> {
    let mut lines = Vec::new();
    let pid1 = is_pid1();
    if !(pid1 || subreaper) {
        return lines;
    }
    let Some(left) = Left::now(pid1) else {
        return lines;
    };
    lines.push((
        LogLevel::Info,
        format!("sending SIGTERM to {}", left.describe()),
    ));
    left.signal(Signal::SIGTERM);
    if wait_gone(pid1, ORPHAN_GRACE) {
        return lines;
    }
    if let Some(left) = Left::now(pid1) {
        lines.push((
            LogLevel::Warn,
            format!("killing with SIGKILL: {}", left.describe()),
        ));
        left.signal(Signal::SIGKILL);
        wait_gone(pid1, Duration::from_millis(500));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocked_signals_stay_pending_until_unblocked() {
        // In a thread of its own: the mask is per thread.
        std::thread::spawn(|| {
            block_loop_signals();
            let mut now = SigSet::empty();
            nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, None, Some(&mut now)).unwrap();
            assert!(now.contains(Signal::SIGTERM) && now.contains(Signal::SIGCHLD));
            unblock_loop_signals();
            let mut now = SigSet::empty();
            nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, None, Some(&mut now)).unwrap();
            assert!(!now.contains(Signal::SIGTERM) && !now.contains(Signal::SIGHUP));
        })
        .join()
        .unwrap();
    }

    #[test]
    fn no_subreaper_line_when_not_asked() {
        assert_eq!(set_subreaper(false), None);
    }
}
