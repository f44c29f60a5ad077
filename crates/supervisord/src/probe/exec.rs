//! exec: tries: the command runs with the program's environment and directory, as its
//! `user=` (uid and primary group, when the daemon runs as root), in a process group of
//! its own, and passes when it exits 0. A try that overruns is killed
//! (the whole group, SIGKILL) and counts as failed.
//!
//! The child is reaped by the loop's `waitpid(-1)` like every other child; the loop
//! hands its status to [`ExecChildren::reaped`], which wakes the waiting try. A try that
//! is cancelled (the core stopped the probe) kills its child on the way out.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::time::Duration;

use tokio::sync::oneshot;

use crate::core::text::decode_wait_status;
use crate::spawn::{child_environment, server_url_for, SpawnRequest};
use supervisor_config::{Config, ProcessConfig};

/// How long a killed probe child may take to be reaped before the try gives up on it
/// (its status is then dropped when it comes).
const REAP_GRACE: Duration = Duration::from_secs(2);

/// Exec probe children by pid, waiting for their raw wait status.
#[derive(Debug, Clone, Default)]
pub struct ExecChildren {
    waiting: Rc<RefCell<HashMap<i32, oneshot::Sender<i32>>>>,
}

impl ExecChildren {
    /// The loop reaped `pid`: true when it is a probe child (its status is delivered).
    pub fn reaped(&self, pid: i32, status: i32) -> bool {
        match self.waiting.borrow_mut().remove(&pid) {
            Some(tx) => {
                let _ = tx.send(status);
                true
            }
            None => false,
        }
    }

    /// The probe children not reaped yet (tests reap them by pid).
    #[cfg(test)]
    pub(crate) fn pids(&self) -> Vec<i32> {
        self.waiting.borrow().keys().copied().collect()
    }

    /// How many probe children are alive (not reaped yet).
    pub fn alive(&self) -> usize {
        self.waiting.borrow().len()
    }
}

/// An exec: check made ready to run: argv, environment and directory of the program.
#[derive(Debug, Clone)]
pub struct ExecSpec {
    argv: Vec<String>,
    env: Vec<(OsString, OsString)>,
    directory: Option<String>,
    /// (uid, gid) to run as; `None` = the daemon's own. `Err` = the user cannot be used.
    user: Result<Option<(u32, u32)>, String>,
}

impl ExecSpec {
    /// The check `argv` of process `pc`, with the environment its child gets.
    pub fn new(argv: &[String], pc: &ProcessConfig, config: &Config) -> ExecSpec {
        let server_url = server_url_for(pc, config);
        let req = SpawnRequest {
            process: pc,
            supervisord_environment: &config.supervisord.environment,
            server_url: server_url.as_deref(),
            fcgi_socket: None,
        };
        ExecSpec {
            argv: argv.to_vec(),
            env: child_environment(std::env::vars_os(), &req),
            directory: pc.directory.clone(),
            user: run_as(pc.uid),
        }
    }

    /// A spec from parts (tests).
    pub fn from_parts(argv: Vec<String>, env: Vec<(OsString, OsString)>) -> ExecSpec {
        ExecSpec {
            argv,
            env,
            directory: None,
            user: Ok(None),
        }
    }
}

/// The (uid, gid) an exec probe of a program with `user=` (resolved to `uid`) runs as:
/// none when the daemon already is that user or has no `user=`; the user's primary group
/// from the user database.
fn run_as(uid: Option<u32>) -> Result<Option<(u32, u32)>, String> {
    let Some(uid) = uid else { return Ok(None) };
    let me = nix::unistd::getuid().as_raw();
    if me == uid {
        return Ok(None);
    }
    if me != 0 {
        return Err(format!("can't run as uid {uid}: the daemon is not root"));
    }
    match nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) {
        Ok(Some(u)) => Ok(Some((uid, u.gid.as_raw()))),
        _ => Err(format!("can't find uid {uid}")),
    }
}

/// Kills the probe child's process group unless it was reaped (on every way out of a
/// try, cancellation included).
struct KillOnDrop {
    pid: i32,
    children: ExecChildren,
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if self.children.waiting.borrow().contains_key(&self.pid) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(-self.pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// Runs the command once. `Err` is the reason (`exit status 1`, `timed out after 5s`,
/// `can't run 'x': No such file or directory`).
pub async fn try_once(
    spec: &ExecSpec,
    children: &ExecChildren,
    timeout: Duration,
) -> Result<(), String> {
    let (program, args) = spec
        .argv
        .split_first()
        .ok_or_else(|| "empty command".to_string())?;
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    if let Some(d) = &spec.directory {
        cmd.current_dir(d);
    }
    if let Some((uid, gid)) = spec.user.clone()? {
        // As root, std also drops the supplementary groups before setuid.
        cmd.uid(uid).gid(gid);
    }
    // The spawn and the registration happen without an await between them: the loop
    // cannot reap the child before it is known here.
    let child = cmd
        .spawn()
        .map_err(|e| format!("can't run {program:?}: {}", super::net::reason(&e)))?;
    let pid = child.id() as i32;
    // std's Child never waits by itself: dropping it leaves the reaping to the loop.
    drop(child);
    let (tx, rx) = oneshot::channel();
    children.waiting.borrow_mut().insert(pid, tx);
    let guard = KillOnDrop {
        pid,
        children: children.clone(),
    };
    let mut rx = rx;
    let status = match tokio::time::timeout(timeout, &mut rx).await {
        Ok(Ok(status)) => status,
        Ok(Err(_)) => return Err("probe child lost".into()),
        Err(_) => {
            drop(guard); // SIGKILL to its group
            let _ = tokio::time::timeout(REAP_GRACE, rx).await;
            return Err(format!("timed out after {}", super::secs(timeout)));
        }
    };
    drop(guard);
    let exit = decode_wait_status(status);
    if exit.code == 0 {
        Ok(())
    } else {
        Err(exit.text)
    }
}
